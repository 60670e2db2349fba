//! Control routes that read and edit a guild: its summary, its roles, its audit log.

use super::{CR, P, S, bad, id, not_found, parse_body, val_id};
use crate::intents;
use crate::state::Shared;
use crate::world::Guild;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Routes of the guilds' summaries, roles and audit logs.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/guilds", get(guilds))
        .route("/guilds/{guild}", get(one_guild))
        .route(
            "/guilds/{guild}/roles",
            post(role_create).patch(role_positions),
        )
        .route(
            "/guilds/{guild}/roles/{role}",
            patch(role_update).delete(role_delete),
        )
        .route("/guilds/{guild}/channels", post(channel_create))
        .route("/guilds/{guild}/audit-log", get(audit_log))
        .route(
            "/channels/{channel}",
            patch(channel_update).delete(channel_delete),
        )
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
    role_updated(&mut st, gid, &role);
    if !changes.is_empty() {
        st.audit(&sh.world, gid, owner, Some(rid), 31, changes, None, None);
    }
    Ok(Json(role).into_response())
}

/// GUILD_ROLE_UPDATE (GUILDS) with the role as it is now.
fn role_updated(st: &mut crate::state::State, gid: u64, role: &Value) {
    st.dispatch(
        Some(gid),
        "GUILD_ROLE_UPDATE",
        &json!({"guild_id": gid.to_string(), "role": role}),
        intents::GUILDS,
        false,
    );
}

/// The owner moves roles, as Discord's client does through Modify Guild Role Positions: a
/// body `[{"id", "position"}, …]`, each role (not `@everyone`, which stays at 0) taken out
/// of the order and put back at its position (1 up to the number of roles; beyond, the top),
/// the others closing up, in the order given. Every role whose position changed gets
/// GUILD_ROLE_UPDATE; no audit entry is written. Answers the guild's roles.
async fn role_positions(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let b = parse_body(&body)?;
    let moves = b
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("a non-empty list of {\"id\", \"position\"} is required"))?;
    let mut wanted = Vec::with_capacity(moves.len());
    for m in moves {
        let rid = val_id(m.get("id")).ok_or_else(|| bad("each move needs an id"))?;
        let position = m
            .get("position")
            .and_then(Value::as_i64)
            .filter(|p| *p >= 1)
            .ok_or_else(|| bad("each move needs a position of at least 1"))?;
        if rid == gid {
            return Err(bad("@everyone stays at position 0"));
        }
        wanted.push((rid, position));
    }
    let mut st = sh.lock();
    let g = st
        .guild_mut(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let before: HashMap<u64, i64> = g.roles.iter().map(|r| (r.id, r.position)).collect();
    for (rid, _) in &wanted {
        if !before.contains_key(rid) {
            return Err(not_found(format!("unknown role {rid}")));
        }
    }
    let mut order: Vec<u64> = {
        let mut rs: Vec<&crate::world::Role> = g.roles.iter().filter(|r| r.id != gid).collect();
        rs.sort_by_key(|r| (r.position, r.id));
        rs.into_iter().map(|r| r.id).collect()
    };
    for (rid, position) in wanted {
        order.retain(|r| *r != rid);
        let at = usize::try_from(position - 1).unwrap_or(0).min(order.len());
        order.insert(at, rid);
    }
    let mut moved = Vec::new();
    for role in &mut g.roles {
        if role.id == gid {
            continue;
        }
        let at = order
            .iter()
            .position(|r| *r == role.id)
            .expect("every role is ordered");
        role.position = i64::try_from(at + 1).expect("few roles");
        if before.get(&role.id) != Some(&role.position) {
            moved.push(role.to_json());
        }
    }
    let roles: Vec<Value> = g.roles.iter().map(crate::world::Role::to_json).collect();
    for role in moved {
        role_updated(&mut st, gid, &role);
    }
    Ok(Json(json!(roles)).into_response())
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

/// An id for a role or channel made now in `g`: like the world's, it carries the guild's
/// index in its low bits (so the channel's guild is found from its id), and is unused there.
fn fresh_id(g: &Guild) -> u64 {
    let mut ms = crate::util::now_ms();
    loop {
        let id = crate::util::snowflake_at(ms, g.index);
        if g.channel(id).is_none() && g.role(id).is_none() && !g.members.contains_key(&id) {
            return id;
        }
        ms += 1;
    }
}

fn name_of(b: &Value) -> Result<String, super::Ctl> {
    match b.get("name") {
        Some(Value::String(s)) if (1..=100).contains(&s.chars().count()) => Ok(s.clone()),
        _ => Err(bad("name (a string of 1 to 100 characters) is required")),
    }
}

/// The owner creates a role: `{"name": 1–100 characters, "color"?, "permissions"?}` → at
/// position 1 (the roles from 1 up move up one, as on Discord), GUILD_ROLE_CREATE (GUILDS)
/// and an audit entry (30, ROLE_CREATE). Answers the role (201).
async fn role_create(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let b = parse_body(&body)?;
    let name = name_of(&b)?;
    let color = b
        .get("color")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(0xFF_FF_FF);
    let permissions = match b.get("permissions") {
        None => 0,
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| bad("permissions must be a bit set"))?,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| bad("permissions must be a bit set"))?,
    };
    let mut st = sh.lock();
    let g = st
        .guild_mut(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let owner = g.owner_id;
    for r in g.roles.iter_mut().filter(|r| r.position >= 1) {
        r.position += 1;
    }
    let role = crate::world::Role {
        id: fresh_id(g),
        name: name.clone(),
        position: 1,
        permissions,
        color: u32::try_from(color).unwrap_or(0),
        hoist: false,
        managed: false,
        bot_id: None,
    };
    let rid = role.id;
    let v = role.to_json();
    g.roles.push(role);
    st.dispatch(
        Some(gid),
        "GUILD_ROLE_CREATE",
        &json!({"guild_id": gid.to_string(), "role": v}),
        intents::GUILDS,
        false,
    );
    st.audit(
        &sh.world,
        gid,
        owner,
        Some(rid),
        30,
        vec![json!({"key": "name", "new_value": name})],
        None,
        None,
    );
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// The owner deletes a role (not `@everyone`, not a managed one: 400): members lose it
/// without a GUILD_MEMBER_UPDATE (as on Discord), GUILD_ROLE_DELETE (`guild_id`, `role_id`)
/// and an audit entry (32, ROLE_DELETE). 204.
async fn role_delete(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let rid = id(&p, "role")?;
    let mut st = sh.lock();
    let g = st
        .guild_mut(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let owner = g.owner_id;
    let role = g
        .roles
        .iter()
        .find(|r| r.id == rid)
        .ok_or_else(|| not_found("unknown role"))?
        .clone();
    if rid == gid || role.managed {
        return Err(bad("@everyone and managed roles cannot be deleted"));
    }
    g.roles.retain(|r| r.id != rid);
    for m in g.members.values_mut() {
        m.roles.retain(|r| *r != rid);
    }
    st.dispatch(
        Some(gid),
        "GUILD_ROLE_DELETE",
        &json!({"guild_id": gid.to_string(), "role_id": rid.to_string()}),
        intents::GUILDS,
        false,
    );
    st.audit(
        &sh.world,
        gid,
        owner,
        Some(rid),
        32,
        vec![json!({"key": "name", "old_value": role.name})],
        None,
        None,
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The owner creates a channel: `{"name": 1–100 characters, "type"?: 0 text (default), 2
/// voice or 4 category, "topic"?}` → CHANNEL_CREATE (GUILDS) with the full channel and an
/// audit entry (10, CHANNEL_CREATE). Answers the channel (201).
async fn channel_create(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    use crate::world::channel_type;
    let gid = id(&p, "guild")?;
    let b = parse_body(&body)?;
    let name = name_of(&b)?;
    let kind = match b.get("type").map(Value::as_u64) {
        None => channel_type::GUILD_TEXT,
        Some(Some(0)) => channel_type::GUILD_TEXT,
        Some(Some(2)) => channel_type::GUILD_VOICE,
        Some(Some(4)) => channel_type::GUILD_CATEGORY,
        Some(_) => return Err(bad("type must be 0 (text), 2 (voice) or 4 (category)")),
    };
    let topic = b.get("topic").and_then(Value::as_str).map(str::to_owned);
    let mut st = sh.lock();
    let g = st
        .guild_mut(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let owner = g.owner_id;
    let position = g.channels.iter().map(|c| c.position).max().unwrap_or(0) + 1;
    let ch = crate::world::Channel {
        id: fresh_id(g),
        guild_id: Some(gid),
        name: name.clone(),
        kind,
        position,
        parent_id: None,
        overwrites: Vec::new(),
        topic,
        rate_limit_per_user: 0,
        recipient: None,
    };
    let cid = ch.id;
    let v = ch.to_json();
    g.channels.push(ch);
    st.dispatch(Some(gid), "CHANNEL_CREATE", &v, intents::GUILDS, false);
    st.audit(
        &sh.world,
        gid,
        owner,
        Some(cid),
        10,
        vec![
            json!({"key": "name", "new_value": name}),
            json!({"key": "type", "new_value": kind}),
        ],
        None,
        None,
    );
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// The owner deletes a guild channel (its messages go with it) → CHANNEL_DELETE (GUILDS) with
/// the full channel (a category's channels then get CHANNEL_UPDATE without a parent) and an
/// audit entry (12, CHANNEL_DELETE). 204.
async fn channel_delete(AxState(sh): S, Path(p): P) -> CR {
    let cid = id(&p, "channel")?;
    let mut st = sh.lock();
    let gid = st
        .channel(&sh.world, cid)
        .ok_or_else(|| not_found("unknown channel"))?
        .guild_id
        .ok_or_else(|| bad("not a guild channel"))?;
    let g = st.guild_mut(&sh.world, gid).expect("the channel's guild");
    let owner = g.owner_id;
    let i = g
        .channels
        .iter()
        .position(|c| c.id == cid)
        .ok_or_else(|| not_found("unknown channel"))?;
    let ch = g.channels.remove(i);
    // A deleted category's channels stay, outside any category: each gets CHANNEL_UPDATE.
    let mut orphans = Vec::new();
    for c in g.channels.iter_mut().filter(|c| c.parent_id == Some(cid)) {
        c.parent_id = None;
        orphans.push(c.to_json());
    }
    st.messages.remove(&cid);
    let v = ch.to_json();
    st.dispatch(Some(gid), "CHANNEL_DELETE", &v, intents::GUILDS, false);
    for o in orphans {
        st.dispatch(Some(gid), "CHANNEL_UPDATE", &o, intents::GUILDS, false);
    }
    st.audit(
        &sh.world,
        gid,
        owner,
        Some(cid),
        12,
        vec![json!({"key": "name", "old_value": ch.name})],
        None,
        None,
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn audit_log(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let st = sh.lock();
    st.guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    Ok(Json(json!(st.audit.get(&gid).cloned().unwrap_or_default())).into_response())
}
