//! The Discord REST API under `/api/v10`.

use crate::error::{ApiError, e};
use crate::state::{Shared, State, intents, member_partial, message_json};
use crate::util::{iso, next_snowflake, now_ms, parse_iso, snowflake_ms};
use crate::world::{Channel, Guild, channel_type, perms};
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

type S = AxState<Arc<Shared>>;
type P = Path<HashMap<String, String>>;
type Q = Query<HashMap<String, String>>;
/// Handler result.
pub(crate) type R = Result<Response, ApiError>;

/// Routes of `/api/v10` (the middleware is added by the caller).
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/gateway", get(gateway))
        .route("/gateway/bot", get(gateway_bot))
        .route("/users/@me", get(me))
        .route("/users/@me/channels", post(create_dm))
        .route("/users/{user}", get(get_user))
        .route("/applications/@me", get(application))
        .route("/oauth2/applications/@me", get(application))
        .route(
            "/applications/{app}/commands",
            get(list_global_commands)
                .put(put_global_commands)
                .post(create_command),
        )
        .route(
            "/applications/{app}/commands/{command}",
            get(get_command).patch(edit_command).delete(delete_command),
        )
        .route(
            "/applications/{app}/guilds/{guild}/commands",
            get(list_guild_commands)
                .put(put_guild_commands)
                .post(create_command),
        )
        .route(
            "/applications/{app}/guilds/{guild}/commands/{command}",
            get(get_command).patch(edit_command).delete(delete_command),
        )
        .route(
            "/interactions/{interaction}/{token}/callback",
            post(crate::interactions::callback),
        )
        .route(
            "/webhooks/{app}/{token}",
            post(crate::interactions::followup),
        )
        .route(
            "/webhooks/{app}/{token}/messages/{message}",
            get(crate::interactions::get_webhook_message)
                .patch(crate::interactions::edit_webhook_message)
                .delete(crate::interactions::delete_webhook_message),
        )
        .route("/channels/{channel}", get(get_channel))
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
        .route("/guilds/{guild}", get(get_guild))
        .route("/guilds/{guild}/roles", get(get_roles))
        .route("/guilds/{guild}/channels", get(get_channels))
        .route("/guilds/{guild}/members", get(list_members))
        .route(
            "/guilds/{guild}/members/{user}",
            get(get_member).patch(modify_member).delete(kick),
        )
        .route(
            "/guilds/{guild}/members/{user}/roles/{role}",
            put(add_role).delete(remove_role),
        )
        .route("/guilds/{guild}/bans", get(list_bans))
        .route(
            "/guilds/{guild}/bans/{user}",
            get(get_ban).put(ban).delete(unban),
        )
        .route("/guilds/{guild}/bulk-ban", post(bulk_ban))
        .route("/guilds/{guild}/audit-logs", get(audit_logs))
}

/// A snowflake path or query parameter.
pub(crate) fn snow(p: &HashMap<String, String>, key: &str) -> Result<u64, ApiError> {
    let raw = p.get(key).map(String::as_str).unwrap_or("");
    raw.parse::<u64>().map_err(|_| {
        ApiError::form(
            &format!("{key}_id"),
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{raw}\" is not snowflake."),
        )
    })
}

/// Parses a JSON body (empty = `{}`).
pub(crate) fn body_json(b: &Bytes) -> Result<Value, ApiError> {
    if b.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(b).map_err(|_| e::invalid_json())
}

/// The `X-Audit-Log-Reason` header, URL-decoded, at most 512 characters.
pub(crate) fn reason(h: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = h.get("x-audit-log-reason") else {
        return Ok(None);
    };
    let raw = raw.to_str().map_err(|_| {
        ApiError::form(
            "reason",
            "BASE_TYPE_BAD_STRING",
            "Could not interpret the reason header.",
        )
    })?;
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| {
            ApiError::form(
                "reason",
                "BASE_TYPE_BAD_STRING",
                "Could not interpret the reason header.",
            )
        })?
        .into_owned();
    if decoded.chars().count() > 512 {
        return Err(ApiError::form(
            "reason",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 512 or fewer in length.",
        ));
    }
    Ok(Some(decoded))
}

pub(crate) fn ok(v: Value) -> R {
    Ok(Json(v).into_response())
}

pub(crate) fn no_content() -> R {
    Ok(StatusCode::NO_CONTENT.into_response())
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

async fn application(AxState(sh): S) -> R {
    let w = &sh.world;
    ok(json!({
        "id": w.application_id.to_string(),
        "name": w.bot.username,
        "icon": null,
        "description": "A moderation bot",
        "summary": "",
        "type": null,
        "hook": true,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": format!("{:064x}", crate::util::mix(sh.cfg.seed)),
        "flags": (1u64 << 13) | (1 << 15) | (1 << 19),
        "owner": w.app_owner.to_json(),
        "team": null,
        "bot": w.bot.to_json(),
        "approximate_guild_count": w.guild_count,
        "integration_types_config": {"0": {}},
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "role_connections_verification_url": null,
        "tags": [],
        "is_monetized": false,
        "is_verified": false,
        "is_discoverable": false,
        "storefront_available": false,
        "explicit_content_filter": 0,
    }))
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
    let c = Channel {
        id: next_snowflake(),
        guild_id: None,
        name: String::new(),
        kind: channel_type::DM,
        position: 0,
        parent_id: None,
        overwrites: Vec::new(),
        recipient: Some(user),
    };
    let v = c.to_json();
    st.dm_channels.insert(c.id, c);
    ok(v)
}

// ---- application commands ----

fn check_app(sh: &Shared, p: &HashMap<String, String>) -> Result<(), ApiError> {
    let app = snow(p, "app")?;
    if app != sh.world.application_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            20012,
            "You are not authorized to perform this action on this application",
        ));
    }
    Ok(())
}

async fn list_global_commands(AxState(sh): S, Path(p): P) -> R {
    check_app(&sh, &p)?;
    ok(json!(sh.lock().commands_global))
}

async fn put_global_commands(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    check_app(&sh, &p)?;
    let b = body_json(&body)?;
    let cmds = crate::commands::validate_and_build(&sh, None, &b)?;
    let mut st = sh.lock();
    let cmds = crate::commands::assign_ids(&mut st, None, cmds);
    st.commands_global = cmds.clone();
    ok(json!(cmds))
}

async fn list_guild_commands(AxState(sh): S, Path(p): P) -> R {
    check_app(&sh, &p)?;
    let g = snow(&p, "guild")?;
    let st = sh.lock();
    st.guild(&sh.world, g).ok_or_else(e::unknown_guild)?;
    ok(json!(
        st.commands_guild.get(&g).cloned().unwrap_or_default()
    ))
}

async fn put_guild_commands(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    check_app(&sh, &p)?;
    let g = snow(&p, "guild")?;
    let b = body_json(&body)?;
    {
        let st = sh.lock();
        st.guild(&sh.world, g).ok_or_else(e::unknown_guild)?;
    }
    let cmds = crate::commands::validate_and_build(&sh, Some(g), &b)?;
    let mut st = sh.lock();
    let cmds = crate::commands::assign_ids(&mut st, Some(g), cmds);
    st.commands_guild.insert(g, cmds.clone());
    ok(json!(cmds))
}

/// The scope of a single-command route: `None` (global) or an existing guild.
fn command_scope(sh: &Shared, p: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    check_app(sh, p)?;
    if !p.contains_key("guild") {
        return Ok(None);
    }
    let g = snow(p, "guild")?;
    sh.lock().guild(&sh.world, g).ok_or_else(e::unknown_guild)?;
    Ok(Some(g))
}

/// `POST .../commands` (global or guild).
async fn create_command(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    let guild = command_scope(&sh, &p)?;
    let b = body_json(&body)?;
    let mut st = sh.lock();
    let (cmd, created) = crate::commands::create(&sh, &mut st, guild, &b)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(cmd)).into_response())
}

/// `GET .../commands/{command}` (global or guild).
async fn get_command(AxState(sh): S, Path(p): P) -> R {
    let guild = command_scope(&sh, &p)?;
    let id = snow(&p, "command")?;
    ok(crate::commands::get(&sh.lock(), guild, id)?)
}

/// `PATCH .../commands/{command}` (global or guild).
async fn edit_command(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    let guild = command_scope(&sh, &p)?;
    let id = snow(&p, "command")?;
    let b = body_json(&body)?;
    let mut st = sh.lock();
    ok(crate::commands::edit(&sh, &mut st, guild, id, &b)?)
}

/// `DELETE .../commands/{command}` (global or guild).
async fn delete_command(AxState(sh): S, Path(p): P) -> R {
    let guild = command_scope(&sh, &p)?;
    let id = snow(&p, "command")?;
    crate::commands::delete(&mut sh.lock(), guild, id)?;
    no_content()
}

// ---- channels and messages ----

/// Looks up a channel and the bot's permissions in it (ALL for DMs).
fn channel_and_perms(sh: &Shared, st: &State, cid: u64) -> Result<(Channel, u64), ApiError> {
    let c = st.channel(&sh.world, cid).ok_or_else(e::unknown_channel)?;
    let p = match c.guild_id {
        Some(g) => st
            .guild(&sh.world, g)
            .ok_or_else(e::unknown_channel)?
            .channel_permissions(sh.world.bot.id, cid),
        None => perms::ALL,
    };
    if p & perms::VIEW_CHANNEL == 0 {
        return Err(e::missing_access());
    }
    Ok((c, p))
}

async fn get_channel(AxState(sh): S, Path(p): P) -> R {
    let cid = snow(&p, "channel")?;
    let st = sh.lock();
    let (c, _) = channel_and_perms(&sh, &st, cid)?;
    ok(c.to_json())
}

/// Validates message content fields shared by messages, callbacks and webhooks.
pub(crate) fn validate_message_body(b: &Value, require_something: bool) -> Result<(), ApiError> {
    if let Some(c) = b.get("content") {
        if !c.is_null() && !c.is_string() {
            return Err(ApiError::form(
                "content",
                "BASE_TYPE_STRING",
                "Must be a string.",
            ));
        }
        if c.as_str().is_some_and(|s| s.chars().count() > 2000) {
            return Err(ApiError::form(
                "content",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2000 or fewer in length.",
            ));
        }
    }
    if let Some(em) = b.get("embeds").and_then(Value::as_array) {
        if em.len() > 10 {
            return Err(ApiError::form(
                "embeds",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 10 or fewer in length.",
            ));
        }
        for (i, emb) in em.iter().enumerate() {
            if emb
                .get("title")
                .and_then(Value::as_str)
                .is_some_and(|s| s.chars().count() > 256)
            {
                return Err(ApiError::form(
                    &format!("embeds.{i}.title"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 256 or fewer in length.",
                ));
            }
            if emb
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|s| s.chars().count() > 4096)
            {
                return Err(ApiError::form(
                    &format!("embeds.{i}.description"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 4096 or fewer in length.",
                ));
            }
            if emb
                .get("fields")
                .and_then(Value::as_array)
                .is_some_and(|f| f.len() > 25)
            {
                return Err(ApiError::form(
                    &format!("embeds.{i}.fields"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                ));
            }
        }
    }
    if require_something {
        let has_content = b
            .get("content")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        let nonempty = |k: &str| {
            b.get(k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        if !has_content
            && !nonempty("embeds")
            && !nonempty("components")
            && !nonempty("sticker_ids")
            && !nonempty("attachments")
            && b.get("poll").is_none()
        {
            return Err(e::empty_message());
        }
    }
    Ok(())
}

async fn create_message(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    let cid = snow(&p, "channel")?;
    let b = body_json(&body)?;
    let mut st = sh.lock();
    let (c, perm) = channel_and_perms(&sh, &st, cid)?;
    if !matches!(
        c.kind,
        channel_type::GUILD_TEXT | channel_type::DM | channel_type::GUILD_VOICE
    ) {
        return Err(e::non_text_channel());
    }
    if perm & perms::SEND_MESSAGES == 0 {
        return Err(e::missing_permissions());
    }
    validate_message_body(&b, true)?;
    if let Some(r) = &c.recipient
        && (r.bot || st.users_dms_closed(r.id))
    {
        return Err(e::cannot_dm());
    }
    let content = b.get("content").and_then(Value::as_str).unwrap_or("");
    let member = c.guild_id.and_then(|g| {
        st.guild(&sh.world, g)
            .and_then(|g| member_partial(&g, sh.world.bot.id))
    });
    let id = next_snowflake();
    let mut m = message_json(id, cid, c.guild_id, &sh.world.bot, None, content, &b, 0);
    if let Some(r) = b.get("message_reference") {
        m["message_reference"] = r.clone();
        m["type"] = json!(19);
    }
    st.messages.entry(cid).or_default().push(m.clone());
    let mut ev = m.clone();
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

fn find_message(st: &State, cid: u64, mid: u64) -> Option<(usize, Value)> {
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
    let limit: usize = match q.get("limit") {
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::form(
                    "limit",
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 100.",
                )
            })?,
        None => 50,
    };
    let before: Option<u64> = q.get("before").and_then(|s| s.parse().ok());
    let after: Option<u64> = q.get("after").and_then(|s| s.parse().ok());
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
    out.truncate(limit);
    ok(json!(out))
}

async fn edit_message(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    let cid = snow(&p, "channel")?;
    let mid = snow(&p, "message")?;
    let b = body_json(&body)?;
    validate_message_body(&b, false)?;
    let mut st = sh.lock();
    let (c, _) = channel_and_perms(&sh, &st, cid)?;
    let (i, mut m) = find_message(&st, cid, mid).ok_or_else(e::unknown_message)?;
    if m["author"]["id"].as_str() != Some(sh.world.bot.id.to_string().as_str()) {
        return Err(e::not_own_message());
    }
    crate::state::apply_edit(&mut m, &b);
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
    let mut ev = json!({"id": mid.to_string(), "channel_id": cid.to_string()});
    if let Some(g) = c.guild_id {
        ev["guild_id"] = json!(g.to_string());
    }
    let intent = if c.guild_id.is_some() {
        intents::GUILD_MESSAGES
    } else {
        intents::DIRECT_MESSAGES
    };
    st.dispatch(c.guild_id, "MESSAGE_DELETE", &ev, intent, false);
    if !own && let Some(g) = c.guild_id {
        st.audit(
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
    let ids: Vec<u64> = b
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::form("messages", "BASE_TYPE_REQUIRED", "This field is required"))?
        .iter()
        .filter_map(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64())
        })
        .collect();
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

// ---- guilds ----

fn guild<'a>(
    sh: &Shared,
    st: &'a State,
    p: &HashMap<String, String>,
) -> Result<std::borrow::Cow<'a, Guild>, ApiError> {
    let gid = snow(p, "guild")?;
    st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)
}

async fn get_guild(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    let mut v = g.to_json();
    if q.get("with_counts").is_some_and(|s| s == "true") {
        v["approximate_member_count"] = json!(g.members.len());
        v["approximate_presence_count"] = json!(0);
    }
    ok(v)
}

async fn get_roles(AxState(sh): S, Path(p): P) -> R {
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    ok(json!(
        g.roles
            .iter()
            .map(crate::world::Role::to_json)
            .collect::<Vec<_>>()
    ))
}

async fn get_channels(AxState(sh): S, Path(p): P) -> R {
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    ok(json!(
        g.channels.iter().map(Channel::to_json).collect::<Vec<_>>()
    ))
}

async fn list_members(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let limit: usize = match q.get("limit") {
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::form(
                    "limit",
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 1000.",
                )
            })?,
        None => 1,
    };
    let after: u64 = q.get("after").and_then(|s| s.parse().ok()).unwrap_or(0);
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    ok(json!(
        g.members
            .range(after + 1..)
            .take(limit)
            .map(|(_, m)| m.to_json())
            .collect::<Vec<_>>()
    ))
}

async fn get_member(AxState(sh): S, Path(p): P) -> R {
    let uid = snow(&p, "user")?;
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    ok(g.members.get(&uid).ok_or_else(e::unknown_member)?.to_json())
}

fn member_event(g: &Guild, uid: u64) -> Value {
    let mut v = g
        .members
        .get(&uid)
        .map(crate::world::Member::to_json)
        .unwrap_or(json!({}));
    v["guild_id"] = json!(g.id.to_string());
    v
}

/// 28 days in ms: the longest timeout.
const MAX_TIMEOUT_MS: u64 = 28 * 86_400_000;

async fn modify_member(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let gid = snow(&p, "guild")?;
    let uid = snow(&p, "user")?;
    let why = reason(&h)?;
    let b = body_json(&body)?;
    let bot = sh.world.bot.id;
    let mut st = sh.lock();
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)?;
    let member = g.members.get(&uid).ok_or_else(e::unknown_member)?.clone();
    let actor_perms = g.base_permissions(bot);
    let actor_top = g.highest_position(bot);
    let mut changes_update = Vec::new();
    let mut new_member = member.clone();
    let mut role_add = Vec::new();
    let mut role_remove = Vec::new();
    if let Some(v) = b.get("communication_disabled_until") {
        let until = match v {
            Value::Null => None,
            Value::String(s) => Some(parse_iso(s).ok_or_else(|| {
                ApiError::form(
                    "communication_disabled_until",
                    "DATE_TYPE_PARSE",
                    &format!("Could not parse {s}. Should be ISO8601."),
                )
            })?),
            _ => {
                return Err(ApiError::form(
                    "communication_disabled_until",
                    "DATE_TYPE_PARSE",
                    "Should be ISO8601.",
                ));
            }
        };
        if let Some(t) = until
            && t > now_ms() + MAX_TIMEOUT_MS
        {
            return Err(ApiError::form(
                "communication_disabled_until",
                "COMMUNICATION_DISABLED_UNTIL_TOO_LONG",
                "Timeouts cannot exceed 28 days.",
            ));
        }
        if actor_perms & perms::MODERATE_MEMBERS == 0
            || !g.outranks(bot, uid)
            || g.base_permissions(uid) & perms::ADMINISTRATOR != 0
        {
            return Err(e::missing_permissions());
        }
        let until = until.filter(|t| *t > now_ms());
        changes_update.push(json!({"key": "communication_disabled_until", "old_value": member.communication_disabled_until.map(iso), "new_value": until.map(iso)}));
        new_member.communication_disabled_until = until;
    }
    if let Some(v) = b.get("nick") {
        let nick = match v {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) if s.chars().count() > 32 => {
                return Err(ApiError::form(
                    "nick",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 32 or fewer in length.",
                ));
            }
            Value::String(s) => Some(s.clone()),
            _ => {
                return Err(ApiError::form(
                    "nick",
                    "BASE_TYPE_STRING",
                    "Must be a string.",
                ));
            }
        };
        let allowed = if uid == bot {
            actor_perms & (perms::CHANGE_NICKNAME | perms::MANAGE_NICKNAMES) != 0
        } else {
            actor_perms & perms::MANAGE_NICKNAMES != 0 && g.outranks(bot, uid)
        };
        if !allowed {
            return Err(e::missing_permissions());
        }
        changes_update.push(json!({"key": "nick", "old_value": member.nick, "new_value": nick}));
        new_member.nick = nick;
    }
    if let Some(v) = b.get("roles") {
        let ids: Vec<u64> = v
            .as_array()
            .ok_or_else(|| ApiError::form("roles", "BASE_TYPE_ARRAY", "Must be an array."))?
            .iter()
            .map(|r| {
                r.as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| r.as_u64())
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| {
                ApiError::form("roles", "NUMBER_TYPE_COERCE", "Value is not snowflake.")
            })?;
        if actor_perms & perms::MANAGE_ROLES == 0 {
            return Err(e::missing_permissions());
        }
        for r in &ids {
            g.role(*r).ok_or_else(e::unknown_role)?;
        }
        let before: std::collections::BTreeSet<u64> = member.roles.iter().copied().collect();
        let after: std::collections::BTreeSet<u64> =
            ids.iter().copied().filter(|r| *r != gid).collect();
        for r in after.symmetric_difference(&before) {
            let role = g.role(*r).ok_or_else(e::unknown_role)?;
            if role.managed || (bot != g.owner_id && role.position >= actor_top) {
                return Err(e::missing_permissions());
            }
            if after.contains(r) {
                role_add.push(json!({"id": r.to_string(), "name": role.name}));
            } else {
                role_remove.push(json!({"id": r.to_string(), "name": role.name}));
            }
        }
        new_member.roles = after.into_iter().collect();
    }
    drop(g);
    let guild = st.guild_mut(&sh.world, gid).expect("exists");
    guild.members.insert(uid, new_member);
    let ev = member_event(guild, uid);
    st.dispatch(
        Some(gid),
        "GUILD_MEMBER_UPDATE",
        &ev,
        intents::GUILD_MEMBERS,
        false,
    );
    if !changes_update.is_empty() {
        st.audit(
            gid,
            bot,
            Some(uid),
            24,
            changes_update,
            why.as_deref(),
            None,
        );
    }
    if !role_add.is_empty() || !role_remove.is_empty() {
        let mut ch = Vec::new();
        if !role_add.is_empty() {
            ch.push(json!({"key": "$add", "new_value": role_add}));
        }
        if !role_remove.is_empty() {
            ch.push(json!({"key": "$remove", "new_value": role_remove}));
        }
        st.audit(gid, bot, Some(uid), 25, ch, why.as_deref(), None);
    }
    let mut out = ev;
    out.as_object_mut().map(|o| o.remove("guild_id"));
    ok(out)
}

async fn role_change(sh: Arc<Shared>, p: HashMap<String, String>, h: HeaderMap, add: bool) -> R {
    let gid = snow(&p, "guild")?;
    let uid = snow(&p, "user")?;
    let rid = snow(&p, "role")?;
    let why = reason(&h)?;
    let bot = sh.world.bot.id;
    let mut st = sh.lock();
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)?;
    let member = g.members.get(&uid).ok_or_else(e::unknown_member)?.clone();
    let role = g.role(rid).ok_or_else(e::unknown_role)?.clone();
    if g.base_permissions(bot) & perms::MANAGE_ROLES == 0
        || role.managed
        || (bot != g.owner_id && role.position >= g.highest_position(bot))
    {
        return Err(e::missing_permissions());
    }
    drop(g);
    let has = member.roles.contains(&rid);
    if has == add {
        return no_content();
    }
    let guild = st.guild_mut(&sh.world, gid).expect("exists");
    let m = guild.members.get_mut(&uid).expect("exists");
    if add {
        m.roles.push(rid);
    } else {
        m.roles.retain(|r| *r != rid);
    }
    let ev = member_event(guild, uid);
    st.dispatch(
        Some(gid),
        "GUILD_MEMBER_UPDATE",
        &ev,
        intents::GUILD_MEMBERS,
        false,
    );
    let key = if add { "$add" } else { "$remove" };
    st.audit(
        gid,
        bot,
        Some(uid),
        25,
        vec![json!({"key": key, "new_value": [{"id": rid.to_string(), "name": role.name}]})],
        why.as_deref(),
        None,
    );
    no_content()
}

async fn add_role(AxState(sh): S, Path(p): P, h: HeaderMap) -> R {
    role_change(sh, p, h, true).await
}

async fn remove_role(AxState(sh): S, Path(p): P, h: HeaderMap) -> R {
    role_change(sh, p, h, false).await
}

async fn kick(AxState(sh): S, Path(p): P, h: HeaderMap) -> R {
    let gid = snow(&p, "guild")?;
    let uid = snow(&p, "user")?;
    let why = reason(&h)?;
    let bot = sh.world.bot.id;
    let mut st = sh.lock();
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)?;
    let member = g.members.get(&uid).ok_or_else(e::unknown_member)?.clone();
    if g.base_permissions(bot) & perms::KICK_MEMBERS == 0 || (uid != bot && !g.outranks(bot, uid)) {
        return Err(e::missing_permissions());
    }
    drop(g);
    st.guild_mut(&sh.world, gid)
        .expect("exists")
        .members
        .remove(&uid);
    let ev = json!({"guild_id": gid.to_string(), "user": member.user.to_json()});
    st.dispatch(
        Some(gid),
        "GUILD_MEMBER_REMOVE",
        &ev,
        intents::GUILD_MEMBERS,
        false,
    );
    st.audit(gid, bot, Some(uid), 20, vec![], why.as_deref(), None);
    no_content()
}

/// `delete_message_seconds` (or the deprecated `delete_message_days`) of a ban body.
fn delete_message_seconds(b: &Value) -> Result<u64, ApiError> {
    match (
        b.get("delete_message_seconds"),
        b.get("delete_message_days"),
    ) {
        (Some(v), _) if !v.is_null() => {
            let n = v.as_u64().ok_or_else(|| {
                ApiError::form(
                    "delete_message_seconds",
                    "NUMBER_TYPE_COERCE",
                    "Value is not int.",
                )
            })?;
            if n > 604_800 {
                return Err(ApiError::form(
                    "delete_message_seconds",
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 604800.",
                ));
            }
            Ok(n)
        }
        (_, Some(v)) if !v.is_null() => {
            let n = v.as_u64().ok_or_else(|| {
                ApiError::form(
                    "delete_message_days",
                    "NUMBER_TYPE_COERCE",
                    "Value is not int.",
                )
            })?;
            if n > 7 {
                return Err(ApiError::form(
                    "delete_message_days",
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 7.",
                ));
            }
            Ok(n * 86_400)
        }
        _ => Ok(0),
    }
}

async fn ban(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let gid = snow(&p, "guild")?;
    let uid = snow(&p, "user")?;
    let why = reason(&h)?;
    let delete_secs = delete_message_seconds(&body_json(&body)?)?;
    let bot = sh.world.bot.id;
    let mut st = sh.lock();
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)?;
    if g.base_permissions(bot) & perms::BAN_MEMBERS == 0 {
        return Err(e::missing_permissions());
    }
    drop(g);
    apply_ban(&sh, &mut st, gid, uid, why.as_deref(), delete_secs)?;
    no_content()
}

/// Bans `uid` from `gid` as the bot (whose BAN_MEMBERS the caller checked): hierarchy,
/// GUILD_MEMBER_REMOVE, GUILD_BAN_ADD, deletion of the user's recent messages, audit entry.
fn apply_ban(
    sh: &Shared,
    st: &mut State,
    gid: u64,
    uid: u64,
    why: Option<&str>,
    delete_secs: u64,
) -> Result<(), ApiError> {
    let bot = sh.world.bot.id;
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)?;
    let was_member = g.members.contains_key(&uid);
    if was_member && (uid == bot || !g.outranks(bot, uid)) {
        return Err(e::missing_permissions());
    }
    let channels: Vec<u64> = g.channels.iter().map(|c| c.id).collect();
    drop(g);
    let user = st.user(&sh.world, uid).ok_or_else(e::unknown_user)?;
    {
        let guild = st.guild_mut(&sh.world, gid).expect("exists");
        guild.members.remove(&uid);
        guild.bans.insert(
            uid,
            crate::world::Ban {
                user: user.clone(),
                reason: why.map(str::to_owned),
            },
        );
    }
    if was_member {
        let ev = json!({"guild_id": gid.to_string(), "user": user.to_json()});
        st.dispatch(
            Some(gid),
            "GUILD_MEMBER_REMOVE",
            &ev,
            intents::GUILD_MEMBERS,
            false,
        );
    }
    let ev = json!({"guild_id": gid.to_string(), "user": user.to_json()});
    st.dispatch(
        Some(gid),
        "GUILD_BAN_ADD",
        &ev,
        intents::GUILD_MODERATION,
        false,
    );
    if delete_secs > 0 {
        let cutoff = now_ms().saturating_sub(delete_secs * 1000);
        let uid_s = uid.to_string();
        for cid in channels {
            let mut removed = Vec::new();
            if let Some(v) = st.messages.get_mut(&cid) {
                v.retain(|m| {
                    let mine = m["author"]["id"].as_str() == Some(uid_s.as_str());
                    let id: u64 = m["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
                    let hit = mine && snowflake_ms(id) >= cutoff;
                    if hit {
                        removed.push(id.to_string());
                    }
                    !hit
                });
            }
            if !removed.is_empty() {
                let ev = json!({"ids": removed, "channel_id": cid.to_string(), "guild_id": gid.to_string()});
                st.dispatch(
                    Some(gid),
                    "MESSAGE_DELETE_BULK",
                    &ev,
                    intents::GUILD_MESSAGES,
                    false,
                );
            }
        }
    }
    st.audit(gid, bot, Some(uid), 22, vec![], why, None);
    Ok(())
}

/// Most users one bulk ban may name.
const BULK_BAN_MAX: usize = 200;

/// `POST /guilds/{guild}/bulk-ban`: needs BAN_MEMBERS and MANAGE_GUILD; the bot itself is
/// left out of both lists; users already banned, unknown or not below the bot fail; when
/// users were named and none could be banned, 500000.
async fn bulk_ban(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let gid = snow(&p, "guild")?;
    let why = reason(&h)?;
    let b = body_json(&body)?;
    let Some(ids) = b.get("user_ids").filter(|v| !v.is_null()) else {
        return Err(ApiError::form(
            "user_ids",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ));
    };
    let ids = ids
        .as_array()
        .ok_or_else(|| ApiError::form("user_ids", "BASE_TYPE_ARRAY", "Must be an array."))?;
    if ids.len() > BULK_BAN_MAX {
        return Err(ApiError::form(
            "user_ids",
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {BULK_BAN_MAX} or fewer in length."),
        ));
    }
    let mut users = Vec::with_capacity(ids.len());
    for (i, v) in ids.iter().enumerate() {
        let id = match v {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::form(
                &format!("user_ids.{i}"),
                "NUMBER_TYPE_COERCE",
                &format!(
                    "Value \"{}\" is not snowflake.",
                    v.as_str().unwrap_or(&v.to_string())
                ),
            )
        })?;
        if users.contains(&id) {
            return Err(ApiError::form(
                &format!("user_ids.{i}"),
                "BASE_TYPE_DUPLICATE",
                "Duplicate values are not allowed.",
            ));
        }
        users.push(id);
    }
    let delete_secs = delete_message_seconds(&b)?;
    let bot = sh.world.bot.id;
    let mut st = sh.lock();
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)?;
    let needed = perms::BAN_MEMBERS | perms::MANAGE_GUILD;
    if g.base_permissions(bot) & needed != needed {
        return Err(e::missing_permissions());
    }
    let already: Vec<u64> = users
        .iter()
        .copied()
        .filter(|u| g.bans.contains_key(u))
        .collect();
    drop(g);
    users.retain(|&u| u != bot);
    let (mut banned, mut failed) = (Vec::new(), Vec::new());
    for uid in &users {
        if already.contains(uid) {
            failed.push(uid.to_string());
        } else if apply_ban(&sh, &mut st, gid, *uid, why.as_deref(), delete_secs).is_ok() {
            banned.push(uid.to_string());
        } else {
            failed.push(uid.to_string());
        }
    }
    if !users.is_empty() && banned.is_empty() {
        return Err(e::failed_to_ban_users());
    }
    ok(json!({"banned_users": banned, "failed_users": failed}))
}

async fn unban(AxState(sh): S, Path(p): P, h: HeaderMap) -> R {
    let gid = snow(&p, "guild")?;
    let uid = snow(&p, "user")?;
    let why = reason(&h)?;
    let bot = sh.world.bot.id;
    let mut st = sh.lock();
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)?;
    if g.base_permissions(bot) & perms::BAN_MEMBERS == 0 {
        return Err(e::missing_permissions());
    }
    let b = g.bans.get(&uid).ok_or_else(e::unknown_ban)?.clone();
    drop(g);
    st.guild_mut(&sh.world, gid)
        .expect("exists")
        .bans
        .remove(&uid);
    let ev = json!({"guild_id": gid.to_string(), "user": b.user.to_json()});
    st.dispatch(
        Some(gid),
        "GUILD_BAN_REMOVE",
        &ev,
        intents::GUILD_MODERATION,
        false,
    );
    st.audit(gid, bot, Some(uid), 23, vec![], why.as_deref(), None);
    no_content()
}

fn ban_json(b: &crate::world::Ban) -> Value {
    json!({"reason": b.reason, "user": b.user.to_json()})
}

async fn list_bans(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let limit: usize = match q.get("limit") {
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::form(
                    "limit",
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 1000.",
                )
            })?,
        None => 1000,
    };
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    if g.base_permissions(sh.world.bot.id) & perms::BAN_MEMBERS == 0 {
        return Err(e::missing_permissions());
    }
    let out: Vec<Value> = if let Some(before) = q.get("before").and_then(|s| s.parse::<u64>().ok())
    {
        let mut v: Vec<Value> = g
            .bans
            .range(..before)
            .rev()
            .take(limit)
            .map(|(_, b)| ban_json(b))
            .collect();
        v.reverse();
        v
    } else {
        let after: u64 = q.get("after").and_then(|s| s.parse().ok()).unwrap_or(0);
        g.bans
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(_, b)| ban_json(b))
            .collect()
    };
    ok(json!(out))
}

async fn get_ban(AxState(sh): S, Path(p): P) -> R {
    let uid = snow(&p, "user")?;
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    if g.base_permissions(sh.world.bot.id) & perms::BAN_MEMBERS == 0 {
        return Err(e::missing_permissions());
    }
    ok(ban_json(g.bans.get(&uid).ok_or_else(e::unknown_ban)?))
}

async fn audit_logs(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let gid = snow(&p, "guild")?;
    let limit: usize = q
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    if g.base_permissions(sh.world.bot.id) & perms::VIEW_AUDIT_LOG == 0 {
        return Err(e::missing_permissions());
    }
    let user_id = q.get("user_id").cloned();
    let action: Option<u64> = q.get("action_type").and_then(|s| s.parse().ok());
    let before: Option<u64> = q.get("before").and_then(|s| s.parse().ok());
    let entries: Vec<Value> = st
        .audit
        .get(&gid)
        .map(|v| {
            v.iter()
                .rev()
                .filter(|en| {
                    user_id
                        .as_ref()
                        .is_none_or(|u| en["user_id"].as_str() == Some(u))
                })
                .filter(|en| action.is_none_or(|a| en["action_type"].as_u64() == Some(a)))
                .filter(|en| {
                    before.is_none_or(|b| {
                        en["id"]
                            .as_str()
                            .and_then(|s| s.parse::<u64>().ok())
                            .is_some_and(|id| id < b)
                    })
                })
                .take(limit)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut users: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for en in &entries {
        for k in ["user_id", "target_id"] {
            if let Some(id) = en[k].as_str().and_then(|s| s.parse::<u64>().ok())
                && seen.insert(id)
                && let Some(u) = st.user(&sh.world, id)
            {
                users.push(u.to_json());
            }
        }
    }
    ok(json!({
        "audit_log_entries": entries,
        "users": users,
        "integrations": [],
        "webhooks": [],
        "guild_scheduled_events": [],
        "threads": [],
        "application_commands": [],
        "auto_moderation_rules": [],
    }))
}

/// Lag helper for faults.
pub(crate) async fn lag(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Whether a user has DMs closed.
impl State {
    pub(crate) fn users_dms_closed(&self, id: u64) -> bool {
        self.dms_closed.contains(&id)
    }
}
