//! `GET /gateway/bot`, cached per cluster and rate-limited, through twilight-http pointed at a
//! configurable origin (Discord or the simulator).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use kyuta_crds::cluster::{GatewayInfo, SessionStartLimit};
use tokio::sync::Mutex;
use twilight_http::error::ErrorType;

/// Why gateway info could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Discord answered 401: the token is invalid, expired or revoked.
    #[error("Discord rejected the bot token (401 Unauthorized)")]
    Unauthorized,
    /// The API origin is not a valid `http(s)://host[:port]`.
    #[error("the Discord API URL {0:?} is not an http(s) origin")]
    BadUrl(String),
    /// Anything else: network, 5xx, timeouts, 429 beyond retries.
    #[error("GET /gateway/bot failed: {0}")]
    Unavailable(String),
}

impl GatewayError {
    /// A short label for metrics and condition reasons.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unauthorized => "TokenInvalid",
            Self::BadUrl(_) => "BadDiscordUrl",
            Self::Unavailable(_) => "DiscordUnavailable",
        }
    }
}

struct Entry {
    fingerprint: u64,
    fetched: Instant,
    result: Result<GatewayInfo, GatewayError>,
}

/// A cache of gateway info per cluster. A cluster's entry is refreshed at most every
/// `refresh` (and failures are retried at most every `retry`), so however often the cluster
/// reconciles, Discord sees at most one request per interval per cluster.
pub struct GatewayCache {
    refresh: Duration,
    retry: Duration,
    timeout: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl GatewayCache {
    /// A cache that refreshes successes after `refresh` and failures after `retry`.
    #[must_use]
    pub fn new(refresh: Duration, retry: Duration) -> Self {
        Self {
            refresh,
            retry,
            timeout: Duration::from_secs(10),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Gateway info for `key` (a cluster's `namespace/name`), fetched with `token` from
    /// `api_url` (`None` = discord.com) unless a fresh enough answer is cached. A changed token
    /// or URL invalidates the entry. Returns the result and whether it came from Discord now.
    pub async fn get(
        &self,
        key: &str,
        token: &str,
        api_url: Option<&str>,
    ) -> (Result<GatewayInfo, GatewayError>, bool) {
        let fingerprint = {
            let mut h = DefaultHasher::new();
            token.hash(&mut h);
            api_url.hash(&mut h);
            h.finish()
        };
        let mut entries = self.entries.lock().await;
        if let Some(e) = entries.get(key)
            && e.fingerprint == fingerprint
        {
            let ttl = if e.result.is_ok() {
                self.refresh
            } else {
                self.retry
            };
            if e.fetched.elapsed() < ttl {
                return (e.result.clone(), false);
            }
        }
        let result = fetch(token, api_url, self.timeout).await;
        entries.insert(
            key.to_owned(),
            Entry {
                fingerprint,
                fetched: Instant::now(),
                result: result.clone(),
            },
        );
        (result, true)
    }

    /// Forgets a cluster (on deletion).
    pub async fn forget(&self, key: &str) {
        self.entries.lock().await.remove(key);
    }
}

/// Splits `http://host:port` into (`host:port`, use_http).
fn origin(api_url: &str) -> Result<(String, bool), GatewayError> {
    let (rest, http) = if let Some(r) = api_url.strip_prefix("http://") {
        (r, true)
    } else if let Some(r) = api_url.strip_prefix("https://") {
        (r, false)
    } else {
        return Err(GatewayError::BadUrl(api_url.to_owned()));
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(GatewayError::BadUrl(api_url.to_owned()));
    }
    Ok((host.to_owned(), http))
}

async fn fetch(
    token: &str,
    api_url: Option<&str>,
    timeout: Duration,
) -> Result<GatewayInfo, GatewayError> {
    let mut builder = twilight_http::Client::builder()
        .token(token.to_owned())
        .timeout(timeout);
    if let Some(url) = api_url {
        let (host, http) = origin(url)?;
        builder = builder.proxy(host, http);
    }
    let client = builder.build();
    let response = client.gateway().authed().await.map_err(classify)?;
    let info = response
        .model()
        .await
        .map_err(|e| GatewayError::Unavailable(format!("bad body: {e}")))?;
    Ok(GatewayInfo {
        recommended_shards: info.shards,
        url: Some(info.url),
        session_start_limit: SessionStartLimit {
            total: info.session_start_limit.total,
            remaining: info.session_start_limit.remaining,
            reset_after_ms: info.session_start_limit.reset_after,
            max_concurrency: u32::from(info.session_start_limit.max_concurrency),
        },
    })
}

fn classify(e: twilight_http::Error) -> GatewayError {
    match e.kind() {
        ErrorType::Unauthorized => GatewayError::Unauthorized,
        ErrorType::Response { status, .. } if status.get() == 401 => GatewayError::Unauthorized,
        ErrorType::Response { status, .. } => {
            GatewayError::Unavailable(format!("Discord answered {}", status.get()))
        }
        // The error's Display never includes the token.
        _ => GatewayError::Unavailable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1:8080".into(), true)
        );
        assert_eq!(
            origin("https://discord.com/").unwrap(),
            ("discord.com".into(), false)
        );
        assert!(origin("ftp://x").is_err());
        assert!(origin("http://x/api").is_err());
    }
}
