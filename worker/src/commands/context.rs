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
    /// When each guild was last read over REST to refill the cache (see
    /// [`Services::refill_guild`]).
    pub guild_refills: std::sync::Mutex<std::collections::HashMap<u64, Instant>>,
}

/// How long after a failed or refused guild read the cache does not ask Discord again.
const GUILD_REFILL_BACKOFF: std::time::Duration = std::time::Duration::from_secs(60);

impl Services {
    /// Guild-level permissions of a message's author who holds `roles`: from the guild cache,
    /// and when the cache lacks the guild — after a RESUME Discord sends no GUILD_CREATE, so a
    /// restarted worker starts with an empty cache — the guild is read once over REST and
    /// put in the cache. `None` when that fails (callers then refuse or treat the author as
    /// unprivileged).
    pub async fn author_permissions(
        &self,
        guild: u64,
        user: u64,
        roles: &[u64],
    ) -> Option<Permissions> {
        let cache = &self.guild_cache;
        if let Some(p) = cache.member_permissions(guild, user) {
            return Some(p);
        }
        if let Some(p) = cache.permissions_with_roles(guild, user, roles) {
            return Some(p);
        }
        self.refill_guild(guild).await;
        cache.permissions_with_roles(guild, user, roles)
    }

    /// Reads a guild the cache lacks from Discord and feeds it to the cache, at most once per
    /// [`GUILD_REFILL_BACKOFF`] per guild.
    pub async fn refill_guild(&self, guild: u64) {
        {
            let mut recent = self.guild_refills.lock().expect("refill lock");
            let now = Instant::now();
            if recent.len() > 10_000 {
                recent.retain(|_, at| now.duration_since(*at) < GUILD_REFILL_BACKOFF);
            }
            if recent
                .get(&guild)
                .is_some_and(|at| now.duration_since(*at) < GUILD_REFILL_BACKOFF)
            {
                return;
            }
            recent.insert(guild, now);
        }
        let res = self
            .rest
            .model("get_guild", |c| c.guild(Id::new(guild)).into_future())
            .await;
        match res {
            Ok(g) => {
                let event = twilight_model::gateway::event::Event::GuildCreate(Box::new(
                    twilight_model::gateway::payload::incoming::GuildCreate::Available(g),
                ));
                self.guild_cache.update(&event);
                tracing::debug!(guild, "guild cache refilled over REST");
            }
            Err(e) => {
                tracing::warn!(guild, error = %e, "could not read the guild to refill the cache")
            }
        }
    }
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
    /// The language replies use (see [`crate::i18n`]).
    pub locale: crate::i18n::Locale,
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
