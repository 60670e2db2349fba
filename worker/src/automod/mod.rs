//! Auto-moderation: per-guild rules over messages and joining members, raid detection,
//! a toxicity score, presets, and the `/automod` commands.
//!
//! - [`config`]: the stored, validated configuration (`GuildConfig.automod`); [`action`]:
//!   what a rule does; [`error`]: why a configuration is refused.
//! - [`rules`]: one file per rule family (parameters, validation, `/automod set` settings,
//!   compiled check). A new rule type goes there.
//! - [`context`]: what rules look at ([`MessageContext`], [`MemberContext`]) and report
//!   ([`Evidence`]).
//! - [`GuildRules`]: a configuration compiled once per revision ([`RulesCache`]).
//! - [`Engine`]: evaluates a [`MessageContext`] or [`MemberContext`] by looping over the
//!   compiled rules and returns [`Verdict`]s (rule, actions, evidence) without acting.
//! - [`counters`]: sliding windows and the raid latch, in process or in Redis.
//! - [`toxicity`]: the lexicon and the trained model that score toxicity per category;
//!   [`presets`]: `relaxed`, `standard`, `strict`.
//! - [`runtime`]: gateway events → contexts → verdicts → planned actions with their cases.
//! - [`act`]: carries planned actions out on Discord — punishments through the moderation
//!   flow (hierarchy checks, DM, mod log, escalation), deletes and alerts as their own cases.
//! - [`commands`]: `/automod` (list, enable, disable, preset, set, add, remove, test).
//!
//! See `docs/automod.md` for the rules, the presets and the measured figures.

pub mod act;
pub mod action;
pub mod commands;
pub mod config;
pub mod context;
pub mod counters;
mod engine;
pub mod error;
pub mod native;
pub mod presets;
pub mod rules;
pub mod runtime;
pub mod text;
pub mod toxicity;

pub use config::{Action, AutomodConfig, ConfigError, Rule, RuleKind, Window};
pub use context::{Evidence, MODERATOR_PERMISSIONS, MemberContext, MessageContext};
pub use counters::{CounterError, Counters, LocalCounters, RedisCounters};
pub use engine::{DryRun, Engine, GuildRules, RulesCache, Verdict};
pub use presets::Preset;
pub use rules::regex::{REGEX_DFA_SIZE_LIMIT, REGEX_SIZE_LIMIT, compile_regexes};

#[cfg(test)]
mod tests;
