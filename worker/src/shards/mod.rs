//! What this process knows about its shards, below the gateway that runs them and the
//! telemetry and presence that report them: each shard's [`status`] (phase, latency,
//! guilds, readiness) and what a fatal [`close`] code means.

pub mod close;
pub mod status;
