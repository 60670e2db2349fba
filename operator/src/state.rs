//! What the operator reads from and writes to the cluster's Redis: per-shard load, the
//! active generation, and cleanup of every key of a deleted cluster.

use std::collections::HashMap;
use std::time::Duration;

use kyuta_crds::contract::{load_fields, redis_keys};
use kyuta_redis::Conn;

use crate::decide::{GatewayClosed, Load};
use crate::error::{Error, Result};

/// How long any one Redis step may take.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

async fn timed<T>(f: impl Future<Output = redis::RedisResult<T>>) -> Result<T> {
    tokio::time::timeout(REDIS_TIMEOUT, f)
        .await
        .map_err(|_| Error::RedisTimeout(REDIS_TIMEOUT))?
        .map_err(Error::from)
}

/// Opens a connection to `url`: one server or a Redis Cluster (`kyuta_redis`).
pub async fn connect(url: &str) -> Result<Conn> {
    let options = kyuta_redis::Options {
        response_timeout: REDIS_TIMEOUT,
        open_timeout: REDIS_TIMEOUT,
        ..kyuta_redis::Options::default()
    };
    kyuta_redis::connect(url, &options)
        .await
        .map_err(|e| match e {
            kyuta_redis::OpenError::Timeout => Error::RedisTimeout(REDIS_TIMEOUT),
            kyuta_redis::OpenError::Url(e) | kyuta_redis::OpenError::Redis(e) => Error::from(e),
        })
}

/// The operator's Redis connections, one per URL, kept across reconciles (a reconcile does
/// not open a connection of its own). A connection that failed is forgotten, so the next
/// reconcile opens a new one.
#[derive(Default)]
pub struct Connections {
    open: tokio::sync::Mutex<HashMap<String, Conn>>,
}

impl Connections {
    /// The connection to `url`, opened if there is none.
    pub async fn get(&self, url: &str) -> Result<Conn> {
        if let Some(con) = self.open.lock().await.get(url) {
            return Ok(con.clone());
        }
        // Not under the lock: a Redis that does not answer must not hold other clusters.
        let con = connect(url).await?;
        self.open.lock().await.insert(url.to_owned(), con.clone());
        Ok(con)
    }

    /// Drops the connection to `url` (after a failure on it).
    pub async fn forget(&self, url: Option<&str>) {
        if let Some(url) = url {
            self.open.lock().await.remove(url);
        }
    }
}

/// One shard's load hash: guilds, events per minute, updated at, close code.
type LoadRow = (Option<u64>, Option<u64>, Option<i64>, Option<u16>);

/// Sums the load the workers published for the shards `0..shard_total` of `cluster`, and
/// notes the shards whose load carries a fatal close code ([`Load::closed`]).
/// Hashes older than [`load_fields::STALE_AFTER_SECS`] (or absent) are left out and counted as
/// not fresh ([`Load::complete`] is false then); with no fresh hash at all both figures are
/// `None` (unknown, not zero).
pub async fn read_load(
    con: &mut Conn,
    cluster: &str,
    shard_total: u32,
    now_unix: i64,
) -> Result<Load> {
    let mut pipe = redis::pipe();
    for shard in 0..shard_total {
        pipe.cmd("HMGET")
            .arg(redis_keys::shard_load(cluster, shard_total, shard))
            .arg(load_fields::GUILDS)
            .arg(load_fields::EVENTS_PER_MINUTE)
            .arg(load_fields::UPDATED_AT)
            .arg(load_fields::CLOSE_CODE);
    }
    let rows: Vec<LoadRow> = timed(pipe.query_async(con)).await?;
    let mut guilds = 0u64;
    let mut epm = 0u64;
    let mut fresh = 0u32;
    let mut closed: Option<GatewayClosed> = None;
    for (shard, (g, e, at, close)) in (0..shard_total).zip(rows) {
        // A close code counts while the hash exists: the worker keeps it as long as the
        // shard backs off, however old the figures are.
        if let Some(code) = close {
            closed = Some(match closed {
                None => GatewayClosed {
                    shard,
                    code,
                    shards: 1,
                },
                Some(c) => GatewayClosed {
                    shards: c.shards + 1,
                    ..c
                },
            });
        }
        let Some(at) = at else { continue };
        if now_unix - at > load_fields::STALE_AFTER_SECS as i64 {
            continue;
        }
        fresh += 1;
        guilds += g.unwrap_or(0);
        epm += e.unwrap_or(0);
    }
    if fresh == 0 {
        return Ok(Load {
            shards: shard_total,
            closed,
            ..Load::unknown()
        });
    }
    Ok(Load {
        guilds: Some(guilds),
        events_per_second: Some(epm as f64 / 60.0),
        fresh_shards: fresh,
        shards: shard_total,
        closed,
    })
}

/// Records which generation answers interactions.
pub async fn set_active_generation(con: &mut Conn, cluster: &str, generation: u32) -> Result<()> {
    timed(
        redis::cmd("SET")
            .arg(redis_keys::active_generation(cluster))
            .arg(generation)
            .query_async::<()>(con),
    )
    .await
}

/// The generation Redis names as active, if any.
pub async fn active_generation(con: &mut Conn, cluster: &str) -> Result<Option<u32>> {
    timed(
        redis::cmd("GET")
            .arg(redis_keys::active_generation(cluster))
            .query_async::<Option<u32>>(con),
    )
    .await
}

/// Deletes every key of `cluster` (under [`redis_keys::cluster_prefix`]) with SCAN + UNLINK
/// (never KEYS, so Redis is not blocked); on a Redis Cluster the scan runs on the node that
/// owns the cluster's hash tag. Returns how many keys were deleted.
pub async fn delete_cluster_keys(con: &mut Conn, cluster: &str) -> Result<u64> {
    let prefix = redis_keys::cluster_prefix(cluster);
    let pattern = format!("{}*", glob_escape(&prefix));
    let mut cursor: u64 = 0;
    let mut deleted = 0u64;
    loop {
        let (next, keys) = timed(con.scan_step(&prefix, &pattern, cursor, 500)).await?;
        if !keys.is_empty() {
            let n: u64 = timed(redis::cmd("UNLINK").arg(&keys).query_async(con)).await?;
            deleted += n;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// Escapes Redis glob metacharacters.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_escape() {
        assert_eq!(super::glob_escape("kyuta:a*b:"), "kyuta:a\\*b:");
        assert_eq!(super::glob_escape("kyuta:prod:"), "kyuta:prod:");
    }
}
