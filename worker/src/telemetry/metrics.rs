//! Prometheus metrics of the worker (served on `KYUTA_METRICS_PORT` at `/metrics`).

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Labels `{shard}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabels {
    /// Shard id.
    pub shard: u32,
}

/// Labels `{shard, event}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// Shard id.
    pub shard: u32,
    /// Event name (`MESSAGE_CREATE`, …).
    pub event: String,
}

/// Labels `{command, outcome}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    /// Command name.
    pub command: String,
    /// `ok` or a [`crate::commands::CommandError::metric_label`].
    pub outcome: String,
}

/// Labels `{route, status}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RestLabels {
    /// Route name (`create_message`, …).
    pub route: String,
    /// HTTP status, or `error` when no response came.
    pub status: String,
}

/// Labels `{route, global}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLimitLabels {
    /// Route name.
    pub route: String,
    /// Whether Discord said the limit was global.
    pub global: bool,
}

/// Labels `{cache}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// What is counted (`guilds`, `members`, `roles`).
    pub kind: String,
}

/// Labels `{action, outcome}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AutomodLabels {
    /// `delete`, `warn`, `timeout`, `kick`, `ban` or `alert`.
    pub action: String,
    /// `applied`, `failed`, `refused` (a rule such as the role hierarchy stopped it) or
    /// `replayed` (the event was handled before).
    pub outcome: String,
}

/// Labels `{outcome}` of `kyuta_generation_gate_events`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GateLabels {
    /// A [`crate::gateway::generation::Admission::metric_label`].
    pub outcome: String,
}

/// Shard state codes of `kyuta_shard_state`.
pub mod shard_state {
    /// Not connected.
    pub const DISCONNECTED: i64 = 0;
    /// Connected, identifying.
    pub const IDENTIFYING: i64 = 1;
    /// Connected, resuming.
    pub const RESUMING: i64 = 2;
    /// READY or RESUMED received.
    pub const ACTIVE: i64 = 3;
    /// Closed for good (bad token, bad intents, …).
    pub const FATALLY_CLOSED: i64 = 4;
}

/// Every metric the worker exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Gateway events by shard and type.
    pub events: Family<EventLabels, Counter>,
    /// Shard state (see [`shard_state`]).
    pub shard_state: Family<ShardLabels, Gauge>,
    /// Heartbeat round trip by shard.
    pub shard_latency: Family<ShardLabels, Gauge<f64, AtomicU64>>,
    /// Guilds by shard.
    pub shard_guilds: Family<ShardLabels, Gauge>,
    /// Identifies sent by shard.
    pub identifies: Family<ShardLabels, Counter>,
    /// Successful resumes by shard.
    pub resumes: Family<ShardLabels, Counter>,
    /// Commands by command and outcome.
    pub commands: Family<CommandLabels, Counter>,
    /// Command duration by command and outcome.
    pub command_duration: Family<CommandLabels, Histogram>,
    /// Interactions deferred because the command ran long.
    pub deferred: Counter,
    /// REST requests by route and status.
    pub rest_requests: Family<RestLabels, Counter>,
    /// REST 429 responses by route.
    pub rest_ratelimited: Family<RateLimitLabels, Counter>,
    /// Time spent waiting for the fleet-wide REST budget.
    pub rest_budget_wait: Histogram,
    /// Cache sizes.
    pub cache_size: Family<CacheLabels, Gauge>,
    /// Automod actions by action and outcome.
    pub automod_actions: Family<AutomodLabels, Counter>,
    /// Events seen by the generation gate, by outcome (handled, duplicate, other generation,
    /// Redis unavailable).
    pub generation_gate: Family<GateLabels, Counter>,
    /// Resident memory of the process, updated at each scrape.
    pub memory: Gauge,
    /// Seconds since start, updated at each scrape.
    pub uptime: Gauge<f64, AtomicU64>,
    started: std::time::Instant,
}

fn duration_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kyuta");
        let events = Family::default();
        registry.register(
            "gateway_events",
            "Gateway dispatch events received",
            events.clone(),
        );
        let shard_state = Family::default();
        registry.register(
            "shard_state",
            "Shard state: 0 disconnected, 1 identifying, 2 resuming, 3 active, 4 fatally closed",
            shard_state.clone(),
        );
        let shard_latency = Family::default();
        registry.register(
            "shard_latency_seconds",
            "Average heartbeat round trip of the shard",
            shard_latency.clone(),
        );
        let shard_guilds = Family::default();
        registry.register("shard_guilds", "Guilds on the shard", shard_guilds.clone());
        let identifies = Family::default();
        registry.register(
            "shard_identifies",
            "Identifies sent (new sessions)",
            identifies.clone(),
        );
        let resumes = Family::default();
        registry.register("shard_resumes", "Sessions resumed", resumes.clone());
        let commands = Family::default();
        registry.register("commands", "Commands run, by outcome", commands.clone());
        let command_duration = Family::<CommandLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "command_duration_seconds",
            "Time from receiving a command to answering it",
            command_duration.clone(),
        );
        let deferred = Counter::default();
        registry.register(
            "interactions_deferred",
            "Interactions deferred because the command ran past the defer deadline",
            deferred.clone(),
        );
        let rest_requests = Family::default();
        registry.register(
            "rest_requests",
            "REST requests by route and status",
            rest_requests.clone(),
        );
        let rest_ratelimited = Family::default();
        registry.register(
            "rest_ratelimited",
            "REST responses with status 429",
            rest_ratelimited.clone(),
        );
        let rest_budget_wait = duration_histogram();
        registry.register(
            "rest_budget_wait_seconds",
            "Time spent waiting for the fleet-wide REST budget",
            rest_budget_wait.clone(),
        );
        let cache_size = Family::default();
        registry.register(
            "cache_entries",
            "Entries in the in-process cache",
            cache_size.clone(),
        );
        let automod_actions = Family::default();
        registry.register(
            "automod_actions",
            "Automod actions carried out, by action and outcome",
            automod_actions.clone(),
        );
        let generation_gate = Family::default();
        registry.register(
            "generation_gate_events",
            "Events checked by the generation gate, by outcome: handled, duplicate, \
             other_generation, redis_unavailable (handled without the check)",
            generation_gate.clone(),
        );
        let memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the worker process",
            memory.clone(),
        );
        let uptime = Gauge::default();
        registry.register(
            "uptime_seconds",
            "Seconds since the worker started",
            uptime.clone(),
        );
        Self {
            registry,
            events,
            shard_state,
            shard_latency,
            shard_guilds,
            identifies,
            resumes,
            commands,
            command_duration,
            deferred,
            rest_requests,
            rest_ratelimited,
            rest_budget_wait,
            cache_size,
            automod_actions,
            generation_gate,
            memory,
            uptime,
            started: std::time::Instant::now(),
        }
    }

    /// Records one command outcome.
    pub fn command(&self, command: &str, outcome: &str, seconds: f64) {
        let labels = CommandLabels {
            command: command.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.commands.get_or_create(&labels).inc();
        self.command_duration
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// Records one automod action outcome.
    pub fn automod_action(&self, action: &str, outcome: &str) {
        self.automod_actions
            .get_or_create(&AutomodLabels {
                action: action.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The text exposition (OpenMetrics text format).
    #[must_use]
    pub fn render(&self) -> String {
        if let Some(rss) = resident_memory_bytes() {
            self.memory.set(i64::try_from(rss).unwrap_or(i64::MAX));
        }
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Resident memory of this process, from `/proc/self/statm` (Linux); `None` elsewhere.
#[must_use]
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_required_families() {
        let m = Metrics::new();
        m.command("ping", "ok", 0.01);
        m.events
            .get_or_create(&EventLabels {
                shard: 3,
                event: "MESSAGE_CREATE".into(),
            })
            .inc();
        let text = m.render();
        assert!(
            text.contains("kyuta_commands_total{command=\"ping\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kyuta_command_duration_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains("kyuta_gateway_events_total{shard=\"3\",event=\"MESSAGE_CREATE\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kyuta_process_resident_memory_bytes"),
            "{text}"
        );
    }
}
