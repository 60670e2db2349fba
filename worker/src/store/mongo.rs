//! The MongoDB store (also runs on FerretDB 1.24).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};

use super::{
    Case, CaseFilter, CaseKind, CaseOutcome, CasePage, CounterBucket, DueScope, GuildConfig,
    NewCase, NewSchedule, ReasonEdit, Schedule, ScheduleId, ScheduleKind, ScheduleOutcome,
    ScheduleRecord, Store, StoreError, StoreErrorKind, Timestamp, page_bounds, slot_key,
    validate_metric,
};

/// Database name used when neither [`MongoOptions::database`] nor the URI names one.
pub const DEFAULT_DATABASE: &str = "kyuta";

/// How often a create retries when the case counter points at a number that is already
/// taken (e.g. a counter restored from an older backup).
const MAX_NUMBER_RETRIES: usize = 16;

/// How to reach MongoDB.
#[derive(Clone)]
pub struct MongoOptions {
    /// Connection string (`mongodb://host:port/db`).
    pub uri: String,
    /// Database name; `None` → the URI's database, else [`DEFAULT_DATABASE`].
    pub database: Option<String>,
    /// How long an operation waits for a reachable server before failing with
    /// [`StoreErrorKind::Unavailable`].
    pub server_selection_timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for MongoOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URI may carry a password: show only what follows the last '@'.
        let shown = self
            .uri
            .rsplit_once('@')
            .map_or(self.uri.as_str(), |(_, host)| host);
        f.debug_struct("MongoOptions")
            .field("uri", &shown)
            .field("database", &self.database)
            .field("server_selection_timeout", &self.server_selection_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl MongoOptions {
    /// Options for `uri` with a 3 s server-selection and 2 s connect timeout.
    #[must_use]
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            database: None,
            server_selection_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(2),
        }
    }

    /// Sets the database name.
    #[must_use]
    pub fn database(mut self, name: impl Into<String>) -> Self {
        self.database = Some(name.into());
        self
    }

    /// Sets the server-selection timeout (how fast an unreachable server is reported).
    #[must_use]
    pub fn server_selection_timeout(mut self, timeout: Duration) -> Self {
        self.server_selection_timeout = timeout;
        self
    }

    /// Sets the TCP connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// The MongoDB [`Store`], compatible with FerretDB 1.24 (no transactions, no TTL indexes, no
/// change streams, no `bulkWrite`).
///
/// Layout (collections in one database; indexes created by [`MongoStore::connect`]):
/// - `guild_config`: `_id` = guild id; `automod` kept as a JSON string.
/// - `counters`: `_id` = `case:<guild>`, `seq` = last number handed out. A number is taken
///   with `findAndModify {$inc: {seq: 1}}` + upsert, which is atomic per document.
/// - `cases`: `_id` = `<guild>:<number>`, unique indexes on `(guild_id, number)` and
///   `(guild_id, idempotency_key)`, and an index on `(guild_id, user_id, created_at)`.
/// - `schedules`: `_id` = `<guild>:<user>:<kind>` (one slot per triple) with a `generation`
///   bumped by every put; claims and completions are conditional `findAndModify` calls.
/// - `analytics`: `_id` = `<guild>:<metric>:<hour>`, `value` bumped with `$inc` + upsert.
///
/// **Known limitation (being fixed):** on FerretDB 1.24 (SQLite backend) `findAndModify`
/// and `update` are not atomic between concurrent clients, so concurrent schedule claims,
/// reason edits and analytics increments can race there. Case numbers are safe (the unique
/// index on `(guild_id, number)` rejects a duplicate and the create takes the next number).
///
/// Gap policy: a number is taken before the case is inserted, without a transaction. If the
/// insert then fails (server gone, process killed) or loses a race against a request with
/// the same idempotency key, that number is never used: case numbers stay unique and are
/// never reused, but such a failure leaves a gap.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    config: Collection<Document>,
    counters: Collection<Document>,
    cases: Collection<Document>,
    schedules: Collection<Document>,
    analytics: Collection<Document>,
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore")
            .field("database", &self.db.name())
            .finish_non_exhaustive()
    }
}

fn mongo_err(context: &str, e: mongodb::error::Error) -> StoreError {
    let kind = match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == 11000 => {
            StoreErrorKind::Duplicate
        }
        ErrorKind::Command(c) if c.code == 11000 => StoreErrorKind::Duplicate,
        ErrorKind::BsonDeserialization(_) => StoreErrorKind::Corrupt,
        ErrorKind::BsonSerialization(_) | ErrorKind::InvalidArgument { .. } => {
            StoreErrorKind::Invalid
        }
        _ => StoreErrorKind::Unavailable,
    };
    StoreError::new(kind, format!("mongodb {context}: {e}")).with_source(e)
}

fn id64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::invalid(format!("id {v} is out of range")))
}

fn to_bson<T: serde::Serialize>(v: &T) -> Result<Bson, StoreError> {
    bson::to_bson(v)
        .map_err(|e| StoreError::invalid(format!("cannot encode record: {e}")).with_source(e))
}

fn case_id(guild_id: u64, number: u64) -> String {
    format!("{guild_id}:{number}")
}

fn encode_case(case: &Case) -> Result<Document, StoreError> {
    let mut d = bson::to_document(case)
        .map_err(|e| StoreError::invalid(format!("cannot encode case: {e}")).with_source(e))?;
    let evidence = match &case.evidence {
        Some(v) => Bson::String(v.to_string()),
        None => Bson::Null,
    };
    d.insert("evidence", evidence);
    d.insert("_id", case_id(case.guild_id, case.number));
    d.insert("reason_edits", 0_i64);
    Ok(d)
}

fn decode_case(mut d: Document) -> Result<Case, StoreError> {
    let evidence = match d.remove("evidence") {
        Some(Bson::String(s)) => Some(serde_json::from_str(&s).map_err(|e| {
            StoreError::corrupt(format!("stored case evidence is not JSON: {e}")).with_source(e)
        })?),
        _ => None,
    };
    let mut case: Case = bson::from_document(d).map_err(|e| {
        StoreError::corrupt(format!("stored case is unreadable: {e}")).with_source(e)
    })?;
    case.evidence = evidence;
    Ok(case)
}

fn decode_schedule(d: Document) -> Result<Schedule, StoreError> {
    let rec: ScheduleRecord = bson::from_document(d).map_err(|e| {
        StoreError::corrupt(format!("stored schedule is unreadable: {e}")).with_source(e)
    })?;
    Ok(rec.into_schedule())
}

fn encode_config(config: &GuildConfig) -> Result<Document, StoreError> {
    let mut d = bson::to_document(config).map_err(|e| {
        StoreError::invalid(format!("cannot encode guild config: {e}")).with_source(e)
    })?;
    d.insert("automod", config.automod.to_string());
    d.insert("_id", id64(config.guild_id)?);
    Ok(d)
}

fn decode_config(mut d: Document) -> Result<GuildConfig, StoreError> {
    let automod = match d.remove("automod") {
        Some(Bson::String(s)) => serde_json::from_str(&s).map_err(|e| {
            StoreError::corrupt(format!("stored automod config is not JSON: {e}")).with_source(e)
        })?,
        _ => serde_json::Value::Null,
    };
    let mut config: GuildConfig = bson::from_document(d).map_err(|e| {
        StoreError::corrupt(format!("stored guild config is unreadable: {e}")).with_source(e)
    })?;
    config.automod = automod;
    Ok(config)
}

impl MongoStore {
    /// Connects, checks the server answers (failing with [`StoreErrorKind::Unavailable`]
    /// after the server-selection timeout) and creates the indexes.
    pub async fn connect(options: MongoOptions) -> Result<Self, StoreError> {
        let mut client_opts = ClientOptions::parse(&options.uri).await.map_err(|e| {
            let kind = if matches!(e.kind.as_ref(), ErrorKind::InvalidArgument { .. }) {
                StoreErrorKind::Invalid
            } else {
                StoreErrorKind::Unavailable
            };
            StoreError::new(kind, format!("MONGO_URI is not usable: {e}")).with_source(e)
        })?;
        client_opts.server_selection_timeout = Some(options.server_selection_timeout);
        client_opts.connect_timeout = Some(options.connect_timeout);
        client_opts.retry_writes = Some(false);
        client_opts.app_name = Some("kyuta".to_owned());
        let name = options
            .database
            .clone()
            .or_else(|| client_opts.default_database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let client =
            Client::with_options(client_opts).map_err(|e| mongo_err("client options", e))?;
        let db = client.database(&name);
        let store = Self {
            config: db.collection("guild_config"),
            counters: db.collection("counters"),
            cases: db.collection("cases"),
            schedules: db.collection("schedules"),
            analytics: db.collection("analytics"),
            db,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Creates the indexes (idempotent; runs on every start).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let unique = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .name(name.to_owned())
                        .build(),
                )
                .build()
        };
        let plain = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_owned()).build())
                .build()
        };
        self.cases
            .create_index(unique(doc! {"guild_id": 1, "number": 1}, "guild_number"))
            .await
            .map_err(|e| mongo_err("creating index cases.guild_number", e))?;
        self.cases
            .create_index(unique(
                doc! {"guild_id": 1, "idempotency_key": 1},
                "guild_idempotency_key",
            ))
            .await
            .map_err(|e| mongo_err("creating index cases.guild_idempotency_key", e))?;
        self.cases
            .create_index(plain(
                doc! {"guild_id": 1, "user_id": 1, "created_at": 1},
                "guild_user_created",
            ))
            .await
            .map_err(|e| mongo_err("creating index cases.guild_user_created", e))?;
        self.schedules
            .create_index(plain(doc! {"state": 1, "due_at": 1}, "state_due"))
            .await
            .map_err(|e| mongo_err("creating index schedules.state_due", e))?;
        self.analytics
            .create_index(plain(
                doc! {"guild_id": 1, "metric": 1, "hour": 1},
                "guild_metric_hour",
            ))
            .await
            .map_err(|e| mongo_err("creating index analytics.guild_metric_hour", e))?;
        Ok(())
    }

    /// The database in use.
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// `findAndModify` with upsert, retried when two concurrent upserts of the same `_id`
    /// collide (the loser sees a duplicate-key error; the document exists afterwards).
    async fn upsert_after(
        &self,
        coll: &Collection<Document>,
        filter: Document,
        update: Document,
        context: &str,
    ) -> Result<Document, StoreError> {
        let mut attempt = 0;
        loop {
            match coll
                .find_one_and_update(filter.clone(), update.clone())
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await
            {
                Ok(Some(d)) => return Ok(d),
                Ok(None) => {
                    return Err(StoreError::unavailable(format!(
                        "mongodb {context}: upsert returned no document"
                    )));
                }
                Err(e) => {
                    let err = mongo_err(context, e);
                    attempt += 1;
                    if err.kind() != StoreErrorKind::Duplicate || attempt >= 5 {
                        return Err(err);
                    }
                }
            }
        }
    }

    async fn next_case_number(&self, guild_id: u64) -> Result<u64, StoreError> {
        let d = self
            .upsert_after(
                &self.counters,
                doc! {"_id": format!("case:{guild_id}")},
                doc! {"$inc": {"seq": 1_i64}},
                "taking a case number",
            )
            .await?;
        match d.get("seq") {
            Some(Bson::Int64(n)) if *n > 0 => Ok(*n as u64),
            Some(Bson::Int32(n)) if *n > 0 => Ok(*n as u64),
            other => Err(StoreError::corrupt(format!(
                "case counter of guild {guild_id} holds {other:?}"
            ))),
        }
    }
}

#[async_trait]
impl Store for MongoStore {
    fn backend(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> Result<Duration, StoreError> {
        let start = Instant::now();
        self.db
            .run_command(doc! {"ping": 1})
            .await
            .map_err(|e| mongo_err("ping", e))?;
        Ok(start.elapsed())
    }

    async fn guild_config(&self, guild_id: u64) -> Result<GuildConfig, StoreError> {
        match self
            .config
            .find_one(doc! {"_id": id64(guild_id)?})
            .await
            .map_err(|e| mongo_err("reading guild config", e))?
        {
            Some(d) => decode_config(d),
            None => Ok(GuildConfig::new(guild_id)),
        }
    }

    async fn put_guild_config(&self, config: &GuildConfig) -> Result<(), StoreError> {
        let d = encode_config(config)?;
        self.config
            .replace_one(doc! {"_id": id64(config.guild_id)?}, d)
            .upsert(true)
            .await
            .map_err(|e| mongo_err("writing guild config", e))?;
        Ok(())
    }

    async fn create_case(&self, case: NewCase) -> Result<Case, StoreError> {
        case.validate()?;
        if let Some(existing) = self
            .case_by_key(case.guild_id, &case.idempotency_key)
            .await?
        {
            return Ok(existing);
        }
        id64(case.guild_id)?;
        id64(case.user_id)?;
        id64(case.moderator_id)?;
        let mut attempt = 0;
        loop {
            let number = self.next_case_number(case.guild_id).await?;
            let stored = case.clone().into_case(number);
            let d = encode_case(&stored)?;
            match self.cases.insert_one(d).await {
                Ok(_) => return Ok(stored),
                Err(e) => {
                    let err = mongo_err("inserting a case", e);
                    if err.kind() != StoreErrorKind::Duplicate {
                        return Err(err);
                    }
                    // Either the same key won a race (return its case; this number stays
                    // unused), or the number is taken (counter behind the data: take the next).
                    if let Some(existing) = self
                        .case_by_key(case.guild_id, &case.idempotency_key)
                        .await?
                    {
                        return Ok(existing);
                    }
                    attempt += 1;
                    if attempt >= MAX_NUMBER_RETRIES {
                        return Err(StoreError::duplicate(format!(
                            "no free case number in guild {} after {attempt} attempts",
                            case.guild_id
                        )));
                    }
                }
            }
        }
    }

    async fn get_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError> {
        self.cases
            .find_one(doc! {"_id": case_id(guild_id, number)})
            .await
            .map_err(|e| mongo_err("reading a case", e))?
            .map(decode_case)
            .transpose()
    }

    async fn case_by_key(
        &self,
        guild_id: u64,
        idempotency_key: &str,
    ) -> Result<Option<Case>, StoreError> {
        self.cases
            .find_one(doc! {"guild_id": id64(guild_id)?, "idempotency_key": idempotency_key})
            .await
            .map_err(|e| mongo_err("reading a case by key", e))?
            .map(decode_case)
            .transpose()
    }

    async fn set_case_outcome(
        &self,
        guild_id: u64,
        number: u64,
        outcome: CaseOutcome,
    ) -> Result<Case, StoreError> {
        let d = self
            .cases
            .find_one_and_update(
                doc! {"_id": case_id(guild_id, number)},
                doc! {"$set": {"outcome": to_bson(&outcome)?}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| mongo_err("setting a case outcome", e))?
            .ok_or_else(|| {
                StoreError::not_found(format!("case #{number} does not exist in guild {guild_id}"))
            })?;
        decode_case(d)
    }

    async fn edit_case_reason(
        &self,
        guild_id: u64,
        number: u64,
        reason: Option<String>,
        editor_id: u64,
    ) -> Result<Case, StoreError> {
        let id = case_id(guild_id, number);
        // Optimistic concurrency: the update applies only if nobody edited in between
        // (`reason_edits` unchanged); otherwise re-read and try again.
        for _ in 0..32 {
            let current = self
                .cases
                .find_one(doc! {"_id": &id})
                .await
                .map_err(|e| mongo_err("reading a case", e))?
                .ok_or_else(|| {
                    StoreError::not_found(format!(
                        "case #{number} does not exist in guild {guild_id}"
                    ))
                })?;
            let edits = current.get_i64("reason_edits").unwrap_or(0);
            let case = decode_case(current)?;
            let edit = ReasonEdit {
                previous: case.reason.clone(),
                editor_id,
                edited_at: Timestamp::now(),
            };
            let filter = if edits == 0 {
                doc! {"_id": &id, "$or": [{"reason_edits": 0_i64}, {"reason_edits": {"$exists": false}}]}
            } else {
                doc! {"_id": &id, "reason_edits": edits}
            };
            let updated = self
                .cases
                .find_one_and_update(
                    filter,
                    doc! {
                        "$set": {"reason": to_bson(&reason)?, "reason_edits": edits + 1},
                        "$push": {"reason_history": to_bson(&edit)?},
                    },
                )
                .return_document(ReturnDocument::After)
                .await
                .map_err(|e| mongo_err("editing a case reason", e))?;
            if let Some(d) = updated {
                return decode_case(d);
            }
        }
        Err(StoreError::unavailable(format!(
            "case #{number} of guild {guild_id} keeps changing; reason not edited"
        )))
    }

    async fn list_cases(
        &self,
        guild_id: u64,
        filter: &CaseFilter,
        page: u32,
        per_page: u32,
    ) -> Result<CasePage, StoreError> {
        let (skip, limit) = page_bounds(page, per_page)?;
        let mut q = doc! {"guild_id": id64(guild_id)?};
        if let Some(u) = filter.user_id {
            q.insert("user_id", id64(u)?);
        }
        if let Some(m) = filter.moderator_id {
            q.insert("moderator_id", id64(m)?);
        }
        if let Some(k) = filter.kind {
            q.insert("kind", k.as_str());
        }
        let total = self
            .cases
            .count_documents(q.clone())
            .await
            .map_err(|e| mongo_err("counting cases", e))?;
        let docs: Vec<Document> = self
            .cases
            .find(q)
            .sort(doc! {"number": -1})
            .skip(skip)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(|e| mongo_err("listing cases", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("listing cases", e))?;
        let cases = docs
            .into_iter()
            .map(decode_case)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CasePage { cases, total })
    }

    async fn count_cases(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: CaseKind,
        since: Timestamp,
    ) -> Result<u64, StoreError> {
        self.cases
            .count_documents(doc! {
                "guild_id": id64(guild_id)?,
                "user_id": id64(user_id)?,
                "kind": kind.as_str(),
                "created_at": {"$gte": since.unix_millis()},
            })
            .await
            .map_err(|e| mongo_err("counting cases", e))
    }

    async fn put_schedule(&self, schedule: NewSchedule) -> Result<Schedule, StoreError> {
        let key = slot_key(schedule.guild_id, schedule.user_id, schedule.kind);
        let case_number = match schedule.case_number {
            Some(n) => Bson::Int64(id64(n)?),
            None => Bson::Null,
        };
        let d = self
            .upsert_after(
                &self.schedules,
                doc! {"_id": &key},
                doc! {
                    "$inc": {"generation": 1_i64},
                    "$set": {
                        "guild_id": id64(schedule.guild_id)?,
                        "user_id": id64(schedule.user_id)?,
                        "kind": schedule.kind.as_str(),
                        "due_at": schedule.due_at.unix_millis(),
                        "case_number": case_number,
                        "state": "pending",
                    },
                    "$unset": {
                        "owner": "", "lease_until": "", "outcome": "",
                        "completed_at": "", "cancelled_at": "",
                    },
                },
                "storing a schedule",
            )
            .await?;
        decode_schedule(d)
    }

    async fn get_schedule(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<Option<Schedule>, StoreError> {
        self.schedules
            .find_one(doc! {"_id": slot_key(guild_id, user_id, kind)})
            .await
            .map_err(|e| mongo_err("reading a schedule", e))?
            .map(decode_schedule)
            .transpose()
    }

    async fn cancel_schedules(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<u64, StoreError> {
        let d = self
            .schedules
            .find_one_and_update(
                doc! {
                    "_id": slot_key(guild_id, user_id, kind),
                    "state": {"$in": ["pending", "running"]},
                },
                doc! {
                    "$set": {"state": "cancelled", "cancelled_at": Timestamp::now().unix_millis()},
                    "$unset": {"owner": "", "lease_until": ""},
                },
            )
            .await
            .map_err(|e| mongo_err("cancelling a schedule", e))?;
        Ok(u64::from(d.is_some()))
    }

    async fn due_schedules(
        &self,
        now: Timestamp,
        scope: &DueScope,
        limit: usize,
    ) -> Result<Vec<Schedule>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now_ms = now.unix_millis();
        let mut cursor = self
            .schedules
            .find(doc! {
                "due_at": {"$lte": now_ms},
                "$or": [
                    {"state": "pending"},
                    {"state": "running", "lease_until": {"$lt": now_ms}},
                ],
            })
            .sort(doc! {"due_at": 1, "_id": 1})
            .await
            .map_err(|e| mongo_err("listing due schedules", e))?;
        let mut out = Vec::new();
        while let Some(d) = cursor
            .try_next()
            .await
            .map_err(|e| mongo_err("listing due schedules", e))?
        {
            let s = decode_schedule(d)?;
            if scope.contains(s.id.guild_id) {
                out.push(s);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn claim_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let d = self
            .schedules
            .find_one_and_update(
                doc! {
                    "_id": id.slot_key(),
                    "generation": id64(id.generation)?,
                    "$or": [
                        {"state": "pending"},
                        {"state": "running", "lease_until": {"$lt": now.unix_millis()}},
                    ],
                },
                doc! {"$set": {
                    "state": "running",
                    "owner": owner,
                    "lease_until": now.plus(lease).unix_millis(),
                }},
            )
            .await
            .map_err(|e| mongo_err("claiming a schedule", e))?;
        Ok(d.is_some())
    }

    async fn complete_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        outcome: ScheduleOutcome,
    ) -> Result<bool, StoreError> {
        let d = self
            .schedules
            .find_one_and_update(
                doc! {
                    "_id": id.slot_key(),
                    "generation": id64(id.generation)?,
                    "state": "running",
                    "owner": owner,
                },
                doc! {
                    "$set": {
                        "state": "done",
                        "outcome": to_bson(&outcome)?,
                        "completed_at": Timestamp::now().unix_millis(),
                    },
                    "$unset": {"lease_until": ""},
                },
            )
            .await
            .map_err(|e| mongo_err("completing a schedule", e))?;
        Ok(d.is_some())
    }

    async fn incr_counter(
        &self,
        guild_id: u64,
        metric: &str,
        hour: u64,
        by: u64,
    ) -> Result<u64, StoreError> {
        validate_metric(metric)?;
        let d = self
            .upsert_after(
                &self.analytics,
                doc! {"_id": format!("{guild_id}:{metric}:{hour}")},
                doc! {
                    "$inc": {"value": id64(by)?},
                    "$setOnInsert": {
                        "guild_id": id64(guild_id)?,
                        "metric": metric,
                        "hour": id64(hour)?,
                    },
                },
                "incrementing a counter",
            )
            .await?;
        match d.get("value") {
            Some(Bson::Int64(n)) if *n >= 0 => Ok(*n as u64),
            Some(Bson::Int32(n)) if *n >= 0 => Ok(*n as u64),
            other => Err(StoreError::corrupt(format!(
                "analytics counter holds {other:?}"
            ))),
        }
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
        let docs: Vec<Document> = self
            .analytics
            .find(doc! {
                "guild_id": id64(guild_id)?,
                "metric": metric,
                "hour": {"$gte": id64(from_hour)?, "$lte": id64(to_hour)?},
            })
            .sort(doc! {"hour": 1})
            .await
            .map_err(|e| mongo_err("reading counters", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading counters", e))?;
        let mut out = Vec::new();
        for d in docs {
            let num = |k: &str| match d.get(k) {
                Some(Bson::Int64(n)) if *n >= 0 => Some(*n as u64),
                Some(Bson::Int32(n)) if *n >= 0 => Some(*n as u64),
                _ => None,
            };
            let (Some(hour), Some(value)) = (num("hour"), num("value")) else {
                return Err(StoreError::corrupt("analytics bucket is unreadable"));
            };
            if value > 0 {
                out.push(CounterBucket { hour, value });
            }
        }
        Ok(out)
    }
}
