//! The fault routes (`/faults`): gateway connection faults, REST route faults, Cloudflare
//! bans, revoked tokens, a paused gateway; listing and clearing them.

use super::{CR, Ctl, S, bad, parse_body};
use crate::state::{ConnCmd, RouteFault, Shared};
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

/// Routes of the faults.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new().route(
        "/faults",
        post(faults).delete(clear_faults).get(list_faults),
    )
}

async fn list_faults(AxState(sh): S) -> Json<Value> {
    Json(json!({"routes": sh.lock().faults, "gateway_paused": *sh.paused.borrow()}))
}

async fn clear_faults(AxState(sh): S) -> Json<Value> {
    super::gateway_faults::clear(&sh);
    let mut st = sh.lock();
    let n = st.faults.len();
    st.faults.clear();
    Json(json!({"cleared": n}))
}

async fn faults(AxState(sh): S, body: Bytes) -> CR {
    let b = parse_body(&body)?;
    let kind = b
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("kind is required"))?
        .to_owned();
    let shard = b.get("shard").and_then(Value::as_u64).map(|s| s as u32);
    let cmd = match kind.as_str() {
        "drop" => Some(ConnCmd::Drop),
        "reconnect" => Some(ConnCmd::Reconnect),
        "invalidate_session" => Some(ConnCmd::InvalidSession(
            b.get("resumable").and_then(Value::as_bool).unwrap_or(false),
        )),
        "close" => {
            let code = b
                .get("code")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("close needs code"))?;
            let code = u16::try_from(code).map_err(|_| bad("code out of range"))?;
            Some(ConnCmd::Close(
                code,
                b.get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ))
        }
        "request_heartbeat" => Some(ConnCmd::RequestHeartbeat),
        "stop_acks" => Some(ConnCmd::StopAcks(true)),
        "resume_acks" => Some(ConnCmd::StopAcks(false)),
        "pause_gateway" => {
            sh.paused.send_replace(true);
            return Ok(Json(json!({"affected": 1, "gateway_paused": true})).into_response());
        }
        "resume_gateway" => {
            sh.paused.send_replace(false);
            return Ok(Json(json!({"affected": 1, "gateway_paused": false})).into_response());
        }
        "route" => {
            let f = route_fault(&b)?;
            let mut st = sh.lock();
            st.faults.push(f);
            return Ok(Json(json!({"affected": 1, "routes": st.faults})).into_response());
        }
        "cloudflare_ban" => {
            let ms = b.get("ms").and_then(Value::as_u64).unwrap_or(60_000);
            let html = b.get("html").and_then(Value::as_bool).unwrap_or(false);
            let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
            sh.lock().cloudflare_ban = Some((until, html));
            return Ok(Json(json!({"affected": 1, "cloudflare_ban_ms": ms})).into_response());
        }
        "revoke_token" | "restore_token" => {
            sh.lock().token_revoked = kind == "revoke_token";
            return Ok(Json(json!({"affected": 1})).into_response());
        }
        other => {
            return match super::gateway_faults::apply(&sh, other, &b, shard) {
                Ok(Some(v)) => Ok(Json(v).into_response()),
                Ok(None) => Err(bad(format!("unknown fault kind {other:?}"))),
                Err(e) => Err(bad(e)),
            };
        }
    };
    let cmd = cmd.expect("set above");
    let st = sh.lock();
    let mut affected = 0;
    for s in st.sessions.values() {
        if shard.is_none_or(|sh| s.shard[0] == sh)
            && let Some(c) = &s.conn
        {
            let _ = c.tx.send(cmd.clone());
            affected += 1;
        }
    }
    Ok(Json(json!({"affected": affected})).into_response())
}

/// A route fault from its control request; `status` is 429, a 5xx status, `"lag"`, `"hang"`
/// or `"reset"`.
fn route_fault(b: &Value) -> Result<RouteFault, Ctl> {
    let f = RouteFault {
        route: b
            .get("route")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("route fault needs route"))?
            .to_owned(),
        kind: match b.get("status") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(bad(
                    "route fault needs status: 429, a 5xx status, \"lag\", \"hang\" or \"reset\"",
                ));
            }
        },
        ms: b.get("ms").and_then(Value::as_u64),
        count: b.get("count").and_then(Value::as_u64).map(|c| c as u32),
        scope: b.get("scope").and_then(Value::as_str).map(str::to_owned),
        after_apply: b
            .get("after_apply")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        html: b.get("html").and_then(Value::as_bool).unwrap_or(false),
    };
    let is_5xx = f.kind.parse::<u16>().is_ok_and(|c| (500..600).contains(&c));
    if !matches!(f.kind.as_str(), "lag" | "429" | "hang" | "reset") && !is_5xx {
        return Err(bad(
            "status must be 429, 500-599, \"lag\", \"hang\" or \"reset\"",
        ));
    }
    if f.scope
        .as_deref()
        .is_some_and(|s| !matches!(s, "user" | "shared" | "global"))
    {
        return Err(bad("scope must be user, shared or global"));
    }
    if f.after_apply && !(is_5xx || matches!(f.kind.as_str(), "hang" | "reset")) {
        return Err(bad(
            "after_apply goes with a 5xx status, \"hang\" or \"reset\"",
        ));
    }
    Ok(f)
}
