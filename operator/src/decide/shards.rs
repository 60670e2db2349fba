//! The shard total: what Discord, the guilds and the spec call for, its hysteresis before a
//! shrink, and the refusal of a total too small for the guilds.

use kyuta_crds::cluster::{GatewayInfo, KyutaClusterSpec, Phase, ShardCount};
use kyuta_crds::contract::MAX_GUILDS_PER_SHARD;

use super::{Action, Current, Desired, GenerationState, Load, Refusal, plan_of};

/// How much below the serving shard total the guild count must fall before a smaller total is
/// considered: the smaller total must still fit the guilds plus this fraction (hysteresis of
/// the shard total; growing needs no margin).
pub const SHARD_SHRINK_MARGIN: f64 = 0.10;

/// How long a smaller shard total must be wanted, continuously and from complete load, before
/// the operator reshards down to it (6 hours): a reshard costs one identify per shard, and a
/// smaller fleet only saves resources.
pub const SHARD_SHRINK_HOLD_SECS: i64 = 6 * 3600;

/// A smaller shard total wanted since a time (the shard-total hysteresis state, kept in the
/// status between reconciles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkWanted {
    /// The largest smaller total wanted since `since` (the one a shrink goes to).
    pub shards: u32,
    /// Since when (Unix seconds) a smaller total has been wanted without a break.
    pub since: i64,
}

/// The shard total the inputs call for, with the reason, or why it cannot be computed.
///
/// `max(recommended, ⌈guilds / guilds_per_shard⌉, min)`, clamped to `max`, rounded up to the
/// shard multiple. Unknown guilds (no load) leave the guild term out: they are not zero. A
/// fixed count is used as given (the API server already checked it against `multiple` and
/// `max`). This is the raw target; [`desired_state`](super::desired_state) adds hysteresis before shrinking.
pub fn shard_total(
    spec: &KyutaClusterSpec,
    gateway: Option<&GatewayInfo>,
    load: &Load,
) -> Result<(u32, String), String> {
    let s = &spec.shards;
    let multiple = s.multiple.max(1);
    match s.count {
        ShardCount::Fixed(n) => {
            let total = round_up(n.max(1), multiple);
            Ok((total, format!("spec.shards.count is {total}")))
        }
        ShardCount::Auto => {
            let gw = gateway.ok_or_else(|| {
                "shards.count is auto and Discord's recommended shard count is not known yet"
                    .to_owned()
            })?;
            Ok(auto_total(spec, gw, load.guilds))
        }
    }
}

pub(super) fn auto_total(
    spec: &KyutaClusterSpec,
    gw: &GatewayInfo,
    guilds: Option<u64>,
) -> (u32, String) {
    let s = &spec.shards;
    let multiple = s.multiple.max(1);
    let per = u64::from(s.guilds_per_shard.max(1));
    let by_guilds = guilds.map(|g| u32::try_from(g.div_ceil(per)).unwrap_or(u32::MAX));
    let base = gw
        .recommended_shards
        .max(by_guilds.unwrap_or(0))
        .max(s.min.max(1));
    let clamped = s.max.map_or(base, |max| base.min(max));
    let total = round_up(clamped, multiple);
    let mut why = match (guilds, by_guilds) {
        (Some(g), Some(n)) => format!(
            "Discord recommends {} shards; {g} guilds at {per} per shard need {n}; min {}",
            gw.recommended_shards, s.min
        ),
        _ => format!(
            "Discord recommends {} shards; guild count unknown; min {}",
            gw.recommended_shards, s.min
        ),
    };
    if let Some(max) = s.max {
        why.push_str(&format!(", max {max}"));
    }
    if multiple > 1 {
        why.push_str(&format!(", multiple of {multiple}"));
    }
    why.push_str(&format!(" → {total} shards"));
    (total, why)
}

/// The shard total after hysteresis, with a note and the hysteresis state to keep.
pub(super) struct Settled {
    /// The shard total to head for.
    pub(super) total: u32,
    /// Why it is not the raw target, when it is not.
    pub(super) note: Option<String>,
    /// The hysteresis state to keep.
    pub(super) shrink: Option<ShrinkWanted>,
}

/// Hysteresis of the shard total. Growing is prompt. Going below the serving total `active`
/// needs complete load from an all-Ready generation, a total that still fits the guilds plus
/// [`SHARD_SHRINK_MARGIN`], and that smaller total wanted without a break for
/// [`SHARD_SHRINK_HOLD_SECS`]; then the shrink goes to the largest smaller total wanted in
/// that time. A fixed count, or a serving total the spec no longer allows (above `max`, not a
/// multiple of `multiple`), is followed at once. `in_flight` is the total of a reshard in
/// progress: incomplete load never cancels it.
#[allow(clippy::too_many_arguments)]
pub(super) fn settle_total(
    spec: &KyutaClusterSpec,
    gateway: Option<&GatewayInfo>,
    load: &Load,
    current: &Current,
    raw: u32,
    active: &GenerationState,
    in_flight: Option<u32>,
) -> Settled {
    let done = |total: u32, note: Option<String>| Settled {
        total,
        note,
        shrink: None,
    };
    let s = &spec.shards;
    let multiple = s.multiple.max(1);
    let serving = active.shard_total;
    let trusted = load.complete() && active.all_ready();
    // A total the spec still allows: a multiple of `multiple`, not above `max`.
    let allowed = |t: u32| t.is_multiple_of(multiple) && s.max.is_none_or(|max| t <= max);
    let auto = matches!(s.count, ShardCount::Auto);
    if !auto {
        return done(raw, None);
    }
    if raw >= serving {
        return match in_flight {
            Some(p) if raw < p && !trusted && allowed(p) => done(
                p,
                Some(format!(
                    "the guild count is incomplete: the reshard to {p} shards goes on"
                )),
            ),
            _ => done(raw, None),
        };
    }
    if !allowed(serving) {
        return done(raw, None);
    }
    let heading = in_flight.unwrap_or(serving);
    if !trusted {
        return done(
            heading,
            Some(format!(
                "{raw} shards would do, but the load is incomplete ({} of {} shards published fresh load{}): the shard total is not lowered",
                load.fresh_shards,
                load.shards.max(serving),
                if active.all_ready() {
                    ""
                } else {
                    ", not every pod Ready"
                }
            )),
        );
    }
    let Some(gw) = gateway else {
        return done(heading, None);
    };
    let with_margin = load
        .guilds
        .map(|g| g.saturating_add((g as f64 * SHARD_SHRINK_MARGIN).ceil() as u64));
    let (lower, _) = auto_total(spec, gw, with_margin);
    if lower >= serving {
        return done(
            serving,
            Some(format!(
                "{raw} shards would do, but not with {:.0}% headroom: keeping {serving}",
                SHARD_SHRINK_MARGIN * 100.0
            )),
        );
    }
    if let Some(p) = in_flight
        && p < serving
        && lower <= p
    {
        return Settled {
            total: p,
            note: Some(format!("the reshard down to {p} shards goes on")),
            shrink: current.shrink,
        };
    }
    let wish = match current.shrink {
        Some(w) if w.shards < serving => ShrinkWanted {
            shards: w.shards.max(lower),
            since: w.since,
        },
        _ => ShrinkWanted {
            shards: lower,
            since: current.now,
        },
    };
    let held = current.now - wish.since;
    if held >= SHARD_SHRINK_HOLD_SECS {
        return Settled {
            total: wish.shards,
            note: Some(format!(
                "{} shards (with {:.0}% headroom) wanted for {held}s: shrinking {serving} → {}",
                wish.shards,
                SHARD_SHRINK_MARGIN * 100.0,
                wish.shards
            )),
            shrink: Some(wish),
        };
    }
    Settled {
        total: serving,
        note: Some(format!(
            "{} shards (with {:.0}% headroom) wanted for {held}s; shrinking {serving} → {} waits until they have been wanted for {SHARD_SHRINK_HOLD_SECS}s",
            wish.shards,
            SHARD_SHRINK_MARGIN * 100.0,
            wish.shards
        )),
        shrink: Some(wish),
    }
}

pub(super) fn round_up(n: u32, multiple: u32) -> u32 {
    n.div_ceil(multiple).saturating_mul(multiple)
}

/// The fewest shards `guilds` need: `⌈guilds / 2500⌉` (Discord's hard limit per shard),
/// rounded up to `multiple`.
#[must_use]
pub fn needed_shards(guilds: u64, multiple: u32) -> u32 {
    let n = u32::try_from(guilds.div_ceil(MAX_GUILDS_PER_SHARD)).unwrap_or(u32::MAX);
    round_up(n.max(1), multiple.max(1))
}

/// Refuses a shard total below what the guilds need. The guild count is a lower bound even when
/// incomplete; unknown guilds refuse nothing.
pub(super) fn too_few_shards(
    spec: &KyutaClusterSpec,
    load: &Load,
    total: u32,
    active: Option<&GenerationState>,
    current: &Current,
) -> Option<Desired> {
    let guilds = load.guilds?;
    let needed = needed_shards(guilds, spec.shards.multiple);
    if total >= needed {
        return None;
    }
    let limit = match spec.shards.count {
        ShardCount::Fixed(n) => format!("spec.shards.count is {n}"),
        ShardCount::Auto => format!(
            "spec.shards.max {} allows {total}",
            spec.shards.max.unwrap_or(total)
        ),
    };
    let keep = match active {
        Some(a) => format!(
            "generation {} ({} shards) is kept as it is",
            a.generation, a.shard_total
        ),
        None => "nothing was started".into(),
    };
    Some(Desired {
        phase: Phase::Degraded,
        active: active.map(plan_of),
        target_shards: Some(total),
        action: Action::RefuseSpec,
        message: format!(
            "refused: {limit}, but {guilds} guilds need at least {needed} shards \
             (Discord allows {MAX_GUILDS_PER_SHARD} guilds per shard and closes an overfull one \
             with 4011); raise it to {needed} or more; {keep}"
        ),
        refusal: Some(Refusal::TooFewShards { total, needed }),
        shrink: current.shrink,
        failed: current.failed.clone(),
        ..Desired::default()
    })
}
