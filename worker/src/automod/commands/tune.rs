//! `/automod set`, `/automod add`, `/automod remove`: the edits of rules (a setting of one
//! rule or of `all`, a new rule of a type, a rule removed).

use super::super::config::{Action, AutomodConfig, Rule, RuleKind};
use super::super::rules::settings;
use super::values::{parse_actions, parse_bool, parse_id, parse_ids};
use super::{EditError, RULE_TYPES, no_rule_names};

/// `set`: one setting of rule `rule`, or of the whole configuration with rule `all`.
pub(super) fn set(
    cfg: &mut AutomodConfig,
    rule: &str,
    setting: &str,
    value: &str,
) -> Result<String, EditError> {
    if rule == "all" {
        return set_global(cfg, setting, value);
    }
    let r = cfg.rule_mut(rule).ok_or_else(|| no_rule_names(rule))?;
    set_rule(r, setting, value)
}

/// `add`: a rule of type `kind`, refused when the name is taken.
pub(super) fn add(
    cfg: &mut AutomodConfig,
    rule: &str,
    kind: &str,
    value: Option<&str>,
) -> Result<String, EditError> {
    if cfg.rule(rule).is_some() {
        return Err(EditError(format!("a rule called {rule:?} exists already")));
    }
    let r = new_rule(rule, kind, value)?;
    cfg.rules.push(r);
    Ok(format!("rule {rule} ({kind}) added"))
}

/// `remove`: the rule called `name`.
pub(super) fn remove(cfg: &mut AutomodConfig, name: &str) -> Result<String, EditError> {
    let before = cfg.rules.len();
    cfg.rules.retain(|r| r.name != name);
    if cfg.rules.len() == before {
        return Err(no_rule(cfg, name));
    }
    Ok(format!("rule {name} removed"))
}

fn no_rule(cfg: &AutomodConfig, name: &str) -> EditError {
    let names: Vec<&str> = cfg.rules.iter().map(|r| r.name.as_str()).collect();
    if names.is_empty() {
        EditError(format!(
            "there is no rule {name:?}: this server has no rules yet; start with `/automod preset standard`"
        ))
    } else {
        EditError(format!(
            "there is no rule {name:?}; the rules are: {}",
            names.join(", ")
        ))
    }
}

fn set_global(cfg: &mut AutomodConfig, setting: &str, value: &str) -> Result<String, EditError> {
    match setting {
        "alert_channel" => {
            cfg.alert_channel = if settings::is_none(value) {
                None
            } else {
                Some(parse_id(value)?)
            }
        }
        "exempt_roles" => cfg.exempt_roles = parse_ids(value)?,
        "exempt_channels" => cfg.exempt_channels = parse_ids(value)?,
        "exempt_bots" => cfg.exempt_bots = parse_bool(value)?,
        "exempt_moderators" => cfg.exempt_moderators = parse_bool(value)?,
        other => {
            return Err(EditError(format!(
                "unknown setting {other:?} for all rules: use alert_channel, exempt_roles, exempt_channels, exempt_bots, exempt_moderators"
            )));
        }
    }
    Ok(format!("{setting} set for all rules"))
}

fn set_rule(rule: &mut Rule, setting: &str, value: &str) -> Result<String, EditError> {
    match setting {
        "actions" => rule.actions = parse_actions(value)?,
        "enabled" => rule.enabled = parse_bool(value)?,
        "exempt_roles" => rule.exempt_roles = parse_ids(value)?,
        "exempt_channels" => rule.exempt_channels = parse_ids(value)?,
        _ => {
            let Some(s) = rule.kind.setting(setting) else {
                let mut names: Vec<&str> = rule.kind.settings().iter().map(|s| s.name).collect();
                names.extend(["actions", "enabled", "exempt_roles", "exempt_channels"]);
                return Err(EditError(format!(
                    "a {} rule has no setting {setting:?}; its settings are: {}",
                    rule.kind.type_name(),
                    names.join(", ")
                )));
            };
            rule.kind.set(s, value).map_err(EditError)?;
        }
    }
    rule.validate()?;
    Ok(format!("{}: {setting} = {}", rule.name, value.trim()))
}

fn new_rule(name: &str, kind: &str, value: Option<&str>) -> Result<Rule, EditError> {
    let kind = RuleKind::added(kind, value)
        .ok_or_else(|| {
            EditError(format!(
                "unknown rule type {kind:?}: use one of {}",
                RULE_TYPES.join(", ")
            ))
        })?
        .map_err(EditError)?;
    let actions = if kind.is_member_rule() {
        vec![Action::Alert { channel: None }]
    } else {
        vec![Action::Delete]
    };
    let rule = Rule {
        name: name.to_owned(),
        enabled: true,
        kind,
        actions,
        exempt_roles: vec![],
        exempt_channels: vec![],
    };
    rule.validate()?;
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automod::commands::{Edit, apply_edit, describe_rule};
    use crate::automod::presets::Preset;
    use crate::automod::rules::{message_rate::MessageRate, words::Words};

    fn cfg() -> AutomodConfig {
        Preset::Standard.config()
    }

    fn set(rule: &str, setting: &str, value: &str) -> Edit {
        Edit::Set {
            rule: rule.into(),
            setting: setting.into(),
            value: value.into(),
        }
    }

    #[test]
    fn tuning_a_rule() {
        let mut c = cfg();
        let rev = c.revision;
        apply_edit(&mut c, &set("message-rate", "count", "4")).unwrap();
        apply_edit(&mut c, &set("message-rate", "within_secs", "1m")).unwrap();
        assert_eq!(
            c.rule("message-rate").unwrap().kind,
            RuleKind::MessageRate(MessageRate {
                count: 4,
                within_secs: 60
            })
        );
        apply_edit(
            &mut c,
            &set(
                "message-rate",
                "actions",
                "delete, timeout 10m, alert <#55>",
            ),
        )
        .unwrap();
        assert_eq!(
            c.rule("message-rate").unwrap().actions,
            [
                Action::Delete,
                Action::Timeout { secs: 600 },
                Action::Alert { channel: Some(55) }
            ]
        );
        apply_edit(&mut c, &set("mentions", "over_time", "20/1m")).unwrap();
        apply_edit(&mut c, &set("mentions", "per_message", "off")).unwrap();
        apply_edit(&mut c, &set("toxicity", "ban_at", "none")).unwrap();
        apply_edit(&mut c, &set("toxicity", "warn_at", "0.5")).unwrap();
        apply_edit(&mut c, &set("invites", "exempt_roles", "<@&77>, <@&78>")).unwrap();
        assert_eq!(c.rule("invites").unwrap().exempt_roles, [77, 78]);
        apply_edit(&mut c, &set("all", "alert_channel", "<#9>")).unwrap();
        assert_eq!(c.alert_channel, Some(9));
        assert_eq!(c.revision, rev + 9);
        c.validate().unwrap();
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let mut c = cfg();
        let err = |c: &mut AutomodConfig, e: Edit| apply_edit(c, &e).unwrap_err().0;
        assert!(err(&mut c, set("nope", "count", "1")).contains("no rule \"nope\""));
        assert!(
            err(&mut c, set("message-rate", "colour", "1"))
                .contains("its settings are: count, within_secs")
        );
        assert!(
            err(&mut c, set("message-rate", "count", "0")).contains("count must be at least 1")
        );
        assert!(err(&mut c, set("message-rate", "count", "many")).contains("not a whole number"));
        assert_eq!(c, cfg(), "refused edits change nothing");
        assert!(err(&mut c, set("toxicity", "warn_at", "0.9")).contains("must not decrease"));
        assert!(err(&mut c, set("message-rate", "actions", "explode")).contains("unknown action"));
        assert!(err(&mut c, set("raid", "actions", "delete")).contains("member rules"));
        assert!(
            err(&mut c, set("message-rate", "actions", "delete, lockdown"))
                .contains("only a join_rate rule")
        );
        let e = err(
            &mut c,
            Edit::Add {
                rule: "bad-re".into(),
                kind: "regex".into(),
                value: Some("((a{100}){100}){100}".into()),
            },
        );
        assert!(e.contains("compiles to more than"), "{e}");
        assert!(err(&mut AutomodConfig::default(), Edit::Enable(None)).contains("preset standard"));
    }

    #[test]
    fn add_words_then_remove() {
        let mut c = cfg();
        apply_edit(
            &mut c,
            &Edit::Add {
                rule: "spoilers".into(),
                kind: "words".into(),
                value: Some("ending, finale*".into()),
            },
        )
        .unwrap();
        apply_edit(&mut c, &set("spoilers", "words", "+twist, ending")).unwrap();
        let RuleKind::Words(Words { words }) = &c.rule("spoilers").unwrap().kind else {
            panic!()
        };
        assert_eq!(words, &["ending", "finale*", "twist"]);
        apply_edit(&mut c, &set("spoilers", "words", "-ending")).unwrap();
        apply_edit(&mut c, &Edit::Disable(Some("spoilers".into()))).unwrap();
        assert!(!c.rule("spoilers").unwrap().enabled);
        apply_edit(&mut c, &Edit::Remove("spoilers".into())).unwrap();
        assert!(c.rule("spoilers").is_none());
        assert!(describe_rule(c.rule("toxicity").unwrap()).contains("warn_at=0.4"));
    }
}
