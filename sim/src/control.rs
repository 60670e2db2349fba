//! The control API under `/_sim`: build the world, act as users, read what the bot did,
//! inject faults, read statistics.

use crate::state::{ConnCmd, RouteFault, Shared, State, intents, message_json};
use crate::util::{next_snowflake, now_ms, parse_iso, snowflake_at, snowflake_at_unique};
use crate::world::{Guild, Member, User};
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Routes of `/_sim`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/health", get(health))
        .route("/guilds", get(guilds))
        .route("/guilds/{guild}", get(one_guild))
        .route("/guilds/{guild}/members", post(member_join))
        .route(
            "/guilds/{guild}/members/{user}",
            get(member).delete(member_leave).patch(moderator_timeout),
        )
        .route("/guilds/{guild}/members/{user}/kick", post(moderator_kick))
        .route(
            "/guilds/{guild}/bans/{user}",
            post(moderator_ban).delete(moderator_unban),
        )
        .route("/guilds/{guild}/members/{user}/nick", post(member_nick))
        .route("/guilds/{guild}/roles/{role}", patch(role_update))
        .route("/guilds/{guild}/bans", get(bans))
        .route("/guilds/{guild}/audit-log", get(audit_log))
        .route(
            "/guilds/{guild}/commands/permissions",
            axum::routing::put(command_permissions),
        )
        .route(
            "/guilds/{guild}/commands/{command}/permissions",
            axum::routing::put(command_permissions),
        )
        .route(
            "/channels/{channel}/messages",
            get(messages).post(user_message),
        )
        .route(
            "/channels/{channel}/messages/{message}",
            patch(user_edit).delete(user_delete),
        )
        .route("/interactions", post(interaction))
        .route("/interactions/component", post(component_interaction))
        .route("/interactions/{id}", get(interaction_result))
        .route("/users/{user}", patch(user_update))
        .route("/users/{user}/dms", post(user_dms))
        .route("/presences", get(presences))
        .route("/stats", get(stats))
        .route("/application", post(application_settings))
        .route(
            "/faults",
            post(faults).delete(clear_faults).get(list_faults),
        )
        .merge(crate::control_gw::router())
}

async fn health(AxState(sh): S) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "guilds": sh.world.guild_count,
        "bot_id": sh.world.bot.id.to_string(),
        "application_id": sh.world.application_id.to_string(),
        "uptime_ms": sh.started.elapsed().as_millis() as u64,
    }))
}

fn guild_summary(g: &Guild) -> Value {
    json!({
        "id": g.id.to_string(),
        "index": g.index,
        "name": g.name,
        "owner_id": g.owner_id.to_string(),
        "mod_log_channel_id": g.mod_log().map(|c| c.id.to_string()),
        "channels": g.channels.iter().map(|c| json!({"id": c.id.to_string(), "name": c.name, "type": c.kind})).collect::<Vec<_>>(),
        "roles": g.roles.iter().map(|r| json!({"id": r.id.to_string(), "name": r.name, "position": r.position, "permissions": r.permissions.to_string(), "managed": r.managed})).collect::<Vec<_>>(),
        "member_ids": g.members.keys().map(u64::to_string).collect::<Vec<_>>(),
    })
}

async fn guilds(AxState(sh): S, Query(q): Query<HashMap<String, String>>) -> CR {
    let limit: u64 = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(100);
    let offset: u64 = q.get("offset").and_then(|s| s.parse().ok()).unwrap_or(0);
    let st = sh.lock();
    let end = offset.saturating_add(limit).min(sh.world.guild_count);
    let out: Vec<Value> = (offset..end)
        .map(|n| guild_summary(&st.guild_by_index(&sh.world, n)))
        .collect();
    Ok(Json(json!(out)).into_response())
}

async fn one_guild(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let st = sh.lock();
    let g = st
        .guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    Ok(Json(guild_summary(&g)).into_response())
}

/// The owner edits a role: `{"permissions": "BITS"}` (string or number) → GUILD_ROLE_UPDATE
/// and an audit entry (31, ROLE_UPDATE).
async fn role_update(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let rid = id(&p, "role")?;
    let b = parse_body(&body)?;
    let bits = match b.get("permissions") {
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| bad("permissions (a bit set as a string or number) is required"))?;
    let mut st = sh.lock();
    let g = st
        .guild_mut(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let owner = g.owner_id;
    let role = g
        .roles
        .iter_mut()
        .find(|r| r.id == rid)
        .ok_or_else(|| not_found("unknown role"))?;
    let old = role.permissions;
    role.permissions = bits;
    let role = role.to_json();
    st.dispatch(
        Some(gid),
        "GUILD_ROLE_UPDATE",
        &json!({"guild_id": gid.to_string(), "role": role}),
        intents::GUILDS,
        false,
    );
    st.audit(
        &sh.world,
        gid,
        owner,
        Some(rid),
        31,
        vec![json!({"key": "permissions", "old_value": old.to_string(), "new_value": bits.to_string()})],
        None,
        None,
    );
    Ok(Json(role).into_response())
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

async fn member(AxState(sh): S, Path(p): P) -> CR {
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
async fn member_leave(AxState(sh): S, Path(p): P) -> CR {
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

/// A user changes their account: `{"username"?, "global_name"?}` (`global_name` null clears
/// it) → GUILD_MEMBER_UPDATE (GUILD_MEMBERS) in every guild they share with the bot, as
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

async fn bans(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let st = sh.lock();
    let g = st
        .guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let v: Vec<Value> = g.bans.values().map(|b| json!({"user_id": b.user.id.to_string(), "reason": b.reason, "user": b.user.to_json()})).collect();
    Ok(Json(json!(v)).into_response())
}

async fn audit_log(AxState(sh): S, Path(p): P) -> CR {
    let gid = id(&p, "guild")?;
    let st = sh.lock();
    st.guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    Ok(Json(json!(st.audit.get(&gid).cloned().unwrap_or_default())).into_response())
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

/// Characters percent-encoded in an attachment's URL (all but RFC 3986's unreserved ones).
const URL_NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
            let name = percent_encoding::utf8_percent_encode(filename, URL_NAME);
            let mut att = json!({
                "id": id.to_string(),
                "filename": filename,
                "size": size,
                "url": format!("https://cdn.discordapp.com/attachments/{cid}/{id}/{name}"),
                "proxy_url": format!("https://media.discordapp.net/attachments/{cid}/{id}/{name}"),
            });
            if let Some(t) = content_type {
                att["content_type"] = json!(t);
            }
            Ok(att)
        })
        .collect()
}

/// A user posts: `{"author_id", "content"?, "embeds"?, "created_at_ms"?, "attachments"?}`.
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
    let mut mid = snowflake_at_unique(at);
    while st.has_message(cid, mid) {
        mid = snowflake_at_unique(at);
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
    let mut ev = json!({"id": mid.to_string(), "channel_id": cid.to_string()});
    if let Some(g) = guild {
        ev["guild_id"] = json!(g.to_string());
    }
    let intent = if guild.is_some() {
        intents::GUILD_MESSAGES
    } else {
        intents::DIRECT_MESSAGES
    };
    st.dispatch(guild, "MESSAGE_DELETE", &ev, intent, false);
    Ok(StatusCode::NO_CONTENT.into_response())
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

async fn presences(AxState(sh): S) -> Json<Value> {
    Json(json!(sh.lock().presences))
}

/// One gateway session as shown by the stats.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// Session id.
    pub session_id: String,
    /// `[shard_id, shard_total]`.
    pub shard: [u32; 2],
    /// Whether a connection is attached.
    pub connected: bool,
    /// Last sequence number.
    pub seq: u64,
    /// Intents.
    pub intents: u64,
    /// Milliseconds since the client's last heartbeat on this session (`None` before the
    /// first).
    pub heartbeat_age_ms: Option<u64>,
}

/// Everything `GET /_sim/stats` reports.
#[derive(Debug, Clone, Serialize)]
pub struct StatsSnapshot {
    /// Counters.
    #[serde(flatten)]
    pub stats: crate::state::Stats,
    /// WebSocket connections open now (identified or not).
    pub open_connections: usize,
    /// Sessions.
    pub sessions: Vec<SessionInfo>,
    /// Shards with a connected, ready session.
    pub ready_shards: Vec<[u32; 2]>,
    /// `session_start_limit.remaining`.
    pub session_start_remaining: u32,
    /// Distinct guilds delivered by GUILD_CREATE.
    pub guilds_delivered: u64,
    /// Guilds delivered more than once.
    pub guilds_delivered_more_than_once: u64,
    /// Guilds held in memory because something touched them.
    pub guilds_materialized: usize,
}

pub(crate) fn snapshot(sh: &Shared, st: &mut State) -> StatsSnapshot {
    let mut sessions: Vec<SessionInfo> = st
        .sessions
        .values()
        .map(|s| SessionInfo {
            session_id: s.id.clone(),
            shard: s.shard,
            connected: s.conn.is_some(),
            seq: s.seq,
            intents: s.intents,
            heartbeat_age_ms: s.last_heartbeat.map(|t| t.elapsed().as_millis() as u64),
        })
        .collect();
    sessions.sort_by_key(|s| s.shard);
    let mut ready: Vec<[u32; 2]> = sessions
        .iter()
        .filter(|s| s.connected)
        .map(|s| s.shard)
        .collect();
    ready.dedup();
    StatsSnapshot {
        stats: st.stats.clone(),
        open_connections: sh.open_connections.load(Ordering::Relaxed),
        sessions,
        ready_shards: ready,
        session_start_remaining: sh.session_starts_remaining(st),
        guilds_delivered: st.guild_deliveries.len() as u64,
        guilds_delivered_more_than_once: st.guild_deliveries.values().filter(|n| **n > 1).count()
            as u64,
        guilds_materialized: st.guilds.len(),
    }
}

/// `POST /_sim/application {"privileged_intents": bool}`: switches the application's
/// privileged intents in the Developer Portal. Sessions already connected keep running; the
/// next IDENTIFY asking for them is closed with 4014, and `GET /applications/@me` shows the
/// flags.
async fn application_settings(AxState(sh): S, body: Bytes) -> CR {
    let b = parse_body(&body)?;
    let on = b
        .get("privileged_intents")
        .and_then(Value::as_bool)
        .ok_or_else(|| bad("privileged_intents (a bool) is required"))?;
    sh.lock().privileged_intents = Some(on);
    Ok(Json(json!({"privileged_intents": on})).into_response())
}

async fn stats(AxState(sh): S) -> Json<StatsSnapshot> {
    let mut st = sh.lock();
    Json(snapshot(&sh, &mut st))
}

async fn list_faults(AxState(sh): S) -> Json<Value> {
    Json(json!({"routes": sh.lock().faults, "gateway_paused": *sh.paused.borrow()}))
}

async fn clear_faults(AxState(sh): S) -> Json<Value> {
    crate::gwfaults::clear(&sh);
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
            return match crate::gwfaults::apply(&sh, other, &b, shard) {
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

/// A guild's admins set who may use the application's commands (Server Settings →
/// Integrations; Discord's `PUT .../commands/{id}/permissions`, which needs the admin's own
/// token): `{"permissions": [{"id", "type": 1 role | 2 user, "permission": bool}]}`, for one
/// command by name, or for all of them. Such an overwrite replaces
/// `default_member_permissions` for the users it names; `@everyone` is the guild id.
async fn command_permissions(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let b = parse_body(&body)?;
    let list = b
        .get("permissions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("permissions must be an array"))?;
    let mut out = Vec::new();
    for e in list {
        let target = val_id(e.get("id")).ok_or_else(|| bad("each permission needs an id"))?;
        let kind = e.get("type").and_then(Value::as_u64).unwrap_or(0);
        if kind != 1 && kind != 2 {
            return Err(bad("type must be 1 (role) or 2 (user)"));
        }
        let allowed = e
            .get("permission")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("permission must be a boolean"))?;
        out.push((target, kind as u8, allowed));
    }
    let mut st = sh.lock();
    st.guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    let n = out.len();
    st.command_overwrites
        .insert((gid, p.get("command").cloned()), out);
    Ok(Json(json!({"permissions": n})).into_response())
}

/// Who acts in a moderator route and why: `moderator_id` (a member of the guild other than
/// the simulated bot, a person or another bot, holding `needed`) and the optional `reason`.
fn moderator(
    sh: &Shared,
    st: &State,
    gid: u64,
    b: &Value,
    needed: u64,
    name: &str,
) -> Result<(u64, Option<String>), Ctl> {
    let m = val_id(b.get("moderator_id")).ok_or_else(|| bad("moderator_id is required"))?;
    if m == sh.world.bot.id {
        return Err(bad(
            "the bot acts through the REST API, not as moderator_id",
        ));
    }
    let g = st
        .guild(&sh.world, gid)
        .ok_or_else(|| not_found("unknown guild"))?;
    if !g.members.contains_key(&m) {
        return Err(bad("the moderator is not a member of the guild"));
    }
    if g.base_permissions(m) & needed == 0 {
        return Err(bad(format!("the moderator lacks {name}")));
    }
    let reason = match b.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.clone()),
        Some(_) => return Err(bad("reason must be a string")),
    };
    Ok((m, reason))
}

/// Refuses when `target` is a member the moderator does not outrank (or the moderator).
fn outranks(sh: &Shared, st: &State, gid: u64, m: u64, target: u64) -> Result<(), Ctl> {
    let g = st.guild(&sh.world, gid).expect("checked");
    if g.members.contains_key(&target) && (target == m || !g.outranks(m, target)) {
        return Err(bad(
            "the moderator's highest role is not above the target's (or the target is the owner)",
        ));
    }
    Ok(())
}

fn refused(e: &crate::error::ApiError) -> Ctl {
    bad(format!("Discord refused: {e:?}"))
}

/// A moderator bans a user in Discord's client (or another bot does): GUILD_MEMBER_REMOVE,
/// GUILD_BAN_ADD, audit entry 22 naming the moderator. Body `{"moderator_id", "reason"?,
/// "delete_message_seconds"?}`; 204.
async fn moderator_ban(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let uid = id(&p, "user")?;
    let b = parse_body(&body)?;
    let delete = b
        .get("delete_message_seconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if delete > 604_800 {
        return Err(bad("delete_message_seconds is at most 604800"));
    }
    let mut st = sh.lock();
    let (m, why) = moderator(
        &sh,
        &st,
        gid,
        &b,
        crate::world::perms::BAN_MEMBERS,
        "BAN_MEMBERS",
    )?;
    outranks(&sh, &st, gid, m, uid)?;
    crate::moderation::ban(&sh.world, &mut st, gid, m, uid, why.as_deref(), delete)
        .map_err(|e| refused(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A moderator lifts a ban: GUILD_BAN_REMOVE, audit entry 23. Body `{"moderator_id",
/// "reason"?}`; 204, or 404 when the user is not banned.
async fn moderator_unban(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let uid = id(&p, "user")?;
    let b = parse_body(&body)?;
    let mut st = sh.lock();
    let (m, why) = moderator(
        &sh,
        &st,
        gid,
        &b,
        crate::world::perms::BAN_MEMBERS,
        "BAN_MEMBERS",
    )?;
    if !st
        .guild(&sh.world, gid)
        .expect("checked")
        .bans
        .contains_key(&uid)
    {
        return Err(not_found("the user is not banned"));
    }
    crate::moderation::unban(&sh.world, &mut st, gid, m, uid, why.as_deref())
        .map_err(|e| refused(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A moderator kicks a member: GUILD_MEMBER_REMOVE, audit entry 20. Body `{"moderator_id",
/// "reason"?}`; 204.
async fn moderator_kick(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let uid = id(&p, "user")?;
    let b = parse_body(&body)?;
    let mut st = sh.lock();
    let (m, why) = moderator(
        &sh,
        &st,
        gid,
        &b,
        crate::world::perms::KICK_MEMBERS,
        "KICK_MEMBERS",
    )?;
    if !st
        .guild(&sh.world, gid)
        .expect("checked")
        .members
        .contains_key(&uid)
    {
        return Err(not_found("not a member"));
    }
    outranks(&sh, &st, gid, m, uid)?;
    crate::moderation::kick(&sh.world, &mut st, gid, m, uid, why.as_deref())
        .map_err(|e| refused(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A moderator times a member out, or lifts the timeout (`null`): GUILD_MEMBER_UPDATE, audit
/// entry 24 with the `communication_disabled_until` change (none when nothing changes).
/// Body `{"moderator_id", "communication_disabled_until": RFC 3339 | null, "reason"?}`; at
/// most 28 days ahead; administrators cannot be timed out. Answers the member.
async fn moderator_timeout(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    let gid = id(&p, "guild")?;
    let uid = id(&p, "user")?;
    let b = parse_body(&body)?;
    let until = match b.get("communication_disabled_until") {
        None => {
            return Err(bad(
                "communication_disabled_until (RFC 3339 or null) is required",
            ));
        }
        Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(parse_iso(s).ok_or_else(|| bad("communication_disabled_until must be RFC 3339"))?)
        }
        Some(_) => return Err(bad("communication_disabled_until must be RFC 3339 or null")),
    };
    if until.is_some_and(|t| t > now_ms() + 28 * 86_400_000) {
        return Err(bad("timeouts cannot exceed 28 days"));
    }
    let until = until.filter(|t| *t > now_ms());
    let mut st = sh.lock();
    let (m, why) = moderator(
        &sh,
        &st,
        gid,
        &b,
        crate::world::perms::MODERATE_MEMBERS,
        "MODERATE_MEMBERS",
    )?;
    let g = st.guild(&sh.world, gid).expect("checked");
    let member = g
        .members
        .get(&uid)
        .ok_or_else(|| not_found("not a member"))?
        .clone();
    if g.base_permissions(uid) & crate::world::perms::ADMINISTRATOR != 0 {
        return Err(bad("administrators cannot be timed out"));
    }
    drop(g);
    outranks(&sh, &st, gid, m, uid)?;
    let changes: Vec<Value> =
        crate::moderation::timeout_change(member.communication_disabled_until, until)
            .into_iter()
            .collect();
    let new = Member {
        communication_disabled_until: until,
        ..member
    };
    let mut ev =
        crate::moderation::update_member(&sh.world, &mut st, gid, m, new, changes, why.as_deref());
    ev.as_object_mut().map(|o| o.remove("guild_id"));
    Ok(Json(ev).into_response())
}
