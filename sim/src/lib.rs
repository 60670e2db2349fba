//! A Discord simulator: gateway v10 and REST v10 with Discord's limits and error codes, plus a
//! control API (`/_sim/`) to act as users, read what a bot did, and inject faults.
//!
//! ```no_run
//! # async fn f() -> Result<(), kyuta_sim::SimError> {
//! let sim = kyuta_sim::Sim::start(kyuta_sim::SimConfig {
//!     token: "T".into(),
//!     guilds: 50,
//!     ..Default::default()
//! })
//! .await?;
//! println!("{} {} {}", sim.api_url(), sim.gateway_url(), sim.control_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#![recursion_limit = "256"]

mod automod;
mod channel_rules;
mod cli;
mod commands;
mod config;
mod control;
pub mod error;
pub mod firehose;
pub mod frames;
mod gateway;
mod gwfaults;
mod http;
pub mod intents;
mod interactions;
mod limits;
mod mentions;
mod moderation;
mod ratelimit;
mod rest;
mod state;
pub mod uploads;
mod urls;
pub mod util;
mod validate;
pub mod world;

pub use cli::{Args, run};
pub use config::SimConfig;
pub use control::{SessionInfo, StatsSnapshot};
pub use state::{IdentifyRecord, RouteFault, Stats};

use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding the listen address failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A running simulator.
pub struct Sim {
    shared: Arc<state::Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Binds and serves in the background.
    pub async fn start(cfg: SimConfig) -> Result<Self, SimError> {
        if cfg.token.is_empty() {
            return Err(SimError::Config("token must not be empty".into()));
        }
        if cfg.max_concurrency == 0 || cfg.recommended_shards == 0 {
            return Err(SimError::Config(
                "max_concurrency and recommended_shards must be at least 1".into(),
            ));
        }
        if cfg.guilds > world::MAX_GUILDS {
            return Err(SimError::Config(format!(
                "at most {} guilds",
                world::MAX_GUILDS
            )));
        }
        let public_gateway_url = cfg
            .public_url
            .as_deref()
            .map(urls::public_gateway_url)
            .transpose()
            .map_err(SimError::Config)?;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let world = world::World::new(cfg.seed, cfg.guilds, cfg.members_per_guild);
        let st = state::State {
            replay_cap: cfg.replay_buffer.max(1),
            bot_left: (cfg.guilds.saturating_sub(cfg.guilds_not_joined)..cfg.guilds)
                .map(|n| world.guild_id(n))
                .collect(),
            ..Default::default()
        };
        let shutdown = CancellationToken::new();
        let shared = Arc::new(state::Shared {
            cfg,
            world,
            addr,
            public_gateway_url,
            state: Mutex::new(st),
            shutdown: shutdown.clone(),
            paused: tokio::sync::watch::channel(false).0,
            open_connections: AtomicUsize::new(0),
            conn_ids: AtomicU64::new(1),
            started: Instant::now(),
            guild_create_cache: frames::GuildCreateCache::default(),
            shard_index: frames::ShardIndex::default(),
        });
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
        });
        Ok(Self { shared, task })
    }

    /// The address to reach it at from this host: the address bound, with an unspecified
    /// IP (`0.0.0.0`, `::`) replaced by loopback.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        urls::reachable(self.shared.addr)
    }

    /// `http://ADDR` (the Discord REST API lives under `/api/v10` there).
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// `ws://ADDR`, the gateway as reached from this host.
    #[must_use]
    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.addr())
    }

    /// The gateway URL announced to clients when a request carries no `Host` header: the
    /// configured public URL (as `ws://` / `wss://`), else [`Sim::gateway_url`].
    #[must_use]
    pub fn public_gateway_url(&self) -> String {
        self.shared.gateway_url(None)
    }

    /// `http://ADDR/_sim`.
    #[must_use]
    pub fn control_url(&self) -> String {
        format!("http://{}/_sim", self.addr())
    }

    /// The bot's user id (also the application id).
    #[must_use]
    pub fn bot_id(&self) -> u64 {
        self.shared.world.bot.id
    }

    /// The generated world's description (ids of guild `n`, the bot...).
    #[must_use]
    pub fn world(&self) -> &world::World {
        &self.shared.world
    }

    /// Guild by id as it is now.
    #[must_use]
    pub fn guild(&self, id: u64) -> Option<world::Guild> {
        self.shared
            .lock()
            .guild(&self.shared.world, id)
            .map(std::borrow::Cow::into_owned)
    }

    /// The statistics `GET /_sim/stats` reports.
    #[must_use]
    pub fn stats(&self) -> StatsSnapshot {
        let mut st = self.shared.lock();
        control::snapshot(&self.shared, &mut st)
    }

    /// Stops serving and closes every gateway connection (1001).
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        let _ = self.task.await;
    }
}

fn router(shared: Arc<state::Shared>) -> Router {
    let api = rest::router()
        .merge(interactions::router())
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            ratelimit::middleware,
        ))
        .fallback(api_fallback)
        .method_not_allowed_fallback(api_method_not_allowed)
        // Message routes take files up to Discord's limits (see `uploads`); axum's own 2 MB
        // default would refuse them before the handler could answer as Discord does.
        .layer(axum::extract::DefaultBodyLimit::max(
            uploads::MAX_REQUEST_BYTES,
        ));
    Router::new()
        .route("/", axum::routing::get(gateway::upgrade))
        .nest("/api/v10", api)
        .nest("/_sim", control::router())
        .with_state(shared)
}

async fn api_fallback() -> error::ApiError {
    error::e::not_found()
}

async fn api_method_not_allowed() -> error::ApiError {
    error::e::method_not_allowed()
}
