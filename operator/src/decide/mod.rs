//! What the fleet should look like: a pure function of the spec, what Discord said, the load
//! the workers publish and what is running now. No I/O, no clock: the caller passes `now`.
//!
//! - [`shards`]: the shard total and its hysteresis;
//! - [`pods`]: shards per pod and autoscaling;
//! - [`deadline`]: a new generation's deadline, and the hold after a reshard is given up;
//! - [`load`]: the load the workers publish, and the close reasons it carries;
//! - `generation`: the decision among the generations (start, scale, reshard, switch).

use std::collections::BTreeMap;

use kyuta_crds::cluster::{GatewayInfo, KyutaClusterSpec, Phase};

pub mod deadline;
mod generation;
pub mod load;
pub mod pods;
pub mod shards;

pub use deadline::{
    FailedReshard, RESHARD_DEADLINE_BASE_SECS, reshard_deadline_from, reshard_deadline_secs,
};
pub use load::{CloseReason, GatewayClosed, Load, gateway_closed};
pub use pods::SCALE_TOLERANCE;
pub use shards::{
    SHARD_SHRINK_HOLD_SECS, SHARD_SHRINK_MARGIN, ShrinkWanted, needed_shards, shard_total,
};

use generation::decide;
use generation::{refuse_without_mongodb, refuse_without_redis};

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
    /// More than one pod without MongoDB (`spec.mongodb` unset) and without
    /// `storage: Ephemeral`: each pod would keep its cases on its own emptyDir. Nothing is
    /// applied.
    NoMongoDB {
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
            Self::NoMongoDB { .. } => "MongoDBRequired",
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

/// Nothing decided yet ([`Action::Wait`], `Pending`): no generation, nothing retired, no
/// refusal, no hysteresis state. Each decision fills in the fields it decides.
impl Default for Desired {
    fn default() -> Self {
        Self {
            phase: Phase::Pending,
            active: None,
            next: None,
            retire: Vec::new(),
            target_shards: None,
            action: Action::Wait,
            message: String::new(),
            scaled: false,
            refusal: None,
            switch_from: None,
            shrink: None,
            stopped: None,
            failed: None,
        }
    }
}

/// What the fleet should be.
///
/// - Shard total per [`shard_total`]; pods = `⌈total / shards_per_pod⌉`, with autoscaling of
///   the pod count (hysteresis [`SCALE_TOLERANCE`] and a cooldown).
/// - More than one pod without Redis is refused ([`Refusal::NoRedis`]), and so is more than
///   one pod without MongoDB unless the spec says `storage: Ephemeral` ([`Refusal::NoMongoDB`]).
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
    let d = refuse_without_redis(spec, decide(spec, gateway, load, current), current);
    let mut d = refuse_without_mongodb(spec, d, current);
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
            target_shards: desired.target_shards,
            action: Action::Reshard,
            message: format!(
                "generation {} ({} shards) is Ready, but naming it active in Redis failed ({e}): generation {} keeps answering and the switch is retried",
                to.generation, to.shard_total, from.generation
            ),
            shrink: desired.shrink,
            failed: desired.failed,
            ..Desired::default()
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

/// The plan that keeps a generation as it is.
fn plan_of(g: &GenerationState) -> GenerationPlan {
    GenerationPlan {
        generation: g.generation,
        shard_total: g.shard_total,
        shards_per_pod: g.shards_per_pod,
        replicas: g.replicas,
    }
}

/// `head; note`, or `head` alone.
fn join(head: String, note: Option<String>) -> String {
    match note {
        Some(n) => format!("{head}; {n}"),
        None => head,
    }
}
