//! The embedded store: one redb file, no server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ActionKind, Case, CaseFilter, CaseOutcome, CasePage, CounterBucket, DueScope, GuildConfig,
    GuildField, NewCase, NewSchedule, ReasonEdit, Schedule, ScheduleId, ScheduleKind,
    ScheduleOutcome, ScheduleRecord, ScheduleState, Store, StoreError, StoreErrorKind, Timestamp,
    page_bounds, slot_key, validate_metric,
};

/// guild → config (JSON).
const CONFIG: TableDefinition<u64, &[u8]> = TableDefinition::new("guild_config");
/// guild → last case number assigned.
const CASE_SEQ: TableDefinition<u64, u64> = TableDefinition::new("case_seq");
/// (guild, number) → case (JSON).
const CASES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("cases");
/// (guild, idempotency key) → number.
const CASE_KEYS: TableDefinition<(u64, &str), u64> = TableDefinition::new("case_keys");
/// (guild, user, number) → (): cases per user.
const CASES_BY_USER: TableDefinition<(u64, u64, u64), ()> = TableDefinition::new("cases_by_user");
/// "guild:user:kind" → schedule record (JSON).
const SCHEDULES: TableDefinition<&str, &[u8]> = TableDefinition::new("schedules");
/// (guild, metric, hour) → value.
const COUNTERS: TableDefinition<(u64, &str, u64), u64> = TableDefinition::new("counters");

/// The embedded [`Store`]: a single [redb](https://docs.rs/redb) file.
///
/// Every write is one redb write transaction (serialised, durable on commit), so the case
/// counter and the case are committed together: numbers have no gaps. redb calls run on
/// tokio's blocking pool. Only one process can open the file at a time; a second one gets
/// [`StoreErrorKind::Unavailable`].
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    let kind = match &e {
        redb::Error::Corrupted(_)
        | redb::Error::TableTypeMismatch { .. }
        | redb::Error::TypeDefinitionChanged { .. }
        | redb::Error::UpgradeRequired(_) => StoreErrorKind::Corrupt,
        redb::Error::ValueTooLarge(_) => StoreErrorKind::Invalid,
        _ => StoreErrorKind::Unavailable,
    };
    StoreError::new(kind, format!("embedded store: {e}")).with_source(e)
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value)
        .map_err(|e| StoreError::invalid(format!("cannot encode record: {e}")).with_source(e))
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::corrupt(format!("stored {what} is unreadable: {e}")).with_source(e)
    })
}

impl EmbeddedStore {
    /// Opens (or creates) the store file at `path` and its tables.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path: PathBuf = path.into();
        let p = path.clone();
        let db = tokio::task::spawn_blocking(move || Self::open_blocking(&p))
            .await
            .map_err(|e| StoreError::unavailable(format!("embedded store task failed: {e}")))??;
        Ok(Self {
            db: Arc::new(db),
            path: Arc::new(path),
        })
    }

    fn open_blocking(path: &Path) -> Result<Database, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::unavailable(format!(
                    "cannot create directory {} for the embedded store: {e}",
                    parent.display()
                ))
                .with_source(e)
            })?;
        }
        let db = Database::create(path).map_err(|e| {
            let err = db_err(e);
            StoreError::new(
                err.kind(),
                format!("cannot open {}: {}", path.display(), err.message()),
            )
        })?;
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(CONFIG).map_err(db_err)?;
        tx.open_table(CASE_SEQ).map_err(db_err)?;
        tx.open_table(CASES).map_err(db_err)?;
        tx.open_table(CASE_KEYS).map_err(db_err)?;
        tx.open_table(CASES_BY_USER).map_err(db_err)?;
        tx.open_table(SCHEDULES).map_err(db_err)?;
        tx.open_table(COUNTERS).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(db)
    }

    /// The file this store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError::unavailable(format!("embedded store task failed: {e}")))?
    }
}

fn read_case(
    table: &impl ReadableTable<(u64, u64), &'static [u8]>,
    guild_id: u64,
    number: u64,
) -> Result<Option<Case>, StoreError> {
    match table.get((guild_id, number)).map_err(db_err)? {
        Some(v) => Ok(Some(decode(v.value(), "case")?)),
        None => Ok(None),
    }
}

fn update_case(
    db: &Database,
    guild_id: u64,
    number: u64,
    change: impl FnOnce(&mut Case),
) -> Result<Case, StoreError> {
    let tx = db.begin_write().map_err(db_err)?;
    let case = {
        let mut cases = tx.open_table(CASES).map_err(db_err)?;
        let mut case = read_case(&cases, guild_id, number)?.ok_or_else(|| {
            StoreError::not_found(format!("case #{number} does not exist in guild {guild_id}"))
        })?;
        change(&mut case);
        cases
            .insert((guild_id, number), encode(&case)?.as_slice())
            .map_err(db_err)?;
        case
    };
    tx.commit().map_err(db_err)?;
    Ok(case)
}

fn read_schedule(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<ScheduleRecord>, StoreError> {
    match table.get(key).map_err(db_err)? {
        Some(v) => Ok(Some(decode(v.value(), "schedule")?)),
        None => Ok(None),
    }
}

/// Applies `change` to the slot's record inside one write transaction; `change` returns
/// whether it changed anything (only then is the record written).
fn update_schedule(
    db: &Database,
    key: &str,
    change: impl FnOnce(&mut ScheduleRecord) -> bool,
) -> Result<bool, StoreError> {
    let tx = db.begin_write().map_err(db_err)?;
    let changed = {
        let mut table = tx.open_table(SCHEDULES).map_err(db_err)?;
        match read_schedule(&table, key)? {
            Some(mut rec) => {
                let changed = change(&mut rec);
                if changed {
                    table
                        .insert(key, encode(&rec)?.as_slice())
                        .map_err(db_err)?;
                }
                changed
            }
            None => false,
        }
    };
    if changed {
        tx.commit().map_err(db_err)?;
    } else {
        tx.abort().map_err(db_err)?;
    }
    Ok(changed)
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> Result<Duration, StoreError> {
        let start = Instant::now();
        self.run(|db| {
            let tx = db.begin_read().map_err(db_err)?;
            let t = tx.open_table(CASE_SEQ).map_err(db_err)?;
            t.get(0).map_err(db_err)?;
            Ok(())
        })
        .await?;
        Ok(start.elapsed())
    }

    async fn guild_config(&self, guild_id: u64) -> Result<GuildConfig, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let t = tx.open_table(CONFIG).map_err(db_err)?;
            match t.get(guild_id).map_err(db_err)? {
                Some(v) => decode(v.value(), "guild config"),
                None => Ok(GuildConfig::new(guild_id)),
            }
        })
        .await
    }

    async fn put_guild_config(&self, config: &GuildConfig) -> Result<(), StoreError> {
        let bytes = encode(config)?;
        let guild_id = config.guild_id;
        self.run(move |db| {
            let tx = db.begin_write().map_err(db_err)?;
            tx.open_table(CONFIG)
                .map_err(db_err)?
                .insert(guild_id, bytes.as_slice())
                .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn put_guild_fields(
        &self,
        config: &GuildConfig,
        fields: &[GuildField],
    ) -> Result<(), StoreError> {
        let config = config.clone();
        let fields = fields.to_vec();
        self.run(move |db| {
            // redb runs one write transaction at a time: the read and the write below see no
            // other writer in between.
            let tx = db.begin_write().map_err(db_err)?;
            {
                let mut t = tx.open_table(CONFIG).map_err(db_err)?;
                let mut stored = match t.get(config.guild_id).map_err(db_err)? {
                    Some(v) => decode(v.value(), "guild config")?,
                    None => GuildConfig::new(config.guild_id),
                };
                for f in &fields {
                    f.copy(&config, &mut stored);
                }
                let bytes = encode(&stored)?;
                t.insert(config.guild_id, bytes.as_slice())
                    .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn insert_case(&self, case: NewCase) -> Result<(Case, bool), StoreError> {
        case.validate()?;
        self.run(move |db| {
            let tx = db.begin_write().map_err(db_err)?;
            let created = {
                let mut keys = tx.open_table(CASE_KEYS).map_err(db_err)?;
                let mut cases = tx.open_table(CASES).map_err(db_err)?;
                let existing = keys
                    .get((case.guild_id, case.idempotency_key.as_str()))
                    .map_err(db_err)?
                    .map(|v| v.value());
                if let Some(number) = existing {
                    let found = read_case(&cases, case.guild_id, number)?.ok_or_else(|| {
                        StoreError::corrupt(format!(
                            "idempotency key points at missing case #{number}"
                        ))
                    })?;
                    return Ok((found, false));
                }
                let mut seq = tx.open_table(CASE_SEQ).map_err(db_err)?;
                let last = seq
                    .get(case.guild_id)
                    .map_err(db_err)?
                    .map_or(0, |v| v.value());
                let number = last + 1;
                seq.insert(case.guild_id, number).map_err(db_err)?;
                keys.insert((case.guild_id, case.idempotency_key.as_str()), number)
                    .map_err(db_err)?;
                tx.open_table(CASES_BY_USER)
                    .map_err(db_err)?
                    .insert((case.guild_id, case.user_id, number), ())
                    .map_err(db_err)?;
                let stored = case.into_case(number);
                cases
                    .insert((stored.guild_id, number), encode(&stored)?.as_slice())
                    .map_err(db_err)?;
                (stored, true)
            };
            tx.commit().map_err(db_err)?;
            Ok(created)
        })
        .await
    }

    async fn get_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let cases = tx.open_table(CASES).map_err(db_err)?;
            read_case(&cases, guild_id, number)
        })
        .await
    }

    async fn case_by_key(
        &self,
        guild_id: u64,
        idempotency_key: &str,
    ) -> Result<Option<Case>, StoreError> {
        let key = idempotency_key.to_owned();
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let keys = tx.open_table(CASE_KEYS).map_err(db_err)?;
            let Some(number) = keys
                .get((guild_id, key.as_str()))
                .map_err(db_err)?
                .map(|v| v.value())
            else {
                return Ok(None);
            };
            let cases = tx.open_table(CASES).map_err(db_err)?;
            read_case(&cases, guild_id, number)
        })
        .await
    }

    async fn set_case_outcome(
        &self,
        guild_id: u64,
        number: u64,
        outcome: CaseOutcome,
    ) -> Result<Case, StoreError> {
        self.run(move |db| update_case(db, guild_id, number, |c| c.outcome = outcome))
            .await
    }

    async fn edit_case_reason(
        &self,
        guild_id: u64,
        number: u64,
        reason: Option<String>,
        editor_id: u64,
    ) -> Result<Case, StoreError> {
        self.run(move |db| {
            update_case(db, guild_id, number, |c| {
                let previous = std::mem::replace(&mut c.reason, reason);
                c.reason_history.push(ReasonEdit {
                    previous,
                    editor_id,
                    edited_at: Timestamp::now(),
                });
            })
        })
        .await
    }

    async fn list_cases(
        &self,
        guild_id: u64,
        filter: &CaseFilter,
        page: u32,
        per_page: u32,
    ) -> Result<CasePage, StoreError> {
        let (skip, limit) = page_bounds(page, per_page)?;
        let filter = filter.clone();
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let cases = tx.open_table(CASES).map_err(db_err)?;
            let mut out = Vec::new();
            let mut total = 0u64;
            let mut keep = |case: Case| {
                if filter.matches(&case) {
                    if total >= skip && total < skip + limit {
                        out.push(case);
                    }
                    total += 1;
                }
            };
            if let Some(user) = filter.user_id {
                let by_user = tx.open_table(CASES_BY_USER).map_err(db_err)?;
                let range = by_user
                    .range((guild_id, user, 0)..=(guild_id, user, u64::MAX))
                    .map_err(db_err)?;
                for entry in range.rev() {
                    let (k, _) = entry.map_err(db_err)?;
                    let (_, _, number) = k.value();
                    if let Some(case) = read_case(&cases, guild_id, number)? {
                        keep(case);
                    }
                }
            } else {
                let range = cases
                    .range((guild_id, 0)..=(guild_id, u64::MAX))
                    .map_err(db_err)?;
                for entry in range.rev() {
                    let (_, v) = entry.map_err(db_err)?;
                    keep(decode(v.value(), "case")?);
                }
            }
            Ok(CasePage { cases: out, total })
        })
        .await
    }

    async fn count_cases(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ActionKind,
        since: Timestamp,
    ) -> Result<u64, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let cases = tx.open_table(CASES).map_err(db_err)?;
            let by_user = tx.open_table(CASES_BY_USER).map_err(db_err)?;
            let mut n = 0;
            for entry in by_user
                .range((guild_id, user_id, 0)..=(guild_id, user_id, u64::MAX))
                .map_err(db_err)?
            {
                let (k, _) = entry.map_err(db_err)?;
                let (_, _, number) = k.value();
                if let Some(case) = read_case(&cases, guild_id, number)?
                    && case.kind == kind
                    && case.created_at >= since
                {
                    n += 1;
                }
            }
            Ok(n)
        })
        .await
    }

    async fn put_schedule(&self, schedule: NewSchedule) -> Result<Schedule, StoreError> {
        self.run(move |db| {
            let key = slot_key(schedule.guild_id, schedule.user_id, schedule.kind);
            let tx = db.begin_write().map_err(db_err)?;
            let rec = {
                let mut table = tx.open_table(SCHEDULES).map_err(db_err)?;
                let generation = read_schedule(&table, &key)?.map_or(0, |r| r.generation) + 1;
                let rec = ScheduleRecord {
                    guild_id: schedule.guild_id,
                    user_id: schedule.user_id,
                    kind: schedule.kind,
                    generation,
                    due_at: schedule.due_at,
                    case_number: schedule.case_number,
                    state: ScheduleState::Pending,
                };
                table
                    .insert(key.as_str(), encode(&rec)?.as_slice())
                    .map_err(db_err)?;
                rec
            };
            tx.commit().map_err(db_err)?;
            Ok(rec.into_schedule())
        })
        .await
    }

    async fn get_schedule(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<Option<Schedule>, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let table = tx.open_table(SCHEDULES).map_err(db_err)?;
            Ok(read_schedule(&table, &slot_key(guild_id, user_id, kind))?
                .map(ScheduleRecord::into_schedule))
        })
        .await
    }

    async fn cancel_schedules(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<u64, StoreError> {
        self.run(move |db| {
            let changed = update_schedule(db, &slot_key(guild_id, user_id, kind), |rec| {
                if matches!(
                    rec.state,
                    ScheduleState::Pending | ScheduleState::Running { .. }
                ) {
                    rec.state = ScheduleState::Cancelled {
                        cancelled_at: Timestamp::now(),
                    };
                    true
                } else {
                    false
                }
            })?;
            Ok(u64::from(changed))
        })
        .await
    }

    async fn due_schedules(
        &self,
        now: Timestamp,
        scope: &DueScope,
        limit: usize,
    ) -> Result<Vec<Schedule>, StoreError> {
        let scope = scope.clone();
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let table = tx.open_table(SCHEDULES).map_err(db_err)?;
            let mut due = Vec::new();
            for entry in table.iter().map_err(db_err)? {
                let (_, v) = entry.map_err(db_err)?;
                let rec: ScheduleRecord = decode(v.value(), "schedule")?;
                if scope.contains(rec.guild_id) {
                    let s = rec.into_schedule();
                    if s.due_at_time(now) {
                        due.push(s);
                    }
                }
            }
            due.sort_by_key(|s| (s.due_at, s.id.guild_id, s.id.user_id));
            due.truncate(limit);
            Ok(due)
        })
        .await
    }

    async fn claim_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let id = *id;
        let owner = owner.to_owned();
        self.run(move |db| {
            update_schedule(db, &id.slot_key(), |rec| {
                let now = Timestamp::now();
                let claimable = match &rec.state {
                    ScheduleState::Pending => true,
                    ScheduleState::Running { lease_until, .. } => *lease_until < now,
                    _ => false,
                };
                if rec.generation != id.generation || !claimable {
                    return false;
                }
                rec.state = ScheduleState::Running {
                    owner,
                    lease_until: now.plus(lease),
                };
                true
            })
        })
        .await
    }

    async fn complete_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        outcome: ScheduleOutcome,
    ) -> Result<bool, StoreError> {
        let id = *id;
        let owner = owner.to_owned();
        self.run(move |db| {
            update_schedule(db, &id.slot_key(), |rec| {
                let mine =
                    matches!(&rec.state, ScheduleState::Running { owner: o, .. } if *o == owner);
                if rec.generation != id.generation || !mine {
                    return false;
                }
                rec.state = ScheduleState::Done {
                    owner,
                    outcome,
                    completed_at: Timestamp::now(),
                };
                true
            })
        })
        .await
    }

    async fn incr_counter(
        &self,
        guild_id: u64,
        metric: &str,
        hour: u64,
        by: u64,
    ) -> Result<u64, StoreError> {
        validate_metric(metric)?;
        let metric = metric.to_owned();
        self.run(move |db| {
            let tx = db.begin_write().map_err(db_err)?;
            let value = {
                let mut t = tx.open_table(COUNTERS).map_err(db_err)?;
                let key = (guild_id, metric.as_str(), hour);
                let value = t
                    .get(key)
                    .map_err(db_err)?
                    .map_or(0, |v| v.value())
                    .saturating_add(by);
                t.insert(key, value).map_err(db_err)?;
                value
            };
            tx.commit().map_err(db_err)?;
            Ok(value)
        })
        .await
    }

    async fn counters(
        &self,
        guild_id: u64,
        metric: &str,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<CounterBucket>, StoreError> {
        validate_metric(metric)?;
        if from_hour > to_hour {
            return Ok(Vec::new());
        }
        let metric = metric.to_owned();
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let t = tx.open_table(COUNTERS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in t
                .range(
                    (guild_id, metric.as_str(), from_hour)..=(guild_id, metric.as_str(), to_hour),
                )
                .map_err(db_err)?
            {
                let (k, v) = entry.map_err(db_err)?;
                let value = v.value();
                if value > 0 {
                    out.push(CounterBucket {
                        hour: k.value().2,
                        value,
                    });
                }
            }
            Ok(out)
        })
        .await
    }
}
