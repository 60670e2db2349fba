//! Telemetry: Prometheus metrics, health and readiness endpoints, logging, and per-shard load
//! published for the operator.

pub mod http;
pub mod load;
pub mod logging;
pub mod metrics;

pub use metrics::Metrics;
