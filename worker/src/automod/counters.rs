//! Sliding-window counters, raid latches and once-markers behind a small trait, with an
//! in-process implementation and a Redis one (shared by every pod, surviving restarts and
//! resharding).
//!
//! All operations for one event go in one call (one Redis round trip, one Lua script run).
//! Events carry their own id: counting the same message or join twice (a redelivery during a
//! reshard) changes nothing.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kyuta_crds::contract::redis_keys;

/// What a counter is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A member's events (messages, mentions, emoji, attachments).
    User(u64),
    /// A member's messages with one text (by its stable hash).
    Content {
        /// The member.
        user: u64,
        /// [`super::text::stable_hash`] of the normalised text.
        hash: u64,
    },
    /// The guild's joins.
    Joins,
    /// The guild's raid-mode latch.
    Raid,
    /// "This member was already punished by this rule recently."
    Punished(u64),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(u) => write!(f, "user:{u}"),
            Self::Content { user, hash } => write!(f, "dup:{user}:{hash:016x}"),
            Self::Joins => f.write_str("joins"),
            Self::Raid => f.write_str("raid"),
            Self::Punished(u) => write!(f, "punished:{u}"),
        }
    }
}

/// One counter: a guild, a rule, a subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterKey {
    /// The guild.
    pub guild_id: u64,
    /// The rule's name.
    pub rule: Arc<str>,
    /// What is counted.
    pub subject: Subject,
}

impl CounterKey {
    /// The Redis key of this counter in `cluster`.
    #[must_use]
    pub fn redis_key(&self, cluster: &str) -> String {
        redis_keys::automod(
            cluster,
            self.guild_id,
            &self.rule,
            &self.subject.to_string(),
        )
    }
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterOp {
    /// Records `weight` for `event` at the call's time in the sliding window of `key` (an
    /// event already recorded is not counted again) and returns the window's total weight.
    Window {
        /// The counter.
        key: CounterKey,
        /// Window length.
        window_ms: u64,
        /// Weight of this event (0 only reads).
        weight: u32,
        /// The event's id (message or user id).
        event: u64,
    },
    /// A window as above whose total, when it reaches `threshold`, (re)arms the `latch` for
    /// `hold_ms`. Returns the total, the latch's remaining time and whether this call armed a
    /// latch that was off.
    Latch {
        /// The window's counter.
        key: CounterKey,
        /// Window length.
        window_ms: u64,
        /// The event's id.
        event: u64,
        /// Total that arms the latch.
        threshold: u64,
        /// The latch's counter.
        latch: CounterKey,
        /// How long the latch stays on after the last time the threshold was reached.
        hold_ms: u64,
    },
    /// Sets `key` for `ttl_ms` unless it is set; `first` tells whether this call set it.
    Once {
        /// The marker.
        key: CounterKey,
        /// Its lifetime.
        ttl_ms: u64,
    },
}

/// The result of one [`CounterOp`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterValue {
    /// Total weight in the window (`Window`, `Latch`).
    pub total: u64,
    /// Remaining latch time in ms; 0 when off (`Latch`).
    pub latch_ms: u64,
    /// `Latch`: this call armed it; `Once`: this call set it.
    pub first: bool,
}

/// A counter store that cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    /// Redis failed or is unreachable.
    #[error("automod counters unavailable: {0}")]
    Unavailable(#[from] redis::RedisError),
    /// Redis answered something unexpected.
    #[error("automod counters answered unexpectedly: {0}")]
    Protocol(String),
}

/// Where automod keeps its counters.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Applies `ops` in order at time `now_ms` (Unix ms) and returns one value per op.
    async fn apply(
        &self,
        ops: &[CounterOp],
        now_ms: u64,
    ) -> Result<Vec<CounterValue>, CounterError>;
}

/// How long Redis keeps a key past the end of its window, latch or marker (expiry runs on
/// Redis's clock, the counters on the events' clock; the slack covers the difference).
pub const EXPIRY_SLACK_MS: u64 = 60_000;

/// Most events a window keeps (a window only has to count up to its threshold).
pub const MAX_WINDOW_EVENTS: usize = 512;

#[derive(Default)]
struct LocalWindow {
    window_ms: u64,
    events: VecDeque<(u64, u64, u32)>, // (at, event, weight)
}

#[derive(Default)]
struct LocalState {
    windows: HashMap<CounterKey, LocalWindow>,
    expiring: HashMap<CounterKey, u64>, // latches and once-markers: key → expires at
    ops_since_sweep: u64,
}

/// In-process counters: for a single worker without Redis and for tests. Memory is bounded:
/// expired windows are swept every few thousand operations.
#[derive(Default)]
pub struct LocalCounters {
    state: Mutex<LocalState>,
}

impl LocalCounters {
    /// Empty counters.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live keys (for tests and metrics).
    #[must_use]
    pub fn len(&self) -> usize {
        let s = self.state.lock().expect("counter lock");
        s.windows.len() + s.expiring.len()
    }

    /// Whether no key is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn apply_sync(&self, ops: &[CounterOp], now: u64) -> Vec<CounterValue> {
        let mut s = self.state.lock().expect("counter lock");
        s.ops_since_sweep += ops.len() as u64;
        if s.ops_since_sweep >= 4096 {
            s.ops_since_sweep = 0;
            s.windows.retain(|_, w| {
                w.events
                    .back()
                    .is_some_and(|&(at, _, _)| at + w.window_ms > now)
            });
            s.expiring.retain(|_, &mut until| until > now);
        }
        ops.iter()
            .map(|op| match op {
                CounterOp::Window {
                    key,
                    window_ms,
                    weight,
                    event,
                } => CounterValue {
                    total: window(&mut s, key, *window_ms, *weight, *event, now),
                    ..CounterValue::default()
                },
                CounterOp::Latch {
                    key,
                    window_ms,
                    event,
                    threshold,
                    latch,
                    hold_ms,
                } => {
                    let total = window(&mut s, key, *window_ms, 1, *event, now);
                    let was_on = s.expiring.get(latch).is_some_and(|&u| u > now);
                    let mut first = false;
                    if total >= *threshold {
                        s.expiring.insert(latch.clone(), now + hold_ms);
                        first = !was_on;
                    }
                    let latch_ms = s.expiring.get(latch).map_or(0, |&u| u.saturating_sub(now));
                    CounterValue {
                        total,
                        latch_ms,
                        first,
                    }
                }
                CounterOp::Once { key, ttl_ms } => {
                    let set = s.expiring.get(key).is_some_and(|&u| u > now);
                    if !set {
                        s.expiring.insert(key.clone(), now + ttl_ms);
                    }
                    CounterValue {
                        first: !set,
                        ..CounterValue::default()
                    }
                }
            })
            .collect()
    }
}

fn window(
    s: &mut LocalState,
    key: &CounterKey,
    window_ms: u64,
    weight: u32,
    event: u64,
    now: u64,
) -> u64 {
    let w = match s.windows.get_mut(key) {
        Some(w) => w,
        None => s.windows.entry(key.clone()).or_default(),
    };
    w.window_ms = window_ms;
    // The window is (now - window_ms, now].
    if let Some(floor) = now.checked_sub(window_ms) {
        while w.events.front().is_some_and(|&(at, _, _)| at <= floor) {
            w.events.pop_front();
        }
    }
    if weight > 0 && !w.events.iter().any(|&(_, e, _)| e == event) {
        w.events.push_back((now, event, weight));
        if w.events.len() > MAX_WINDOW_EVENTS {
            w.events.pop_front();
        }
    }
    w.events.iter().map(|&(_, _, wt)| u64::from(wt)).sum()
}

#[async_trait]
impl Counters for LocalCounters {
    async fn apply(
        &self,
        ops: &[CounterOp],
        now_ms: u64,
    ) -> Result<Vec<CounterValue>, CounterError> {
        Ok(self.apply_sync(ops, now_ms))
    }
}

/// The script behind [`RedisCounters`]: every op of one event in one atomic run.
///
/// Windows are sorted sets of `event:weight` members scored by time; the member being the
/// event id makes re-counting a no-op. Latches and once-markers are plain keys holding the
/// time they end, compared with the event's time; their TTL only collects them.
const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local nops = tonumber(ARGV[2])
local a = 3
local k = 1
local out = {}
local cap = tonumber(ARGV[a]); a = a + 1
local slack = tonumber(ARGV[a]); a = a + 1
for i = 1, nops do
  local kind = ARGV[a]
  if kind == 'w' or kind == 'l' then
    local key = KEYS[k]; k = k + 1
    local window = tonumber(ARGV[a + 1])
    local weight = tonumber(ARGV[a + 2])
    local event = ARGV[a + 3]
    a = a + 4
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    if weight > 0 then
      redis.call('ZADD', key, 'NX', now, event .. ':' .. weight)
    end
    local members = redis.call('ZRANGE', key, 0, -1)
    if #members > cap then
      redis.call('ZREMRANGEBYRANK', key, 0, #members - cap - 1)
      members = redis.call('ZRANGE', key, 0, -1)
    end
    local total = 0
    for _, m in ipairs(members) do
      total = total + tonumber(string.match(m, ':(%d+)$'))
    end
    redis.call('PEXPIRE', key, window + slack)
    if kind == 'l' then
      local latch = KEYS[k]; k = k + 1
      local threshold = tonumber(ARGV[a])
      local hold = tonumber(ARGV[a + 1])
      a = a + 2
      -- The latch holds the time it ends (event time, not Redis time), so it agrees with
      -- the events' own clock; PX only collects it afterwards.
      local ends = tonumber(redis.call('GET', latch) or '0')
      local armed = 0
      if total >= threshold then
        if ends <= now then armed = 1 end
        ends = now + hold
        redis.call('SET', latch, ends, 'PX', hold + slack)
      end
      local left = ends - now
      if left < 0 then left = 0 end
      out[i] = {total, left, armed}
    else
      out[i] = {total, 0, 0}
    end
  elseif kind == 'o' then
    local key = KEYS[k]; k = k + 1
    local ttl = tonumber(ARGV[a + 1])
    a = a + 2
    local ends = tonumber(redis.call('GET', key) or '0')
    if ends > now then
      out[i] = {0, 0, 0}
    else
      redis.call('SET', key, now + ttl, 'PX', ttl + slack)
      out[i] = {0, 0, 1}
    end
  else
    return redis.error_reply('unknown automod op ' .. tostring(kind))
  end
end
return out
";

/// Counters in Redis under `kyuta:{cluster}:automod:…`, shared by every pod of the cluster.
#[derive(Clone)]
pub struct RedisCounters {
    conn: kyuta_redis::Conn,
    cluster: Arc<str>,
    script: Arc<redis::Script>,
}

impl fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCounters")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl RedisCounters {
    /// Counters of `cluster` on an existing connection.
    #[must_use]
    pub fn new(conn: kyuta_redis::Conn, cluster: &str) -> Self {
        Self {
            conn,
            cluster: cluster.into(),
            script: Arc::new(redis::Script::new(SCRIPT)),
        }
    }

    /// Connects to `url` and returns counters of `cluster`.
    pub async fn connect(url: &str, cluster: &str) -> Result<Self, CounterError> {
        let conn = kyuta_redis::connect(url, &kyuta_redis::Options::default())
            .await
            .map_err(|e| {
                redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "connecting to Redis",
                    e.to_string(),
                ))
            })?;
        Ok(Self::new(conn, cluster))
    }
}

#[async_trait]
impl Counters for RedisCounters {
    async fn apply(
        &self,
        ops: &[CounterOp],
        now_ms: u64,
    ) -> Result<Vec<CounterValue>, CounterError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = self.script.prepare_invoke();
        inv.arg(now_ms)
            .arg(ops.len())
            .arg(MAX_WINDOW_EVENTS)
            .arg(EXPIRY_SLACK_MS);
        for op in ops {
            match op {
                CounterOp::Window {
                    key,
                    window_ms,
                    weight,
                    event,
                } => {
                    inv.key(key.redis_key(&self.cluster))
                        .arg("w")
                        .arg(*window_ms)
                        .arg(*weight)
                        .arg(*event);
                }
                CounterOp::Latch {
                    key,
                    window_ms,
                    event,
                    threshold,
                    latch,
                    hold_ms,
                } => {
                    inv.key(key.redis_key(&self.cluster))
                        .key(latch.redis_key(&self.cluster))
                        .arg("l")
                        .arg(*window_ms)
                        .arg(1)
                        .arg(*event)
                        .arg(*threshold)
                        .arg(*hold_ms);
                }
                CounterOp::Once { key, ttl_ms } => {
                    inv.key(key.redis_key(&self.cluster)).arg("o").arg(*ttl_ms);
                }
            }
        }
        let mut conn = self.conn.clone();
        let raw: Vec<(u64, u64, u64)> = inv.invoke_async(&mut conn).await?;
        if raw.len() != ops.len() {
            return Err(CounterError::Protocol(format!(
                "{} results for {} operations",
                raw.len(),
                ops.len()
            )));
        }
        Ok(raw
            .into_iter()
            .map(|(total, latch_ms, first)| CounterValue {
                total,
                latch_ms,
                first: first == 1,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(subject: Subject) -> CounterKey {
        CounterKey {
            guild_id: 1,
            rule: "r".into(),
            subject,
        }
    }

    #[test]
    fn windows_slide_and_dedupe() {
        let c = LocalCounters::new();
        let op = |event, weight| CounterOp::Window {
            key: key(Subject::User(7)),
            window_ms: 1000,
            weight,
            event,
        };
        assert_eq!(c.apply_sync(&[op(1, 1)], 0)[0].total, 1);
        assert_eq!(c.apply_sync(&[op(2, 3)], 500)[0].total, 4);
        assert_eq!(
            c.apply_sync(&[op(2, 3)], 600)[0].total,
            4,
            "same event counted once"
        );
        assert_eq!(
            c.apply_sync(&[op(3, 1)], 1000)[0].total,
            4,
            "event 1 left the window"
        );
        assert_eq!(c.apply_sync(&[op(4, 0)], 1600)[0].total, 1);
    }

    #[test]
    fn latch_arms_once_and_holds() {
        let c = LocalCounters::new();
        let op = |event| CounterOp::Latch {
            key: key(Subject::Joins),
            window_ms: 1000,
            event,
            threshold: 3,
            latch: key(Subject::Raid),
            hold_ms: 5000,
        };
        assert_eq!(c.apply_sync(&[op(1)], 0)[0].latch_ms, 0);
        assert_eq!(c.apply_sync(&[op(2)], 10)[0].latch_ms, 0);
        let v = c.apply_sync(&[op(3)], 20)[0];
        assert!(v.first && v.latch_ms == 5000 && v.total == 3);
        let v = c.apply_sync(&[op(4)], 30)[0];
        assert!(!v.first && v.latch_ms == 5000, "re-armed, not first");
        let v = c.apply_sync(&[op(5)], 3000)[0];
        assert!(!v.first && v.total == 1 && v.latch_ms == 2030);
        assert_eq!(c.apply_sync(&[op(6)], 6000)[0].latch_ms, 0, "calmed down");
    }

    #[test]
    fn once_markers_expire() {
        let c = LocalCounters::new();
        let op = CounterOp::Once {
            key: key(Subject::Punished(7)),
            ttl_ms: 100,
        };
        assert!(c.apply_sync(std::slice::from_ref(&op), 0)[0].first);
        assert!(!c.apply_sync(std::slice::from_ref(&op), 50)[0].first);
        assert!(c.apply_sync(std::slice::from_ref(&op), 100)[0].first);
    }

    #[test]
    fn sweeping_bounds_memory() {
        let c = LocalCounters::new();
        for u in 0..5000u64 {
            let op = CounterOp::Window {
                key: key(Subject::User(u)),
                window_ms: 10,
                weight: 1,
                event: u,
            };
            c.apply_sync(&[op], u * 100);
        }
        assert!(c.len() < 4200, "{}", c.len());
    }
}
