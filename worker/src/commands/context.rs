//! What a command handler sees: who invoked it where, and the worker's services.

use std::{fmt, sync::Arc, time::Instant};

use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{
            ApplicationMarker, ChannelMarker, GuildMarker, InteractionMarker, MessageMarker,
            RoleMarker, UserMarker,
        },
    },
};

use crate::{
    clock::Clock, config::Config, gateway::status::ShardStatus, rest::Rest, store::Store,
    telemetry::Metrics,
};

use super::Registry;

/// The worker's shared services, built once at start.
pub struct Services {
    /// Configuration.
    pub config: Arc<Config>,
    /// REST client (budgeted).
    pub rest: Rest,
    /// The command registry.
    pub registry: Arc<Registry>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// State of this process's shards.
    pub shards: Arc<ShardStatus>,
    /// The application (bot) id.
    pub application_id: Id<ApplicationMarker>,
    /// The bot's own user id.
    pub bot_user_id: Id<UserMarker>,
    /// When the worker started.
    pub started_at: Instant,
    /// The store (embedded or MongoDB).
    pub store: Arc<dyn Store>,
    /// Each guild's stored settings, cached briefly (invalidate after changing them).
    pub guild_configs: crate::cache::GuildConfigs,
    /// Guild owners, roles and member roles, fed by gateway events: permissions of prefix
    /// commands and hierarchy checks.
    pub guild_cache: Arc<crate::cache::GuildCache>,
    /// Per-user command cooldowns (Redis when configured, so every pod sees them).
    pub cooldowns: Arc<dyn crate::cache::CooldownStore>,
    /// Per-guild activity counts (the `analytics` feature flag).
    pub analytics: Arc<crate::analytics::Analytics>,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("application_id", &self.application_id)
            .field("bot_user_id", &self.bot_user_id)
            .finish_non_exhaustive()
    }
}

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
    /// The guild's locale (e.g. `en-US`).
    pub locale: String,
    /// Shared services.
    pub services: Arc<Services>,
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
        &self.services.registry
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
