//! What every reconcile shares: the Kubernetes client, the Events recorder, the gateway
//! cache, the metrics and the Redis connections kept across reconciles.

use std::time::Duration;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

use crate::gateway::GatewayCache;
use crate::metrics::Metrics;
use crate::state;

/// Field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "kyuta-operator";

/// What every reconcile shares.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Publishes Events.
    pub recorder: Recorder,
    /// Gateway info per cluster.
    pub gateway: GatewayCache,
    /// Metrics.
    pub metrics: Metrics,
    /// The fixed part of a new generation's deadline (seconds).
    pub reshard_deadline_base: i64,
    /// Redis connections, kept across reconciles.
    pub redis: state::Connections,
}

impl Context {
    /// A context for `client`, reporting Events as `instance`.
    #[must_use]
    pub fn new(client: Client, instance: &str, gateway: GatewayCache, metrics: Metrics) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.into(),
                instance: Some(instance.to_owned()),
            },
        );
        Self {
            client,
            recorder,
            gateway,
            metrics,
            reshard_deadline_base: crate::decide::RESHARD_DEADLINE_BASE_SECS,
            redis: state::Connections::default(),
        }
    }

    /// The same context with another fixed part of a new generation's deadline.
    #[must_use]
    pub fn with_reshard_deadline(mut self, base: Duration) -> Self {
        self.reshard_deadline_base = i64::try_from(base.as_secs()).unwrap_or(i64::MAX);
        self
    }
}
