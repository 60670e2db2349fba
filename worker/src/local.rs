//! `--local`: the bot against an in-process Discord simulator with a small demo world, the
//! embedded store in the working directory and the in-process cache. Nothing else to install.

use std::time::{Duration, Instant};

use kyuta_sim::{Sim, SimConfig};

use crate::config::{Config, Feature, ShardCount, Token};

/// The token the local simulator accepts (local only; not a Discord token).
const LOCAL_TOKEN: &str = "kyuta-local-token";

/// What the local playground is made of.
#[derive(Debug, Clone)]
pub struct Playground {
    /// Simulator control API (`http://127.0.0.1:PORT/_sim`).
    pub control_url: String,
    /// A demo guild.
    pub guild_id: u64,
    /// Its `#general` channel.
    pub channel_id: u64,
    /// Its owner (an administrator).
    pub owner_id: u64,
    /// A plain member.
    pub member_id: u64,
}

/// Starts the simulator for local mode and returns it with the configuration the worker
/// runs with.
pub async fn start_sim(config: &Config) -> anyhow::Result<(Sim, Config, Playground)> {
    let sim = Sim::start(SimConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], config.local_port)),
        token: LOCAL_TOKEN.to_owned(),
        guilds: 3,
        members_per_guild: 12,
        recommended_shards: 1,
        max_concurrency: 1,
        heartbeat_interval: Duration::from_secs(5),
        ..SimConfig::default()
    })
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "KYUTA_LOCAL_PORT {}: cannot start the simulator: {e} (pick another port with --local-port)",
            config.local_port
        )
    })?;
    let mut worker = config.clone();
    worker.discord_token = Some(Token::new(LOCAL_TOKEN));
    worker.discord_api_url = Some(sim.api_url());
    worker.discord_gateway_url = Some(sim.gateway_url());
    worker.shard_count = ShardCount::Fixed(1);
    worker.shards_per_pod = None;
    worker.redis_url = None;
    worker.mongo_uri = None;
    worker.identify_window_ms = 5000;
    worker.session_file = "none".into();
    // The playground shows everything, `/stats` included.
    worker.features = worker.features.clone().with(Feature::Analytics);
    // Ports 0 = any free port, so the playground never collides with something running.
    if config.metrics_port == 9100 {
        worker.metrics_port = 0;
    }
    if config.health_check_port == 8080 {
        worker.health_check_port = 0;
    }
    if worker.bind_address.is_unspecified() {
        worker.bind_address = std::net::IpAddr::from([127, 0, 0, 1]);
    }
    let world = sim.world();
    let guild = world.generate(0);
    let channel_id = guild
        .channels
        .iter()
        .find(|c| c.name == "general")
        .map_or(guild.id, |c| c.id);
    let member_id = guild
        .members
        .values()
        .filter(|m| !m.user.bot && m.user.id != guild.owner_id && m.roles.is_empty())
        .map(|m| m.user.id)
        .next()
        .unwrap_or(guild.owner_id);
    let playground = Playground {
        control_url: sim.control_url(),
        guild_id: guild.id,
        channel_id,
        owner_id: guild.owner_id,
        member_id,
    };
    Ok((sim, worker, playground))
}

/// How to talk to the bot, printed once it is ready.
#[must_use]
pub fn instructions(
    p: &Playground,
    prefix: &str,
    health: std::net::SocketAddr,
    metrics: std::net::SocketAddr,
) -> String {
    let s = &p.control_url;
    format!(
        r#"
Kyuta is running against a local Discord simulator (demo server {guild}).

  Slash command /ping, run by the server owner:
    curl -s -X POST {s}/interactions -H 'content-type: application/json' \
      -d '{{"guild_id":"{guild}","channel_id":"{channel}","user_id":"{owner}","name":"ping"}}'
  then read the bot's answer (use the "id" the call returned):
    curl -s {s}/interactions/INTERACTION_ID

  Prefix command {prefix}help, posted in #general by a member:
    curl -s -X POST {s}/channels/{channel}/messages -H 'content-type: application/json' \
      -d '{{"author_id":"{member}","content":"{prefix}help"}}'
  then read the channel (the bot's reply is the last message):
    curl -s {s}/channels/{channel}/messages

  More: {prefix}userinfo <@{member}>, /serverinfo; the world: curl -s {s}/guilds
  Health: http://{health}/ready   Metrics: http://{metrics}/metrics
  Stop with Ctrl-C.
"#,
        guild = p.guild_id,
        channel = p.channel_id,
        owner = p.owner_id,
        member = p.member_id,
    )
}

/// Runs the local playground until Ctrl-C.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (sim, worker_config, playground) = start_sim(&config).await?;
    let prefix = worker_config.prefix.clone();
    tracing::info!(control = %playground.control_url, "simulator started");
    let handle = crate::runtime::start(worker_config).await?;
    let start = Instant::now();
    while !handle.is_ready() && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !handle.is_ready() {
        tracing::warn!("the shard is not ready yet; commands will answer once it is");
    }
    println!(
        "{}",
        instructions(
            &playground,
            &prefix,
            handle.health_addr,
            handle.metrics_addr
        )
    );
    crate::runtime::shutdown_signal().await;
    handle.shutdown().await;
    sim.shutdown().await;
    Ok(())
}
