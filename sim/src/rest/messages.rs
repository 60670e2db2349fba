//! Channel messages: listing, creating, editing and deleting them, bulk deletion.

use crate::error::{ApiError, e};
use crate::http::{P, Q, R, S, body_json, no_content, ok, reason, snow};
use crate::intents;
use crate::state::{Shared, State, member_partial, message_json};
use crate::uploads;
use crate::util::{iso, next_snowflake, now_ms, snowflake_ms};
use crate::world::perms;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

use super::channel_and_perms;
use crate::validate::validate_message_body;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/channels/{channel}/messages",
            get(list_messages).post(create_message),
        )
        .route(
            "/channels/{channel}/messages/bulk-delete",
            post(bulk_delete),
        )
        .route(
            "/channels/{channel}/messages/{message}",
            get(get_message).patch(edit_message).delete(delete_message),
        )
}

/// How long `enforce_nonce` remembers a nonce (Discord: "the past few minutes").
const NONCE_WINDOW_MS: u64 = 5 * 60 * 1000;

/// A nonce as compared by `enforce_nonce` (a string, or an integer).
fn nonce_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The message `author` created in `channel` with `nonce` within [`NONCE_WINDOW_MS`].
fn recent_with_nonce(st: &State, channel: u64, author: u64, nonce: &str) -> Option<Value> {
    let cutoff = now_ms().saturating_sub(NONCE_WINDOW_MS);
    let author = author.to_string();
    st.messages.get(&channel)?.iter().rev().find_map(|m| {
        let id: u64 = m["id"].as_str()?.parse().ok()?;
        (snowflake_ms(id) >= cutoff
            && m["author"]["id"].as_str() == Some(author.as_str())
            && m.get("nonce").and_then(nonce_key).as_deref() == Some(nonce))
        .then(|| m.clone())
    })
}

async fn create_message(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let cid = snow(&p, "channel")?;
    let upload = uploads::read(&h, body).await?;
    let b = &upload.json;
    let mut st = sh.lock();
    let (c, perms_here) = channel_and_perms(&sh, &st, cid)?;
    // Who may post, as for users: SEND_MESSAGES after overwrites, not a category, not in a
    // timeout (bots are exempt from slowmode).
    crate::channel_rules::user_may_post(&sh.world, &st, cid, sh.world.bot.id, now_ms())?;
    validate_message_body(b, !upload.has_files())?;
    if upload.has_files() && c.guild_id.is_some() && perms_here & perms::ATTACH_FILES == 0 {
        return Err(e::missing_permissions());
    }
    if let Some(r) = &c.recipient
        && (r.bot || st.users_dms_closed(r.id))
    {
        return Err(e::cannot_dm());
    }
    if b.get("enforce_nonce").and_then(Value::as_bool) == Some(true)
        && let Some(nonce) = b.get("nonce").and_then(nonce_key)
        && let Some(earlier) = recent_with_nonce(&st, cid, sh.world.bot.id, &nonce)
    {
        // Discord: the message this author already created with that nonce, not a new one.
        return ok(earlier);
    }
    let content = b.get("content").and_then(Value::as_str).unwrap_or("");
    let member = c.guild_id.and_then(|g| {
        st.guild(&sh.world, g)
            .and_then(|g| member_partial(&g, sh.world.bot.id))
    });
    let id = next_snowflake();
    let attachments = upload.attachments(b, &mut st.uploads, cid, &[])?;
    let mut m = message_json(id, cid, c.guild_id, &sh.world.bot, None, content, b, 0);
    m["attachments"] = json!(attachments);
    if let Some(r) = b.get("message_reference") {
        m["message_reference"] = r.clone();
        m["type"] = json!(19);
    }
    let bot = sh.world.bot.id;
    crate::mentions::record(
        &st,
        &sh.world,
        c.guild_id,
        cid,
        bot,
        &mut m,
        b.get("allowed_mentions"),
    );
    st.store_message(cid, m.clone());
    let mut ev = m.clone();
    crate::mentions::with_members(&st, &sh.world, c.guild_id, &mut ev);
    if let Some(mm) = member {
        ev["member"] = mm;
    }
    let intent = if c.guild_id.is_some() {
        intents::GUILD_MESSAGES
    } else {
        intents::DIRECT_MESSAGES
    };
    st.dispatch(c.guild_id, "MESSAGE_CREATE", &ev, intent, false);
    ok(m)
}

/// The index and a copy of message `mid` of channel `cid`, if stored.
pub(crate) fn find_message(st: &State, cid: u64, mid: u64) -> Option<(usize, Value)> {
    st.messages
        .get(&cid)?
        .iter()
        .enumerate()
        .find_map(|(i, m)| {
            (m["id"].as_str() == Some(mid.to_string().as_str())).then(|| (i, m.clone()))
        })
}

async fn get_message(AxState(sh): S, Path(p): P) -> R {
    let cid = snow(&p, "channel")?;
    let mid = snow(&p, "message")?;
    let st = sh.lock();
    let (_, perm) = channel_and_perms(&sh, &st, cid)?;
    if perm & perms::READ_MESSAGE_HISTORY == 0 {
        return Err(e::missing_access());
    }
    ok(find_message(&st, cid, mid)
        .ok_or_else(e::unknown_message)?
        .1)
}

async fn list_messages(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let cid = snow(&p, "channel")?;
    let limit = crate::http::limit_param(&q, 100, 50)?;
    let anchor = |name: &str| -> Result<Option<u64>, ApiError> {
        q.get(name)
            .map(|s| {
                s.parse::<u64>().map_err(|_| {
                    ApiError::form(
                        name,
                        "NUMBER_TYPE_COERCE",
                        &format!("Value \"{s}\" is not snowflake."),
                    )
                })
            })
            .transpose()
    };
    let before = anchor("before")?;
    let after = anchor("after")?;
    let around = anchor("around")?;
    // Discord: before, after and around are mutually exclusive.
    if [before, after, around]
        .iter()
        .filter(|a| a.is_some())
        .count()
        > 1
    {
        return Err(ApiError::form(
            "around",
            "LIST_ITEM_VALUE_EXCLUSIVE",
            "Only one of before, after and around may be given.",
        ));
    }
    let st = sh.lock();
    let (_, perm) = channel_and_perms(&sh, &st, cid)?;
    if perm & perms::READ_MESSAGE_HISTORY == 0 {
        return ok(json!([]));
    }
    let id_of = |m: &Value| {
        m["id"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut out: Vec<Value> = st
        .messages
        .get(&cid)
        .map(|v| {
            v.iter()
                .filter(|m| {
                    before.is_none_or(|b| id_of(m) < b) && after.is_none_or(|a| id_of(m) > a)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    out.reverse();
    if let Some(a) = around {
        // Newest first: up to limit/2 newer than `around`, then it (if present) and older ones.
        let newer_than = out.partition_point(|m| id_of(m) > a);
        let start = newer_than - newer_than.min(limit / 2);
        out = out.into_iter().skip(start).take(limit).collect();
        return ok(json!(out));
    }
    if after.is_some() {
        // Discord gives the messages right after `after` (the oldest of them), newest first.
        let len = out.len();
        out.drain(..len.saturating_sub(limit));
    }
    out.truncate(limit);
    ok(json!(out))
}

async fn edit_message(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let cid = snow(&p, "channel")?;
    let mid = snow(&p, "message")?;
    let upload = uploads::read(&h, body).await?;
    let b = &upload.json;
    validate_message_body(b, false)?;
    let mut st = sh.lock();
    let (c, perms_here) = channel_and_perms(&sh, &st, cid)?;
    let (i, mut m) = find_message(&st, cid, mid).ok_or_else(e::unknown_message)?;
    if m["author"]["id"].as_str() != Some(sh.world.bot.id.to_string().as_str()) {
        return Err(e::not_own_message());
    }
    if upload.has_files() && c.guild_id.is_some() && perms_here & perms::ATTACH_FILES == 0 {
        return Err(e::missing_permissions());
    }
    upload.edit(b, &mut st.uploads, cid, &mut m)?;
    crate::state::apply_edit(&mut m, b);
    m["edited_timestamp"] = json!(iso(now_ms()));
    st.messages.get_mut(&cid).expect("exists")[i] = m.clone();
    let intent = if c.guild_id.is_some() {
        intents::GUILD_MESSAGES
    } else {
        intents::DIRECT_MESSAGES
    };
    st.dispatch(c.guild_id, "MESSAGE_UPDATE", &m, intent, false);
    ok(m)
}

async fn delete_message(AxState(sh): S, Path(p): P, h: HeaderMap) -> R {
    let cid = snow(&p, "channel")?;
    let mid = snow(&p, "message")?;
    let why = reason(&h)?;
    let mut st = sh.lock();
    let (c, perm) = channel_and_perms(&sh, &st, cid)?;
    let (i, m) = find_message(&st, cid, mid).ok_or_else(e::unknown_message)?;
    let author: u64 = m["author"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let own = author == sh.world.bot.id;
    if !own && perm & perms::MANAGE_MESSAGES == 0 {
        return Err(e::missing_permissions());
    }
    st.messages.get_mut(&cid).expect("exists").remove(i);
    st.dispatch_message_delete(c.guild_id, cid, mid);
    if !own && let Some(g) = c.guild_id {
        st.audit(
            &sh.world,
            g,
            sh.world.bot.id,
            Some(author),
            72,
            vec![],
            why.as_deref(),
            Some(json!({"channel_id": cid.to_string(), "count": "1"})),
        );
    }
    no_content()
}

async fn bulk_delete(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let cid = snow(&p, "channel")?;
    let why = reason(&h)?;
    let b = body_json(&body)?;
    let raw = b.get("messages").and_then(Value::as_array).ok_or_else(|| {
        ApiError::form("messages", "BASE_TYPE_REQUIRED", "This field is required")
    })?;
    let mut ids: Vec<u64> = Vec::with_capacity(raw.len());
    for (i, v) in raw.iter().enumerate() {
        // Every entry is a snowflake; unknown ones are ignored but count towards 2..=100.
        let Some(id) = v
            .as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| v.as_u64())
        else {
            return Err(ApiError::form(
                &format!("messages.{i}"),
                "NUMBER_TYPE_COERCE",
                &format!("Value \"{v}\" is not snowflake."),
            ));
        };
        ids.push(id);
    }
    if ids.len() < 2 {
        return Err(ApiError::form(
            "messages",
            "BASE_TYPE_MIN_LENGTH",
            "Must be 2 or more in length.",
        ));
    }
    if ids.len() > 100 {
        return Err(ApiError::form(
            "messages",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.",
        ));
    }
    // Discord fails the whole request on a duplicate id.
    let distinct: std::collections::HashSet<u64> = ids.iter().copied().collect();
    if distinct.len() != ids.len() {
        return Err(ApiError::form(
            "messages",
            "BASE_TYPE_BAD_REQUEST",
            "Duplicate message ids are not allowed.",
        ));
    }
    let cutoff = now_ms().saturating_sub(14 * 86_400_000);
    if ids.iter().any(|id| snowflake_ms(*id) < cutoff) {
        return Err(e::too_old_to_bulk_delete());
    }
    let mut st = sh.lock();
    let (c, perm) = channel_and_perms(&sh, &st, cid)?;
    let Some(g) = c.guild_id else {
        return Err(e::missing_permissions());
    };
    if perm & perms::MANAGE_MESSAGES == 0 {
        return Err(e::missing_permissions());
    }
    let set: std::collections::HashSet<String> = ids.iter().map(u64::to_string).collect();
    if let Some(v) = st.messages.get_mut(&cid) {
        v.retain(|m| !m["id"].as_str().is_some_and(|id| set.contains(id)));
    }
    let ev = json!({"ids": ids.iter().map(u64::to_string).collect::<Vec<_>>(), "channel_id": cid.to_string(), "guild_id": g.to_string()});
    st.dispatch(
        Some(g),
        "MESSAGE_DELETE_BULK",
        &ev,
        intents::GUILD_MESSAGES,
        false,
    );
    st.audit(
        &sh.world,
        g,
        sh.world.bot.id,
        Some(cid),
        73,
        vec![],
        why.as_deref(),
        Some(json!({"count": ids.len().to_string()})),
    );
    no_content()
}
