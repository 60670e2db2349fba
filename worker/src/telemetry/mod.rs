//! Telemetry: Prometheus metrics, health and readiness endpoints, logging, and per-shard load
//! published for the operator.

pub mod metrics;

pub use metrics::Metrics;
