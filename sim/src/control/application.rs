//! Control routes of the application's settings: its privileged intents (Developer Portal)
//! and the guilds' permission overwrites of its commands (Server Settings → Integrations).

use super::{CR, P, S, bad, id, not_found, parse_body, val_id};
use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::response::IntoResponse;
use axum::routing::{post, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

/// Routes of the application's settings.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/application", post(application_settings))
        .route(
            "/guilds/{guild}/commands/permissions",
            put(command_permissions),
        )
        .route(
            "/guilds/{guild}/commands/{command}/permissions",
            put(command_permissions),
        )
}

/// `POST /_sim/application {"privileged_intents": bool}`: switches the application's
/// privileged intents in the Developer Portal. Sessions already connected keep running; the
/// next IDENTIFY asking for them is closed with 4014, and `GET /applications/@me` shows the
/// flags.
async fn application_settings(AxState(sh): S, body: Bytes) -> CR {
    let b = parse_body(&body)?;
    let on = b
        .get("privileged_intents")
        .and_then(Value::as_bool)
        .ok_or_else(|| bad("privileged_intents (a bool) is required"))?;
    sh.lock().privileged_intents = Some(on);
    Ok(Json(json!({"privileged_intents": on})).into_response())
}

/// A guild's admins set who may use the application's commands (Server Settings →
/// Integrations; Discord's `PUT .../commands/{id}/permissions`, which needs the admin's own
/// token): `{"permissions": [{"id", "type": 1 role | 2 user, "permission": bool}]}`, for one
/// command by name, or for all of them. Such an overwrite replaces
/// `default_member_permissions` for the users it names; `@everyone` is the guild id.
async fn command_permissions(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let b = parse_body(&body)?;
    let list = b
        .get("permissions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("permissions must be an array"))?;
    let mut out = Vec::new();
    for e in list {
        let target = val_id(e.get("id")).ok_or_else(|| bad("each permission needs an id"))?;
        let kind = e.get("type").and_then(Value::as_u64).unwrap_or(0);
        if kind != 1 && kind != 2 {
            return Err(bad("type must be 1 (role) or 2 (user)"));
        }
        let allowed = e
            .get("permission")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("permission must be a boolean"))?;
        out.push((target, kind as u8, allowed));
    }
    let mut st = sh.lock();
    st.guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let n = out.len();
    st.command_overwrites
        .insert((gid, p.get("command").cloned()), out);
    Ok(Json(json!({"permissions": n})).into_response())
}
