//! The gateway intents the worker asks for, and which privileged ones it may use.
//!
//! `KYUTA_PRIVILEGED_INTENTS` (`contract::env::PRIVILEGED_INTENTS`) decides:
//! - `auto` (the default): the ones the application has enabled, read from the flags of
//!   `GET /applications/@me` (`GATEWAY_GUILD_MEMBERS[_LIMITED]`,
//!   `GATEWAY_MESSAGE_CONTENT[_LIMITED]`), so a bot whose intents are not enabled runs with
//!   less instead of being closed with 4014;
//! - `none`: neither;
//! - a comma-separated list of `members` and `message_content`: exactly those, whatever the
//!   flags say (Discord closes with 4014 if they are not enabled: the worker then says so and
//!   exits).
//!
//! Without MESSAGE_CONTENT, prefix commands are off, and automod's text rules see no text
//! (message rate and mention rules keep working). Without GUILD_MEMBERS, joins are not seen:
//! automod's join rules (join rate, account age, names) are off.

use std::str::FromStr;

use twilight_gateway::Intents;
use twilight_model::oauth::ApplicationFlags;

/// The privileged intents Kyuta can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Privileged {
    /// GUILD_MEMBERS (Server Members): joins, for automod's join rules.
    pub members: bool,
    /// MESSAGE_CONTENT: message text, for prefix commands and automod's text rules.
    pub message_content: bool,
}

impl Privileged {
    /// Both.
    pub const ALL: Self = Self {
        members: true,
        message_content: true,
    };

    /// The ones an application with `flags` has enabled (the full or the `_LIMITED` flag:
    /// `_LIMITED` is what a bot in fewer than 100 servers gets when it switches them on).
    #[must_use]
    pub fn from_flags(flags: ApplicationFlags) -> Self {
        Self {
            members: flags.intersects(
                ApplicationFlags::GATEWAY_GUILD_MEMBERS
                    | ApplicationFlags::GATEWAY_GUILD_MEMBERS_LIMITED,
            ),
            message_content: flags.intersects(
                ApplicationFlags::GATEWAY_MESSAGE_CONTENT
                    | ApplicationFlags::GATEWAY_MESSAGE_CONTENT_LIMITED,
            ),
        }
    }

    /// The intents to identify with: guilds, moderation (bans), guild and direct messages,
    /// native AutoMod's executions (cases for what Discord's AutoMod blocked; Discord sends
    /// them only while the bot holds Manage Server), plus the privileged ones allowed.
    #[must_use]
    pub fn intents(self) -> Intents {
        let mut i = Intents::GUILDS
            | Intents::GUILD_MODERATION
            | Intents::GUILD_MESSAGES
            | Intents::DIRECT_MESSAGES
            | Intents::AUTO_MODERATION_EXECUTION;
        if self.members {
            i |= Intents::GUILD_MEMBERS;
        }
        if self.message_content {
            i |= Intents::MESSAGE_CONTENT;
        }
        i
    }

    /// What does not work without the missing ones, for the warning at start; `None` when
    /// both are there.
    #[must_use]
    pub fn missing(self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.message_content {
            parts.push(
                "Message Content is not enabled: prefix commands are off and automod's text rules \
                 (words, links, invites, caps, duplicates, regex, toxicity) see no text",
            );
        }
        if !self.members {
            parts.push(
                "Server Members is not enabled: joins are not seen, so automod's join rules \
                 (join rate, account age, names) are off",
            );
        }
        (!parts.is_empty()).then(|| {
            format!(
                "{}; enable them in the Developer Portal → Bot → Privileged Gateway Intents and restart (docs/discord-setup.md)",
                parts.join("; ")
            )
        })
    }
}

/// `KYUTA_PRIVILEGED_INTENTS`: `auto`, `none`, or a list of `members`, `message_content`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrivilegedIntents {
    /// The ones the application's flags say are enabled.
    #[default]
    Auto,
    /// Exactly these.
    Fixed(Privileged),
}

impl FromStr for PrivilegedIntents {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        let mut p = Privileged::default();
        if s.eq_ignore_ascii_case("none") {
            return Ok(Self::Fixed(p));
        }
        for part in s.split(',').map(str::trim) {
            match part.to_ascii_lowercase().as_str() {
                "members" | "guild_members" => p.members = true,
                "message_content" => p.message_content = true,
                _ => {
                    return Err(format!(
                        "{part:?} is not `auto`, `none`, `members` or `message_content`"
                    ));
                }
            }
        }
        Ok(Self::Fixed(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_setting() {
        assert_eq!("auto".parse(), Ok(PrivilegedIntents::Auto));
        assert_eq!(
            "none".parse(),
            Ok(PrivilegedIntents::Fixed(Privileged::default()))
        );
        assert_eq!(
            " members , message_content".parse(),
            Ok(PrivilegedIntents::Fixed(Privileged::ALL))
        );
        assert_eq!(
            "members".parse(),
            Ok(PrivilegedIntents::Fixed(Privileged {
                members: true,
                message_content: false
            }))
        );
        assert!("presences".parse::<PrivilegedIntents>().is_err());
        assert!("".parse::<PrivilegedIntents>().is_err());
    }

    #[test]
    fn from_the_application_flags() {
        assert_eq!(
            Privileged::from_flags(ApplicationFlags::empty()),
            Privileged::default()
        );
        let limited = ApplicationFlags::GATEWAY_GUILD_MEMBERS_LIMITED
            | ApplicationFlags::GATEWAY_MESSAGE_CONTENT_LIMITED;
        assert_eq!(Privileged::from_flags(limited), Privileged::ALL);
        let verified = Privileged::from_flags(ApplicationFlags::GATEWAY_MESSAGE_CONTENT);
        assert!(verified.message_content && !verified.members);
        // The presence intent alone enables neither.
        assert_eq!(
            Privileged::from_flags(ApplicationFlags::GATEWAY_PRESENCE_LIMITED),
            Privileged::default()
        );
    }

    #[test]
    fn intents_follow_what_is_allowed() {
        let all = Privileged::ALL.intents();
        assert!(all.contains(Intents::GUILD_MEMBERS | Intents::MESSAGE_CONTENT));
        assert!(Privileged::ALL.missing().is_none());
        let none = Privileged::default();
        assert!(
            !none
                .intents()
                .intersects(Intents::GUILD_MEMBERS | Intents::MESSAGE_CONTENT)
        );
        assert!(none.intents().contains(
            Intents::GUILD_MODERATION
                | Intents::GUILD_MESSAGES
                | Intents::AUTO_MODERATION_EXECUTION
        ));
        let why = none.missing().unwrap();
        assert!(
            why.contains("prefix commands are off") && why.contains("join rules"),
            "{why}"
        );
    }
}
