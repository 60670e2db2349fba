//! Domain types shared by every [`Store`](super::Store) implementation.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since the Unix epoch (UTC).
///
/// Stored as a plain integer in both stores, so it sorts and compares in queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current wall-clock time.
    #[must_use]
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self(ms)
    }

    /// A timestamp from milliseconds since the Unix epoch.
    #[must_use]
    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down).
    #[must_use]
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The hour bucket (hours since the Unix epoch) this timestamp falls in, as used by the
    /// analytics counters.
    #[must_use]
    pub const fn hour(self) -> u64 {
        let h = self.0.div_euclid(3_600_000);
        if h < 0 { 0 } else { h as u64 }
    }

    /// This timestamp moved `d` later (saturating).
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// This timestamp moved `d` earlier (saturating).
    #[must_use]
    pub fn minus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(ms))
    }

    /// The time from `earlier` to `self`, zero when `earlier` is later.
    #[must_use]
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

// ---------------------------------------------------------------------------------------------
// Guild configuration
// ---------------------------------------------------------------------------------------------

/// The locale a guild gets when it has not chosen one.
pub const DEFAULT_LOCALE: &str = "en-US";

/// Per-guild settings. A guild that never saved anything gets [`GuildConfig::new`]'s defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildConfig {
    /// The guild these settings belong to.
    pub guild_id: u64,
    /// Prefix for text commands; `None` means the bot-wide default (`PREFIX`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Channel that receives mod-log embeds; `None` means no mod log.
    #[serde(default)]
    pub mod_log_channel: Option<u64>,
    /// Locale for the bot's replies (BCP 47, e.g. `en-US`).
    #[serde(default = "default_locale")]
    pub locale: String,
    /// Whether the target of a moderation action gets a DM before the action.
    #[serde(default = "default_true")]
    pub dm_on_action: bool,
    /// Warn escalation thresholds, applied in order; see [`EscalationRule`].
    #[serde(default)]
    pub escalation: Vec<EscalationRule>,
    /// Automod configuration. Owned by the automod module; the store keeps it verbatim.
    #[serde(default)]
    pub automod: serde_json::Value,
    /// Channels `/lockdown` locked, with what to restore on `/unlock`.
    #[serde(default)]
    pub lockdowns: Vec<Lockdown>,
    /// The server log (`/serverlog`): its channel and the kinds turned off.
    #[serde(default)]
    pub server_log: ServerLogSettings,
}

/// Where the server log goes and what it shows. No channel: no server log. With a channel,
/// every kind is on except those in `disabled`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerLogSettings {
    /// The log channel; `None` means no server log.
    #[serde(default)]
    pub channel_id: Option<u64>,
    /// The kinds turned off with `/serverlog disable`.
    #[serde(default)]
    pub disabled: Vec<ServerLogKind>,
}

impl ServerLogSettings {
    /// The channel to post `kind` in: the log channel, unless there is none or `kind` is off.
    #[must_use]
    pub fn channel_for(&self, kind: ServerLogKind) -> Option<u64> {
        self.channel_id.filter(|_| !self.disabled.contains(&kind))
    }
}

/// What the server log can show, each switchable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerLogKind {
    /// Message edits (before and after).
    Edits,
    /// Message deletes, one by one and in bulk.
    Deletes,
    /// Members joining.
    Joins,
    /// Members leaving (or kicked, or banned).
    Leaves,
    /// Nickname, role and avatar changes.
    Members,
    /// Channels created, changed, deleted.
    Channels,
    /// Roles created, changed, deleted.
    Roles,
}

impl ServerLogKind {
    /// Every kind, in the order `/serverlog show` lists them.
    pub const ALL: [Self; 7] = [
        Self::Edits,
        Self::Deletes,
        Self::Joins,
        Self::Leaves,
        Self::Members,
        Self::Channels,
        Self::Roles,
    ];

    /// The kind's name, as typed in `/serverlog enable` and stored.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Edits => "edits",
            Self::Deletes => "deletes",
            Self::Joins => "joins",
            Self::Leaves => "leaves",
            Self::Members => "members",
            Self::Channels => "channels",
            Self::Roles => "roles",
        }
    }
}

impl FromStr for ServerLogKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == t)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a server-log kind; use one of {}",
                    Self::ALL.map(Self::name).join(", ")
                )
            })
    }
}

/// A channel locked by `/lockdown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockdown {
    /// The channel.
    pub channel_id: u64,
    /// The `@everyone` overwrite the channel had before, `None` when it had none: `/unlock`
    /// puts exactly this back.
    pub previous: Option<OverwriteBits>,
    /// Who locked it.
    pub by: u64,
    /// When.
    pub at: Timestamp,
}

/// A permission overwrite's allowed and denied bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverwriteBits {
    /// Allowed.
    pub allow: u64,
    /// Denied.
    pub deny: u64,
}

fn default_locale() -> String {
    DEFAULT_LOCALE.to_owned()
}

const fn default_true() -> bool {
    true
}

impl GuildConfig {
    /// The prefix in use: the guild's own, else `default` (an empty stored prefix is none).
    #[must_use]
    pub fn prefix_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.prefix
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or(default)
    }

    /// The defaults for a guild that has not configured anything: no custom prefix, no mod
    /// log, locale `en-US`, DMs on action enabled, no escalation, automod `null`, no server
    /// log.
    #[must_use]
    pub fn new(guild_id: u64) -> Self {
        Self {
            guild_id,
            prefix: None,
            mod_log_channel: None,
            locale: default_locale(),
            dm_on_action: true,
            escalation: Vec::new(),
            automod: serde_json::Value::Null,
            lockdowns: Vec::new(),
            server_log: ServerLogSettings::default(),
        }
    }
}

/// One setting of a [`GuildConfig`]: the unit the store writes when settings change, so that
/// two edits of different settings at the same moment both survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuildField {
    /// [`GuildConfig::prefix`].
    Prefix,
    /// [`GuildConfig::mod_log_channel`].
    ModLogChannel,
    /// [`GuildConfig::locale`].
    Locale,
    /// [`GuildConfig::dm_on_action`].
    DmOnAction,
    /// [`GuildConfig::escalation`].
    Escalation,
    /// [`GuildConfig::automod`].
    Automod,
    /// [`GuildConfig::lockdowns`].
    Lockdowns,
    /// [`GuildConfig::server_log`].
    ServerLog,
}

impl GuildField {
    /// Every setting.
    pub const ALL: [Self; 8] = [
        Self::Prefix,
        Self::ModLogChannel,
        Self::Locale,
        Self::DmOnAction,
        Self::Escalation,
        Self::Automod,
        Self::Lockdowns,
        Self::ServerLog,
    ];

    /// The setting's stored name (its serde field name).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Prefix => "prefix",
            Self::ModLogChannel => "mod_log_channel",
            Self::Locale => "locale",
            Self::DmOnAction => "dm_on_action",
            Self::Escalation => "escalation",
            Self::Automod => "automod",
            Self::Lockdowns => "lockdowns",
            Self::ServerLog => "server_log",
        }
    }

    /// Copies this setting from `from` into `to`.
    pub fn copy(self, from: &GuildConfig, to: &mut GuildConfig) {
        match self {
            Self::Prefix => to.prefix.clone_from(&from.prefix),
            Self::ModLogChannel => to.mod_log_channel = from.mod_log_channel,
            Self::Locale => to.locale.clone_from(&from.locale),
            Self::DmOnAction => to.dm_on_action = from.dm_on_action,
            Self::Escalation => to.escalation.clone_from(&from.escalation),
            Self::Automod => to.automod.clone_from(&from.automod),
            Self::Lockdowns => to.lockdowns.clone_from(&from.lockdowns),
            Self::ServerLog => to.server_log.clone_from(&from.server_log),
        }
    }

    /// Whether `a` and `b` differ in this setting.
    #[must_use]
    pub fn differs(self, a: &GuildConfig, b: &GuildConfig) -> bool {
        match self {
            Self::Prefix => a.prefix != b.prefix,
            Self::ModLogChannel => a.mod_log_channel != b.mod_log_channel,
            Self::Locale => a.locale != b.locale,
            Self::DmOnAction => a.dm_on_action != b.dm_on_action,
            Self::Escalation => a.escalation != b.escalation,
            Self::Automod => a.automod != b.automod,
            Self::Lockdowns => a.lockdowns != b.lockdowns,
            Self::ServerLog => a.server_log != b.server_log,
        }
    }

    /// The settings in which `a` and `b` differ.
    #[must_use]
    pub fn changed(a: &GuildConfig, b: &GuildConfig) -> Vec<Self> {
        Self::ALL.into_iter().filter(|f| f.differs(a, b)).collect()
    }
}

/// "`warns` warnings within `within_secs` seconds → `action`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRule {
    /// Number of warn cases that triggers the rule.
    pub warns: u32,
    /// Window in seconds the warns must fall in.
    pub within_secs: u64,
    /// What happens when the threshold is reached.
    pub action: EscalationAction,
}

/// The action an [`EscalationRule`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EscalationAction {
    /// Time the member out for `secs` seconds.
    Timeout {
        /// Timeout length in seconds.
        secs: u64,
    },
    /// Kick the member.
    Kick,
    /// Ban the member.
    Ban,
}

impl EscalationAction {
    /// The kind of the case the escalation creates.
    #[must_use]
    pub const fn kind(self) -> ActionKind {
        match self {
            Self::Timeout { .. } => ActionKind::Timeout,
            Self::Kick => ActionKind::Kick,
            Self::Ban => ActionKind::Ban,
        }
    }

    /// How long the action lasts: the timeout's length; `None` for a kick or a ban.
    #[must_use]
    pub const fn duration(self) -> Option<Duration> {
        match self {
            Self::Timeout { secs } => Some(Duration::from_secs(secs)),
            Self::Kick | Self::Ban => None,
        }
    }

    /// Orders actions by severity: by [`ActionKind::severity`] (ban > kick > timeout), then
    /// timeouts by length.
    #[must_use]
    pub const fn severity(self) -> (u8, u64) {
        let secs = match self.duration() {
            Some(d) => d.as_secs(),
            None => 0,
        };
        (self.kind().severity(), secs)
    }
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

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
    pub(crate) fn validate(&self) -> Result<(), super::StoreError> {
        if self.idempotency_key.is_empty() {
            return Err(super::StoreError::invalid("case idempotency key is empty"));
        }
        if self.idempotency_key.len() > 256 {
            return Err(super::StoreError::invalid(
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

/// One change to a case ([`CaseStore::change_case`](super::CaseStore::change_case)).
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

/// Which cases [`list_cases`](super::CaseStore::list_cases) returns; `None` fields match all.
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

/// Largest page size [`list_cases`](super::CaseStore::list_cases) accepts.
pub const MAX_PER_PAGE: u32 = 100;

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

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
/// Every [`put_schedule`](super::ScheduleStore::put_schedule) on a slot bumps the generation, so an id
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
    type Err = super::StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || super::StoreError::invalid(format!("malformed schedule id {s:?}"));
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

// ---------------------------------------------------------------------------------------------
// Analytics
// ---------------------------------------------------------------------------------------------

/// One hourly analytics bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterBucket {
    /// Hours since the Unix epoch ([`Timestamp::hour`]).
    pub hour: u64,
    /// The counter's value for that hour.
    pub value: u64,
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
