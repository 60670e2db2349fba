//! Kyuta's Redis connection: one server, or a Redis Cluster, chosen from what the server
//! says.
//!
//! `REDIS_URL` names one server (`redis://host:6379`) or, for a cluster, one or more of its
//! nodes separated by commas (`redis://a:6379,redis://b:6379`). A single URL whose server
//! answers `cluster_enabled:1` to `INFO cluster` is used as a cluster seed too, so the same
//! setting works for both. [`Conn`] is a cheap-to-clone handle that runs commands, pipelines
//! and scripts on either; every key of one KyutaCluster shares a hash tag
//! (`kyuta_crds::contract::redis_keys`), so the scripts and atomic pipelines that touch
//! several keys stay in one slot.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// Timeouts and retries of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How long opening a TCP connection may take.
    pub connect_timeout: Duration,
    /// How long a command waits for its answer before it fails (a stalled server fails
    /// calls instead of holding their callers).
    pub response_timeout: Duration,
    /// Retries of a command after a connection error (reconnecting in between).
    pub retries: u32,
    /// How long the first connection (and the cluster check) may take in all.
    pub open_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            retries: 2,
            open_timeout: Duration::from_secs(10),
        }
    }
}

/// A connection to one Redis server or to a Redis Cluster.
#[derive(Clone)]
pub enum Conn {
    /// One server, reconnected on failure.
    Single(ConnectionManager),
    /// A cluster: commands go to the node that owns their key's slot.
    Cluster(ClusterConnection),
}

impl From<ConnectionManager> for Conn {
    fn from(c: ConnectionManager) -> Self {
        Self::Single(c)
    }
}

impl From<ClusterConnection> for Conn {
    fn from(c: ClusterConnection) -> Self {
        Self::Cluster(c)
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "Conn::Single",
            Self::Cluster(_) => "Conn::Cluster",
        })
    }
}

/// Why a connection could not be opened. The URL is never part of the message (it may hold a
/// password); callers name the setting.
#[derive(Debug)]
pub enum OpenError {
    /// The URL is not a Redis URL.
    Url(redis::RedisError),
    /// The server (or a cluster node) did not answer within [`Options::open_timeout`].
    Timeout,
    /// The server answered with an error, or the connection failed.
    Redis(redis::RedisError),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(e) => write!(f, "not a usable Redis URL: {e}"),
            Self::Timeout => f.write_str("no answer in time"),
            Self::Redis(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Url(e) | Self::Redis(e) => Some(e),
            Self::Timeout => None,
        }
    }
}

/// The node URLs of `url`: one, or several separated by commas.
fn seeds(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Opens a connection to what `url` names (see the crate docs), checking that it answers.
///
/// # Errors
/// [`OpenError`] when the URL is not usable or the server does not answer in time.
pub async fn connect(url: &str, options: &Options) -> Result<Conn, OpenError> {
    tokio::time::timeout(options.open_timeout, open(url, options))
        .await
        .map_err(|_| OpenError::Timeout)?
}

async fn open(url: &str, options: &Options) -> Result<Conn, OpenError> {
    let seeds = seeds(url);
    let cluster = match seeds.as_slice() {
        [] => {
            return Err(OpenError::Url(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "empty",
            ))));
        }
        [one] => {
            let client = redis::Client::open(*one).map_err(OpenError::Url)?;
            let mut probe = client
                .get_multiplexed_async_connection()
                .await
                .map_err(OpenError::Redis)?;
            let info: String = redis::cmd("INFO")
                .arg("cluster")
                .query_async(&mut probe)
                .await
                .map_err(OpenError::Redis)?;
            info.lines().any(|l| l.trim() == "cluster_enabled:1")
        }
        _ => true,
    };
    if cluster {
        let client = ClusterClient::builder(seeds)
            .connection_timeout(options.connect_timeout)
            .response_timeout(options.response_timeout)
            .retries(options.retries)
            .build()
            .map_err(OpenError::Url)?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(OpenError::Redis)?;
        return Ok(Conn::Cluster(conn));
    }
    let client = redis::Client::open(url.trim()).map_err(OpenError::Url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(options.connect_timeout))
        .set_response_timeout(Some(options.response_timeout))
        .set_number_of_retries(options.retries as usize);
    let manager = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(OpenError::Redis)?;
    Ok(Conn::Single(manager))
}

impl Conn {
    /// Whether this is a cluster connection.
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// One `SCAN` step over the keys matching `pattern`, from `cursor`: the next cursor (0
    /// at the end) and the keys. On a cluster the scan runs on the primary that owns the slot
    /// of `slot_key`, so `pattern` must only match keys of that hash tag (as every key of one
    /// KyutaCluster is).
    ///
    /// # Errors
    /// The server's error.
    pub async fn scan_step(
        &mut self,
        slot_key: &str,
        pattern: &str,
        cursor: u64,
        count: usize,
    ) -> RedisResult<(u64, Vec<String>)> {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count);
        match self {
            Self::Single(c) => scan.query_async(c).await,
            Self::Cluster(c) => {
                let slot: u16 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(slot_key)
                    .query_async(c)
                    .await?;
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::new(slot, SlotAddr::Master),
                ));
                let value = c.route_command(scan, routing).await?;
                Ok(redis::from_redis_value(value)?)
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::seeds;

    #[test]
    fn seeds_are_split_on_commas() {
        assert_eq!(seeds("redis://a:1"), ["redis://a:1"]);
        assert_eq!(
            seeds(" redis://a:1 , redis://b:2,"),
            ["redis://a:1", "redis://b:2"]
        );
        assert!(seeds(" , ").is_empty());
    }
}
