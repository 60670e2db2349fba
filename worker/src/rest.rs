//! The REST client: twilight-http (per-route limits from Discord's headers) behind a
//! fleet-wide budget of requests per second shared by every pod through Redis (in-process
//! without Redis), with retries on 5xx and on 429 after `retry_after`.
//!
//! Use [`Rest::call`] for every request that counts against Discord's global limit and
//! [`Rest::interaction`] for interaction responses and follow-ups (exempt from it).

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use tokio::sync::Mutex;
use twilight_http::{
    Client, Response,
    api_error::ApiError,
    error::{Error as HttpError, ErrorType},
    response::{DeserializeBodyError, ResponseFuture},
};

use crate::{
    config::Token,
    telemetry::metrics::{Metrics, RateLimitLabels, RestLabels},
};

/// A REST failure.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// Discord (or the network) failed; the source says how. Never contains the token.
    #[error("{route}: {source}")]
    Http {
        /// Route name.
        route: &'static str,
        /// The error.
        #[source]
        source: HttpError,
        /// An earlier attempt of this request got a 5xx or no answer, so Discord may have
        /// acted on it already (a retried kick then finds no member: see
        /// [`RestError::after_doubt`]).
        after_doubt: bool,
    },
    /// The body did not deserialize.
    #[error("{route}: unreadable response body: {source}")]
    Body {
        /// Route name.
        route: &'static str,
        /// The error.
        #[source]
        source: DeserializeBodyError,
    },
    /// Still rate limited or failing after every retry.
    #[error("{route}: gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Route name.
        route: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
        /// Some attempt got a 5xx or no answer (not only 429s): Discord may have acted.
        after_doubt: bool,
    },
    /// The fleet-wide budget could not be reached (Redis down) and the local fallback refused.
    #[error("REST budget unavailable: {0}")]
    Budget(String),
}

impl RestError {
    /// The HTTP status Discord answered with, if any.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { source, .. } => match source.kind() {
                ErrorType::Response { status, .. } => Some(status.get()),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether an earlier attempt of the request may have been acted on (it got a 5xx or no
    /// answer), or the request failed that way itself: what Discord holds now has to be read
    /// back before saying the request failed.
    #[must_use]
    pub fn after_doubt(&self) -> bool {
        match self {
            Self::Http { after_doubt, .. } => {
                *after_doubt || self.status().is_none_or(|s| s >= 500)
            }
            Self::Exhausted { after_doubt, .. } => *after_doubt,
            _ => false,
        }
    }

    /// Discord's JSON error code (e.g. 50013 Missing Permissions), if any.
    #[must_use]
    pub fn discord_code(&self) -> Option<u64> {
        match self {
            Self::Http { source, .. } => match source.kind() {
                ErrorType::Response {
                    error: ApiError::General(g),
                    ..
                } => Some(g.code),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A boxed future, for the object-safe budget trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A budget of requests per second shared by everything that calls Discord as this bot.
pub trait RestBudget: Send + Sync + std::fmt::Debug {
    /// Waits until one more request fits in the budget.
    fn acquire(&self) -> BoxFuture<'_, Result<(), RestError>>;
}

/// An in-process budget: at most `per_second` requests in any one-second window (a sliding
/// log of the last second's requests, so no burst straddles two windows).
#[derive(Debug)]
pub struct LocalBudget {
    per_second: u32,
    sent: Mutex<std::collections::VecDeque<tokio::time::Instant>>,
}

impl LocalBudget {
    /// A budget of `per_second`.
    #[must_use]
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second: per_second.max(1),
            sent: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// The budget's rate.
    #[must_use]
    pub fn per_second(&self) -> u32 {
        self.per_second
    }
}

/// How long a grant counts against the budget: Discord's second, plus 50 ms for the time
/// between a grant and the request reaching Discord, so requests granted a second apart can
/// not arrive closer than that.
const WINDOW: Duration = Duration::from_millis(1050);

impl RestBudget for LocalBudget {
    fn acquire(&self) -> BoxFuture<'_, Result<(), RestError>> {
        Box::pin(async move {
            loop {
                let wait = {
                    let mut sent = self.sent.lock().await;
                    let now = tokio::time::Instant::now();
                    while sent
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                    {
                        sent.pop_front();
                    }
                    if sent.len() < self.per_second as usize {
                        sent.push_back(now);
                        return Ok(());
                    }
                    // Full: the oldest request leaves the window first.
                    WINDOW.saturating_sub(now.duration_since(sent[0]))
                };
                tokio::time::sleep(wait + Duration::from_millis(1)).await;
            }
        })
    }
}

/// A fleet-wide budget in Redis: a sliding log of the last second's requests
/// (`redis_keys::rest_log`, timed by the Redis server's clock, so pods' clocks do not
/// matter), so the fleet never sends more than `per_second` in any one-second window. If
/// Redis fails, the pod falls back to a local budget of its share, `per_second / pods`, so
/// the fleet as a whole stays within the limit; it says so in the log.
#[derive(Clone)]
pub struct RedisBudget {
    conn: kyuta_redis::Conn,
    cluster: String,
    per_second: u32,
    fallback: Arc<LocalBudget>,
}

impl std::fmt::Debug for RedisBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBudget")
            .field("cluster", &self.cluster)
            .field("per_second", &self.per_second)
            .finish_non_exhaustive()
    }
}

/// Admits one request (returns 0) when fewer than ARGV[1] were admitted in the last
/// ARGV[2] microseconds by the server's clock; else returns how many microseconds until the
/// oldest leaves the window.
const SLIDING_LOG: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], 2000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
";

impl RedisBudget {
    /// A budget of `per_second` for `cluster`, shared by `pods` pods (each pod's share is
    /// its fallback when Redis does not answer).
    #[must_use]
    pub fn new(conn: kyuta_redis::Conn, cluster: &str, per_second: u32, pods: u32) -> Self {
        Self {
            conn,
            cluster: cluster.to_owned(),
            per_second: per_second.max(1),
            fallback: Arc::new(LocalBudget::new(per_second / pods.max(1))),
        }
    }
}

impl RestBudget for RedisBudget {
    fn acquire(&self) -> BoxFuture<'_, Result<(), RestError>> {
        Box::pin(async move {
            let script = redis::Script::new(SLIDING_LOG);
            let key = kyuta_crds::contract::redis_keys::rest_log(&self.cluster);
            loop {
                let mut conn = self.conn.clone();
                let wait_us: Result<u64, _> = script
                    .key(&key)
                    .arg(self.per_second)
                    .arg(WINDOW.as_micros() as u64)
                    .arg(rand::random::<u64>())
                    .invoke_async(&mut conn)
                    .await;
                match wait_us {
                    Ok(0) => return Ok(()),
                    Ok(us) => {
                        let jitter = Duration::from_millis(rand::random::<u64>() % 5);
                        tokio::time::sleep(Duration::from_micros(us) + jitter).await;
                    }
                    Err(e) => {
                        tracing::warn!(
                            error = %e,
                            share = self.fallback.per_second(),
                            "REST budget in Redis unavailable; using this pod's share locally"
                        );
                        return self.fallback.acquire().await;
                    }
                }
            }
        })
    }
}

/// Routes whose request is not safe to send twice: if it timed out or got a 5xx, Discord may
/// have acted (the message posted, the interaction answered), so it is retried only after a
/// 429, when Discord says it did not act. Every other route Kyuta calls is idempotent on
/// Discord's side (PUT ban, PATCH member, DELETE, GET).
const NOT_REPEATABLE: [&str; 4] = [
    "create_message",
    "interaction_response",
    "interaction_defer",
    "interaction_modal",
];

/// How many times a request is tried on 5xx / 429 / transport errors.
const MAX_ATTEMPTS: u32 = 4;
/// Longest `retry_after` honoured by waiting; longer ones fail the request.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The worker's REST client.
#[derive(Clone)]
pub struct Rest {
    client: Arc<Client>,
    budget: Arc<dyn RestBudget>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Builds a twilight HTTP client for `token`, pointed at `api_url` (an origin such as
/// `http://127.0.0.1:8080`) or at Discord.
#[must_use]
pub fn http_client(token: &Token, api_url: Option<&str>) -> Client {
    let mut builder = Client::builder()
        .token(token.expose().to_owned())
        .timeout(Duration::from_secs(15));
    if let Some(url) = api_url {
        let (use_http, host) = match url.split_once("://") {
            Some(("http", host)) => (true, host),
            Some((_, host)) => (false, host),
            None => (false, url),
        };
        builder = builder.proxy(host.trim_end_matches('/').to_owned(), use_http);
    }
    builder.build()
}

impl Rest {
    /// Wraps a client with a budget.
    #[must_use]
    pub fn new(client: Client, budget: Arc<dyn RestBudget>, metrics: Arc<Metrics>) -> Self {
        Self {
            client: Arc::new(client),
            budget,
            metrics,
        }
    }

    /// The twilight client, for building requests. Send them through [`Rest::call`] or
    /// [`Rest::interaction`] so the budget, retries and metrics apply.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends a request that counts against the global limit. `make` builds the request (it is
    /// called again for each retry); `route` names it in metrics and errors.
    ///
    /// ```ignore
    /// rest.call("create_message", |c| c.create_message(channel).content("hi").into_future()).await?;
    /// ```
    pub async fn call<T, F>(&self, route: &'static str, make: F) -> Result<Response<T>, RestError>
    where
        F: Fn(&Client) -> ResponseFuture<T> + Send,
        T: Unpin + Send,
    {
        self.send(route, true, make).await
    }

    /// Like [`Rest::call`], then deserializes the body.
    pub async fn model<T, F>(&self, route: &'static str, make: F) -> Result<T, RestError>
    where
        F: Fn(&Client) -> ResponseFuture<T> + Send,
        T: serde::de::DeserializeOwned + Unpin + Send,
    {
        self.call(route, make)
            .await?
            .model()
            .await
            .map_err(|source| RestError::Body { route, source })
    }

    /// Sends an interaction response or follow-up: exempt from the global limit.
    pub async fn interaction<T, F>(
        &self,
        route: &'static str,
        make: F,
    ) -> Result<Response<T>, RestError>
    where
        F: Fn(&Client) -> ResponseFuture<T> + Send,
        T: Unpin + Send,
    {
        self.send(route, false, make).await
    }

    async fn send<T, F>(
        &self,
        route: &'static str,
        budgeted: bool,
        make: F,
    ) -> Result<Response<T>, RestError>
    where
        F: Fn(&Client) -> ResponseFuture<T> + Send,
        T: Unpin + Send,
    {
        let mut attempt = 0;
        let mut doubt = false;
        loop {
            attempt += 1;
            if budgeted {
                let start = std::time::Instant::now();
                self.budget.acquire().await?;
                self.metrics
                    .rest_budget_wait
                    .observe(start.elapsed().as_secs_f64());
            }
            let result = make(&self.client).await;
            let (status, retry) = match &result {
                Ok(r) => (r.status().get().to_string(), None),
                Err(e) => classify(e),
            };
            self.metrics
                .rest_requests
                .get_or_create(&RestLabels {
                    route: route.to_owned(),
                    status: status.clone(),
                })
                .inc();
            let source = match result {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            let after_doubt = doubt;
            doubt |= status != "429" && retry.is_some();
            let retry = match retry {
                // The request may have been acted on: tell the caller instead of repeating.
                Some(Retry::After { .. }) if status != "429" && NOT_REPEATABLE.contains(&route) => {
                    tracing::warn!(route, %status, "not repeating a request that may have been acted on");
                    None
                }
                r => r,
            };
            if let Retry::After { wait, global } = &retry.unwrap_or(Retry::No) {
                if status == "429" {
                    self.metrics
                        .rest_ratelimited
                        .get_or_create(&RateLimitLabels {
                            route: route.to_owned(),
                            global: *global,
                        })
                        .inc();
                }
                if attempt < MAX_ATTEMPTS && *wait <= MAX_RETRY_AFTER {
                    tracing::debug!(route, attempt, wait_ms = wait.as_millis() as u64, %status, "retrying REST request");
                    tokio::time::sleep(*wait).await;
                    continue;
                }
                if attempt >= MAX_ATTEMPTS {
                    return Err(RestError::Exhausted {
                        route,
                        attempts: attempt,
                        last: source.to_string(),
                        after_doubt: doubt,
                    });
                }
            }
            return Err(RestError::Http {
                route,
                source,
                after_doubt,
            });
        }
    }
}

enum Retry {
    No,
    After { wait: Duration, global: bool },
}

/// Status label and whether/when to retry.
fn classify(e: &HttpError) -> (String, Option<Retry>) {
    match e.kind() {
        ErrorType::Response { status, error, .. } => {
            let code = status.get();
            if code == 429 {
                let (wait, global) = match error {
                    ApiError::Ratelimited(r) => (
                        Duration::from_secs_f64(r.retry_after.clamp(0.0, 3600.0)),
                        r.global,
                    ),
                    _ => (Duration::from_secs(1), false),
                };
                (code.to_string(), Some(Retry::After { wait, global }))
            } else if (500..600).contains(&code) {
                (
                    code.to_string(),
                    Some(Retry::After {
                        wait: backoff(code),
                        global: false,
                    }),
                )
            } else {
                (code.to_string(), None)
            }
        }
        ErrorType::RequestError | ErrorType::RequestTimedOut => (
            "error".into(),
            Some(Retry::After {
                wait: Duration::from_millis(250),
                global: false,
            }),
        ),
        _ => ("error".into(), None),
    }
}

fn backoff(_status: u16) -> Duration {
    Duration::from_millis(200 + rand::random::<u64>() % 300)
}

/// The most requests of `times` (sorted) that fall in any one-second window.
#[cfg(test)]
pub(crate) fn busiest_second(times: &[std::time::Instant]) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi].duration_since(times[lo]) >= WINDOW {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix_now() -> Duration {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn local_budget_never_exceeds_the_rate_in_any_second() {
        // Start just before a wall-clock second ends: a per-second counter would let 2×
        // through across the boundary; the sliding log does not.
        let now = unix_now();
        let to_boundary = Duration::from_secs(now.as_secs() + 1).saturating_sub(now);
        tokio::time::sleep(to_boundary.saturating_sub(Duration::from_millis(100))).await;
        let b = Arc::new(LocalBudget::new(20));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let b = Arc::clone(&b);
            tasks.push(tokio::spawn(async move {
                b.acquire().await.unwrap();
                std::time::Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        assert_eq!(busiest_second(&times), 20, "at most the rate in any second");
        // 50 at 20/s: the first 20 at once, then two more windows.
        assert!(times[49].duration_since(times[0]) >= Duration::from_secs(2));
    }

    #[tokio::test]
    async fn local_budget_caps_each_second() {
        let b = LocalBudget::new(5);
        let start = std::time::Instant::now();
        for _ in 0..11 {
            b.acquire().await.unwrap();
        }
        // 11 requests at 5/s span at least two second boundaries.
        assert!(
            start.elapsed() >= Duration::from_millis(1000),
            "{:?}",
            start.elapsed()
        );
    }
}
