//! Bans: single, bulk, listing and removal.

use crate::error::{ApiError, e};
use crate::http::{P, Q, R, S, body_json, no_content, ok, reason, snow};
use crate::state::Shared;
use crate::world::perms;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

use super::guild;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/guilds/{guild}/bans", get(list_bans))
        .route(
            "/guilds/{guild}/bans/{user}",
            get(get_ban).put(ban).delete(unban),
        )
        .route("/guilds/{guild}/bulk-ban", post(bulk_ban))
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
    crate::moderation::ban(
        &sh.world,
        &mut st,
        gid,
        bot,
        uid,
        why.as_deref(),
        delete_secs,
    )?;
    no_content()
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
        } else if crate::moderation::ban(
            &sh.world,
            &mut st,
            gid,
            bot,
            *uid,
            why.as_deref(),
            delete_secs,
        )
        .is_ok()
        {
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
    drop(g);
    crate::moderation::unban(&sh.world, &mut st, gid, bot, uid, why.as_deref())?;
    no_content()
}

fn ban_json(b: &crate::world::Ban) -> Value {
    json!({"reason": b.reason, "user": b.user.to_json()})
}

async fn list_bans(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let limit = crate::http::limit_param(&q, 1000, 1000)?;
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
