//! What a command handler sees: who invoked it where, and the worker's services.

use std::{fmt, sync::Arc};

use tokio::sync::watch;

use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{
            ChannelMarker, GuildMarker, InteractionMarker, MessageMarker, RoleMarker, UserMarker,
        },
    },
};

use crate::{
    clock::Clock, config::Config, rest::Rest, services::Services, store::Store, telemetry::Metrics,
};

use super::Registry;

/// Who ran the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoker {
    /// User id.
    pub user_id: Id<UserMarker>,
    /// Username.
    pub name: String,
    /// Role ids (in a guild).
    pub roles: Vec<Id<RoleMarker>>,
    /// Effective permissions in the channel, when known (interactions carry them; prefix
    /// commands compute them from the cache).
    pub permissions: Option<Permissions>,
}

/// Where the command came from.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// A slash command.
    Interaction {
        /// Interaction id.
        id: Id<InteractionMarker>,
        /// Interaction token (secret for 15 minutes; redacted in `Debug`).
        token: String,
    },
    /// A prefix command.
    Message {
        /// Message id.
        id: Id<MessageMarker>,
    },
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Interaction { id, .. } => f
                .debug_struct("Interaction")
                .field("id", id)
                .field("token", &"<redacted>")
                .finish(),
            Self::Message { id } => f.debug_struct("Message").field("id", id).finish(),
        }
    }
}

/// A running command's progress: each [`Progress::report`] replaces the text the invoker
/// sees until the answer comes (the dispatcher defers the interaction, or posts a reply to
/// the prefix command, and edits it at most every
/// [`PROGRESS_EVERY`](super::dispatch::PROGRESS_EVERY)). A handler run outside the
/// dispatcher gets one that shows nothing.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<watch::Sender<Option<String>>>>);

impl Progress {
    /// A handle and the receiving end that the dispatcher shows.
    #[must_use]
    pub fn channel() -> (Self, watch::Receiver<Option<String>>) {
        let (tx, rx) = watch::channel(None);
        (Self(Some(Arc::new(tx))), rx)
    }

    /// Shows `text` as the command's progress (the latest report wins).
    pub fn report(&self, text: impl Into<String>) {
        if let Some(tx) = &self.0 {
            tx.send_replace(Some(text.into()));
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress"
        } else {
            "Progress(none)"
        })
    }
}

/// Everything a handler needs for one invocation.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// The command's name.
    pub command: String,
    /// Guild, when run in one.
    pub guild_id: Option<Id<GuildMarker>>,
    /// Channel.
    pub channel_id: Id<ChannelMarker>,
    /// Who ran it.
    pub invoker: Invoker,
    /// Slash or prefix, with the id.
    pub source: Source,
    /// The shard the event came in on.
    pub shard_id: u32,
    /// The language replies use (see [`crate::i18n`]).
    pub locale: crate::i18n::Locale,
    /// Shared services.
    pub services: Arc<Services>,
    /// Every command of the bot (`/help` lists them).
    pub registry: Arc<Registry>,
    /// Where a long command reports how far it is.
    pub progress: Progress,
}

impl CommandContext {
    /// The REST client.
    #[must_use]
    pub fn rest(&self) -> &Rest {
        &self.services.rest
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &dyn Store {
        &*self.services.store
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.services.config
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &dyn Clock {
        &*self.services.clock
    }

    /// The command registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.services.metrics
    }

    /// A key unique to this invocation (the interaction or message id), stable across
    /// redeliveries: use it as an idempotency key.
    #[must_use]
    pub fn idempotency_key(&self) -> String {
        match &self.source {
            Source::Interaction { id, .. } => format!("interaction:{id}"),
            Source::Message { id } => format!("message:{id}"),
        }
    }

    /// Whether this is a slash command.
    #[must_use]
    pub fn is_slash(&self) -> bool {
        matches!(self.source, Source::Interaction { .. })
    }

    /// The guild, or [`super::CommandError::GuildOnly`].
    pub fn require_guild(&self) -> Result<Id<GuildMarker>, super::CommandError> {
        self.guild_id.ok_or(super::CommandError::GuildOnly)
    }
}
