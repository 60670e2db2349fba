//! Control routes of users reacting to messages in guild channels: MESSAGE_REACTION_ADD and
//! MESSAGE_REACTION_REMOVE (GUILD_MESSAGE_REACTIONS), and the `reactions` of the stored
//! message that REST reads.

use super::{CR, Ctl, P, S, bad, id, not_found, parse_body, val_id};
use crate::intents;
use crate::state::{Shared, State};
use crate::world::perms;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::put;
use serde_json::{Value, json};
use std::sync::Arc;

/// Routes of reactions.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new().route(
        "/channels/{channel}/messages/{message}/reactions/{emoji}",
        put(react).delete(unreact),
    )
}

/// The emoji of a route: a Unicode emoji (`👍`) or a custom one as `name:id`.
fn emoji(raw: &str) -> Result<Value, Ctl> {
    if raw.is_empty() || raw.chars().count() > 64 {
        return Err(bad("emoji is a Unicode emoji or name:id"));
    }
    match raw.split_once(':') {
        Some((name, eid)) => {
            let eid: u64 = eid
                .parse()
                .map_err(|_| bad("a custom emoji is name:id with a numeric id"))?;
            if name.is_empty() {
                return Err(bad("a custom emoji needs its name"));
            }
            Ok(json!({"id": eid.to_string(), "name": name}))
        }
        None => Ok(json!({"id": null, "name": raw})),
    }
}

/// The guild and the stored message's author of a reaction by `user` on message `mid` of
/// channel `cid`, checked as Discord checks it: a guild channel the user may see and read the
/// history of, a member not in a timeout, and ADD_REACTIONS for an emoji not on the message
/// yet.
fn check(
    sh: &Shared,
    st: &State,
    cid: u64,
    mid: u64,
    user: u64,
    key: &str,
    adding: bool,
) -> Result<(u64, Value), Ctl> {
    let c = st
        .channel(&sh.world, cid)
        .ok_or_else(|| not_found("unknown channel"))?;
    let gid = c
        .guild_id
        .ok_or_else(|| bad("reactions are modelled in guild channels only"))?;
    let (_, m) = crate::rest::messages::find_message(st, cid, mid)
        .ok_or_else(|| not_found("unknown message"))?;
    let g = st.guild(&sh.world, gid).expect("the channel's guild");
    let member = g
        .members
        .get(&user)
        .ok_or_else(|| bad("the user is not a member of the channel's guild"))?;
    if member
        .communication_disabled_until
        .is_some_and(|t| t > crate::util::now_ms())
    {
        return Err(bad("the member is timed out and cannot react"));
    }
    let p = g.channel_permissions(user, cid);
    if p & perms::VIEW_CHANNEL == 0 || p & perms::READ_MESSAGE_HISTORY == 0 {
        return Err(bad(
            "the member lacks VIEW_CHANNEL or READ_MESSAGE_HISTORY in the channel",
        ));
    }
    let new_emoji = !st.reactions.contains_key(&(mid, key.to_owned()));
    if adding && new_emoji && p & perms::ADD_REACTIONS == 0 {
        return Err(bad("the member lacks ADD_REACTIONS for a new reaction"));
    }
    Ok((gid, m["author"].clone()))
}

/// Rewrites the stored message's `reactions` from who reacted.
fn store_counts(sh: &Shared, st: &mut State, cid: u64, mid: u64, key: &str, emoji: &Value) {
    let users = st
        .reactions
        .get(&(mid, key.to_owned()))
        .cloned()
        .unwrap_or_default();
    let bot = sh.world.bot.id;
    let Some(list) = st.messages.get_mut(&cid) else {
        return;
    };
    let Some(m) = list
        .iter_mut()
        .find(|m| m["id"].as_str() == Some(mid.to_string().as_str()))
    else {
        return;
    };
    let mut reactions: Vec<Value> = m["reactions"].as_array().cloned().unwrap_or_default();
    reactions.retain(|r| r["emoji"] != *emoji);
    if !users.is_empty() {
        reactions.push(json!({
            "count": users.len(),
            "count_details": {"burst": 0, "normal": users.len()},
            "me": users.contains(&bot),
            "me_burst": false,
            "burst_colors": [],
            "emoji": emoji,
        }));
    }
    if reactions.is_empty() {
        m.as_object_mut().map(|o| o.remove("reactions"));
    } else {
        m["reactions"] = json!(reactions);
    }
}

/// A user reacts: `PUT …/reactions/{emoji}` with `{"user_id"}`. MESSAGE_REACTION_ADD with
/// the member, the emoji and the message's author; 204 (also when they had reacted already,
/// with no event).
async fn react(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    change(sh, p, body, true).await
}

/// A user takes their reaction back: `DELETE …/reactions/{emoji}` with `{"user_id"}`.
/// MESSAGE_REACTION_REMOVE; 204 (also when there was none, with no event).
async fn unreact(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    change(sh, p, body, false).await
}

async fn change(
    sh: Arc<Shared>,
    p: std::collections::HashMap<String, String>,
    body: Bytes,
    add: bool,
) -> CR {
    let cid = id(&p, "channel")?;
    let mid = id(&p, "message")?;
    let key = p.get("emoji").cloned().unwrap_or_default();
    let emoji = emoji(&key)?;
    let b = parse_body(&body)?;
    let user = val_id(b.get("user_id")).ok_or_else(|| bad("user_id is required"))?;
    let mut st = sh.lock();
    let (gid, author) = check(&sh, &st, cid, mid, user, &key, add)?;
    let users = st.reactions.entry((mid, key.clone())).or_default();
    let changed = if add {
        users.insert(user)
    } else {
        users.remove(&user)
    };
    if users.is_empty() {
        st.reactions.remove(&(mid, key.clone()));
    }
    if !changed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    store_counts(&sh, &mut st, cid, mid, &key, &emoji);
    let mut ev = json!({
        "user_id": user.to_string(),
        "channel_id": cid.to_string(),
        "message_id": mid.to_string(),
        "guild_id": gid.to_string(),
        "emoji": emoji,
        "burst": false,
        "type": 0,
    });
    let event = if add {
        // Discord sends the reacting member whole, with its user.
        let g = st.guild(&sh.world, gid).expect("checked");
        if let Some(m) = g.members.get(&user) {
            ev["member"] = m.to_json();
        }
        drop(g);
        if let Some(a) = author["id"].as_str() {
            ev["message_author_id"] = json!(a);
        }
        "MESSAGE_REACTION_ADD"
    } else {
        "MESSAGE_REACTION_REMOVE"
    };
    st.dispatch(
        Some(gid),
        event,
        &ev,
        intents::GUILD_MESSAGE_REACTIONS,
        false,
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}
