//! Gateway faults beyond closes and drops: a slow READY, invalidation storms, delayed,
//! duplicated and reordered dispatches, slow heartbeat ACKs. What is in force is kept here;
//! `POST /_sim/faults` (kinds `slow_ready`, `invalidation_storm`, `delivery`) sets it through
//! `control::gateway_faults`, and the gateway reads it for each session.

use std::time::{Duration, Instant};

/// Faults that shape sessions made or resumed from now on.
#[derive(Debug, Default)]
pub(crate) struct GatewayFaults {
    /// IDENTIFY and RESUME get op 9 `false` until then (on one shard id, or all).
    pub(crate) storm: Option<(Instant, Option<u32>)>,
    /// READY is sent this long after IDENTIFY (heartbeats are still acknowledged).
    pub(crate) slow_ready: Option<(Duration, Option<u32>)>,
    /// How dispatches and ACKs are delivered on new and resumed connections.
    pub(crate) delivery: Option<(Delivery, Option<u32>)>,
}

pub(crate) fn applies(filter: Option<u32>, shard: u32) -> bool {
    filter.is_none_or(|s| s == shard)
}

impl GatewayFaults {
    /// Whether an invalidation storm refuses IDENTIFY and RESUME of `shard` now.
    pub fn storm_refuses(&self, shard: u32) -> bool {
        self.storm
            .is_some_and(|(until, f)| Instant::now() < until && applies(f, shard))
    }

    /// How long READY is held back for a new session of `shard`.
    pub fn ready_delay(&self, shard: u32) -> Option<Duration> {
        self.slow_ready
            .filter(|(_, f)| applies(*f, shard))
            .map(|(d, _)| d)
    }

    /// Delivery faults for a connection of `shard`.
    pub fn delivery(&self, shard: u32) -> Delivery {
        self.delivery
            .as_ref()
            .filter(|(_, f)| applies(*f, shard))
            .map(|(d, _)| d.clone())
            .unwrap_or_default()
    }
}

/// How one connection delivers dispatches and heartbeat ACKs (gateway faults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// Each dispatch is sent this long after it was raised.
    pub dispatch_delay: Duration,
    /// Every dispatch is sent twice (same sequence number).
    pub duplicate: bool,
    /// Dispatches are sent in swapped pairs (2, 1, 4, 3, …).
    pub reorder: bool,
    /// Each heartbeat ACK is sent this long after the heartbeat.
    pub ack_delay: Duration,
}
