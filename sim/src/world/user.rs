//! Users and guild members, and the user and member objects Discord sends for them.

use crate::util::{iso, snowflake_ms};
use serde_json::{Value, json};

/// A Discord user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Snowflake; the account's creation time is encoded in it.
    pub id: u64,
    /// Username.
    pub username: String,
    /// Display name.
    pub global_name: Option<String>,
    /// Bot account.
    pub bot: bool,
    /// Avatar hash (`None`: the default avatar).
    pub avatar: Option<String>,
}

impl User {
    /// Discord's user object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
            "banner": null,
            "accent_color": null,
            "avatar_decoration_data": null,
            "collectibles": null,
            "primary_guild": null,
        });
        if self.bot {
            v["bot"] = json!(true);
        }
        v
    }

    /// Account creation time (Unix ms).
    #[must_use]
    pub fn created_ms(&self) -> u64 {
        snowflake_ms(self.id)
    }
}

/// A guild member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user: User,
    /// Nickname.
    pub nick: Option<String>,
    /// Role ids (never @everyone).
    pub roles: Vec<u64>,
    /// Join time (Unix ms).
    pub joined_ms: u64,
    /// Timeout end (Unix ms).
    pub communication_disabled_until: Option<u64>,
}

impl Member {
    /// Discord's guild member object (without `guild_id`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "user": self.user.to_json(),
            "nick": self.nick,
            "avatar": null,
            "banner": null,
            "roles": self.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "joined_at": iso(self.joined_ms),
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": self.communication_disabled_until.map(iso),
        })
    }
}
