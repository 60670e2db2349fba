//! `/automod`: list, enable, disable, preset, set (tune a rule), add, remove, test.
//!
//! The edits are plain functions on [`AutomodConfig`] ([`apply_edit`]) so they are tested
//! without Discord; the handler loads the guild's configuration, applies the edit, compiles
//! the result (nothing invalid is ever saved), bumps the revision and stores it.

use std::sync::Arc;

use serde_json::{Value, json};
use twilight_model::guild::Permissions;

use super::config::{Action, AutomodConfig, ConfigError, MAX_TIMEOUT_SECS, Rule, RuleKind};
use super::context::human_secs;
use super::engine::{Engine, GuildRules, RulesCache};
use super::presets::Preset;
use super::rules::settings;
use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, EmbedBuilder, GuildScope,
    OptionDef, OptionKind, Registry, RegistryError, Reply, SubcommandDef,
};
use crate::store::{GuildField, Store};

/// Colour of `/automod` embeds.
pub const AUTOMOD_COLOUR: u32 = 0x005865F2;

/// One change to a guild's automod configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Turn automod (no rule) or one rule on.
    Enable(Option<String>),
    /// Turn automod (no rule) or one rule off.
    Disable(Option<String>),
    /// Apply a preset.
    Preset(Preset),
    /// Set one setting of a rule (`actions`, `enabled`, `exempt_roles`, `exempt_channels`, or
    /// a parameter of its type), or of the whole configuration with rule `all`
    /// (`alert_channel`, `exempt_roles`, `exempt_channels`, `exempt_bots`,
    /// `exempt_moderators`).
    Set {
        /// Rule name, or `all`.
        rule: String,
        /// Setting name.
        setting: String,
        /// Value as typed.
        value: String,
    },
    /// Add a rule of a type with default parameters (and `value` as its list for `words`,
    /// `names`, `regex`, `links`).
    Add {
        /// New rule's name.
        rule: String,
        /// Its type (`words`, `regex`…).
        kind: String,
        /// Initial list, comma-separated.
        value: Option<String>,
    },
    /// Remove a rule.
    Remove(String),
}

/// Why an edit was refused; shown to the moderator as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EditError(pub String);

impl From<ConfigError> for EditError {
    fn from(e: ConfigError) -> Self {
        Self(e.to_string())
    }
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

/// Applies `edit` to `cfg`, checks that the result compiles, and bumps the revision. Returns
/// a one-line summary. On error `cfg` is unchanged.
pub fn apply_edit(cfg: &mut AutomodConfig, edit: &Edit) -> Result<String, EditError> {
    let mut next = cfg.clone();
    let summary = edit_in_place(&mut next, edit)?;
    GuildRules::compile(&next)?;
    next.revision += 1;
    *cfg = next;
    Ok(summary)
}

fn edit_in_place(cfg: &mut AutomodConfig, edit: &Edit) -> Result<String, EditError> {
    Ok(match edit {
        Edit::Enable(None) => {
            cfg.enabled = true;
            if cfg.rules.is_empty() {
                return Err(EditError(
                    "automod has no rules yet; `/automod preset standard` turns it on with a sensible set".into(),
                ));
            }
            "automod is on".to_owned()
        }
        Edit::Disable(None) => {
            cfg.enabled = false;
            "automod is off (rules are kept)".to_owned()
        }
        Edit::Enable(Some(name)) | Edit::Disable(Some(name)) => {
            let on = matches!(edit, Edit::Enable(_));
            let master = cfg.enabled;
            let rule = cfg.rule_mut(name).ok_or_else(|| no_rule_names(name))?;
            rule.enabled = on;
            format!(
                "rule {name} is {}{}",
                if on { "on" } else { "off" },
                if on && !master {
                    " (automod itself is off: `/automod enable`)"
                } else {
                    ""
                }
            )
        }
        Edit::Preset(p) => {
            p.apply(cfg);
            // `apply` bumped the revision already.
            cfg.revision -= 1;
            format!(
                "preset {p} applied: {} rules, automod is on",
                cfg.rules.len()
            )
        }
        Edit::Set {
            rule,
            setting,
            value,
        } if rule == "all" => set_global(cfg, setting, value)?,
        Edit::Set {
            rule,
            setting,
            value,
        } => {
            let r = cfg.rule_mut(rule).ok_or_else(|| no_rule_names(rule))?;
            set_rule(r, setting, value)?
        }
        Edit::Add { rule, kind, value } => {
            if cfg.rule(rule).is_some() {
                return Err(EditError(format!("a rule called {rule:?} exists already")));
            }
            let r = new_rule(rule, kind, value.as_deref())?;
            cfg.rules.push(r);
            format!("rule {rule} ({kind}) added")
        }
        Edit::Remove(name) => {
            let before = cfg.rules.len();
            cfg.rules.retain(|r| &r.name != name);
            if cfg.rules.len() == before {
                return Err(no_rule(cfg, name));
            }
            format!("rule {name} removed")
        }
    })
}

fn no_rule_names(name: &str) -> EditError {
    EditError(format!(
        "there is no rule {name:?}; `/automod list` shows the rules"
    ))
}

fn parse_bool(v: &str) -> Result<bool, EditError> {
    settings::parse_bool(v).map_err(EditError)
}

fn parse_id(v: &str) -> Result<u64, EditError> {
    let t = v
        .trim()
        .trim_start_matches("<@&")
        .trim_start_matches("<#")
        .trim_start_matches("<@!");
    let t = t.trim_start_matches("<@").trim_end_matches('>');
    t.parse()
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| EditError(format!("{v:?} is not a role or channel mention or id")))
}

fn parse_ids(v: &str) -> Result<Vec<u64>, EditError> {
    if settings::is_none(v) {
        return Ok(Vec::new());
    }
    v.split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(parse_id)
        .collect()
}

fn parse_secs(v: &str) -> Result<u64, EditError> {
    settings::parse_secs(v).map_err(EditError)
}

/// Parses an action list: `delete, warn, timeout 10m, kick, ban, alert #channel`.
pub fn parse_actions(v: &str) -> Result<Vec<Action>, EditError> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let name = words.next().unwrap_or_default().to_ascii_lowercase();
        let arg = words.next();
        let action = match name.as_str() {
            "delete" => Action::Delete,
            "warn" => Action::Warn,
            "kick" => Action::Kick,
            "timeout" | "mute" => {
                let secs = parse_secs(arg.ok_or_else(|| {
                    EditError("timeout needs a duration, e.g. `timeout 10m`".into())
                })?)?;
                if secs == 0 || secs > u64::from(MAX_TIMEOUT_SECS) {
                    return Err(EditError("a timeout lasts from 1 second to 28 days".into()));
                }
                Action::Timeout { secs: secs as u32 }
            }
            "ban" => Action::Ban {
                delete_message_secs: arg.map(parse_secs).transpose()?.unwrap_or(0).min(604_800)
                    as u32,
            },
            "alert" => Action::Alert {
                channel: arg.map(parse_id).transpose()?,
            },
            other => {
                return Err(EditError(format!(
                    "unknown action {other:?}: use delete, warn, timeout <duration>, kick, ban, alert [#channel]"
                )));
            }
        };
        out.push(action);
    }
    Ok(out)
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

/// Rule types, as `/automod add` accepts them.
pub const RULE_TYPES: &[&str] = RuleKind::TYPES;

fn action_text(a: &Action) -> String {
    match a {
        Action::Timeout { secs } => format!("timeout {}", human_secs(u64::from(*secs))),
        Action::Ban {
            delete_message_secs: d,
        } if *d > 0 => format!("ban (delete {})", human_secs(u64::from(*d))),
        Action::Alert { channel: Some(c) } => format!("alert <#{c}>"),
        other => other.name().to_owned(),
    }
}

/// One line describing a rule's parameters, for `/automod list`.
#[must_use]
pub fn describe_rule(r: &Rule) -> String {
    let mut kind = serde_json::to_value(&r.kind).expect("rule kind serialises");
    if let Some(o) = kind.as_object_mut() {
        o.remove("type");
        for list in ["words", "patterns"] {
            if let Some(Value::Array(a)) = o.get(list) {
                let n = a.len();
                o.insert(list.into(), json!(format!("{n} entries")));
            }
        }
    }
    let params = kind
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{k}={}", v.to_string().trim_matches('"')))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let actions: Vec<String> = r.actions.iter().map(action_text).collect();
    let mut line = format!(
        "{} `{}` {} → {}",
        if r.enabled { "✅" } else { "⏸️" },
        r.kind.type_name(),
        params,
        if actions.is_empty() {
            "(tiers only)".into()
        } else {
            actions.join(", ")
        }
    );
    if !r.exempt_roles.is_empty() || !r.exempt_channels.is_empty() {
        line.push_str(&format!(
            " · exempt: {}",
            r.exempt_roles
                .iter()
                .map(|x| format!("<@&{x}>"))
                .chain(r.exempt_channels.iter().map(|x| format!("<#{x}>")))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    line
}

/// The `/automod list` reply.
#[must_use]
pub fn list_reply(cfg: &AutomodConfig) -> Reply {
    let mut e = EmbedBuilder::new()
        .title(format!(
            "Automod is {}",
            if cfg.enabled { "on" } else { "off" }
        ))
        .colour(AUTOMOD_COLOUR);
    if cfg.rules.is_empty() {
        e = e.description(
            "No rules yet. `/automod preset standard` protects the server in one step.",
        );
    } else {
        let mut text = String::new();
        for r in &cfg.rules {
            text.push_str(&format!("**{}** {}\n", r.name, describe_rule(r)));
        }
        e = e.description(truncate(&text, 4000));
    }
    let exempt = format!(
        "bots {}, moderators {}{}{}",
        if cfg.exempt_bots { "exempt" } else { "checked" },
        if cfg.exempt_moderators {
            "exempt"
        } else {
            "checked"
        },
        cfg.exempt_roles
            .iter()
            .map(|x| format!(", <@&{x}>"))
            .collect::<String>(),
        cfg.exempt_channels
            .iter()
            .map(|x| format!(", <#{x}>"))
            .collect::<String>(),
    );
    e = e.field("Exempt everywhere", exempt, false);
    if let Some(c) = cfg.alert_channel {
        e = e.field("Alerts", format!("<#{c}>"), true);
    }
    Reply::embed(e.footer(format!("revision {}", cfg.revision)).build())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The `/automod test` reply.
pub async fn test_reply(
    engine: &Engine,
    rules: &GuildRules,
    cfg: &AutomodConfig,
    text: &str,
) -> Reply {
    let d = engine.dry_run(rules, text).await;
    let mut lines = Vec::new();
    for v in &d.verdicts {
        let actions: Vec<String> = v.actions.iter().map(action_text).collect();
        lines.push(format!(
            "**{}** would {}: {}",
            v.rule,
            actions.join(", "),
            v.evidence.reason
        ));
    }
    let mut desc = if lines.is_empty() {
        "No rule would fire on this text.".to_owned()
    } else {
        lines.join("\n")
    };
    if !cfg.enabled {
        desc.push_str("\n\nAutomod is off in this server: nothing would happen now.");
    }
    let terms: Vec<String> = d
        .toxicity
        .hits
        .iter()
        .map(|h| format!("{} ({:.2})", h.term, h.weight))
        .collect();
    let category = match (d.toxicity.category, d.toxicity.classes) {
        (Some(c), Some(p)) => format!(" — most likely {} ({:.2})", c.name(), p.get(c)),
        _ => String::new(),
    };
    let tox = format!(
        "{:.2}{category}{}{}",
        d.toxicity.score,
        if terms.is_empty() {
            String::new()
        } else {
            format!(
                "; lexicon {:.2}: {}",
                d.toxicity.lexicon_score,
                terms.join(", ")
            )
        },
        if d.toxicity.targeted {
            "; read as aimed at someone"
        } else {
            ""
        }
    );
    Reply::embed(
        EmbedBuilder::new()
            .title("Automod test (nothing was done)")
            .description(truncate(&desc, 4000))
            .field("Toxicity", truncate(&tox, 1000), false)
            .colour(AUTOMOD_COLOUR)
            .footer(
                "Counting rules (rate, duplicates, raids) need several messages and are not shown.",
            )
            .build(),
    )
    .ephemeral()
}

/// The `/automod` command.
pub struct AutomodCommand {
    store: Arc<dyn Store>,
    cache: Arc<RulesCache>,
    engine: Engine,
}

impl AutomodCommand {
    /// The command over a store and the worker's rules cache.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, cache: Arc<RulesCache>) -> Self {
        Self {
            store,
            cache,
            engine: Engine::new(),
        }
    }

    /// Runs one subcommand for `guild` (the handler without Discord).
    ///
    /// Every channel and role id an edit adds is checked with `scope` to belong to `guild`
    /// before anything is stored.
    pub async fn run_for_guild(
        &self,
        guild: u64,
        args: &Args,
        scope: &dyn GuildScope,
    ) -> Result<Reply, CommandError> {
        let mut gc = self
            .store
            .guild_config(guild)
            .await
            .map_err(|e| CommandError::StoreUnavailable(Box::new(e)))?;
        let stored = AutomodConfig::from_json(&gc.automod).map_err(|e| {
            CommandError::user(format!(
                "the stored automod configuration cannot be read ({e}); `/automod preset standard` replaces it"
            ))
        });
        let sub = args.subcommand().unwrap_or("list");
        let s = |name: &str| args.string(name).map(str::to_owned);
        let edit = match sub {
            "list" => return Ok(list_reply(&stored?)),
            "test" => {
                let cfg = stored?;
                let rules = self.cache.get(guild, &gc.automod);
                let text = s("text").unwrap_or_default();
                return Ok(test_reply(&self.engine, &rules, &cfg, &text).await);
            }
            "enable" => Edit::Enable(s("rule")),
            "disable" => Edit::Disable(s("rule")),
            "preset" => Edit::Preset(
                s("name")
                    .unwrap_or_default()
                    .parse::<Preset>()
                    .map_err(|e| CommandError::user(e.to_string()))?,
            ),
            "set" => Edit::Set {
                rule: s("rule").unwrap_or_default(),
                setting: s("setting").unwrap_or_default(),
                value: s("value").unwrap_or_default(),
            },
            "add" => Edit::Add {
                rule: s("rule").unwrap_or_default(),
                kind: s("type").unwrap_or_default(),
                value: s("value"),
            },
            "remove" => Edit::Remove(s("rule").unwrap_or_default()),
            other => return Err(CommandError::user(format!("unknown subcommand {other:?}"))),
        };
        // A preset may replace a configuration that no longer reads.
        let mut cfg = match (stored, &edit) {
            (Ok(c), _) => c,
            (Err(_), Edit::Preset(_)) => AutomodConfig::default(),
            (Err(e), _) => return Err(e),
        };
        let (old_channels, old_roles) = cfg.referenced_ids();
        let summary = apply_edit(&mut cfg, &edit).map_err(|e| CommandError::user(e.0))?;
        let (channels, roles) = cfg.referenced_ids();
        for c in channels
            .iter()
            .filter(|c| old_channels.binary_search(c).is_err())
        {
            scope.check_channel(guild, *c).await?;
        }
        for r in roles.iter().filter(|r| old_roles.binary_search(r).is_err()) {
            scope.check_role(guild, *r).await?;
        }
        gc.automod = cfg.to_json();
        // Only the automod setting is written: an edit of another setting meanwhile is kept.
        self.store
            .put_guild_fields(&gc, &[GuildField::Automod])
            .await
            .map_err(|e| CommandError::StoreUnavailable(Box::new(e)))?;
        self.cache.invalidate(guild);
        Ok(Reply::text(format!("✅ {summary}.")))
    }
}

#[async_trait::async_trait]
impl CommandHandler for AutomodCommand {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?;
        let reply = self
            .run_for_guild(guild.get(), args, ctx.services.as_ref())
            .await;
        // An edit applies to this pod's automod at once.
        ctx.services.guild_configs.invalidate(guild.get());
        reply
    }
}

/// The `/automod` definition.
#[must_use]
pub fn definition(store: Arc<dyn Store>, cache: Arc<RulesCache>) -> CommandDef {
    let rule = |required: bool| {
        let o = OptionDef::new("rule", "Rule name (see /automod list)", OptionKind::String)
            .max_length(32);
        if required { o.required() } else { o }
    };
    let mut type_opt = OptionDef::new("type", "Rule type", OptionKind::String).required();
    for &t in RULE_TYPES {
        type_opt = type_opt.choice(t, t);
    }
    CommandDef::new(
        "automod",
        "Automatic moderation: rules, presets, tests",
        AutomodCommand::new(store, cache),
    )
    .subcommand(SubcommandDef::new(
        "list",
        "Show the rules and what they do",
    ))
    .subcommand(SubcommandDef::new("enable", "Turn automod or one rule on").option(rule(false)))
    .subcommand(SubcommandDef::new("disable", "Turn automod or one rule off").option(rule(false)))
    .subcommand(
        SubcommandDef::new(
            "preset",
            "Replace the preset rules with relaxed, standard or strict",
        )
        .option(
            OptionDef::new("name", "Preset", OptionKind::String)
                .required()
                .choice("relaxed", "relaxed")
                .choice("standard", "standard")
                .choice("strict", "strict"),
        ),
    )
    .subcommand(
        SubcommandDef::new(
            "set",
            "Tune a rule (or `all`): a parameter, actions, exemptions",
        )
        .option(rule(true))
        .option(
            OptionDef::new(
                "setting",
                "e.g. count, within_secs, actions, exempt_roles",
                OptionKind::String,
            )
            .required(),
        )
        .option(
            OptionDef::new(
                "value",
                "e.g. 5, 10s, `delete, timeout 10m`, +word",
                OptionKind::String,
            )
            .required(),
        ),
    )
    .subcommand(
        SubcommandDef::new("add", "Add a rule")
            .option(rule(true))
            .option(type_opt)
            .option(OptionDef::new(
                "value",
                "Words, domains or a pattern for list rules",
                OptionKind::String,
            )),
    )
    .subcommand(SubcommandDef::new("remove", "Remove a rule").option(rule(true)))
    .subcommand(
        SubcommandDef::new(
            "test",
            "Show which rules would fire on a text, without acting",
        )
        .option(OptionDef::new("text", "The text to try", OptionKind::String).required()),
    )
    .permissions(Permissions::MANAGE_GUILD)
    .ephemeral()
    .category("Automod")
}

/// Registers `/automod`.
pub fn register(
    registry: &mut Registry,
    store: Arc<dyn Store>,
    cache: Arc<RulesCache>,
) -> Result<(), RegistryError> {
    registry.register(definition(store, cache))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automod::rules::{message_rate::MessageRate, words::Words};
    use crate::commands::ArgValue;
    use crate::store::EmbeddedStore;

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
        apply_edit(&mut c, &set("invites", "exempt_roles", "<@&77>, 78")).unwrap();
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

    #[tokio::test]
    async fn the_command_stores_and_the_cache_follows() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            EmbeddedStore::open(dir.path().join("s.redb"))
                .await
                .unwrap(),
        );
        let cache = Arc::new(RulesCache::default());
        let cmd = AutomodCommand::new(store.clone(), cache.clone());
        let g = 1234;
        let sub = |s: &str| Args::new().with_subcommand(s);
        let scope = OnlyIds {
            channels: vec![],
            roles: vec![],
        };
        let text = |r: Reply| format!("{}{:?}", r.content.clone().unwrap_or_default(), r.embeds);

        assert!(
            text(cmd.run_for_guild(g, &sub("list"), &scope).await.unwrap())
                .contains("No rules yet")
        );
        assert!(
            !cache
                .get(g, &store.guild_config(g).await.unwrap().automod)
                .enabled()
        );
        let r = cmd
            .run_for_guild(
                g,
                &sub("preset").with("name", ArgValue::String("strict".into())),
                &scope,
            )
            .await
            .unwrap();
        assert!(text(r).contains("preset strict applied"));
        let stored = store.guild_config(g).await.unwrap().automod;
        assert!(cache.get(g, &stored).enabled());
        assert!(
            text(cmd.run_for_guild(g, &sub("list"), &scope).await.unwrap()).contains("account-age")
        );

        let r = cmd
            .run_for_guild(
                g,
                &sub("test").with(
                    "text",
                    ArgValue::String("join discord.gg/xyz you idiot".into()),
                ),
                &scope,
            )
            .await
            .unwrap();
        let t = text(r);
        assert!(
            t.contains("invites") && t.contains("toxicity") && t.contains("nothing was done"),
            "{t}"
        );
        assert!(
            t.contains("most likely insult ("),
            "the category and its score: {t}"
        );

        let e = cmd
            .run_for_guild(
                g,
                &sub("set")
                    .with("rule", ArgValue::String("caps".into()))
                    .with("setting", ArgValue::String("min_percent".into()))
                    .with("value", ArgValue::String("150".into())),
                &scope,
            )
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("min_percent must be between 1 and 100")
        );
        // The refused edit changed nothing.
        assert_eq!(store.guild_config(g).await.unwrap().automod, stored);

        cmd.run_for_guild(g, &sub("disable"), &scope).await.unwrap();
        assert!(
            !cache
                .get(g, &store.guild_config(g).await.unwrap().automod)
                .enabled()
        );
    }

    /// The ids of one test server.
    struct OnlyIds {
        channels: Vec<u64>,
        roles: Vec<u64>,
    }

    #[async_trait::async_trait]
    impl GuildScope for OnlyIds {
        async fn check_channel(&self, _: u64, channel: u64) -> Result<(), CommandError> {
            if self.channels.contains(&channel) {
                Ok(())
            } else {
                Err(CommandError::NotInGuild {
                    kind: crate::commands::IdKind::Channel,
                    id: channel,
                })
            }
        }
        async fn check_role(&self, _: u64, role: u64) -> Result<(), CommandError> {
            if self.roles.contains(&role) {
                Ok(())
            } else {
                Err(CommandError::NotInGuild {
                    kind: crate::commands::IdKind::Role,
                    id: role,
                })
            }
        }
    }

    #[tokio::test]
    async fn ids_of_another_server_and_zero_are_refused_and_nothing_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            EmbeddedStore::open(dir.path().join("s.redb"))
                .await
                .unwrap(),
        );
        let cmd = AutomodCommand::new(store.clone(), Arc::new(RulesCache::default()));
        let g = 77;
        let scope = OnlyIds {
            channels: vec![500],
            roles: vec![600],
        };
        let set = |rule: &str, setting: &str, value: &str| {
            Args::new()
                .with_subcommand("set")
                .with("rule", ArgValue::String(rule.into()))
                .with("setting", ArgValue::String(setting.into()))
                .with("value", ArgValue::String(value.into()))
        };
        cmd.run_for_guild(
            g,
            &Args::new()
                .with_subcommand("preset")
                .with("name", ArgValue::String("standard".into())),
            &scope,
        )
        .await
        .unwrap();
        let before = store.guild_config(g).await.unwrap().automod;
        for (rule, setting, value, says) in [
            (
                "all",
                "alert_channel",
                "<#999>",
                "<#999> is not a channel of this server",
            ),
            (
                "all",
                "alert_channel",
                "0",
                "is not a role or channel mention or id",
            ),
            (
                "all",
                "exempt_channels",
                "500, 998",
                "<#998> is not a channel of this server",
            ),
            (
                "all",
                "exempt_roles",
                "<@&997>",
                "<@&997> is not a role of this server",
            ),
            (
                "invites",
                "actions",
                "delete, alert <#996>",
                "<#996> is not a channel",
            ),
            (
                "invites",
                "exempt_roles",
                "0",
                "is not a role or channel mention or id",
            ),
        ] {
            let e = cmd
                .run_for_guild(g, &set(rule, setting, value), &scope)
                .await
                .expect_err(value);
            assert!(e.to_string().contains(says), "{value}: {e}");
            assert_eq!(
                store.guild_config(g).await.unwrap().automod,
                before,
                "{value}"
            );
        }
        cmd.run_for_guild(g, &set("all", "alert_channel", "<#500>"), &scope)
            .await
            .unwrap();
        cmd.run_for_guild(g, &set("all", "exempt_roles", "600"), &scope)
            .await
            .unwrap();
        let cfg = AutomodConfig::from_json(&store.guild_config(g).await.unwrap().automod).unwrap();
        assert_eq!(cfg.alert_channel, Some(500));
        assert_eq!(cfg.exempt_roles, vec![600]);
    }
}
