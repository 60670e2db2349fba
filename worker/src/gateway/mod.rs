//! The gateway: this process's shard range, fleet-wide identify pacing, sessions that survive
//! restarts, and readiness.

pub mod status;
