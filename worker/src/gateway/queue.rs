//! Identify pacing: one identify per rate-limit bucket (`shard_id % max_concurrency`) per
//! window, and never past `session_start_limit`. [`RedisQueue`] shares the pacing with every
//! pod of the cluster; [`LocalQueue`] paces one process.
//!
//! Both implement twilight's [`Queue`]: the shard calls `enqueue` when it needs to identify
//! and identifies once the returned channel fires.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex as StdMutex},
    time::Duration,
};

use tokio::{
    sync::{Mutex, oneshot},
    time::Instant,
};
use twilight_gateway::queue::Queue;

use kyuta_crds::contract::{identify_bucket, redis_keys};

use crate::telemetry::Metrics;

/// Discord's session start budget as reported by `/gateway/bot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartLimit {
    /// Identifies that may run at once (number of buckets).
    pub max_concurrency: u32,
    /// Identifies left in the current period.
    pub remaining: u32,
    /// Milliseconds until `remaining` resets.
    pub reset_after_ms: u64,
    /// Identifies per period.
    pub total: u32,
}

/// Shared identify accounting: how many identifies this process let through, and whether the
/// budget ran out (readiness and logs say so).
#[derive(Debug, Default)]
pub struct QueueStats {
    granted: StdMutex<Vec<(u32, std::time::Instant)>>,
    exhausted: std::sync::atomic::AtomicBool,
}

impl QueueStats {
    /// Identifies granted so far, with the shard and when.
    #[must_use]
    pub fn granted(&self) -> Vec<(u32, std::time::Instant)> {
        self.granted.lock().expect("queue stats lock").clone()
    }

    /// Whether the session start budget ran out.
    #[must_use]
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn record(&self, shard: u32) {
        self.granted
            .lock()
            .expect("queue stats lock")
            .push((shard, std::time::Instant::now()));
    }

    fn set_exhausted(&self, v: bool) {
        self.exhausted
            .store(v, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Waits on the budget when it is exhausted: says so once and retries when Discord's period
/// resets, never exhausting it.
async fn wait_for_budget_reset(stats: &QueueStats, shard: u32, reset_after: Duration) {
    if !stats.exhausted() {
        tracing::error!(
            shard,
            reset_in_secs = reset_after.as_secs(),
            "session_start_limit is exhausted: not identifying until Discord's period resets"
        );
    }
    stats.set_exhausted(true);
    tokio::time::sleep(reset_after.clamp(Duration::from_secs(1), Duration::from_secs(60))).await;
}

/// How long a bucket stays taken after a grant: the window, plus a tenth of it (at most
/// 250 ms) for the time between the grant and the IDENTIFY reaching the gateway. Pacing grants
/// exactly a window apart lets a late sender and a prompt one arrive closer than the window.
#[must_use]
pub fn bucket_hold(window: Duration) -> Duration {
    window + (window / 10).min(Duration::from_millis(250))
}

/// When a bucket may identify next, behind a lock that orders its waiters.
type BucketSlot = Arc<Mutex<Option<Instant>>>;

#[derive(Debug)]
struct LocalState {
    remaining: u32,
    reset_at: Instant,
    total: u32,
    reset_period: Duration,
}

/// Identify pacing inside one process.
#[derive(Debug, Clone)]
pub struct LocalQueue {
    max_concurrency: u32,
    window: Duration,
    buckets: Arc<StdMutex<HashMap<u32, BucketSlot>>>,
    budget: Arc<Mutex<LocalState>>,
    stats: Arc<QueueStats>,
    metrics: Option<Arc<Metrics>>,
}

impl LocalQueue {
    /// A queue for `limit`, one identify per bucket per `window`.
    #[must_use]
    pub fn new(limit: StartLimit, window: Duration) -> Self {
        Self {
            max_concurrency: limit.max_concurrency.max(1),
            window,
            buckets: Arc::default(),
            budget: Arc::new(Mutex::new(LocalState {
                remaining: limit.remaining,
                reset_at: Instant::now() + Duration::from_millis(limit.reset_after_ms),
                total: limit.total,
                reset_period: Duration::from_secs(24 * 3600),
            })),
            stats: Arc::default(),
            metrics: None,
        }
    }

    /// Counts identifies in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Identify accounting.
    #[must_use]
    pub fn stats(&self) -> Arc<QueueStats> {
        Arc::clone(&self.stats)
    }

    async fn grant(self, shard: u32, tx: oneshot::Sender<()>) {
        let bucket = identify_bucket(shard, self.max_concurrency);
        let lock = Arc::clone(
            self.buckets
                .lock()
                .expect("queue lock")
                .entry(bucket)
                .or_default(),
        );
        let mut next = lock.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        loop {
            let mut b = self.budget.lock().await;
            let now = Instant::now();
            if now >= b.reset_at {
                b.remaining = b.total;
                b.reset_at = now + b.reset_period;
            }
            if b.remaining > 0 {
                b.remaining -= 1;
                break;
            }
            let wait = b.reset_at - now;
            drop(b);
            wait_for_budget_reset(&self.stats, shard, wait).await;
        }
        self.stats.set_exhausted(false);
        if tx.send(()).is_ok() {
            self.stats.record(shard);
            if let Some(m) = &self.metrics {
                m.identifies
                    .get_or_create(&crate::telemetry::metrics::ShardLabels { shard })
                    .inc();
            }
            *next = Some(Instant::now() + bucket_hold(self.window));
        } else {
            // The shard gave up waiting; the slot and the budget were not used.
            self.budget.lock().await.remaining += 1;
        }
    }
}

impl Queue for LocalQueue {
    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        tokio::spawn(self.clone().grant(shard, tx));
        rx
    }
}

/// Acquires the bucket lock and spends one identify of the fleet-wide budget atomically.
/// KEYS[1] bucket lock, KEYS[2] budget. ARGV: owner, window ms, remaining, reset_after ms,
/// and whether the budget is refreshed from Discord (1) or seeded from ARGV[3..4] (0).
/// Returns -1 granted, -2 budget exhausted (then ARGV-independent PTTL is returned by a
/// second call), -3 no budget known (read Discord's `session_start_limit` and seed it), or the
/// milliseconds to wait for the bucket.
const ACQUIRE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then
  if ARGV[5] == '1' then return -3 end
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
end
local rem = tonumber(redis.call('GET', KEYS[2]))
if rem == nil or rem <= 0 then return -2 end
local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
if not ok then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then return tonumber(ARGV[2]) end
  return ttl
end
redis.call('DECR', KEYS[2])
return -1
";

/// Gives back a granted identify the shard did not use (it stopped waiting): frees the bucket
/// lock if still ours and returns the budget.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCR', KEYS[2]) end
return 1
";

/// Identify pacing shared by every pod through Redis: the bucket's lock key
/// (`redis_keys::identify_bucket`) is set with `NX` and expires after [`bucket_hold`] (the
/// window and a margin), so at most one identify per bucket per window happens fleet-wide;
/// the budget key
/// (`redis_keys::identify_budget`) counts down `session_start_limit.remaining`.
#[derive(Clone)]
pub struct RedisQueue {
    conn: kyuta_redis::Conn,
    cluster: String,
    owner: String,
    limit: StartLimit,
    window: Duration,
    stats: Arc<QueueStats>,
    metrics: Option<Arc<Metrics>>,
    refresh: Option<crate::rest::Rest>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("cluster", &self.cluster)
            .field("owner", &self.owner)
            .field("limit", &self.limit)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    /// A queue for `cluster`; `owner` names this process in the lock values.
    #[must_use]
    pub fn new(
        conn: kyuta_redis::Conn,
        cluster: &str,
        owner: &str,
        limit: StartLimit,
        window: Duration,
    ) -> Self {
        Self {
            conn,
            cluster: cluster.to_owned(),
            owner: owner.to_owned(),
            limit: StartLimit {
                max_concurrency: limit.max_concurrency.max(1),
                ..limit
            },
            window,
            stats: Arc::default(),
            metrics: None,
            refresh: None,
        }
    }

    /// Counts identifies in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Seeds a missing budget key (first identify of the fleet, Redis restarted empty, the
    /// period expired) from a fresh `GET /gateway/bot` through `rest`, so the fleet spends
    /// what Discord says is left now, never the figure a process read when it started. Without
    /// it the key is seeded from the [`StartLimit`] given to [`RedisQueue::new`].
    #[must_use]
    pub fn with_refresh(mut self, rest: crate::rest::Rest) -> Self {
        self.refresh = Some(rest);
        self
    }

    /// Identify accounting of this process.
    #[must_use]
    pub fn stats(&self) -> Arc<QueueStats> {
        Arc::clone(&self.stats)
    }

    /// Reads `session_start_limit` from Discord and seeds the budget key with it (`NX`: a
    /// pod that seeded it first wins), expiring with Discord's `reset_after`.
    async fn seed_budget(&self, budget_key: &str) -> Result<(), String> {
        let Some(rest) = &self.refresh else {
            return Err("no Discord client to read the session start limit".into());
        };
        let info = rest
            .model("get_gateway_bot", |c| c.gateway().authed().into_future())
            .await
            .map_err(|e| e.to_string())?;
        let limit = &info.session_start_limit;
        let mut conn = self.conn.clone();
        let _: Option<String> = redis::cmd("SET")
            .arg(budget_key)
            .arg(limit.remaining)
            .arg("PX")
            .arg(limit.reset_after.max(1))
            .arg("NX")
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            remaining = limit.remaining,
            reset_after_ms = limit.reset_after,
            "identify budget read from Discord"
        );
        Ok(())
    }

    async fn grant(self, shard: u32, tx: oneshot::Sender<()>) {
        let bucket = identify_bucket(shard, self.limit.max_concurrency);
        let bucket_key = redis_keys::identify_bucket(&self.cluster, bucket);
        let budget_key = redis_keys::identify_budget(&self.cluster);
        let owner = format!("{}:{shard}:{}", self.owner, rand::random::<u32>());
        let acquire = redis::Script::new(ACQUIRE);
        loop {
            if tx.is_closed() {
                return;
            }
            let mut conn = self.conn.clone();
            let res: Result<i64, _> = acquire
                .key(&bucket_key)
                .key(&budget_key)
                .arg(&owner)
                .arg(bucket_hold(self.window).as_millis() as u64)
                .arg(self.limit.remaining)
                .arg(self.limit.reset_after_ms.max(1))
                .arg(if self.refresh.is_some() { "1" } else { "0" })
                .invoke_async(&mut conn)
                .await;
            match res {
                Ok(-1) => break,
                Ok(-3) => {
                    if let Err(e) = self.seed_budget(&budget_key).await {
                        tracing::warn!(shard, error = %e, "identify queue: could not read the session start limit; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
                Ok(-2) => {
                    let ttl: i64 = redis::cmd("PTTL")
                        .arg(&budget_key)
                        .query_async(&mut conn)
                        .await
                        .unwrap_or(60_000);
                    let wait = Duration::from_millis(u64::try_from(ttl).unwrap_or(60_000));
                    wait_for_budget_reset(&self.stats, shard, wait).await;
                }
                Ok(wait_ms) => {
                    let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
                    tokio::time::sleep(wait + Duration::from_millis(5)).await;
                }
                Err(e) => {
                    tracing::warn!(shard, error = %e, "identify queue: Redis unavailable; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        self.stats.set_exhausted(false);
        if tx.send(()).is_ok() {
            self.stats.record(shard);
            if let Some(m) = &self.metrics {
                m.identifies
                    .get_or_create(&crate::telemetry::metrics::ShardLabels { shard })
                    .inc();
            }
        } else {
            let mut conn = self.conn.clone();
            let released: Result<i64, _> = redis::Script::new(RELEASE)
                .key(&bucket_key)
                .key(&budget_key)
                .arg(&owner)
                .invoke_async(&mut conn)
                .await;
            if let Err(e) = released {
                tracing::warn!(shard, error = %e, "identify queue: could not release an unused slot");
            }
        }
    }
}

impl Queue for RedisQueue {
    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        tokio::spawn(self.clone().grant(shard, tx));
        rx
    }
}

/// Either queue, so shards have one concrete type.
#[derive(Debug, Clone)]
pub enum IdentifyQueue {
    /// In-process.
    Local(LocalQueue),
    /// Fleet-wide through Redis.
    Redis(RedisQueue),
}

impl IdentifyQueue {
    /// Identify accounting of this process.
    #[must_use]
    pub fn stats(&self) -> Arc<QueueStats> {
        match self {
            Self::Local(q) => q.stats(),
            Self::Redis(q) => q.stats(),
        }
    }
}

impl Queue for IdentifyQueue {
    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        match self {
            Self::Local(q) => q.enqueue(shard),
            Self::Redis(q) => q.enqueue(shard),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(c: u32, remaining: u32, reset_after_ms: u64) -> StartLimit {
        StartLimit {
            max_concurrency: c,
            remaining,
            reset_after_ms,
            total: 1000,
        }
    }

    #[tokio::test]
    async fn local_queue_paces_each_bucket() {
        let window = Duration::from_millis(150);
        let q = LocalQueue::new(limit(2, 100, 60_000), window);
        let rxs: Vec<_> = (0..6).map(|s| (s, q.enqueue(s))).collect();
        for (_, rx) in rxs {
            rx.await.unwrap();
        }
        let granted = q.stats().granted();
        assert_eq!(granted.len(), 6);
        // Within a bucket (shard % 2), consecutive identifies are at least a window apart.
        for bucket in 0..2 {
            let times: Vec<_> = granted
                .iter()
                .filter(|(s, _)| s % 2 == bucket)
                .map(|(_, t)| *t)
                .collect();
            assert_eq!(times.len(), 3);
            for pair in times.windows(2) {
                assert!(pair[1] - pair[0] >= window, "{:?}", pair[1] - pair[0]);
            }
        }
    }

    #[tokio::test]
    async fn local_queue_stops_at_the_budget() {
        let q = LocalQueue::new(limit(4, 2, 1200), Duration::from_millis(10));
        let a = q.enqueue(0);
        let b = q.enqueue(1);
        let mut c = q.enqueue(2);
        a.await.unwrap();
        b.await.unwrap();
        // The third waits for the period to reset instead of exhausting the budget.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(c.try_recv().is_err());
        assert!(q.stats().exhausted());
        c.await.unwrap();
        assert!(!q.stats().exhausted());
        assert_eq!(q.stats().granted().len(), 3);
    }

    #[tokio::test]
    async fn dropped_receivers_do_not_spend_the_budget() {
        let q = LocalQueue::new(limit(1, 1, 600_000), Duration::from_millis(10));
        drop(q.enqueue(0));
        tokio::time::sleep(Duration::from_millis(20)).await;
        tokio::time::timeout(Duration::from_secs(5), q.enqueue(1))
            .await
            .expect("the unused identify was given back")
            .unwrap();
    }
}
