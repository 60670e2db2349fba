//! Control routes of moderators other than the bot (people, or other bots): bans, unbans,
//! kicks and timeouts, and the guild's ban list.

use super::{CR, Ctl, P, S, bad, id, not_found, parse_body, val_id};
use crate::state::{Shared, State};
use crate::util::{now_ms, parse_iso};
use crate::world::Member;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Routes of bans and kicks (the timeout shares its path with the member routes and is
/// assembled in the parent module).
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/guilds/{guild}/members/{user}/kick", post(moderator_kick))
        .route(
            "/guilds/{guild}/bans/{user}",
            post(moderator_ban).delete(moderator_unban),
        )
        .route("/guilds/{guild}/bans", get(bans))
        .route(
            "/guilds/{guild}/members/{user}/roles/{role}",
            put(moderator_add_role).delete(moderator_remove_role),
        )
        .route(
            "/channels/{channel}/permissions/{overwrite}",
            put(moderator_set_overwrite).delete(moderator_remove_overwrite),
        )
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
pub(super) async fn moderator_timeout(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
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

/// A moderator (or the owner) gives a member a role in Discord's client, or takes it away
/// (`PUT` / `DELETE`, body `{"moderator_id", "reason"?}`): the bot's own member included,
/// which is how a bot loses the permissions of a role. As on Discord the moderator needs
/// MANAGE_ROLES and a highest role above the role (unless they own the guild), and neither
/// `@everyone` nor a managed role (the bot's integration role) is given or taken by hand.
/// GUILD_MEMBER_UPDATE and audit entry 25 (MEMBER_ROLE_UPDATE) by the moderator; 204.
async fn moderator_role(sh: Arc<Shared>, p: HashMap<String, String>, body: Bytes, add: bool) -> CR {
    let gid = id(&p, "guild")?;
    let uid = id(&p, "user")?;
    let rid = id(&p, "role")?;
    let b = parse_body(&body)?;
    if rid == gid {
        return Err(bad(
            "@everyone is every member's role; it is not given or taken",
        ));
    }
    let mut st = sh.lock();
    let (m, why) = role_manager(&sh, &st, gid, &b)?;
    crate::rest::members::change_member_role(&sh, &mut st, gid, m, uid, rid, add, why.as_deref())
        .map_err(|e| refused(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn moderator_add_role(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    moderator_role(sh, p, body, true).await
}

async fn moderator_remove_role(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    moderator_role(sh, p, body, false).await
}

/// The guild of channel `cid`, for a moderator route on it.
fn channel_guild(sh: &Shared, st: &State, cid: u64) -> Result<u64, Ctl> {
    st.channel(&sh.world, cid)
        .and_then(|c| c.guild_id)
        .ok_or_else(|| not_found("unknown guild channel"))
}

/// A moderator (or the owner) edits a channel's permission overwrite of a role or member in
/// Discord's client (`PUT`, body `{"moderator_id", "type", "allow"?, "deny"?, "reason"?}`)
/// or removes it (`DELETE`, body `{"moderator_id", "reason"?}`), with the rules Discord
/// applies to the bot's own edits (MANAGE_ROLES in the channel; only permissions they have,
/// unless administrator or allowed MANAGE_ROLES there): CHANNEL_UPDATE and audit entry 13,
/// 14 or 15 naming the moderator; 204.
async fn moderator_set_overwrite(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    moderator_overwrite(sh, p, body, true).await
}

async fn moderator_remove_overwrite(AxState(sh): S, Path(p): P, body: Bytes) -> CR {
    moderator_overwrite(sh, p, body, false).await
}

async fn moderator_overwrite(
    sh: Arc<Shared>,
    p: HashMap<String, String>,
    body: Bytes,
    set: bool,
) -> CR {
    let cid = id(&p, "channel")?;
    let oid = id(&p, "overwrite")?;
    let b = parse_body(&body)?;
    let mut st = sh.lock();
    let gid = channel_guild(&sh, &st, cid)?;
    let (m, why) = role_manager(&sh, &st, gid, &b)?;
    let done = if set {
        crate::rest::channels::set_overwrite(&sh, &mut st, m, cid, oid, &b, why.as_deref())
    } else {
        crate::rest::channels::remove_overwrite(&sh, &mut st, m, cid, oid, why.as_deref())
    };
    done.map_err(|e| refused(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The moderator of a route that needs MANAGE_ROLES (roles and overwrites).
fn role_manager(
    sh: &Shared,
    st: &State,
    gid: u64,
    b: &Value,
) -> Result<(u64, Option<String>), Ctl> {
    moderator(
        sh,
        st,
        gid,
        b,
        crate::world::perms::MANAGE_ROLES,
        "MANAGE_ROLES",
    )
}
