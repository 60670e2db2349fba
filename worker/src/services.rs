//! The worker's shared services, built once at start by the runtime and handed to whatever
//! needs them: command handlers (through their context), moderation, automod, the scheduler.
//! Nothing here knows of commands, automod or analytics; they sit above it.

use std::{fmt, sync::Arc, time::Instant};

use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{ApplicationMarker, ChannelMarker, UserMarker},
    },
};

use crate::{
    cache::{CooldownStore, GuildCache, GuildConfigs},
    clock::Clock,
    config::Config,
    rest::{Rest, RestError},
    shards::status::ShardStatus,
    store::Store,
    telemetry::Metrics,
};

/// The worker's shared services, built once at start.
pub struct Services {
    /// Configuration.
    pub config: Arc<Config>,
    /// REST client (budgeted).
    pub rest: Rest,
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
    pub guild_configs: GuildConfigs,
    /// Guild owners, roles and member roles, fed by gateway events: permissions of prefix
    /// commands and hierarchy checks.
    pub guild_cache: Arc<GuildCache>,
    /// Per-user command cooldowns (Redis when configured, so every pod sees them).
    pub cooldowns: Arc<dyn CooldownStore>,
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

/// Whether `channel` is a channel or thread of `guild`: the guild cache when it says yes,
/// Discord (`GET /channels/{id}`) otherwise, so a channel created a moment ago is accepted
/// and one of another server never is. Unknown Channel (404) and Missing Access (403) are
/// `false`; any other failure is an error, so callers fail closed.
pub async fn channel_in_guild(
    rest: &Rest,
    cache: &GuildCache,
    guild: u64,
    channel: u64,
) -> Result<bool, RestError> {
    if cache.has_channel(guild, channel) == Some(true) {
        return Ok(true);
    }
    let Some(id) = Id::<ChannelMarker>::new_checked(channel) else {
        return Ok(false);
    };
    match rest
        .model("get_channel", |c| c.channel(id).into_future())
        .await
    {
        Ok(ch) if ch.guild_id.map(Id::get) == Some(guild) => {
            cache.note_channel(guild, channel);
            Ok(true)
        }
        Ok(_) => Ok(false),
        Err(e) if matches!(e.status(), Some(403 | 404)) => Ok(false),
        Err(e) => Err(e),
    }
}
