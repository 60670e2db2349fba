//! The stored form of a guild's automod configuration: rules with their parameters, actions
//! and exemptions, serialised as JSON in `GuildConfig.automod`, validated with errors that
//! name the rule and the field.
//!
//! A rule's parameters belong to its family ([`super::rules`]); this module holds what every
//! rule shares (name, switch, actions, exemptions) and the configuration around the rules.

use serde::{Deserialize, Serialize};

pub use super::action::{Action, MAX_TIMEOUT_SECS};
pub use super::error::ConfigError;
pub use super::rules::RuleKind;
pub use super::rules::counting::{MAX_WINDOW_SECS, Window};
pub use super::rules::regex::{MAX_REGEX_LEN, MAX_REGEX_PATTERNS};
pub use super::rules::words::MAX_WORDS;

/// Most rules per guild.
pub const MAX_RULES: usize = 50;

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

impl Rule {
    /// Checks the rule's parameters (as its family says) and its actions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.name.as_str();
        self.kind.validate(n)?;
        if self.actions.is_empty() && self.kind.needs_actions() {
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
                Action::Lockdown if !matches!(self.kind, RuleKind::JoinRate(_)) => {
                    return Err(ConfigError::rule(
                        n,
                        "`lockdown` is raid mode's action; only a join_rate rule can use it",
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
    use crate::automod::rules::message_rate::MessageRate;
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
            RuleKind::MessageRate(MessageRate {
                count: 5,
                within_secs: 5
            })
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
