//! Fatal gateway closes (4004, 4010–4014): what each means and what fixes it, and the
//! back-off that keeps a restarted process from spending identifies on a shard Discord will
//! close again.
//!
//! When the gateway closes a shard for good, the worker records it in Redis
//! (`redis_keys::shard_fatal`: the code, when, and how many fatal closes in a row), writes
//! the code into the shard's load hash for the operator (`load_fields::CLOSE_CODE`), fails
//! `/health` and exits non-zero. The next process to run the shard (the same pod restarted,
//! or another) reads the record first and, while [`backoff`] of the strikes has not passed
//! since the close, waits (not Ready, `/ready` says why) before it identifies. A READY ends
//! the streak (the record is deleted); a record not renewed for
//! `fatal_fields::REMEMBER_SECS` expires. Without Redis there is no record: the restart
//! policy (Kubernetes' CrashLoopBackOff) is the only back-off.

use std::time::Duration;

use kyuta_crds::contract::{fatal_fields, load_fields, redis_keys};

/// The first wait after a fatal close.
pub const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// The longest wait.
pub const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

/// How long to wait after the `strikes`-th fatal close in a row before identifying again:
/// 30 s, doubling with each strike, at most 15 minutes.
#[must_use]
pub fn backoff(strikes: u32) -> Duration {
    let doublings = strikes.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_MAX)
}

/// The last fatal close of a shard, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FatalRecord {
    /// The close code (0 when the close frame had none).
    pub code: u16,
    /// When (Unix ms).
    pub at_ms: u64,
    /// Fatal closes in a row.
    pub strikes: u32,
}

impl FatalRecord {
    /// How much longer to wait at `now_ms` before identifying; `None` once the back-off
    /// passed.
    #[must_use]
    pub fn wait_left(&self, now_ms: u64) -> Option<Duration> {
        let until = self
            .at_ms
            .saturating_add(u64::try_from(backoff(self.strikes).as_millis()).unwrap_or(u64::MAX));
        (until > now_ms).then(|| Duration::from_millis(until - now_ms))
    }
}

/// A record's fields as read: code, at (ms), strikes.
type RecordRow = (Option<u16>, Option<u64>, Option<u32>);

/// Bound on each Redis command of the records.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// The fatal-close records of this process's shards: in Redis, or none without it.
#[derive(Clone)]
pub struct FatalRecords {
    redis: Option<(kyuta_redis::Conn, String, u32)>,
}

impl std::fmt::Debug for FatalRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FatalRecords")
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

impl FatalRecords {
    /// Records in Redis for the shards of `cluster` at `shard_total`.
    #[must_use]
    pub fn redis(conn: kyuta_redis::Conn, cluster: &str, shard_total: u32) -> Self {
        Self {
            redis: Some((conn, cluster.to_owned(), shard_total)),
        }
    }

    /// No records (no Redis).
    #[must_use]
    pub fn disabled() -> Self {
        Self { redis: None }
    }

    /// Runs `pipe` (bounded by [`REDIS_TIMEOUT`]); `None` without Redis.
    async fn query<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<Option<T>, redis::RedisError> {
        let Some((conn, _, _)) = &self.redis else {
            return Ok(None);
        };
        let mut c = conn.clone();
        match tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<T>(&mut c)).await {
            Ok(r) => r.map(Some),
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis did not answer in time",
            ))),
        }
    }

    fn keys(&self, shard: u32) -> Option<(String, String)> {
        self.redis.as_ref().map(|(_, cluster, total)| {
            (
                redis_keys::shard_fatal(cluster, *total, shard),
                redis_keys::shard_load(cluster, *total, shard),
            )
        })
    }

    /// The record of `shard`, if there is one.
    pub async fn last(&self, shard: u32) -> Result<Option<FatalRecord>, redis::RedisError> {
        let Some((fatal, _)) = self.keys(shard) else {
            return Ok(None);
        };
        let mut p = redis::pipe();
        p.cmd("HMGET")
            .arg(&fatal)
            .arg(fatal_fields::CODE)
            .arg(fatal_fields::AT_MS)
            .arg(fatal_fields::STRIKES);
        let row: Option<(RecordRow,)> = self.query(&p).await?;
        Ok(match row {
            Some(((Some(code), Some(at_ms), strikes),)) => Some(FatalRecord {
                code,
                at_ms,
                strikes: strikes.unwrap_or(1).max(1),
            }),
            _ => None,
        })
    }

    /// Records a fatal close of `shard` at `now_ms` (one more strike) and puts the code in
    /// the shard's load hash for the operator; both live `fatal_fields::REMEMBER_SECS`.
    /// Returns the strikes so far (`None` without Redis).
    pub async fn record(
        &self,
        shard: u32,
        code: Option<u16>,
        now_ms: u64,
    ) -> Result<Option<u32>, redis::RedisError> {
        let Some((fatal, load)) = self.keys(shard) else {
            return Ok(None);
        };
        let code = code.unwrap_or(0);
        let ttl = fatal_fields::REMEMBER_SECS as i64;
        let mut p = redis::pipe();
        p.atomic()
            .hincr(&fatal, fatal_fields::STRIKES, 1)
            .hset_multiple(
                &fatal,
                &[
                    (fatal_fields::CODE, u64::from(code)),
                    (fatal_fields::AT_MS, now_ms),
                ],
            )
            .ignore()
            .expire(&fatal, ttl)
            .ignore()
            .hset(&load, load_fields::CLOSE_CODE, code)
            .ignore()
            .expire(&load, ttl)
            .ignore();
        let row: Option<(u32,)> = self.query(&p).await?;
        Ok(row.map(|(s,)| s))
    }

    /// Forgets `shard`'s streak (it is READY again).
    pub async fn clear(&self, shard: u32) -> Result<(), redis::RedisError> {
        let Some((fatal, load)) = self.keys(shard) else {
            return Ok(());
        };
        let mut p = redis::pipe();
        p.del(&fatal)
            .ignore()
            .hdel(&load, load_fields::CLOSE_CODE)
            .ignore();
        self.query::<()>(&p).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(0), Duration::from_secs(30));
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(3), Duration::from_secs(120));
        assert_eq!(backoff(5), Duration::from_secs(480));
        assert_eq!(backoff(6), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    #[test]
    fn wait_left_counts_from_the_close() {
        let r = FatalRecord {
            code: 4014,
            at_ms: 1_000_000,
            strikes: 2,
        };
        assert_eq!(r.wait_left(1_000_000), Some(Duration::from_secs(60)));
        assert_eq!(r.wait_left(1_050_000), Some(Duration::from_secs(10)));
        assert_eq!(r.wait_left(1_060_000), None);
        assert_eq!(r.wait_left(9_000_000), None);
    }
}
