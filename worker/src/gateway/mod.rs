//! The gateway: this process's shard range, fleet-wide identify pacing, sessions that survive
//! restarts, and readiness.

pub mod fatal;
pub mod generation;
pub mod ownership;
pub mod queue;
pub mod runner;
pub mod session;

use twilight_model::gateway::event::Event;

/// Receives every gateway event of this process's shards, in order per shard. Must not block:
/// spawn work that waits.
pub trait EventSink: Send + Sync + 'static {
    /// One event from `shard`.
    fn handle(&self, shard: u32, event: Event);
}
