//! What a moderation action takes and gives: the flow's services ([`Deps`]), the request,
//! why it was not carried out, and its report.

use std::sync::Arc;
use std::time::Duration;

use crate::action::ActionKind;
use crate::clock::Clock;
use crate::rest::{Rest, RestError};
use crate::store::{Case, Store, StoreError, Timestamp};

use super::discord;
use super::options::{DeleteMessages, Reason};
use super::rules::Refusal;

/// Everything the moderation flow uses.
#[derive(Clone)]
pub struct Deps {
    /// Cases, schedules, guild settings.
    pub store: Arc<dyn Store>,
    /// Discord REST.
    pub rest: Rest,
    /// The bot's user id.
    pub bot_id: u64,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// The gateway-fed guild cache: guild, role and member facts are read from it when it
    /// has them, from Discord otherwise.
    pub cache: Option<Arc<crate::cache::GuildCache>>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("store", &self.store.backend())
            .field("bot_id", &self.bot_id)
            .finish_non_exhaustive()
    }
}

impl Deps {
    /// The flow's services from the worker's, with the store.
    #[must_use]
    pub fn from_services(services: &crate::services::Services, store: Arc<dyn Store>) -> Self {
        Self {
            store,
            rest: services.rest.clone(),
            bot_id: services.bot_user_id.get(),
            clock: services.clock.clone(),
            cache: Some(Arc::clone(&services.guild_cache)),
        }
    }

    /// Now, as a store timestamp.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(i64::try_from(self.clock.unix_millis()).unwrap_or(i64::MAX))
    }
}

/// One moderation action to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest {
    /// Guild.
    pub guild_id: u64,
    /// One of the kinds the flow carries out ([`ActionKind::is_manual`]).
    pub kind: ActionKind,
    /// Target user.
    pub user_id: u64,
    /// Who asks (the bot's id for automatic actions).
    pub moderator_id: u64,
    /// The moderator's role ids when the invocation carries them (slash commands and guild
    /// messages do); fetched from Discord when `None`.
    pub moderator_roles: Option<Vec<u64>>,
    /// Reason.
    pub reason: Option<Reason>,
    /// Tempban or timeout length.
    pub duration: Option<Duration>,
    /// Message deletion for bans and softbans.
    pub delete_messages: DeleteMessages,
    /// The invocation's idempotency key.
    pub idempotency_key: String,
    /// Cases this one answers.
    pub references: Vec<u64>,
    /// What triggered an automatic action (automod's rule and evidence), kept on the case.
    pub evidence: Option<serde_json::Value>,
}

/// Why an action was not performed. Nothing was changed on Discord.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A rule stopped it.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// An input is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The same invocation is being handled right now.
    #[error("this action is already being carried out (case #{0})")]
    InProgress(u64),
    /// The store failed.
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    /// Reading the guild or a member from Discord failed.
    #[error("could not read the server from Discord: {}", discord::describe(.0))]
    Facts(#[source] RestError),
}

/// What happened with the optional DM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmStatus {
    /// Not sent (setting off, or an action without DM).
    NotSent,
    /// Delivered.
    Sent,
    /// Discord refused or failed; the action went on.
    Failed(String),
}

/// The result of an action that got as far as a case.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionReport {
    /// The case, with its final outcome.
    pub case: Case,
    /// True when the key already had a finished case: nothing was done again.
    pub replayed: bool,
    /// The DM.
    pub dm: DmStatus,
    /// For timeouts past Discord's cap: how many renewals are planned.
    pub renewals: usize,
    /// The escalation a warn triggered: its report, or why it could not run.
    pub escalation: Option<Result<Box<ActionReport>, String>>,
    /// The action reached Discord but storage was unavailable: the case's outcome (and its
    /// mod-log entry) will be written when it is back (see [`super::record`]).
    pub recorded_later: bool,
}
