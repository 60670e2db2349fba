//! Per-user command cooldowns: in-process, or shared by every pod through Redis.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kyuta_crds::contract::redis_keys;
use kyuta_redis::Conn;

/// Why a cooldown check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CooldownError {
    /// Redis did not answer (down, timed out, refused the command).
    #[error("cooldown store unavailable: {0}")]
    Unavailable(#[source] redis::RedisError),
    /// The cooldown period is zero or too long to express in milliseconds.
    #[error("invalid cooldown period {0:?}")]
    InvalidPeriod(Duration),
}

impl CooldownError {
    /// A short stable label for metrics.
    #[must_use]
    pub const fn metric_label(&self) -> &'static str {
        match self {
            CooldownError::Unavailable(_) => "unavailable",
            CooldownError::InvalidPeriod(_) => "invalid",
        }
    }
}

/// Per-(command, user) cooldowns.
#[async_trait]
pub trait CooldownStore: Send + Sync + std::fmt::Debug {
    /// Starts a cooldown of `period` for `user_id` on `command` unless one is running.
    /// `Ok(None)`: started, the command may run. `Ok(Some(remaining))`: on cooldown for
    /// `remaining` more; nothing changed.
    async fn try_start(
        &self,
        command: &str,
        user_id: u64,
        period: Duration,
    ) -> Result<Option<Duration>, CooldownError>;
}

fn period_ms(period: Duration) -> Result<u64, CooldownError> {
    match u64::try_from(period.as_millis()) {
        Ok(0) | Err(_) => Err(CooldownError::InvalidPeriod(period)),
        Ok(ms) => Ok(ms),
    }
}

/// Cooldowns in this process only (no Redis). Expired entries are pruned as it grows.
#[derive(Debug, Default)]
pub struct InProcessCooldowns {
    entries: Mutex<HashMap<(Box<str>, u64), Instant>>,
}

/// Entries kept before expired ones are pruned.
const PRUNE_AT: usize = 4096;

impl InProcessCooldowns {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many cooldowns are held (running or expired but not yet pruned).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no cooldowns are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl CooldownStore for InProcessCooldowns {
    async fn try_start(
        &self,
        command: &str,
        user_id: u64,
        period: Duration,
    ) -> Result<Option<Duration>, CooldownError> {
        period_ms(period)?;
        let now = Instant::now();
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= PRUNE_AT {
            entries.retain(|_, until| *until > now);
        }
        let key = (Box::<str>::from(command), user_id);
        if let Some(until) = entries.get(&key)
            && *until > now
        {
            return Ok(Some(*until - now));
        }
        entries.insert(key, now + period);
        Ok(None)
    }
}

/// Cooldowns shared by every pod of a cluster: one Redis key per (command, user),
/// `kyuta:{cluster}:cooldown:{command}:{user}`, set with `SET NX PX` so exactly one of
/// several concurrent invocations starts the cooldown.
#[derive(Clone)]
pub struct RedisCooldowns {
    conn: Conn,
    cluster: String,
}

impl std::fmt::Debug for RedisCooldowns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCooldowns")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl RedisCooldowns {
    /// Uses an existing connection for cluster `cluster`.
    #[must_use]
    pub fn new(conn: Conn, cluster: impl Into<String>) -> Self {
        Self {
            conn,
            cluster: cluster.into(),
        }
    }

    /// Connects to `url` with short timeouts (2 s connect, 2 s per command).
    pub async fn connect(url: &str, cluster: impl Into<String>) -> Result<Self, CooldownError> {
        let options = kyuta_redis::Options {
            retries: 1,
            ..kyuta_redis::Options::default()
        };
        let conn = kyuta_redis::connect(url, &options).await.map_err(|e| {
            CooldownError::Unavailable(redis::RedisError::from((
                redis::ErrorKind::Io,
                "connecting to Redis",
                e.to_string(),
            )))
        })?;
        Ok(Self::new(conn, cluster))
    }
}

#[async_trait]
impl CooldownStore for RedisCooldowns {
    async fn try_start(
        &self,
        command: &str,
        user_id: u64,
        period: Duration,
    ) -> Result<Option<Duration>, CooldownError> {
        let ms = period_ms(period)?;
        let key = redis_keys::cooldown(&self.cluster, command, user_id);
        let mut conn = self.conn.clone();
        // Two rounds: the key may expire between a refused SET and the PTTL.
        for _ in 0..2 {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query_async(&mut conn)
                .await
                .map_err(CooldownError::Unavailable)?;
            if set.is_some() {
                return Ok(None);
            }
            let ttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(CooldownError::Unavailable)?;
            match ttl {
                -2 => continue,
                t if t < 0 => return Ok(Some(period)),
                t => return Ok(Some(Duration::from_millis(t.unsigned_abs()))),
            }
        }
        Ok(Some(period))
    }
}
