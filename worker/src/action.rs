//! What a moderator or the bot does to a member: one [`ActionKind`] for every moderation
//! action, the automod actions that are not punishments, and notes.
//!
//! Everything that depends only on the kind lives here, as `const fn` methods: the permission
//! it needs, its words in refusals and replies, its mod-log label and colour, its severity, and
//! its stable stored name (a case records its kind as [`ActionKind::as_str`]). The types that
//! carry an action's parameters — the guild's escalation rules
//! ([`crate::store::EscalationAction`]) and automod's rule actions
//! ([`crate::automod::Action`]) — map to their kind through one `kind()` method each; the
//! permission rules ([`crate::moderation::rules`]), the mod log
//! ([`crate::moderation::modlog`]), the commands and the moderation flow read the kind.
//!
//! The module sits at the bottom of the worker (no worker dependencies) so that the store,
//! moderation and automod can all use it.

use std::fmt;

use serde::{Deserialize, Serialize};
use twilight_model::guild::Permissions;

/// One kind of action on a member. Serialized (cases in both stores) as its snake-case name,
/// the same text as [`ActionKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Permanent ban.
    Ban,
    /// Ban that is lifted by a schedule.
    Tempban,
    /// Ban + message deletion + immediate unban.
    Softban,
    /// Ban lifted (manually or by a tempban expiry).
    Unban,
    /// Member kicked.
    Kick,
    /// Member timed out (communication disabled).
    Timeout,
    /// Timeout removed.
    Untimeout,
    /// Warning (a case; counts towards escalation).
    Warn,
    /// Message deleted by automod.
    AutomodDelete,
    /// Automod alert without action.
    AutomodAlert,
    /// A note on a user; no action.
    Note,
    /// Messages deleted by `/purge` (one case per purge; the user is the one filtered on, or
    /// 0 when the purge took anyone's messages).
    Purge,
    /// The server locked by automod's raid mode (a `join_rate` rule with the `lockdown`
    /// action); the user is the member whose join started raid mode.
    Lockdown,
}

impl ActionKind {
    /// Every kind, in declaration order.
    pub const ALL: [ActionKind; 13] = [
        Self::Ban,
        Self::Tempban,
        Self::Softban,
        Self::Unban,
        Self::Kick,
        Self::Timeout,
        Self::Untimeout,
        Self::Warn,
        Self::AutomodDelete,
        Self::AutomodAlert,
        Self::Note,
        Self::Purge,
        Self::Lockdown,
    ];

    /// The stable lowercase name used in storage (`ban`, `automod_delete`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ban => "ban",
            Self::Tempban => "tempban",
            Self::Softban => "softban",
            Self::Unban => "unban",
            Self::Kick => "kick",
            Self::Timeout => "timeout",
            Self::Untimeout => "untimeout",
            Self::Warn => "warn",
            Self::AutomodDelete => "automod_delete",
            Self::AutomodAlert => "automod_alert",
            Self::Note => "note",
            Self::Purge => "purge",
            Self::Lockdown => "lockdown",
        }
    }

    /// Whether the moderation flow ([`crate::moderation::engine::perform`]) carries it out:
    /// the eight actions on a member that a moderation command (or the bot, for escalations
    /// and automod punishments) performs. Automod's deletes and alerts and notes are recorded
    /// by whoever makes them.
    #[must_use]
    pub const fn is_manual(self) -> bool {
        !matches!(
            self,
            Self::AutomodDelete | Self::AutomodAlert | Self::Note | Self::Purge | Self::Lockdown
        )
    }

    /// Whether it punishes the member (warn, timeout, kick and the bans; not lifting a ban or
    /// a timeout, and not automod's deletes and alerts).
    #[must_use]
    pub const fn is_punishment(self) -> bool {
        self.severity() > 0
    }

    /// How hard it hits the member, for picking the strongest of several punishments: ban >
    /// tempban > softban = kick > timeout > warn; 0 for what is no punishment.
    #[must_use]
    pub const fn severity(self) -> u8 {
        match self {
            Self::Ban => 5,
            Self::Tempban => 4,
            Self::Softban | Self::Kick => 3,
            Self::Timeout => 2,
            Self::Warn => 1,
            Self::Unban
            | Self::Untimeout
            | Self::AutomodDelete
            | Self::AutomodAlert
            | Self::Note
            | Self::Purge
            | Self::Lockdown => 0,
        }
    }

    /// The permission a moderator (and the bot) needs for it: `BAN_MEMBERS` for the bans and
    /// unban, `KICK_MEMBERS` for kick, `MODERATE_MEMBERS` for timeout, untimeout and warn.
    /// Automod's delete needs `MANAGE_MESSAGES`, its alert `SEND_MESSAGES` and its lockdown
    /// `MANAGE_ROLES` (Discord's permission for channel overwrites); a note needs nothing.
    #[must_use]
    pub const fn permission(self) -> Permissions {
        match self {
            Self::Ban | Self::Tempban | Self::Softban | Self::Unban => Permissions::BAN_MEMBERS,
            Self::Kick => Permissions::KICK_MEMBERS,
            Self::Timeout | Self::Untimeout | Self::Warn => Permissions::MODERATE_MEMBERS,
            Self::AutomodDelete | Self::Purge => Permissions::MANAGE_MESSAGES,
            Self::AutomodAlert => Permissions::SEND_MESSAGES,
            Self::Lockdown => Permissions::MANAGE_ROLES,
            Self::Note => Permissions::empty(),
        }
    }

    /// The verb used in refusals ("you cannot ban yourself", "… needed to time out").
    #[must_use]
    pub const fn verb(self) -> &'static str {
        match self {
            Self::Ban | Self::Tempban => "ban",
            Self::Unban => "unban",
            Self::Softban => "softban",
            Self::Kick => "kick",
            Self::Timeout => "time out",
            Self::Untimeout => "remove the timeout of",
            Self::Warn => "warn",
            Self::AutomodDelete
            | Self::AutomodAlert
            | Self::Note
            | Self::Purge
            | Self::Lockdown => "act on",
        }
    }

    /// The verb with its object, used in refusals ("… to ban them", "… to time them out").
    #[must_use]
    pub const fn act_on(self) -> &'static str {
        match self {
            Self::Ban | Self::Tempban => "ban them",
            Self::Unban => "unban them",
            Self::Softban => "softban them",
            Self::Kick => "kick them",
            Self::Timeout => "time them out",
            Self::Untimeout => "lift their timeout",
            Self::Warn => "warn them",
            Self::AutomodDelete
            | Self::AutomodAlert
            | Self::Note
            | Self::Purge
            | Self::Lockdown => "act on them",
        }
    }

    /// What a command's reply says was done ("Banned @user", "Lifted the timeout of @user").
    #[must_use]
    pub const fn done(self) -> &'static str {
        match self {
            Self::Ban | Self::Tempban => "Banned",
            Self::Softban => "Softbanned",
            Self::Unban => "Unbanned",
            Self::Kick => "Kicked",
            Self::Timeout => "Timed out",
            Self::Untimeout => "Lifted the timeout of",
            Self::Warn => "Warned",
            Self::AutomodDelete | Self::AutomodAlert | Self::Note => "Recorded a case for",
            Self::Purge => "Deleted messages of",
            Self::Lockdown => "Locked the server for",
        }
    }

    /// What a command's reply says could not be done ("Could not time out @user: …").
    #[must_use]
    pub const fn attempted(self) -> &'static str {
        match self {
            Self::Ban | Self::Tempban => "ban",
            Self::Softban => "softban",
            Self::Unban => "unban",
            Self::Kick => "kick",
            Self::Timeout => "time out",
            Self::Untimeout => "lift the timeout of",
            Self::Warn => "warn",
            Self::AutomodDelete | Self::AutomodAlert | Self::Note => "act on",
            Self::Purge => "delete the messages of",
            Self::Lockdown => "lock the server for",
        }
    }

    /// The words of the DM to the member ("You have been *kicked from* **Server**"); `None`
    /// for the kinds that send none (lifting a ban or a timeout, automod's own cases, notes).
    #[must_use]
    pub const fn dm_phrase(self) -> Option<&'static str> {
        match self {
            Self::Ban => Some("banned from"),
            Self::Tempban => Some("temporarily banned from"),
            Self::Softban => Some("softbanned (removed, with recent messages deleted) from"),
            Self::Kick => Some("kicked from"),
            Self::Timeout => Some("timed out in"),
            Self::Warn => Some("warned in"),
            Self::Unban
            | Self::Untimeout
            | Self::AutomodDelete
            | Self::AutomodAlert
            | Self::Note
            | Self::Purge
            | Self::Lockdown => None,
        }
    }

    /// The label shown in mod-log titles (`Case #N · Tempban`) and case lists.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Ban => "Ban",
            Self::Tempban => "Tempban",
            Self::Softban => "Softban",
            Self::Unban => "Unban",
            Self::Kick => "Kick",
            Self::Timeout => "Timeout",
            Self::Untimeout => "Untimeout",
            Self::Warn => "Warn",
            Self::AutomodDelete => "Automod delete",
            Self::AutomodAlert => "Automod alert",
            Self::Note => "Note",
            Self::Purge => "Purge",
            Self::Lockdown => "Lockdown",
        }
    }

    /// The mod-log embed colour (`0xRRGGBB`): one per action, green for lifting one, blue for
    /// automod's cases and notes.
    #[must_use]
    pub const fn colour(self) -> u32 {
        match self {
            Self::Ban => 0xE7_4C_3C,
            Self::Tempban => 0xE6_7E_22,
            Self::Softban => 0xD3_54_00,
            Self::Kick => 0xF1_C4_0F,
            Self::Timeout => 0x9B_59_B6,
            Self::Unban | Self::Untimeout => 0x2E_CC_71,
            Self::Warn => 0xF3_9C_12,
            Self::AutomodDelete | Self::AutomodAlert | Self::Note => 0x34_98_DB,
            Self::Purge => 0x95_A5_A6,
            Self::Lockdown => 0xE6_7E_22,
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_are_the_serde_names() {
        for k in ActionKind::ALL {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
            let back: ActionKind = serde_json::from_value(serde_json::json!(k.as_str())).unwrap();
            assert_eq!(back, k);
        }
    }

    #[test]
    fn manual_kinds_are_the_moderation_commands() {
        let manual: Vec<&str> = ActionKind::ALL
            .into_iter()
            .filter(|k| k.is_manual())
            .map(ActionKind::as_str)
            .collect();
        assert_eq!(
            manual,
            [
                "ban",
                "tempban",
                "softban",
                "unban",
                "kick",
                "timeout",
                "untimeout",
                "warn"
            ]
        );
    }
}
