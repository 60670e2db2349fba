//! The generation gate: while two generations of workers run side by side during a reshard,
//! every event that leads to an action (an interaction, a message, a member join) is handled
//! by the active generation, exactly once.
//!
//! During a reshard from S to S' shards the operator runs generation g (S shards) and g+1
//! (S' shards) at the same time, so every event reaches one pod of each. The operator names
//! the generation that answers in [`redis_keys::active_generation`] and switches it once g+1
//! is Ready. The gate decides, per event, whether this process handles it:
//!
//! - The active generation is read from Redis and cached for at most [`REFRESH`].
//! - Cache says this generation (or no generation is named yet): claim the event with
//!   `SET kyuta:{cluster}:seen:{id} <generation> NX EX 600` ([`redis_keys::dedupe`]) and
//!   handle it only when the claim wins. The claim also drops replays after a RESUME and the
//!   second copy while both generations still think they are active.
//! - Cache says another generation: read the key again, fresh, before dropping. When it in
//!   fact names this generation (the switch happened since the cache was filled), claim as
//!   above. So around a switch a pod whose cache is stale never drops an event the other
//!   generation already stopped handling, and the claim keeps it to one handler.
//! - Redis does not answer (error or [`REDIS_TIMEOUT`]): handle the event. Availability
//!   comes before dedupe; it is counted in `kyuta_generation_gate_events{outcome="redis_unavailable"}`.
//! - Redis but no generation configured (`KYUTA_GENERATION` unset: a fleet not run by the
//!   operator): no generation to check, but every event is still claimed, so the replay that
//!   follows a RESUME from a session checkpoint (see `runner::CHECKPOINT_EVERY`) is not
//!   handled twice.
//! - No Redis: every event is handled and Redis is never called
//!   ([`GenerationGate::disabled`]).
//!
//! Claims are pipelined ([`Claims`]): every claim made while the previous pipeline is on its
//! way goes out in the next one, so a busy pod spends one Redis round trip per batch of
//! events, not one per event, and an idle one waits for no batch to fill. A claim still
//! waits at most [`REDIS_TIMEOUT`] in all (queue and round trip) before it counts as
//! unanswered.
//!
//! Events without an id of their own are not gated (see [`EventId::of`]): state events such
//! as GUILD_CREATE feed each process's own cache and must reach every process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use kyuta_crds::contract::redis_keys;
use kyuta_redis::Conn;
use twilight_model::gateway::event::Event;

use crate::telemetry::{Metrics, metrics::GateLabels};

/// How long a read of the active generation is trusted.
pub const REFRESH: Duration = Duration::from_secs(1);
/// How long a dedupe claim lives (seconds): longer than any resume replay or reshard overlap.
pub const CLAIM_TTL_SECS: u64 = 600;
/// How long one Redis step may take before the event is handled unchecked.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// At most this many claims go in one pipeline.
pub const MAX_BATCH: usize = 512;

/// What identifies an event across processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventId {
    /// An interaction (INTERACTION_CREATE), by its id.
    Interaction(u64),
    /// A message (MESSAGE_CREATE), by its id.
    Message(u64),
    /// A member join (GUILD_MEMBER_ADD), by guild, user and join time (microseconds).
    MemberJoin {
        /// The guild joined.
        guild_id: u64,
        /// The member.
        user_id: u64,
        /// When they joined, in microseconds since the Unix epoch (0 when Discord sent none).
        joined_at_micros: i64,
    },
}

impl EventId {
    /// The id of an event the gate applies to; `None` for every other event.
    #[must_use]
    pub fn of(event: &Event) -> Option<Self> {
        match event {
            Event::InteractionCreate(i) => Some(Self::Interaction(i.id.get())),
            Event::MessageCreate(m) => Some(Self::Message(m.id.get())),
            Event::MemberAdd(m) => Some(Self::MemberJoin {
                guild_id: m.guild_id.get(),
                user_id: m.user.id.get(),
                joined_at_micros: m.joined_at.map_or(0, |t| t.as_micros()),
            }),
            _ => None,
        }
    }

    /// The dedupe key of this event in `cluster`.
    #[must_use]
    pub fn key(&self, cluster: &str) -> String {
        match *self {
            Self::Interaction(id) | Self::Message(id) => redis_keys::dedupe(cluster, id),
            Self::MemberJoin {
                guild_id,
                user_id,
                joined_at_micros,
            } => redis_keys::dedupe_join(cluster, guild_id, user_id, joined_at_micros),
        }
    }
}

/// The gate's verdict on one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handle it: the gate is disabled, or this generation won the claim.
    Handle,
    /// Handle it without the check: Redis did not answer.
    HandleUnchecked,
    /// Drop it: another process already claimed it.
    Duplicate,
    /// Drop it: the named generation answers, not this one.
    OtherGeneration(u32),
}

impl Admission {
    /// Whether this process handles the event.
    #[must_use]
    pub const fn handles(&self) -> bool {
        matches!(self, Self::Handle | Self::HandleUnchecked)
    }

    /// A short stable label for metrics.
    #[must_use]
    pub const fn metric_label(&self) -> &'static str {
        match self {
            Self::Handle => "handled",
            Self::HandleUnchecked => "redis_unavailable",
            Self::Duplicate => "duplicate",
            Self::OtherGeneration(_) => "other_generation",
        }
    }
}

/// The active generation as last read: `None` inside means no key is set.
#[derive(Debug, Clone, Copy)]
struct Cached {
    read_at: Instant,
    active: Option<u32>,
}

struct Enabled {
    conn: Conn,
    cluster: String,
    /// This process's generation; `None`: claims only (no generation is checked).
    generation: Option<u32>,
    active_key: String,
    cache: Mutex<Option<Cached>>,
    refresh: Duration,
    /// Whether the last Redis step failed (logs the change, not every event).
    unavailable: AtomicBool,
    claims: Claims,
}

/// One claim waiting for its pipeline.
struct Pending {
    key: String,
    value: u32,
    won: tokio::sync::oneshot::Sender<Result<bool, Arc<GateError>>>,
}

/// The claim pipeline: one task (started by the first claim, so the gate can be built outside
/// a runtime) sends every waiting claim as one pipeline of `SET NX EX`, then the next batch.
struct Claims {
    conn: Conn,
    queue: OnceLock<tokio::sync::mpsc::UnboundedSender<Pending>>,
    /// Pipelines sent so far.
    round_trips: Arc<std::sync::atomic::AtomicU64>,
}

impl Claims {
    fn new(conn: Conn) -> Self {
        Self {
            conn,
            queue: OnceLock::new(),
            round_trips: Arc::default(),
        }
    }

    /// Whether the claim of `key` (with `value`) won; within [`REDIS_TIMEOUT`] in all.
    async fn claim(&self, key: String, value: u32) -> Result<bool, Arc<GateError>> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(Self::run(
                self.conn.clone(),
                rx,
                Arc::clone(&self.round_trips),
            ));
            tx
        });
        let (won, answer) = tokio::sync::oneshot::channel();
        queue
            .send(Pending { key, value, won })
            .map_err(|_| Arc::new(GateError::PipelineGone))?;
        match tokio::time::timeout(REDIS_TIMEOUT, answer).await {
            Err(_) => Err(Arc::new(GateError::Timeout(REDIS_TIMEOUT))),
            Ok(Err(_)) => Err(Arc::new(GateError::PipelineGone)),
            Ok(Ok(won)) => won,
        }
    }

    /// Sends the waiting claims, a batch at a time, until the gate is dropped. Claims whose
    /// caller stopped waiting (timed out) are not sent.
    async fn run(
        mut conn: Conn,
        mut queue: tokio::sync::mpsc::UnboundedReceiver<Pending>,
        round_trips: Arc<std::sync::atomic::AtomicU64>,
    ) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            batch.retain(|p| !p.won.is_closed());
            if batch.is_empty() {
                continue;
            }
            let mut pipe = redis::pipe();
            for p in &batch {
                pipe.cmd("SET")
                    .arg(&p.key)
                    .arg(p.value)
                    .arg("NX")
                    .arg("EX")
                    .arg(CLAIM_TTL_SECS);
            }
            round_trips.fetch_add(1, Ordering::Relaxed);
            let answers: Result<Vec<Option<String>>, GateError> =
                timed(pipe.query_async(&mut conn)).await;
            let failed = match answers {
                Ok(answers) if answers.len() == batch.len() => {
                    for (p, won) in batch.drain(..).zip(answers) {
                        let _ = p.won.send(Ok(won.is_some()));
                    }
                    continue;
                }
                Ok(answers) => GateError::PipelineLength(answers.len(), batch.len()),
                Err(e) => e,
            };
            let failed = Arc::new(failed);
            for p in batch.drain(..) {
                let _ = p.won.send(Err(Arc::clone(&failed)));
            }
        }
    }
}

/// Decides which events this process handles (see the [module docs](self)). Cheap to share
/// behind an `Arc`.
pub struct GenerationGate {
    enabled: Option<Enabled>,
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for GenerationGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.enabled {
            None => f.write_str("GenerationGate(disabled)"),
            Some(e) => f
                .debug_struct("GenerationGate")
                .field("cluster", &e.cluster)
                .field("generation", &e.generation)
                .finish_non_exhaustive(),
        }
    }
}

impl GenerationGate {
    /// A gate that lets every event through and never calls Redis.
    #[must_use]
    pub fn disabled() -> Self {
        Self {
            enabled: None,
            metrics: None,
        }
    }

    /// The gate of a worker of `generation` in `cluster`: enabled with a Redis connection
    /// (claims only when `generation` is `None`), else [`disabled`](Self::disabled).
    #[must_use]
    pub fn new(redis: Option<Conn>, cluster: &str, generation: Option<u32>) -> Self {
        let enabled = redis.map(|conn| Enabled {
            claims: Claims::new(conn.clone()),
            conn,
            cluster: cluster.to_owned(),
            generation,
            active_key: redis_keys::active_generation(cluster),
            cache: Mutex::new(None),
            refresh: REFRESH,
            unavailable: AtomicBool::new(false),
        });
        Self {
            enabled,
            metrics: None,
        }
    }

    /// Counts verdicts in `kyuta_generation_gate_events`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Trusts a read of the active generation for `refresh` instead of [`REFRESH`].
    #[must_use]
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        if let Some(e) = &mut self.enabled {
            e.refresh = refresh;
        }
        self
    }

    /// How many claim pipelines (Redis round trips) this gate has sent: fewer than the
    /// claims whenever events come faster than one round trip.
    #[must_use]
    pub fn claim_round_trips(&self) -> u64 {
        self.enabled
            .as_ref()
            .map_or(0, |e| e.claims.round_trips.load(Ordering::Relaxed))
    }

    /// Whether the gate checks events (Redis is configured).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.enabled.is_some()
    }

    /// Decides whether this process handles the event `id`.
    pub async fn admit(&self, id: EventId) -> Admission {
        let verdict = match &self.enabled {
            None => return Admission::Handle,
            Some(e) => e.admit(id).await,
        };
        if let Some(m) = &self.metrics {
            m.generation_gate
                .get_or_create(&GateLabels {
                    outcome: verdict.metric_label().to_owned(),
                })
                .inc();
        }
        verdict
    }
}

impl Enabled {
    async fn admit(&self, id: EventId) -> Admission {
        let Some(generation) = self.generation else {
            return self.claimed(id).await;
        };
        let active = match self.cached() {
            Some(active) => active,
            None => match self.read_active().await {
                Ok(active) => active,
                Err(e) => return self.unchecked(id, &e),
            },
        };
        let active = match active {
            Some(other) if other != generation => {
                // The cache may predate a switch to this generation: look again before
                // dropping an event no one else may handle.
                match self.read_active().await {
                    Ok(Some(now)) if now != generation => {
                        return Admission::OtherGeneration(now);
                    }
                    Ok(now) => now,
                    Err(e) => return self.unchecked(id, &e),
                }
            }
            mine_or_unset => mine_or_unset,
        };
        debug_assert!(active.is_none_or(|a| a == generation));
        self.claimed(id).await
    }

    /// Claims `id`: handled here when the claim wins.
    async fn claimed(&self, id: EventId) -> Admission {
        let verdict = match self.claim(id).await {
            Ok(true) => Admission::Handle,
            Ok(false) => Admission::Duplicate,
            Err(e) => return self.unchecked(id, &e),
        };
        if self.unavailable.swap(false, Ordering::Relaxed) {
            tracing::info!(
                cluster = %self.cluster,
                generation = ?self.generation,
                "generation gate: Redis answers again; events are deduplicated again"
            );
        }
        verdict
    }

    fn unchecked(&self, id: EventId, e: &GateError) -> Admission {
        if self.unavailable.swap(true, Ordering::Relaxed) {
            tracing::debug!(event = ?id, error = %e, "generation gate: handling unchecked");
        } else {
            tracing::warn!(
                cluster = %self.cluster,
                generation = ?self.generation,
                event = ?id,
                error = %e,
                "generation gate: Redis unavailable; handling events unchecked (they may be \
                 handled twice while two generations run)"
            );
        }
        Admission::HandleUnchecked
    }

    fn cached(&self) -> Option<Option<u32>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .filter(|c| c.read_at.elapsed() < self.refresh)
            .map(|c| c.active)
    }

    async fn read_active(&self) -> Result<Option<u32>, GateError> {
        let mut conn = self.conn.clone();
        let read_at = Instant::now();
        let raw: Option<String> = timed(
            redis::cmd("GET")
                .arg(&self.active_key)
                .query_async(&mut conn),
        )
        .await?;
        let active = match raw {
            None => None,
            Some(s) => Some(
                s.trim()
                    .parse::<u32>()
                    .map_err(|_| GateError::BadActiveGeneration(s))?,
            ),
        };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        // Keep the newest read when reads race.
        if cache.is_none_or(|c| c.read_at <= read_at) {
            *cache = Some(Cached { read_at, active });
        }
        Ok(active)
    }

    async fn claim(&self, id: EventId) -> Result<bool, Arc<GateError>> {
        self.claims
            .claim(id.key(&self.cluster), self.generation.unwrap_or(0))
            .await
    }
}

/// Why the gate could not decide.
#[derive(Debug, thiserror::Error)]
enum GateError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the active-generation key holds {0:?}, not a generation number")]
    BadActiveGeneration(String),
    #[error("the claim pipeline stopped")]
    PipelineGone,
    #[error("Redis answered {0} claims of a pipeline of {1}")]
    PipelineLength(usize, usize),
}

async fn timed<T>(f: impl Future<Output = redis::RedisResult<T>>) -> Result<T, GateError> {
    tokio::time::timeout(REDIS_TIMEOUT, f)
        .await
        .map_err(|_| GateError::Timeout(REDIS_TIMEOUT))?
        .map_err(GateError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn disabled_gates_handle_everything_without_redis() {
        let metrics = Arc::new(Metrics::new());
        for gate in [
            GenerationGate::disabled(),
            GenerationGate::new(None, "c", Some(3)),
        ] {
            let gate = gate.with_metrics(Arc::clone(&metrics));
            assert!(!gate.is_enabled());
            for id in 0..3 {
                assert_eq!(gate.admit(EventId::Message(id)).await, Admission::Handle);
            }
        }
        // Nothing was checked, so nothing is counted.
        assert!(
            !metrics
                .render()
                .contains("kyuta_generation_gate_events_total{")
        );
    }

    #[test]
    fn keys_follow_the_contract() {
        assert_eq!(EventId::Interaction(7).key("c"), redis_keys::dedupe("c", 7));
        assert_eq!(EventId::Message(7).key("c"), "kyuta:{c}:seen:7");
        assert_eq!(
            EventId::MemberJoin {
                guild_id: 1,
                user_id: 2,
                joined_at_micros: 3
            }
            .key("c"),
            "kyuta:{c}:seen:join:1:2:3"
        );
    }

    #[test]
    fn verdicts() {
        assert!(Admission::Handle.handles());
        assert!(Admission::HandleUnchecked.handles());
        assert!(!Admission::Duplicate.handles());
        assert!(!Admission::OtherGeneration(2).handles());
        assert_eq!(
            Admission::OtherGeneration(2).metric_label(),
            "other_generation"
        );
    }

    #[test]
    fn ids_of_events() {
        let raw = serde_json::json!({
            "id": "1000", "channel_id": "2", "guild_id": "3",
            "author": {"id": "4", "username": "u", "discriminator": "0", "avatar": null},
            "content": "hi", "timestamp": "2024-01-01T00:00:00+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0
        });
        let message: twilight_model::gateway::payload::incoming::MessageCreate =
            serde_json::from_value(raw).unwrap();
        let event = Event::MessageCreate(Box::new(message));
        assert_eq!(EventId::of(&event), Some(EventId::Message(1000)));
        assert_eq!(EventId::of(&Event::GatewayHeartbeatAck), None);
    }
}
