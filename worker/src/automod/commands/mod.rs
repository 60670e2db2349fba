//! `/automod`: list, enable, disable, preset, set (tune a rule), add, remove, test, native.
//!
//! The edits are plain functions on [`AutomodConfig`](super::AutomodConfig) ([`apply_edit`])
//! so they are tested without Discord; the handler loads the guild's configuration, applies
//! the edit, compiles the result (nothing invalid is ever saved), bumps the revision and
//! stores it.
//!
//! Here: what the files share ([`Edit`], [`EditError`], [`RULE_TYPES`], [`AUTOMOD_COLOUR`])
//! and [`register`]. One file per concern:
//!
//! - `edit.rs`: [`apply_edit`], one [`Edit`] applied, compiled and counted as a revision;
//! - `toggle.rs`: `enable`, `disable` (automod or one rule) and `preset`;
//! - `tune.rs`: the rule edits `set`, `add`, `remove`; `values.rs`: how their values are
//!   typed ([`parse_actions`], ids, booleans, durations);
//! - `inspect.rs`: the read-only `list` and `test` ([`list_reply`], [`test_reply`]);
//!   `format.rs`: a rule and its actions as text ([`describe_rule`]);
//! - `native.rs`: `native` (`action:list|sync`, `dry_run`): Discord's own AutoMod rules,
//!   listed, or created and updated from Kyuta's rules ([`crate::automod::native`]);
//! - `command.rs`: the handler ([`AutomodCommand`]: load, edit, check the ids, store);
//!   `definition.rs`: the subcommands and their options ([`definition()`]).

mod command;
mod definition;
mod edit;
mod format;
mod inspect;
mod native;
mod toggle;
mod tune;
mod values;

use std::sync::Arc;

use super::config::{ConfigError, RuleKind};
use super::engine::RulesCache;
use super::presets::Preset;
use crate::commands::{Registry, RegistryError};
use crate::store::Store;

pub use command::AutomodCommand;
pub use definition::definition;
pub use edit::apply_edit;
pub use format::describe_rule;
pub use inspect::{list_reply, test_reply};
pub use values::parse_actions;

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

fn no_rule_names(name: &str) -> EditError {
    EditError(format!(
        "there is no rule {name:?}; `/automod list` shows the rules"
    ))
}

/// Rule types, as `/automod add` accepts them.
pub const RULE_TYPES: &[&str] = RuleKind::TYPES;

/// Registers `/automod`.
pub fn register(
    registry: &mut Registry,
    store: Arc<dyn Store>,
    cache: Arc<RulesCache>,
) -> Result<(), RegistryError> {
    registry.register(definition(store, cache))?;
    Ok(())
}
