//! The reconcile loop: observe ([`crate::observe`]), decide ([`desired_state`], pure), act
//! ([`crate::act`]: server-side apply, one roll step, the active generation in Redis), write
//! the status ([`crate::status`], pure) and report ([`crate::report`]: Events, metrics).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use kyuta_crds::KyutaCluster;
use kyuta_crds::cluster::{FINALIZER, Phase};
use kyuta_crds::contract::labels;

pub use crate::context::{Context, FIELD_MANAGER};
use crate::decide::desired_state;
use crate::error::{Error, Result};
use crate::metrics::KindLabel;
use crate::status::{StatusInput, degraded_reason, status};
use crate::{act, observe, render, report, state};

/// Runs the controller until `shutdown` resolves. Watches KyutaClusters (in `namespace`, or
/// everywhere) and the StatefulSets they own.
pub async fn run_controller(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let (clusters, sets): (Api<KyutaCluster>, Api<StatefulSet>) = match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client, ns),
        ),
        None => (Api::all(client.clone()), Api::all(client)),
    };
    let owned = watcher::Config::default().labels(&format!(
        "{}={},{}",
        labels::MANAGED_BY,
        render::MANAGER,
        labels::INSTANCE
    ));
    Controller::new(clusters, watcher::Config::default())
        .owns(sets, owned)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "reconcile stream");
            }
        })
        .await;
}

fn error_policy(kc: Arc<KyutaCluster>, error: &Error, ctx: Arc<Context>) -> Requeue {
    tracing::warn!(cluster = %kc.name_any(), namespace = ?kc.namespace(), %error, "reconcile failed");
    ctx.metrics
        .errors
        .get_or_create(&KindLabel {
            kind: error.metric_label().into(),
        })
        .inc();
    Requeue::requeue(Duration::from_secs(15))
}

async fn reconcile(kc: Arc<KyutaCluster>, ctx: Arc<Context>) -> Result<Requeue> {
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    let ns = kc
        .namespace()
        .ok_or_else(|| Error::Invalid("KyutaCluster has no namespace".into()))?;
    let api: Api<KyutaCluster> = Api::namespaced(ctx.client.clone(), &ns);
    let result = finalizer(&api, FINALIZER, kc, |event| async {
        match event {
            Finalizer::Apply(kc) => apply(&kc, &ctx).await,
            Finalizer::Cleanup(kc) => cleanup(&kc, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    result
}

async fn apply(kc: &KyutaCluster, ctx: &Context) -> Result<Requeue> {
    let old = kc.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    let mut seen = observe::observe(kc, ctx).await?;
    let current = observe::current(kc, &old, &seen, now.as_second(), ctx.reshard_deadline_base);
    let desired = desired_state(&kc.spec, seen.gateway.as_ref(), &seen.load, &current);
    let acted = act::act(ctx, kc, &mut seen, desired).await?;
    let ready = acted
        .desired
        .active
        .map_or(0, |plan| observe::ready_shards(&seen.pods, &plan));
    // A failed write of the active generation is the problem to show first.
    let degraded = acted.degraded.as_ref().or(seen.degraded.as_ref());
    let input = StatusInput {
        old: &old,
        desired: &acted.desired,
        degraded,
        ready,
        generations: &seen.generations,
        gateway: seen.gateway.as_ref(),
        observed: kc.metadata.generation,
        now,
    };
    let new = status(&input);
    let why = degraded_reason(&input);
    write_status(ctx, kc, &new).await?;
    report::report(ctx, kc, &old, &new, &acted.desired, why.as_ref()).await;
    // A failed SET fails the reconcile (counted, retried) after the status said so.
    acted.store_write?;
    // A roll is carried out one pod at a time: look again soon.
    let after = match new.phase {
        _ if acted.rolling => 2,
        Phase::Running => 60,
        Phase::Degraded | Phase::Pending => 20,
        Phase::Starting | Phase::Scaling | Phase::Resharding => 10,
    };
    Ok(Requeue::requeue(Duration::from_secs(after)))
}

async fn write_status(
    ctx: &Context,
    kc: &KyutaCluster,
    status: &kyuta_crds::cluster::KyutaClusterStatus,
) -> Result<()> {
    let api: Api<KyutaCluster> =
        Api::namespaced(ctx.client.clone(), &kc.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "apiVersion": KyutaCluster::api_version(&()),
        "kind": KyutaCluster::kind(&()),
        "status": status,
    });
    api.patch_status(
        &kc.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

async fn cleanup(kc: &KyutaCluster, ctx: &Context) -> Result<Requeue> {
    let ns = kc.namespace().unwrap_or_default();
    let name = kc.name_any();
    ctx.gateway.forget(&format!("{ns}/{name}")).await;
    report::forget(ctx, kc);
    if let Some(c) = &kc.spec.redis {
        match observe::connection_url(&ctx.client, &ns, c).await? {
            Ok(url) => {
                let mut con = state::connect(&url).await?;
                let n = state::delete_cluster_keys(&mut con, &name).await?;
                report::publish(
                    ctx,
                    kc,
                    EventType::Normal,
                    "RedisKeysDeleted",
                    "Cleanup",
                    &format!("deleted {n} Redis keys under kyuta:{name}:"),
                )
                .await;
            }
            Err(d) => {
                // The Secret is gone too: nothing we can reach to clean; do not block deletion.
                tracing::warn!(cluster = %name, reason = d.reason.as_str(), "skipping Redis cleanup: {}", d.message);
            }
        }
    }
    // Owned StatefulSets, Services and PDBs go with the KyutaCluster (owner references).
    Ok(Requeue::await_change())
}
