//! What this process knows about its shards: state, latency, guilds, readiness.

use std::{
    collections::BTreeMap,
    sync::{
        RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// Where a shard is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardPhase {
    /// Not connected yet, or reconnecting.
    Connecting,
    /// Waiting for the identify queue or for READY.
    Identifying,
    /// Resuming a saved session.
    Resuming,
    /// READY or RESUMED received.
    Active,
    /// Closed for good (bad token, bad intents, …).
    FatallyClosed,
    /// Closed on shutdown.
    Closed,
}

/// One shard's status.
#[derive(Debug, Clone)]
pub struct ShardInfo {
    /// Phase.
    pub phase: ShardPhase,
    /// Average heartbeat round trip.
    pub latency: Option<Duration>,
    /// Whether the last heartbeat was acknowledged.
    pub heartbeat_acked: bool,
    /// Guilds on the shard.
    pub guilds: u64,
    /// Dispatch events received since start.
    pub events: u64,
    /// When the shard last became active.
    pub active_since: Option<Instant>,
}

impl Default for ShardInfo {
    fn default() -> Self {
        Self {
            phase: ShardPhase::Connecting,
            latency: None,
            heartbeat_acked: false,
            guilds: 0,
            events: 0,
            active_since: None,
        }
    }
}

/// The status of every shard this process owns.
#[derive(Debug)]
pub struct ShardStatus {
    shard_total: u32,
    shards: RwLock<BTreeMap<u32, ShardInfo>>,
    /// Whether a shard was handed over to another process (see [`ShardStatus::release`]).
    released: AtomicBool,
}

impl ShardStatus {
    /// Status for `owned` shards out of `shard_total`.
    #[must_use]
    pub fn new(shard_total: u32, owned: impl IntoIterator<Item = u32>) -> Self {
        Self {
            shard_total,
            shards: RwLock::new(
                owned
                    .into_iter()
                    .map(|s| (s, ShardInfo::default()))
                    .collect(),
            ),
            released: AtomicBool::new(false),
        }
    }

    /// Forgets `shard`: it was handed over to another process, so this process's readiness
    /// no longer depends on it (a process left with no shard stays Ready until it stops).
    pub fn release(&self, shard: u32) {
        self.shards
            .write()
            .expect("shard status lock")
            .remove(&shard);
        self.released.store(true, Ordering::Relaxed);
    }

    /// Total shards of the generation.
    #[must_use]
    pub fn shard_total(&self) -> u32 {
        self.shard_total
    }

    /// Owned shard ids.
    #[must_use]
    pub fn owned(&self) -> Vec<u32> {
        self.shards
            .read()
            .expect("shard status lock")
            .keys()
            .copied()
            .collect()
    }

    /// Updates one shard.
    pub fn update(&self, shard: u32, f: impl FnOnce(&mut ShardInfo)) {
        let mut map = self.shards.write().expect("shard status lock");
        f(map.entry(shard).or_default());
    }

    /// One shard's status.
    #[must_use]
    pub fn get(&self, shard: u32) -> Option<ShardInfo> {
        self.shards
            .read()
            .expect("shard status lock")
            .get(&shard)
            .cloned()
    }

    /// Every shard's status.
    #[must_use]
    pub fn all(&self) -> BTreeMap<u32, ShardInfo> {
        self.shards.read().expect("shard status lock").clone()
    }

    /// Ready = every owned shard is active with an acknowledged heartbeat.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        let map = self.shards.read().expect("shard status lock");
        (!map.is_empty() || self.released.load(Ordering::Relaxed))
            && map
                .values()
                .all(|s| s.phase == ShardPhase::Active && s.heartbeat_acked)
    }

    /// Shards not ready, with their phase (for `/ready`'s body).
    #[must_use]
    pub fn not_ready(&self) -> Vec<(u32, ShardPhase, bool)> {
        self.shards
            .read()
            .expect("shard status lock")
            .iter()
            .filter(|(_, s)| !(s.phase == ShardPhase::Active && s.heartbeat_acked))
            .map(|(id, s)| (*id, s.phase, s.heartbeat_acked))
            .collect()
    }
}
