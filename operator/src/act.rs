//! Carries a decision out: applies the generations that should run (one roll step each),
//! names the active generation in Redis, then retires what the decision retires. A switch is
//! recorded only once the `SET` succeeded; a refused spec applies, names and retires nothing.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, EvictParams, Patch, PatchParams};
use kube::runtime::events::EventType;
use kyuta_crds::KyutaCluster;

use crate::context::{Context, FIELD_MANAGER};
use crate::decide::{Desired, GenerationPlan, Refusal, after_store_write};
use crate::error::{Error, Result};
use crate::observe::{Observed, roll_input};
use crate::roll::{RollState, next_step};
use crate::status::{Degraded, Reason};
use crate::{render, report, state};

/// What carrying the decision out did.
pub struct Acted {
    /// The decision, turned back when naming the active generation failed.
    pub desired: Desired,
    /// Naming the active generation in Redis failed: the reconcile fails after the status
    /// says so.
    pub store_write: Result<()>,
    /// The problem that failure is, for the status.
    pub degraded: Option<Degraded>,
    /// A roll is in progress (look again soon).
    pub rolling: bool,
}

/// Carries `desired` out.
pub async fn act(
    ctx: &Context,
    kc: &KyutaCluster,
    seen: &mut Observed,
    desired: Desired,
) -> Result<Acted> {
    let ns = kc.namespace().unwrap_or_default();
    let name = kc.name_any();
    let applies = desired.refusal.is_none_or(Refusal::applies);
    let mut rolling = false;
    if applies {
        for plan in desired
            .active
            .iter()
            .chain(desired.next.iter())
            .chain(desired.stopped.iter())
        {
            let replicas = next_step(&roll_input(&seen.sets, &seen.pods, &name, plan)).replicas;
            let applied = apply_generation(ctx, kc, &ns, plan, replicas).await?;
            // Evict only once the StatefulSet controller has seen what was just applied, so
            // the pod comes back with the new template.
            let step = next_step(&roll_input(
                std::slice::from_ref(&applied),
                &seen.pods,
                &name,
                plan,
            ));
            if let Some(ordinal) = step.evict {
                evict(ctx, kc, &ns, plan.generation, ordinal).await?;
            }
            rolling |= step.state != RollState::Done;
        }
    }
    let mut store_write = Ok(());
    if let (true, Some(con), Some(active)) = (applies, seen.redis.as_mut(), desired.active) {
        store_write = state::set_active_generation(con, &name, active.generation).await;
    }
    let write_error = store_write.as_ref().err().map(ToString::to_string);
    let desired = after_store_write(desired, write_error.as_deref().map_or(Ok(()), Err));
    let degraded = write_error.map(|e| {
        tracing::warn!(cluster = %format!("{ns}/{name}"), error = %e, "cannot name the active generation in Redis");
        Degraded::new(
            Reason::RedisWriteFailed,
            format!("cannot name the active generation in Redis: {e}"),
        )
    });
    if degraded.is_some() {
        ctx.redis.forget(seen.redis_url.as_deref()).await;
    }
    for generation in &desired.retire {
        retire_generation(ctx, kc, &ns, *generation).await?;
    }
    Ok(Acted {
        desired,
        store_write,
        degraded,
        rolling,
    })
}

/// Applies a generation's Service, PodDisruptionBudget and StatefulSet (with `replicas`,
/// which a roll may hold above the plan's); returns the StatefulSet as stored.
async fn apply_generation(
    ctx: &Context,
    kc: &KyutaCluster,
    ns: &str,
    plan: &GenerationPlan,
    replicas: u32,
) -> Result<StatefulSet> {
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
    let rendered = GenerationPlan { replicas, ..*plan };
    Ok(sets
        .patch(
            &name,
            &pp,
            &Patch::Apply(render::statefulset(kc, &rendered)),
        )
        .await?)
}

/// Deletes a generation's StatefulSet, PodDisruptionBudget and Service (absent is fine).
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

/// Evicts pod `ordinal` of `generation` (one step of a roll). A refusal of the
/// PodDisruptionBudget (429) leaves it for the next reconcile.
async fn evict(
    ctx: &Context,
    kc: &KyutaCluster,
    ns: &str,
    generation: u32,
    ordinal: u32,
) -> Result<()> {
    let pod = format!(
        "{}-{ordinal}",
        render::generation_name(&kc.name_any(), generation)
    );
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    match pods.evict(&pod, &EvictParams::default()).await {
        Ok(_) => {
            tracing::info!(%pod, "roll: evicted");
            report::publish(
                ctx,
                kc,
                EventType::Normal,
                "PodReplaced",
                "Roll",
                &format!("evicted {pod} to run the current template"),
            )
            .await;
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 429 || s.code == 404 => {
            tracing::info!(%pod, code = s.code, "roll: eviction not possible now");
            Ok(())
        }
        Err(e) => Err(Error::Kube(e)),
    }
}
