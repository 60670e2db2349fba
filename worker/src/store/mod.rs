//! Persistent storage: guild configuration, moderation cases, schedules and analytics.
//!
//! Everything goes through the object-safe [`Store`] trait, used as `Arc<dyn Store>`. It is
//! made of one trait per concern ([`StoreBackend`], [`ConfigStore`], [`CaseStore`],
//! [`ScheduleStore`], [`AnalyticsStore`]; see [`Store`] for where each lives). Two
//! implementations keep the same contract (checked by one test suite that runs against both):
//!
//! - [`EmbeddedStore`]: a single [redb](https://docs.rs/redb) file, no server. Every write is
//!   one redb transaction, so a case number and its case are committed together or not at all.
//! - [`MongoStore`]: MongoDB or FerretDB (1.24 or later). It uses only what FerretDB supports
//!   (plain CRUD, `findAndModify` with upsert, unique compound indexes; no transactions, TTL
//!   indexes, change streams or `bulkWrite`), and because FerretDB's in-place updates are not
//!   isolated between clients, everything that must happen once rests on inserts into unique
//!   indexes.
//!
//! # Guarantees
//! - Case numbers are per guild, start at 1, are unique and never reused, also with several
//!   processes writing at once. The embedded store never leaves gaps; the MongoDB store can
//!   leave a gap only when a process dies (or the server fails) between taking a number and
//!   writing the case, or when two requests with the same idempotency key race (see
//!   [`MongoStore`]).
//! - `create_case` is idempotent by [`NewCase::idempotency_key`].
//! - A schedule is claimed by exactly one worker at a time and completed at most once; a
//!   replaced or cancelled schedule can no longer be claimed or completed.
//! - When the store cannot be reached, operations fail fast with
//!   [`StoreErrorKind::Unavailable`] and nothing is half-written; a store that stops
//!   answering fails the same way after a deadline ([`Deadline`], applied by [`open`]).

mod deadline;
mod embedded;
mod error;
mod mongo;
mod types;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use deadline::{DEFAULT_DEADLINE, Deadline};
pub use embedded::EmbeddedStore;
pub use error::{StoreError, StoreErrorKind};
pub use mongo::{MongoOptions, MongoStore};
pub use types::*;

/// File name of the embedded store when no path is configured (relative to the working
/// directory).
pub const DEFAULT_EMBEDDED_PATH: &str = "kyuta.redb";

/// Which schedules [`ScheduleStore::due_schedules`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DueScope {
    /// Every guild.
    #[default]
    All,
    /// Only guilds whose shard (`(guild_id >> 22) % total`) lies in `range`: the shards this
    /// worker runs.
    Shards {
        /// Total shard count.
        total: u32,
        /// The shards owned.
        range: Range<u32>,
    },
}

impl DueScope {
    /// Whether `guild_id` is in scope.
    #[must_use]
    pub fn contains(&self, guild_id: u64) -> bool {
        match self {
            DueScope::All => true,
            DueScope::Shards { total, range } => {
                *total > 0
                    && range.contains(&kyuta_crds::contract::shard_for_guild(guild_id, *total))
            }
        }
    }
}

/// The storage contract: every concern's trait at once, implemented for every type that
/// implements them all. Every method is atomic on its own; see the module docs for the
/// guarantees.
///
/// Callers hold an `Arc<dyn Store>` and call any method on it; code that needs only one
/// concern can take that concern's trait instead.
///
/// | Concern | Trait | Embedded (redb) | MongoDB |
/// |---|---|---|---|
/// | backend name, ping | [`StoreBackend`] | `embedded/mod.rs` | `mongo/mod.rs` |
/// | guild settings | [`ConfigStore`] | `embedded/configs.rs` | `mongo/configs.rs` |
/// | moderation cases | [`CaseStore`] | `embedded/cases.rs` | `mongo/cases.rs` |
/// | tempban / timeout schedules | [`ScheduleStore`] | `embedded/schedules.rs` | `mongo/schedules.rs` |
/// | hourly analytics counters | [`AnalyticsStore`] | `embedded/counters.rs` | `mongo/counters.rs` |
pub trait Store:
    StoreBackend + ConfigStore + CaseStore + ScheduleStore + AnalyticsStore + std::fmt::Debug
{
}

impl<T> Store for T where
    T: StoreBackend
        + ConfigStore
        + CaseStore
        + ScheduleStore
        + AnalyticsStore
        + std::fmt::Debug
        + ?Sized
{
}

/// Which store this is and whether it answers.
#[async_trait]
pub trait StoreBackend: Send + Sync {
    /// A short name of the implementation (`embedded` or `mongodb`), for logs and metrics.
    fn backend(&self) -> &'static str;

    /// Round-trips to the store and returns how long it took.
    async fn ping(&self) -> Result<Duration, StoreError>;
}

/// Guild settings ([`GuildConfig`]).
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// The guild's settings, or [`GuildConfig::new`]'s defaults when it has none stored.
    async fn guild_config(&self, guild_id: u64) -> Result<GuildConfig, StoreError>;

    /// Stores the guild's settings, replacing what was there.
    async fn put_guild_config(&self, config: &GuildConfig) -> Result<(), StoreError>;

    /// Stores the `fields` of `config` and leaves the guild's other settings as they are
    /// stored now (the defaults when it has none), in one atomic write: two edits of
    /// different settings at the same moment both survive.
    async fn put_guild_fields(
        &self,
        config: &GuildConfig,
        fields: &[GuildField],
    ) -> Result<(), StoreError>;
}

/// Moderation cases ([`Case`]): numbering, idempotent creation, outcomes, reason edits and
/// queries.
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Creates a case with the guild's next number. If a case with the same
    /// `(guild_id, idempotency_key)` exists, returns that case unchanged instead.
    async fn create_case(&self, case: NewCase) -> Result<Case, StoreError> {
        self.insert_case(case).await.map(|(case, _)| case)
    }

    /// [`CaseStore::create_case`], also saying whether this call created the case (`true`)
    /// or found one under the key (`false`, including when another process won a race for
    /// it). Whoever gets `true` is the one to carry the action out.
    async fn insert_case(&self, case: NewCase) -> Result<(Case, bool), StoreError>;

    /// The case `number` of the guild, if it exists.
    async fn get_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError>;

    /// The case created with `idempotency_key` in the guild, if any.
    async fn case_by_key(
        &self,
        guild_id: u64,
        idempotency_key: &str,
    ) -> Result<Option<Case>, StoreError>;

    /// Sets a case's outcome and returns the updated case ([`StoreErrorKind::NotFound`] when
    /// the case does not exist).
    async fn set_case_outcome(
        &self,
        guild_id: u64,
        number: u64,
        outcome: CaseOutcome,
    ) -> Result<Case, StoreError>;

    /// Replaces a case's reason, appending the previous one to its `reason_history`, and
    /// returns the updated case ([`StoreErrorKind::NotFound`] when it does not exist).
    async fn edit_case_reason(
        &self,
        guild_id: u64,
        number: u64,
        reason: Option<String>,
        editor_id: u64,
    ) -> Result<Case, StoreError>;

    /// Hides, unhides or deletes a case ([`Case::with_change`]), recording the change in its
    /// `changes`; returns the case as it is now ([`StoreErrorKind::NotFound`] when it does
    /// not exist). Atomic: of two concurrent deletes one is recorded.
    async fn change_case(
        &self,
        guild_id: u64,
        number: u64,
        change: CaseChange,
    ) -> Result<Case, StoreError>;

    /// One page (0-based `page`, `per_page` in `1..=`[`MAX_PER_PAGE`]) of the guild's cases
    /// matching `filter`, newest first, with the total count.
    async fn list_cases(
        &self,
        guild_id: u64,
        filter: &CaseFilter,
        page: u32,
        per_page: u32,
    ) -> Result<CasePage, StoreError>;

    /// How many cases of `kind` against `user_id` the guild has with `created_at >= since`
    /// (e.g. warns within an escalation window); deleted cases do not count.
    async fn count_cases(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ActionKind,
        since: Timestamp,
    ) -> Result<u64, StoreError>;
}

/// Schedules ([`Schedule`]): one per (guild, user, kind) slot, claimed under a lease and
/// completed at most once (tempban expiry, timeout renewal).
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Stores a pending schedule in its (guild, user, kind) slot, replacing whatever the slot
    /// held (a pending or running schedule there is superseded: its id can no longer claim or
    /// complete). Returns the new schedule with its id.
    async fn put_schedule(&self, schedule: NewSchedule) -> Result<Schedule, StoreError>;

    /// The schedule currently in the (guild, user, kind) slot, in whatever state.
    async fn get_schedule(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<Option<Schedule>, StoreError>;

    /// Cancels the pending or running schedule of the (guild, user, kind) slot; returns how
    /// many were cancelled (0 or 1). A cancelled schedule can no longer be claimed or
    /// completed.
    async fn cancel_schedules(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<u64, StoreError>;

    /// Up to `limit` schedules in `scope` that are due at `now` and claimable (pending, or
    /// running with a lapsed lease), earliest first.
    async fn due_schedules(
        &self,
        now: Timestamp,
        scope: &DueScope,
        limit: usize,
    ) -> Result<Vec<Schedule>, StoreError>;

    /// Atomically claims the schedule for `owner` for `lease`: succeeds (`true`) only if the
    /// schedule with exactly this id is pending, or running with a lapsed lease. Of many
    /// concurrent claimers exactly one wins.
    async fn claim_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError>;

    /// Marks the schedule done: succeeds (`true`) only if it is running and claimed by
    /// `owner` (also after the lease lapsed, as long as nobody re-claimed it). Completes at
    /// most once.
    async fn complete_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        outcome: ScheduleOutcome,
    ) -> Result<bool, StoreError>;
}

/// Per-guild analytics: one counter per (guild, metric, hour).
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Adds `by` to the guild's `metric` counter for `hour` (hours since the epoch,
    /// [`Timestamp::hour`]) and returns the new value.
    async fn incr_counter(
        &self,
        guild_id: u64,
        metric: &str,
        hour: u64,
        by: u64,
    ) -> Result<u64, StoreError>;

    /// The non-zero buckets of the guild's `metric` for hours in `from_hour..=to_hour`, in
    /// hour order.
    async fn counters(
        &self,
        guild_id: u64,
        metric: &str,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<CounterBucket>, StoreError>;
}

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// The embedded redb file at this path (created when missing).
    Embedded {
        /// Path of the file.
        path: PathBuf,
    },
    /// A MongoDB/FerretDB server.
    Mongo(MongoOptions),
}

impl StoreConfig {
    /// MongoDB when `mongo_uri` is set, else the embedded file at `path` (or
    /// [`DEFAULT_EMBEDDED_PATH`]).
    #[must_use]
    pub fn from_settings(mongo_uri: Option<String>, path: Option<PathBuf>) -> Self {
        match mongo_uri {
            Some(uri) if !uri.trim().is_empty() => StoreConfig::Mongo(MongoOptions::new(uri)),
            _ => StoreConfig::Embedded {
                path: path.unwrap_or_else(|| PathBuf::from(DEFAULT_EMBEDDED_PATH)),
            },
        }
    }
}

/// Opens the configured store (creating files and indexes as needed), with a deadline of
/// [`DEFAULT_DEADLINE`] on every operation ([`Deadline`]).
pub async fn open(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    let inner: Arc<dyn Store> = match config {
        StoreConfig::Embedded { path } => Arc::new(EmbeddedStore::open(path.clone()).await?),
        StoreConfig::Mongo(opts) => Arc::new(MongoStore::connect(opts.clone()).await?),
    };
    Ok(Arc::new(Deadline::new(inner, DEFAULT_DEADLINE)))
}

/// Checks a page request and returns (skip, limit).
pub(crate) fn page_bounds(page: u32, per_page: u32) -> Result<(u64, u64), StoreError> {
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(StoreError::invalid(format!(
            "per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}"
        )));
    }
    Ok((u64::from(page) * u64::from(per_page), u64::from(per_page)))
}

/// Checks a metric name: 1–64 bytes of `[A-Za-z0-9_.:-]`.
pub(crate) fn validate_metric(metric: &str) -> Result<(), StoreError> {
    if metric.is_empty()
        || metric.len() > 64
        || !metric
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        return Err(StoreError::invalid(format!(
            "metric name {metric:?} must be 1-64 characters of letters, digits, _ . : -"
        )));
    }
    Ok(())
}
