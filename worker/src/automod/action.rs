//! What a rule does when it fires, as stored in a rule's `actions`.

use serde::{Deserialize, Serialize};

use crate::action::ActionKind;

/// Discord's longest timeout (28 days), in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 28 * 86_400;

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Delete the message.
    Delete,
    /// Warn the member (a warn case; counts towards escalation).
    Warn,
    /// Time the member out.
    Timeout {
        /// Duration, at most 28 days.
        secs: u32,
    },
    /// Kick the member.
    Kick,
    /// Ban the member.
    Ban {
        /// Delete the member's messages of the last this many seconds (at most 7 days).
        #[serde(default)]
        delete_message_secs: u32,
    },
    /// Post an alert with the evidence.
    Alert {
        /// Channel; the configuration's `alert_channel` (then the mod-log channel) when unset.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<u64>,
    },
    /// Lock the server (every text and announcement channel, as `/lockdown server:true`) when
    /// raid mode starts; it stays locked until a moderator runs `/unlock server:true`. Only a
    /// `join_rate` rule can use it.
    Lockdown,
}

impl Action {
    /// The kind of the action, and of the case that records it: a punishment is the
    /// moderation action of the same name, a delete is [`ActionKind::AutomodDelete`] and an
    /// alert [`ActionKind::AutomodAlert`].
    #[must_use]
    pub const fn kind(&self) -> ActionKind {
        match self {
            Self::Delete => ActionKind::AutomodDelete,
            Self::Warn => ActionKind::Warn,
            Self::Timeout { .. } => ActionKind::Timeout,
            Self::Kick => ActionKind::Kick,
            Self::Ban { .. } => ActionKind::Ban,
            Self::Alert { .. } => ActionKind::AutomodAlert,
            Self::Lockdown => ActionKind::Lockdown,
        }
    }

    /// Whether the action punishes the member (warn, timeout, kick, ban): such actions are
    /// applied once per rule and member within the rule's window, however many messages
    /// fire it.
    #[must_use]
    pub const fn is_punishment(&self) -> bool {
        self.kind().is_punishment()
    }

    /// Short name (`delete`, `warn`, `timeout`, `kick`, `ban`, `alert`, `lockdown`): the serde tag, also
    /// part of a case's idempotency key.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::Warn => "warn",
            Self::Timeout { .. } => "timeout",
            Self::Kick => "kick",
            Self::Ban { .. } => "ban",
            Self::Alert { .. } => "alert",
            Self::Lockdown => "lockdown",
        }
    }
}
