//! The MongoDB store (also runs on FerretDB 1.24).
//!
//! One file per concern, each adding to [`MongoStore`]:
//! - this file: the options, the client and its collections, [`MongoStore::connect`], the
//!   error mapping and the write helpers every concern shares (inserts into unique keys,
//!   whole-document upserts, back-off), and [`StoreBackend`];
//! - `codec.rs`: BSON documents to and from the store's types, and document ids;
//! - `migrations.rs`: the indexes, created on every start;
//! - `configs.rs`: [`ConfigStore`] (`guild_settings`, `guild_config`);
//! - `cases.rs`: [`CaseStore`] (`cases`, `case_outcomes`, `case_edits`, `case_changes`);
//! - `counters.rs`: the case-number counter (`counters`) and [`AnalyticsStore`]
//!   (`analytics`);
//! - `schedules.rs`: [`ScheduleStore`] (`schedules`, `schedule_events`).

mod cases;
mod codec;
mod configs;
mod counters;
mod migrations;
mod schedules;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};

#[cfg(doc)]
use super::{AnalyticsStore, CaseStore, ConfigStore, ScheduleStore, Store};
use super::{StoreBackend, StoreError, StoreErrorKind};

/// Database name used when neither [`MongoOptions::database`] nor the URI names one.
pub const DEFAULT_DATABASE: &str = "kyuta";

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
/// - `case_changes`: `_id` = `<guild>:<number>:<k>` for the k-th hide, unhide or delete, the
///   same way: the authority on a case's `hidden` and `voided`, which the `cases` document
///   repeats (derived from every change) so lists and counts can filter on them.
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
    changes: Collection<Document>,
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

/// A short random pause before retrying a lost race, so racers spread out.
async fn backoff(attempt: usize) {
    let max = 2 + 3 * attempt.min(10) as u64;
    let ms = rand::random_range(1..=max);
    tokio::time::sleep(Duration::from_millis(ms)).await;
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

/// Kyuta's settings on top of what the URI says. The URI's own options pass through
/// (`retryWrites`, `readPreference`, `w`, `journal`, `replicaSet`, TLS, …); without a write
/// concern in the URI, writes wait for a majority (`w=majority`), so an acknowledged case or
/// case number survives a replica-set failover, as the exactly-once rules need (on a single
/// server, majority is that server). Retryable writes follow the driver's default (on) unless
/// the URI turns them off; the driver uses them only on a replica set or sharded cluster.
fn with_defaults(client_opts: &mut ClientOptions, options: &MongoOptions) {
    client_opts.server_selection_timeout = Some(options.server_selection_timeout);
    client_opts.connect_timeout = Some(options.connect_timeout);
    if client_opts.app_name.is_none() {
        client_opts.app_name = Some("kyuta".to_owned());
    }
    let concern = client_opts
        .write_concern
        .get_or_insert_with(Default::default);
    if concern.w.is_none() {
        concern.w = Some(mongodb::options::Acknowledgment::Majority);
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
        with_defaults(&mut client_opts, &options);
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
            changes: db.collection("case_changes"),
            schedules: db.collection("schedules"),
            events: db.collection("schedule_events"),
            analytics: db.collection("analytics"),
            db,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The database in use.
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Inserts `d` into `coll`: `true` when inserted, `false` when a document with one of its
    /// unique keys exists (someone else was first).
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
impl StoreBackend for MongoStore {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::options::{Acknowledgment, ReadPreference};

    async fn options(uri: &str) -> ClientOptions {
        let mut o = ClientOptions::parse(uri).await.unwrap();
        with_defaults(&mut o, &MongoOptions::new(uri));
        o
    }

    #[tokio::test]
    async fn writes_wait_for_a_majority_unless_the_uri_says_otherwise() {
        let o = options("mongodb://127.0.0.1:27017/kyuta").await;
        let w = o.write_concern.unwrap();
        assert_eq!(w.w, Some(Acknowledgment::Majority));
        assert_eq!(o.retry_writes, None, "the driver's default (on)");
        assert_eq!(o.app_name.as_deref(), Some("kyuta"));
        assert_eq!(o.server_selection_timeout, Some(Duration::from_secs(3)));

        let o = options(
            "mongodb://a:1,b:2/kyuta?replicaSet=rs0&w=2&journal=true&retryWrites=false\
             &readPreference=secondaryPreferred&appName=bots",
        )
        .await;
        let w = o.write_concern.unwrap();
        assert_eq!(w.w, Some(Acknowledgment::Nodes(2)));
        assert_eq!(w.journal, Some(true));
        assert_eq!(o.retry_writes, Some(false));
        assert!(matches!(
            o.selection_criteria,
            Some(mongodb::options::SelectionCriteria::ReadPreference(
                ReadPreference::SecondaryPreferred { .. }
            ))
        ));
        assert_eq!(o.repl_set_name.as_deref(), Some("rs0"));
        assert_eq!(o.app_name.as_deref(), Some("bots"));
    }
}
