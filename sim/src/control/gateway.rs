//! Control routes for the gateway side: the firehose, guild outages, the bot joining and
//! leaving guilds, the bot's token.

use super::{CR, Ctl, S, bad, not_found, parse_body};
use crate::firehose::{self, Plan};
use crate::intents;
use crate::state::{Shared, shard_of};
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Routes of the firehose, guild availability, the bot's guilds and its token.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/firehose", post(firehose_start))
        .route(
            "/firehose/{id}",
            axum::routing::get(firehose_get).delete(firehose_stop),
        )
        .route("/guilds/{guild}/availability", post(availability))
        .route("/guilds/{guild}/bot", post(bot_membership))
        .route("/token", post(token))
}

/// `POST /_sim/firehose`: starts a run (202 with its id), or with `"wait": true` answers
/// the final report when it finished.
async fn firehose_start(AxState(sh): S, b: Bytes) -> CR {
    let b = parse_body(&b)?;
    let plan = Plan::parse(&b).map_err(bad)?;
    let wait = b.get("wait").and_then(Value::as_bool).unwrap_or(false);
    let (id, run) = firehose::start(&sh, plan.clone());
    if !wait {
        return Ok((
            StatusCode::ACCEPTED,
            Json(firehose::report(id, &plan, &run)),
        )
            .into_response());
    }
    while !run.finished.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Json(firehose::report(id, &plan, &run)).into_response())
}

async fn firehose_get(AxState(sh): S, Path(id): Path<String>) -> CR {
    let Ok(id) = id.parse::<u64>() else {
        return Err(bad("id must be a number"));
    };
    let run = sh.lock().firehoses.get(id);
    match run {
        Some((plan, run)) => Ok(Json(firehose::report(id, &plan, &run)).into_response()),
        None => Err(not_found("unknown firehose run")),
    }
}

async fn firehose_stop(AxState(sh): S, Path(id): Path<String>) -> CR {
    let Ok(id) = id.parse::<u64>() else {
        return Err(bad("id must be a number"));
    };
    let run = sh.lock().firehoses.get(id);
    let Some((plan, run)) = run else {
        return Err(not_found("unknown firehose run"));
    };
    run.stop.store(true, Ordering::Relaxed);
    while !run.finished.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(Json(firehose::report(id, &plan, &run)).into_response())
}

/// Sends guild `gid`'s GUILD_CREATE to every ready session of its shard that has GUILDS.
/// Returns the sessions reached.
fn guild_create_to_shard(sh: &Shared, gid: u64) -> u64 {
    let targets: Vec<(String, crate::frames::CreateView)> = {
        let st = sh.lock();
        st.sessions
            .values()
            .filter(|s| s.ready && s.intents & intents::GUILDS != 0)
            .filter(|s| shard_of(Some(gid), s.shard[1]) == s.shard[0])
            .map(|s| (s.id.clone(), s.view))
            .collect()
    };
    let mut reached = 0;
    for (sid, view) in targets {
        let pushed = crate::gateway::with_guild_create(sh, gid, view, |st, d| {
            st.guild_streamable(gid) && st.push_guild_create(&sid, gid, d, view)
        });
        if pushed == Some(true) {
            reached += 1;
        }
    }
    reached
}

fn guild_id(sh: &Shared, raw: &str) -> Result<u64, Ctl> {
    let gid: u64 = raw.parse().map_err(|_| bad("guild must be a snowflake"))?;
    sh.world
        .guild_index(gid)
        .map(|_| gid)
        .ok_or_else(|| not_found("unknown guild"))
}

/// `POST /_sim/guilds/{guild}/availability {"unavailable": bool}`: an outage starts
/// (GUILD_DELETE `unavailable: true`; the guild stays unavailable in READY of new sessions,
/// with no GUILD_CREATE and no events) or ends (GUILD_CREATE).
async fn availability(AxState(sh): S, Path(raw): Path<String>, b: Bytes) -> CR {
    let gid = guild_id(&sh, &raw)?;
    let b = parse_body(&b)?;
    let Some(unavailable) = b.get("unavailable").and_then(Value::as_bool) else {
        return Err(bad("unavailable (bool) is required"));
    };
    let changed = {
        let mut st = sh.lock();
        let now_unavailable = st.unavailable.contains(&gid);
        if unavailable && !now_unavailable {
            st.dispatch(
                Some(gid),
                "GUILD_DELETE",
                &json!({"id": gid.to_string(), "unavailable": true}),
                intents::GUILDS,
                false,
            );
            st.unavailable.insert(gid);
            true
        } else if !unavailable && now_unavailable {
            st.unavailable.remove(&gid);
            true
        } else {
            false
        }
    };
    let reached = if changed && !unavailable {
        guild_create_to_shard(&sh, gid)
    } else {
        0
    };
    Ok(Json(json!({
        "guild_id": gid.to_string(),
        "unavailable": unavailable,
        "changed": changed,
        "guild_creates_sent": reached,
    }))
    .into_response())
}

/// `POST /_sim/guilds/{guild}/bot {"joined": bool}`: the bot is removed from the guild
/// (GUILD_DELETE without `unavailable`; the guild leaves READY of new sessions) or added to
/// it (GUILD_CREATE).
async fn bot_membership(AxState(sh): S, Path(raw): Path<String>, b: Bytes) -> CR {
    let gid = guild_id(&sh, &raw)?;
    let b = parse_body(&b)?;
    let Some(joined) = b.get("joined").and_then(Value::as_bool) else {
        return Err(bad("joined (bool) is required"));
    };
    let changed = {
        let mut st = sh.lock();
        let in_guild = !st.bot_left.contains(&gid);
        if !joined && in_guild {
            st.dispatch(
                Some(gid),
                "GUILD_DELETE",
                &json!({"id": gid.to_string()}),
                intents::GUILDS,
                false,
            );
            st.bot_left.insert(gid);
            true
        } else if joined && !in_guild {
            st.bot_left.remove(&gid);
            true
        } else {
            false
        }
    };
    let reached = if changed && joined {
        guild_create_to_shard(&sh, gid)
    } else {
        0
    };
    Ok(Json(json!({
        "guild_id": gid.to_string(),
        "joined": joined,
        "changed": changed,
        "guild_creates_sent": reached,
    }))
    .into_response())
}

/// `POST /_sim/token {"reset": bool}`: the bot's token is reset (every session ends with
/// 4004 and IDENTIFY/RESUME with it get 4004, as after an exhausted session start limit), or
/// the reset is undone (as if the bot were redeployed with the new token).
async fn token(AxState(sh): S, b: Bytes) -> CR {
    let b = parse_body(&b)?;
    let Some(reset) = b.get("reset").and_then(Value::as_bool) else {
        return Err(bad("reset (bool) is required"));
    };
    let mut st = sh.lock();
    st.token_reset = reset;
    let mut closed = 0;
    if reset {
        for s in st.sessions.values() {
            if let Some(c) = &s.conn {
                let _ = c.tx.send(crate::state::ConnCmd::Close(
                    4004,
                    "Authentication failed.".into(),
                ));
                closed += 1;
            }
        }
        st.sessions.clear();
    }
    Ok(Json(json!({"reset": reset, "sessions_closed": closed})).into_response())
}
