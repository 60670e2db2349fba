//! What a reconcile starts from: the cluster's StatefulSets and pods, its Redis (active
//! generation, shard load), the token and Discord's gateway info. Reading only; every
//! decision is made from [`Observed`] by the pure `decide`, `roll` and `status`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, PodSpec, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use kyuta_crds::KyutaCluster;
use kyuta_crds::cluster::{ConnectionRef, GatewayInfo, KyutaClusterStatus, redact_userinfo};
use kyuta_crds::contract::{ShardLayout, env, labels, ordinal_from_pod_name};
use kyuta_redis::Conn;

use crate::context::Context;
use crate::decide::{
    Current, FailedReshard, GenerationPlan, GenerationState, Load, ShrinkWanted, StoreActive,
};
use crate::error::Result;
use crate::gateway::GatewayError;
use crate::metrics::OutcomeLabel;
use crate::roll::{PodView, RollInput};
use crate::status::{Degraded, Reason};
use crate::{render, state};

/// The label the StatefulSet controller puts on each pod: the revision of its template.
const POD_REVISION_LABEL: &str = "controller-revision-hash";

/// Everything one reconcile observed.
pub struct Observed {
    /// The cluster's StatefulSets (owned by it, not being deleted).
    pub sets: Vec<StatefulSet>,
    /// The cluster's pods, every generation.
    pub pods: Vec<Pod>,
    /// The generations those StatefulSets run.
    pub generations: Vec<GenerationState>,
    /// A connection to the cluster's Redis, when it has one and it answered.
    pub redis: Option<Conn>,
    /// The Redis URL (to forget its connection after a failure).
    pub redis_url: Option<String>,
    /// Discord's gateway info (fresh, or the last answer while Discord is unreachable).
    pub gateway: Option<GatewayInfo>,
    /// The generation Redis names as active.
    pub store: StoreActive,
    /// The active generation's load (unknown when it cannot be read).
    pub load: Load,
    /// The last input problem seen, if any.
    pub degraded: Option<Degraded>,
}

/// Reads the cluster's state.
pub async fn observe(kc: &KyutaCluster, ctx: &Context) -> Result<Observed> {
    let ns = kc.namespace().unwrap_or_default();
    let name = kc.name_any();
    let key = format!("{ns}/{name}");
    let old = kc.status.clone().unwrap_or_default();
    let spec = &kc.spec;
    let selector = ListParams::default().labels(&render::cluster_selector(&name));

    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
    let sets: Vec<StatefulSet> = sets
        .list(&selector)
        .await?
        .items
        .into_iter()
        .filter(|s| {
            s.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == kc.metadata.uid.as_ref())
        })
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .collect();
    let generations: Vec<GenerationState> = sets.iter().filter_map(generation_of).collect();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pods = pods.list(&selector).await?.items;

    // Redis (optional).
    let mut degraded = None;
    let mut redis = None;
    let mut redis_url = None;
    if let Some(c) = &spec.redis {
        match connection_url(&ctx.client, &ns, c).await? {
            Ok(url) => {
                match ctx.redis.get(&url).await {
                    Ok(con) => redis = Some(con),
                    Err(e) => {
                        tracing::warn!(cluster = %key, redis = %redact_userinfo(&url), error = %e, "Redis unreachable");
                        degraded = Some(Degraded::new(
                            Reason::RedisUnavailable,
                            format!("cannot reach Redis at {}: {e}", redact_userinfo(&url)),
                        ));
                    }
                }
                redis_url = Some(url);
            }
            Err(d) => degraded = Some(d),
        }
    }

    // Token and gateway info.
    let mut gateway = None;
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
                let outcome = result.as_ref().map_or_else(GatewayError::reason, |_| "ok");
                ctx.metrics
                    .gateway_requests
                    .get_or_create(&OutcomeLabel {
                        outcome: outcome.into(),
                    })
                    .inc();
            }
            match result {
                Ok(info) => gateway = Some(info),
                Err(e) => {
                    if matches!(e, GatewayError::Unavailable(_)) {
                        // Keep deciding from the last answer while Discord is unreachable.
                        gateway = old.gateway.clone();
                    }
                    degraded = Some(Degraded::new(Reason::from(&e), e.to_string()));
                }
            }
        }
    }

    // The generation Redis names as active: never retired, and unknown while Redis cannot be
    // read. Load that cannot be read is unknown (never zero): it never lowers the shard total.
    let mut redis_failed = false;
    let store = match (&spec.redis, redis.as_mut()) {
        (None, _) => StoreActive::NoStore,
        (Some(_), None) => StoreActive::Unknown,
        (Some(_), Some(con)) => match state::active_generation(con, &name).await {
            Ok(named) => StoreActive::Names(named),
            Err(e) => {
                tracing::warn!(cluster = %key, error = %e, "cannot read the active generation");
                redis_failed = true;
                StoreActive::Unknown
            }
        },
    };
    let mut load = Load::unknown();
    let active_total = generations
        .iter()
        .find(|g| g.generation == old.generation)
        .map(|g| g.shard_total);
    if let (Some(con), Some(total), false) = (redis.as_mut(), active_total, redis_failed) {
        match state::read_load(con, &name, total, Timestamp::now().as_second()).await {
            Ok(l) => load = l,
            Err(e) => {
                tracing::warn!(cluster = %key, error = %e, "cannot read shard load");
                redis_failed = true;
            }
        }
    }
    // Shards Discord closed for good (bad token, intents, sharding) say why in Degraded: the
    // active generation's, or else a generation starting beside it (a reshard that cannot
    // become Ready because Discord refuses its identifies).
    let mut closed = crate::decide::gateway_closed(&load).map(|c| (None, c));
    if closed.is_none()
        && !redis_failed
        && let Some(con) = redis.as_mut()
    {
        for g in generations
            .iter()
            .filter(|g| g.generation != old.generation)
        {
            match state::read_load(con, &name, g.shard_total, Timestamp::now().as_second()).await {
                Ok(l) => {
                    if let Some(c) = crate::decide::gateway_closed(&l) {
                        closed = Some((Some(g.generation), c));
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(cluster = %key, error = %e, "cannot read shard load");
                    redis_failed = true;
                    break;
                }
            }
        }
    }
    if let Some((generation, (reason, message))) = closed {
        let message = match generation {
            Some(g) => format!("generation {g}: {message}"),
            None => message,
        };
        degraded = Some(Degraded::new(Reason::Closed(reason), message));
    }
    if redis_failed {
        // The connection may be broken: the next reconcile opens a new one. This one keeps
        // it, so a write it makes fails (and is reported) rather than being skipped.
        ctx.redis.forget(redis_url.as_deref()).await;
    }

    Ok(Observed {
        sets,
        pods,
        generations,
        redis,
        redis_url,
        gateway,
        store,
        load,
        degraded,
    })
}

/// What `decide` starts from: the observed generations with what the previous status kept.
#[must_use]
pub fn current(
    kc: &KyutaCluster,
    old: &KyutaClusterStatus,
    seen: &Observed,
    now: i64,
    reshard_deadline_base: i64,
) -> Current {
    let name = kc.name_any();
    let unready_pods =
        seen.generations
            .iter()
            .map(|g| {
                let prefix = render::generation_name(&name, g.generation);
                let names = (0..g.replicas)
                    .map(|i| format!("{prefix}-{i}"))
                    .filter(|pod| {
                        !seen.pods.iter().any(|p| {
                            p.metadata.name.as_deref() == Some(pod.as_str()) && pod_ready(p)
                        })
                    })
                    .collect();
                (g.generation, names)
            })
            .collect::<BTreeMap<_, _>>();
    Current {
        generations: seen.generations.clone(),
        active: (old.generation > 0).then_some(old.generation),
        last_generation: old
            .generation
            .max(old.resharding.as_ref().map_or(0, |r| r.generation))
            .max(old.failed_reshard.as_ref().map_or(0, |f| f.generation)),
        last_scale: old.last_scale_time.as_ref().map(|t| t.0.as_second()),
        now,
        phase: old.phase,
        store: seen.store,
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
        reshard_deadline_base: Some(reshard_deadline_base),
    }
}

async fn read_secret_key(
    client: &Client,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<Result<String, Degraded>> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let Some(secret) = secrets.get_opt(name).await? else {
        return Ok(Err(Degraded::new(
            Reason::SecretMissing,
            format!("Secret {ns}/{name} does not exist"),
        )));
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
        _ => Err(Degraded::new(
            Reason::SecretKeyMissing,
            format!("Secret {ns}/{name} has no non-empty key {key:?}"),
        )),
    })
}

/// The URL of a connection: given inline, or read from its Secret.
pub async fn connection_url(
    client: &Client,
    ns: &str,
    c: &ConnectionRef,
) -> Result<Result<String, Degraded>> {
    match (&c.url, &c.secret_ref) {
        (Some(url), _) => Ok(Ok(url.clone())),
        (None, Some(r)) => read_secret_key(client, ns, &r.name, &r.key).await,
        (None, None) => Ok(Err(Degraded::new(
            Reason::InvalidSpec,
            "a connection has neither url nor secretRef",
        ))),
    }
}

fn generation_of(sts: &StatefulSet) -> Option<GenerationState> {
    let l = sts.metadata.labels.as_ref()?;
    let generation = l.get(labels::GENERATION)?.parse().ok()?;
    let shard_total: u32 = l.get(labels::SHARD_TOTAL)?.parse().ok()?;
    let spec = sts.spec.as_ref()?;
    let replicas = u32::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
    let shards_per_pod = shards_per_pod_of(spec.template.spec.as_ref()).unwrap_or(1);
    // During a roll to fewer pods the StatefulSet keeps its old count until the kept pods are
    // replaced (see `roll`): the generation asks for the pods its template implies.
    let replicas = replicas.min(shard_total.div_ceil(shards_per_pod.max(1)));
    let status = sts.status.clone().unwrap_or_default();
    // With `OnDelete` the StatefulSet controller never moves `currentRevision`: a generation
    // is rolled out when every pod it has runs the update revision and there are no others.
    let rolled_out = status.observed_generation == sts.metadata.generation
        && status.update_revision.is_some()
        && u32::try_from(status.updated_replicas.unwrap_or(0)).unwrap_or(0) >= replicas
        && u32::try_from(status.replicas).unwrap_or(0) == replicas;
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

/// The shards per pod a pod template runs (its worker's environment).
fn shards_per_pod_of(pod: Option<&PodSpec>) -> Option<u32> {
    pod?.containers
        .first()?
        .env
        .as_ref()?
        .iter()
        .find(|v| v.name == env::SHARDS_PER_POD)?
        .value
        .as_ref()?
        .parse()
        .ok()
}

fn pod_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// What the roll of `plan` starts from: its StatefulSet (if it exists) and its pods.
#[must_use]
pub fn roll_input(
    sets: &[StatefulSet],
    pods: &[Pod],
    cluster: &str,
    plan: &GenerationPlan,
) -> RollInput {
    let name = render::generation_name(cluster, plan.generation);
    let sts = sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name.as_str()));
    let status = sts.and_then(|s| s.status.as_ref());
    let update_revision = status.and_then(|s| s.update_revision.as_deref());
    let generation = plan.generation.to_string();
    let pods = pods
        .iter()
        .filter(|p| p.labels().get(labels::GENERATION) == Some(&generation))
        .filter_map(|p| {
            let ordinal = ordinal_from_pod_name(&p.name_any()).ok()?;
            let revision = p.labels().get(POD_REVISION_LABEL).map(String::as_str);
            Some(PodView {
                ordinal,
                current: revision.is_some() && revision == update_revision,
                ready: pod_ready(p),
                terminating: p.metadata.deletion_timestamp.is_some(),
                shards_per_pod: shards_per_pod_of(p.spec.as_ref()),
            })
        })
        .collect();
    RollInput {
        target_replicas: plan.replicas,
        target_shards_per_pod: plan.shards_per_pod,
        spec_replicas: sts
            .and_then(|s| s.spec.as_ref()?.replicas)
            .map(|r| u32::try_from(r).unwrap_or(0)),
        observed: sts.is_some_and(|s| {
            status.is_some_and(|st| st.observed_generation == s.metadata.generation)
        }),
        pods,
    }
}

/// Shards of `plan` whose pod is Ready and runs the plan's range (a pod still on an older
/// template may own a different range).
#[must_use]
pub fn ready_shards(pods: &[Pod], plan: &GenerationPlan) -> u32 {
    let Ok(layout) = ShardLayout::new(plan.shard_total, plan.shards_per_pod) else {
        return 0;
    };
    let generation = plan.generation.to_string();
    pods.iter()
        .filter(|p| p.labels().get(labels::GENERATION) == Some(&generation))
        .filter(|p| pod_ready(p))
        .filter(|p| shards_per_pod_of(p.spec.as_ref()) == Some(plan.shards_per_pod))
        .filter_map(|p| {
            let range = ordinal_from_pod_name(&p.name_any())
                .and_then(|i| layout.range_for(i))
                .ok()?;
            Some(range.len() as u32)
        })
        .sum()
}
