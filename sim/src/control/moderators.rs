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
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
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
