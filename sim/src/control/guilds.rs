//! Control routes that read and edit a guild: its summary, its roles, its audit log.

use super::{CR, P, S, bad, id, not_found, parse_body};
use crate::state::{Shared, intents};
use crate::world::Guild;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Routes of the guilds' summaries, roles and audit logs.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/guilds", get(guilds))
        .route("/guilds/{guild}", get(one_guild))
        .route("/guilds/{guild}/roles/{role}", patch(role_update))
        .route("/guilds/{guild}/audit-log", get(audit_log))
        .route("/channels/{channel}", patch(channel_update))
}

fn guild_summary(g: &Guild) -> Value {
    json!({
        "id": g.id.to_string(),
        "index": g.index,
        "name": g.name,
        "owner_id": g.owner_id.to_string(),
        "mod_log_channel_id": g.mod_log().map(|c| c.id.to_string()),
        "channels": g.channels.iter().map(|c| json!({"id": c.id.to_string(), "name": c.name, "type": c.kind})).collect::<Vec<_>>(),
        "roles": g.roles.iter().map(|r| json!({"id": r.id.to_string(), "name": r.name, "position": r.position, "permissions": r.permissions.to_string(), "managed": r.managed})).collect::<Vec<_>>(),
        "member_ids": g.members.keys().map(u64::to_string).collect::<Vec<_>>(),
    })
}

async fn guilds(AxState(sh): S, Query(q): Query<HashMap<String, String>>) -> CR {
    let limit: u64 = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(100);
    let offset: u64 = q.get("offset").and_then(|s| s.parse().ok()).unwrap_or(0);
    let st = sh.lock();
    let end = offset.saturating_add(limit).min(sh.world.guild_count);
    let out: Vec<Value> = (offset..end)
        .map(|n| guild_summary(&st.guild_by_index(&sh.world, n)))
        .collect();
    Ok(Json(json!(out)).into_response())
}

async fn one_guild(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let st = sh.lock();
    let g = st
        .guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    Ok(Json(guild_summary(&g)).into_response())
}

/// The owner edits a role: `{"permissions"?: "BITS" (string or number), "name"?: 1–100
/// characters, "color"?: 0..=0xFFFFFF}` (at least one) → GUILD_ROLE_UPDATE and an audit entry
/// (31, ROLE_UPDATE) with the changed keys.
async fn role_update(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let rid = id(&p, "role")?;
    let b = parse_body(&body)?;
    let bits = match b.get("permissions") {
        None => None,
        Some(Value::String(s)) => Some(
            s.parse::<u64>()
                .map_err(|_| bad("permissions must be a bit set"))?,
        ),
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| bad("permissions must be a bit set"))?,
        ),
        Some(_) => return Err(bad("permissions must be a bit set as a string or number")),
    };
    let name = match b.get("name") {
        None => None,
        Some(Value::String(s)) if (1..=100).contains(&s.chars().count()) => Some(s.clone()),
        Some(_) => return Err(bad("name must be a string of 1 to 100 characters")),
    };
    let color = match b.get("color") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|c| *c <= 0xFF_FF_FF)
                .and_then(|c| u32::try_from(c).ok())
                .ok_or_else(|| bad("color must be an integer from 0 to 16777215"))?,
        ),
    };
    if bits.is_none() && name.is_none() && color.is_none() {
        return Err(bad("permissions, name or color is required"));
    }
    let mut st = sh.lock();
    let g = st
        .guild_mut(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let owner = g.owner_id;
    let role = g
        .roles
        .iter_mut()
        .find(|r| r.id == rid)
        .ok_or_else(|| not_found("unknown role"))?;
    let mut changes = Vec::new();
    if let Some(bits) = bits.filter(|b| *b != role.permissions) {
        changes.push(json!({"key": "permissions", "old_value": role.permissions.to_string(), "new_value": bits.to_string()}));
        role.permissions = bits;
    }
    if let Some(name) = name.filter(|n| *n != role.name) {
        changes.push(json!({"key": "name", "old_value": role.name, "new_value": name}));
        role.name = name;
    }
    if let Some(color) = color.filter(|c| *c != role.color) {
        changes.push(json!({"key": "color", "old_value": role.color, "new_value": color}));
        role.color = color;
    }
    let role = role.to_json();
    st.dispatch(
        Some(gid),
        "GUILD_ROLE_UPDATE",
        &json!({"guild_id": gid.to_string(), "role": role}),
        intents::GUILDS,
        false,
    );
    if !changes.is_empty() {
        st.audit(&sh.world, gid, owner, Some(rid), 31, changes, None, None);
    }
    Ok(Json(role).into_response())
}

/// The owner edits a guild channel: `{"name"?: 1–100 characters, "topic"?: null or at most
/// 1024 characters}` (at least one) → CHANNEL_UPDATE (GUILDS) with the full channel and an
/// audit entry (11, CHANNEL_UPDATE) by the owner with the changed keys.
async fn channel_update(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let cid = id(&p, "channel")?;
    let b = parse_body(&body)?;
    let name = match b.get("name") {
        None => None,
        Some(Value::String(s)) if (1..=100).contains(&s.chars().count()) => Some(s.clone()),
        Some(_) => return Err(bad("name must be a string of 1 to 100 characters")),
    };
    let topic = match b.get("topic") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.chars().count() <= 1024 => {
            Some(Some(s.clone()).filter(|t| !t.is_empty()))
        }
        Some(_) => return Err(bad("topic must be null or at most 1024 characters")),
    };
    if name.is_none() && topic.is_none() {
        return Err(bad("name or topic is required"));
    }
    let mut st = sh.lock();
    let gid = st
        .channel(&sh.world, cid)
        .ok_or_else(|| not_found("unknown channel"))?
        .guild_id
        .ok_or_else(|| bad("not a guild channel"))?;
    let g = st.guild_mut(&sh.world, gid).expect("the channel's guild");
    let owner = g.owner_id;
    let ch = g
        .channels
        .iter_mut()
        .find(|c| c.id == cid)
        .ok_or_else(|| not_found("unknown channel"))?;
    let mut changes = Vec::new();
    if let Some(name) = name.filter(|n| *n != ch.name) {
        changes.push(json!({"key": "name", "old_value": ch.name, "new_value": name}));
        ch.name = name;
    }
    if let Some(topic) = topic.filter(|t| *t != ch.topic) {
        changes.push(json!({"key": "topic", "old_value": ch.topic, "new_value": topic}));
        ch.topic = topic;
    }
    let v = ch.to_json();
    st.dispatch(Some(gid), "CHANNEL_UPDATE", &v, intents::GUILDS, false);
    if !changes.is_empty() {
        st.audit(&sh.world, gid, owner, Some(cid), 11, changes, None, None);
    }
    Ok(Json(v).into_response())
}

async fn audit_log(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let st = sh.lock();
    st.guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    Ok(Json(json!(st.audit.get(&gid).cloned().unwrap_or_default())).into_response())
}
