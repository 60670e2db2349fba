//! What the fleet should look like: a pure function of the spec, what Discord said, the load
//! the workers publish and what is running now. No I/O, no clock: the caller passes `now`.

use kyuta_crds::cluster::{GatewayInfo, KyutaClusterSpec, Phase, ShardCount};
use std::collections::BTreeMap;

use kyuta_crds::contract::{IDENTIFY_WINDOW_MS, MAX_GUILDS_PER_SHARD};

/// Autoscaling leaves the pod count alone while the load per pod is within this fraction of
/// the target (hysteresis).
pub const SCALE_TOLERANCE: f64 = 0.10;

/// How much below the serving shard total the guild count must fall before a smaller total is
/// considered: the smaller total must still fit the guilds plus this fraction (hysteresis of
/// the shard total; growing needs no margin).
pub const SHARD_SHRINK_MARGIN: f64 = 0.10;

/// How long a smaller shard total must be wanted, continuously and from complete load, before
/// the operator reshards down to it (6 hours): a reshard costs one identify per shard, and a
/// smaller fleet only saves resources.
pub const SHARD_SHRINK_HOLD_SECS: i64 = 6 * 3600;

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

/// The load the workers published (summed over the active generation's shards).
///
/// Load that could not be read, or that some shards did not publish (stale or absent hashes,
/// shards still starting), is *unknown* or *incomplete*, never zero: it may make the fleet
/// grow (a partial sum is a lower bound) but never shrink.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Load {
    /// Guilds summed over the shards that published fresh load; `None` when none did or the
    /// load could not be read.
    pub guilds: Option<u64>,
    /// Gateway events per second summed the same way; `None` when unknown.
    pub events_per_second: Option<f64>,
    /// Shards whose load is fresh.
    pub fresh_shards: u32,
    /// Shards the load was read for (the generation's shard total; 0 when it was not read).
    pub shards: u32,
    /// Shards whose last session the gateway closed for good, as their load says
    /// (`load_fields::CLOSE_CODE`); `None` when none was.
    pub closed: Option<GatewayClosed>,
}

/// Shards of a generation the gateway closed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayClosed {
    /// The lowest such shard.
    pub shard: u32,
    /// Its close code.
    pub code: u16,
    /// How many shards were closed for good.
    pub shards: u32,
}

/// Why the gateway closed shards for good: the reason of the `Degraded` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// 4004: the token is wrong or was reset.
    TokenInvalid,
    /// 4010: a shard id not below the shard total.
    InvalidShard,
    /// 4011: too many guilds for the shard total.
    ShardingRequired,
    /// 4012: a gateway version Discord no longer serves.
    InvalidApiVersion,
    /// 4013: an intent Discord does not know.
    InvalidIntents,
    /// 4014: privileged intents not enabled for the application.
    DisallowedIntents,
    /// Another code the worker cannot recover from.
    GatewayClosed,
}

impl CloseReason {
    /// The reason for a close code.
    #[must_use]
    pub fn from_code(code: u16) -> Self {
        match code {
            4004 => Self::TokenInvalid,
            4010 => Self::InvalidShard,
            4011 => Self::ShardingRequired,
            4012 => Self::InvalidApiVersion,
            4013 => Self::InvalidIntents,
            4014 => Self::DisallowedIntents,
            _ => Self::GatewayClosed,
        }
    }

    /// The condition reason.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenInvalid => "TokenInvalid",
            Self::InvalidShard => "InvalidShard",
            Self::ShardingRequired => "ShardingRequired",
            Self::InvalidApiVersion => "InvalidApiVersion",
            Self::InvalidIntents => "InvalidIntents",
            Self::DisallowedIntents => "DisallowedIntents",
            Self::GatewayClosed => "GatewayClosed",
        }
    }

    /// What fixes it, for the condition's message.
    #[must_use]
    pub fn fix(self) -> &'static str {
        match self {
            Self::TokenInvalid => {
                "put the bot's current token (Developer Portal → Bot → Reset Token) in the Secret spec.tokenSecretRef names"
            }
            Self::InvalidShard => {
                "the workers were given a shard id past the shard total; check spec.shards and the workers' SHARD_COUNT"
            }
            Self::ShardingRequired => {
                "the bot is in too many guilds for the shard total (2500 per shard); raise spec.shards.count or set it to auto"
            }
            Self::InvalidApiVersion => "upgrade the worker image",
            Self::InvalidIntents => "the worker image asks for an unknown intent; upgrade it",
            Self::DisallowedIntents => {
                "enable the Message Content and Server Members intents in the Developer Portal → Bot \
                 (verification needed above 100 servers), or run the workers with \
                 KYUTA_PRIVILEGED_INTENTS=auto"
            }
            Self::GatewayClosed => "see the worker's log",
        }
    }
}

/// The `Degraded` condition the load calls for: a typed reason and a message naming the
/// shard, the close code and the fix, when the gateway closed shards for good.
#[must_use]
pub fn gateway_closed(load: &Load) -> Option<(CloseReason, String)> {
    let c = load.closed?;
    let reason = CloseReason::from_code(c.code);
    let others = match c.shards {
        0 | 1 => String::new(),
        n => format!(" and {} other shard(s)", n - 1),
    };
    Some((
        reason,
        format!(
            "the gateway closed shard {}{others} for good with close code {} ({}): {}; the workers back off before identifying again",
            c.shard,
            c.code,
            reason.as_str(),
            reason.fix()
        ),
    ))
}

impl Load {
    /// Load that is not known (no Redis, Redis failed, nothing published yet).
    #[must_use]
    pub fn unknown() -> Self {
        Self::default()
    }

    /// Every shard of the generation published fresh load, so the sums are the whole fleet's.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.shards > 0 && self.fresh_shards >= self.shards && self.guilds.is_some()
    }
}

/// A smaller shard total wanted since a time (the shard-total hysteresis state, kept in the
/// status between reconciles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkWanted {
    /// The largest smaller total wanted since `since` (the one a shrink goes to).
    pub shards: u32,
    /// Since when (Unix seconds) a smaller total has been wanted without a break.
    pub since: i64,
}

/// One worker generation (StatefulSet `<name>-g<N>`) as observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationState {
    /// The generation number.
    pub generation: u32,
    /// Its shard total.
    pub shard_total: u32,
    /// Shards each of its pods runs.
    pub shards_per_pod: u32,
    /// Pods it asks for.
    pub replicas: u32,
    /// Pods that are Ready.
    pub ready_replicas: u32,
    /// Every pod runs the current template (no rollout in progress).
    pub rolled_out: bool,
    /// When its StatefulSet was created (Unix seconds), if known.
    pub created_at: Option<i64>,
}

impl GenerationState {
    /// All pods Ready on the current template.
    #[must_use]
    pub fn all_ready(&self) -> bool {
        self.rolled_out && self.ready_replicas >= self.replicas
    }
}

/// What Redis names as the active generation, read at the start of the reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreActive {
    /// The cluster has no Redis (`spec.redis` unset): no generation gate, nothing to protect.
    #[default]
    NoStore,
    /// Redis is configured but could not be read: which generation answers is unknown.
    Unknown,
    /// Redis was read: it names this generation (`None`: none named yet).
    Names(Option<u32>),
}

impl StoreActive {
    /// Redis names `generation` as the one that answers.
    #[must_use]
    pub fn names(self, generation: u32) -> bool {
        self == Self::Names(Some(generation))
    }
}

/// What is running now, and when.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Current {
    /// Generations that exist.
    pub generations: Vec<GenerationState>,
    /// The generation the status names as active, if any.
    pub active: Option<u32>,
    /// The highest generation number ever used (from the status), so numbers are not reused.
    pub last_generation: u32,
    /// When autoscaling last changed the pod count (Unix seconds).
    pub last_scale: Option<i64>,
    /// Now (Unix seconds).
    pub now: i64,
    /// The phase the status reported before this reconcile.
    pub phase: Phase,
    /// The generation Redis names as active. A generation Redis names is never retired, and
    /// while Redis cannot be read nothing is retired and no switch is made.
    pub store: StoreActive,
    /// Since when a smaller shard total has been wanted (from the status).
    pub shrink: Option<ShrinkWanted>,
    /// Names of the pods of each generation that are not Ready (pods not created yet
    /// included), for the message of a reshard that is given up.
    pub unready_pods: BTreeMap<u32, Vec<String>>,
    /// The reshard given up last (from the status).
    pub failed: Option<FailedReshard>,
    /// The spec's `metadata.generation`.
    pub spec_generation: Option<i64>,
    /// The fixed part of a new generation's deadline, when it is not
    /// [`RESHARD_DEADLINE_BASE_SECS`] (see [`reshard_deadline_from`]).
    pub reshard_deadline_base: Option<i64>,
}

/// One generation as it should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationPlan {
    /// Generation number.
    pub generation: u32,
    /// Shard total.
    pub shard_total: u32,
    /// Shards each pod runs.
    pub shards_per_pod: u32,
    /// Pods: `⌈shard_total / shards_per_pod⌉`.
    pub replicas: u32,
}

impl GenerationPlan {
    fn new(generation: u32, shard_total: u32, shards_per_pod: u32) -> Self {
        let shards_per_pod = shards_per_pod.clamp(1, shard_total.max(1));
        Self {
            generation,
            shard_total,
            shards_per_pod,
            replicas: shard_total.div_ceil(shards_per_pod),
        }
    }
}

/// The kind of decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nothing can be decided yet (inputs missing).
    Wait,
    /// Start the first generation.
    Start,
    /// Keep everything as it is.
    Hold,
    /// Change the pod count / shards per pod of the active generation (same shard total).
    Scale,
    /// Start (or keep starting) a generation with a new shard total beside the active one.
    Reshard,
    /// The new generation is Ready: make it active and retire the old one.
    Switch,
    /// A start or reshard the identify budget cannot pay for was refused.
    Refuse,
    /// The spec asks for something that cannot work; nothing was changed.
    RefuseSpec,
    /// A new generation did not become Ready before its deadline: it was scaled to 0 and the
    /// active generation kept, until the spec changes.
    ReshardTimedOut,
}

impl Action {
    /// The name used in status, Events and metric labels.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wait => "Wait",
            Self::Start => "StartGeneration",
            Self::Hold => "Hold",
            Self::Scale => "Scale",
            Self::Reshard => "Reshard",
            Self::Switch => "SwitchGeneration",
            Self::Refuse => "RefuseReshard",
            Self::RefuseSpec => "RefuseSpec",
            Self::ReshardTimedOut => "ReshardTimedOut",
        }
    }
}

/// Why [`desired_state`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `session_start_limit.remaining` cannot pay for the start or reshard. The running
    /// generation is still applied.
    IdentifyBudget,
    /// The shard total is below `⌈guilds / 2500⌉` (rounded up to `shards.multiple`): Discord
    /// would close every shard with 4011. Nothing is applied.
    TooFewShards {
        /// The shard total the spec allows.
        total: u32,
        /// The fewest shards the guilds need.
        needed: u32,
    },
    /// More than one pod without Redis (`spec.redis` unset): the pods cannot share the
    /// identify budget. Nothing is applied.
    NoRedis {
        /// The pods the spec calls for.
        pods: u32,
    },
}

impl Refusal {
    /// The condition reason.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::IdentifyBudget => "IdentifyBudgetExhausted",
            Self::TooFewShards { .. } => "ShardCountTooLow",
            Self::NoRedis { .. } => "RedisRequired",
        }
    }

    /// Objects are applied (the running generation as it is); `false`: nothing is applied or
    /// retired, the spec is not rolled out.
    #[must_use]
    pub fn applies(self) -> bool {
        matches!(self, Self::IdentifyBudget)
    }
}

/// The outcome of [`desired_state`].
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Phase to report.
    pub phase: Phase,
    /// The generation that answers interactions (and keeps running).
    pub active: Option<GenerationPlan>,
    /// A generation being brought up beside the active one.
    pub next: Option<GenerationPlan>,
    /// Generations to delete.
    pub retire: Vec<u32>,
    /// The shard total the inputs call for, when it could be computed.
    pub target_shards: Option<u32>,
    /// What was decided.
    pub action: Action,
    /// Why, in words.
    pub message: String,
    /// Autoscaling changed the pod count (restart the cooldown).
    pub scaled: bool,
    /// Why a start, reshard or the spec was refused, if it was.
    pub refusal: Option<Refusal>,
    /// On [`Action::Switch`]: the generation that served until now. The switch is recorded
    /// (status, retiring) only once Redis names the new generation; see
    /// [`after_store_write`].
    pub switch_from: Option<GenerationPlan>,
    /// The shard-total hysteresis state to keep in the status.
    pub shrink: Option<ShrinkWanted>,
    /// A generation to keep at 0 pods (a reshard given up): applied with `replicas: 0`.
    pub stopped: Option<GenerationPlan>,
    /// The reshard given up, to keep in the status (`None` clears it).
    pub failed: Option<FailedReshard>,
}

/// The shard total the inputs call for, with the reason, or why it cannot be computed.
///
/// `max(recommended, ⌈guilds / guilds_per_shard⌉, min)`, clamped to `max`, rounded up to the
/// shard multiple. Unknown guilds (no load) leave the guild term out: they are not zero. A
/// fixed count is used as given (the API server already checked it against `multiple` and
/// `max`). This is the raw target; [`desired_state`] adds hysteresis before shrinking.
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

fn auto_total(spec: &KyutaClusterSpec, gw: &GatewayInfo, guilds: Option<u64>) -> (u32, String) {
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
struct Settled {
    total: u32,
    note: Option<String>,
    shrink: Option<ShrinkWanted>,
}

/// Hysteresis of the shard total. Growing is prompt. Going below the serving total `active`
/// needs complete load from an all-Ready generation, a total that still fits the guilds plus
/// [`SHARD_SHRINK_MARGIN`], and that smaller total wanted without a break for
/// [`SHARD_SHRINK_HOLD_SECS`]; then the shrink goes to the largest smaller total wanted in
/// that time. A fixed count, or a serving total the spec no longer allows (above `max`, not a
/// multiple of `multiple`), is followed at once. `in_flight` is the total of a reshard in
/// progress: incomplete load never cancels it.
#[allow(clippy::too_many_arguments)]
fn settle_total(
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

fn round_up(n: u32, multiple: u32) -> u32 {
    n.div_ceil(multiple).saturating_mul(multiple)
}

/// Shards per pod for a generation of `shard_total` shards, applying autoscaling when it is
/// on and load is known. Returns the shards per pod, whether autoscaling changed the pod count,
/// and a note.
fn shards_per_pod(
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
    let spp = shard_total.div_ceil(wanted);
    let pods = shard_total.div_ceil(spp);
    if pods == now_pods {
        return keep(format!(
            "{per_pod:.0} events/s per pod (target {target:.0}) but the pod count is at its bound"
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

/// What the fleet should be.
///
/// - Shard total per [`shard_total`]; pods = `⌈total / shards_per_pod⌉`, with autoscaling of
///   the pod count (hysteresis [`SCALE_TOLERANCE`] and a cooldown).
/// - More than one pod without Redis is refused ([`Refusal::NoRedis`]).
/// - A changed shard total starts generation N+1 beside N; N is retired only once every pod of
///   N+1 is Ready. A start or reshard that `session_start_limit.remaining` cannot pay for is
///   refused whole: nothing new is started.
///
/// A generation Redis names as active ([`Current::store`]) is never retired: on a switch the
/// old generation is retired by a later reconcile, once Redis names the new one. While Redis
/// cannot be read nothing is retired and no switch is made.
#[must_use]
pub fn desired_state(
    spec: &KyutaClusterSpec,
    gateway: Option<&GatewayInfo>,
    load: &Load,
    current: &Current,
) -> Desired {
    let mut d = refuse_without_redis(spec, decide(spec, gateway, load, current), current);
    match current.store {
        StoreActive::NoStore | StoreActive::Names(None) => {}
        StoreActive::Unknown => {
            if !d.retire.is_empty() {
                d.message.push_str(&format!(
                    "; generation(s) {:?} are kept while Redis cannot be read",
                    d.retire
                ));
                d.retire.clear();
            }
        }
        StoreActive::Names(Some(named)) => d.retire.retain(|g| *g != named),
    }
    d
}

/// Turns the decision back when recording its active generation in Redis failed
/// (`write` is the error): a switch is not made (the old generation stays active and nothing
/// is retired), so the status never names a generation Redis does not.
#[must_use]
pub fn after_store_write(mut desired: Desired, write: Result<(), &str>) -> Desired {
    let Err(e) = write else {
        return desired;
    };
    match (desired.action, desired.switch_from, desired.active) {
        (Action::Switch, Some(from), Some(to)) => Desired {
            phase: Phase::Resharding,
            active: Some(from),
            next: Some(to),
            retire: vec![],
            target_shards: desired.target_shards,
            action: Action::Reshard,
            message: format!(
                "generation {} ({} shards) is Ready, but naming it active in Redis failed ({e}): generation {} keeps answering and the switch is retried",
                to.generation, to.shard_total, from.generation
            ),
            scaled: false,
            refusal: None,
            switch_from: None,
            shrink: desired.shrink,
            stopped: None,
            failed: desired.failed,
        },
        (_, _, active) => {
            if let Some(a) = active {
                desired.message.push_str(&format!(
                    "; naming generation {} active in Redis failed: {e}",
                    a.generation
                ));
            }
            desired
        }
    }
}

/// The generation that serves now: the one the status names, else (none named, or it is gone)
/// the newest fully Ready one, else the newest.
fn serving(current: &Current) -> Option<GenerationState> {
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

fn plan_of(g: &GenerationState) -> GenerationPlan {
    GenerationPlan {
        generation: g.generation,
        shard_total: g.shard_total,
        shards_per_pod: g.shards_per_pod,
        replicas: g.replicas,
    }
}

/// Refuses more than one pod without Redis: pods without Redis cannot share Discord's
/// identify rate limit (nor sessions, load or dedupe), so several of them identify at once and
/// Discord refuses them.
fn refuse_without_redis(spec: &KyutaClusterSpec, d: Desired, current: &Current) -> Desired {
    if spec.redis.is_some() || d.refusal.is_some_and(|r| !r.applies()) {
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
    Desired {
        phase: Phase::Degraded,
        active: running.as_ref().map(plan_of),
        next: None,
        retire: vec![],
        target_shards: d.target_shards,
        action: Action::RefuseSpec,
        message: format!(
            "refused: {pods} pods without Redis (spec.redis is not set) cannot share Discord's identify budget; \
             set spec.redis, or run every shard in one pod (shardsPerPod ≥ the shard total, autoscaling off); {keep}"
        ),
        scaled: false,
        refusal: Some(Refusal::NoRedis { pods }),
        switch_from: None,
        shrink: current.shrink,
        stopped: None,
        failed: current.failed.clone(),
    }
}

fn decide(
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
                active: None,
                next: None,
                retire: vec![],
                target_shards: Some(total),
                action: Action::Refuse,
                message: budget_message(total, gw, "start"),
                scaled: false,
                refusal: Some(Refusal::IdentifyBudget),
                switch_from: None,
                shrink: None,
                stopped: None,
                failed: None,
            };
        }
        let (spp, _, note) = shards_per_pod(spec, total, load, None, current);
        let plan = GenerationPlan::new(next_number, total, spp);
        return Desired {
            phase: Phase::Starting,
            active: Some(plan),
            next: None,
            retire: vec![],
            target_shards: Some(total),
            action: Action::Start,
            message: join(
                format!(
                    "{why}; starting generation {} with {} pods of {} shards",
                    plan.generation, plan.replicas, plan.shards_per_pod
                ),
                note,
            ),
            scaled: false,
            refusal: None,
            switch_from: None,
            shrink: None,
            stopped: None,
            failed: None,
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
            next: None,
            retire,
            target_shards: target_known.then_some(total),
            action,
            message,
            scaled: scaled && changed,
            refusal: None,
            switch_from: None,
            shrink,
            stopped: None,
            failed: None,
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
                scaled: false,
                refusal: None,
                switch_from: None,
                shrink,
                stopped: None,
                failed: None,
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
                next: None,
                retire,
                target_shards: Some(total),
                action: Action::ReshardTimedOut,
                message: format!("{why}; {}", failed.message),
                scaled: false,
                refusal: None,
                switch_from: None,
                shrink,
                stopped: Some(GenerationPlan {
                    replicas: 0,
                    ..next_plan
                }),
                failed: Some(failed),
            };
        }
        if next.all_ready() {
            retire.push(active.generation);
            retire.sort_unstable();
            return Desired {
                phase: Phase::Running,
                active: Some(next_plan),
                next: None,
                retire,
                target_shards: Some(total),
                action: Action::Switch,
                message: format!(
                    "{why}; generation {} ({} shards) is Ready: it now answers interactions; generation {} ({} shards) is retired once Redis names generation {}",
                    next.generation, total, active.generation, active.shard_total, next.generation
                ),
                scaled: false,
                refusal: None,
                switch_from: Some(active_plan),
                shrink,
                stopped: None,
                failed: None,
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
            scaled: false,
            refusal: None,
            switch_from: None,
            shrink,
            stopped: None,
            failed: None,
        };
    }

    let hold = |phase: Phase, action: Action, message: String, refused: bool| Desired {
        phase,
        active: Some(active_plan),
        next: None,
        retire: retire.clone(),
        target_shards: Some(total),
        action,
        message,
        scaled: false,
        refusal: refused.then_some(Refusal::IdentifyBudget),
        switch_from: None,
        shrink,
        stopped: None,
        failed: None,
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
        scaled: false,
        refusal: None,
        switch_from: None,
        shrink,
        stopped: None,
        failed: None,
    }
}

/// While a reshard stays given up: the active generation is kept at its shard total (pods
/// may still scale), the generation given up stays at 0 pods, nothing new is started, and
/// the status says why.
#[allow(clippy::too_many_arguments)]
fn hold_after_give_up(
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
        next: None,
        retire,
        target_shards: target_known.then_some(total),
        action: if changed {
            Action::Scale
        } else {
            Action::ReshardTimedOut
        },
        message: join(format!("{}; {why}", failed.message), note),
        scaled: scaled && changed,
        refusal: None,
        switch_from: None,
        shrink,
        stopped,
        failed: Some(failed.clone()),
    }
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
fn too_few_shards(
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
        next: None,
        retire: vec![],
        target_shards: Some(total),
        action: Action::RefuseSpec,
        message: format!(
            "refused: {limit}, but {guilds} guilds need at least {needed} shards \
             (Discord allows {MAX_GUILDS_PER_SHARD} guilds per shard and closes an overfull one \
             with 4011); raise it to {needed} or more; {keep}"
        ),
        scaled: false,
        refusal: Some(Refusal::TooFewShards { total, needed }),
        switch_from: None,
        shrink: current.shrink,
        stopped: None,
        failed: current.failed.clone(),
    })
}

fn wait(why: String) -> Desired {
    Desired {
        phase: Phase::Pending,
        active: None,
        next: None,
        retire: vec![],
        target_shards: None,
        action: Action::Wait,
        message: why,
        scaled: false,
        refusal: None,
        switch_from: None,
        shrink: None,
        stopped: None,
        failed: None,
    }
}

fn budget_message(total: u32, gw: &GatewayInfo, what: &str) -> String {
    let l = &gw.session_start_limit;
    format!(
        "refused to {what} {total} shards: Discord's session_start_limit has {} of {} identifies left \
         (resets in {}s) and {total} are needed; nothing was started",
        l.remaining,
        l.total,
        l.reset_after_ms.div_ceil(1000)
    )
}

fn join(head: String, note: Option<String>) -> String {
    match note {
        Some(n) => format!("{head}; {n}"),
        None => head,
    }
}
