//! In-process and shared caches: the [`GuildCache`] for permission and hierarchy checks,
//! [`GuildConfigs`] for each guild's stored settings, and [`CooldownStore`]s for per-user
//! command cooldowns.

mod config;
mod cooldown;
mod guild;

pub use config::{CONFIG_TTL, GuildConfigs};
pub use cooldown::{CooldownError, CooldownStore, InProcessCooldowns, RedisCooldowns};
pub use guild::{
    CacheStats, CachedGuildRoles, DEFAULT_MAX_GUILDS, DEFAULT_MAX_MEMBERS_PER_GUILD, GuildCache,
    GuildCacheBuilder, guild_permissions,
};
