//! Simulator configuration. Defaults are Discord's.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything that shapes a simulator instance. `Default` gives Discord's values.
#[derive(Clone)]
pub struct SimConfig {
    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Base URL clients reach the simulator at (`http(s)://` or `ws(s)://HOST[:PORT][/PATH]`),
    /// announced as `resume_gateway_url` and as `url` of `GET /gateway` and
    /// `GET /gateway/bot` (with a `ws`/`wss` scheme). When `None`: the `Host` header of the
    /// request being answered, else the listen address (loopback for `0.0.0.0` / `::`).
    pub public_url: Option<String>,
    /// The bot token the simulator accepts (`Authorization: Bot <token>`, IDENTIFY).
    pub token: String,
    /// Number of guilds in the generated world.
    pub guilds: u64,
    /// Human members per generated guild (the owner included; the bot is extra).
    pub members_per_guild: u32,
    /// `shards` reported by `GET /gateway/bot`.
    pub recommended_shards: u32,
    /// `session_start_limit.max_concurrency`: identify buckets per window.
    pub max_concurrency: u32,
    /// One identify per bucket per this window (Discord: 5 s).
    pub identify_window: Duration,
    /// How early an identify may arrive within [`SimConfig::identify_window`] and still be
    /// accepted (Discord: none, the default).
    pub identify_window_slack: Duration,
    /// Heartbeat interval sent in HELLO (Discord: 41 250 ms).
    pub heartbeat_interval: Duration,
    /// Seed of the generated world.
    pub seed: u64,
    /// `session_start_limit.total` (Discord: 1000).
    pub session_start_total: u32,
    /// `session_start_limit.reset_after` period (Discord: 24 h).
    pub session_start_reset: Duration,
    /// Whether privileged intents (members, presences, message content) are enabled for the
    /// application; when false, asking for them closes with 4014.
    pub privileged_intents: bool,
    /// Global REST limit per second (Discord: 50). Interaction endpoints are exempt.
    pub global_rate_limit: u32,
    /// Requests per [`SimConfig::route_window`] on routes without a limit of their own (the
    /// routes with one, such as `POST /channels/{id}/messages` at 5 per 5 s per channel, are
    /// listed in `sim/README.md`).
    pub route_limit: u32,
    /// Window of [`SimConfig::route_limit`].
    pub route_window: Duration,
    /// Multiplies the limit of every route that has one of its own (Discord: 1). A test that
    /// raises it must say why.
    pub route_limit_factor: u32,
    /// New DM channels the bot may open per [`SimConfig::dm_open_window`] before
    /// `POST /users/@me/channels` answers 40003 (Discord publishes no figure).
    pub dm_open_limit: u32,
    /// Window of [`SimConfig::dm_open_limit`].
    pub dm_open_window: Duration,
    /// Changes of a channel's name or topic allowed per [`SimConfig::channel_rename_window`]
    /// per channel before `PATCH /channels/{id}` answers 429 (Discord: 2 per 10 minutes, a
    /// sub-limit its bucket headers do not show).
    pub channel_rename_limit: u32,
    /// Window of [`SimConfig::channel_rename_limit`].
    pub channel_rename_window: Duration,
    /// How long a Cloudflare ban (error 1015, after too many invalid requests) lasts.
    pub cloudflare_ban: Duration,
    /// Invalid requests (401, 403, 429) allowed per 10 minutes before every request is
    /// refused (Discord: 10 000).
    pub invalid_request_limit: u32,
    /// Deadline for an interaction's initial response (Discord: 3 s).
    pub interaction_ack_deadline: Duration,
    /// Life of an interaction token (Discord: 15 min).
    pub interaction_token_ttl: Duration,
    /// Client gateway sends allowed per [`SimConfig::gateway_send_window`] (Discord: 120).
    pub gateway_send_limit: u32,
    /// Window for [`SimConfig::gateway_send_limit`] (Discord: 60 s).
    pub gateway_send_window: Duration,
    /// Dispatches kept per session for RESUME replay.
    pub replay_buffer: usize,
    /// How long a disconnected session stays resumable.
    pub session_ttl: Duration,
    /// Bytes of serialized GUILD_CREATE payloads of untouched guilds kept for the next
    /// session that streams them (0 turns the cache off).
    pub guild_create_cache_bytes: usize,
    /// The last this many guilds of the world start without the bot (not in READY; the
    /// control API adds the bot to them at run time).
    pub guilds_not_joined: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            token: String::new(),
            guilds: 10,
            members_per_guild: 20,
            recommended_shards: 1,
            max_concurrency: 1,
            identify_window: Duration::from_secs(5),
            identify_window_slack: Duration::ZERO,
            heartbeat_interval: Duration::from_millis(41_250),
            seed: 1,
            session_start_total: 1000,
            session_start_reset: Duration::from_secs(24 * 3600),
            privileged_intents: true,
            global_rate_limit: 50,
            route_limit: 5,
            route_window: Duration::from_secs(1),
            route_limit_factor: 1,
            dm_open_limit: 30,
            dm_open_window: Duration::from_secs(600),
            channel_rename_limit: 2,
            channel_rename_window: Duration::from_secs(600),
            cloudflare_ban: Duration::from_secs(3600),
            invalid_request_limit: 10_000,
            interaction_ack_deadline: Duration::from_secs(3),
            interaction_token_ttl: Duration::from_secs(15 * 60),
            gateway_send_limit: 120,
            gateway_send_window: Duration::from_secs(60),
            replay_buffer: 5000,
            session_ttl: Duration::from_secs(300),
            guild_create_cache_bytes: 64 << 20,
            guilds_not_joined: 0,
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("token", &"<redacted>")
            .field("guilds", &self.guilds)
            .field("members_per_guild", &self.members_per_guild)
            .field("recommended_shards", &self.recommended_shards)
            .field("max_concurrency", &self.max_concurrency)
            .field("identify_window", &self.identify_window)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}
