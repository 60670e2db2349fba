//! The Discord side of an action beyond its one call: the DM to the user, a softban (ban,
//! then unban), and reading back what Discord holds when a call ended in doubt.

use crate::rest::{Rest, RestError};
use std::time::Duration;

use crate::action::ActionKind;
use crate::duration::format_duration;
use crate::store::Case;

use super::discord;
use super::modlog;
use super::options::DeleteMessages;
use super::request::{ActionRequest, Deps, DmStatus};

/// A call that got a 5xx or no answer may have been acted on before it failed, and a retry
/// after it may be refused because the first attempt did act (no member left to kick, no ban
/// left to lift): what Discord holds decides the outcome.
pub(super) async fn read_back(
    deps: &Deps,
    req: &ActionRequest,
    until: Option<i64>,
    error: &RestError,
) -> Result<(), String> {
    use discord::Expect;
    let expect = match req.kind {
        ActionKind::Ban | ActionKind::Tempban => Expect::Banned,
        ActionKind::Unban => Expect::NotBanned,
        ActionKind::Kick => Expect::NotMember,
        ActionKind::Timeout => match until {
            Some(t) => Expect::TimedOutUntil(t),
            None => return Err(discord::describe(error)),
        },
        ActionKind::Untimeout => Expect::NotTimedOut,
        _ => return Err(discord::describe(error)),
    };
    match discord::confirm(&deps.rest, req.guild_id, req.user_id, expect).await {
        Ok(true) => {
            tracing::info!(
                guild = req.guild_id,
                user = req.user_id,
                kind = %req.kind,
                error = %error,
                "the call failed, but Discord shows it applied"
            );
            Ok(())
        }
        Ok(false) => Err(discord::describe(error)),
        Err(e) => Err(format!(
            "{}, and Discord could not be asked whether it applied ({}); check before retrying",
            discord::describe(error),
            discord::describe(&e)
        )),
    }
}

/// Ban, then unban at once: the user's recent messages go, the user may come back.
pub(super) async fn softban(
    rest: &Rest,
    guild: u64,
    user: u64,
    delete: DeleteMessages,
    reason: &str,
) -> Result<(), String> {
    discord::ban(rest, guild, user, delete.seconds(), reason)
        .await
        .map_err(|e| discord::describe(&e))?;
    match discord::unban(rest, guild, user, reason).await {
        Ok(()) => Ok(()),
        Err(e) if e.discord_code() == Some(discord::UNKNOWN_BAN) => Ok(()),
        Err(e) => Err(format!(
            "banned, but lifting the ban failed ({}); run /unban",
            discord::describe(&e)
        )),
    }
}

fn dm_text(kind: ActionKind, guild: &str, reason: Option<&str>, duration: Option<u64>) -> String {
    let what = kind.dm_phrase().unwrap_or("moderated in");
    let mut text = format!("You have been {what} **{guild}**");
    if let Some(d) = duration {
        text.push_str(&format!(" for {}", format_duration(Duration::from_secs(d))));
    }
    text.push('.');
    text.push_str(&format!(
        "\nReason: {}",
        reason.unwrap_or(modlog::NO_REASON)
    ));
    text
}

pub(super) async fn send_dm(
    deps: &Deps,
    req: &ActionRequest,
    case: &Case,
    guild: Option<&str>,
) -> DmStatus {
    if req.kind.dm_phrase().is_none() {
        return DmStatus::NotSent;
    }
    let text = dm_text(
        req.kind,
        guild.unwrap_or("the server"),
        case.reason.as_deref(),
        case.duration_secs,
    );
    let once = format!("dm:{}:{}", case.guild_id, case.number);
    match discord::direct_message(&deps.rest, req.user_id, &text, &once).await {
        Ok(()) => DmStatus::Sent,
        Err(e) => {
            tracing::debug!(guild = req.guild_id, user = req.user_id, error = %e, "moderation DM failed");
            DmStatus::Failed(discord::describe(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_texts() {
        assert_eq!(
            dm_text(ActionKind::Tempban, "Cats", Some("spam"), Some(86_400)),
            "You have been temporarily banned from **Cats** for 1d.\nReason: spam"
        );
        assert_eq!(
            dm_text(ActionKind::Warn, "Cats", None, None),
            "You have been warned in **Cats**.\nReason: No reason given"
        );
    }
}
