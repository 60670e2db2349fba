//! `GET /gateway` and `GET /gateway/bot`.

use crate::http::{R, S, ok};
use crate::state::Shared;
use axum::Router;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, header};
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/gateway", get(gateway))
        .route("/gateway/bot", get(gateway_bot))
}

async fn gateway(AxState(sh): S, headers: HeaderMap) -> R {
    ok(json!({"url": sh.gateway_url(headers.get(header::HOST))}))
}

async fn gateway_bot(AxState(sh): S, headers: HeaderMap) -> R {
    let url = sh.gateway_url(headers.get(header::HOST));
    let mut st = sh.lock();
    let limit = crate::gateway::session_start_limit(&sh, &mut st);
    ok(json!({"url": url, "shards": sh.cfg.recommended_shards, "session_start_limit": limit}))
}
