//! Rule families: one file per rule type, each owning its stored parameters, their
//! validation, their `/automod set` settings, their defaults for `/automod add`, and the
//! compiled check that evaluates messages or joins.
//!
//! A family is a parameter struct implementing [`Family`]; compiling it gives a [`Check`].
//! The engine ([`super::Engine`]) only loops over compiled checks: it hands each a message
//! or a join, batches the counter operations they ask for, gives every check its counter
//! value back, and keeps the punishments of windowed rules to once per window.
//!
//! Adding a rule type: write `rules/<type>.rs` with the parameter struct, its `Family` impl
//! and its check, then add one line to the [`rule_families!`] list at the bottom of this
//! file. Everything else (the stored `type` name, `/automod add` choices, `/automod set`,
//! validation, compilation, evaluation) follows from that line.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::action::Action;
use super::context::{Evidence, MemberContext, MessageContext};
use super::counters::{CounterKey, CounterOp, CounterValue, Subject};
use super::error::ConfigError;
use super::text::Normalized;

pub mod counting;
pub mod settings;

pub use settings::{Setting, SettingKind};

/// What a rule family looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Messages as they are sent.
    Message,
    /// Members as they join.
    Member,
}

/// One rule family: the parameters a rule of this type stores (the implementing struct,
/// serialised inside the rule's `kind` next to its `type`) and what is done with them.
pub trait Family:
    fmt::Debug + Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Whether rules of this family look at messages or at joining members.
    const SCOPE: Scope = Scope::Message;
    /// Whether a rule of this family needs its own actions (a toxicity rule has its tiers).
    const NEEDS_ACTIONS: bool = true;
    /// The parameters `/automod set` can change, and how their values are written.
    const SETTINGS: &'static [Setting];

    /// The parameters of a rule created with `/automod add`; `value` is the list typed with
    /// it, for families that need one. The error is shown to the moderator.
    fn added(value: Option<&str>) -> Result<Self, String>;

    /// Checks the parameters of the rule called `rule`.
    fn validate(&self, rule: &str) -> Result<(), ConfigError>;

    /// Compiles validated parameters (regexes, word automata, sets) into the check that runs
    /// on every message or join.
    fn compile(&self, rule: &str) -> Result<Arc<dyn Check>, ConfigError>;
}

/// What every compiled rule knows about itself, whatever its family.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    /// The rule's name.
    pub name: Arc<str>,
    /// The rule's type name (`message_rate`, `toxicity`…).
    pub type_name: &'static str,
    /// The rule's configured actions.
    pub actions: Vec<Action>,
}

impl RuleInfo {
    /// The counter of this rule about `subject` in `guild_id`.
    #[must_use]
    pub fn key(&self, guild_id: u64, subject: Subject) -> CounterKey {
        CounterKey {
            guild_id,
            rule: self.name.clone(),
            subject,
        }
    }

    /// The rule fires with its configured actions.
    #[must_use]
    pub fn hit(&self, evidence: Evidence) -> Hit {
        Hit {
            actions: self.actions.clone(),
            evidence,
        }
    }
}

/// A rule that fired: what to do and why. The engine adds the message's id, channel and
/// excerpt to the evidence of message rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The actions to take.
    pub actions: Vec<Action>,
    /// Why the rule fired.
    pub evidence: Evidence,
}

/// What a check makes of one message or join.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The rule does not fire.
    Clean,
    /// The rule fires now.
    Fired(Hit),
    /// The rule needs this counter operation; the engine runs it with the other rules' and
    /// hands the value to [`Check::counted`].
    Count(CounterOp),
}

/// A message as a check sees it: the message and, when some rule of the guild needs it, its
/// normalised text (computed once per message).
#[derive(Debug, Clone, Copy)]
pub struct MessageInput<'a> {
    /// The message.
    pub msg: &'a MessageContext<'a>,
    /// The normalised text, when a rule asked for it ([`Check::needs_normalized`]).
    pub norm: Option<&'a Normalized>,
}

/// A compiled rule's check. Evaluation never compiles and never blocks: counter work is
/// asked for with [`Finding::Count`] and answered through [`Check::counted`].
pub trait Check: fmt::Debug + Send + Sync {
    /// Whether the check reads [`MessageInput::norm`].
    fn needs_normalized(&self) -> bool {
        false
    }

    /// Looks at a message (message rules).
    fn message(&self, _input: &MessageInput<'_>, _rule: &RuleInfo) -> Finding {
        Finding::Clean
    }

    /// Looks at a member who joined (member rules).
    fn join(&self, _member: &MemberContext<'_>, _rule: &RuleInfo) -> Finding {
        Finding::Clean
    }

    /// Looks at a member whose names (username, global name or nickname) changed. Only
    /// rules about names look again: raid mode and account age are about joining.
    fn renamed(&self, _member: &MemberContext<'_>, _rule: &RuleInfo) -> Finding {
        Finding::Clean
    }

    /// The value of the counter operation this check asked for.
    fn counted(&self, _value: CounterValue, _rule: &RuleInfo) -> Option<Hit> {
        None
    }

    /// For windowed rules, the window in ms within which a member is punished once, however
    /// many messages fire the rule.
    fn once_window_ms(&self) -> Option<u64> {
        None
    }
}

/// Declares the rule families: each line is `Variant = "type" => module::Params`. It
/// declares the module, the [`RuleKind`] variant (stored with `"type": "<type>"`) and the
/// dispatch from a rule's kind to its family.
macro_rules! rule_families {
    ($($variant:ident = $name:literal => $module:ident :: $params:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// What a rule looks for: the rule's family and its parameters, stored as an object
        /// with the family's `type` name and the parameters next to it.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type")]
        pub enum RuleKind {
            $(
                #[doc = concat!("`", $name, "`: see [`", stringify!($module), "`].")]
                #[serde(rename = $name)]
                $variant($module::$params),
            )*
        }

        impl RuleKind {
            /// Every rule type name, in the order `/automod add` offers them.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            /// The rule type's name as written in the configuration.
            #[must_use]
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                }
            }

            /// Whether the rule looks at messages or at joining members.
            #[must_use]
            pub fn scope(&self) -> Scope {
                match self {
                    $(Self::$variant(_) => <$module::$params as Family>::SCOPE,)*
                }
            }

            /// Whether the rule needs actions of its own.
            #[must_use]
            pub fn needs_actions(&self) -> bool {
                match self {
                    $(Self::$variant(_) => <$module::$params as Family>::NEEDS_ACTIONS,)*
                }
            }

            /// The parameters `/automod set` can change.
            #[must_use]
            pub fn settings(&self) -> &'static [Setting] {
                match self {
                    $(Self::$variant(_) => <$module::$params as Family>::SETTINGS,)*
                }
            }

            /// Checks the parameters of the rule called `rule`.
            pub fn validate(&self, rule: &str) -> Result<(), ConfigError> {
                match self {
                    $(Self::$variant(p) => p.validate(rule),)*
                }
            }

            /// Compiles the parameters of the rule called `rule`.
            pub fn compile(&self, rule: &str) -> Result<Arc<dyn Check>, ConfigError> {
                match self {
                    $(Self::$variant(p) => p.compile(rule),)*
                }
            }

            /// The parameters of a new rule of type `type_name` (`None`: no such type).
            #[must_use]
            pub fn added(type_name: &str, value: Option<&str>) -> Option<Result<Self, String>> {
                Some(match type_name {
                    $($name => <$module::$params as Family>::added(value).map(Self::$variant),)*
                    _ => return None,
                })
            }
        }
    };
}

impl RuleKind {
    /// Whether the rule looks at members joining rather than at messages.
    #[must_use]
    pub fn is_member_rule(&self) -> bool {
        self.scope() == Scope::Member
    }

    /// The setting called `name` of this rule's family.
    #[must_use]
    pub fn setting(&self, name: &str) -> Option<&'static Setting> {
        self.settings().iter().find(|s| s.name == name)
    }
}

rule_families! {
    MessageRate = "message_rate" => message_rate::MessageRate,
    Duplicates = "duplicates" => duplicates::Duplicates,
    MentionSpam = "mention_spam" => mention_spam::MentionSpam,
    Invites = "invites" => invites::Invites,
    Links = "links" => links::Links,
    Caps = "caps" => caps::Caps,
    Words = "words" => words::Words,
    Regex = "regex" => regex::Regex,
    AttachmentSpam = "attachment_spam" => attachment_spam::AttachmentSpam,
    EmojiSpam = "emoji_spam" => emoji_spam::EmojiSpam,
    Toxicity = "toxicity" => toxicity::Toxicity,
    JoinRate = "join_rate" => join_rate::JoinRate,
    AccountAge = "account_age" => account_age::AccountAge,
    Names = "names" => names::Names,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::automod::config::AutomodConfig;

    /// A configuration with every rule type, as stored in `GuildConfig.automod` before the
    /// families had files of their own.
    fn stored() -> serde_json::Value {
        json!({
            "enabled": true, "revision": 3, "alert_channel": 5, "exempt_bots": true,
            "exempt_moderators": false, "exempt_roles": [7], "exempt_channels": [8],
            "rules": [
                {"name": "rate", "enabled": true, "kind": {"type": "message_rate", "count": 5, "within_secs": 5},
                 "actions": [{"type": "delete"}, {"type": "timeout", "secs": 600}], "exempt_roles": [42]},
                {"name": "dup", "enabled": true, "kind": {"type": "duplicates", "count": 3, "within_secs": 30, "min_length": 4},
                 "actions": [{"type": "warn"}]},
                {"name": "ment", "enabled": false, "kind": {"type": "mention_spam", "per_message": 5,
                 "over_time": {"count": 8, "within_secs": 30}, "count_everyone": false}, "actions": [{"type": "kick"}]},
                {"name": "inv", "enabled": true, "kind": {"type": "invites", "allowed_codes": ["ours"]},
                 "actions": [{"type": "ban", "delete_message_secs": 3600}]},
                {"name": "links", "enabled": true, "kind": {"type": "links", "allow": ["docs.rs"], "deny": ["bad.example"]},
                 "actions": [{"type": "alert", "channel": 9}], "exempt_channels": [10]},
                {"name": "caps", "enabled": true, "kind": {"type": "caps", "min_letters": 20, "min_percent": 80},
                 "actions": [{"type": "delete"}]},
                {"name": "words", "enabled": true, "kind": {"type": "words", "words": ["spoiler*"]}, "actions": [{"type": "delete"}]},
                {"name": "re", "enabled": true, "kind": {"type": "regex", "patterns": ["free\\s+nitro"]}, "actions": [{"type": "delete"}]},
                {"name": "att", "enabled": true, "kind": {"type": "attachment_spam", "over_time": {"count": 6, "within_secs": 30}},
                 "actions": [{"type": "delete"}]},
                {"name": "emo", "enabled": true, "kind": {"type": "emoji_spam", "per_message": 15}, "actions": [{"type": "delete"}]},
                {"name": "tox", "enabled": true, "kind": {"type": "toxicity", "warn_at": 0.5, "timeout_secs": 3600, "ban_at": 0.75},
                 "actions": []},
                {"name": "raid", "enabled": true, "kind": {"type": "join_rate", "count": 10, "within_secs": 10, "calm_secs": 120},
                 "actions": [{"type": "alert"}]},
                {"name": "age", "enabled": true, "kind": {"type": "account_age", "min_age_secs": 86400}, "actions": [{"type": "kick"}]},
                {"name": "names", "enabled": true, "kind": {"type": "names", "words": ["discord staff"]}, "actions": [{"type": "ban", "delete_message_secs": 0}]}
            ]
        })
    }

    #[test]
    fn the_stored_shape_of_every_family_reads_and_writes_back_unchanged() {
        let v = stored();
        let cfg = AutomodConfig::from_json(&v).unwrap();
        cfg.validate().unwrap();
        crate::automod::GuildRules::compile(&cfg).unwrap();
        let types: Vec<&str> = cfg.rules.iter().map(|r| r.kind.type_name()).collect();
        assert_eq!(
            types,
            RuleKind::TYPES,
            "one stored rule per family, in order"
        );
        assert_eq!(cfg.to_json(), v);
        // Defaults the stored form may leave out still read as before.
        let short = json!({"rules": [
            {"name": "d", "kind": {"type": "duplicates", "count": 3, "within_secs": 5}, "actions": [{"type": "delete"}]},
            {"name": "m", "kind": {"type": "mention_spam", "per_message": 3}, "actions": [{"type": "delete"}]},
            {"name": "t", "kind": {"type": "toxicity", "warn_at": 0.5}},
            {"name": "j", "kind": {"type": "join_rate", "count": 3, "within_secs": 5}, "actions": [{"type": "alert"}]}
        ]});
        let cfg = AutomodConfig::from_json(&short).unwrap();
        let kind = |i: usize| serde_json::to_value(&cfg.rules[i].kind).unwrap();
        assert_eq!(kind(0)["min_length"], 1);
        assert_eq!(kind(1)["count_everyone"], true);
        assert_eq!(kind(2)["timeout_secs"], 3600);
        assert_eq!(kind(3)["calm_secs"], 120);
    }

    #[test]
    fn an_unknown_parameter_of_a_family_is_refused() {
        let v = json!({"rules": [{"name": "r", "kind": {"type": "caps", "min_letters": 5, "min_percent": 50, "max": 1},
            "actions": [{"type": "delete"}]}]});
        let e = AutomodConfig::from_json(&v).unwrap_err().to_string();
        assert!(e.contains("unknown field `max`"), "{e}");
    }

    #[test]
    fn every_setting_descriptor_names_a_parameter_of_its_family() {
        for &t in RuleKind::TYPES {
            let mut kind = RuleKind::added(t, Some("x.example"))
                .expect("a registered type")
                .unwrap_or_else(|e| panic!("{t}: {e}"));
            kind.validate("r")
                .unwrap_or_else(|e| panic!("{t}: added defaults are valid: {e}"));
            assert!(!kind.settings().is_empty(), "{t}");
            for s in kind.settings() {
                let (typed, stored) = match s.kind {
                    SettingKind::Int | SettingKind::OptInt => ("3", json!(3)),
                    SettingKind::Secs => ("1m30s", json!(90)),
                    SettingKind::Score => ("0.5", json!(0.5)),
                    SettingKind::Bool => ("off", json!(false)),
                    SettingKind::List => ("y.example", json!(["y.example"])),
                    SettingKind::Window => ("5/30s", json!({"count": 5, "within_secs": 30})),
                };
                kind.set(s, typed)
                    .unwrap_or_else(|e| panic!("{t}.{}: {e}", s.name));
                let v = serde_json::to_value(&kind).unwrap();
                assert_eq!(v[s.name], stored, "{t}.{}", s.name);
            }
        }
        assert!(RuleKind::added("nope", None).is_none());
    }
}
