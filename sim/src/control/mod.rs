//! The control API under `/_sim`: build the world, act as users, read what the bot did,
//! inject faults, read statistics. One module per resource, merged here; the helpers every
//! handler shares (the error type, path and body parsing) live in this module.

mod application;
mod faults;
mod gateway;
mod gateway_faults;
mod guilds;
mod interactions;
mod members;
mod messages;
mod moderators;
mod reactions;
mod stats;
mod users;

pub(crate) use stats::snapshot;
pub use stats::{SessionInfo, StatsSnapshot};

use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

type S = AxState<Arc<Shared>>;
type P = Path<HashMap<String, String>>;

/// A control-API failure: `{"error": "..."}`.
struct Ctl(StatusCode, String);

impl IntoResponse for Ctl {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

type CR = Result<Response, Ctl>;

fn bad(msg: impl Into<String>) -> Ctl {
    Ctl(StatusCode::BAD_REQUEST, msg.into())
}

fn not_found(msg: impl Into<String>) -> Ctl {
    Ctl(StatusCode::NOT_FOUND, msg.into())
}

fn id(p: &HashMap<String, String>, k: &str) -> Result<u64, Ctl> {
    p.get(k)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("{k} must be a snowflake")))
}

fn parse_body(b: &Bytes) -> Result<Value, Ctl> {
    if b.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(b).map_err(|e| bad(format!("invalid JSON: {e}")))
}

fn val_id(v: Option<&Value>) -> Option<u64> {
    crate::util::snowflake_value(v?)
}

/// Routes of `/_sim`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .merge(stats::router())
        .merge(guilds::router())
        .merge(members::router())
        .merge(moderators::router())
        .merge(application::router())
        .merge(messages::router())
        .merge(reactions::router())
        .merge(interactions::router())
        .merge(users::router())
        .merge(faults::router())
        .merge(gateway::router())
        // A member's own routes and a moderator's timeout share one path; `merge` refuses a
        // path two routers both hold, so it is assembled here.
        .route(
            "/guilds/{guild}/members/{user}",
            get(members::member)
                .delete(members::member_leave)
                .patch(moderators::moderator_timeout),
        )
}
