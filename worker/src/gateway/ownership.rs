//! Shard ownership across processes: at most one process runs a shard, and a shard moves
//! from one process to another by hand-off and RESUME, never by a second identify.
//!
//! When the pods of a generation change layout (shards per pod changes, so the StatefulSet
//! rolls its pods one at a time), a new pod can start while the pod that still runs one of
//! its shards is alive: with only the saved-session store it would find no session and
//! identify, and the shard would run twice. With Redis, each shard therefore has a lease,
//! `redis_keys::shard_owner(cluster, shard_total, shard)`, holding the owner's id with a
//! short TTL ([`LEASE_TTL`]) that the owner renews every [`KEEP_EVERY`]:
//!
//! 1. A process that is to run a shard takes the lease with `SET NX PX`. While another
//!    process holds it, it writes its id to `redis_keys::shard_handoff(…)` (a request) and
//!    waits.
//! 2. The holder sees the request on its next renewal, closes the shard with a resumable
//!    code, saves the session, and only then deletes its lease (if it is still its own).
//!    The shard leaves the holder's readiness set, so the holder stays Ready with its other
//!    shards.
//! 3. The requester takes the lease, takes the saved session and RESUMEs it. Discord
//!    replays what was sent in between; the generation gate drops replays already handled.
//!
//! A holder that dies without releasing loses its lease after [`LEASE_TTL`]; the next owner
//! then resumes the session if one was saved, or identifies. If Redis stops answering while
//! a process waits for a lease, it runs the shard anyway after [`GIVE_UP_AFTER`]
//! (availability first) and says so in the log. Without Redis there is one process and no
//! lease ([`ShardLeases::disabled`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kyuta_crds::contract::redis_keys;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

/// How long a lease lives without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the holder renews its leases and looks for hand-off requests.
pub const KEEP_EVERY: Duration = Duration::from_millis(500);
/// How often a waiting process tries to take a lease.
pub const RETRY_EVERY: Duration = Duration::from_millis(200);
/// How long a waiting process tolerates Redis errors before running the shard anyway.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(10);

/// Renews the lease (KEYS[1]) when ARGV[1] holds it; 2 when another process asked for it
/// (KEYS[2]), 1 when not, 0 when the lease is not ours any more.
const KEEP: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local want = redis.call('GET', KEYS[2])
  if want and want ~= ARGV[1] then return 2 end
  return 1
end
return 0
";

/// Deletes the lease (KEYS[1]) when ARGV[1] holds it, and our own stale request (KEYS[2]).
const RELEASE: &str = r"
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

#[derive(Clone)]
struct Shared {
    conn: ConnectionManager,
    cluster: String,
    shard_total: u32,
    owner: String,
}

impl Shared {
    fn keys(&self, shard: u32) -> (String, String) {
        (
            redis_keys::shard_owner(&self.cluster, self.shard_total, shard),
            redis_keys::shard_handoff(&self.cluster, self.shard_total, shard),
        )
    }
}

/// The shard leases of one process (cheap to clone).
#[derive(Clone)]
pub struct ShardLeases {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for ShardLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.shared {
            None => f.write_str("ShardLeases(disabled)"),
            Some(s) => f
                .debug_struct("ShardLeases")
                .field("cluster", &s.cluster)
                .field("shard_total", &s.shard_total)
                .field("owner", &s.owner)
                .finish_non_exhaustive(),
        }
    }
}

impl ShardLeases {
    /// No leases: the process runs its shards without asking anyone (no Redis).
    #[must_use]
    pub fn disabled() -> Self {
        Self { shared: None }
    }

    /// Leases of `cluster`'s shards out of `shard_total`, held in the name of `owner` (unique
    /// per process).
    #[must_use]
    pub fn new(conn: ConnectionManager, cluster: &str, shard_total: u32, owner: &str) -> Self {
        Self {
            shared: Some(Arc::new(Shared {
                conn,
                cluster: cluster.to_owned(),
                shard_total,
                owner: owner.to_owned(),
            })),
        }
    }

    /// Waits until this process holds `shard`'s lease, asking the holder to hand it off.
    /// `stop` is cancelled when another process later asks for the shard (or the lease is
    /// lost): close the shard resumably, save the session, then [`Lease::release`].
    /// Returns `None` when `cancel` fires first.
    pub async fn acquire(
        &self,
        shard: u32,
        stop: CancellationToken,
        cancel: &CancellationToken,
    ) -> Option<Lease> {
        let Some(shared) = &self.shared else {
            return Some(Lease::unleased(shard, stop));
        };
        let (key, handoff) = shared.keys(shard);
        let mut asked = false;
        let mut failing_since: Option<Instant> = None;
        let waiting_since = Instant::now();
        loop {
            let mut conn = shared.conn.clone();
            let taken: redis::RedisResult<Option<String>> = tokio::time::timeout(
                Duration::from_secs(2),
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&shared.owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(LEASE_TTL.as_millis() as u64)
                    .query_async(&mut conn),
            )
            .await
            .unwrap_or_else(|_| Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))));
            match taken {
                Ok(Some(_)) => {
                    if asked {
                        tracing::info!(
                            shard,
                            waited_ms = waiting_since.elapsed().as_millis() as u64,
                            "shard handed over by its previous owner"
                        );
                    }
                    return Some(Lease::held(shard, Arc::clone(shared), stop));
                }
                Ok(None) => {
                    failing_since = None;
                    let asked_now: redis::RedisResult<()> = redis::cmd("SET")
                        .arg(&handoff)
                        .arg(&shared.owner)
                        .arg("PX")
                        .arg((LEASE_TTL * 3).as_millis() as u64)
                        .query_async(&mut conn)
                        .await;
                    if !asked && asked_now.is_ok() {
                        asked = true;
                        tracing::info!(
                            shard,
                            "the shard runs in another process; asked it to hand the shard over"
                        );
                    }
                }
                Err(e) => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= GIVE_UP_AFTER {
                        tracing::warn!(
                            shard,
                            error = %e,
                            "Redis does not answer; running the shard without a lease"
                        );
                        return Some(Lease::unleased(shard, stop));
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => {
                    if asked {
                        let mut conn = shared.conn.clone();
                        // Withdraw the request (the lease is not ours: only the request goes).
                        let _: redis::RedisResult<i64> = redis::Script::new(RELEASE)
                            .key(&key)
                            .key(&handoff)
                            .arg(&shared.owner)
                            .invoke_async(&mut conn)
                            .await;
                    }
                    return None;
                }
                () = tokio::time::sleep(RETRY_EVERY) => {}
            }
        }
    }
}

/// This process's lease on one shard (see the [module docs](self)).
#[derive(Debug)]
pub struct Lease {
    shard: u32,
    shared: Option<Arc<Shared>>,
    handed_off: Arc<AtomicBool>,
    keeper: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Lease {
    fn unleased(shard: u32, _stop: CancellationToken) -> Self {
        Self {
            shard,
            shared: None,
            handed_off: Arc::default(),
            keeper: None,
        }
    }

    fn held(shard: u32, shared: Arc<Shared>, stop: CancellationToken) -> Self {
        let handed_off = Arc::new(AtomicBool::new(false));
        let keeper = tokio::spawn(keep(
            shard,
            Arc::clone(&shared),
            stop,
            Arc::clone(&handed_off),
        ));
        Self {
            shard,
            shared: Some(shared),
            handed_off,
            keeper: Some(keeper),
        }
    }

    /// Whether another process asked for the shard (or the lease was lost): the shard must
    /// not be restarted here.
    #[must_use]
    pub fn handed_off(&self) -> bool {
        self.handed_off.load(Ordering::Relaxed)
    }

    /// Gives the lease up (after the session was saved). Nothing to do without Redis.
    pub async fn release(mut self) {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
        let Some(shared) = &self.shared else { return };
        let (key, handoff) = shared.keys(self.shard);
        let mut conn = shared.conn.clone();
        let released: redis::RedisResult<i64> = redis::Script::new(RELEASE)
            .key(&key)
            .key(&handoff)
            .arg(&shared.owner)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = released {
            tracing::warn!(shard = self.shard, error = %e, "could not release the shard lease; it expires on its own");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
    }
}

async fn keep(
    shard: u32,
    shared: Arc<Shared>,
    stop: CancellationToken,
    handed_off: Arc<AtomicBool>,
) {
    let (key, handoff) = shared.keys(shard);
    let script = redis::Script::new(KEEP);
    let mut tick = tokio::time::interval(KEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut conn = shared.conn.clone();
        let kept: redis::RedisResult<i64> = script
            .key(&key)
            .key(&handoff)
            .arg(&shared.owner)
            .arg(LEASE_TTL.as_millis() as u64)
            .invoke_async(&mut conn)
            .await;
        match kept {
            Ok(1) => {}
            Ok(2) => {
                if !handed_off.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        shard,
                        "another process asked for the shard; handing it over"
                    );
                    stop.cancel();
                }
                // Keep the lease until the session is saved and `release` runs.
            }
            Ok(_) => {
                if !handed_off.swap(true, Ordering::Relaxed) {
                    tracing::warn!(shard, "the shard lease was lost; closing the shard here");
                    stop.cancel();
                }
                return;
            }
            Err(e) => {
                tracing::warn!(shard, error = %e, "could not renew the shard lease");
            }
        }
    }
}
