//! Control routes of interactions: a user runs a command or uses a component, and what the
//! bot answered to it.

use super::{CR, P, S, bad, id, not_found, parse_body};
use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

/// Routes of interactions.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/interactions", post(interaction))
        .route("/interactions/component", post(component_interaction))
        .route("/interactions/modal", post(modal_submit))
        .route("/interactions/{id}", get(interaction_result))
}

async fn interaction(AxState(sh): S, body: Bytes) -> CR {
    let b = parse_body(&body)?;
    let mut st = sh.lock();
    let payload = crate::interactions::build(&sh, &mut st, &b).map_err(|e| bad(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": payload["id"], "token": payload["token"], "payload": payload})),
    )
        .into_response())
}

async fn component_interaction(AxState(sh): S, body: Bytes) -> CR {
    let b = parse_body(&body)?;
    let mut st = sh.lock();
    let payload =
        crate::interactions::build_component(&sh, &mut st, &b).map_err(|e| bad(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": payload["id"], "token": payload["token"], "payload": payload})),
    )
        .into_response())
}

async fn modal_submit(AxState(sh): S, body: Bytes) -> CR {
    let b = parse_body(&body)?;
    let mut st = sh.lock();
    let payload = crate::interactions::build_modal_submit(&sh, &mut st, &b)
        .map_err(|e| bad(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": payload["id"], "token": payload["token"], "payload": payload})),
    )
        .into_response())
}

async fn interaction_result(AxState(sh): S, Path(p): P) -> CR {
    let iid = id(&p, "id")?;
    let st = sh.lock();
    let it = st
        .interactions
        .get(&iid)
        .ok_or_else(|| not_found("unknown interaction"))?;
    Ok(Json(json!({
        "id": it.id.to_string(),
        "acknowledged": it.acknowledged,
        "callbacks": it.callbacks,
        "response": it.response,
        "original": it.original,
        "followups": it.followups,
        "user_id": it.user_id.to_string(),
    }))
    .into_response())
}
