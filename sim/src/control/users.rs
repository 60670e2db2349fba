//! Control routes of user accounts: account changes and whether a user's DMs are open.

use super::{CR, P, S, bad, id, not_found, parse_body};
use crate::intents;
use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::response::IntoResponse;
use axum::routing::{patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

/// Routes of user accounts.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/users/{user}", patch(user_update))
        .route("/users/{user}/dms", post(user_dms))
}

/// A user changes their account: `{"username"?, "global_name"?, "avatar"?}` (`global_name`
/// null clears it; `avatar` is an image hash, 32 hex digits with an optional `a_`, or null for
/// the default avatar) → GUILD_MEMBER_UPDATE (GUILD_MEMBERS) in every guild they share with the bot, as
/// Discord sends user changes of members (bots get no USER_UPDATE for other users).
async fn user_update(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let uid = id(&p, "user")?;
    let b = parse_body(&body)?;
    let mut st = sh.lock();
    let mut user = st
        .user(&sh.world, uid)
        .ok_or_else(|| not_found("unknown user"))?;
    if user.bot {
        return Err(bad("bot accounts are not changed here"));
    }
    match b.get("username") {
        None => {}
        Some(Value::String(s)) if (2..=32).contains(&s.chars().count()) => {
            user.username = s.clone();
        }
        Some(_) => return Err(bad("username must be a string of 2 to 32 characters")),
    }
    match b.get("global_name") {
        None => {}
        Some(Value::Null) => user.global_name = None,
        Some(Value::String(s)) if (1..=32).contains(&s.chars().count()) => {
            user.global_name = Some(s.clone());
        }
        Some(_) => return Err(bad("global_name must be null or 1 to 32 characters")),
    }
    match b.get("avatar") {
        None => {}
        Some(Value::Null) => user.avatar = None,
        Some(Value::String(s)) if is_image_hash(s) => user.avatar = Some(s.clone()),
        Some(_) => {
            return Err(bad(
                "avatar must be null or an image hash (32 hex digits, a_ for animated)",
            ));
        }
    }
    st.users.insert(uid, user.clone());
    // The guild the world generated the user in, and every guild already in memory.
    if let Some(n) = sh.world.owner_index(uid) {
        st.guild_mut(&sh.world, sh.world.guild_id(n));
    }
    let mut events = Vec::new();
    for g in st.guilds.values_mut() {
        if let Some(m) = g.members.get_mut(&uid) {
            m.user = user.clone();
            events.push((g.id, crate::rest::members::member_event(g, uid)));
        }
    }
    events.sort_by_key(|(g, _)| *g);
    let guilds: Vec<String> = events.iter().map(|(g, _)| g.to_string()).collect();
    for (g, ev) in events {
        st.dispatch(
            Some(g),
            "GUILD_MEMBER_UPDATE",
            &ev,
            intents::GUILD_MEMBERS,
            false,
        );
    }
    Ok(Json(json!({"user": user.to_json(), "guilds": guilds})).into_response())
}

/// Discord's image hash: 32 lowercase hex digits, `a_` first for an animated image.
fn is_image_hash(s: &str) -> bool {
    let h = s.strip_prefix("a_").unwrap_or(s);
    h.len() == 32
        && h.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

async fn user_dms(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let uid = id(&p, "user")?;
    let b = parse_body(&body)?;
    let closed = b
        .get("closed")
        .and_then(Value::as_bool)
        .ok_or_else(|| bad("closed (bool) is required"))?;
    let mut st = sh.lock();
    if closed {
        st.dms_closed.insert(uid);
    } else {
        st.dms_closed.remove(&uid);
    }
    Ok(Json(json!({"user_id": uid.to_string(), "closed": closed})).into_response())
}
