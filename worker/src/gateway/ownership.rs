//! Shard ownership across processes: at most one process runs a shard, and a shard moves
//! from one process to another by hand-off and RESUME, never by a second identify.
//!
//! When the pods of a generation change layout (shards per pod changes, so the StatefulSet
//! rolls its pods one at a time), a new pod can start while the pod that still runs one of
//! its shards is alive: with only the saved-session store it would find no session and
//! identify, and the shard would run twice. With Redis, each shard therefore has a lease,
//! `redis_keys::shard_owner(cluster, shard_total, shard)`, holding the owner's id
//! (`<pod>|<process nonce>`) with a TTL ([`LEASE_TTL`]) that the owner renews every
//! [`KEEP_EVERY`]:
//!
//! 1. A process that is to run a shard takes the lease when it is free, or when it was held
//!    by an earlier process of the same pod (that process is gone: a pod name runs once).
//!    While another process holds it, it writes its id to `redis_keys::shard_handoff(…)` (a
//!    request) and waits.
//! 2. The holder sees the request on its next renewal, closes the shard with a resumable
//!    code, saves the session, marks the request as served and only then deletes its lease.
//! 3. The requester takes the lease, takes the saved session and RESUMEs it. Discord
//!    replays what was sent in between; the generation gate drops replays already handled.
//! 4. The old holder watches the lease ([`ShardLeases::watch`]): while another process
//!    holds it the shard counts as handed off; when nobody takes it within
//!    [`ORPHAN_AFTER`] (the requester was terminated, or the roll was reverted), the old
//!    holder takes it back.
//!
//! Faults:
//! - **Redis slow or stalled.** Renewals fail; the holder keeps running its shard until
//!   [`FENCE_AFTER`] has passed since its last renewal, then stops it (the session kept in
//!   memory). [`FENCE_AFTER`] is shorter than [`LEASE_TTL`], so the lease cannot have
//!   expired and been taken elsewhere while the shard still ran: two processes never run a
//!   shard. When Redis answers again the lease is renewed (still ours) or taken again, and
//!   the shard resumes.
//! - **Redis restarted empty (or failed over without the key).** A renewal finds the lease
//!   gone: the holder takes it again at once and keeps running. If another process took it
//!   first, the holder stops and watches.
//! - **A holder that dies** without releasing: its pod's next process takes the lease at
//!   once; any other process after [`LEASE_TTL`].
//!
//! A process never runs a shard without its lease while Redis is configured. Without Redis
//! there is one process and no lease ([`ShardLeases::disabled`]).

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kyuta_crds::contract::redis_keys;
use kyuta_redis::Conn;
use tokio_util::sync::CancellationToken;

/// How long a lease lives without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(90);
/// How often the holder renews its leases and looks for hand-off requests.
pub const KEEP_EVERY: Duration = Duration::from_secs(1);
/// How long after its last successful renewal a holder stops its shard. Shorter than
/// [`LEASE_TTL`] by a margin for a slow close and for clock rates, so a lease can only
/// expire once its shard is stopped.
pub const FENCE_AFTER: Duration = Duration::from_secs(75);
/// How often a waiting process tries to take a lease.
pub const RETRY_EVERY: Duration = Duration::from_millis(200);
/// How long a handed-off lease may stay free before its old holder takes it back.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(5);
/// How often a process that handed a shard off looks at who holds it.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);
/// Bound on one Redis call of the lease code.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// A lease found free after a hand-off was asked for but not served (Redis lost its keys)
/// is used only after this long, so a holder that has not noticed yet stops first.
const SETTLE: Duration = Duration::from_millis(2500);

/// Takes the lease (KEYS[1]) for ARGV[1] when it is free, already ours, or held by an
/// earlier process of our pod (ids starting with ARGV[2]). 1 taken, 3 taken over from our
/// pod's earlier process, 0 held by another.
const TAKE: &str = r"
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] or (ARGV[2] ~= '' and string.sub(cur, 1, #ARGV[2]) == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  if cur and cur ~= ARGV[1] then return 3 end
  return 1
end
return 0
";

/// Renews the lease (KEYS[1]) when ARGV[1] holds it: 2 when another process asked for it
/// (KEYS[2]), 1 when not. 0 when the lease is gone, -1 when another process holds it.
const KEEP: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local want = redis.call('GET', KEYS[2])
  if want and want ~= ARGV[1] and string.sub(want, 1, 5) ~= 'done:' then return 2 end
  return 1
end
if not cur then return 0 end
return -1
";

/// Deletes the lease (KEYS[1]) when ARGV[1] holds it. A request for it (KEYS[2]) is marked
/// served (`done:<requester>`) when ARGV[2] is 1, so the requester knows the lease was
/// released on purpose; our own stale request is deleted.
const RELEASE: &str = r"
local want = redis.call('GET', KEYS[2])
if want == ARGV[1] then redis.call('DEL', KEYS[2])
elseif want and ARGV[2] == '1' and string.sub(want, 1, 5) ~= 'done:' then
  redis.call('SET', KEYS[2], 'done:' .. want, 'PX', ARGV[3])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

#[derive(Clone)]
struct Shared {
    conn: Conn,
    cluster: String,
    shard_total: u32,
    /// This process's id in leases: `<pod>|<nonce>`.
    owner: String,
    /// `<pod>|`: leases whose value starts with it belong to an earlier process of this pod.
    pod_prefix: String,
}

impl Shared {
    fn keys(&self, shard: u32) -> (String, String) {
        (
            redis_keys::shard_owner(&self.cluster, self.shard_total, shard),
            redis_keys::shard_handoff(&self.cluster, self.shard_total, shard),
        )
    }

    async fn call<T: redis::FromRedisValue>(
        &self,
        f: impl AsyncFnOnce(&mut Conn) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let mut conn = self.conn.clone();
        tokio::time::timeout(CALL_TIMEOUT, f(&mut conn))
            .await
            .unwrap_or_else(|_| Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))))
    }

    /// The value of `key`.
    async fn get(&self, key: &str) -> redis::RedisResult<Option<String>> {
        self.call(async |c| redis::cmd("GET").arg(key).query_async(c).await)
            .await
    }

    async fn take(&self, key: &str) -> redis::RedisResult<i64> {
        self.call(async |c| {
            redis::Script::new(TAKE)
                .key(key)
                .arg(&self.owner)
                .arg(&self.pod_prefix)
                .arg(LEASE_TTL.as_millis() as u64)
                .invoke_async(c)
                .await
        })
        .await
    }

    async fn release(&self, shard: u32, served: bool) -> redis::RedisResult<i64> {
        let (key, handoff) = self.keys(shard);
        self.call(async |c| {
            redis::Script::new(RELEASE)
                .key(&key)
                .key(&handoff)
                .arg(&self.owner)
                .arg(if served { "1" } else { "0" })
                .arg((LEASE_TTL / 3).as_millis() as u64)
                .invoke_async(c)
                .await
        })
        .await
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

/// How [`ShardLeases::acquire`] waits for a lease another process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquireMode {
    /// Ask the holder to hand the shard over (this process is the shard's owner by layout).
    Ask,
    /// Take the lease only when it is free or ours; when another process holds it, return
    /// [`Acquired::HeldElsewhere`] (after a lost lease or an orphaned hand-off).
    Retake,
}

/// What [`ShardLeases::acquire`] found.
#[derive(Debug)]
pub enum Acquired {
    /// This process holds the lease.
    Held(Lease),
    /// Another process holds it and [`AcquireMode::Retake`] was asked for.
    HeldElsewhere,
    /// The cancel token fired first.
    Cancelled,
}

/// What [`ShardLeases::watch`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Nobody took the lease within [`ORPHAN_AFTER`]: take the shard back.
    Orphaned,
    /// The cancel token fired.
    Cancelled,
}

impl ShardLeases {
    /// No leases: the process runs its shards without asking anyone (no Redis).
    #[must_use]
    pub fn disabled() -> Self {
        Self { shared: None }
    }

    /// Leases of `cluster`'s shards out of `shard_total`, held in the name of this process
    /// of pod `pod` (`nonce` tells this process from the pod's earlier ones).
    #[must_use]
    pub fn new(conn: Conn, cluster: &str, shard_total: u32, pod: &str, nonce: &str) -> Self {
        Self {
            shared: Some(Arc::new(Shared {
                conn,
                cluster: cluster.to_owned(),
                shard_total,
                owner: format!("{pod}|{nonce}"),
                pod_prefix: format!("{pod}|"),
            })),
        }
    }

    /// Waits until this process holds `shard`'s lease. With [`AcquireMode::Ask`], asks the
    /// holder to hand it off; with [`AcquireMode::Retake`], returns
    /// [`Acquired::HeldElsewhere`] when another process holds it. Redis errors are retried
    /// (the shard does not run meanwhile). `stop` is cancelled when the held lease must end
    /// (hand-off asked, lease lost or not renewable): close the shard resumably, save the
    /// session, then [`Lease::release`].
    pub async fn acquire(
        &self,
        shard: u32,
        mode: AcquireMode,
        stop: CancellationToken,
        cancel: &CancellationToken,
    ) -> Acquired {
        let Some(shared) = &self.shared else {
            return Acquired::Held(Lease::unleased(shard));
        };
        let (key, handoff) = shared.keys(shard);
        let mut asked = false;
        let mut warned = false;
        let waiting_since = Instant::now();
        loop {
            match shared.take(&key).await {
                Ok(taken @ (1 | 3)) => {
                    if taken == 3 {
                        tracing::info!(
                            shard,
                            "took the lease over from this pod's previous process"
                        );
                    }
                    if asked && !self.request_served(&handoff).await {
                        // Free although the holder never said it let go: Redis lost the
                        // keys. Give a holder that has not noticed time to stop first.
                        tokio::time::sleep(SETTLE).await;
                        if !self.still_ours(&key).await {
                            continue;
                        }
                    }
                    if asked {
                        tracing::info!(
                            shard,
                            waited_ms = waiting_since.elapsed().as_millis() as u64,
                            "shard handed over by its previous owner"
                        );
                        let _ = shared
                            .call(async |c| {
                                redis::cmd("DEL").arg(&handoff).query_async::<i64>(c).await
                            })
                            .await;
                    }
                    return Acquired::Held(Lease::held(shard, Arc::clone(shared), stop));
                }
                Ok(_) if mode == AcquireMode::Retake => return Acquired::HeldElsewhere,
                Ok(_) => {
                    let asked_now: redis::RedisResult<()> = shared
                        .call(async |c| {
                            redis::cmd("SET")
                                .arg(&handoff)
                                .arg(&shared.owner)
                                .arg("PX")
                                .arg((LEASE_TTL / 3).as_millis() as u64)
                                .query_async(c)
                                .await
                        })
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
                    if !warned {
                        warned = true;
                        tracing::warn!(shard, error = %e, "Redis does not answer; the shard waits for its lease");
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => {
                    if asked {
                        // Withdraw the request (the lease is not ours: only the request goes).
                        let _ = shared.release(shard, false).await;
                    }
                    return Acquired::Cancelled;
                }
                () = tokio::time::sleep(RETRY_EVERY) => {}
            }
        }
    }

    async fn request_served(&self, handoff: &str) -> bool {
        let Some(shared) = &self.shared else {
            return true;
        };
        matches!(shared.get(handoff).await, Ok(Some(v)) if v == format!("done:{}", shared.owner))
    }

    async fn still_ours(&self, key: &str) -> bool {
        let Some(shared) = &self.shared else {
            return true;
        };
        matches!(shared.get(key).await, Ok(Some(v)) if v == shared.owner)
    }

    /// After a hand-off: follows who holds `shard`'s lease, calling `held_elsewhere(true)`
    /// while another process holds it and `held_elsewhere(false)` while that cannot be told
    /// (free, or Redis not answering). Returns [`Watched::Orphaned`] when the lease stayed
    /// free for [`ORPHAN_AFTER`].
    pub async fn watch(
        &self,
        shard: u32,
        cancel: &CancellationToken,
        mut held_elsewhere: impl FnMut(bool),
    ) -> Watched {
        let Some(shared) = &self.shared else {
            return Watched::Orphaned;
        };
        let (key, _) = shared.keys(shard);
        let mut free_since: Option<Instant> = None;
        loop {
            match shared.get(&key).await {
                Ok(Some(v)) if v != shared.owner => {
                    free_since = None;
                    held_elsewhere(true);
                }
                Ok(Some(_)) => return Watched::Orphaned,
                Ok(None) => {
                    held_elsewhere(false);
                    if free_since.get_or_insert_with(Instant::now).elapsed() >= ORPHAN_AFTER {
                        tracing::warn!(
                            shard,
                            "nobody took the shard that was handed over; taking it back"
                        );
                        return Watched::Orphaned;
                    }
                }
                Err(_) => held_elsewhere(false),
            }
            tokio::select! {
                () = cancel.cancelled() => return Watched::Cancelled,
                () = tokio::time::sleep(WATCH_EVERY) => {}
            }
        }
    }
}

/// Why a held lease ended (see [`Lease::end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEnd {
    /// Another process asked for the shard: hand it over.
    HandOff,
    /// Another process holds the lease now: stop at once and watch.
    TakenElsewhere,
    /// Renewals failed for [`FENCE_AFTER`]: stop the shard before the lease can expire;
    /// take it again when Redis answers.
    Fenced,
}

/// This process's lease on one shard (see the [module docs](self)).
#[derive(Debug)]
pub struct Lease {
    shard: u32,
    shared: Option<Arc<Shared>>,
    end: Arc<Mutex<Option<LeaseEnd>>>,
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
    fn unleased(shard: u32) -> Self {
        Self {
            shard,
            shared: None,
            end: Arc::default(),
            keeper: None,
        }
    }

    fn held(shard: u32, shared: Arc<Shared>, stop: CancellationToken) -> Self {
        let end = Arc::new(Mutex::new(None));
        let keeper = tokio::spawn(keep(shard, Arc::clone(&shared), stop, Arc::clone(&end)));
        Self {
            shard,
            shared: Some(shared),
            end,
            keeper: Some(keeper),
        }
    }

    /// Why the lease ended, if it did (the shard was then stopped by the `stop` token).
    #[must_use]
    pub fn end(&self) -> Option<LeaseEnd> {
        *self
            .end
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Gives the lease up (after the session was saved); a hand-off request is marked
    /// served. Nothing to do without Redis. After [`LeaseEnd::Fenced`] Redis may not
    /// answer: the lease then expires on its own.
    pub async fn release(mut self) {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
        let Some(shared) = &self.shared else { return };
        let served = self.end() == Some(LeaseEnd::HandOff);
        if let Err(e) = shared.release(self.shard, served).await {
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
    end: Arc<Mutex<Option<LeaseEnd>>>,
) {
    let (key, handoff) = shared.keys(shard);
    let mut tick = tokio::time::interval(KEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_renewed = Instant::now();
    let mut failing = false;
    let finish = |why: LeaseEnd| {
        let mut e = end
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if e.is_none() {
            *e = Some(why);
            stop.cancel();
        }
    };
    let taken_elsewhere = || {
        tracing::warn!(
            shard,
            "the shard lease is held by another process; stopping the shard here"
        );
        finish(LeaseEnd::TakenElsewhere);
    };
    loop {
        tick.tick().await;
        let kept: redis::RedisResult<i64> = shared
            .call(async |c| {
                redis::Script::new(KEEP)
                    .key(&key)
                    .key(&handoff)
                    .arg(&shared.owner)
                    .arg(LEASE_TTL.as_millis() as u64)
                    .invoke_async(c)
                    .await
            })
            .await;
        match kept {
            Ok(1) => {
                last_renewed = Instant::now();
                if std::mem::take(&mut failing) {
                    tracing::info!(shard, "the shard lease is renewed again");
                }
            }
            Ok(2) => {
                last_renewed = Instant::now();
                tracing::info!(
                    shard,
                    "another process asked for the shard; handing it over"
                );
                finish(LeaseEnd::HandOff);
                // Keep renewing until the session is saved and `release` runs.
            }
            Ok(0) => {
                // Gone although renewed within its TTL: Redis lost it (restart, failover).
                match shared.take(&key).await {
                    Ok(1 | 3) => {
                        last_renewed = Instant::now();
                        tracing::warn!(
                            shard,
                            "Redis lost the shard lease (restarted or failed over); took it again"
                        );
                    }
                    Ok(_) => return taken_elsewhere(),
                    Err(e) => {
                        tracing::warn!(shard, error = %e, "could not take the shard lease again")
                    }
                }
            }
            Ok(_) => return taken_elsewhere(),
            Err(e) => {
                if !failing {
                    failing = true;
                    tracing::warn!(shard, error = %e, "could not renew the shard lease; the shard stops if this lasts {}s", FENCE_AFTER.as_secs());
                }
                if last_renewed.elapsed() >= FENCE_AFTER {
                    tracing::error!(
                        shard,
                        "the shard lease could not be renewed for {}s; stopping the shard before it can expire",
                        FENCE_AFTER.as_secs()
                    );
                    finish(LeaseEnd::Fenced);
                    return;
                }
            }
        }
    }
}
