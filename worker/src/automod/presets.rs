//! One-step protection: the `relaxed`, `standard` and `strict` rule sets.

use std::fmt;
use std::str::FromStr;

use super::config::{Action, AutomodConfig, Rule, RuleKind, Window};
use super::rules::{
    account_age::AccountAge, attachment_spam::AttachmentSpam, caps::Caps, duplicates::Duplicates,
    emoji_spam::EmojiSpam, invites::Invites, join_rate::JoinRate, links::Links,
    mention_spam::MentionSpam, message_rate::MessageRate, toxicity::Toxicity,
};

/// A named preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Only clear abuse: floods, mass mentions, slurs and threats; few punishments.
    Relaxed,
    /// The default: spam, invites, IP-logger links, caps, emoji floods, raids and the
    /// toxicity thresholds 0.4 warn / 0.6 timeout 1 h (no ban on the score alone).
    Standard,
    /// Tighter limits, an account-age gate and raid mode that kicks.
    Strict,
}

/// Every preset, mildest first.
pub const PRESETS: [Preset; 3] = [Preset::Relaxed, Preset::Standard, Preset::Strict];

/// Names of the rules presets create; applying a preset replaces these and keeps the rest.
pub const PRESET_RULE_NAMES: &[&str] = &[
    "message-rate",
    "duplicates",
    "mentions",
    "invites",
    "links",
    "caps",
    "emoji",
    "attachments",
    "toxicity",
    "raid",
    "account-age",
];

/// Link shorteners and trackers that exist to capture visitors' IP addresses.
pub const IP_LOGGER_DOMAINS: &[&str] = &[
    "grabify.link",
    "iplogger.org",
    "iplogger.com",
    "iplogger.ru",
    "2no.co",
    "yip.su",
    "blasze.com",
    "ps3cfw.com",
];

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Relaxed => "relaxed",
            Self::Standard => "standard",
            Self::Strict => "strict",
        })
    }
}

/// A name that is not a preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preset {0:?}: choose relaxed, standard or strict")]
pub struct UnknownPreset(pub String);

impl FromStr for Preset {
    type Err = UnknownPreset;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "relaxed" => Ok(Self::Relaxed),
            "standard" => Ok(Self::Standard),
            "strict" => Ok(Self::Strict),
            _ => Err(UnknownPreset(s.to_owned())),
        }
    }
}

fn rule(name: &str, kind: RuleKind, actions: Vec<Action>) -> Rule {
    Rule {
        name: name.to_owned(),
        enabled: true,
        kind,
        actions,
        exempt_roles: Vec::new(),
        exempt_channels: Vec::new(),
    }
}

const DELETE: Action = Action::Delete;
const WARN: Action = Action::Warn;
const ALERT: Action = Action::Alert { channel: None };
fn timeout(mins: u32) -> Action {
    Action::Timeout { secs: mins * 60 }
}

impl Preset {
    /// The preset's rules.
    #[must_use]
    pub fn rules(self) -> Vec<Rule> {
        let ip_loggers = || {
            IP_LOGGER_DOMAINS
                .iter()
                .map(|d| (*d).to_owned())
                .collect::<Vec<_>>()
        };
        match self {
            Self::Relaxed => vec![
                rule(
                    "message-rate",
                    RuleKind::MessageRate(MessageRate {
                        count: 10,
                        within_secs: 5,
                    }),
                    vec![DELETE],
                ),
                rule(
                    "duplicates",
                    RuleKind::Duplicates(Duplicates {
                        count: 6,
                        within_secs: 30,
                        min_length: 10,
                    }),
                    vec![DELETE],
                ),
                rule(
                    "mentions",
                    RuleKind::MentionSpam(MentionSpam {
                        per_message: Some(10),
                        over_time: None,
                        count_everyone: true,
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "links",
                    RuleKind::Links(Links {
                        allow: vec![],
                        deny: ip_loggers(),
                    }),
                    vec![DELETE],
                ),
                rule(
                    "toxicity",
                    RuleKind::Toxicity(Toxicity {
                        warn_at: Some(0.6),
                        timeout_at: Some(0.8),
                        timeout_secs: 3600,
                        ban_at: None,
                    }),
                    vec![DELETE],
                ),
                rule(
                    "raid",
                    RuleKind::JoinRate(JoinRate {
                        count: 15,
                        within_secs: 10,
                        calm_secs: 120,
                    }),
                    vec![ALERT],
                ),
            ],
            Self::Standard => vec![
                rule(
                    "message-rate",
                    RuleKind::MessageRate(MessageRate {
                        count: 7,
                        within_secs: 5,
                    }),
                    vec![DELETE, timeout(10)],
                ),
                rule(
                    "duplicates",
                    RuleKind::Duplicates(Duplicates {
                        count: 4,
                        within_secs: 30,
                        min_length: 5,
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "mentions",
                    RuleKind::MentionSpam(MentionSpam {
                        per_message: Some(6),
                        over_time: Some(Window {
                            count: 12,
                            within_secs: 30,
                        }),
                        count_everyone: true,
                    }),
                    vec![DELETE, timeout(30)],
                ),
                rule(
                    "invites",
                    RuleKind::Invites(Invites {
                        allowed_codes: vec![],
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "links",
                    RuleKind::Links(Links {
                        allow: vec![],
                        deny: ip_loggers(),
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "caps",
                    RuleKind::Caps(Caps {
                        min_letters: 20,
                        min_percent: 80,
                    }),
                    vec![DELETE],
                ),
                rule(
                    "emoji",
                    RuleKind::EmojiSpam(EmojiSpam {
                        per_message: Some(15),
                        over_time: None,
                    }),
                    vec![DELETE],
                ),
                rule(
                    "attachments",
                    RuleKind::AttachmentSpam(AttachmentSpam {
                        per_message: None,
                        over_time: Some(Window {
                            count: 10,
                            within_secs: 30,
                        }),
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "toxicity",
                    RuleKind::Toxicity(Toxicity {
                        warn_at: Some(0.4),
                        timeout_at: Some(0.6),
                        timeout_secs: 3600,
                        ban_at: None,
                    }),
                    vec![DELETE],
                ),
                rule(
                    "raid",
                    RuleKind::JoinRate(JoinRate {
                        count: 10,
                        within_secs: 10,
                        calm_secs: 120,
                    }),
                    vec![timeout(60), ALERT],
                ),
            ],
            Self::Strict => vec![
                rule(
                    "message-rate",
                    RuleKind::MessageRate(MessageRate {
                        count: 5,
                        within_secs: 5,
                    }),
                    vec![DELETE, timeout(30)],
                ),
                rule(
                    "duplicates",
                    RuleKind::Duplicates(Duplicates {
                        count: 3,
                        within_secs: 60,
                        min_length: 1,
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "mentions",
                    RuleKind::MentionSpam(MentionSpam {
                        per_message: Some(4),
                        over_time: Some(Window {
                            count: 8,
                            within_secs: 30,
                        }),
                        count_everyone: true,
                    }),
                    vec![DELETE, timeout(60)],
                ),
                rule(
                    "invites",
                    RuleKind::Invites(Invites {
                        allowed_codes: vec![],
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "links",
                    RuleKind::Links(Links {
                        allow: vec![],
                        deny: ip_loggers(),
                    }),
                    vec![
                        DELETE,
                        Action::Ban {
                            delete_message_secs: 86_400,
                        },
                    ],
                ),
                rule(
                    "caps",
                    RuleKind::Caps(Caps {
                        min_letters: 12,
                        min_percent: 70,
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "emoji",
                    RuleKind::EmojiSpam(EmojiSpam {
                        per_message: Some(10),
                        over_time: Some(Window {
                            count: 30,
                            within_secs: 30,
                        }),
                    }),
                    vec![DELETE],
                ),
                rule(
                    "attachments",
                    RuleKind::AttachmentSpam(AttachmentSpam {
                        per_message: Some(6),
                        over_time: Some(Window {
                            count: 6,
                            within_secs: 30,
                        }),
                    }),
                    vec![DELETE, WARN],
                ),
                rule(
                    "toxicity",
                    RuleKind::Toxicity(Toxicity {
                        warn_at: Some(0.3),
                        timeout_at: Some(0.5),
                        timeout_secs: 6 * 3600,
                        ban_at: None,
                    }),
                    vec![DELETE],
                ),
                rule(
                    "raid",
                    RuleKind::JoinRate(JoinRate {
                        count: 6,
                        within_secs: 10,
                        calm_secs: 300,
                    }),
                    vec![Action::Kick, ALERT],
                ),
                rule(
                    "account-age",
                    RuleKind::AccountAge(AccountAge {
                        min_age_secs: 3 * 86_400,
                    }),
                    vec![Action::Kick, ALERT],
                ),
            ],
        }
    }

    /// Applies the preset to `config`: replaces the preset rules (see
    /// [`PRESET_RULE_NAMES`]), keeps the guild's own rules and exemptions, turns automod on
    /// and bumps the revision.
    pub fn apply(self, config: &mut AutomodConfig) {
        config
            .rules
            .retain(|r| !PRESET_RULE_NAMES.contains(&r.name.as_str()));
        let mut rules = self.rules();
        rules.append(&mut config.rules);
        config.rules = rules;
        config.enabled = true;
        config.revision += 1;
    }

    /// A fresh configuration with only this preset, enabled.
    #[must_use]
    pub fn config(self) -> AutomodConfig {
        let mut c = AutomodConfig::default();
        self.apply(&mut c);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automod::GuildRules;
    use crate::automod::rules::words::Words;

    #[test]
    fn presets_are_valid_and_named() {
        for p in PRESETS {
            let c = p.config();
            c.validate().unwrap_or_else(|e| panic!("{p}: {e}"));
            GuildRules::compile(&c).unwrap();
            for r in &c.rules {
                assert!(
                    PRESET_RULE_NAMES.contains(&r.name.as_str()),
                    "{p}: {}",
                    r.name
                );
            }
            assert_eq!(p.to_string().parse::<Preset>().unwrap(), p);
        }
        assert!(
            "lenient"
                .parse::<Preset>()
                .unwrap_err()
                .to_string()
                .contains("relaxed, standard or strict")
        );
    }

    #[test]
    fn applying_keeps_own_rules_and_bumps_revision() {
        let mut c = Preset::Strict.config();
        c.rules.push(Rule {
            name: "no-spoilers".into(),
            enabled: true,
            kind: RuleKind::Words(Words {
                words: vec!["spoiler".into()],
            }),
            actions: vec![Action::Delete],
            exempt_roles: vec![],
            exempt_channels: vec![],
        });
        c.exempt_roles.push(9);
        let rev = c.revision;
        Preset::Relaxed.apply(&mut c);
        assert!(c.rule("no-spoilers").is_some());
        assert!(c.rule("account-age").is_none());
        assert_eq!(c.exempt_roles, vec![9]);
        assert_eq!(c.revision, rev + 1);
        c.validate().unwrap();
    }
}
