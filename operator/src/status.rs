//! The status a reconcile writes: a pure function of the previous status, what was observed
//! and what was decided, with typed condition reasons. Table-tested like `decide`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kyuta_crds::cluster::{
    DecisionStatus, FailedReshardStatus, GatewayInfo, KyutaClusterStatus, Phase, ReshardStatus,
    ShrinkStatus, conditions,
};

use crate::decide::{CloseReason, Desired, GenerationState, Refusal};
use crate::gateway::GatewayError;

/// The reason of a condition, as the status spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Ready: every shard of the active generation is Ready.
    AllShardsReady,
    /// Ready false: some shards are not Ready.
    ShardsNotReady,
    /// Resharding: a new generation is starting.
    GenerationStarting,
    /// Resharding false: nothing in progress.
    Idle,
    /// Resharding false: the identify budget cannot pay for a reshard.
    InsufficientIdentifyBudget,
    /// A reshard was given up at its deadline.
    ReshardTimedOut,
    /// Degraded false.
    AsExpected,
    /// The token Secret does not exist.
    SecretMissing,
    /// The token Secret has no such key.
    SecretKeyMissing,
    /// A connection has neither `url` nor `secretRef`.
    InvalidSpec,
    /// Redis cannot be reached.
    RedisUnavailable,
    /// Naming the active generation in Redis failed.
    RedisWriteFailed,
    /// Discord refused the token.
    TokenInvalid,
    /// `discord.apiUrl` is not a usable URL.
    BadDiscordUrl,
    /// Discord could not be reached.
    DiscordUnavailable,
    /// The spec was refused (see [`Refusal`]).
    Refused(Refusal),
    /// Discord closed workers' shards for good (see [`CloseReason`]).
    Closed(CloseReason),
}

impl Reason {
    /// The reason as written in the condition.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllShardsReady => "AllShardsReady",
            Self::ShardsNotReady => "ShardsNotReady",
            Self::GenerationStarting => "GenerationStarting",
            Self::Idle => "Idle",
            Self::InsufficientIdentifyBudget => "InsufficientIdentifyBudget",
            Self::ReshardTimedOut => "ReshardTimedOut",
            Self::AsExpected => "AsExpected",
            Self::SecretMissing => "SecretMissing",
            Self::SecretKeyMissing => "SecretKeyMissing",
            Self::InvalidSpec => "InvalidSpec",
            Self::RedisUnavailable => "RedisUnavailable",
            Self::RedisWriteFailed => "RedisWriteFailed",
            Self::TokenInvalid => "TokenInvalid",
            Self::BadDiscordUrl => "BadDiscordUrl",
            Self::DiscordUnavailable => "DiscordUnavailable",
            Self::Refused(r) => r.reason(),
            Self::Closed(c) => c.as_str(),
        }
    }
}

impl From<&GatewayError> for Reason {
    fn from(e: &GatewayError) -> Self {
        match e {
            GatewayError::Unauthorized => Self::TokenInvalid,
            GatewayError::BadUrl(_) => Self::BadDiscordUrl,
            GatewayError::Unavailable(_) => Self::DiscordUnavailable,
        }
    }
}

/// An input problem that needs a person (condition `Degraded`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degraded {
    /// Why.
    pub reason: Reason,
    /// What exactly, for the condition's message.
    pub message: String,
}

impl Degraded {
    /// A problem with `reason`, described by `message`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// What the status is made from.
#[derive(Debug, Clone)]
pub struct StatusInput<'a> {
    /// The status before this reconcile.
    pub old: &'a KyutaClusterStatus,
    /// What was decided (after the store write).
    pub desired: &'a Desired,
    /// The input problem seen in this reconcile, if any.
    pub degraded: Option<&'a Degraded>,
    /// Ready shards of the active generation.
    pub ready: u32,
    /// The generations observed.
    pub generations: &'a [GenerationState],
    /// Gateway info read in this reconcile.
    pub gateway: Option<&'a GatewayInfo>,
    /// The spec's `metadata.generation`.
    pub observed: Option<i64>,
    /// Now.
    pub now: Timestamp,
}

/// Why the cluster is Degraded, if it is: an input problem first, then a refused spec, then
/// a reshard given up.
#[must_use]
pub fn degraded_reason(input: &StatusInput<'_>) -> Option<(Reason, String)> {
    let desired = input.desired;
    input
        .degraded
        .map(|d| (d.reason, d.message.clone()))
        .or_else(|| {
            desired
                .refusal
                .map(|r| (Reason::Refused(r), desired.message.clone()))
        })
        .or_else(|| {
            desired
                .failed
                .as_ref()
                .map(|f| (Reason::ReshardTimedOut, f.message.clone()))
        })
}

/// The status to write.
#[must_use]
pub fn status(input: &StatusInput<'_>) -> KyutaClusterStatus {
    let StatusInput {
        old,
        desired,
        ready,
        observed,
        ..
    } = *input;
    let now = Time(input.now);
    let active = desired.active;
    let total = active.map_or(0, |a| a.shard_total);
    let next = desired.next.map(|n| {
        let seen = input
            .generations
            .iter()
            .find(|g| g.generation == n.generation);
        ReshardStatus {
            generation: n.generation,
            shards: n.shard_total,
            replicas: n.replicas,
            ready_replicas: seen.map_or(0, |g| g.ready_replicas),
        }
    });
    let phase = if input.degraded.is_some() && desired.phase != Phase::Resharding {
        Phase::Degraded
    } else {
        desired.phase
    };
    let condition = |type_: &str, status: bool, reason: Reason, message: &str| {
        condition(
            &old.conditions,
            type_,
            status,
            reason,
            message,
            observed,
            &now,
        )
    };
    let all_ready = total > 0 && ready == total;
    let ready_condition = condition(
        conditions::READY,
        all_ready,
        if all_ready {
            Reason::AllShardsReady
        } else {
            Reason::ShardsNotReady
        },
        &format!("{ready}/{total} shards Ready"),
    );
    let resharding = match (&next, desired.refusal.filter(|_| active.is_some())) {
        (Some(n), _) => condition(
            conditions::RESHARDING,
            true,
            Reason::GenerationStarting,
            &format!(
                "generation {} ({} shards): {}/{} pods Ready",
                n.generation, n.shards, n.ready_replicas, n.replicas
            ),
        ),
        (None, Some(refusal)) => condition(
            conditions::RESHARDING,
            false,
            match refusal {
                Refusal::IdentifyBudget => Reason::InsufficientIdentifyBudget,
                other => Reason::Refused(other),
            },
            &desired.message,
        ),
        (None, None) => match &desired.failed {
            Some(f) => condition(
                conditions::RESHARDING,
                false,
                Reason::ReshardTimedOut,
                &f.message,
            ),
            None => condition(
                conditions::RESHARDING,
                false,
                Reason::Idle,
                "no reshard in progress",
            ),
        },
    };
    let degraded = match degraded_reason(input) {
        Some((reason, message)) => condition(conditions::DEGRADED, true, reason, &message),
        None => condition(
            conditions::DEGRADED,
            false,
            Reason::AsExpected,
            "inputs are available and the decision could be carried out",
        ),
    };
    let decision_changed = old
        .last_decision
        .as_ref()
        .is_none_or(|d| d.action != desired.action.as_str() || d.message != desired.message);
    let at = |unix: i64| Timestamp::from_second(unix).map_or(now.clone(), Time);
    KyutaClusterStatus {
        observed_generation: observed,
        phase,
        shards: total,
        generation: active.map_or(old.generation, |a| a.generation),
        replicas: active.map_or(0, |a| a.replicas),
        shards_per_pod: active.map_or(0, |a| a.shards_per_pod),
        ready_shards: ready,
        resharding: next,
        conditions: vec![ready_condition, resharding, degraded],
        gateway: input.gateway.cloned().or_else(|| old.gateway.clone()),
        last_decision: Some(DecisionStatus {
            action: desired.action.as_str().into(),
            message: desired.message.clone(),
            time: if decision_changed {
                Some(now.clone())
            } else {
                old.last_decision.as_ref().and_then(|d| d.time.clone())
            },
        }),
        last_scale_time: if desired.scaled {
            Some(now.clone())
        } else {
            old.last_scale_time.clone()
        },
        failed_reshard: desired.failed.as_ref().map(|f| FailedReshardStatus {
            generation: f.generation,
            shards: f.shards,
            spec_generation: f.spec_generation,
            message: f.message.clone(),
            time: at(f.at),
        }),
        shrink_wanted: desired.shrink.map(|w| ShrinkStatus {
            shards: w.shards,
            since: at(w.since),
        }),
    }
}

/// A condition that keeps its `lastTransitionTime` while its status does not change.
fn condition(
    old: &[Condition],
    type_: &str,
    status: bool,
    reason: Reason,
    message: &str,
    observed: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let last_transition_time = match old.iter().find(|c| c.type_ == type_) {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => now.clone(),
    };
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.as_str().to_owned(),
        message: message.to_owned(),
        observed_generation: observed,
        last_transition_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Action, FailedReshard, GenerationPlan};

    fn plan(generation: u32, shards: u32, per_pod: u32) -> GenerationPlan {
        GenerationPlan {
            generation,
            shard_total: shards,
            shards_per_pod: per_pod,
            replicas: shards.div_ceil(per_pod),
        }
    }

    fn desired(phase: Phase, action: Action) -> Desired {
        Desired {
            phase,
            active: Some(plan(1, 4, 2)),
            target_shards: Some(4),
            action,
            message: "holding".into(),
            ..Desired::default()
        }
    }

    fn at(unix: i64) -> Timestamp {
        Timestamp::from_second(unix).unwrap()
    }

    fn find<'a>(s: &'a KyutaClusterStatus, type_: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    /// `(name, desired, degraded, ready)` → `(phase, Ready reason, Resharding reason, Degraded
    /// reason)`.
    type Case<'a> = (
        &'a str,
        Desired,
        Option<&'a Degraded>,
        u32,
        (Phase, &'a str, &'a str, &'a str),
    );

    #[test]
    fn conditions_and_phase() {
        let old = KyutaClusterStatus::default();
        let resharding = Desired {
            next: Some(plan(2, 8, 2)),
            ..desired(Phase::Resharding, Action::Reshard)
        };
        let refused = Desired {
            refusal: Some(Refusal::TooFewShards {
                total: 2,
                needed: 4,
            }),
            message: "too few".into(),
            ..desired(Phase::Running, Action::RefuseSpec)
        };
        let budget = Desired {
            refusal: Some(Refusal::IdentifyBudget),
            ..desired(Phase::Running, Action::Refuse)
        };
        let timed_out = Desired {
            failed: Some(FailedReshard {
                generation: 2,
                shards: 8,
                spec_generation: Some(3),
                message: "pods never Ready: kyuta-g2-0".into(),
                at: 100,
            }),
            ..desired(Phase::Running, Action::ReshardTimedOut)
        };
        let redis = Degraded::new(Reason::RedisUnavailable, "cannot reach Redis");
        let cases: Vec<Case<'_>> = vec![
            (
                "all Ready",
                desired(Phase::Running, Action::Hold),
                None,
                4,
                (Phase::Running, "AllShardsReady", "Idle", "AsExpected"),
            ),
            (
                "some shards not Ready",
                desired(Phase::Running, Action::Hold),
                None,
                3,
                (Phase::Running, "ShardsNotReady", "Idle", "AsExpected"),
            ),
            (
                "an input problem makes the phase Degraded",
                desired(Phase::Running, Action::Hold),
                Some(&redis),
                4,
                (
                    Phase::Degraded,
                    "AllShardsReady",
                    "Idle",
                    "RedisUnavailable",
                ),
            ),
            (
                "but never hides a reshard in progress",
                resharding,
                Some(&redis),
                4,
                (
                    Phase::Resharding,
                    "AllShardsReady",
                    "GenerationStarting",
                    "RedisUnavailable",
                ),
            ),
            (
                "a refused spec says why, in Resharding and Degraded",
                refused,
                None,
                4,
                (
                    Phase::Running,
                    "AllShardsReady",
                    "ShardCountTooLow",
                    "ShardCountTooLow",
                ),
            ),
            (
                "a reshard the budget cannot pay for",
                budget,
                None,
                4,
                (
                    Phase::Running,
                    "AllShardsReady",
                    "InsufficientIdentifyBudget",
                    "IdentifyBudgetExhausted",
                ),
            ),
            (
                "a reshard given up",
                timed_out,
                None,
                4,
                (
                    Phase::Running,
                    "AllShardsReady",
                    "ReshardTimedOut",
                    "ReshardTimedOut",
                ),
            ),
        ];
        for (name, desired, degraded, ready, want) in cases {
            let s = status(&StatusInput {
                old: &old,
                desired: &desired,
                degraded,
                ready,
                generations: &[],
                gateway: None,
                observed: Some(3),
                now: at(1000),
            });
            let got = (
                s.phase,
                find(&s, conditions::READY).reason.as_str(),
                find(&s, conditions::RESHARDING).reason.as_str(),
                find(&s, conditions::DEGRADED).reason.as_str(),
            );
            assert_eq!(got, want, "{name}");
            assert!(
                s.conditions
                    .iter()
                    .all(|c| c.observed_generation == Some(3)),
                "{name}"
            );
        }
    }

    #[test]
    fn transition_times_and_decision_times_move_only_on_change() {
        let d = desired(Phase::Running, Action::Hold);
        let input = |old: &KyutaClusterStatus, ready: u32, now: i64| -> KyutaClusterStatus {
            status(&StatusInput {
                old,
                desired: &d,
                degraded: None,
                ready,
                generations: &[],
                gateway: None,
                observed: Some(1),
                now: at(now),
            })
        };
        let first = input(&KyutaClusterStatus::default(), 4, 100);
        let same = input(&first, 4, 200);
        assert_eq!(
            find(&same, conditions::READY).last_transition_time,
            Time(at(100))
        );
        assert_eq!(
            same.last_decision.as_ref().unwrap().time,
            Some(Time(at(100)))
        );
        let changed = input(&same, 3, 300);
        assert_eq!(
            find(&changed, conditions::READY).last_transition_time,
            Time(at(300))
        );
        assert_eq!(
            find(&changed, conditions::DEGRADED).last_transition_time,
            Time(at(100)),
            "Degraded did not change"
        );
    }

    #[test]
    fn figures_come_from_the_plans() {
        let d = Desired {
            next: Some(plan(2, 8, 2)),
            scaled: true,
            ..desired(Phase::Resharding, Action::Reshard)
        };
        let observed = [GenerationState {
            generation: 2,
            shard_total: 8,
            shards_per_pod: 2,
            replicas: 4,
            ready_replicas: 3,
            rolled_out: true,
            created_at: None,
        }];
        let s = status(&StatusInput {
            old: &KyutaClusterStatus::default(),
            desired: &d,
            degraded: None,
            ready: 4,
            generations: &observed,
            gateway: None,
            observed: Some(1),
            now: at(50),
        });
        assert_eq!(
            (s.shards, s.replicas, s.shards_per_pod, s.generation),
            (4, 2, 2, 1)
        );
        let r = s.resharding.unwrap();
        assert_eq!(
            (r.generation, r.shards, r.replicas, r.ready_replicas),
            (2, 8, 4, 3)
        );
        assert_eq!(s.last_scale_time, Some(Time(at(50))));
    }
}
