//! The MongoDB store (also runs on FerretDB 1.24).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};

use super::{
    ActionKind, Case, CaseFilter, CaseOutcome, CasePage, CounterBucket, DueScope, GuildConfig,
    GuildField, NewCase, NewSchedule, ReasonEdit, Schedule, ScheduleId, ScheduleKind,
    ScheduleOutcome, ScheduleState, Store, StoreError, StoreErrorKind, Timestamp, page_bounds,
    slot_key, validate_metric,
};

/// Database name used when neither [`MongoOptions::database`] nor the URI names one.
pub const DEFAULT_DATABASE: &str = "kyuta";

/// How often a create retries when the case counter points at a number that is already
/// taken (e.g. a counter restored from an older backup).
const MAX_NUMBER_RETRIES: usize = 64;

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

/// The MongoDB [`Store`], written for FerretDB 1.24 as much as for MongoDB.
///
/// FerretDB 1.24 (SQLite backend) has no transactions, and its `update`/`findAndModify`
/// read and rewrite a document without isolation: two concurrent `$inc`s can lose one, two
/// concurrent conditional updates can both "win", and concurrent updates of different fields
/// of one document can undo each other. What it does enforce is **unique indexes on
/// insert**. So every rule this store promises rests on inserts into unique keys; documents
/// that are updated in place are either single-purpose (last writer wins, by design) or mere
/// projections for queries, re-derived from the inserted records when read.
///
/// Collections (one database; indexes created by [`MongoStore::connect`]):
/// - `guild_settings`: one document per setting of a guild, `_id` = `<guild>:<setting>`
///   (`guild_id`, `field`, `value`; `automod` kept as a JSON string), replaced whole when that
///   setting changes (last writer of a setting wins; edits of different settings never meet).
/// - `guild_config`: `_id` = guild id, a guild's settings as whole documents were once
///   written; read only, under `guild_settings`, which overrides it setting by setting.
/// - `cases`: immutable once inserted; `_id` = `<guild>:<number>`, unique indexes on
///   `(guild_id, number)` and `(guild_id, idempotency_key)`, index on
///   `(guild_id, user_id, created_at)`.
/// - `counters`: `_id` = `case:<guild>`, `seq` = last number handed out (`$inc` + upsert) —
///   a hint only: the unique `(guild_id, number)` index is what keeps numbers unique. A
///   create whose number is taken retries with the next free one.
/// - `case_outcomes`: `_id` = `<guild>:<number>`; the latest outcome (last writer wins).
/// - `case_edits`: `_id` = `<guild>:<number>:<k>` for the k-th reason edit; the unique `_id`
///   orders concurrent edits, each one recording the reason it replaced.
/// - `schedules`: one document per generation, `_id` = `<guild>:<user>:<kind>#<generation>`
///   (a put inserts generation g+1); `state`/`owner`/`lease_until` are a projection used to
///   find due schedules.
/// - `schedule_events`: the authority on a schedule's life: claims
///   (`…#<generation>#claim<n>`, the n-th claim, unique) and one end record
///   (`…#<generation>#end`, unique: done or cancelled, whichever is inserted first).
/// - `analytics`: one document per increment (`guild_id`, `metric`, `hour`, `by`), summed
///   when read — callers should batch increments.
///
/// Gap policy: numbers are unique and never reused. A number is taken before its case is
/// inserted, without a transaction; if the insert then fails for good (server gone, process
/// killed), or loses a race to a request with the same idempotency key, that number stays
/// unused — a gap. Nothing else leaves gaps.
///
/// Leases: a claim whose lease lapses can be taken over; if the first claimer is still at
/// work, both may carry out the action (only one can complete). Choose leases longer than
/// the action takes.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    config: Collection<Document>,
    settings: Collection<Document>,
    counters: Collection<Document>,
    cases: Collection<Document>,
    outcomes: Collection<Document>,
    edits: Collection<Document>,
    schedules: Collection<Document>,
    events: Collection<Document>,
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

fn from_doc<T: serde::de::DeserializeOwned>(d: Document, what: &str) -> Result<T, StoreError> {
    bson::from_document(d).map_err(|e| {
        StoreError::corrupt(format!("stored {what} is unreadable: {e}")).with_source(e)
    })
}

fn get_u64(d: &Document, key: &str) -> Option<u64> {
    match d.get(key) {
        Some(Bson::Int64(n)) => u64::try_from(*n).ok(),
        Some(Bson::Int32(n)) => u64::try_from(*n).ok(),
        Some(Bson::Double(f)) if *f >= 0.0 && f.fract() == 0.0 => Some(*f as u64),
        _ => None,
    }
}

fn case_id(guild_id: u64, number: u64) -> String {
    format!("{guild_id}:{number}")
}

/// A short random pause before retrying a lost race, so racers spread out.
async fn backoff(attempt: usize) {
    let max = 2 + 3 * attempt.min(10) as u64;
    let ms = rand::random_range(1..=max);
    tokio::time::sleep(Duration::from_millis(ms)).await;
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
    d.remove("reason_history");
    Ok(d)
}

fn decode_case(mut d: Document) -> Result<Case, StoreError> {
    let evidence = match d.remove("evidence") {
        Some(Bson::String(s)) => Some(serde_json::from_str(&s).map_err(|e| {
            StoreError::corrupt(format!("stored case evidence is not JSON: {e}")).with_source(e)
        })?),
        _ => None,
    };
    let mut case: Case = from_doc(d, "case")?;
    case.evidence = evidence;
    Ok(case)
}

/// Replaces the document `_id` = `id` with `d`, inserting it when missing. Two first-time
/// upserts of one id: the loser (a duplicate key) retries as a replace.
async fn replace_upsert(
    coll: &Collection<Document>,
    id: &str,
    d: Document,
    context: &str,
) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        match coll
            .replace_one(doc! {"_id": id}, d.clone())
            .upsert(true)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => {
                let err = mongo_err(context, e);
                attempt += 1;
                if err.kind() != StoreErrorKind::Duplicate || attempt >= 8 {
                    return Err(err);
                }
                backoff(attempt).await;
            }
        }
    }
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
    let mut config: GuildConfig = from_doc(d, "guild config")?;
    config.automod = automod;
    Ok(config)
}

/// A reason edit as stored in `case_edits`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct EditDoc {
    guild_id: u64,
    number: u64,
    k: u64,
    reason: Option<String>,
    previous: Option<String>,
    editor_id: u64,
    edited_at: Timestamp,
}

/// The immutable part of a schedule document.
#[derive(Debug, serde::Deserialize)]
struct ScheduleDoc {
    guild_id: u64,
    user_id: u64,
    kind: ScheduleKind,
    generation: u64,
    due_at: Timestamp,
    #[serde(default)]
    case_number: Option<u64>,
}

fn schedule_doc_id(slot: &str, generation: u64) -> String {
    format!("{slot}#{generation}")
}

fn end_id(slot: &str, generation: u64) -> String {
    format!("{slot}#{generation}#end")
}

fn claim_id(slot: &str, generation: u64, n: u64) -> String {
    format!("{slot}#{generation}#claim{n}")
}

/// What the event records say about one schedule generation.
#[derive(Debug, Default)]
struct Events {
    /// The end record, already as a state.
    end: Option<ScheduleState>,
    /// The latest claim: (n, owner, lease_until).
    claim: Option<(u64, String, Timestamp)>,
}

impl Events {
    fn state(&self) -> ScheduleState {
        if let Some(end) = &self.end {
            return end.clone();
        }
        match &self.claim {
            Some((_, owner, lease_until)) => ScheduleState::Running {
                owner: owner.clone(),
                lease_until: *lease_until,
            },
            None => ScheduleState::Pending,
        }
    }
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
            settings: db.collection("guild_settings"),
            counters: db.collection("counters"),
            cases: db.collection("cases"),
            outcomes: db.collection("case_outcomes"),
            edits: db.collection("case_edits"),
            schedules: db.collection("schedules"),
            events: db.collection("schedule_events"),
            analytics: db.collection("analytics"),
            db,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Creates the indexes (idempotent; runs on every start).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let index = |keys: Document, name: &str, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .unique(unique.then_some(true))
                        .name(name.to_owned())
                        .build(),
                )
                .build()
        };
        let wanted = [
            (
                &self.settings,
                index(doc! {"guild_id": 1}, "guild_id", false),
            ),
            (
                &self.cases,
                index(doc! {"guild_id": 1, "number": 1}, "guild_number", true),
            ),
            (
                &self.cases,
                index(
                    doc! {"guild_id": 1, "idempotency_key": 1},
                    "guild_idempotency_key",
                    true,
                ),
            ),
            (
                &self.cases,
                index(
                    doc! {"guild_id": 1, "user_id": 1, "created_at": 1},
                    "guild_user_created",
                    false,
                ),
            ),
            (
                &self.edits,
                index(
                    doc! {"guild_id": 1, "number": 1, "k": 1},
                    "guild_number_k",
                    true,
                ),
            ),
            (
                &self.schedules,
                index(doc! {"slot": 1, "generation": 1}, "slot_generation", true),
            ),
            (
                &self.schedules,
                index(doc! {"state": 1, "due_at": 1}, "state_due", false),
            ),
            (
                &self.events,
                index(doc! {"slot": 1, "generation": 1}, "slot_generation", false),
            ),
            (
                &self.analytics,
                index(
                    doc! {"guild_id": 1, "metric": 1, "hour": 1},
                    "guild_metric_hour",
                    false,
                ),
            ),
        ];
        for (coll, model) in wanted {
            let name = model
                .options
                .as_ref()
                .and_then(|o| o.name.clone())
                .unwrap_or_default();
            coll.create_index(model)
                .await
                .map_err(|e| mongo_err(&format!("creating index {}.{name}", coll.name()), e))?;
        }
        Ok(())
    }

    /// The database in use.
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.db
    }

    // --- cases --------------------------------------------------------------------------------

    /// Hands out the next number from the counter (a hint; see the type docs).
    async fn counter_next(&self, guild_id: u64) -> Result<u64, StoreError> {
        let mut attempt = 0;
        loop {
            let res = self
                .counters
                .find_one_and_update(
                    doc! {"_id": format!("case:{guild_id}")},
                    doc! {"$inc": {"seq": 1_i64}},
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await;
            match res {
                Ok(Some(d)) => {
                    return get_u64(&d, "seq").filter(|n| *n > 0).ok_or_else(|| {
                        StoreError::corrupt(format!("case counter of guild {guild_id} is bad"))
                    });
                }
                Ok(None) => {
                    return Err(StoreError::unavailable(
                        "mongodb taking a case number: upsert returned nothing",
                    ));
                }
                Err(e) => {
                    let err = mongo_err("taking a case number", e);
                    attempt += 1;
                    if err.kind() != StoreErrorKind::Duplicate || attempt >= 8 {
                        return Err(err);
                    }
                    backoff(attempt).await;
                }
            }
        }
    }

    /// The highest case number stored for the guild (0 when none).
    async fn max_case_number(&self, guild_id: u64) -> Result<u64, StoreError> {
        let d = self
            .cases
            .find_one(doc! {"guild_id": id64(guild_id)?})
            .sort(doc! {"number": -1})
            .projection(doc! {"number": 1})
            .await
            .map_err(|e| mongo_err("reading the last case number", e))?;
        Ok(d.and_then(|d| get_u64(&d, "number")).unwrap_or(0))
    }

    /// Completes case documents with their outcome and reason edits.
    async fn assemble(&self, guild_id: u64, docs: Vec<Document>) -> Result<Vec<Case>, StoreError> {
        let mut cases = docs
            .into_iter()
            .map(decode_case)
            .collect::<Result<Vec<_>, _>>()?;
        if cases.is_empty() {
            return Ok(cases);
        }
        let ids: Vec<String> = cases
            .iter()
            .map(|c| case_id(c.guild_id, c.number))
            .collect();
        let numbers = cases
            .iter()
            .map(|c| id64(c.number))
            .collect::<Result<Vec<_>, _>>()?;
        let outcomes: Vec<Document> = self
            .outcomes
            .find(doc! {"_id": {"$in": ids}})
            .await
            .map_err(|e| mongo_err("reading case outcomes", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading case outcomes", e))?;
        for mut d in outcomes {
            let Ok(id) = d.get_str("_id").map(str::to_owned) else {
                continue;
            };
            let Some(Bson::Document(o)) = d.remove("outcome") else {
                return Err(StoreError::corrupt(format!(
                    "outcome of case {id} is unreadable"
                )));
            };
            let outcome: CaseOutcome = from_doc(o, "case outcome")?;
            if let Some(c) = cases
                .iter_mut()
                .find(|c| case_id(c.guild_id, c.number) == id)
            {
                c.outcome = outcome;
            }
        }
        let edits: Vec<Document> = self
            .edits
            .find(doc! {"guild_id": id64(guild_id)?, "number": {"$in": numbers}})
            .sort(doc! {"number": 1, "k": 1})
            .await
            .map_err(|e| mongo_err("reading case edits", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading case edits", e))?;
        for d in edits {
            let e: EditDoc = from_doc(d, "case edit")?;
            if let Some(c) = cases.iter_mut().find(|c| c.number == e.number) {
                c.reason = e.reason;
                c.reason_history.push(ReasonEdit {
                    previous: e.previous,
                    editor_id: e.editor_id,
                    edited_at: e.edited_at,
                });
            }
        }
        Ok(cases)
    }

    async fn load_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError> {
        let d = self
            .cases
            .find_one(doc! {"_id": case_id(guild_id, number)})
            .await
            .map_err(|e| mongo_err("reading a case", e))?;
        match d {
            Some(d) => Ok(self.assemble(guild_id, vec![d]).await?.pop()),
            None => Ok(None),
        }
    }

    // --- schedules ----------------------------------------------------------------------------

    async fn latest_generation(&self, slot: &str) -> Result<Option<Document>, StoreError> {
        self.schedules
            .find_one(doc! {"slot": slot})
            .sort(doc! {"generation": -1})
            .await
            .map_err(|e| mongo_err("reading a schedule", e))
    }

    async fn superseded(&self, slot: &str, generation: u64) -> Result<bool, StoreError> {
        Ok(self
            .schedules
            .find_one(doc! {"slot": slot, "generation": {"$gt": id64(generation)?}})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| mongo_err("reading a schedule", e))?
            .is_some())
    }

    async fn events(&self, slot: &str, generation: u64) -> Result<Events, StoreError> {
        let docs: Vec<Document> = self
            .events
            .find(doc! {"slot": slot, "generation": id64(generation)?})
            .await
            .map_err(|e| mongo_err("reading schedule events", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading schedule events", e))?;
        let mut ev = Events::default();
        for d in docs {
            match d.get_str("type") {
                Ok("end") => {
                    let at = Timestamp::from_unix_millis(d.get_i64("at").unwrap_or(0));
                    ev.end = Some(match d.get_str("state") {
                        Ok("done") => {
                            let outcome = match d.get("outcome") {
                                Some(Bson::Document(o)) => from_doc(o.clone(), "outcome")?,
                                _ => return Err(StoreError::corrupt("schedule end lacks outcome")),
                            };
                            ScheduleState::Done {
                                owner: d.get_str("owner").unwrap_or_default().to_owned(),
                                outcome,
                                completed_at: at,
                            }
                        }
                        _ => ScheduleState::Cancelled { cancelled_at: at },
                    });
                }
                Ok("claim") => {
                    let n = get_u64(&d, "n").unwrap_or(0);
                    if ev.claim.as_ref().is_none_or(|(m, _, _)| n > *m) {
                        ev.claim = Some((
                            n,
                            d.get_str("owner").unwrap_or_default().to_owned(),
                            Timestamp::from_unix_millis(d.get_i64("lease_until").unwrap_or(0)),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(ev)
    }

    async fn resolve(&self, d: Document) -> Result<Schedule, StoreError> {
        let sd: ScheduleDoc = from_doc(d, "schedule")?;
        let slot = slot_key(sd.guild_id, sd.user_id, sd.kind);
        let state = self.events(&slot, sd.generation).await?.state();
        Ok(Schedule {
            id: ScheduleId {
                guild_id: sd.guild_id,
                user_id: sd.user_id,
                kind: sd.kind,
                generation: sd.generation,
            },
            due_at: sd.due_at,
            case_number: sd.case_number,
            state,
        })
    }

    /// Best-effort update of the query projection of a schedule document.
    async fn project(&self, slot: &str, generation: u64, set: Document, unset: &[&str]) {
        let mut update = doc! {"$set": set};
        if !unset.is_empty() {
            let mut u = Document::new();
            for k in unset {
                u.insert(*k, "");
            }
            update.insert("$unset", u);
        }
        let _ = self
            .schedules
            .update_one(doc! {"_id": schedule_doc_id(slot, generation)}, update)
            .await;
    }

    async fn project_state(&self, slot: &str, generation: u64, state: &ScheduleState) {
        match state {
            ScheduleState::Pending => {
                self.project(
                    slot,
                    generation,
                    doc! {"state": "pending"},
                    &["owner", "lease_until"],
                )
                .await;
            }
            ScheduleState::Running { owner, lease_until } => {
                self.project(
                    slot,
                    generation,
                    doc! {"state": "running", "owner": owner, "lease_until": lease_until.unix_millis()},
                    &[],
                )
                .await;
            }
            ScheduleState::Done { .. } => {
                self.project(slot, generation, doc! {"state": "done"}, &["lease_until"])
                    .await;
            }
            ScheduleState::Cancelled { .. } => {
                self.project(
                    slot,
                    generation,
                    doc! {"state": "cancelled"},
                    &["lease_until"],
                )
                .await;
            }
        }
    }

    async fn insert_unique(
        &self,
        coll: &Collection<Document>,
        d: Document,
        context: &str,
    ) -> Result<bool, StoreError> {
        match coll.insert_one(d).await {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = mongo_err(context, e);
                if err.kind() == StoreErrorKind::Duplicate {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
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
        let whole = self
            .config
            .find_one(doc! {"_id": id64(guild_id)?})
            .await
            .map_err(|e| mongo_err("reading guild config", e))?;
        let settings: Vec<Document> = self
            .settings
            .find(doc! {"guild_id": id64(guild_id)?})
            .await
            .map_err(|e| mongo_err("reading guild settings", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading guild settings", e))?;
        if whole.is_none() && settings.is_empty() {
            return Ok(GuildConfig::new(guild_id));
        }
        let mut d = match whole {
            Some(d) => d,
            None => encode_config(&GuildConfig::new(guild_id))?,
        };
        for s in settings {
            if let (Ok(field), Some(value)) = (s.get_str("field"), s.get("value"))
                && GuildField::ALL.iter().any(|f| f.name() == field)
            {
                d.insert(field.to_owned(), value.clone());
            }
        }
        decode_config(d)
    }

    async fn put_guild_config(&self, config: &GuildConfig) -> Result<(), StoreError> {
        self.put_guild_fields(config, &GuildField::ALL).await
    }

    async fn put_guild_fields(
        &self,
        config: &GuildConfig,
        fields: &[GuildField],
    ) -> Result<(), StoreError> {
        // One document per setting (FerretDB rewrites a whole document on update, so two
        // settings in one document could undo each other's edits): each is replaced whole,
        // the last writer of that setting wins.
        let encoded = encode_config(config)?;
        let guild = id64(config.guild_id)?;
        for field in fields {
            let name = field.name();
            let id = format!("{}:{name}", config.guild_id);
            let d = doc! {
                "_id": &id,
                "guild_id": guild,
                "field": name,
                "value": encoded.get(name).cloned().unwrap_or(Bson::Null),
            };
            replace_upsert(&self.settings, &id, d, "writing guild settings").await?;
        }
        Ok(())
    }

    async fn insert_case(&self, case: NewCase) -> Result<(Case, bool), StoreError> {
        case.validate()?;
        if let Some(existing) = self
            .case_by_key(case.guild_id, &case.idempotency_key)
            .await?
        {
            return Ok((existing, false));
        }
        id64(case.guild_id)?;
        id64(case.user_id)?;
        id64(case.moderator_id)?;
        let mut floor = 0u64;
        let mut attempt = 0;
        loop {
            let number = self.counter_next(case.guild_id).await?.max(floor);
            let stored = case.clone().into_case(number);
            let d = encode_case(&stored)?;
            match self.cases.insert_one(d).await {
                Ok(_) => return Ok((stored, true)),
                Err(e) => {
                    let err = mongo_err("inserting a case", e);
                    if err.kind() != StoreErrorKind::Duplicate {
                        return Err(err);
                    }
                    // Either the same key won a race (return its case; this number stays
                    // unused), or the number is taken: the counter lags (lost increment, or
                    // restored from an older backup). Continue above the highest number.
                    if let Some(existing) = self
                        .case_by_key(case.guild_id, &case.idempotency_key)
                        .await?
                    {
                        return Ok((existing, false));
                    }
                    attempt += 1;
                    if attempt >= MAX_NUMBER_RETRIES {
                        return Err(StoreError::unavailable(format!(
                            "no free case number in guild {} after {attempt} attempts",
                            case.guild_id
                        )));
                    }
                    floor = self.max_case_number(case.guild_id).await? + 1;
                    backoff(attempt).await;
                }
            }
        }
    }

    async fn get_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError> {
        self.load_case(guild_id, number).await
    }

    async fn case_by_key(
        &self,
        guild_id: u64,
        idempotency_key: &str,
    ) -> Result<Option<Case>, StoreError> {
        let d = self
            .cases
            .find_one(doc! {"guild_id": id64(guild_id)?, "idempotency_key": idempotency_key})
            .await
            .map_err(|e| mongo_err("reading a case by key", e))?;
        match d {
            Some(d) => Ok(self.assemble(guild_id, vec![d]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn set_case_outcome(
        &self,
        guild_id: u64,
        number: u64,
        outcome: CaseOutcome,
    ) -> Result<Case, StoreError> {
        let id = case_id(guild_id, number);
        let exists = self
            .cases
            .find_one(doc! {"_id": &id})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| mongo_err("reading a case", e))?
            .is_some();
        if !exists {
            return Err(StoreError::not_found(format!(
                "case #{number} does not exist in guild {guild_id}"
            )));
        }
        let d = doc! {
            "_id": &id,
            "outcome": to_bson(&outcome)?,
            "set_at": Timestamp::now().unix_millis(),
        };
        replace_upsert(&self.outcomes, &id, d, "setting a case outcome").await?;
        let mut case = self.load_case(guild_id, number).await?.ok_or_else(|| {
            StoreError::not_found(format!("case #{number} does not exist in guild {guild_id}"))
        })?;
        // A concurrent setter may have written after us; report what this call set.
        case.outcome = outcome;
        Ok(case)
    }

    async fn edit_case_reason(
        &self,
        guild_id: u64,
        number: u64,
        reason: Option<String>,
        editor_id: u64,
    ) -> Result<Case, StoreError> {
        for attempt in 0..64 {
            let mut case = self.load_case(guild_id, number).await?.ok_or_else(|| {
                StoreError::not_found(format!("case #{number} does not exist in guild {guild_id}"))
            })?;
            let k = case.reason_history.len() as u64 + 1;
            let edit = EditDoc {
                guild_id,
                number,
                k,
                reason: reason.clone(),
                previous: case.reason.clone(),
                editor_id,
                edited_at: Timestamp::now(),
            };
            let mut d = bson::to_document(&edit).map_err(|e| {
                StoreError::invalid(format!("cannot encode reason edit: {e}")).with_source(e)
            })?;
            d.insert("_id", format!("{}:{k}", case_id(guild_id, number)));
            if self
                .insert_unique(&self.edits, d, "editing a case reason")
                .await?
            {
                case.reason_history.push(ReasonEdit {
                    previous: edit.previous,
                    editor_id,
                    edited_at: edit.edited_at,
                });
                case.reason = reason;
                return Ok(case);
            }
            // Someone else recorded edit k first: re-read and edit on top of it.
            backoff(attempt).await;
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
        let cases = self.assemble(guild_id, docs).await?;
        Ok(CasePage { cases, total })
    }

    async fn count_cases(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ActionKind,
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
        let slot = slot_key(schedule.guild_id, schedule.user_id, schedule.kind);
        let case_number = match schedule.case_number {
            Some(n) => Bson::Int64(id64(n)?),
            None => Bson::Null,
        };
        for attempt in 0..32 {
            let latest = self.latest_generation(&slot).await?;
            let generation = latest
                .as_ref()
                .and_then(|d| get_u64(d, "generation"))
                .unwrap_or(0)
                + 1;
            let d = doc! {
                "_id": schedule_doc_id(&slot, generation),
                "slot": &slot,
                "guild_id": id64(schedule.guild_id)?,
                "user_id": id64(schedule.user_id)?,
                "kind": schedule.kind.as_str(),
                "generation": id64(generation)?,
                "due_at": schedule.due_at.unix_millis(),
                "case_number": case_number.clone(),
                "state": "pending",
            };
            if self
                .insert_unique(&self.schedules, d, "storing a schedule")
                .await?
            {
                // Projection only: earlier generations are superseded by this one existing.
                let _ = self
                    .schedules
                    .update_many(
                        doc! {
                            "slot": &slot,
                            "generation": {"$lt": id64(generation)?},
                            "state": {"$in": ["pending", "running"]},
                        },
                        doc! {"$set": {"state": "replaced"}, "$unset": {"lease_until": ""}},
                    )
                    .await;
                return Ok(Schedule {
                    id: ScheduleId {
                        guild_id: schedule.guild_id,
                        user_id: schedule.user_id,
                        kind: schedule.kind,
                        generation,
                    },
                    due_at: schedule.due_at,
                    case_number: schedule.case_number,
                    state: ScheduleState::Pending,
                });
            }
            backoff(attempt).await;
        }
        Err(StoreError::unavailable(format!(
            "schedule slot {slot} keeps changing; not stored"
        )))
    }

    async fn get_schedule(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<Option<Schedule>, StoreError> {
        match self
            .latest_generation(&slot_key(guild_id, user_id, kind))
            .await?
        {
            Some(d) => Ok(Some(self.resolve(d).await?)),
            None => Ok(None),
        }
    }

    async fn cancel_schedules(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<u64, StoreError> {
        let slot = slot_key(guild_id, user_id, kind);
        let Some(latest) = self.latest_generation(&slot).await? else {
            return Ok(0);
        };
        let generation = get_u64(&latest, "generation")
            .ok_or_else(|| StoreError::corrupt("schedule without generation"))?;
        let at = Timestamp::now();
        let d = doc! {
            "_id": end_id(&slot, generation),
            "slot": &slot,
            "generation": id64(generation)?,
            "type": "end",
            "state": "cancelled",
            "at": at.unix_millis(),
        };
        if !self
            .insert_unique(&self.events, d, "cancelling a schedule")
            .await?
        {
            return Ok(0);
        }
        self.project_state(
            &slot,
            generation,
            &ScheduleState::Cancelled { cancelled_at: at },
        )
        .await;
        Ok(1)
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
        let candidates: Vec<Document> = self
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
            .map_err(|e| mongo_err("listing due schedules", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("listing due schedules", e))?;
        let mut out = Vec::new();
        for d in candidates {
            let (Some(guild), Ok(slot)) = (get_u64(&d, "guild_id"), d.get_str("slot")) else {
                continue;
            };
            if !scope.contains(guild) {
                continue;
            }
            let slot = slot.to_owned();
            let s = self.resolve(d).await?;
            if self.superseded(&slot, s.id.generation).await? {
                self.project(
                    &slot,
                    s.id.generation,
                    doc! {"state": "replaced"},
                    &["lease_until"],
                )
                .await;
                continue;
            }
            if s.due_at_time(now) {
                out.push(s);
                if out.len() >= limit {
                    break;
                }
            } else {
                // The projection lagged behind the event records; bring it up to date.
                self.project_state(&slot, s.id.generation, &s.state).await;
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
        let slot = id.slot_key();
        let exists = self
            .schedules
            .find_one(doc! {"_id": schedule_doc_id(&slot, id.generation)})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| mongo_err("reading a schedule", e))?
            .is_some();
        if !exists || self.superseded(&slot, id.generation).await? {
            return Ok(false);
        }
        let ev = self.events(&slot, id.generation).await?;
        let now = Timestamp::now();
        if ev.end.is_some() {
            return Ok(false);
        }
        let n = match &ev.claim {
            Some((_, _, lease_until)) if *lease_until >= now => return Ok(false),
            Some((n, _, _)) => n + 1,
            None => 1,
        };
        let lease_until = now.plus(lease);
        let d = doc! {
            "_id": claim_id(&slot, id.generation, n),
            "slot": &slot,
            "generation": id64(id.generation)?,
            "type": "claim",
            "n": id64(n)?,
            "owner": owner,
            "lease_until": lease_until.unix_millis(),
            "at": now.unix_millis(),
        };
        if !self
            .insert_unique(&self.events, d, "claiming a schedule")
            .await?
        {
            return Ok(false);
        }
        // The claim counts only if the schedule was not ended or replaced meanwhile.
        if self.events(&slot, id.generation).await?.end.is_some()
            || self.superseded(&slot, id.generation).await?
        {
            return Ok(false);
        }
        self.project_state(
            &slot,
            id.generation,
            &ScheduleState::Running {
                owner: owner.to_owned(),
                lease_until,
            },
        )
        .await;
        Ok(true)
    }

    async fn complete_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        outcome: ScheduleOutcome,
    ) -> Result<bool, StoreError> {
        let slot = id.slot_key();
        let ev = self.events(&slot, id.generation).await?;
        let mine = matches!(&ev.claim, Some((_, o, _)) if o == owner);
        if ev.end.is_some() || !mine || self.superseded(&slot, id.generation).await? {
            return Ok(false);
        }
        let at = Timestamp::now();
        let d = doc! {
            "_id": end_id(&slot, id.generation),
            "slot": &slot,
            "generation": id64(id.generation)?,
            "type": "end",
            "state": "done",
            "owner": owner,
            "outcome": to_bson(&outcome)?,
            "at": at.unix_millis(),
        };
        if !self
            .insert_unique(&self.events, d, "completing a schedule")
            .await?
        {
            return Ok(false);
        }
        self.project_state(
            &slot,
            id.generation,
            &ScheduleState::Done {
                owner: owner.to_owned(),
                outcome,
                completed_at: at,
            },
        )
        .await;
        Ok(true)
    }

    async fn incr_counter(
        &self,
        guild_id: u64,
        metric: &str,
        hour: u64,
        by: u64,
    ) -> Result<u64, StoreError> {
        validate_metric(metric)?;
        let filter = doc! {"guild_id": id64(guild_id)?, "metric": metric, "hour": id64(hour)?};
        let mut d = filter.clone();
        d.insert("by", id64(by)?);
        self.analytics
            .insert_one(d)
            .await
            .map_err(|e| mongo_err("incrementing a counter", e))?;
        let docs: Vec<Document> = self
            .analytics
            .find(filter)
            .projection(doc! {"by": 1})
            .await
            .map_err(|e| mongo_err("reading a counter", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading a counter", e))?;
        Ok(docs
            .iter()
            .filter_map(|d| get_u64(d, "by"))
            .fold(0u64, u64::saturating_add))
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
            .projection(doc! {"hour": 1, "by": 1})
            .await
            .map_err(|e| mongo_err("reading counters", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading counters", e))?;
        let mut sums = std::collections::BTreeMap::<u64, u64>::new();
        for d in &docs {
            let (Some(hour), Some(by)) = (get_u64(d, "hour"), get_u64(d, "by")) else {
                return Err(StoreError::corrupt("analytics record is unreadable"));
            };
            let v = sums.entry(hour).or_default();
            *v = v.saturating_add(by);
        }
        Ok(sums
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(hour, value)| CounterBucket { hour, value })
            .collect())
    }
}
