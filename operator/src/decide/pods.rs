//! Shards per pod: the spec's, or autoscaling's from the events per second per pod.

use kyuta_crds::cluster::KyutaClusterSpec;

use super::{Current, GenerationState, Load};

/// Autoscaling leaves the pod count alone while the load per pod is within this fraction of
/// the target (hysteresis).
pub const SCALE_TOLERANCE: f64 = 0.10;

/// Shards per pod for a generation of `shard_total` shards, applying autoscaling when it is
/// on and load is known. Returns the shards per pod, whether autoscaling changed the pod count,
/// and a note.
pub(super) fn shards_per_pod(
    spec: &KyutaClusterSpec,
    shard_total: u32,
    load: &Load,
    running: Option<&GenerationState>,
    current: &Current,
) -> (u32, bool, Option<String>) {
    let base = spec.shards_per_pod.clamp(1, shard_total);
    let auto = &spec.autoscaling;
    if !auto.enabled {
        return (base, false, None);
    }
    let min_pods = shard_total
        .div_ceil(base)
        .max(auto.min_pods.unwrap_or(1))
        .min(shard_total);
    let max_pods = auto
        .max_pods
        .unwrap_or(shard_total)
        .min(shard_total)
        .max(min_pods);
    let now_pods = running
        .map_or(min_pods, |g| g.replicas)
        .clamp(min_pods, max_pods);
    let Some(eps) = load.events_per_second else {
        return (
            shard_total.div_ceil(now_pods),
            false,
            Some("no load published yet; pod count unchanged".into()),
        );
    };
    let target = f64::from(auto.target_events_per_second_per_pod.max(1));
    let per_pod = eps / f64::from(now_pods);
    let keep = |note: String| (shard_total.div_ceil(now_pods), false, Some(note));
    if (per_pod / target - 1.0).abs() <= SCALE_TOLERANCE {
        return keep(format!(
            "{per_pod:.0} events/s per pod is within {:.0}% of the target {target:.0}",
            SCALE_TOLERANCE * 100.0
        ));
    }
    let wanted = ((eps / target).ceil() as u32).clamp(min_pods, max_pods);
    let spp = layout_for(shard_total, wanted, max_pods);
    let pods = shard_total.div_ceil(spp);
    if pods == now_pods {
        return keep(format!(
            "{per_pod:.0} events/s per pod (target {target:.0}) calls for {wanted} pods; \
             {pods} pods is the layout of {shard_total} shards that gives them within the bounds"
        ));
    }
    if pods < now_pods && !load.complete() {
        return keep(format!(
            "{per_pod:.0} events/s per pod (target {target:.0}) calls for {pods} pods, but only {} of {} shards published fresh load: the pod count is not lowered",
            load.fresh_shards, shard_total
        ));
    }
    if let Some(last) = current.last_scale
        && current.now - last < i64::from(auto.cooldown_seconds)
    {
        return keep(format!(
            "{per_pod:.0} events/s per pod (target {target:.0}) calls for {pods} pods, \
             but the last scaling was {}s ago (cooldown {}s)",
            current.now - last,
            auto.cooldown_seconds
        ));
    }
    (
        spp,
        running.is_some(),
        Some(format!(
            "{eps:.0} events/s at {target:.0} per pod → {pods} pods"
        )),
    )
}

/// Shards per pod for at least `wanted` pods: pods own equal contiguous ranges, so only
/// `⌈shard_total / k⌉` pods are possible. The largest `k` whose pod count reaches `wanted`
/// (capacity for the load is never rounded away: 5 pods wanted of 8 shards gives 8 pods, not
/// 4), unless that passes `max_pods`; then the fewest shards per pod within `max_pods`.
pub(super) fn layout_for(shard_total: u32, wanted: u32, max_pods: u32) -> u32 {
    let total = shard_total.max(1);
    let wanted = wanted.clamp(1, total);
    let spp = (1..=total.div_ceil(wanted))
        .rev()
        .find(|k| total.div_ceil(*k) >= wanted)
        .unwrap_or(1);
    if total.div_ceil(spp) > max_pods.max(1) {
        total.div_ceil(max_pods.max(1))
    } else {
        spp
    }
}
