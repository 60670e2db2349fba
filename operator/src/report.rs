//! What a reconcile tells people: Events on the KyutaCluster (a notable decision, a new
//! problem), the per-cluster metrics and one log line.

use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use kyuta_crds::KyutaCluster;
use kyuta_crds::cluster::{KyutaClusterStatus, conditions};

use crate::context::Context;
use crate::decide::{Action, Desired};
use crate::metrics::{ActionLabel, ClusterLabels};
use crate::status::Reason;

/// Publishes an Event on `kc` (a failure is logged, never fatal).
pub async fn publish(
    ctx: &Context,
    kc: &KyutaCluster,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let mut note = note.to_owned();
    note.truncate(1000);
    let ev = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &kc.object_ref(&())).await {
        tracing::warn!(error = %e, "cannot publish an Event");
    }
}

/// Reports one reconcile: `old` is the status before it, `new` the one written, `degraded`
/// why the cluster is Degraded now.
pub async fn report(
    ctx: &Context,
    kc: &KyutaCluster,
    old: &KyutaClusterStatus,
    new: &KyutaClusterStatus,
    desired: &Desired,
    degraded: Option<&(Reason, String)>,
) {
    ctx.metrics
        .decisions
        .get_or_create(&ActionLabel {
            action: desired.action.as_str().into(),
        })
        .inc();
    let decision_changed = old
        .last_decision
        .as_ref()
        .is_none_or(|d| d.action != desired.action.as_str() || d.message != desired.message);
    let action_changed = old
        .last_decision
        .as_ref()
        .is_none_or(|d| d.action != desired.action.as_str());
    let notable = !matches!(desired.action, Action::Hold | Action::Wait);
    if (notable && decision_changed) || action_changed {
        let type_ = if matches!(
            desired.action,
            Action::Refuse | Action::RefuseSpec | Action::ReshardTimedOut
        ) {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(
            ctx,
            kc,
            type_,
            desired.action.as_str(),
            "Decide",
            &desired.message,
        )
        .await;
    }
    let old_degraded = old
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::DEGRADED && c.status == "True")
        .map(|c| (c.reason.as_str(), c.message.as_str()));
    if let Some((reason, message)) = degraded
        && old_degraded != Some((reason.as_str(), message.as_str()))
    {
        publish(
            ctx,
            kc,
            EventType::Warning,
            reason.as_str(),
            "Observe",
            message,
        )
        .await;
    }

    let labels = labels(kc);
    let m = &ctx.metrics;
    m.shards.get_or_create(&labels).set(i64::from(new.shards));
    m.ready_shards
        .get_or_create(&labels)
        .set(i64::from(new.ready_shards));
    m.pods.get_or_create(&labels).set(i64::from(new.replicas));
    m.degraded
        .get_or_create(&labels)
        .set(i64::from(degraded.is_some()));
    m.resharding
        .get_or_create(&labels)
        .set(i64::from(new.resharding.is_some()));
    tracing::info!(
        cluster = %format!("{}/{}", labels.namespace, labels.cluster),
        action = desired.action.as_str(),
        phase = new.phase.as_str(),
        shards = new.shards,
        ready = new.ready_shards,
        "{}",
        desired.message
    );
}

/// Removes the per-cluster metrics of a deleted cluster.
pub fn forget(ctx: &Context, kc: &KyutaCluster) {
    let labels = labels(kc);
    let m = &ctx.metrics;
    for family in [
        &m.shards,
        &m.ready_shards,
        &m.pods,
        &m.degraded,
        &m.resharding,
    ] {
        family.remove(&labels);
    }
}

fn labels(kc: &KyutaCluster) -> ClusterLabels {
    ClusterLabels {
        namespace: kc.namespace().unwrap_or_default(),
        cluster: kc.name_any(),
    }
}
