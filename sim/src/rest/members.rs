//! Guild members: listing, edits (timeouts, nicknames, roles) and kicks.

use crate::error::{ApiError, e};
use crate::http::{P, Q, R, S, body_json, no_content, ok, reason, snow};
use crate::intents;
use crate::state::{Shared, State};
use crate::util::{now_ms, parse_iso};
use crate::world::{Guild, perms};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::routing::{get, put};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

use super::guild;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/guilds/{guild}/members", get(list_members))
        .route(
            "/guilds/{guild}/members/{user}",
            get(get_member).patch(modify_member).delete(kick),
        )
        .route(
            "/guilds/{guild}/members/{user}/roles/{role}",
            put(add_role).delete(remove_role),
        )
}

async fn list_members(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let limit = crate::http::limit_param(&q, 1000, 1)?;
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

pub(crate) fn member_event(g: &Guild, uid: u64) -> Value {
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
        // Discord logs changes only: the same timeout set again (a retried request) adds no
        // audit-log entry.
        changes_update.extend(crate::moderation::timeout_change(
            member.communication_disabled_until,
            until,
        ));
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
    let ev = crate::moderation::update_member(
        &sh.world,
        &mut st,
        gid,
        bot,
        new_member,
        changes_update,
        why.as_deref(),
    );
    if !role_add.is_empty() || !role_remove.is_empty() {
        let mut ch = Vec::new();
        if !role_add.is_empty() {
            ch.push(json!({"key": "$add", "new_value": role_add}));
        }
        if !role_remove.is_empty() {
            ch.push(json!({"key": "$remove", "new_value": role_remove}));
        }
        st.audit(&sh.world, gid, bot, Some(uid), 25, ch, why.as_deref(), None);
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
    change_member_role(&sh, &mut st, gid, bot, uid, rid, add, why.as_deref())?;
    no_content()
}

/// `actor` (the bot or a person) gives `rid` to member `uid` of `gid` (`add`) or takes it
/// away, as Discord decides it: the actor needs MANAGE_ROLES and a highest role above the
/// role (unless it owns the guild); managed roles are never given or taken by hand. A change
/// sends GUILD_MEMBER_UPDATE and audit entry 25 (MEMBER_ROLE_UPDATE, `$add` / `$remove`) by
/// the actor; giving a role the member has (or taking one it lacks) changes nothing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn change_member_role(
    sh: &Shared,
    st: &mut State,
    gid: u64,
    actor: u64,
    uid: u64,
    rid: u64,
    add: bool,
    why: Option<&str>,
) -> Result<(), ApiError> {
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)?;
    let member = g.members.get(&uid).ok_or_else(e::unknown_member)?.clone();
    let role = g.role(rid).ok_or_else(e::unknown_role)?.clone();
    if g.base_permissions(actor) & perms::MANAGE_ROLES == 0
        || role.managed
        || (actor != g.owner_id && role.position >= g.highest_position(actor))
    {
        return Err(e::missing_permissions());
    }
    drop(g);
    let has = member.roles.contains(&rid);
    if has == add {
        return Ok(());
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
        &sh.world,
        gid,
        actor,
        Some(uid),
        25,
        vec![json!({"key": key, "new_value": [{"id": rid.to_string(), "name": role.name}]})],
        why,
        None,
    );
    Ok(())
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
    if !g.members.contains_key(&uid) {
        return Err(e::unknown_member());
    }
    if g.base_permissions(bot) & perms::KICK_MEMBERS == 0 || (uid != bot && !g.outranks(bot, uid)) {
        return Err(e::missing_permissions());
    }
    drop(g);
    crate::moderation::kick(&sh.world, &mut st, gid, bot, uid, why.as_deref())?;
    no_content()
}
