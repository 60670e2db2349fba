//! Saved gateway sessions, so a shard closed on shutdown is resumed by whoever runs it next.
//! A connected shard also saves its session every [`super::runner::CHECKPOINT_EVERY`] (a
//! checkpoint), so the next process of a pod killed without warning resumes too.
//!
//! With Redis a session lives under `redis_keys::session(cluster, shard_total, shard)` with a
//! short TTL and is taken (`GETDEL`) by the process that resumes it, so two processes never
//! resume one session. Without Redis sessions go to a JSON file (or stay in memory).

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use kyuta_crds::contract::redis_keys;

use crate::rest::BoxFuture;

/// A resumable session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSession {
    /// Discord's session id.
    pub session_id: String,
    /// Last sequence number received.
    pub sequence: u64,
    /// Where to resume (`resume_gateway_url`).
    pub resume_url: Option<String>,
    /// When it was saved (Unix ms); sessions older than the TTL are ignored.
    pub saved_at_ms: u64,
    /// Guilds the session had: a resumed session gets no READY or GUILD_CREATE again, so
    /// the guild count (metrics, per-shard load) starts from these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guilds: Vec<u64>,
}

/// A session store failure.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Redis failed.
    #[error("session store (Redis): {0}")]
    Redis(#[from] redis::RedisError),
    /// The file failed.
    #[error("session store ({path}): {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A stored session was unreadable.
    #[error("session store: unreadable session: {0}")]
    Corrupt(#[from] serde_json::Error),
}

/// Where sessions are kept between processes.
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Takes the saved session of `shard` (removing it), if one younger than the TTL exists.
    fn take(&self, shard: u32) -> BoxFuture<'_, Result<Option<SavedSession>, SessionError>>;
    /// Saves `shard`'s session.
    fn save(&self, shard: u32, session: SavedSession) -> BoxFuture<'_, Result<(), SessionError>>;
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Sessions in Redis.
#[derive(Clone)]
pub struct RedisSessions {
    conn: kyuta_redis::Conn,
    cluster: String,
    shard_total: u32,
    ttl: Duration,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("cluster", &self.cluster)
            .field("shard_total", &self.shard_total)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisSessions {
    /// Sessions of `cluster`'s generation with `shard_total` shards.
    #[must_use]
    pub fn new(conn: kyuta_redis::Conn, cluster: &str, shard_total: u32, ttl: Duration) -> Self {
        Self {
            conn,
            cluster: cluster.to_owned(),
            shard_total,
            ttl,
        }
    }
}

impl SessionStore for RedisSessions {
    fn take(&self, shard: u32) -> BoxFuture<'_, Result<Option<SavedSession>, SessionError>> {
        Box::pin(async move {
            let key = redis_keys::session(&self.cluster, self.shard_total, shard);
            let mut conn = self.conn.clone();
            let raw: Option<String> = redis::cmd("GETDEL")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
            match raw {
                None => Ok(None),
                Some(raw) => {
                    let s: SavedSession = serde_json::from_str(&raw)?;
                    Ok(
                        (now_ms().saturating_sub(s.saved_at_ms) <= self.ttl.as_millis() as u64)
                            .then_some(s),
                    )
                }
            }
        })
    }

    fn save(&self, shard: u32, session: SavedSession) -> BoxFuture<'_, Result<(), SessionError>> {
        Box::pin(async move {
            let key = redis_keys::session(&self.cluster, self.shard_total, shard);
            let mut conn = self.conn.clone();
            let raw = serde_json::to_string(&session)?;
            let () = redis::cmd("SET")
                .arg(&key)
                .arg(raw)
                .arg("PX")
                .arg(self.ttl.as_millis() as u64)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
    }
}

/// Sessions in a JSON file (single-process deployments), or only in memory when `path` is
/// `None`.
#[derive(Debug)]
pub struct FileSessions {
    path: Option<PathBuf>,
    shard_total: u32,
    ttl: Duration,
    memory: Mutex<BTreeMap<String, SavedSession>>,
    io: tokio::sync::Mutex<()>,
}

impl FileSessions {
    /// Sessions in `path` (or memory), for a generation of `shard_total` shards.
    #[must_use]
    pub fn new(path: Option<PathBuf>, shard_total: u32, ttl: Duration) -> Self {
        Self {
            path,
            shard_total,
            ttl,
            memory: Mutex::new(BTreeMap::new()),
            io: tokio::sync::Mutex::new(()),
        }
    }

    fn key(&self, shard: u32) -> String {
        format!("{}:{shard}", self.shard_total)
    }

    fn read(&self) -> Result<BTreeMap<String, SavedSession>, SessionError> {
        let Some(path) = &self.path else {
            return Ok(self.memory.lock().expect("session lock").clone());
        };
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Ok(BTreeMap::new()),
            Ok(text) => Ok(serde_json::from_str(&text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(SessionError::File {
                path: path.clone(),
                source,
            }),
        }
    }

    fn write(&self, map: &BTreeMap<String, SavedSession>) -> Result<(), SessionError> {
        let Some(path) = &self.path else {
            *self.memory.lock().expect("session lock") = map.clone();
            return Ok(());
        };
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string_pretty(map)?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|source| SessionError::File {
                path: path.clone(),
                source,
            })
    }
}

impl SessionStore for FileSessions {
    fn take(&self, shard: u32) -> BoxFuture<'_, Result<Option<SavedSession>, SessionError>> {
        Box::pin(async move {
            let _io = self.io.lock().await;
            let mut map = match self.read() {
                Ok(m) => m,
                Err(SessionError::Corrupt(e)) => {
                    tracing::warn!(error = %e, "session file unreadable; starting fresh");
                    BTreeMap::new()
                }
                Err(e) => return Err(e),
            };
            let taken = map.remove(&self.key(shard));
            let ttl = self.ttl.as_millis() as u64;
            map.retain(|_, s| now_ms().saturating_sub(s.saved_at_ms) <= ttl);
            self.write(&map)?;
            Ok(taken.filter(|s| now_ms().saturating_sub(s.saved_at_ms) <= ttl))
        })
    }

    fn save(&self, shard: u32, session: SavedSession) -> BoxFuture<'_, Result<(), SessionError>> {
        Box::pin(async move {
            let _io = self.io.lock().await;
            let mut map = self.read().unwrap_or_default();
            map.insert(self.key(shard), session);
            self.write(&map)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: &str, age_ms: u64) -> SavedSession {
        SavedSession {
            session_id: id.into(),
            sequence: 42,
            resume_url: Some("ws://127.0.0.1:1".into()),
            saved_at_ms: now_ms() - age_ms,
            guilds: Vec::new(),
        }
    }

    #[tokio::test]
    async fn file_sessions_are_taken_once_and_expire() {
        let dir = std::env::temp_dir().join(format!("kyuta-sessions-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.json");
        let store = FileSessions::new(Some(path.clone()), 4, Duration::from_secs(60));
        store.save(1, s("a", 0)).await.unwrap();
        store.save(2, s("old", 120_000)).await.unwrap();
        // a new process reads the same file
        let store = FileSessions::new(Some(path.clone()), 4, Duration::from_secs(60));
        assert_eq!(store.take(1).await.unwrap().unwrap().session_id, "a");
        assert!(store.take(1).await.unwrap().is_none());
        assert!(store.take(2).await.unwrap().is_none());
        // another shard total does not see these sessions
        let other = FileSessions::new(Some(path), 8, Duration::from_secs(60));
        assert!(other.take(1).await.unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn memory_sessions() {
        let store = FileSessions::new(None, 1, Duration::from_secs(60));
        store.save(0, s("m", 0)).await.unwrap();
        assert_eq!(store.take(0).await.unwrap().unwrap().sequence, 42);
    }
}
