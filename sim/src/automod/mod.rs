//! Discord's native auto-moderation: the guild's rules as the REST routes store them
//! (`rest/automod.rs`), their validation and per-guild limits, and what happens when a user
//! posts through the control API: a message matching an enabled KEYWORD or MENTION_SPAM rule
//! runs the rule's actions (blocked, alert posted, author timed out), with one
//! AUTO_MODERATION_ACTION_EXECUTION per action.
//!
//! Matching follows Discord's documented keyword strategies: case-insensitive; `word` matches
//! the whole word (or phrase) only, `word*` a word starting with it, `*word` a word ending
//! with it, `*word*` any substring; `regex_patterns` are Rust regexes (matched
//! case-insensitively); a match that is on the rule's `allow_list` does not count.
//! Members with Administrator or Manage Server are exempt from every rule, as on Discord.
//!
//! - `validate`: a rule's create or modify body checked as Discord checks it, and the per-guild
//!   limit of each trigger type;
//! - `metadata`: the parts of a body whose shape depends on the trigger type (its trigger
//!   metadata and its actions);
//! - `trigger`: what an enabled rule finds in a message (keywords, regexes, mention spam);
//! - `execute`: running the matching rules' actions on a posted message and the events,
//!   audit entries and alert messages they produce.

mod execute;
mod metadata;
mod trigger;
mod validate;

use crate::state::State;
use serde_json::Value;

pub(crate) use execute::on_message;
pub(crate) use validate::build;

/// Trigger types.
pub(crate) const KEYWORD: u64 = 1;
pub(crate) const SPAM: u64 = 3;
pub(crate) const KEYWORD_PRESET: u64 = 4;
pub(crate) const MENTION_SPAM: u64 = 5;
pub(crate) const MEMBER_PROFILE: u64 = 6;

/// Action types.
pub(crate) const BLOCK_MESSAGE: u64 = 1;
pub(crate) const SEND_ALERT_MESSAGE: u64 = 2;
pub(crate) const TIMEOUT: u64 = 3;
pub(crate) const BLOCK_MEMBER_INTERACTION: u64 = 4;

/// Discord's JSON code for a message blocked by AutoMod.
pub(crate) const BLOCKED_CODE: u32 = 200_000;

/// The rules of guild `gid`.
pub(crate) fn rules(st: &State, gid: u64) -> Vec<Value> {
    st.automod_rules.get(&gid).cloned().unwrap_or_default()
}
