//! The `kyuta-sim` command line.

use crate::{Sim, SimConfig};
use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;

/// Command-line flags of `kyuta-sim`.
#[derive(Debug, Parser)]
#[command(
    name = "kyuta-sim",
    version,
    about = "A Discord simulator: gateway v10, REST v10 under /api/v10, and a control API under /_sim."
)]
pub struct Args {
    /// Address to listen on (127.0.0.1 only in tests; port 0 picks a free one).
    #[arg(long, env = "KYUTA_SIM_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// URL clients reach the simulator at, e.g. http://kyuta-sim.kyuta.svc:8787 (http, https,
    /// ws or wss): announced as resume_gateway_url and GET /gateway(/bot) url. Unset: the
    /// request's Host header, else the listen address (loopback for 0.0.0.0).
    #[arg(long, env = "KYUTA_SIM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The bot token accepted in `Authorization: Bot <token>` and in IDENTIFY.
    #[arg(long, env = "KYUTA_SIM_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Number of guilds in the generated world (each derived from the seed on demand).
    #[arg(long, env = "KYUTA_SIM_GUILDS", default_value_t = 10)]
    pub guilds: u64,
    /// Human members per guild (owner included; the bot is added to every guild).
    #[arg(long, env = "KYUTA_SIM_MEMBERS_PER_GUILD", default_value_t = 20)]
    pub members_per_guild: u32,
    /// `shards` returned by GET /api/v10/gateway/bot.
    #[arg(long, env = "KYUTA_SIM_RECOMMENDED_SHARDS", default_value_t = 1)]
    pub recommended_shards: u32,
    /// `session_start_limit.max_concurrency`: identify buckets (shard_id % C) per window.
    #[arg(long, env = "KYUTA_SIM_MAX_CONCURRENCY", default_value_t = 1)]
    pub max_concurrency: u32,
    /// One IDENTIFY per bucket per this many milliseconds; more get op 9 (Discord: 5000).
    #[arg(long, env = "KYUTA_SIM_IDENTIFY_WINDOW_MS", default_value_t = 5000)]
    pub identify_window_ms: u64,
    /// Accept an IDENTIFY up to this many milliseconds early within the window (Discord: 0).
    #[arg(long, env = "KYUTA_SIM_IDENTIFY_WINDOW_SLACK_MS", default_value_t = 0)]
    pub identify_window_slack_ms: u64,
    /// The last N guilds of the world start without the bot (the control API adds it).
    #[arg(long, env = "KYUTA_SIM_GUILDS_NOT_JOINED", default_value_t = 0)]
    pub guilds_not_joined: u64,
    /// Heartbeat interval sent in HELLO, in milliseconds (Discord: 41250).
    #[arg(long, env = "KYUTA_SIM_HEARTBEAT_MS", default_value_t = 41_250)]
    pub heartbeat_ms: u64,
    /// Seed of the generated world: the same seed gives the same guilds, users and ids.
    #[arg(long, env = "KYUTA_SIM_SEED", default_value_t = 1)]
    pub seed: u64,
    /// `session_start_limit.total` (Discord: 1000).
    #[arg(long, env = "KYUTA_SIM_SESSION_START_TOTAL", default_value_t = 1000)]
    pub session_start_total: u32,
    /// Refuse privileged intents (members, presences, message content) with close 4014.
    #[arg(long, env = "KYUTA_SIM_NO_PRIVILEGED_INTENTS")]
    pub no_privileged_intents: bool,
}

impl Args {
    /// The configuration these flags describe.
    #[must_use]
    pub fn config(&self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            public_url: self.public_url.clone(),
            token: self.token.clone(),
            guilds: self.guilds,
            members_per_guild: self.members_per_guild,
            recommended_shards: self.recommended_shards,
            max_concurrency: self.max_concurrency,
            identify_window: Duration::from_millis(self.identify_window_ms),
            identify_window_slack: Duration::from_millis(self.identify_window_slack_ms),
            guilds_not_joined: self.guilds_not_joined,
            heartbeat_interval: Duration::from_millis(self.heartbeat_ms),
            seed: self.seed,
            session_start_total: self.session_start_total,
            privileged_intents: !self.no_privileged_intents,
            ..SimConfig::default()
        }
    }
}

/// Runs the simulator until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let sim = Sim::start(args.config()).await?;
    tracing::info!(
        api = %sim.api_url(),
        gateway = %sim.gateway_url(),
        control = %sim.control_url(),
        guilds = args.guilds,
        "kyuta-sim listening"
    );
    println!(
        "kyuta-sim listening on {} (api {}/api/v10, control {}, gateway announced as {})",
        SocketAddr::new(args.listen.ip(), sim.addr().port()),
        sim.api_url(),
        sim.control_url(),
        args.public_url
            .as_ref()
            .map_or("the request's Host".to_owned(), |_| sim
                .public_gateway_url())
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sim.shutdown().await;
    Ok(())
}
