//! Prometheus metrics of the operator.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label of the errors counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The error's `metric_label()`.
    pub kind: String,
}

/// Label of the decisions counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    /// The decision's action name.
    pub action: String,
}

/// Label of the gateway requests counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `ok` or the failure reason.
    pub outcome: String,
}

/// Labels of per-cluster gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    /// The KyutaCluster's namespace.
    pub namespace: String,
    /// The KyutaCluster's name.
    pub cluster: String,
}

/// Every metric of the operator.
#[derive(Clone)]
pub struct Metrics {
    /// Reconciles started.
    pub reconciles: Counter,
    /// Reconciles failed, by error kind.
    pub errors: Family<KindLabel, Counter>,
    /// Decisions made, by action.
    pub decisions: Family<ActionLabel, Counter>,
    /// Seconds per reconcile.
    pub reconcile_duration: Histogram,
    /// `GET /gateway/bot` requests sent, by outcome.
    pub gateway_requests: Family<OutcomeLabel, Counter>,
    /// 1 while this replica holds the leader Lease.
    pub leader: Gauge,
    /// Shard total of each cluster's active generation.
    pub shards: Family<ClusterLabels, Gauge>,
    /// Ready shards of each cluster's active generation.
    pub ready_shards: Family<ClusterLabels, Gauge>,
    /// Pods of each cluster's active generation.
    pub pods: Family<ClusterLabels, Gauge>,
    /// 1 while a cluster is Degraded.
    pub degraded: Family<ClusterLabels, Gauge>,
    /// 1 while a cluster is resharding.
    pub resharding: Family<ClusterLabels, Gauge>,
}

impl Metrics {
    /// Creates the metrics and registers them under `kyuta_operator_`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            reconciles: Counter::default(),
            errors: Family::default(),
            decisions: Family::default(),
            reconcile_duration: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            gateway_requests: Family::default(),
            leader: Gauge::default(),
            shards: Family::default(),
            ready_shards: Family::default(),
            pods: Family::default(),
            degraded: Family::default(),
            resharding: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("kyuta_operator");
        r.register("reconciles", "Reconciles started", m.reconciles.clone());
        r.register(
            "reconcile_errors",
            "Reconciles failed, by error kind",
            m.errors.clone(),
        );
        r.register(
            "decisions",
            "Decisions made, by action",
            m.decisions.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Seconds per reconcile",
            m.reconcile_duration.clone(),
        );
        r.register(
            "gateway_requests",
            "GET /gateway/bot requests sent, by outcome",
            m.gateway_requests.clone(),
        );
        r.register("leader", "1 while this replica leads", m.leader.clone());
        r.register(
            "cluster_shards",
            "Shard total of the active generation",
            m.shards.clone(),
        );
        r.register(
            "cluster_ready_shards",
            "Ready shards of the active generation",
            m.ready_shards.clone(),
        );
        r.register(
            "cluster_pods",
            "Pods of the active generation",
            m.pods.clone(),
        );
        r.register(
            "cluster_degraded",
            "1 while the cluster is Degraded",
            m.degraded.clone(),
        );
        r.register(
            "cluster_resharding",
            "1 while a new generation starts beside the active one",
            m.resharding.clone(),
        );
        m
    }
}
