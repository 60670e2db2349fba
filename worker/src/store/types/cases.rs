//! Moderation cases: what a new case asks for, what is stored, its changes, and the
//! filters and pages it is listed by.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// What a case records: the action's kind, stored under its [`ActionKind::as_str`] name.
pub use crate::action::ActionKind;

/// Whether the action a case records has been carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CaseOutcome {
    /// Recorded; the Discord call has not finished yet.
    Pending,
    /// Discord accepted the action.
    Applied,
    /// The action failed; `error` says why.
    Failed {
        /// A human-readable reason.
        error: String,
    },
}

/// A case to create. The store assigns the number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    /// Guild the action happened in.
    pub guild_id: u64,
    /// Unique per guild: a second `create_case` with the same key returns the first case
    /// instead of creating another (use the interaction id, the message id, or a key derived
    /// from the schedule/escalation that caused the case).
    pub idempotency_key: String,
    /// What happened.
    pub kind: ActionKind,
    /// The member acted upon.
    pub user_id: u64,
    /// The moderator (the bot's own id for automatic actions).
    pub moderator_id: u64,
    /// The reason, if any.
    pub reason: Option<String>,
    /// Length of a temporary action in seconds.
    pub duration_secs: Option<u64>,
    /// Initial outcome (usually [`CaseOutcome::Pending`]).
    pub outcome: CaseOutcome,
    /// Numbers of related cases (e.g. the warns an escalation answered).
    pub references: Vec<u64>,
    /// Automod evidence (matched rule, message excerpt, …); opaque to the store.
    pub evidence: Option<serde_json::Value>,
    /// When the action happened.
    pub created_at: Timestamp,
}

impl NewCase {
    /// A pending case created now, with no reason, duration, references or evidence.
    #[must_use]
    pub fn new(
        guild_id: u64,
        idempotency_key: impl Into<String>,
        kind: ActionKind,
        user_id: u64,
        moderator_id: u64,
    ) -> Self {
        Self {
            guild_id,
            idempotency_key: idempotency_key.into(),
            kind,
            user_id,
            moderator_id,
            reason: None,
            duration_secs: None,
            outcome: CaseOutcome::Pending,
            references: Vec::new(),
            evidence: None,
            created_at: Timestamp::now(),
        }
    }

    /// Sets the reason.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the duration in seconds.
    #[must_use]
    pub fn duration_secs(mut self, secs: u64) -> Self {
        self.duration_secs = Some(secs);
        self
    }

    /// Sets the referenced case numbers.
    #[must_use]
    pub fn references(mut self, refs: Vec<u64>) -> Self {
        self.references = refs;
        self
    }

    /// Sets the automod evidence.
    #[must_use]
    pub fn evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = Some(evidence);
        self
    }

    /// Sets the creation time.
    #[must_use]
    pub fn created_at(mut self, at: Timestamp) -> Self {
        self.created_at = at;
        self
    }

    /// Sets the initial outcome.
    #[must_use]
    pub fn outcome(mut self, outcome: CaseOutcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Checks the fields a store refuses: an empty or over-long idempotency key.
    pub(crate) fn validate(&self) -> Result<(), crate::store::StoreError> {
        if self.idempotency_key.is_empty() {
            return Err(crate::store::StoreError::invalid(
                "case idempotency key is empty",
            ));
        }
        if self.idempotency_key.len() > 256 {
            return Err(crate::store::StoreError::invalid(
                "case idempotency key is longer than 256 bytes",
            ));
        }
        Ok(())
    }

    /// The stored case this becomes under `number`.
    pub(crate) fn into_case(self, number: u64) -> Case {
        Case {
            guild_id: self.guild_id,
            number,
            idempotency_key: self.idempotency_key,
            kind: self.kind,
            user_id: self.user_id,
            moderator_id: self.moderator_id,
            reason: self.reason,
            duration_secs: self.duration_secs,
            created_at: self.created_at,
            outcome: self.outcome,
            references: self.references,
            reason_history: Vec::new(),
            evidence: self.evidence,
            hidden: false,
            voided: None,
            changes: Vec::new(),
        }
    }
}

/// One earlier version of a case's reason, kept when the reason is edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonEdit {
    /// The reason before the edit.
    pub previous: Option<String>,
    /// Who made the edit.
    pub editor_id: u64,
    /// When the edit was made.
    pub edited_at: Timestamp,
}

/// A stored moderation case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Guild the action happened in.
    pub guild_id: u64,
    /// Per-guild number, from 1, sequential, unique and never reused.
    pub number: u64,
    /// The key that made the creation idempotent.
    pub idempotency_key: String,
    /// What happened.
    pub kind: ActionKind,
    /// The member acted upon.
    pub user_id: u64,
    /// The moderator (the bot's own id for automatic actions).
    pub moderator_id: u64,
    /// The current reason.
    pub reason: Option<String>,
    /// Length of a temporary action in seconds.
    pub duration_secs: Option<u64>,
    /// When the action happened.
    pub created_at: Timestamp,
    /// Whether the action was carried out.
    pub outcome: CaseOutcome,
    /// Numbers of related cases.
    #[serde(default)]
    pub references: Vec<u64>,
    /// Earlier reasons, oldest first.
    #[serde(default)]
    pub reason_history: Vec<ReasonEdit>,
    /// Automod evidence; opaque to the store.
    #[serde(default)]
    pub evidence: Option<serde_json::Value>,
    /// Left out of `/cases` lists (`/case hide`); still counts towards escalation.
    #[serde(default)]
    pub hidden: bool,
    /// Set when the case was deleted (`/case delete`, `/warnings remove|clear`): it is kept,
    /// but no longer listed and no longer counted towards escalation.
    #[serde(default)]
    pub voided: Option<CaseVoid>,
    /// Every hide, unhide and delete, oldest first (the audit trail of the case).
    #[serde(default)]
    pub changes: Vec<CaseChange>,
}

/// Who deleted a case, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseVoid {
    /// The moderator.
    pub by: u64,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: Option<String>,
}

/// What a change did to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseChangeKind {
    /// Left out of lists.
    Hidden,
    /// Listed again.
    Unhidden,
    /// Deleted: no longer listed or counted.
    Voided,
}

/// One change to a case ([`CaseStore::change_case`](crate::store::CaseStore::change_case)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseChange {
    /// What changed.
    pub kind: CaseChangeKind,
    /// The moderator.
    pub by: u64,
    /// When.
    pub at: Timestamp,
    /// Why, when given.
    pub reason: Option<String>,
}

impl Case {
    /// `self` with `change` applied (what both stores do). Deleting a deleted case, hiding
    /// a hidden one or unhiding a listed one changes nothing and is not recorded.
    #[must_use]
    pub fn with_change(mut self, change: &CaseChange) -> Self {
        let applies = match change.kind {
            CaseChangeKind::Hidden => !self.hidden,
            CaseChangeKind::Unhidden => self.hidden,
            CaseChangeKind::Voided => self.voided.is_none(),
        };
        if !applies {
            return self;
        }
        match change.kind {
            CaseChangeKind::Hidden => self.hidden = true,
            CaseChangeKind::Unhidden => self.hidden = false,
            CaseChangeKind::Voided => {
                self.voided = Some(CaseVoid {
                    by: change.by,
                    at: change.at,
                    reason: change.reason.clone(),
                });
            }
        }
        self.changes.push(change.clone());
        self
    }
}

/// Which cases [`list_cases`](crate::store::CaseStore::list_cases) returns; `None` fields match all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Only cases against this user.
    pub user_id: Option<u64>,
    /// Only cases by this moderator.
    pub moderator_id: Option<u64>,
    /// Only cases of this kind.
    pub kind: Option<ActionKind>,
    /// Also hidden cases. Deleted cases are never listed.
    pub include_hidden: bool,
}

impl CaseFilter {
    /// Whether `case` passes the filter.
    #[must_use]
    pub fn matches(&self, case: &Case) -> bool {
        self.user_id.is_none_or(|u| case.user_id == u)
            && self.moderator_id.is_none_or(|m| case.moderator_id == m)
            && self.kind.is_none_or(|k| case.kind == k)
            && (self.include_hidden || !case.hidden)
            && case.voided.is_none()
    }
}

/// One page of cases, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePage {
    /// The cases on this page, highest number first.
    pub cases: Vec<Case>,
    /// How many cases match the filter in total (for "page x of y").
    pub total: u64,
}

/// Largest page size [`list_cases`](crate::store::CaseStore::list_cases) accepts.
pub const MAX_PER_PAGE: u32 = 100;
