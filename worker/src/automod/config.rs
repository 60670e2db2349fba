//! The stored form of a guild's automod configuration: rules with their parameters, actions
//! and exemptions, serialised as JSON in `GuildConfig.automod`, validated with errors that
//! name the rule and the field.

use serde::{Deserialize, Serialize};

/// Longest accepted regex pattern, in bytes.
pub const MAX_REGEX_LEN: usize = 256;
/// Most regex patterns in one rule.
pub const MAX_REGEX_PATTERNS: usize = 32;
/// Most terms in one word list.
pub const MAX_WORDS: usize = 1000;
/// Most rules per guild.
pub const MAX_RULES: usize = 50;
/// Longest sliding window, in seconds (one day).
pub const MAX_WINDOW_SECS: u32 = 86_400;
/// Discord's longest timeout (28 days), in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 28 * 86_400;

/// A guild's automod configuration as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomodConfig {
    /// Master switch.
    #[serde(default)]
    pub enabled: bool,
    /// Bumped on every change; compiled rules are cached per (guild, revision).
    #[serde(default)]
    pub revision: u64,
    /// Channel that receives `alert` actions without a channel of their own (falls back to
    /// the mod-log channel when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_channel: Option<u64>,
    /// Exempt bots from every rule (default on).
    #[serde(default = "yes")]
    pub exempt_bots: bool,
    /// Exempt members with moderator permissions (ADMINISTRATOR, MANAGE_GUILD,
    /// MANAGE_MESSAGES, MODERATE_MEMBERS, KICK_MEMBERS, BAN_MEMBERS) from every rule
    /// (default on).
    #[serde(default = "yes")]
    pub exempt_moderators: bool,
    /// Roles exempt from every rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_roles: Vec<u64>,
    /// Channels exempt from every rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_channels: Vec<u64>,
    /// The rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

fn yes() -> bool {
    true
}

impl AutomodConfig {
    /// Every channel id the configuration names (alert channels, exempt channels) and every
    /// role id (exempt roles), each list sorted and without repeats.
    #[must_use]
    pub fn referenced_ids(&self) -> (Vec<u64>, Vec<u64>) {
        let mut channels: Vec<u64> = self.alert_channel.into_iter().collect();
        channels.extend(&self.exempt_channels);
        let mut roles = self.exempt_roles.clone();
        for rule in &self.rules {
            channels.extend(&rule.exempt_channels);
            roles.extend(&rule.exempt_roles);
            channels.extend(rule.actions.iter().filter_map(|a| match a {
                Action::Alert { channel } => *channel,
                _ => None,
            }));
        }
        for v in [&mut channels, &mut roles] {
            v.sort_unstable();
            v.dedup();
        }
        (channels, roles)
    }
}

impl Default for AutomodConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            revision: 0,
            alert_channel: None,
            exempt_bots: true,
            exempt_moderators: true,
            exempt_roles: Vec::new(),
            exempt_channels: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique name within the guild: 1–32 characters of `a-z`, `0-9`, `-`, `_`.
    pub name: String,
    /// Whether the rule runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What the rule looks for.
    pub kind: RuleKind,
    /// What happens when it fires (for `toxicity`, in addition to the tier's action).
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Roles the rule ignores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_roles: Vec<u64>,
    /// Channels the rule ignores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_channels: Vec<u64>,
}

/// A count within a sliding window: "N in T seconds".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// How many (messages, mentions, joins…) make the rule fire.
    pub count: u32,
    /// Within how many seconds.
    pub within_secs: u32,
}

/// What a rule looks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleKind {
    /// A member sends `count` messages within `within_secs`.
    MessageRate {
        /// How many make the rule fire.
        count: u32,
        /// Within how many seconds.
        within_secs: u32,
    },
    /// A member sends the same text `count` times within `within_secs`.
    Duplicates {
        /// How many make the rule fire.
        count: u32,
        /// Within how many seconds.
        within_secs: u32,
        /// Texts shorter than this (after trimming) are not counted ("ok", "lol").
        #[serde(default = "default_dup_min_len")]
        min_length: u32,
    },
    /// Too many mentions in one message or over time.
    MentionSpam {
        /// Fires when one message mentions at least this many users and roles.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_message: Option<u32>,
        /// Fires when a member's mentions add up to `count` within `within_secs`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        over_time: Option<Window>,
        /// Count `@everyone`/`@here` as a mention (default on).
        #[serde(default = "yes")]
        count_everyone: bool,
    },
    /// Discord invite links.
    Invites {
        /// Invite codes that are allowed (e.g. the guild's own vanity code).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allowed_codes: Vec<String>,
    },
    /// Links by domain: with an `allow` list every other domain fires; a `deny` list fires
    /// on its domains. A domain covers its subdomains.
    Links {
        /// Only these domains are allowed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allow: Vec<String>,
        /// These domains are not allowed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        deny: Vec<String>,
    },
    /// Excessive capitals: at least `min_letters` letters of which `min_percent` % or more
    /// are uppercase.
    Caps {
        /// Shorter messages are ignored.
        min_letters: u32,
        /// Uppercase share, 1–100.
        min_percent: u8,
    },
    /// Words or phrases (`word`, `word*` prefix, `*word` suffix, `*word*` anywhere), matched
    /// against normalised text so leetspeak and spacing do not hide them.
    Words {
        /// The terms.
        words: Vec<String>,
    },
    /// Regular expressions (the `regex` crate's syntax, linear-time; no look-around or
    /// back-references), case-insensitive unless the pattern says `(?-i)`.
    Regex {
        /// The patterns.
        patterns: Vec<String>,
    },
    /// Too many attachments in one message or over time.
    AttachmentSpam {
        /// Fires at this many attachments in one message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_message: Option<u32>,
        /// Fires when a member's attachments add up to `count` within `within_secs`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        over_time: Option<Window>,
    },
    /// Too many emoji in one message or over time.
    EmojiSpam {
        /// Fires at this many emoji in one message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_message: Option<u32>,
        /// Fires when a member's emoji add up to `count` within `within_secs`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        over_time: Option<Window>,
    },
    /// Toxicity score tiers (at least one): the highest tier reached decides the
    /// punishment; the rule's own `actions` (e.g. `delete`, `alert`) are added at any tier.
    Toxicity {
        /// Score from which the author is warned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warn_at: Option<f32>,
        /// Score from which the author is timed out for `timeout_secs`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_at: Option<f32>,
        /// Length of that timeout.
        #[serde(default = "default_toxicity_timeout")]
        timeout_secs: u32,
        /// Score from which the author is banned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ban_at: Option<f32>,
    },
    /// Raid detection: `count` joins within `within_secs` start raid mode; the rule's actions
    /// apply to everyone who joins while it lasts; it ends `calm_secs` after the join rate
    /// last reached the threshold.
    JoinRate {
        /// How many make the rule fire.
        count: u32,
        /// Within how many seconds.
        within_secs: u32,
        /// Quiet time that ends raid mode.
        #[serde(default = "default_calm")]
        calm_secs: u32,
    },
    /// Accounts younger than `min_age_secs` when they join.
    AccountAge {
        /// Minimum account age.
        min_age_secs: u64,
    },
    /// Username, global name or nickname containing one of these terms (term syntax as for
    /// `words`).
    Names {
        /// The terms.
        words: Vec<String>,
    },
}

fn default_dup_min_len() -> u32 {
    1
}
fn default_toxicity_timeout() -> u32 {
    3600
}
fn default_calm() -> u32 {
    120
}

impl RuleKind {
    /// The rule type's name as written in the configuration.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::MessageRate { .. } => "message_rate",
            Self::Duplicates { .. } => "duplicates",
            Self::MentionSpam { .. } => "mention_spam",
            Self::Invites { .. } => "invites",
            Self::Links { .. } => "links",
            Self::Caps { .. } => "caps",
            Self::Words { .. } => "words",
            Self::Regex { .. } => "regex",
            Self::AttachmentSpam { .. } => "attachment_spam",
            Self::EmojiSpam { .. } => "emoji_spam",
            Self::Toxicity { .. } => "toxicity",
            Self::JoinRate { .. } => "join_rate",
            Self::AccountAge { .. } => "account_age",
            Self::Names { .. } => "names",
        }
    }

    /// Whether the rule looks at members joining rather than at messages.
    #[must_use]
    pub fn is_member_rule(&self) -> bool {
        matches!(
            self,
            Self::JoinRate { .. } | Self::AccountAge { .. } | Self::Names { .. }
        )
    }
}

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Delete the message.
    Delete,
    /// Warn the member (a warn case; counts towards escalation).
    Warn,
    /// Time the member out.
    Timeout {
        /// Duration, at most 28 days.
        secs: u32,
    },
    /// Kick the member.
    Kick,
    /// Ban the member.
    Ban {
        /// Delete the member's messages of the last this many seconds (at most 7 days).
        #[serde(default)]
        delete_message_secs: u32,
    },
    /// Post an alert with the evidence.
    Alert {
        /// Channel; the configuration's `alert_channel` (then the mod-log channel) when unset.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<u64>,
    },
}

impl Action {
    /// Whether the action punishes the member (warn, timeout, kick, ban): such actions are
    /// applied once per rule and member within the rule's window, however many messages
    /// fire it.
    #[must_use]
    pub fn is_punishment(&self) -> bool {
        matches!(
            self,
            Self::Warn | Self::Timeout { .. } | Self::Kick | Self::Ban { .. }
        )
    }

    /// Short name (`delete`, `warn`, `timeout`, `kick`, `ban`, `alert`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::Warn => "warn",
            Self::Timeout { .. } => "timeout",
            Self::Kick => "kick",
            Self::Ban { .. } => "ban",
            Self::Alert { .. } => "alert",
        }
    }
}

/// A configuration that cannot be used, naming the rule and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The JSON does not have the expected shape.
    #[error("automod configuration is not valid: {0}")]
    Shape(String),
    /// A problem with the configuration as a whole.
    #[error("automod configuration: {0}")]
    Config(String),
    /// A problem with one rule.
    #[error("rule {rule:?}: {problem}")]
    Rule {
        /// The rule's name.
        rule: String,
        /// What is wrong.
        problem: String,
    },
}

impl ConfigError {
    pub(crate) fn rule(rule: &str, problem: impl Into<String>) -> Self {
        Self::Rule {
            rule: rule.to_owned(),
            problem: problem.into(),
        }
    }
}

impl AutomodConfig {
    /// Reads a stored configuration; `null` (never configured) gives the default (disabled).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, ConfigError> {
        if value.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(value.clone()).map_err(|e| ConfigError::Shape(e.to_string()))
    }

    /// The stored form.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("automod config serialises")
    }

    /// The rule called `name`.
    #[must_use]
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The rule called `name`, mutable.
    pub fn rule_mut(&mut self, name: &str) -> Option<&mut Rule> {
        self.rules.iter_mut().find(|r| r.name == name)
    }

    /// Checks everything that can be checked without compiling (compiling, as
    /// [`super::GuildRules::compile`] does, also checks regexes and word lists).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rules.len() > MAX_RULES {
            return Err(ConfigError::Config(format!(
                "{} rules is more than the {MAX_RULES} allowed",
                self.rules.len()
            )));
        }
        for (i, r) in self.rules.iter().enumerate() {
            validate_name(&r.name)?;
            if self.rules[..i].iter().any(|o| o.name == r.name) {
                return Err(ConfigError::rule(&r.name, "another rule has the same name"));
            }
            r.validate()?;
        }
        Ok(())
    }
}

fn validate_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::rule(
            name,
            "a rule name is 1–32 characters of a-z, 0-9, '-' and '_'",
        ))
    }
}

fn check_window(rule: &str, what: &str, w: &Window) -> Result<(), ConfigError> {
    if w.count < 1 {
        return Err(ConfigError::rule(
            rule,
            format!("{what}count must be at least 1"),
        ));
    }
    if w.within_secs < 1 || w.within_secs > MAX_WINDOW_SECS {
        return Err(ConfigError::rule(
            rule,
            format!("{what}within_secs must be between 1 and {MAX_WINDOW_SECS}"),
        ));
    }
    Ok(())
}

fn check_at_least_one(rule: &str, what: &str, n: Option<u32>) -> Result<(), ConfigError> {
    match n {
        Some(0) => Err(ConfigError::rule(
            rule,
            format!("{what} must be at least 1"),
        )),
        _ => Ok(()),
    }
}

fn check_domain(rule: &str, d: &str) -> Result<(), ConfigError> {
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !d.starts_with('.')
        && !d.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::rule(
            rule,
            format!("{d:?} is not a domain (lowercase, like example.com)"),
        ))
    }
}

impl Rule {
    /// Checks the rule's parameters and actions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.name.as_str();
        match &self.kind {
            RuleKind::MessageRate { count, within_secs } => {
                check_window(
                    n,
                    "",
                    &Window {
                        count: *count,
                        within_secs: *within_secs,
                    },
                )?;
            }
            RuleKind::Duplicates {
                count, within_secs, ..
            } => {
                check_window(
                    n,
                    "",
                    &Window {
                        count: *count,
                        within_secs: *within_secs,
                    },
                )?;
                if *count < 2 {
                    return Err(ConfigError::rule(
                        n,
                        "count must be at least 2 (a duplicate needs two messages)",
                    ));
                }
            }
            RuleKind::MentionSpam {
                per_message,
                over_time,
                ..
            }
            | RuleKind::AttachmentSpam {
                per_message,
                over_time,
            }
            | RuleKind::EmojiSpam {
                per_message,
                over_time,
            } => {
                if per_message.is_none() && over_time.is_none() {
                    return Err(ConfigError::rule(n, "set per_message, over_time or both"));
                }
                check_at_least_one(n, "per_message", *per_message)?;
                if let Some(w) = over_time {
                    check_window(n, "over_time.", w)?;
                }
            }
            RuleKind::Invites { allowed_codes } => {
                if let Some(c) = allowed_codes.iter().find(|c| {
                    c.is_empty() || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }) {
                    return Err(ConfigError::rule(n, format!("{c:?} is not an invite code")));
                }
            }
            RuleKind::Links { allow, deny } => {
                if allow.is_empty() && deny.is_empty() {
                    return Err(ConfigError::rule(
                        n,
                        "set an allow list, a deny list or both",
                    ));
                }
                for d in allow.iter().chain(deny) {
                    check_domain(n, d)?;
                }
            }
            RuleKind::Caps {
                min_letters,
                min_percent,
            } => {
                if *min_letters < 1 {
                    return Err(ConfigError::rule(n, "min_letters must be at least 1"));
                }
                if !(1..=100).contains(min_percent) {
                    return Err(ConfigError::rule(
                        n,
                        "min_percent must be between 1 and 100",
                    ));
                }
            }
            RuleKind::Words { words } | RuleKind::Names { words } => {
                if words.is_empty() {
                    return Err(ConfigError::rule(n, "the word list is empty"));
                }
                if words.len() > MAX_WORDS {
                    return Err(ConfigError::rule(
                        n,
                        format!("{} words is more than the {MAX_WORDS} allowed", words.len()),
                    ));
                }
            }
            RuleKind::Regex { patterns } => {
                if patterns.is_empty() {
                    return Err(ConfigError::rule(n, "the pattern list is empty"));
                }
                if patterns.len() > MAX_REGEX_PATTERNS {
                    return Err(ConfigError::rule(
                        n,
                        format!(
                            "{} patterns is more than the {MAX_REGEX_PATTERNS} allowed",
                            patterns.len()
                        ),
                    ));
                }
                if let Some(p) = patterns.iter().find(|p| p.len() > MAX_REGEX_LEN) {
                    return Err(ConfigError::rule(
                        n,
                        format!(
                            "pattern {:?}… is {} bytes long; the limit is {MAX_REGEX_LEN}",
                            p.chars().take(24).collect::<String>(),
                            p.len()
                        ),
                    ));
                }
            }
            RuleKind::Toxicity {
                warn_at,
                timeout_at,
                timeout_secs,
                ban_at,
            } => {
                let tiers = [
                    ("warn_at", warn_at),
                    ("timeout_at", timeout_at),
                    ("ban_at", ban_at),
                ];
                if tiers.iter().all(|(_, t)| t.is_none()) {
                    return Err(ConfigError::rule(
                        n,
                        "set at least one of warn_at, timeout_at, ban_at",
                    ));
                }
                for (what, t) in tiers {
                    if let Some(t) = t
                        && !(t.is_finite() && *t > 0.0 && *t <= 1.0)
                    {
                        return Err(ConfigError::rule(
                            n,
                            format!("{what} must be in (0, 1], got {t}"),
                        ));
                    }
                }
                let set: Vec<f32> = tiers.iter().filter_map(|(_, t)| **t).collect();
                if set.windows(2).any(|w| w[0] > w[1]) {
                    return Err(ConfigError::rule(
                        n,
                        "thresholds must not decrease: warn_at ≤ timeout_at ≤ ban_at",
                    ));
                }
                if *timeout_secs < 1 || *timeout_secs > MAX_TIMEOUT_SECS {
                    return Err(ConfigError::rule(
                        n,
                        format!("timeout_secs must be between 1 and {MAX_TIMEOUT_SECS} (28 days)"),
                    ));
                }
            }
            RuleKind::JoinRate {
                count,
                within_secs,
                calm_secs,
            } => {
                check_window(
                    n,
                    "",
                    &Window {
                        count: *count,
                        within_secs: *within_secs,
                    },
                )?;
                if *count < 2 {
                    return Err(ConfigError::rule(n, "count must be at least 2"));
                }
                if *calm_secs < 1 || *calm_secs > MAX_WINDOW_SECS {
                    return Err(ConfigError::rule(
                        n,
                        format!("calm_secs must be between 1 and {MAX_WINDOW_SECS}"),
                    ));
                }
            }
            RuleKind::AccountAge { min_age_secs } => {
                if *min_age_secs < 1 {
                    return Err(ConfigError::rule(n, "min_age_secs must be at least 1"));
                }
            }
        }
        if self.actions.is_empty() && !matches!(self.kind, RuleKind::Toxicity { .. }) {
            return Err(ConfigError::rule(n, "the rule has no actions"));
        }
        for a in &self.actions {
            match a {
                Action::Delete if self.kind.is_member_rule() => {
                    return Err(ConfigError::rule(
                        n,
                        "`delete` needs a message; member rules cannot use it",
                    ));
                }
                Action::Timeout { secs } if *secs < 1 || *secs > MAX_TIMEOUT_SECS => {
                    return Err(ConfigError::rule(
                        n,
                        format!("timeout secs must be between 1 and {MAX_TIMEOUT_SECS} (28 days)"),
                    ));
                }
                Action::Ban {
                    delete_message_secs,
                } if *delete_message_secs > 604_800 => {
                    return Err(ConfigError::rule(
                        n,
                        "ban delete_message_secs is at most 604800 (7 days)",
                    ));
                }
                _ => {}
            }
        }
        if self.actions.iter().enumerate().any(|(i, a)| {
            self.actions[..i]
                .iter()
                .any(|b| std::mem::discriminant(a) == std::mem::discriminant(b))
        }) {
            return Err(ConfigError::rule(n, "the same action is listed twice"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_is_the_disabled_default() {
        let c = AutomodConfig::from_json(&serde_json::Value::Null).unwrap();
        assert!(!c.enabled && c.exempt_bots && c.exempt_moderators && c.rules.is_empty());
    }

    #[test]
    fn round_trips() {
        let v = json!({
            "enabled": true,
            "rules": [
                {"name": "spam", "kind": {"type": "message_rate", "count": 5, "within_secs": 5},
                 "actions": [{"type": "delete"}, {"type": "timeout", "secs": 600}],
                 "exempt_roles": [42]},
                {"name": "tox", "kind": {"type": "toxicity", "warn_at": 0.4}}
            ]
        });
        let c = AutomodConfig::from_json(&v).unwrap();
        c.validate().unwrap();
        assert_eq!(AutomodConfig::from_json(&c.to_json()).unwrap(), c);
        assert_eq!(
            c.rules[0].kind,
            RuleKind::MessageRate {
                count: 5,
                within_secs: 5
            }
        );
    }

    #[test]
    fn clear_errors() {
        let bad = |v: serde_json::Value| -> String {
            match AutomodConfig::from_json(&v) {
                Err(e) => e.to_string(),
                Ok(c) => c.validate().unwrap_err().to_string(),
            }
        };
        assert!(
            bad(json!({"rules": [{"name": "x", "kind": {"type": "nope"}, "actions": []}]}))
                .contains("unknown variant")
        );
        assert!(bad(json!({"rulez": []})).contains("unknown field"));
        assert!(bad(json!({"rules": [{"name": "Bad Name", "kind": {"type": "invites"}, "actions": [{"type": "delete"}]}]})).contains("rule name"));
        assert!(bad(json!({"rules": [{"name": "r", "kind": {"type": "message_rate", "count": 0, "within_secs": 5}, "actions": [{"type": "delete"}]}]})).contains("count must be at least 1"));
        assert!(
            bad(json!({"rules": [{"name": "r", "kind": {"type": "invites"}, "actions": []}]}))
                .contains("no actions")
        );
        assert!(bad(json!({"rules": [{"name": "r", "kind": {"type": "account_age", "min_age_secs": 60}, "actions": [{"type": "delete"}]}]})).contains("member rules"));
        assert!(bad(json!({"rules": [{"name": "r", "kind": {"type": "toxicity", "warn_at": 0.7, "ban_at": 0.5}}]})).contains("must not decrease"));
        assert!(bad(json!({"rules": [{"name": "r", "kind": {"type": "links", "deny": ["Example.com"]}, "actions": [{"type": "delete"}]}]})).contains("not a domain"));
        assert!(bad(json!({"rules": [{"name": "r", "kind": {"type": "regex", "patterns": ["a".repeat(300)]}, "actions": [{"type": "delete"}]}]})).contains("limit is 256"));
        assert!(
            bad(json!({"rules": [
            {"name": "r", "kind": {"type": "invites"}, "actions": [{"type": "delete"}]},
            {"name": "r", "kind": {"type": "invites"}, "actions": [{"type": "delete"}]}]}))
            .contains("same name")
        );
        assert!(bad(json!({"rules": [{"name": "r", "kind": {"type": "invites"}, "actions": [{"type": "timeout", "secs": 9999999}]}]})).contains("28 days"));
    }
}
