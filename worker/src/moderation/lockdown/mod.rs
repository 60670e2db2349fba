//! Lockdowns and slowmode. This module is the pure part: what a locked channel's
//! `@everyone` overwrite is, and the slowmode grammar. [`apply`] locks and unlocks channels
//! on Discord (for the commands and for automod's raid mode); [`command`] holds `/lockdown`,
//! `/unlock` and `/slowmode`.
//!
//! A lockdown denies [`LOCKED`] to `@everyone` in a channel and keeps the overwrite the
//! channel had, so `/unlock` puts exactly that back (or removes the overwrite when there was
//! none). Roles and members with their own overwrites allowing Send Messages (moderators, for
//! example) can still talk, as on Discord.

pub mod apply;
pub mod command;

use std::time::Duration;

use twilight_model::guild::Permissions;

use crate::duration::{format_duration, parse_duration};
use crate::store::OverwriteBits;

/// What a lockdown denies `@everyone`: sending messages, in the channel and its threads, and
/// starting threads.
pub const LOCKED: Permissions = Permissions::SEND_MESSAGES
    .union(Permissions::SEND_MESSAGES_IN_THREADS)
    .union(Permissions::CREATE_PUBLIC_THREADS)
    .union(Permissions::CREATE_PRIVATE_THREADS);

/// Longest slowmode Discord allows: 6 hours.
pub const MAX_SLOWMODE: Duration = Duration::from_secs(21_600);

/// What a lockdown can deny when the bot holds `bot`: Discord refuses an overwrite that
/// denies a permission the bot does not have itself, so the thread permissions are denied
/// only when the bot holds them. Send Messages is always denied.
#[must_use]
pub fn deniable(bot: Permissions) -> Permissions {
    if bot.contains(Permissions::ADMINISTRATOR) {
        return LOCKED;
    }
    (LOCKED & bot) | Permissions::SEND_MESSAGES
}

/// The `@everyone` overwrite of a locked channel, from the one it had, denying `deny`
/// ([`deniable`]).
#[must_use]
pub fn locked(previous: Option<OverwriteBits>, deny: Permissions) -> OverwriteBits {
    let p = previous.unwrap_or(OverwriteBits { allow: 0, deny: 0 });
    OverwriteBits {
        allow: p.allow & !deny.bits(),
        deny: p.deny | deny.bits(),
    }
}

/// Whether `@everyone` is already denied sending in a channel with this overwrite.
#[must_use]
pub fn already_locked(current: Option<OverwriteBits>) -> bool {
    current.is_some_and(|o| o.deny & Permissions::SEND_MESSAGES.bits() != 0)
}

/// Why a slowmode is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlowmodeError {
    /// Not a duration.
    #[error("{0}")]
    Duration(String),
    /// Longer than Discord allows.
    #[error("slowmode is at most 6h")]
    TooLong,
}

/// A slowmode in whole seconds: `off` (or `0`) is 0, else a duration up to 6 hours.
///
/// # Errors
/// [`SlowmodeError`].
pub fn parse_slowmode(text: &str) -> Result<u16, SlowmodeError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") || t == "0" {
        return Ok(0);
    }
    let d = parse_duration(t).map_err(|e| SlowmodeError::Duration(e.to_string()))?;
    if d > MAX_SLOWMODE {
        return Err(SlowmodeError::TooLong);
    }
    Ok(u16::try_from(d.as_secs()).unwrap_or(u16::MAX))
}

/// `10s` → "10s", 0 → "off".
#[must_use]
pub fn describe_slowmode(secs: u16) -> String {
    if secs == 0 {
        "off".to_owned()
    } else {
        format_duration(Duration::from_secs(u64::from(secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locking_keeps_the_rest_of_the_overwrite() {
        let send = Permissions::SEND_MESSAGES.bits();
        let react = Permissions::ADD_REACTIONS.bits();
        let l = locked(None, LOCKED);
        assert_eq!((l.allow, l.deny), (0, LOCKED.bits()));
        let l = locked(
            Some(OverwriteBits {
                allow: send | react,
                deny: Permissions::EMBED_LINKS.bits(),
            }),
            LOCKED,
        );
        assert_eq!(
            l.allow, react,
            "sending is no longer allowed; reactions are"
        );
        assert_eq!(l.deny, Permissions::EMBED_LINKS.bits() | LOCKED.bits());
        assert!(already_locked(Some(l)));
        assert!(!already_locked(None));
        assert!(!already_locked(Some(OverwriteBits {
            allow: send,
            deny: 0
        })));
    }

    #[test]
    fn slowmodes() {
        assert_eq!(parse_slowmode("off"), Ok(0));
        assert_eq!(parse_slowmode("0"), Ok(0));
        assert_eq!(parse_slowmode("10s"), Ok(10));
        assert_eq!(parse_slowmode("1h 30m"), Ok(5400));
        assert_eq!(parse_slowmode("6h"), Ok(21_600));
        assert_eq!(parse_slowmode("7h"), Err(SlowmodeError::TooLong));
        assert!(matches!(
            parse_slowmode("fast"),
            Err(SlowmodeError::Duration(_))
        ));
        assert_eq!(describe_slowmode(0), "off");
        assert_eq!(describe_slowmode(90), "1m 30s");
    }
}
