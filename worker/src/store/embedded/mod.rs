//! The embedded store: one redb file, no server.
//!
//! One file per concern, each adding to [`EmbeddedStore`]:
//! - this file: the handle, opening the file, running redb calls on the blocking pool, the
//!   error mapping and the JSON encoding of records, and [`StoreBackend`];
//! - `tables.rs`: the redb tables (the file's layout);
//! - `configs.rs`: [`ConfigStore`];
//! - `cases.rs`: [`CaseStore`] (the case counter is written in the same transaction as the
//!   case);
//! - `schedules.rs`: [`ScheduleStore`];
//! - `counters.rs`: [`AnalyticsStore`].

mod cases;
mod configs;
mod counters;
mod schedules;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(doc)]
use super::{AnalyticsStore, CaseStore, ConfigStore, ScheduleStore, Store};
use super::{StoreBackend, StoreError, StoreErrorKind};
use tables::{CASE_KEYS, CASE_SEQ, CASES, CASES_BY_USER, CONFIG, COUNTERS, SCHEDULES};

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

#[async_trait]
impl StoreBackend for EmbeddedStore {
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
}
