//! The reconcile loop: gather inputs, call [`desired_state`], apply with server-side apply,
//! write status and Events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use kyuta_crds::KyutaCluster;
use kyuta_crds::cluster::redact_userinfo;
use kyuta_crds::cluster::{
    ConnectionRef, DecisionStatus, FINALIZER, FailedReshardStatus, GatewayInfo, KyutaClusterStatus,
    Phase, ReshardStatus, ShrinkStatus, conditions,
};
use kyuta_crds::contract::{ShardLayout, env, labels, ordinal_from_pod_name};
use redis::aio::MultiplexedConnection;

use crate::decide::{
    Action, Current, Desired, FailedReshard, GenerationPlan, GenerationState, Load, Refusal,
    ShrinkWanted, StoreActive, after_store_write, desired_state,
};
use crate::error::{Error, Result};
use crate::gateway::{GatewayCache, GatewayError};
use crate::metrics::{ActionLabel, ClusterLabels, KindLabel, Metrics, OutcomeLabel};
use crate::{render, state};

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
        }
    }

    /// The same context with another fixed part of a new generation's deadline.
    #[must_use]
    pub fn with_reshard_deadline(mut self, base: Duration) -> Self {
        self.reshard_deadline_base = i64::try_from(base.as_secs()).unwrap_or(i64::MAX);
        self
    }
}

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

/// Why the cluster needs a person, when it does.
struct Degraded {
    reason: &'static str,
    message: String,
}

async fn read_secret_key(
    client: &Client,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<Result<String, Degraded>> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let Some(secret) = secrets.get_opt(name).await? else {
        return Ok(Err(Degraded {
            reason: "SecretMissing",
            message: format!("Secret {ns}/{name} does not exist"),
        }));
    };
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|v| v.trim().to_owned())
        });
    Ok(match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Degraded {
            reason: "SecretKeyMissing",
            message: format!("Secret {ns}/{name} has no non-empty key {key:?}"),
        }),
    })
}

async fn connection_url(
    client: &Client,
    ns: &str,
    c: &ConnectionRef,
) -> Result<Result<String, Degraded>> {
    match (&c.url, &c.secret_ref) {
        (Some(url), _) => Ok(Ok(url.clone())),
        (None, Some(r)) => read_secret_key(client, ns, &r.name, &r.key).await,
        (None, None) => Ok(Err(Degraded {
            reason: "InvalidSpec",
            message: "a connection has neither url nor secretRef".into(),
        })),
    }
}

fn generation_of(sts: &StatefulSet) -> Option<GenerationState> {
    let l = sts.metadata.labels.as_ref()?;
    let generation = l.get(labels::GENERATION)?.parse().ok()?;
    let shard_total = l.get(labels::SHARD_TOTAL)?.parse().ok()?;
    let spec = sts.spec.as_ref()?;
    let replicas = u32::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
    let shards_per_pod = spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.containers.first())
        .and_then(|c| c.env.as_ref())
        .and_then(|e| e.iter().find(|v| v.name == env::SHARDS_PER_POD))
        .and_then(|v| v.value.as_ref()?.parse().ok())
        .unwrap_or(1);
    let status = sts.status.clone().unwrap_or_default();
    let rolled_out = status.observed_generation == sts.metadata.generation
        && u32::try_from(status.updated_replicas.unwrap_or(0)).unwrap_or(0) >= replicas
        && status.update_revision.is_some()
        && status.current_revision == status.update_revision;
    Some(GenerationState {
        generation,
        shard_total,
        shards_per_pod,
        replicas,
        ready_replicas: u32::try_from(status.ready_replicas.unwrap_or(0)).unwrap_or(0),
        rolled_out,
        created_at: sts
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second()),
    })
}

fn pod_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn ready_shards(pods: &Api<Pod>, cluster: &str, plan: &GenerationPlan) -> Result<u32> {
    let selector = format!(
        "{},{}={}",
        render::cluster_selector(cluster),
        labels::GENERATION,
        plan.generation
    );
    let layout = ShardLayout::new(plan.shard_total, plan.shards_per_pod)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let list = pods.list(&ListParams::default().labels(&selector)).await?;
    let mut ready = 0;
    for p in list.items.iter().filter(|p| pod_ready(p)) {
        // A pod still running an older template may own a different range; count only pods
        // whose shards-per-pod matches the plan.
        let spp_matches = p
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.env.as_ref())
            .and_then(|e| e.iter().find(|v| v.name == env::SHARDS_PER_POD))
            .and_then(|v| v.value.as_deref())
            == Some(plan.shards_per_pod.to_string().as_str());
        if !spp_matches {
            continue;
        }
        if let Ok(range) = ordinal_from_pod_name(&p.name_any()).and_then(|i| layout.range_for(i)) {
            ready += range.len() as u32;
        }
    }
    Ok(ready)
}

async fn apply_generation(
    ctx: &Context,
    kc: &KyutaCluster,
    ns: &str,
    plan: &GenerationPlan,
) -> Result<()> {
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    let name = render::generation_name(&kc.name_any(), plan.generation);
    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
    let svcs: Api<Service> = Api::namespaced(ctx.client.clone(), ns);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), ns);
    svcs.patch(&name, &pp, &Patch::Apply(render::service(kc, plan)))
        .await?;
    pdbs.patch(
        &name,
        &pp,
        &Patch::Apply(render::pod_disruption_budget(kc, plan)),
    )
    .await?;
    sets.patch(&name, &pp, &Patch::Apply(render::statefulset(kc, plan)))
        .await?;
    Ok(())
}

async fn retire_generation(
    ctx: &Context,
    kc: &KyutaCluster,
    ns: &str,
    generation: u32,
) -> Result<()> {
    let name = render::generation_name(&kc.name_any(), generation);
    let dp = DeleteParams::foreground();
    let ignore_missing = |r: std::result::Result<_, kube::Error>| match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::Kube(e)),
    };
    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
    let svcs: Api<Service> = Api::namespaced(ctx.client.clone(), ns);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), ns);
    ignore_missing(sets.delete(&name, &dp).await.map(|_| ()))?;
    ignore_missing(pdbs.delete(&name, &dp).await.map(|_| ()))?;
    ignore_missing(svcs.delete(&name, &dp).await.map(|_| ()))?;
    Ok(())
}

fn condition(
    old: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    observed: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let previous = old.iter().find(|c| c.type_ == type_);
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => now.clone(),
    };
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: observed,
        last_transition_time,
    }
}

async fn publish(
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

async fn apply(kc: &KyutaCluster, ctx: &Context) -> Result<Requeue> {
    let ns = kc.namespace().unwrap_or_default();
    let name = kc.name_any();
    let key = format!("{ns}/{name}");
    let now = Timestamp::now();
    let now_time = Time(now);
    let old = kc.status.clone().unwrap_or_default();
    let spec = &kc.spec;

    // What runs now.
    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
    let owned = sets
        .list(&ListParams::default().labels(&render::cluster_selector(&name)))
        .await?;
    let generations: Vec<GenerationState> = owned
        .items
        .iter()
        .filter(|s| {
            s.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == kc.metadata.uid.as_ref())
        })
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .filter_map(generation_of)
        .collect();

    // Redis (optional).
    let mut degraded: Option<Degraded> = None;
    let mut redis: Option<MultiplexedConnection> = None;
    if let Some(c) = &spec.redis {
        match connection_url(&ctx.client, &ns, c).await? {
            Ok(url) => match state::connect(&url).await {
                Ok(con) => redis = Some(con),
                Err(e) => {
                    tracing::warn!(cluster = %key, redis = %redact_userinfo(&url), error = %e, "Redis unreachable");
                    degraded = Some(Degraded {
                        reason: "RedisUnavailable",
                        message: format!("cannot reach Redis at {}: {e}", redact_userinfo(&url)),
                    });
                }
            },
            Err(d) => degraded = Some(d),
        }
    }

    // Token and gateway info.
    let mut gateway: Option<GatewayInfo> = None;
    match read_secret_key(
        &ctx.client,
        &ns,
        &spec.token_secret_ref.name,
        &spec.token_secret_ref.key,
    )
    .await?
    {
        Err(d) => degraded = Some(d),
        Ok(token) => {
            let (result, fresh) = ctx
                .gateway
                .get(&key, &token, spec.discord.api_url.as_deref())
                .await;
            if fresh {
                let outcome = match &result {
                    Ok(_) => "ok",
                    Err(e) => e.reason(),
                };
                ctx.metrics
                    .gateway_requests
                    .get_or_create(&OutcomeLabel {
                        outcome: outcome.into(),
                    })
                    .inc();
            }
            match result {
                Ok(info) => gateway = Some(info),
                Err(e @ (GatewayError::Unauthorized | GatewayError::BadUrl(_))) => {
                    degraded = Some(Degraded {
                        reason: e.reason(),
                        message: e.to_string(),
                    });
                }
                Err(e) => {
                    // Keep deciding from the last answer while Discord is unreachable.
                    gateway = old.gateway.clone();
                    degraded = Some(Degraded {
                        reason: e.reason(),
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    // The generation Redis names as active: never retired, and unknown while Redis cannot be
    // read.
    let store = match (&spec.redis, redis.as_mut()) {
        (None, _) => StoreActive::NoStore,
        (Some(_), None) => StoreActive::Unknown,
        (Some(_), Some(con)) => match state::active_generation(con, &name).await {
            Ok(named) => StoreActive::Names(named),
            Err(e) => {
                tracing::warn!(cluster = %key, error = %e, "cannot read the active generation");
                StoreActive::Unknown
            }
        },
    };

    // Load of the active generation.
    let active_total = generations
        .iter()
        .find(|g| g.generation == old.generation)
        .map(|g| g.shard_total);
    // Load that cannot be read is unknown (never zero): it never lowers the shard total.
    let mut load = Load::unknown();
    if let (Some(con), Some(total)) = (redis.as_mut(), active_total) {
        match state::read_load(con, &name, total, now.as_second()).await {
            Ok(l) => load = l,
            Err(e) => tracing::warn!(cluster = %key, error = %e, "cannot read shard load"),
        }
    }
    if let Some((reason, message)) = crate::decide::gateway_closed(&load) {
        degraded = Some(Degraded {
            reason: reason.as_str(),
            message,
        });
    }

    // Which pods of each generation are not Ready (for the message of a reshard given up).
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let listed = pods
        .list(&ListParams::default().labels(&render::cluster_selector(&name)))
        .await?;
    let unready_pods = generations
        .iter()
        .map(|g| {
            let prefix = render::generation_name(&name, g.generation);
            let names = (0..g.replicas)
                .map(|i| format!("{prefix}-{i}"))
                .filter(|pod| {
                    !listed
                        .items
                        .iter()
                        .any(|p| p.metadata.name.as_deref() == Some(pod.as_str()) && pod_ready(p))
                })
                .collect();
            (g.generation, names)
        })
        .collect();

    let current = Current {
        generations: generations.clone(),
        active: (old.generation > 0).then_some(old.generation),
        last_generation: old
            .generation
            .max(old.resharding.as_ref().map_or(0, |r| r.generation))
            .max(old.failed_reshard.as_ref().map_or(0, |f| f.generation)),
        last_scale: old.last_scale_time.as_ref().map(|t| t.0.as_second()),
        now: now.as_second(),
        phase: old.phase,
        store,
        shrink: old.shrink_wanted.as_ref().map(|w| ShrinkWanted {
            shards: w.shards,
            since: w.since.0.as_second(),
        }),
        unready_pods,
        failed: old.failed_reshard.as_ref().map(|f| FailedReshard {
            generation: f.generation,
            shards: f.shards,
            spec_generation: f.spec_generation,
            message: f.message.clone(),
            at: f.time.0.as_second(),
        }),
        spec_generation: kc.metadata.generation,
        reshard_deadline_base: Some(ctx.reshard_deadline_base),
    };
    let desired: Desired = desired_state(spec, gateway.as_ref(), &load, &current);

    // Apply: bring up what should run, name the active generation in Redis, then retire. A
    // switch is recorded (status, retiring) only once the SET succeeded. A refused spec is not
    // rolled out: nothing is applied, named or retired.
    let applies = desired.refusal.is_none_or(Refusal::applies);
    if applies {
        for plan in desired
            .active
            .iter()
            .chain(desired.next.iter())
            .chain(desired.stopped.iter())
        {
            apply_generation(ctx, kc, &ns, plan).await?;
        }
    }
    let mut store_write: Result<(), Error> = Ok(());
    if let (true, Some(con), Some(active)) = (applies, redis.as_mut(), desired.active) {
        store_write = state::set_active_generation(con, &name, active.generation).await;
    }
    let write_error = store_write.as_ref().err().map(ToString::to_string);
    let desired = after_store_write(desired, write_error.as_deref().map_or(Ok(()), Err));
    if let Some(e) = &write_error {
        tracing::warn!(cluster = %key, error = %e, "cannot name the active generation in Redis");
        degraded = Some(Degraded {
            reason: "RedisWriteFailed",
            message: format!("cannot name the active generation in Redis: {e}"),
        });
    }
    for generation in &desired.retire {
        retire_generation(ctx, kc, &ns, *generation).await?;
    }

    // Status.
    let active = desired.active;
    let ready = match &active {
        Some(plan) => ready_shards(&pods, &name, plan).await?,
        None => 0,
    };
    let next_state = desired.next.map(|n| {
        let observed = generations.iter().find(|g| g.generation == n.generation);
        ReshardStatus {
            generation: n.generation,
            shards: n.shard_total,
            replicas: n.replicas,
            ready_replicas: observed.map_or(0, |g| g.ready_replicas),
        }
    });
    let phase = if degraded.is_some() && desired.phase != Phase::Resharding {
        Phase::Degraded
    } else {
        desired.phase
    };
    let observed = kc.metadata.generation;
    let total = active.map_or(0, |a| a.shard_total);
    let degraded_reason = degraded
        .as_ref()
        .map(|d| (d.reason, d.message.clone()))
        .or_else(|| {
            desired
                .refusal
                .map(|r| (r.reason(), desired.message.clone()))
        })
        .or_else(|| {
            desired
                .failed
                .as_ref()
                .map(|f| ("ReshardTimedOut", f.message.clone()))
        });
    let conds = vec![
        condition(
            &old.conditions,
            conditions::READY,
            total > 0 && ready == total,
            if total > 0 && ready == total {
                "AllShardsReady"
            } else {
                "ShardsNotReady"
            },
            &format!("{ready}/{total} shards Ready"),
            observed,
            &now_time,
        ),
        match (&next_state, desired.refusal.filter(|_| active.is_some())) {
            (Some(n), _) => condition(
                &old.conditions,
                conditions::RESHARDING,
                true,
                "GenerationStarting",
                &format!(
                    "generation {} ({} shards): {}/{} pods Ready",
                    n.generation, n.shards, n.ready_replicas, n.replicas
                ),
                observed,
                &now_time,
            ),
            (None, Some(refusal)) => condition(
                &old.conditions,
                conditions::RESHARDING,
                false,
                match refusal {
                    Refusal::IdentifyBudget => "InsufficientIdentifyBudget",
                    other => other.reason(),
                },
                &desired.message,
                observed,
                &now_time,
            ),
            (None, None) => match &desired.failed {
                Some(f) => condition(
                    &old.conditions,
                    conditions::RESHARDING,
                    false,
                    "ReshardTimedOut",
                    &f.message,
                    observed,
                    &now_time,
                ),
                None => condition(
                    &old.conditions,
                    conditions::RESHARDING,
                    false,
                    "Idle",
                    "no reshard in progress",
                    observed,
                    &now_time,
                ),
            },
        },
        match &degraded_reason {
            Some((reason, message)) => condition(
                &old.conditions,
                conditions::DEGRADED,
                true,
                reason,
                message,
                observed,
                &now_time,
            ),
            None => condition(
                &old.conditions,
                conditions::DEGRADED,
                false,
                "AsExpected",
                "inputs are available and the decision could be carried out",
                observed,
                &now_time,
            ),
        },
    ];
    let decision_changed = old
        .last_decision
        .as_ref()
        .is_none_or(|d| d.action != desired.action.as_str() || d.message != desired.message);
    let status = KyutaClusterStatus {
        observed_generation: observed,
        phase,
        shards: total,
        generation: active.map_or(old.generation, |a| a.generation),
        replicas: active.map_or(0, |a| a.replicas),
        shards_per_pod: active.map_or(0, |a| a.shards_per_pod),
        ready_shards: ready,
        resharding: next_state,
        conditions: conds,
        gateway: gateway.clone().or(old.gateway.clone()),
        last_decision: Some(DecisionStatus {
            action: desired.action.as_str().into(),
            message: desired.message.clone(),
            time: if decision_changed {
                Some(now_time.clone())
            } else {
                old.last_decision.as_ref().and_then(|d| d.time.clone())
            },
        }),
        last_scale_time: if desired.scaled {
            Some(now_time.clone())
        } else {
            old.last_scale_time.clone()
        },
        failed_reshard: desired.failed.as_ref().map(|f| FailedReshardStatus {
            generation: f.generation,
            shards: f.shards,
            spec_generation: f.spec_generation,
            message: f.message.clone(),
            time: Timestamp::from_second(f.at).map_or(now_time.clone(), Time),
        }),
        shrink_wanted: desired.shrink.map(|w| ShrinkStatus {
            shards: w.shards,
            since: Timestamp::from_second(w.since).map_or(now_time.clone(), Time),
        }),
    };
    let api: Api<KyutaCluster> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = serde_json::json!({
        "apiVersion": KyutaCluster::api_version(&()),
        "kind": KyutaCluster::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;

    // Events and metrics.
    ctx.metrics
        .decisions
        .get_or_create(&ActionLabel {
            action: desired.action.as_str().into(),
        })
        .inc();
    let notable = !matches!(desired.action, Action::Hold | Action::Wait);
    let action_changed = old
        .last_decision
        .as_ref()
        .is_none_or(|d| d.action != desired.action.as_str());
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
        .map(|c| (c.reason.clone(), c.message.clone()));
    if let Some((reason, message)) = &degraded_reason
        && old_degraded.as_ref().map(|(r, m)| (r.as_str(), m)) != Some((reason, message))
    {
        publish(ctx, kc, EventType::Warning, reason, "Observe", message).await;
    }
    let labels = ClusterLabels {
        namespace: ns.clone(),
        cluster: name.clone(),
    };
    ctx.metrics
        .shards
        .get_or_create(&labels)
        .set(i64::from(total));
    ctx.metrics
        .ready_shards
        .get_or_create(&labels)
        .set(i64::from(ready));
    ctx.metrics
        .pods
        .get_or_create(&labels)
        .set(i64::from(active.map_or(0, |a| a.replicas)));
    ctx.metrics
        .degraded
        .get_or_create(&labels)
        .set(i64::from(degraded_reason.is_some()));
    ctx.metrics
        .resharding
        .get_or_create(&labels)
        .set(i64::from(desired.next.is_some()));
    tracing::info!(
        cluster = %key,
        action = desired.action.as_str(),
        phase = phase.as_str(),
        shards = total,
        ready,
        "{}",
        desired.message
    );

    // A failed SET fails the reconcile (counted, retried) after the status said so.
    store_write?;

    let after = match phase {
        Phase::Running => 60,
        Phase::Degraded | Phase::Pending => 20,
        Phase::Starting | Phase::Scaling | Phase::Resharding => 10,
    };
    Ok(Requeue::requeue(Duration::from_secs(after)))
}

async fn cleanup(kc: &KyutaCluster, ctx: &Context) -> Result<Requeue> {
    let ns = kc.namespace().unwrap_or_default();
    let name = kc.name_any();
    ctx.gateway.forget(&format!("{ns}/{name}")).await;
    let labels = ClusterLabels {
        namespace: ns.clone(),
        cluster: name.clone(),
    };
    for family in [
        &ctx.metrics.shards,
        &ctx.metrics.ready_shards,
        &ctx.metrics.pods,
        &ctx.metrics.degraded,
        &ctx.metrics.resharding,
    ] {
        family.remove(&labels);
    }
    if let Some(c) = &kc.spec.redis {
        match connection_url(&ctx.client, &ns, c).await? {
            Ok(url) => {
                let mut con = state::connect(&url).await?;
                let n = state::delete_cluster_keys(&mut con, &name).await?;
                publish(
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
                tracing::warn!(cluster = %name, reason = d.reason, "skipping Redis cleanup: {}", d.message);
            }
        }
    }
    // Owned StatefulSets, Services and PDBs go with the KyutaCluster (owner references).
    Ok(Requeue::await_change())
}
