//! Channels: guild channels and DMs, their kinds, their permission overwrites and the channel
//! object Discord sends for them.

use super::User;
use serde_json::{Value, json};

/// Channel kinds used here (Discord's numbering).
pub mod channel_type {
    /// A guild text channel.
    pub const GUILD_TEXT: u8 = 0;
    /// A DM.
    pub const DM: u8 = 1;
    /// A guild voice channel.
    pub const GUILD_VOICE: u8 = 2;
    /// A category.
    pub const GUILD_CATEGORY: u8 = 4;
}

/// A permission overwrite on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overwrite {
    /// Role or member id.
    pub id: u64,
    /// 0 = role, 1 = member.
    pub kind: u8,
    /// Allowed bits.
    pub allow: u64,
    /// Denied bits.
    pub deny: u64,
}

/// A channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Snowflake.
    pub id: u64,
    /// Owning guild (None for DMs).
    pub guild_id: Option<u64>,
    /// Name.
    pub name: String,
    /// Discord channel type.
    pub kind: u8,
    /// Sorting position.
    pub position: i64,
    /// Parent category.
    pub parent_id: Option<u64>,
    /// Permission overwrites.
    pub overwrites: Vec<Overwrite>,
    /// Topic (text channels).
    pub topic: Option<String>,
    /// Slowmode: seconds a member must wait between two messages (0..=21600; text and
    /// voice channels).
    pub rate_limit_per_user: u32,
    /// DM recipient.
    pub recipient: Option<User>,
}

impl Channel {
    /// Discord's channel object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        if self.kind == channel_type::DM {
            return json!({
                "id": self.id.to_string(),
                "type": self.kind,
                "last_message_id": null,
                "flags": 0,
                "recipients": self.recipient.iter().map(User::to_json).collect::<Vec<_>>(),
            });
        }
        let mut v = json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "guild_id": self.guild_id.map(|g| g.to_string()),
            "name": self.name,
            "position": self.position,
            "parent_id": self.parent_id.map(|p| p.to_string()),
            "flags": 0,
            "permission_overwrites": self.overwrites.iter().map(|o| json!({
                "id": o.id.to_string(),
                "type": o.kind,
                "allow": o.allow.to_string(),
                "deny": o.deny.to_string(),
            })).collect::<Vec<_>>(),
        });
        match self.kind {
            channel_type::GUILD_TEXT => {
                v["topic"] = json!(self.topic);
                v["nsfw"] = json!(false);
                v["last_message_id"] = Value::Null;
                v["rate_limit_per_user"] = json!(self.rate_limit_per_user);
            }
            channel_type::GUILD_VOICE => {
                v["bitrate"] = json!(64000);
                v["user_limit"] = json!(0);
                v["rtc_region"] = Value::Null;
                v["nsfw"] = json!(false);
                v["rate_limit_per_user"] = json!(self.rate_limit_per_user);
                v["last_message_id"] = Value::Null;
            }
            _ => {}
        }
        v
    }
}
