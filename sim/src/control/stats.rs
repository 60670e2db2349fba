//! What the simulator reports of itself: health, the statistics (`GET /_sim/stats`, also
//! [`crate::Sim::stats`]) and the bot's presences.

use super::S;
use crate::state::{Shared, State};
use axum::extract::State as AxState;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Routes of health, statistics and presences.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/presences", get(presences))
}

async fn health(AxState(sh): S) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "guilds": sh.world.guild_count,
        "bot_id": sh.world.bot.id.to_string(),
        "application_id": sh.world.application_id.to_string(),
        "uptime_ms": sh.started.elapsed().as_millis() as u64,
    }))
}

async fn presences(AxState(sh): S) -> Json<Value> {
    Json(json!(sh.lock().presences))
}

/// One gateway session as shown by the stats.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// Session id.
    pub session_id: String,
    /// `[shard_id, shard_total]`.
    pub shard: [u32; 2],
    /// Whether a connection is attached.
    pub connected: bool,
    /// Last sequence number.
    pub seq: u64,
    /// Intents.
    pub intents: u64,
    /// Milliseconds since the client's last heartbeat on this session (`None` before the
    /// first).
    pub heartbeat_age_ms: Option<u64>,
}

/// Everything `GET /_sim/stats` reports.
#[derive(Debug, Clone, Serialize)]
pub struct StatsSnapshot {
    /// Counters.
    #[serde(flatten)]
    pub stats: crate::state::Stats,
    /// WebSocket connections open now (identified or not).
    pub open_connections: usize,
    /// Sessions.
    pub sessions: Vec<SessionInfo>,
    /// Shards with a connected, ready session.
    pub ready_shards: Vec<[u32; 2]>,
    /// `session_start_limit.remaining`.
    pub session_start_remaining: u32,
    /// Distinct guilds delivered by GUILD_CREATE.
    pub guilds_delivered: u64,
    /// Guilds delivered more than once.
    pub guilds_delivered_more_than_once: u64,
    /// Guilds held in memory because something touched them.
    pub guilds_materialized: usize,
}

pub(crate) fn snapshot(sh: &Shared, st: &mut State) -> StatsSnapshot {
    let mut sessions: Vec<SessionInfo> = st
        .sessions
        .values()
        .map(|s| SessionInfo {
            session_id: s.id.clone(),
            shard: s.shard,
            connected: s.conn.is_some(),
            seq: s.seq,
            intents: s.intents,
            heartbeat_age_ms: s.last_heartbeat.map(|t| t.elapsed().as_millis() as u64),
        })
        .collect();
    sessions.sort_by_key(|s| s.shard);
    let mut ready: Vec<[u32; 2]> = sessions
        .iter()
        .filter(|s| s.connected)
        .map(|s| s.shard)
        .collect();
    ready.dedup();
    StatsSnapshot {
        stats: st.stats.clone(),
        open_connections: sh.open_connections.load(Ordering::Relaxed),
        sessions,
        ready_shards: ready,
        session_start_remaining: sh.session_starts_remaining(st),
        guilds_delivered: st.guild_deliveries.len() as u64,
        guilds_delivered_more_than_once: st.guild_deliveries.values().filter(|n| **n > 1).count()
            as u64,
        guilds_materialized: st.guilds.len(),
    }
}

async fn stats(AxState(sh): S) -> Json<StatsSnapshot> {
    let mut st = sh.lock();
    Json(snapshot(&sh, &mut st))
}
