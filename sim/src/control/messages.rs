//! Control routes of users' messages: reading a channel, and users posting, editing and
//! deleting their own messages (with backdated times and attachments).

use super::{CR, Ctl, P, S, bad, id, not_found, parse_body, val_id};
use crate::intents;
use crate::state::{Shared, State, message_json};
use crate::util::{now_ms, snowflake_at_unique};
use crate::world::User;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

/// Routes of a channel's messages.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/channels/{channel}/messages",
            get(messages).post(user_message),
        )
        .route(
            "/channels/{channel}/messages/{message}",
            patch(user_edit).delete(user_delete),
        )
        .route("/attachments/{attachment}", get(attachment))
}

/// The bytes of a file the bot uploaded, with its content type (the newest 64 MiB are kept).
async fn attachment(AxState(sh): S, Path(p): P) -> CR {
    let aid = id(&p, "attachment")?;
    let (content_type, bytes) = sh
        .lock()
        .uploads
        .get(aid)
        .ok_or_else(|| not_found("no uploaded file with that attachment id is kept"))?;
    let content_type = content_type.unwrap_or_else(|| "application/octet-stream".to_owned());
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response())
}

async fn messages(AxState(sh): S, Path(p): P) -> CR {
    let cid = id(&p, "channel")?;
    let st = sh.lock();
    st.channel(&sh.world, cid)
        .ok_or_else(|| not_found("unknown channel"))?;
    Ok(Json(json!(st.messages.get(&cid).cloned().unwrap_or_default())).into_response())
}

/// The channel's guild, the author and their partial `member` (in a guild) for a user acting
/// in channel `cid`: the author must exist and be a member of the channel's guild, and, as on
/// Discord, a member in a timeout cannot post or edit.
fn acting_author(
    sh: &Shared,
    st: &State,
    cid: u64,
    author: u64,
) -> Result<(Option<u64>, User, Option<Value>), Ctl> {
    let c = st
        .channel(&sh.world, cid)
        .ok_or_else(|| not_found("unknown channel"))?;
    let user = st
        .user(&sh.world, author)
        .ok_or_else(|| bad("unknown author"))?;
    let member = match c.guild_id {
        Some(g) => {
            let g = st.guild(&sh.world, g).expect("channel's guild");
            let Some(m) = g.members.get(&author) else {
                return Err(bad("author is not a member of the channel's guild"));
            };
            if m.communication_disabled_until
                .is_some_and(|t| t > crate::util::now_ms())
            {
                return Err(bad("author is timed out and cannot post"));
            }
            crate::state::member_partial(&g, author)
        }
        None => None,
    };
    Ok((c.guild_id, user, member))
}

/// Dispatches a user's message `m` (created or edited) as Discord does: mentioned members
/// carry their partial `member`, the author's too; content is blanked without
/// MESSAGE_CONTENT unless the bot is mentioned.
fn publish_user_message(
    sh: &Shared,
    st: &mut State,
    guild: Option<u64>,
    event: &str,
    m: &Value,
    member: Option<Value>,
    mentions_bot: bool,
) {
    let mut ev = m.clone();
    crate::mentions::with_members(st, &sh.world, guild, &mut ev);
    if let Some(mm) = member {
        ev["member"] = mm;
    }
    let intent = if guild.is_some() {
        intents::GUILD_MESSAGES
    } else {
        intents::DIRECT_MESSAGES
    };
    st.dispatch(guild, event, &ev, intent, !mentions_bot && guild.is_some());
}

/// How far in the future a backdated message's `created_at_ms` may be (clock skew).
const CREATED_AT_SKEW_MS: u64 = 5_000;

/// The Unix-millisecond time a user's message was sent at: `created_at_ms` (a backdated
/// message, Discord's epoch 2015-01-01 to a few seconds from now) or now.
fn message_time(b: &Value) -> Result<u64, Ctl> {
    let now = now_ms();
    match b.get("created_at_ms") {
        None | Some(Value::Null) => Ok(now),
        Some(v) => {
            let ms = v.as_u64().ok_or_else(|| {
                bad("created_at_ms must be Unix milliseconds (a non-negative integer)")
            })?;
            if ms < crate::util::DISCORD_EPOCH_MS {
                return Err(bad(
                    "created_at_ms is before Discord's epoch (2015-01-01T00:00:00Z)",
                ));
            }
            if ms > now + CREATED_AT_SKEW_MS {
                return Err(bad("created_at_ms is in the future"));
            }
            Ok(ms)
        }
    }
}

/// The attachment objects of a user's message in channel `cid`, from the body's
/// `attachments`: at most 10 of `{"filename" (1..=255 characters), "size"? (bytes, default
/// 1024), "content_type"?}`. Each gets a fresh id of time `ms` and Discord's CDN and media
/// proxy URLs.
fn user_attachments(cid: u64, ms: u64, b: &Value) -> Result<Vec<Value>, Ctl> {
    let list = match b.get("attachments") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad("attachments must be an array")),
    };
    if list.len() > 10 {
        return Err(bad("at most 10 attachments"));
    }
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            let filename = a
                .get("filename")
                .and_then(Value::as_str)
                .filter(|f| (1..=255).contains(&f.chars().count()))
                .ok_or_else(|| {
                    bad(format!(
                        "attachments[{i}].filename must be a string of 1 to 255 characters"
                    ))
                })?;
            let size = match a.get("size") {
                None | Some(Value::Null) => 1024,
                Some(v) => v
                    .as_u64()
                    .filter(|s| i32::try_from(*s).is_ok())
                    .ok_or_else(|| {
                        bad(format!(
                            "attachments[{i}].size must be bytes (an integer, 0 to 2147483647)"
                        ))
                    })?,
            };
            let content_type = match a.get("content_type") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s),
                Some(_) => {
                    return Err(bad(format!(
                        "attachments[{i}].content_type must be a string"
                    )));
                }
            };
            let id = snowflake_at_unique(ms);
            Ok(crate::uploads::attachment_object(
                cid,
                id,
                filename,
                size,
                content_type.map(String::as_str),
            ))
        })
        .collect()
}

/// A user posts: `{"author_id", "content"?, "embeds"?, "created_at_ms"?, "attachments"?}`.
/// A message an AutoMod rule blocks is neither stored nor dispatched: the answer is `200`
/// with `{"blocked": true, "code": 200000, "rule_id", "rule_name", "matched_keyword"}`.
/// A backdated message (`created_at_ms`) gets an id of that time and is stored at its place
/// among the channel's messages; it is dispatched now all the same.
async fn user_message(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let cid = id(&p, "channel")?;
    let b = parse_body(&body)?;
    let author = val_id(b.get("author_id")).ok_or_else(|| bad("author_id is required"))?;
    let content = b
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let at = message_time(&b)?;
    let attachments = user_attachments(cid, at, &b)?;
    let mut st = sh.lock();
    let (guild, user, member) = acting_author(&sh, &st, cid, author)?;
    // The rules Discord's client meets: permissions after overwrites, timeouts, slowmode.
    crate::channel_rules::admit_user_post(&sh.world, &mut st, cid, author, now_ms())
        .map_err(|e| Ctl(e.status, format!("{} ({})", e.message, e.code)))?;
    let mut mid = snowflake_at_unique(at);
    while st.has_message(cid, mid) {
        mid = snowflake_at_unique(at);
    }
    // Discord's AutoMod sees the message before anyone does: a blocking rule keeps it from
    // being posted at all.
    if let Some(g) = guild
        && let Some(hit) =
            crate::automod::on_message(&sh.world, &mut st, g, cid, author, &content, mid)
    {
        return Ok(Json(json!({
            "blocked": true,
            "code": crate::automod::BLOCKED_CODE,
            "message": "Message was blocked by automatic moderation",
            "rule_id": hit.rule_id,
            "rule_name": hit.rule_name,
            "matched_keyword": hit.matched_keyword,
        }))
        .into_response());
    }
    let mut m = message_json(mid, cid, guild, &user, None, &content, &b, 0);
    m["attachments"] = json!(attachments);
    // A user's client sends no allowed_mentions: every mention they may make notifies.
    let mentions = crate::mentions::record(&st, &sh.world, guild, cid, author, &mut m, None);
    let mentions_bot = mentions.has_user(sh.world.bot.id);
    st.store_message(cid, m.clone());
    publish_user_message(
        &sh,
        &mut st,
        guild,
        "MESSAGE_CREATE",
        &m,
        member,
        mentions_bot,
    );
    Ok((StatusCode::CREATED, Json(m)).into_response())
}

/// The index and stored copy of message `mid` of channel `cid`, which `author` must have
/// written (Discord lets users edit and delete only their own messages this way).
fn own_message(st: &State, cid: u64, mid: u64, author: u64) -> Result<(usize, Value), Ctl> {
    let (i, m) = crate::rest::messages::find_message(st, cid, mid)
        .ok_or_else(|| not_found("unknown message"))?;
    if m["author"]["id"].as_str() != Some(author.to_string().as_str()) {
        return Err(Ctl(
            StatusCode::FORBIDDEN,
            "author_id is not the message's author".into(),
        ));
    }
    Ok((i, m))
}

/// A user edits their own message: `{"author_id", "content"?, "embeds"?}` → the stored
/// message gets the new fields and `edited_timestamp`, and MESSAGE_UPDATE carries the full
/// message (with `guild_id` and the author's `member` in a guild). With `"unfurl": true` it
/// is Discord resolving the links instead: only `embeds` change, `edited_timestamp` stays.
async fn user_edit(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let cid = id(&p, "channel")?;
    let mid = id(&p, "message")?;
    let b = parse_body(&body)?;
    let author = val_id(b.get("author_id")).ok_or_else(|| bad("author_id is required"))?;
    let unfurl = b.get("unfurl").and_then(Value::as_bool).unwrap_or(false);
    if b.get("content").is_some_and(|c| !c.is_string()) {
        return Err(bad("content must be a string"));
    }
    if unfurl && b.get("content").is_some() {
        return Err(bad("an unfurl changes embeds only"));
    }
    let mut st = sh.lock();
    let (guild, _, member) = acting_author(&sh, &st, cid, author)?;
    let (i, mut m) = own_message(&st, cid, mid, author)?;
    let mut edit = json!({});
    for k in ["content", "embeds"] {
        if let Some(v) = b.get(k) {
            edit[k] = v.clone();
        }
    }
    crate::state::apply_edit(&mut m, &edit);
    if !unfurl {
        m["edited_timestamp"] = json!(crate::util::iso(now_ms()));
    }
    let mentions = crate::mentions::record(&st, &sh.world, guild, cid, author, &mut m, None);
    let mentions_bot = mentions.has_user(sh.world.bot.id);
    st.messages.get_mut(&cid).expect("exists")[i] = m.clone();
    publish_user_message(
        &sh,
        &mut st,
        guild,
        "MESSAGE_UPDATE",
        &m,
        member,
        mentions_bot,
    );
    Ok(Json(m).into_response())
}

/// A user deletes their own message: `{"author_id"}` → MESSAGE_DELETE with `id`,
/// `channel_id` and `guild_id` (no audit entry: Discord logs only deletions by others).
async fn user_delete(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let cid = id(&p, "channel")?;
    let mid = id(&p, "message")?;
    let b = parse_body(&body)?;
    let author = val_id(b.get("author_id")).ok_or_else(|| bad("author_id is required"))?;
    let mut st = sh.lock();
    let guild = st
        .channel(&sh.world, cid)
        .ok_or_else(|| not_found("unknown channel"))?
        .guild_id;
    let (i, _) = own_message(&st, cid, mid, author)?;
    st.messages.get_mut(&cid).expect("exists").remove(i);
    st.dispatch_message_delete(guild, cid, mid);
    Ok(StatusCode::NO_CONTENT.into_response())
}
