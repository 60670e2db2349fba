//! Control routes of a guild's members: joining, leaving, a member's view, nicknames.

use super::{CR, Ctl, P, S, bad, id, not_found, parse_body, val_id};
use crate::intents;
use crate::state::Shared;
use crate::util::{next_snowflake, now_ms, parse_iso, snowflake_at};
use crate::world::{Member, User};
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

/// Routes of members joining and renaming themselves (`/guilds/{guild}/members/{user}`
/// itself is assembled in the parent module, which adds the moderators' timeout to it).
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/guilds/{guild}/members", post(member_join))
        .route("/guilds/{guild}/members/{user}/nick", post(member_nick))
}

async fn member_join(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let b = parse_body(&body)?;
    let mut st = sh.lock();
    st.guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let created = match b.get("created_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(parse_iso(s).ok_or_else(|| bad("created_at must be RFC 3339"))?)
        }
        Some(_) => return Err(bad("created_at must be RFC 3339")),
    };
    let user = match val_id(b.get("user_id")) {
        Some(uid) => match st.user(&sh.world, uid) {
            Some(u) => u,
            None => User {
                id: uid,
                username: format!("user_{uid}"),
                global_name: None,
                bot: false,
                avatar: None,
            },
        },
        None => {
            let uid = match created {
                Some(ms) => snowflake_at(ms, next_snowflake() & 0x3F_FFFF),
                None => next_snowflake(),
            };
            User {
                id: uid,
                username: String::new(),
                global_name: None,
                bot: b.get("bot").and_then(Value::as_bool).unwrap_or(false),
                avatar: None,
            }
        }
    };
    let mut user = user;
    if let Some(name) = b.get("username").and_then(Value::as_str) {
        user.username = name.to_owned();
    }
    if user.username.is_empty() {
        user.username = format!("user_{}", user.id);
    }
    if st
        .guild(&sh.world, gid)
        .is_some_and(|g| g.bans.contains_key(&user.id))
    {
        return Err(bad("user is banned from this guild"));
    }
    if user.id != sh.world.bot.id {
        st.users.insert(user.id, user.clone());
    }
    let m = Member {
        user: user.clone(),
        nick: None,
        roles: Vec::new(),
        joined_ms: now_ms(),
        communication_disabled_until: None,
    };
    let g = st.guild_mut(&sh.world, gid).expect("exists");
    if g.members.contains_key(&user.id) {
        return Err(bad("already a member"));
    }
    g.members.insert(user.id, m.clone());
    let mut ev = m.to_json();
    ev["guild_id"] = json!(gid.to_string());
    st.dispatch(
        Some(gid),
        "GUILD_MEMBER_ADD",
        &ev,
        intents::GUILD_MEMBERS,
        false,
    );
    Ok((StatusCode::CREATED, Json(ev)).into_response())
}

pub(super) async fn member(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let uid = id(&p, "user")?;
    let st = sh.lock();
    let g = st
        .guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let m = g
        .members
        .get(&uid)
        .ok_or_else(|| not_found("not a member"))?;
    let mut v = m.to_json();
    v["permissions"] = json!(g.base_permissions(uid).to_string());
    v["timed_out"] = json!(m.communication_disabled_until.is_some_and(|t| t > now_ms()));
    Ok(Json(v).into_response())
}

/// A member leaves the guild on their own: GUILD_MEMBER_REMOVE (`guild_id`, `user`) and no
/// audit-log entry, as on Discord. The owner cannot leave (Discord asks them to transfer the
/// guild first); the bot leaves through `POST /_sim/guilds/{id}/bot`.
pub(super) async fn member_leave(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let uid = id(&p, "user")?;
    let mut st = sh.lock();
    let g = st
        .guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    if !g.members.contains_key(&uid) {
        return Err(not_found("not a member"));
    }
    if uid == g.owner_id {
        return Err(bad("the owner cannot leave the guild"));
    }
    if uid == sh.world.bot.id {
        return Err(bad("the bot leaves through POST /_sim/guilds/{id}/bot"));
    }
    drop(g);
    st.remove_member(&sh.world, gid, uid);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A member changes their own nickname: `{"nick": "name" | null}` (empty or null clears it;
/// at most 32 characters; the member needs CHANGE_NICKNAME unless they own the guild) →
/// GUILD_MEMBER_UPDATE (GUILD_MEMBERS) and, when it changed, an audit entry (24,
/// MEMBER_UPDATE) by the member with the `nick` change.
async fn member_nick(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let uid = id(&p, "user")?;
    let b = parse_body(&body)?;
    let nick = match b.get("nick") {
        None => return Err(bad("nick (string or null) is required")),
        Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.chars().count() > 32 => {
            return Err(bad("nick must be 32 or fewer in length"));
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("nick must be a string or null")),
    };
    let mut st = sh.lock();
    let g = st
        .guild_mut(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    if !g.members.contains_key(&uid) {
        return Err(not_found("unknown member"));
    }
    if uid != g.owner_id && g.base_permissions(uid) & crate::world::perms::CHANGE_NICKNAME == 0 {
        return Err(Ctl(
            StatusCode::FORBIDDEN,
            "the member lacks CHANGE_NICKNAME".into(),
        ));
    }
    let m = g.members.get_mut(&uid).expect("checked");
    let old = std::mem::replace(&mut m.nick, nick.clone());
    let ev = crate::rest::members::member_event(g, uid);
    st.dispatch(
        Some(gid),
        "GUILD_MEMBER_UPDATE",
        &ev,
        intents::GUILD_MEMBERS,
        false,
    );
    if old != nick {
        st.audit(
            &sh.world,
            gid,
            uid,
            Some(uid),
            24,
            vec![json!({"key": "nick", "old_value": old, "new_value": nick})],
            None,
            None,
        );
    }
    Ok(Json(ev).into_response())
}
