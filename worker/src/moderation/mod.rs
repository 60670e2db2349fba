//! Moderation: ban, tempban, softban, kick, timeout, warn with escalation, cases and the mod
//! log.
//!
//! The pure parts live in their own modules and are tested without Discord or a store:
//! [`duration`] (the duration grammar), [`timeout`] (renewals past Discord's 28-day cap),
//! [`rules`] (permission and hierarchy checks), [`options`] (reason and `delete_messages`),
//! [`escalation`] (warn thresholds) and [`modlog`] (mod-log embeds). What an action is —
//! its permission, its words, its mod-log label and colour — is its
//! [`ActionKind`](crate::action::ActionKind). See `docs/moderation.md` for the commands and
//! what happens on failure.

mod call;
pub mod cases;
pub mod commands;
pub mod discord;
pub mod engine;
pub mod escalation;
pub mod external;
pub mod facts;
pub mod lockdown;
pub mod massban;
pub mod menus;
pub mod modlog;
pub mod native;
pub mod options;
pub mod publish;
pub mod purge;
pub mod record;
pub mod request;
pub mod rules;
pub mod scheduler;
pub mod timeout;
pub mod userinfo;

/// The duration grammar (moved to [`crate::duration`], shared with command parsing).
pub use crate::duration;
pub use commands::register;
