//! Moderation actions on a member (ban, unban, kick, timeout) by whoever acts: the bot
//! through REST (`rest/bans.rs`, `rest/members.rs`), or a person or another bot through the
//! control API (`control/moderators.rs`). Each changes the guild and emits what Discord
//! emits, in Discord's order, with the audit-log entry naming `actor`. The caller checks the
//! actor's permissions; hierarchy is checked here where Discord checks it on the action itself.

use crate::error::{ApiError, e};
use crate::intents;
use crate::state::State;
use crate::util::{iso, now_ms, snowflake_ms};
use crate::world::{Member, World};
use serde_json::json;

/// Bans `uid` from `gid` as `actor`: hierarchy, GUILD_MEMBER_REMOVE, GUILD_BAN_ADD, deletion
/// of the user's messages of the last `delete_secs`, audit entry 22. A user already banned
/// is left as is (Discord answers 204 and changes nothing: no event, no audit entry).
pub(crate) fn ban(
    world: &World,
    st: &mut State,
    gid: u64,
    actor: u64,
    uid: u64,
    why: Option<&str>,
    delete_secs: u64,
) -> Result<(), ApiError> {
    let g = st.guild(world, gid).ok_or_else(e::unknown_guild)?;
    if g.bans.contains_key(&uid) {
        return Ok(());
    }
    let was_member = g.members.contains_key(&uid);
    if was_member && (uid == actor || !g.outranks(actor, uid)) {
        return Err(e::missing_permissions());
    }
    let channels: Vec<u64> = g.channels.iter().map(|c| c.id).collect();
    drop(g);
    let user = st.user(world, uid).ok_or_else(e::unknown_user)?;
    st.remove_member(world, gid, uid);
    st.guild_mut(world, gid).expect("exists").bans.insert(
        uid,
        crate::world::Ban {
            user: user.clone(),
            reason: why.map(str::to_owned),
        },
    );
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
    st.audit(world, gid, actor, Some(uid), 22, vec![], why, None);
    Ok(())
}

/// Lifts the ban of `uid` as `actor`: GUILD_BAN_REMOVE, audit entry 23; 10026 when there
/// is no ban.
pub(crate) fn unban(
    world: &World,
    st: &mut State,
    gid: u64,
    actor: u64,
    uid: u64,
    why: Option<&str>,
) -> Result<(), ApiError> {
    let g = st.guild(world, gid).ok_or_else(e::unknown_guild)?;
    let b = g.bans.get(&uid).ok_or_else(e::unknown_ban)?.clone();
    drop(g);
    st.guild_mut(world, gid).expect("exists").bans.remove(&uid);
    let ev = json!({"guild_id": gid.to_string(), "user": b.user.to_json()});
    st.dispatch(
        Some(gid),
        "GUILD_BAN_REMOVE",
        &ev,
        intents::GUILD_MODERATION,
        false,
    );
    st.audit(world, gid, actor, Some(uid), 23, vec![], why, None);
    Ok(())
}

/// Kicks `uid` as `actor`: hierarchy, GUILD_MEMBER_REMOVE, audit entry 20.
pub(crate) fn kick(
    world: &World,
    st: &mut State,
    gid: u64,
    actor: u64,
    uid: u64,
    why: Option<&str>,
) -> Result<(), ApiError> {
    let g = st.guild(world, gid).ok_or_else(e::unknown_guild)?;
    if !g.members.contains_key(&uid) {
        return Err(e::unknown_member());
    }
    if uid != actor && !g.outranks(actor, uid) {
        return Err(e::missing_permissions());
    }
    drop(g);
    st.remove_member(world, gid, uid);
    st.audit(world, gid, actor, Some(uid), 20, vec![], why, None);
    Ok(())
}

/// The change of `communication_disabled_until` from `old` to `new`, as an audit entry
/// records it; `None` when nothing changes (Discord logs changes only).
pub(crate) fn timeout_change(old: Option<u64>, new: Option<u64>) -> Option<serde_json::Value> {
    (old != new).then(|| {
        json!({"key": "communication_disabled_until", "old_value": old.map(iso), "new_value": new.map(iso)})
    })
}

/// Stores `member` as `uid`'s new state, sends GUILD_MEMBER_UPDATE and, when `changes` is
/// not empty, an audit entry 24 (MEMBER_UPDATE) by `actor`. Returns the event's payload.
pub(crate) fn update_member(
    world: &World,
    st: &mut State,
    gid: u64,
    actor: u64,
    member: Member,
    changes: Vec<serde_json::Value>,
    why: Option<&str>,
) -> serde_json::Value {
    let uid = member.user.id;
    let guild = st.guild_mut(world, gid).expect("exists");
    guild.members.insert(uid, member);
    let mut ev = guild.members[&uid].to_json();
    ev["guild_id"] = json!(gid.to_string());
    st.dispatch(
        Some(gid),
        "GUILD_MEMBER_UPDATE",
        &ev,
        intents::GUILD_MEMBERS,
        false,
    );
    if !changes.is_empty() {
        st.audit(world, gid, actor, Some(uid), 24, changes, why, None);
    }
    ev
}
