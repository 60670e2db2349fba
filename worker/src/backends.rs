//! Where the state pods share lives, chosen once at start: Redis when `REDIS_URL` is set, so
//! every pod of the fleet sees the same REST budget, identify locks, sessions, cooldowns,
//! automod counters, shard leases and event gate; in this process otherwise (one pod, or a
//! fleet that accepts per-pod shares).
//!
//! [`Backends::redis`] and [`Backends::local`] build the parts that need nothing from Discord;
//! [`Backends::for_shards`] builds the parts that depend on the shard layout Discord's
//! `/gateway/bot` decided (identify queue, sessions, leases).

use std::{sync::Arc, time::Duration};

use kyuta_redis::Conn;

use crate::{
    automod::{Counters, LocalCounters, RedisCounters},
    cache::{CooldownStore, InProcessCooldowns, RedisCooldowns},
    config::{Config, ShardCount},
    gateway::{
        fatal::FatalRecords,
        generation::GenerationGate,
        ownership::ShardLeases,
        queue::{IdentifyQueue, LocalQueue, RedisQueue, StartLimit},
        session::{FileSessions, RedisSessions, SessionStore},
    },
    rest::{LocalBudget, RedisBudget, Rest, RestBudget},
    telemetry::Metrics,
};

/// The shared-state backends of one worker process.
pub struct Backends {
    redis: Option<Conn>,
    /// The fleet-wide REST budget (50 requests/s across every pod).
    pub budget: Arc<dyn RestBudget>,
    /// Per-user command cooldowns.
    pub cooldowns: Arc<dyn CooldownStore>,
    /// Automod's sliding-window counters (spam, raids).
    pub counters: Arc<dyn Counters>,
    /// Which generation answers events, and each event handled once.
    pub gate: Arc<GenerationGate>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

/// The backends that depend on the shard layout.
#[derive(Debug)]
pub struct ShardBackends {
    /// Identify pacing (fleet-wide per-bucket locks with Redis).
    pub queue: IdentifyQueue,
    /// Where sessions are saved for RESUME.
    pub sessions: Arc<dyn SessionStore>,
    /// One owner per shard (disabled without Redis: this process owns its range).
    pub leases: ShardLeases,
    /// Fatal-close records, for the back-off before identifying (none without Redis).
    pub fatal: FatalRecords,
}

/// What the shard-layout backends are built for.
#[derive(Debug, Clone, Copy)]
pub struct ShardLayout<'a> {
    /// Shards in the fleet.
    pub shard_total: u32,
    /// Discord's `session_start_limit`.
    pub limit: StartLimit,
    /// Who this process is in locks and claims.
    pub owner: &'a str,
}

impl Backends {
    /// Connects to Redis when `REDIS_URL` is set and builds the shared backends there; builds
    /// in-process ones otherwise.
    pub async fn connect(config: &Config, metrics: &Arc<Metrics>) -> anyhow::Result<Self> {
        Ok(match redis_connection(config).await? {
            Some(conn) => Self::redis(conn, config, metrics),
            None => Self::local(config, metrics),
        })
    }

    /// Backends in Redis, shared by every pod of the cluster.
    #[must_use]
    pub fn redis(conn: Conn, config: &Config, metrics: &Arc<Metrics>) -> Self {
        let cluster = &config.cluster;
        Self {
            budget: Arc::new(RedisBudget::new(
                conn.clone(),
                cluster,
                config.rest_per_second,
                pods(config),
            )),
            cooldowns: Arc::new(RedisCooldowns::new(conn.clone(), cluster.clone())),
            counters: Arc::new(RedisCounters::new(conn.clone(), cluster)),
            gate: gate(Some(conn.clone()), config, metrics),
            redis: Some(conn),
        }
    }

    /// Backends in this process.
    #[must_use]
    pub fn local(config: &Config, metrics: &Arc<Metrics>) -> Self {
        Self {
            budget: Arc::new(LocalBudget::new(config.rest_per_second)),
            cooldowns: Arc::new(InProcessCooldowns::new()),
            counters: Arc::new(LocalCounters::new()),
            gate: gate(None, config, metrics),
            redis: None,
        }
    }

    /// The Redis connection, when the backends are in Redis (load publishing, the guild count
    /// of the presence, command registration).
    #[must_use]
    pub fn connection(&self) -> Option<&Conn> {
        self.redis.as_ref()
    }

    /// The identify queue, session store and shard leases for `layout`. `rest` refreshes the
    /// session start limit when the shared queue finds it spent.
    #[must_use]
    pub fn for_shards(
        &self,
        config: &Config,
        metrics: &Arc<Metrics>,
        rest: &Rest,
        layout: ShardLayout<'_>,
    ) -> ShardBackends {
        let ttl = Duration::from_secs(config.session_ttl_secs);
        let window = config.identify_window();
        let ShardLayout {
            shard_total,
            limit,
            owner,
        } = layout;
        match &self.redis {
            Some(conn) => ShardBackends {
                queue: IdentifyQueue::Redis(
                    RedisQueue::new(conn.clone(), &config.cluster, owner, limit, window)
                        .with_metrics(Arc::clone(metrics))
                        .with_refresh(rest.clone()),
                ),
                sessions: Arc::new(RedisSessions::new(
                    conn.clone(),
                    &config.cluster,
                    shard_total,
                    ttl,
                )),
                leases: ShardLeases::new(
                    conn.clone(),
                    &config.cluster,
                    shard_total,
                    owner,
                    &format!("{}:{:08x}", std::process::id(), rand::random::<u32>()),
                ),
                fatal: FatalRecords::redis(conn.clone(), &config.cluster, shard_total),
            },
            None => {
                let path = (config.session_file.as_os_str() != "none")
                    .then(|| config.session_file.clone());
                ShardBackends {
                    queue: IdentifyQueue::Local(
                        LocalQueue::new(limit, window).with_metrics(Arc::clone(metrics)),
                    ),
                    sessions: Arc::new(FileSessions::new(path, shard_total, ttl)),
                    leases: ShardLeases::disabled(),
                    fatal: FatalRecords::disabled(),
                }
            }
        }
    }
}

/// The fleet's size as the StatefulSet gives it (fixed shard total and shards per pod): each
/// pod's share of the REST limit when Redis cannot be asked.
fn pods(config: &Config) -> u32 {
    match (config.shard_count, config.shards_per_pod) {
        (ShardCount::Fixed(total), Some(per)) if per > 0 => total.div_ceil(per).max(1),
        _ => 1,
    }
}

fn gate(redis: Option<Conn>, config: &Config, metrics: &Arc<Metrics>) -> Arc<GenerationGate> {
    Arc::new(
        GenerationGate::new(redis, &config.cluster, config.generation)
            .with_metrics(Arc::clone(metrics)),
    )
}

/// Opens the Redis connection of `REDIS_URL`, when set.
async fn redis_connection(config: &Config) -> anyhow::Result<Option<Conn>> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    // Every command is bounded: a stalled Redis fails calls after 2 s instead of holding the
    // shard tasks, the REST budget or the event gate; the connection reconnects in the
    // background. One server or a Redis Cluster, as `kyuta_redis` finds it.
    let conn = kyuta_redis::connect(url.expose(), &kyuta_redis::Options::default())
        .await
        .map_err(|e| match e {
            kyuta_redis::OpenError::Timeout => {
                anyhow::anyhow!("REDIS_URL ({}): no answer within 10 s", url.redacted())
            }
            e => anyhow::anyhow!("REDIS_URL ({}): {e}", url.redacted()),
        })?;
    tracing::info!(
        redis = %url.redacted(),
        mode = if conn.is_cluster() { "cluster" } else { "single server" },
        "connected to Redis"
    );
    Ok(Some(conn))
}
