//! What a firehose run is asked for ([`Plan`]) and what it has done ([`Run`], [`Runs`]),
//! apart from the generator that drives it.

use crate::intents;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Most events per run.
pub const MAX_COUNT: u64 = 1_000_000_000;
/// Highest rate asked for.
pub const MAX_RATE: u64 = 10_000_000;
/// The kind of event a run generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// MESSAGE_CREATE in `#general` (GUILD_MESSAGES; content blanked without MESSAGE_CONTENT).
    Message,
    /// MESSAGE_REACTION_ADD (GUILD_MESSAGE_REACTIONS).
    Reaction,
    /// TYPING_START (GUILD_MESSAGE_TYPING).
    Typing,
    /// PRESENCE_UPDATE (GUILD_PRESENCES).
    Presence,
}

impl Kind {
    pub(crate) fn event(self) -> &'static str {
        match self {
            Self::Message => "MESSAGE_CREATE",
            Self::Reaction => "MESSAGE_REACTION_ADD",
            Self::Typing => "TYPING_START",
            Self::Presence => "PRESENCE_UPDATE",
        }
    }

    pub(crate) fn intent(self) -> u64 {
        match self {
            Self::Message => intents::GUILD_MESSAGES,
            Self::Reaction => crate::intents::GUILD_MESSAGE_REACTIONS,
            Self::Typing => 1 << 11,
            Self::Presence => intents::GUILD_PRESENCES,
        }
    }
}

/// How events are spread over a shard's guilds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Every guild of the shard equally likely.
    Uniform,
    /// `share` of the events in the shard's first guild, the rest uniform.
    Hot {
        /// Fraction (0–1) going to the hot guild.
        share: f64,
    },
}

/// A firehose request, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Shard ids to stream on (`None`: every shard with a ready session).
    pub shards: Option<Vec<u32>>,
    /// Events per second over all shards.
    pub events_per_second: u64,
    /// Events to generate.
    pub count: u64,
    /// Kind of event.
    pub kind: Kind,
    /// Guild spread.
    pub spread: Spread,
}

impl Plan {
    /// Reads `{shards?, events_per_second, count | duration_ms, kind?, spread?, hot_share?}`.
    pub fn parse(b: &Value) -> Result<Self, String> {
        let rate = b
            .get("events_per_second")
            .and_then(Value::as_u64)
            .filter(|r| (1..=MAX_RATE).contains(r))
            .ok_or(format!("events_per_second must be 1 to {MAX_RATE}"))?;
        let count = match (b.get("count"), b.get("duration_ms")) {
            (Some(c), None) => c
                .as_u64()
                .filter(|c| (1..=MAX_COUNT).contains(c))
                .ok_or(format!("count must be 1 to {MAX_COUNT}"))?,
            (None, Some(d)) => {
                let ms = d
                    .as_u64()
                    .filter(|d| (1..=86_400_000).contains(d))
                    .ok_or("duration_ms must be 1 to 86400000")?;
                (u128::from(rate) * u128::from(ms) / 1000).clamp(1, u128::from(MAX_COUNT)) as u64
            }
            _ => return Err("give exactly one of count and duration_ms".into()),
        };
        let kind = match b.get("kind").and_then(Value::as_str).unwrap_or("message") {
            "message" => Kind::Message,
            "reaction" => Kind::Reaction,
            "typing" => Kind::Typing,
            "presence" => Kind::Presence,
            other => {
                return Err(format!(
                    "kind {other:?}: one of message, reaction, typing, presence"
                ));
            }
        };
        let spread = match b.get("spread").and_then(Value::as_str).unwrap_or("uniform") {
            "uniform" => Spread::Uniform,
            "hot" => {
                let share = match b.get("hot_share") {
                    None => 0.9,
                    Some(v) => v
                        .as_f64()
                        .filter(|s| (0.0..=1.0).contains(s))
                        .ok_or("hot_share must be 0 to 1")?,
                };
                Spread::Hot { share }
            }
            other => return Err(format!("spread {other:?}: uniform or hot")),
        };
        let shards = match b.get("shards") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|s| {
                        s.as_u64()
                            .and_then(|s| u32::try_from(s).ok())
                            .ok_or("shards must be shard ids")
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err("shards must be a list of shard ids".into()),
        };
        if shards.as_ref().is_some_and(Vec::is_empty) {
            return Err("shards must not be empty".into());
        }
        Ok(Self {
            shards,
            events_per_second: rate,
            count,
            kind,
            spread,
        })
    }
}

/// Live counters of one run.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub generated: AtomicU64,
    pub sent: AtomicU64,
    pub dropped_no_session: AtomicU64,
    pub dropped_intents: AtomicU64,
    pub dropped_backlog: AtomicU64,
    pub stop: AtomicBool,
    pub finished: AtomicBool,
    pub elapsed_ms: AtomicU64,
}

/// Firehose runs, by id.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    next: u64,
    runs: HashMap<u64, (Plan, Arc<Run>)>,
}

impl Runs {
    /// Records a new run; returns its id.
    pub fn add(&mut self, plan: Plan, run: Arc<Run>) -> u64 {
        self.next += 1;
        self.runs.insert(self.next, (plan, run));
        self.next
    }

    /// A run by id.
    pub fn get(&self, id: u64) -> Option<(Plan, Arc<Run>)> {
        self.runs.get(&id).cloned()
    }

    /// Totals over every run: `(sent, dropped)`.
    pub fn totals(&self) -> (u64, u64) {
        self.runs.values().fold((0, 0), |(s, d), (_, r)| {
            (s + r.sent.load(Ordering::Relaxed), d + dropped(r))
        })
    }
}

fn dropped(r: &Run) -> u64 {
    r.dropped_no_session.load(Ordering::Relaxed)
        + r.dropped_intents.load(Ordering::Relaxed)
        + r.dropped_backlog.load(Ordering::Relaxed)
}

/// The report of a run: `{id, plan, running, generated, sent, dropped, dropped_by_reason,
/// elapsed_ms, events_per_second_achieved}`.
pub(crate) fn report(id: u64, plan: &Plan, r: &Run) -> Value {
    let elapsed = r.elapsed_ms.load(Ordering::Relaxed);
    let generated = r.generated.load(Ordering::Relaxed);
    serde_json::json!({
        "id": id,
        "plan": plan,
        "running": !r.finished.load(Ordering::Relaxed),
        "generated": generated,
        "sent": r.sent.load(Ordering::Relaxed),
        "dropped": dropped(r),
        "dropped_by_reason": {
            "no_session": r.dropped_no_session.load(Ordering::Relaxed),
            "intents": r.dropped_intents.load(Ordering::Relaxed),
            "backlog": r.dropped_backlog.load(Ordering::Relaxed),
        },
        "elapsed_ms": elapsed,
        "events_per_second_achieved": if elapsed == 0 { 0.0 } else { generated as f64 * 1000.0 / elapsed as f64 },
    })
}
