//! A new generation's deadline to become Ready, and what holds while a reshard stays given up.

use kyuta_crds::cluster::{KyutaClusterSpec, Phase};
use kyuta_crds::contract::IDENTIFY_WINDOW_MS;

use super::join;
use super::pods::shards_per_pod;
use super::{Action, Current, Desired, GenerationPlan, GenerationState, Load, ShrinkWanted};

/// The fixed part of a new generation's deadline to become Ready (10 minutes); see
/// [`reshard_deadline_secs`].
pub const RESHARD_DEADLINE_BASE_SECS: i64 = 600;

/// How long a new generation of `shards` shards gets to have every pod Ready before the
/// reshard is given up: [`RESHARD_DEADLINE_BASE_SECS`] plus the time Discord's identify rate
/// limit needs to identify every shard (one identify per bucket per 5 s, `max_concurrency`
/// buckets). 8 shards at `max_concurrency` 1: 640 s.
#[must_use]
pub fn reshard_deadline_secs(shards: u32, max_concurrency: u32) -> i64 {
    reshard_deadline_from(RESHARD_DEADLINE_BASE_SECS, shards, max_concurrency)
}

/// [`reshard_deadline_secs`] with another fixed part than [`RESHARD_DEADLINE_BASE_SECS`]
/// (the operator's `--reshard-deadline-seconds`).
#[must_use]
pub fn reshard_deadline_from(base_secs: i64, shards: u32, max_concurrency: u32) -> i64 {
    let rounds = shards.div_ceil(max_concurrency.max(1));
    let window = i64::try_from(IDENTIFY_WINDOW_MS / 1000).unwrap_or(5);
    base_secs.max(0) + i64::from(rounds) * window
}

/// A reshard that was given up (kept in the status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedReshard {
    /// The generation that did not become Ready.
    pub generation: u32,
    /// Its shard total.
    pub shards: u32,
    /// The `metadata.generation` of the spec it was started for: it is tried again only once
    /// the spec's differs.
    pub spec_generation: Option<i64>,
    /// Why, in words (the deadline and the pods that were not Ready).
    pub message: String,
    /// When it was given up (Unix seconds).
    pub at: i64,
}

/// While a reshard stays given up: the active generation is kept at its shard total (pods
/// may still scale), the generation given up stays at 0 pods, nothing new is started, and
/// the status says why.
#[allow(clippy::too_many_arguments)]
pub(super) fn hold_after_give_up(
    spec: &KyutaClusterSpec,
    load: &Load,
    current: &Current,
    active: &GenerationState,
    failed: &FailedReshard,
    why: String,
    target_known: bool,
    shrink: Option<ShrinkWanted>,
) -> Desired {
    let total = active.shard_total;
    let (spp, scaled, note) = shards_per_pod(spec, total, load, Some(active), current);
    let plan = GenerationPlan::new(active.generation, total, spp);
    let changed = plan.shards_per_pod != active.shards_per_pod || plan.replicas != active.replicas;
    let stopped = current
        .generations
        .iter()
        .find(|g| g.generation == failed.generation && g.generation != active.generation)
        .map(|g| GenerationPlan {
            generation: g.generation,
            shard_total: g.shard_total,
            shards_per_pod: g.shards_per_pod,
            replicas: 0,
        });
    let retire = current
        .generations
        .iter()
        .map(|g| g.generation)
        .filter(|g| *g != active.generation && *g != failed.generation)
        .collect();
    Desired {
        phase: Phase::Degraded,
        active: Some(plan),
        retire,
        target_shards: target_known.then_some(total),
        action: if changed {
            Action::Scale
        } else {
            Action::ReshardTimedOut
        },
        message: join(format!("{}; {why}", failed.message), note),
        scaled: scaled && changed,
        shrink,
        stopped,
        failed: Some(failed.clone()),
        ..Desired::default()
    }
}
