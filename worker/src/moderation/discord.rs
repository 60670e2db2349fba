//! The Discord calls moderation makes, each with its audit-log reason, and how their errors
//! are described to moderators.

use twilight_http::request::AuditLogReason;
use twilight_model::channel::Channel;
use twilight_model::channel::message::Embed;
use twilight_model::id::Id;
use twilight_model::util::Timestamp;

use crate::rest::{Rest, RestError};

/// Discord: Unknown Member.
pub const UNKNOWN_MEMBER: u64 = 10_007;
/// Discord: Unknown User.
pub const UNKNOWN_USER: u64 = 10_013;
/// Discord: Unknown Ban.
pub const UNKNOWN_BAN: u64 = 10_026;
/// Discord: Missing Permissions.
pub const MISSING_PERMISSIONS: u64 = 50_013;
/// Discord: Cannot send messages to this user.
pub const CANNOT_DM: u64 = 50_007;

/// A moderator-facing description of a failed Discord call.
#[must_use]
pub fn describe(e: &RestError) -> String {
    match e.discord_code() {
        Some(MISSING_PERMISSIONS) => {
            "Discord refused: missing permissions (50013); check my role and its position".into()
        }
        Some(UNKNOWN_MEMBER) => "Discord says that user is not a member (10007)".into(),
        Some(UNKNOWN_USER) => "Discord does not know that user (10013)".into(),
        Some(UNKNOWN_BAN) => "Discord says that user is not banned (10026)".into(),
        Some(code) => format!("Discord refused the request (code {code})"),
        None => match e.status() {
            Some(status) => format!("Discord answered HTTP {status}"),
            None => "Discord could not be reached".into(),
        },
    }
}

/// Whether the error is temporary (network, 5xx, rate limits, budget), i.e. worth retrying
/// later, as opposed to a refusal that will not change.
#[must_use]
pub fn is_transient(e: &RestError) -> bool {
    match e {
        RestError::Exhausted { .. } | RestError::Budget(_) => true,
        _ => match e.status() {
            Some(s) => s >= 500 || s == 429,
            None => e.discord_code().is_none(),
        },
    }
}

fn gid(id: u64) -> Id<twilight_model::id::marker::GuildMarker> {
    Id::new(id)
}

fn uid(id: u64) -> Id<twilight_model::id::marker::UserMarker> {
    Id::new(id)
}

/// `PUT /guilds/{g}/bans/{u}`.
///
/// # Errors
/// The REST error.
pub async fn ban(
    rest: &Rest,
    guild: u64,
    user: u64,
    delete_message_seconds: u32,
    reason: &str,
) -> Result<(), RestError> {
    rest.call("create_ban", |c| {
        let mut req = c.create_ban(gid(guild), uid(user));
        if delete_message_seconds > 0 {
            req = req.delete_message_seconds(delete_message_seconds);
        }
        if !reason.is_empty() {
            req = req.reason(reason);
        }
        req.into_future()
    })
    .await
    .map(drop)
}

/// `DELETE /guilds/{g}/bans/{u}`.
///
/// # Errors
/// The REST error (10026 when the user is not banned).
pub async fn unban(rest: &Rest, guild: u64, user: u64, reason: &str) -> Result<(), RestError> {
    rest.call("delete_ban", |c| {
        let mut req = c.delete_ban(gid(guild), uid(user));
        if !reason.is_empty() {
            req = req.reason(reason);
        }
        req.into_future()
    })
    .await
    .map(drop)
}

/// `DELETE /guilds/{g}/members/{u}`.
///
/// # Errors
/// The REST error.
pub async fn kick(rest: &Rest, guild: u64, user: u64, reason: &str) -> Result<(), RestError> {
    rest.call("remove_guild_member", |c| {
        let mut req = c.remove_guild_member(gid(guild), uid(user));
        if !reason.is_empty() {
            req = req.reason(reason);
        }
        req.into_future()
    })
    .await
    .map(drop)
}

/// `PATCH /guilds/{g}/members/{u}` with `communication_disabled_until` (Unix seconds, or
/// `None` to lift the timeout).
///
/// # Errors
/// The REST error.
pub async fn set_timeout(
    rest: &Rest,
    guild: u64,
    user: u64,
    until: Option<i64>,
    reason: &str,
) -> Result<(), RestError> {
    let until = until.map(|s| Timestamp::from_secs(s).expect("timeouts end within years"));
    rest.call("update_guild_member", |c| {
        let mut req = c
            .update_guild_member(gid(guild), uid(user))
            .communication_disabled_until(until);
        if !reason.is_empty() {
            req = req.reason(reason);
        }
        req.into_future()
    })
    .await
    .map(drop)
}

/// Sends a direct message (opening the DM channel first), once: see [`post_once`].
///
/// # Errors
/// The REST error (50007 when the user does not accept DMs).
pub async fn direct_message(
    rest: &Rest,
    user: u64,
    content: &str,
    once_key: &str,
) -> Result<(), RestError> {
    let channel: Channel = rest
        .model("create_private_channel", |c| {
            c.create_private_channel(uid(user)).into_future()
        })
        .await?;
    let body = serde_json::json!({"content": content});
    post_once(rest, channel.id.get(), body, once_key).await
}

/// Posts an embed in a channel (mentions in it never ping), once: see [`post_once`].
///
/// # Errors
/// The REST error.
pub async fn post_embed(
    rest: &Rest,
    channel: u64,
    embed: &Embed,
    once_key: &str,
) -> Result<(), RestError> {
    let body = serde_json::json!({"embeds": [embed]});
    post_once(rest, channel, body, once_key).await
}

/// The REST route of a message posted with [`post_once`]: safe to repeat, so it is retried
/// after a 5xx or a lost answer like any idempotent call.
pub const CREATE_MESSAGE_ONCE: &str = "create_message_once";

/// `POST /channels/{c}/messages` with `body` (mentions never ping), a nonce derived from
/// `once_key` and `enforce_nonce`, so Discord creates the message at most once however often
/// the request is sent within its nonce window (a few minutes): a post that got a 5xx or no
/// answer can be repeated without posting twice.
///
/// # Errors
/// The REST error.
pub async fn post_once(
    rest: &Rest,
    channel: u64,
    body: serde_json::Value,
    once_key: &str,
) -> Result<(), RestError> {
    let mut body = body;
    body["allowed_mentions"] = serde_json::json!({"parse": []});
    body["nonce"] = serde_json::Value::String(nonce(once_key));
    body["enforce_nonce"] = serde_json::Value::Bool(true);
    let payload = body.to_string().into_bytes();
    rest.call(CREATE_MESSAGE_ONCE, |c| {
        c.create_message(Id::new(channel))
            .payload_json(&payload)
            .into_future()
    })
    .await
    .map(drop)
}

/// Discord's nonce (at most 25 characters) for `key`: its 64-bit FNV-1a hash in decimal, the
/// same in every process and release.
#[must_use]
pub fn nonce(key: &str) -> String {
    crate::hash::fnv1a64(key.as_bytes()).to_string()
}

/// What an action leaves on Discord, to read back when its call ended in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The user is banned.
    Banned,
    /// The user is not banned.
    NotBanned,
    /// The user is not a member.
    NotMember,
    /// The member is timed out until at least this Unix second (less a minute of slack).
    TimedOutUntil(i64),
    /// The member is not timed out.
    NotTimedOut,
}

/// Whether Discord holds what `expect` says, read with `GET /guilds/{g}/bans/{u}` or
/// `GET /guilds/{g}/members/{u}`. Used when a call got a 5xx or no answer (Discord may have
/// acted before failing), or when its retry was refused in a way that says an earlier
/// attempt did act (a retried kick finds no member, a retried unban finds no ban).
///
/// # Errors
/// The REST error of the read.
pub async fn confirm(
    rest: &Rest,
    guild: u64,
    user: u64,
    expect: Expect,
) -> Result<bool, RestError> {
    match expect {
        Expect::Banned | Expect::NotBanned => {
            let banned = match rest
                .call("get_ban", |c| c.ban(gid(guild), uid(user)).into_future())
                .await
            {
                Ok(_) => true,
                Err(e) if e.discord_code() == Some(UNKNOWN_BAN) => false,
                Err(e) => return Err(e),
            };
            Ok(banned == (expect == Expect::Banned))
        }
        Expect::NotMember | Expect::TimedOutUntil(_) | Expect::NotTimedOut => {
            let member = match rest
                .model("get_member", |c| {
                    c.guild_member(gid(guild), uid(user)).into_future()
                })
                .await
            {
                Ok(m) => Some(m),
                Err(e) if e.discord_code() == Some(UNKNOWN_MEMBER) => None,
                Err(e) => return Err(e),
            };
            let until = member
                .as_ref()
                .and_then(|m: &twilight_model::guild::Member| m.communication_disabled_until)
                .map(|t| t.as_secs());
            Ok(match expect {
                Expect::NotMember => member.is_none(),
                Expect::TimedOutUntil(end) => until.is_some_and(|u| u >= end - 60),
                _ => member.is_some() && until.is_none_or(|u| u <= now_secs()),
            })
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_stable_and_fit_discord() {
        // FNV-1a 64 of "a" (published test vector).
        assert_eq!(nonce("a"), 0xaf63_dc4c_8601_ec8c_u64.to_string());
        assert_eq!(nonce("modlog:1:2"), nonce("modlog:1:2"));
        assert_ne!(nonce("modlog:1:2"), nonce("modlog:1:3"));
        assert!(nonce("x").len() <= 25);
    }
}
