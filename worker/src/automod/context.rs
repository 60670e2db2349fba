//! What rules look at and what they report: a message or a joining member as automod sees
//! it, and the [`Evidence`] of a rule that fired.

use serde::Serialize;
use twilight_model::guild::Permissions;

use super::toxicity::TermHit;

/// Longest excerpt of a message kept in the evidence.
pub const EXCERPT_CHARS: usize = 300;

pub use crate::snowflake;

/// Permissions that make a member a moderator for automod (exempt by default).
pub const MODERATOR_PERMISSIONS: Permissions = Permissions::ADMINISTRATOR
    .union(Permissions::MANAGE_GUILD)
    .union(Permissions::MANAGE_MESSAGES)
    .union(Permissions::MODERATE_MEMBERS)
    .union(Permissions::KICK_MEMBERS)
    .union(Permissions::BAN_MEMBERS);

/// A message as automod sees it.
#[derive(Debug, Clone, Copy)]
pub struct MessageContext<'a> {
    /// Guild.
    pub guild_id: u64,
    /// Channel.
    pub channel_id: u64,
    /// Message id (also the event id for counters).
    pub message_id: u64,
    /// Author.
    pub author_id: u64,
    /// Whether the author is a bot or webhook.
    pub author_is_bot: bool,
    /// The author's roles.
    pub author_roles: &'a [u64],
    /// The author's guild permissions (in this channel when known).
    pub author_permissions: Permissions,
    /// Text.
    pub content: &'a str,
    /// Distinct users mentioned.
    pub user_mentions: u32,
    /// Distinct roles mentioned.
    pub role_mentions: u32,
    /// Whether the message mentions `@everyone` or `@here`.
    pub mentions_everyone: bool,
    /// Attachments.
    pub attachments: u32,
    /// When it was sent (Unix ms).
    pub timestamp_ms: u64,
}

impl<'a> MessageContext<'a> {
    /// A message by an ordinary member with no roles, mentions or attachments, sent at the
    /// time its id says.
    #[must_use]
    pub fn new(
        guild_id: u64,
        channel_id: u64,
        message_id: u64,
        author_id: u64,
        content: &'a str,
    ) -> Self {
        Self {
            guild_id,
            channel_id,
            message_id,
            author_id,
            author_is_bot: false,
            author_roles: &[],
            author_permissions: Permissions::empty(),
            content,
            user_mentions: 0,
            role_mentions: 0,
            mentions_everyone: false,
            attachments: 0,
            timestamp_ms: snowflake::timestamp_ms(message_id),
        }
    }
}

/// A member joining, as automod sees it.
#[derive(Debug, Clone, Copy)]
pub struct MemberContext<'a> {
    /// Guild.
    pub guild_id: u64,
    /// The member.
    pub user_id: u64,
    /// Whether the account is a bot.
    pub is_bot: bool,
    /// Username.
    pub username: &'a str,
    /// Display name, if any.
    pub global_name: Option<&'a str>,
    /// Guild nickname, if any.
    pub nick: Option<&'a str>,
    /// When the member joined (Unix ms).
    pub joined_at_ms: u64,
}

/// Why a rule fired.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// One sentence for people (shown in alerts, cases and `/automod test`).
    pub reason: String,
    /// What matched (term, pattern, domain, invite code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// Count reached (messages, mentions, joins, letters…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The threshold it was compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
    /// The window, in seconds, for counts over time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_secs: Option<u32>,
    /// Toxicity score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Toxicity terms found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<TermHit>,
    /// Message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<u64>,
    /// Channel id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<u64>,
    /// The start of the message or the name that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// Set on the join that started raid mode.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raid_started: bool,
}

/// The start of `s`, at most [`EXCERPT_CHARS`] characters, with `…` when cut.
#[must_use]
pub fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(EXCERPT_CHARS).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
