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

/// The owner edits a role: `{"permissions": "BITS"}` (string or number) → GUILD_ROLE_UPDATE
/// and an audit entry (31, ROLE_UPDATE).
async fn role_update(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let rid = id(&p, "role")?;
    let b = parse_body(&body)?;
    let bits = match b.get("permissions") {
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| bad("permissions (a bit set as a string or number) is required"))?;
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
    let old = role.permissions;
    role.permissions = bits;
    let role = role.to_json();
    st.dispatch(
        Some(gid),
        "GUILD_ROLE_UPDATE",
        &json!({"guild_id": gid.to_string(), "role": role}),
        intents::GUILDS,
        false,
    );
    st.audit(
        &sh.world,
        gid,
        owner,
        Some(rid),
        31,
        vec![json!({"key": "permissions", "old_value": old.to_string(), "new_value": bits.to_string()})],
        None,
        None,
    );
    Ok(Json(role).into_response())
}

async fn audit_log(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let st = sh.lock();
    st.guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    Ok(Json(json!(st.audit.get(&gid).cloned().unwrap_or_default())).into_response())
}
