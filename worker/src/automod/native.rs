//! Discord's native AutoMod, as Kyuta mirrors its own configuration into it: which native
//! rules a guild's automod configuration calls for ([`desired`]), and what has to change
//! among the rules the guild has ([`plan`]). Both are pure; `/automod native`
//! (`commands/native.rs`) reads the rules, sends the changes and reports the [`Plan`].
//!
//! What maps:
//! - a `words` rule → a KEYWORD rule with the same terms (Kyuta's `word`, `word*`, `*word`,
//!   `*word*` are Discord's keyword strategies too); terms over 60 characters cannot be
//!   expressed;
//! - a `regex` rule → a KEYWORD rule with its first 10 patterns of at most 260 characters;
//! - a `mention_spam` rule with `per_message` = n → a MENTION_SPAM rule with
//!   `mention_total_limit` n − 1 (Kyuta fires at n mentions, Discord above the limit), at
//!   most 50, one per guild.
//!
//! Every native rule blocks the message, alerts the automod alert channel (the rule's own
//! `alert` channel, else the configuration's `alert_channel`) when one is set, and times
//! the author out when the Kyuta rule does. Exempt roles and channels are the
//! configuration's and the rule's together (Discord keeps at most 20 roles and 50
//! channels). A native rule is Kyuta's when its name starts with [`NAME_PREFIX`]: those are
//! matched by name, so a second sync updates them instead of adding more; other rules of the
//! guild are never touched, but they use up Discord's per-guild limits (6 keyword rules,
//! 1 mention spam rule).

use super::config::{Action, AutomodConfig, Rule, RuleKind};

/// Names of the native rules Kyuta owns start with this.
pub const NAME_PREFIX: &str = "Kyuta: ";
/// Discord: keyword rules per guild.
pub const MAX_KEYWORD_RULES: usize = 6;
/// Discord: keywords per rule.
pub const MAX_KEYWORDS: usize = 1000;
/// Discord: characters per keyword.
pub const MAX_KEYWORD_CHARS: usize = 60;
/// Discord: regex patterns per rule.
pub const MAX_PATTERNS: usize = 10;
/// Discord: characters per regex pattern.
pub const MAX_PATTERN_CHARS: usize = 260;
/// Discord: the highest `mention_total_limit`.
pub const MAX_MENTION_LIMIT: u32 = 50;
/// Discord: exempt roles per rule.
pub const MAX_EXEMPT_ROLES: usize = 20;
/// Discord: exempt channels per rule.
pub const MAX_EXEMPT_CHANNELS: usize = 50;

/// What a native rule looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// KEYWORD (1).
    Keyword {
        /// `keyword_filter`.
        keywords: Vec<String>,
        /// `regex_patterns`.
        patterns: Vec<String>,
    },
    /// MENTION_SPAM (5).
    MentionSpam {
        /// `mention_total_limit`.
        limit: u8,
    },
    /// Another trigger type (SPAM, KEYWORD_PRESET, MEMBER_PROFILE…), by its number.
    Other(u8),
}

impl Trigger {
    /// The trigger type's name as Discord's documentation writes it.
    #[must_use]
    pub fn type_name(&self) -> String {
        match self {
            Self::Keyword { .. } => "keyword".into(),
            Self::MentionSpam { .. } => "mention spam".into(),
            Self::Other(3) => "spam".into(),
            Self::Other(4) => "keyword preset".into(),
            Self::Other(6) => "member profile".into(),
            Self::Other(n) => format!("type {n}"),
        }
    }
}

/// A native rule in the terms Kyuta compares (the parts a sync sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeRule {
    /// Name.
    pub name: String,
    /// Trigger.
    pub trigger: Trigger,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Has a BLOCK_MESSAGE action.
    pub block: bool,
    /// The channel of its SEND_ALERT_MESSAGE action.
    pub alert_channel: Option<u64>,
    /// The duration of its TIMEOUT action.
    pub timeout_secs: Option<u32>,
    /// Exempt roles, sorted.
    pub exempt_roles: Vec<u64>,
    /// Exempt channels, sorted.
    pub exempt_channels: Vec<u64>,
}

/// A rule the guild has: its id and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    /// Discord's id.
    pub id: u64,
    /// The rule.
    pub rule: NativeRule,
}

/// The native rules `cfg` calls for, and a note for each part that cannot be expressed.
#[must_use]
pub fn desired(cfg: &AutomodConfig) -> (Vec<NativeRule>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut mention_rule = false;
    for r in &cfg.rules {
        let trigger = match &r.kind {
            RuleKind::Words(w) => {
                let (ok, long): (Vec<&String>, Vec<&String>) = w
                    .words
                    .iter()
                    .partition(|t| t.chars().count() <= MAX_KEYWORD_CHARS);
                if !long.is_empty() {
                    notes.push(format!(
                        "{}: {} term(s) longer than {MAX_KEYWORD_CHARS} characters are left out",
                        r.name,
                        long.len()
                    ));
                }
                let mut keywords: Vec<String> = ok.into_iter().cloned().collect();
                keywords.truncate(MAX_KEYWORDS);
                if keywords.is_empty() {
                    notes.push(format!("{}: no term fits Discord's limits", r.name));
                    continue;
                }
                Trigger::Keyword {
                    keywords,
                    patterns: Vec::new(),
                }
            }
            RuleKind::Regex(x) => {
                let (ok, long): (Vec<&String>, Vec<&String>) = x
                    .patterns
                    .iter()
                    .partition(|p| p.chars().count() <= MAX_PATTERN_CHARS);
                let mut patterns: Vec<String> = ok.into_iter().cloned().collect();
                let over = patterns.len().saturating_sub(MAX_PATTERNS);
                patterns.truncate(MAX_PATTERNS);
                if !long.is_empty() || over > 0 {
                    notes.push(format!(
                        "{}: {} pattern(s) left out (Discord takes {MAX_PATTERNS} of at most {MAX_PATTERN_CHARS} characters)",
                        r.name,
                        long.len() + over
                    ));
                }
                Trigger::Keyword {
                    keywords: Vec::new(),
                    patterns,
                }
            }
            RuleKind::MentionSpam(m) => {
                if m.over_time.is_some() {
                    notes.push(format!(
                        "{}: mentions over time have no native equivalent",
                        r.name
                    ));
                }
                let Some(n) = m.per_message else {
                    continue;
                };
                if mention_rule {
                    notes.push(format!(
                        "{}: Discord has one mention spam rule per server",
                        r.name
                    ));
                    continue;
                }
                let limit = n.saturating_sub(1);
                if limit > MAX_MENTION_LIMIT {
                    notes.push(format!(
                        "{}: per_message {n} is above Discord's limit of {}",
                        r.name,
                        MAX_MENTION_LIMIT + 1
                    ));
                    continue;
                }
                mention_rule = true;
                Trigger::MentionSpam {
                    limit: u8::try_from(limit).unwrap_or(50),
                }
            }
            other => {
                notes.push(format!(
                    "{}: {} rules have no native equivalent",
                    r.name,
                    other.type_name()
                ));
                continue;
            }
        };
        out.push(native_of(cfg, r, trigger, &mut notes));
    }
    (out, notes)
}

fn native_of(
    cfg: &AutomodConfig,
    r: &Rule,
    trigger: Trigger,
    notes: &mut Vec<String>,
) -> NativeRule {
    let alert_channel = r
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Alert { channel } => *channel,
            _ => None,
        })
        .or(cfg.alert_channel);
    let timeout_secs = r.actions.iter().find_map(|a| match a {
        Action::Timeout { secs } => Some(*secs),
        _ => None,
    });
    let union = |a: &[u64], b: &[u64]| {
        let mut v: Vec<u64> = a.iter().chain(b).copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut exempt_roles = union(&cfg.exempt_roles, &r.exempt_roles);
    let mut exempt_channels = union(&cfg.exempt_channels, &r.exempt_channels);
    if exempt_roles.len() > MAX_EXEMPT_ROLES || exempt_channels.len() > MAX_EXEMPT_CHANNELS {
        notes.push(format!(
            "{}: Discord keeps {MAX_EXEMPT_ROLES} exempt roles and {MAX_EXEMPT_CHANNELS} exempt channels",
            r.name
        ));
        exempt_roles.truncate(MAX_EXEMPT_ROLES);
        exempt_channels.truncate(MAX_EXEMPT_CHANNELS);
    }
    NativeRule {
        name: format!("{NAME_PREFIX}{}", r.name),
        trigger,
        enabled: cfg.enabled && r.enabled,
        block: true,
        alert_channel,
        timeout_secs,
        exempt_roles,
        exempt_channels,
    }
}

/// What a sync does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Rules to create.
    pub create: Vec<NativeRule>,
    /// Kyuta's rules that differ, by id, with what they become.
    pub update: Vec<(u64, NativeRule)>,
    /// Kyuta's rules that are as they should be, by name.
    pub unchanged: Vec<String>,
    /// Kyuta's rules no longer in its configuration (left alone), by name.
    pub stale: Vec<String>,
    /// What cannot be expressed, or does not fit Discord's limits.
    pub cannot: Vec<String>,
}

impl Plan {
    /// Whether the sync changes nothing.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.create.is_empty() && self.update.is_empty()
    }
}

fn is_keyword(t: &Trigger) -> bool {
    matches!(t, Trigger::Keyword { .. })
}

/// The changes that make the guild's `existing` rules hold `desired` (from [`desired`],
/// whose notes go in [`Plan::cannot`]): Kyuta's rules are matched by name; new ones are
/// created while Discord's per-guild limits leave room (other rules count too).
#[must_use]
pub fn plan(desired: Vec<NativeRule>, notes: Vec<String>, existing: &[Existing]) -> Plan {
    let mut p = Plan {
        cannot: notes,
        ..Plan::default()
    };
    let mut keyword_rules = existing
        .iter()
        .filter(|e| is_keyword(&e.rule.trigger))
        .count();
    let mut mention_rules = existing
        .iter()
        .filter(|e| matches!(e.rule.trigger, Trigger::MentionSpam { .. }))
        .count();
    for d in &desired {
        match existing.iter().find(|e| e.rule.name == d.name) {
            Some(e) if e.rule == *d => p.unchanged.push(d.name.clone()),
            // Discord does not change a rule's trigger type: a rule of another type with
            // Kyuta's name is left as is.
            Some(e)
                if std::mem::discriminant(&e.rule.trigger)
                    != std::mem::discriminant(&d.trigger) =>
            {
                p.cannot.push(format!(
                    "{}: a native rule of another type has this name",
                    d.name
                ));
            }
            Some(e) => p.update.push((e.id, d.clone())),
            None => {
                let (count, max) = if is_keyword(&d.trigger) {
                    (&mut keyword_rules, MAX_KEYWORD_RULES)
                } else {
                    (&mut mention_rules, 1)
                };
                if *count >= max {
                    p.cannot.push(format!(
                        "{}: the server already has Discord's {max} {} rule(s)",
                        d.name,
                        d.trigger.type_name()
                    ));
                } else {
                    *count += 1;
                    p.create.push(d.clone());
                }
            }
        }
    }
    for e in existing {
        if e.rule.name.starts_with(NAME_PREFIX) && !desired.iter().any(|d| d.name == e.rule.name) {
            p.stale.push(e.rule.name.clone());
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: serde_json::Value) -> AutomodConfig {
        let c = AutomodConfig::from_json(&v).unwrap();
        c.validate().unwrap();
        c
    }

    fn words(name: &str, terms: &[&str]) -> serde_json::Value {
        json!({"name": name, "kind": {"type": "words", "words": terms}, "actions": [{"type": "delete"}]})
    }

    #[test]
    fn kyutas_rules_map_where_discord_can_express_them() {
        let long = "x".repeat(61);
        let patterns: Vec<String> = (0..12).map(|i| format!("p{i}")).collect();
        let c = cfg(json!({
            "enabled": true,
            "alert_channel": 500,
            "exempt_roles": [7],
            "rules": [
                words("slurs", &["bad", "worse*", &long]),
                {"name": "rx", "kind": {"type": "regex", "patterns": patterns}, "actions": [{"type": "delete"}], "exempt_roles": [3, 7]},
                {"name": "pings", "kind": {"type": "mention_spam", "per_message": 5}, "actions": [{"type": "delete"}, {"type": "timeout", "secs": 600}]},
                {"name": "pings2", "kind": {"type": "mention_spam", "per_message": 9}, "actions": [{"type": "delete"}]},
                {"name": "links", "kind": {"type": "invites"}, "actions": [{"type": "delete"}]},
                {"name": "huge", "kind": {"type": "mention_spam", "per_message": 80}, "actions": [{"type": "delete"}], "enabled": false},
            ]
        }));
        let (d, notes) = desired(&c);
        type Row<'a> = (&'a str, &'a Trigger, Option<u64>, Option<u32>, &'a [u64]);
        let table: Vec<Row<'_>> = d
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    &r.trigger,
                    r.alert_channel,
                    r.timeout_secs,
                    r.exempt_roles.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                (
                    "Kyuta: slurs",
                    &Trigger::Keyword {
                        keywords: vec!["bad".into(), "worse*".into()],
                        patterns: vec![]
                    },
                    Some(500),
                    None,
                    &[7u64][..]
                ),
                (
                    "Kyuta: rx",
                    &Trigger::Keyword {
                        keywords: vec![],
                        patterns: (0..10).map(|i| format!("p{i}")).collect()
                    },
                    Some(500),
                    None,
                    &[3, 7][..]
                ),
                (
                    "Kyuta: pings",
                    &Trigger::MentionSpam { limit: 4 },
                    Some(500),
                    Some(600),
                    &[7][..]
                ),
            ]
        );
        assert!(d.iter().all(|r| r.block && r.enabled));
        let notes = notes.join("\n");
        for says in [
            "slurs: 1 term(s) longer than 60",
            "rx: 2 pattern(s) left out",
            "pings2: Discord has one mention spam rule",
            "links: invites rules have no native equivalent",
        ] {
            assert!(notes.contains(says), "{says}: {notes}");
        }
    }

    #[test]
    fn a_disabled_config_gives_disabled_rules() {
        let (d, _) = desired(&cfg(
            json!({"enabled": false, "rules": [words("w", &["a"])]}),
        ));
        assert!(!d[0].enabled);
    }

    fn existing(id: u64, r: &NativeRule) -> Existing {
        Existing {
            id,
            rule: r.clone(),
        }
    }

    #[test]
    fn the_plan_creates_updates_and_leaves_alone() {
        let c = cfg(
            json!({"enabled": true, "rules": [words("a", &["x"]), words("b", &["y"]), {"name": "m", "kind": {"type": "mention_spam", "per_message": 6}, "actions": [{"type": "delete"}]}]}),
        );
        let (d, notes) = desired(&c);
        // Nothing yet: everything is created.
        let p = plan(d.clone(), notes.clone(), &[]);
        assert_eq!(p.create.len(), 3);
        assert!(p.update.is_empty() && p.unchanged.is_empty());
        // As created: nothing to do.
        let all: Vec<Existing> = d
            .iter()
            .enumerate()
            .map(|(i, r)| existing(i as u64 + 1, r))
            .collect();
        let p = plan(d.clone(), notes.clone(), &all);
        assert!(p.is_noop());
        assert_eq!(p.unchanged, ["Kyuta: a", "Kyuta: b", "Kyuta: m"]);
        // A changed Kyuta rule updates the native one, by id.
        let mut changed = all.clone();
        if let Trigger::Keyword { keywords, .. } = &mut changed[1].rule.trigger {
            keywords.push("z".into());
        }
        let p = plan(d.clone(), notes.clone(), &changed);
        assert_eq!(p.update, [(2, d[1].clone())]);
        assert_eq!(p.unchanged.len(), 2);
        // A Kyuta rule that is gone is reported, not deleted; other rules are not touched.
        let mut extra = all.clone();
        extra.push(existing(
            9,
            &NativeRule {
                name: "Kyuta: old".into(),
                ..d[0].clone()
            },
        ));
        extra.push(existing(
            10,
            &NativeRule {
                name: "Owner's rule".into(),
                ..d[0].clone()
            },
        ));
        let p = plan(d.clone(), notes, &extra);
        assert!(p.is_noop());
        assert_eq!(p.stale, ["Kyuta: old"]);
    }

    #[test]
    fn the_per_guild_limits_count_other_rules() {
        let c = cfg(
            json!({"enabled": true, "rules": [words("a", &["x"]), words("b", &["y"]), {"name": "m", "kind": {"type": "mention_spam", "per_message": 6}, "actions": [{"type": "delete"}]}]}),
        );
        let (d, notes) = desired(&c);
        let foreign: Vec<Existing> = (0..5)
            .map(|i| {
                existing(
                    100 + i,
                    &NativeRule {
                        name: format!("owner {i}"),
                        ..d[0].clone()
                    },
                )
            })
            .chain([existing(
                200,
                &NativeRule {
                    name: "owner pings".into(),
                    ..d[2].clone()
                },
            )])
            .collect();
        let p = plan(d, notes, &foreign);
        assert_eq!(
            p.create.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["Kyuta: a"]
        );
        let cannot = p.cannot.join("\n");
        assert!(
            cannot.contains("Kyuta: b: the server already has Discord's 6 keyword rule(s)"),
            "{cannot}"
        );
        assert!(
            cannot.contains("Kyuta: m: the server already has Discord's 1 mention spam rule(s)"),
            "{cannot}"
        );
    }
}
