//! The decision itself: start, hold, scale, reshard beside the active generation, switch, or
//! refuse, from the serving generation and the settled shard total.

use kyuta_crds::cluster::{GatewayInfo, KyutaClusterSpec, Phase, StorageMode};

use super::deadline::hold_after_give_up;
use super::pods::shards_per_pod;
use super::shards::{settle_total, shard_total, too_few_shards};
use super::{
    Action, Current, Desired, FailedReshard, GenerationPlan, GenerationState, Load,
    RESHARD_DEADLINE_BASE_SECS, Refusal, StoreActive, join, plan_of, reshard_deadline_from,
};

/// The generation that serves now: the one the status names, else (none named, or it is gone)
/// the newest fully Ready one, else the newest.
pub(super) fn serving(current: &Current) -> Option<GenerationState> {
    current
        .active
        .and_then(|n| current.generations.iter().find(|g| g.generation == n))
        .or_else(|| {
            current
                .generations
                .iter()
                .filter(|g| g.all_ready())
                .max_by_key(|g| g.generation)
                .or_else(|| current.generations.iter().max_by_key(|g| g.generation))
        })
        .copied()
}

/// Refuses more than one pod without Redis: pods without Redis cannot share Discord's
/// identify rate limit (nor sessions, load or dedupe), so several of them identify at once and
/// Discord refuses them.
pub(super) fn refuse_without_redis(
    spec: &KyutaClusterSpec,
    d: Desired,
    current: &Current,
) -> Desired {
    if spec.redis.is_some() {
        return d;
    }
    refuse_pods(d, current, |pods, keep| {
        (
            Refusal::NoRedis { pods },
            format!(
                "refused: {pods} pods without Redis (spec.redis is not set) cannot share Discord's identify budget; \
                 set spec.redis, or run every shard in one pod (shardsPerPod ≥ the shard total, autoscaling off); {keep}"
            ),
        )
    })
}

/// Refuses more than one pod without MongoDB unless the spec accepts ephemeral storage: each
/// pod would keep its own cases and settings on an emptyDir, lost with the pod, and a guild's
/// cases would split between pods whenever its shard moves.
pub(super) fn refuse_without_mongodb(
    spec: &KyutaClusterSpec,
    d: Desired,
    current: &Current,
) -> Desired {
    if spec.mongodb.is_some() || spec.storage == Some(StorageMode::Ephemeral) {
        return d;
    }
    refuse_pods(d, current, |pods, keep| {
        (
            Refusal::NoMongoDB { pods },
            format!(
                "refused: {pods} pods without MongoDB (spec.mongodb is not set) would each keep their own \
                 cases and guild settings on an emptyDir, lost with the pod; set spec.mongodb, or \
                 spec.storage: Ephemeral to accept that; {keep}"
            ),
        )
    })
}

/// `d` unless it runs more than one pod (and is not refused already); then the refusal
/// `refuse(pods, what is kept)` gives, keeping the serving generation as it is.
fn refuse_pods(
    d: Desired,
    current: &Current,
    refuse: impl FnOnce(u32, &str) -> (Refusal, String),
) -> Desired {
    if d.refusal.is_some_and(|r| !r.applies()) {
        return d;
    }
    let Some(pods) = d
        .active
        .iter()
        .chain(d.next.iter())
        .map(|p| p.replicas)
        .max()
        .filter(|pods| *pods > 1)
    else {
        return d;
    };
    let running = serving(current);
    let keep = match &running {
        Some(a) => format!("generation {} is kept as it is", a.generation),
        None => "nothing was started".into(),
    };
    let (refusal, message) = refuse(pods, &keep);
    Desired {
        phase: Phase::Degraded,
        active: running.as_ref().map(plan_of),
        target_shards: d.target_shards,
        action: Action::RefuseSpec,
        message,
        refusal: Some(refusal),
        shrink: current.shrink,
        failed: current.failed.clone(),
        ..Desired::default()
    }
}

pub(super) fn decide(
    spec: &KyutaClusterSpec,
    gateway: Option<&GatewayInfo>,
    load: &Load,
    current: &Current,
) -> Desired {
    let target = shard_total(spec, gateway, load);
    let next_number = current
        .generations
        .iter()
        .map(|g| g.generation)
        .max()
        .unwrap_or(0)
        .max(current.last_generation)
        + 1;
    let active = serving(current);

    if let Ok((raw, _)) = &target
        && let Some(refused) = too_few_shards(spec, load, *raw, active.as_ref(), current)
    {
        return refused;
    }

    let Some(active) = active else {
        // Nothing runs: start the first generation.
        let (total, why) = match target {
            Ok(t) => t,
            Err(why) => return wait(why),
        };
        let Some(gw) = gateway else {
            return wait(format!(
                "{why}; waiting for GET /gateway/bot to check the identify budget"
            ));
        };
        if gw.session_start_limit.remaining < total {
            return Desired {
                phase: Phase::Degraded,
                target_shards: Some(total),
                action: Action::Refuse,
                message: budget_message(total, gw, "start"),
                refusal: Some(Refusal::IdentifyBudget),
                ..Desired::default()
            };
        }
        let (spp, _, note) = shards_per_pod(spec, total, load, None, current);
        let plan = GenerationPlan::new(next_number, total, spp);
        return Desired {
            phase: Phase::Starting,
            active: Some(plan),
            target_shards: Some(total),
            action: Action::Start,
            message: join(
                format!(
                    "{why}; starting generation {} with {} pods of {} shards",
                    plan.generation, plan.replicas, plan.shards_per_pod
                ),
                note,
            ),
            ..Desired::default()
        };
    };

    let others = || {
        current
            .generations
            .iter()
            .filter(move |g| g.generation != active.generation)
    };
    // A generation given up is never taken up again: a retry starts a new one.
    let given_up = current.failed.as_ref().map(|f| f.generation);
    // It stays given up (at 0 pods, the active generation kept) until the spec changes.
    let blocked = current
        .failed
        .as_ref()
        .filter(|f| f.spec_generation == current.spec_generation);
    let candidates = || others().filter(move |g| Some(g.generation) != given_up);
    let in_flight = candidates()
        .filter(|g| g.generation > active.generation)
        .max_by_key(|g| g.generation)
        .map(|g| g.shard_total);
    let (total, why, target_known, shrink) = match &target {
        Ok((raw, why)) => {
            let settled = settle_total(spec, gateway, load, current, *raw, &active, in_flight);
            (
                settled.total,
                join(why.clone(), settled.note),
                true,
                settled.shrink,
            )
        }
        Err(why) => (
            active.shard_total,
            format!("{why}; keeping {} shards", active.shard_total),
            false,
            None,
        ),
    };

    if let Some(f) = blocked {
        return hold_after_give_up(spec, load, current, &active, f, why, target_known, shrink);
    }

    if total == active.shard_total {
        let (spp, scaled, note) = shards_per_pod(spec, total, load, Some(&active), current);
        let plan = GenerationPlan::new(active.generation, total, spp);
        let retire: Vec<u32> = others().map(|g| g.generation).collect();
        let changed =
            plan.shards_per_pod != active.shards_per_pod || plan.replicas != active.replicas;
        let (action, phase, head) = if changed {
            (
                Action::Scale,
                Phase::Scaling,
                format!(
                    "{why}; {} shards stay, shards per pod {} → {}, pods {} → {} (pods roll one at a time and shards resume)",
                    total,
                    active.shards_per_pod,
                    plan.shards_per_pod,
                    active.replicas,
                    plan.replicas
                ),
            )
        } else if active.all_ready() {
            (
                Action::Hold,
                Phase::Running,
                format!("{why}; all {} pods Ready", plan.replicas),
            )
        } else {
            (
                Action::Hold,
                // A generation that has not been all Ready yet is still starting, even while
                // the StatefulSet controller has not created every pod; otherwise an
                // unfinished rollout is a scale in progress.
                if active.rolled_out || matches!(current.phase, Phase::Pending | Phase::Starting) {
                    Phase::Starting
                } else {
                    Phase::Scaling
                },
                format!(
                    "{why}; {}/{} pods Ready",
                    active.ready_replicas, active.replicas
                ),
            )
        };
        let mut message = join(head, note);
        if !retire.is_empty() {
            message.push_str(&format!("; retiring generation(s) {retire:?}"));
        }
        return Desired {
            phase,
            active: Some(plan),
            retire,
            target_shards: target_known.then_some(total),
            action,
            message,
            scaled: scaled && changed,
            shrink,
            ..Desired::default()
        };
    }

    // The shard total changes: reshard beside the active generation.
    let active_plan =
        GenerationPlan::new(active.generation, active.shard_total, active.shards_per_pod);
    let pending = candidates()
        .filter(|g| g.shard_total == total)
        .max_by_key(|g| g.generation)
        .copied();
    let mut retire: Vec<u32> = others()
        .filter(|g| Some(g.generation) != pending.map(|p| p.generation))
        .map(|g| g.generation)
        .collect();

    if let Some(next) = pending {
        let next_plan = GenerationPlan::new(next.generation, total, next.shards_per_pod);
        if next.all_ready() && current.store == StoreActive::Unknown {
            return Desired {
                phase: Phase::Resharding,
                active: Some(active_plan),
                next: Some(next_plan),
                retire,
                target_shards: Some(total),
                action: Action::Reshard,
                message: format!(
                    "{why}; generation {} ({} shards) is Ready, but Redis cannot be read: the switch waits and generation {} keeps answering",
                    next.generation, total, active.generation
                ),
                shrink,
                ..Desired::default()
            };
        }
        let max_concurrency = gateway.map_or(1, |g| g.session_start_limit.max_concurrency);
        let deadline = reshard_deadline_from(
            current
                .reshard_deadline_base
                .unwrap_or(RESHARD_DEADLINE_BASE_SECS),
            total,
            max_concurrency,
        );
        if !next.all_ready()
            && let Some(created) = next.created_at
            && current.now - created >= deadline
        {
            let unready = current
                .unready_pods
                .get(&next.generation)
                .filter(|p| !p.is_empty())
                .map_or_else(
                    || format!("{}/{} pods Ready", next.ready_replicas, next.replicas),
                    |p| format!("not Ready: {}", p.join(", ")),
                );
            let failed = FailedReshard {
                generation: next.generation,
                shards: total,
                spec_generation: current.spec_generation,
                message: format!(
                    "resharding {} → {total} given up: generation {} did not have every pod Ready within {deadline}s ({unready}); \
                     it was scaled to 0 pods so it spends no more identifies, generation {} keeps serving, \
                     and the reshard is tried again when the spec changes",
                    active.shard_total, next.generation, active.generation
                ),
                at: current.now,
            };
            return Desired {
                phase: Phase::Degraded,
                active: Some(active_plan),
                retire,
                target_shards: Some(total),
                action: Action::ReshardTimedOut,
                message: format!("{why}; {}", failed.message),
                shrink,
                stopped: Some(GenerationPlan {
                    replicas: 0,
                    ..next_plan
                }),
                failed: Some(failed),
                ..Desired::default()
            };
        }
        if next.all_ready() {
            retire.push(active.generation);
            retire.sort_unstable();
            return Desired {
                phase: Phase::Running,
                active: Some(next_plan),
                retire,
                target_shards: Some(total),
                action: Action::Switch,
                message: format!(
                    "{why}; generation {} ({} shards) is Ready: it now answers interactions; generation {} ({} shards) is retired once Redis names generation {}",
                    next.generation, total, active.generation, active.shard_total, next.generation
                ),
                switch_from: Some(active_plan),
                shrink,
                ..Desired::default()
            };
        }
        return Desired {
            phase: Phase::Resharding,
            active: Some(active_plan),
            next: Some(next_plan),
            retire,
            target_shards: Some(total),
            action: Action::Reshard,
            message: format!(
                "{why}; resharding {} → {}: generation {} has {}/{} pods Ready, generation {} keeps serving",
                active.shard_total,
                total,
                next.generation,
                next.ready_replicas,
                next.replicas,
                active.generation
            ),
            shrink,
            ..Desired::default()
        };
    }

    let hold = |phase: Phase, action: Action, message: String, refused: bool| Desired {
        phase,
        active: Some(active_plan),
        retire: retire.clone(),
        target_shards: Some(total),
        action,
        message,
        refusal: refused.then_some(Refusal::IdentifyBudget),
        shrink,
        ..Desired::default()
    };
    let Some(gw) = gateway else {
        return hold(
            if active.all_ready() {
                Phase::Running
            } else {
                Phase::Starting
            },
            Action::Wait,
            format!(
                "{why}; resharding {} → {total} waits for GET /gateway/bot to check the identify budget",
                active.shard_total
            ),
            false,
        );
    };
    if gw.session_start_limit.remaining < total {
        return hold(
            Phase::Degraded,
            Action::Refuse,
            budget_message(total, gw, "reshard to"),
            true,
        );
    }
    let (spp, _, note) = shards_per_pod(spec, total, load, None, current);
    let next_plan = GenerationPlan::new(next_number, total, spp);
    Desired {
        phase: Phase::Resharding,
        active: Some(active_plan),
        next: Some(next_plan),
        retire,
        target_shards: Some(total),
        action: Action::Reshard,
        message: join(
            format!(
                "{why}; resharding {} → {total}: starting generation {} ({} pods of {} shards) beside generation {}",
                active.shard_total,
                next_plan.generation,
                next_plan.replicas,
                next_plan.shards_per_pod,
                active.generation
            ),
            note,
        ),
        shrink,
        ..Desired::default()
    }
}

pub(super) fn wait(why: String) -> Desired {
    Desired {
        phase: Phase::Pending,
        action: Action::Wait,
        message: why,
        ..Desired::default()
    }
}

pub(super) fn budget_message(total: u32, gw: &GatewayInfo, what: &str) -> String {
    let l = &gw.session_start_limit;
    format!(
        "refused to {what} {total} shards: Discord's session_start_limit has {} of {} identifies left \
         (resets in {}s) and {total} are needed; nothing was started",
        l.remaining,
        l.total,
        l.reset_after_ms.div_ceil(1000)
    )
}
