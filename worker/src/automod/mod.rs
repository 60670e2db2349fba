//! Auto-moderation: per-guild rules over messages and joining members, raid detection,
//! a toxicity score, presets, and the `/automod` commands.
//!
//! - [`config`]: the stored, validated configuration (`GuildConfig.automod`).
//! - [`GuildRules`]: a configuration compiled once per revision ([`RulesCache`]).
//! - [`Engine`]: evaluates a [`MessageContext`] or [`MemberContext`] and returns
//!   [`Verdict`]s (rule, actions, evidence) without acting.
//! - [`counters`]: sliding windows and the raid latch, in process or in Redis.
//! - [`toxicity`]: the lexicon score; [`presets`]: `relaxed`, `standard`, `strict`.
//! - [`runtime`]: gateway events → contexts → verdicts → planned actions with their cases.
//! - [`act`]: carries planned actions out on Discord — punishments through the moderation
//!   flow (hierarchy checks, DM, mod log, escalation), deletes and alerts as their own cases.
//! - [`commands`]: `/automod` (list, enable, disable, preset, set, add, remove, test).
//!
//! See `docs/automod.md` for the rules, the presets and the measured figures.

pub mod act;
pub mod commands;
pub mod config;
pub mod counters;
mod engine;
pub mod presets;
pub mod runtime;
pub mod text;
pub mod toxicity;

pub use config::{Action, AutomodConfig, ConfigError, Rule, RuleKind, Window};
pub use counters::{CounterError, Counters, LocalCounters, RedisCounters};
pub use engine::{
    DISCORD_EPOCH_MS, DryRun, Engine, Evidence, GuildRules, MODERATOR_PERMISSIONS, MemberContext,
    MessageContext, REGEX_DFA_SIZE_LIMIT, REGEX_SIZE_LIMIT, RulesCache, Verdict, compile_regexes,
    human_secs, snowflake_ms,
};
pub use presets::Preset;

#[cfg(test)]
mod tests;
