//! The bot user, users, and DM channels.

use crate::error::{ApiError, e};
use crate::http::{P, R, S, body_json, ok, snow};
use crate::state::{Shared, State};
use crate::util::next_snowflake;
use crate::world::{Channel, channel_type};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/users/@me", get(me))
        .route("/users/@me/channels", post(create_dm))
        .route("/users/{user}", get(get_user))
}

async fn me(AxState(sh): S) -> R {
    let mut u = sh.world.bot.to_json();
    u["verified"] = json!(true);
    u["mfa_enabled"] = json!(true);
    u["locale"] = json!("en-US");
    u["email"] = Value::Null;
    ok(u)
}

async fn get_user(AxState(sh): S, Path(p): P) -> R {
    let id = snow(&p, "user")?;
    let st = sh.lock();
    ok(st
        .user(&sh.world, id)
        .ok_or_else(e::unknown_user)?
        .to_json())
}

async fn create_dm(AxState(sh): S, body: Bytes) -> R {
    let b = body_json(&body)?;
    let rid = b
        .get("recipient_id")
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
        .ok_or_else(|| {
            ApiError::form(
                "recipient_id",
                "BASE_TYPE_REQUIRED",
                "This field is required",
            )
        })?;
    let rid: u64 = rid.parse().map_err(|_| {
        ApiError::form(
            "recipient_id",
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{rid}\" is not snowflake."),
        )
    })?;
    let mut st = sh.lock();
    let user = st.user(&sh.world, rid).ok_or_else(e::unknown_user)?;
    if let Some(c) = st
        .dm_channels
        .values()
        .find(|c| c.recipient.as_ref().is_some_and(|u| u.id == rid))
    {
        return ok(c.to_json());
    }
    // A sub-limit the bucket's headers do not show: opening new DM channels.
    let now = std::time::Instant::now();
    let window = sh.cfg.dm_open_window;
    while st
        .dm_opens
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        st.dm_opens.pop_front();
    }
    if st.dm_opens.len() >= sh.cfg.dm_open_limit as usize {
        return Err(e::opening_dms_too_fast());
    }
    st.dm_opens.push_back(now);
    let c = Channel {
        id: next_snowflake(),
        guild_id: None,
        name: String::new(),
        kind: channel_type::DM,
        position: 0,
        parent_id: None,
        overwrites: Vec::new(),
        topic: None,
        rate_limit_per_user: 0,
        recipient: Some(user),
    };
    let v = c.to_json();
    st.dm_channels.insert(c.id, c);
    ok(v)
}

/// Whether a user has DMs closed.
impl State {
    pub(crate) fn users_dms_closed(&self, id: u64) -> bool {
        self.dms_closed.contains(&id)
    }
}
