//! What this process knows about its shards: state, latency, guilds, readiness.

use std::{
    collections::BTreeMap,
    sync::RwLock,
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
    /// Waiting for the shard's lease (Redis not answering, or the lease was lost and is
    /// being taken again): the shard does not run here right now.
    WaitingForLease,
    /// Handed over to another process, which holds its lease now: this process's readiness
    /// no longer waits for it. Taken back if that process lets it go.
    HandedOff,
    /// The shard's last session ended with a fatal close (see [`ShardInfo::close_code`]):
    /// waiting out the back-off before identifying it again.
    BackingOff,
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
    /// The close code of the fatal close that ended the shard's last session (here or in the
    /// process before), until the shard is READY again.
    pub close_code: Option<u16>,
}

impl ShardInfo {
    /// Whether the shard counts as served: connected here with an acknowledged heartbeat,
    /// or handed over to the process that holds its lease.
    #[must_use]
    pub fn serving(&self) -> bool {
        (self.phase == ShardPhase::Active && self.heartbeat_acked)
            || self.phase == ShardPhase::HandedOff
    }
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
            close_code: None,
        }
    }
}

/// The status of every shard this process owns.
#[derive(Debug)]
pub struct ShardStatus {
    shard_total: u32,
    shards: RwLock<BTreeMap<u32, ShardInfo>>,
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
        }
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

    /// Ready = every shard of the range is active with an acknowledged heartbeat, or runs
    /// in another process that holds its lease ([`ShardPhase::HandedOff`]). A shard that
    /// lost its lease, waits for it, reconnects or was closed is not ready.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        let map = self.shards.read().expect("shard status lock");
        !map.is_empty() && map.values().all(ShardInfo::serving)
    }

    /// The shards in `phase`, as a comma-separated list (for `/health`'s and `/ready`'s
    /// bodies); empty when none is.
    #[must_use]
    pub fn list_in(&self, phase: ShardPhase) -> String {
        self.shards
            .read()
            .expect("shard status lock")
            .iter()
            .filter(|(_, s)| s.phase == phase)
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Shards not ready, with their phase (for `/ready`'s body).
    #[must_use]
    pub fn not_ready(&self) -> Vec<(u32, ShardPhase, bool)> {
        self.shards
            .read()
            .expect("shard status lock")
            .iter()
            .filter(|(_, s)| !s.serving())
            .map(|(id, s)| (*id, s.phase, s.heartbeat_acked))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &ShardStatus, shard: u32, phase: ShardPhase, acked: bool) {
        s.update(shard, |i| {
            i.phase = phase;
            i.heartbeat_acked = acked;
        });
    }

    #[test]
    fn ready_counts_every_shard_of_the_range() {
        let s = ShardStatus::new(4, [2, 3]);
        assert!(!s.is_ready(), "nothing connected yet");
        set(&s, 2, ShardPhase::Active, true);
        assert!(!s.is_ready(), "shard 3 still connecting");
        set(&s, 3, ShardPhase::Active, false);
        assert!(!s.is_ready(), "no heartbeat acknowledged on shard 3");
        set(&s, 3, ShardPhase::Active, true);
        assert!(s.is_ready());
        // A lost lease is not a hand-off: the shard is unserved until it runs again.
        set(&s, 3, ShardPhase::WaitingForLease, false);
        assert!(!s.is_ready());
        assert_eq!(s.not_ready(), vec![(3, ShardPhase::WaitingForLease, false)]);
        // Held by the process it was handed to: served.
        set(&s, 3, ShardPhase::HandedOff, false);
        assert!(s.is_ready());
        set(&s, 2, ShardPhase::Closed, false);
        assert!(!s.is_ready());
        set(&s, 2, ShardPhase::FatallyClosed, false);
        assert!(!s.is_ready());
        assert!(
            !ShardStatus::new(4, []).is_ready(),
            "a process with no shard serves nothing"
        );
    }
}
