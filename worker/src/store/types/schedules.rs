//! Schedules: timed actions (unbans, timeout renewals, …) held per (guild, user, kind)
//! slot, with the generation that makes a replaced one stale.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// What a schedule does when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Lift a tempban.
    Unban,
    /// Renew a timeout longer than Discord's 28-day cap.
    RenewTimeout,
}

impl ScheduleKind {
    /// The stable lowercase name used in storage and in [`ScheduleId`].
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ScheduleKind::Unban => "unban",
            ScheduleKind::RenewTimeout => "renew_timeout",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "unban" => Some(ScheduleKind::Unban),
            "renew_timeout" => Some(ScheduleKind::RenewTimeout),
            _ => None,
        }
    }
}

/// A schedule to store: one pending schedule exists per (guild, user, kind); putting a new one
/// replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchedule {
    /// Guild the action applies to.
    pub guild_id: u64,
    /// Member the action applies to.
    pub user_id: u64,
    /// What to do.
    pub kind: ScheduleKind,
    /// When to do it.
    pub due_at: Timestamp,
    /// The case that created the schedule.
    pub case_number: Option<u64>,
}

/// Identifies one schedule: its (guild, user, kind) slot and the generation of that slot.
///
/// Every [`put_schedule`](crate::store::ScheduleStore::put_schedule) on a slot bumps the generation, so an id
/// obtained before a replacement can never claim or complete the replacement. Displays as
/// `guild:user:kind#generation` and parses back with [`FromStr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduleId {
    /// Guild of the slot.
    pub guild_id: u64,
    /// User of the slot.
    pub user_id: u64,
    /// Kind of the slot.
    pub kind: ScheduleKind,
    /// Generation within the slot, from 1.
    pub generation: u64,
}

impl ScheduleId {
    /// The slot key `guild:user:kind` (without the generation).
    #[must_use]
    pub fn slot_key(&self) -> String {
        slot_key(self.guild_id, self.user_id, self.kind)
    }
}

/// The slot key `guild:user:kind` of a (guild, user, kind) triple.
#[must_use]
pub fn slot_key(guild_id: u64, user_id: u64, kind: ScheduleKind) -> String {
    format!("{guild_id}:{user_id}:{}", kind.as_str())
}

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}#{}",
            self.guild_id,
            self.user_id,
            self.kind.as_str(),
            self.generation
        )
    }
}

impl FromStr for ScheduleId {
    type Err = crate::store::StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || crate::store::StoreError::invalid(format!("malformed schedule id {s:?}"));
        let (slot, generation) = s.rsplit_once('#').ok_or_else(bad)?;
        let mut parts = slot.splitn(3, ':');
        let guild_id = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let user_id = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let kind = parts.next().and_then(ScheduleKind::parse).ok_or_else(bad)?;
        let generation = generation.parse().map_err(|_| bad())?;
        Ok(Self {
            guild_id,
            user_id,
            kind,
            generation,
        })
    }
}

/// How a completed schedule ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ScheduleOutcome {
    /// The action was carried out.
    Succeeded,
    /// Nothing to do (e.g. Discord says the ban is already gone); not an error.
    Skipped {
        /// Why it was skipped.
        reason: String,
    },
    /// The action failed for good; it will not be retried.
    Failed {
        /// Why it failed.
        error: String,
    },
}

/// Where a schedule is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScheduleState {
    /// Waiting for its due time.
    Pending,
    /// Claimed by `owner` until `lease_until`; after that another worker may claim it.
    Running {
        /// Who claimed it (e.g. the pod name).
        owner: String,
        /// When the claim lapses.
        lease_until: Timestamp,
    },
    /// Completed once by `owner`.
    Done {
        /// Who completed it.
        owner: String,
        /// How it ended.
        outcome: ScheduleOutcome,
        /// When it was completed.
        completed_at: Timestamp,
    },
    /// Cancelled (e.g. by an unban or a permanent ban) before it completed.
    Cancelled {
        /// When it was cancelled.
        cancelled_at: Timestamp,
    },
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Its id (slot + generation).
    pub id: ScheduleId,
    /// When it is due.
    pub due_at: Timestamp,
    /// The case that created it.
    pub case_number: Option<u64>,
    /// Where it is in its life.
    pub state: ScheduleState,
}

impl Schedule {
    /// Whether a worker may claim it at `now`: pending, or running with a lapsed lease.
    #[must_use]
    pub fn claimable_at(&self, now: Timestamp) -> bool {
        match &self.state {
            ScheduleState::Pending => true,
            ScheduleState::Running { lease_until, .. } => *lease_until < now,
            _ => false,
        }
    }

    /// Whether it is due at `now` and claimable.
    #[must_use]
    pub fn due_at_time(&self, now: Timestamp) -> bool {
        self.due_at <= now && self.claimable_at(now)
    }
}

/// A schedule as both stores keep it: one record per (guild, user, kind) slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScheduleRecord {
    pub guild_id: u64,
    pub user_id: u64,
    pub kind: ScheduleKind,
    pub generation: u64,
    pub due_at: Timestamp,
    #[serde(default)]
    pub case_number: Option<u64>,
    #[serde(flatten)]
    pub state: ScheduleState,
}

impl ScheduleRecord {
    pub(crate) fn id(&self) -> ScheduleId {
        ScheduleId {
            guild_id: self.guild_id,
            user_id: self.user_id,
            kind: self.kind,
            generation: self.generation,
        }
    }

    pub(crate) fn into_schedule(self) -> Schedule {
        Schedule {
            id: self.id(),
            due_at: self.due_at,
            case_number: self.case_number,
            state: self.state,
        }
    }
}
