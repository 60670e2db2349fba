//! Guilds with their roles and bans: lookups, permissions after roles and overwrites, the
//! role hierarchy, and the guild objects of REST and GUILD_CREATE.

use super::{Channel, Member, User, perms};
use crate::util::{DISCORD_EPOCH_MS, iso};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Snowflake (@everyone's equals the guild id).
    pub id: u64,
    /// Name.
    pub name: String,
    /// Position (0 = @everyone).
    pub position: i64,
    /// Permission bits.
    pub permissions: u64,
    /// Colour.
    pub color: u32,
    /// Shown separately.
    pub hoist: bool,
    /// Managed by an integration (the bot's own role).
    pub managed: bool,
    /// For a bot's managed role, the bot's user id.
    pub bot_id: Option<u64>,
}

impl Role {
    /// Discord's role object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "name": self.name,
            "description": null,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": null, "tertiary_color": null},
            "hoist": self.hoist,
            "icon": null,
            "unicode_emoji": null,
            "position": self.position,
            "permissions": self.permissions.to_string(),
            "managed": self.managed,
            "mentionable": false,
            "flags": 0,
        });
        if let Some(bot) = self.bot_id {
            v["tags"] = json!({"bot_id": bot.to_string()});
        }
        v
    }
}

/// A ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// The banned user.
    pub user: User,
    /// Audit-log reason given.
    pub reason: Option<String>,
}

/// One guild, generated or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guild {
    /// Index in the world.
    pub index: u64,
    /// Snowflake.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Owner user id.
    pub owner_id: u64,
    /// Channels.
    pub channels: Vec<Channel>,
    /// Roles (first is @everyone).
    pub roles: Vec<Role>,
    /// Members by user id (the bot included).
    pub members: BTreeMap<u64, Member>,
    /// Bans by user id.
    pub bans: BTreeMap<u64, Ban>,
    /// When the bot joined (Unix ms).
    pub bot_joined_ms: u64,
}

impl Guild {
    /// The @everyone role.
    #[must_use]
    pub fn everyone(&self) -> &Role {
        &self.roles[0]
    }

    /// A role by id.
    #[must_use]
    pub fn role(&self, id: u64) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// A channel by id.
    #[must_use]
    pub fn channel(&self, id: u64) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The mod-log channel.
    #[must_use]
    pub fn mod_log(&self) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == "mod-log")
    }

    /// Guild-level permissions of a member.
    #[must_use]
    pub fn base_permissions(&self, user_id: u64) -> u64 {
        if user_id == self.owner_id {
            return perms::ALL;
        }
        let Some(member) = self.members.get(&user_id) else {
            return 0;
        };
        let mut p = self.everyone().permissions;
        for r in &member.roles {
            if let Some(role) = self.role(*r) {
                p |= role.permissions;
            }
        }
        if p & perms::ADMINISTRATOR != 0 {
            perms::ALL
        } else {
            p
        }
    }

    /// Channel-level permissions of a member (Discord's overwrite algorithm).
    #[must_use]
    pub fn channel_permissions(&self, user_id: u64, channel_id: u64) -> u64 {
        let base = self.base_permissions(user_id);
        if base & perms::ADMINISTRATOR != 0 {
            return perms::ALL;
        }
        let (Some(channel), Some(member)) = (self.channel(channel_id), self.members.get(&user_id))
        else {
            return base;
        };
        let mut p = base;
        if let Some(o) = channel.overwrites.iter().find(|o| o.id == self.id) {
            p &= !o.deny;
            p |= o.allow;
        }
        let (mut allow, mut deny) = (0, 0);
        for o in &channel.overwrites {
            if o.kind == 0 && member.roles.contains(&o.id) {
                allow |= o.allow;
                deny |= o.deny;
            }
        }
        p &= !deny;
        p |= allow;
        if let Some(o) = channel
            .overwrites
            .iter()
            .find(|o| o.kind == 1 && o.id == user_id)
        {
            p &= !o.deny;
            p |= o.allow;
        }
        if p & perms::VIEW_CHANNEL == 0 {
            return 0;
        }
        p
    }

    /// Position of the member's highest role (0 when only @everyone).
    #[must_use]
    pub fn highest_position(&self, user_id: u64) -> i64 {
        self.members
            .get(&user_id)
            .map(|m| {
                m.roles
                    .iter()
                    .filter_map(|r| self.role(*r))
                    .map(|r| r.position)
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// Whether `actor` outranks `target` (Discord's hierarchy: the owner outranks everyone,
    /// nobody outranks the owner, otherwise the highest role must be strictly higher).
    #[must_use]
    pub fn outranks(&self, actor: u64, target: u64) -> bool {
        if target == self.owner_id {
            return false;
        }
        if actor == self.owner_id {
            return true;
        }
        self.highest_position(actor) > self.highest_position(target)
    }

    /// Discord's guild object as `GET /guilds/{id}` returns it (no members/channels).
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "name": self.name,
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": self.owner_id.to_string(),
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": self.roles.iter().map(Role::to_json).collect::<Vec<_>>(),
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": self.channels.get(1).map(|c| c.id.to_string()),
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_presences": null,
            "max_members": 500000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
            "region": "deprecated",
            "home_header": null,
            "nsfw": false,
            "hub_type": null,
            "latest_onboarding_question_id": null,
        })
    }

    /// The GUILD_CREATE payload: the guild plus channels, the members `view` lists (see
    /// [`crate::frames::CreateView::members`]) and the gateway-only fields.
    #[must_use]
    pub fn to_create_json(&self, view: crate::frames::CreateView) -> Value {
        let mut v = self.to_json();
        let large = view.large(self.members.len() as u64);
        let members: Vec<Value> = self
            .shown_members(view)
            .into_iter()
            .map(Member::to_json)
            .collect();
        let o = v.as_object_mut().expect("object");
        o.insert("joined_at".into(), json!(iso(self.bot_joined_ms)));
        o.insert("large".into(), json!(large));
        o.insert("unavailable".into(), json!(false));
        o.insert("member_count".into(), json!(self.members.len()));
        o.insert("members".into(), json!(members));
        o.insert(
            "channels".into(),
            json!(
                self.channels
                    .iter()
                    .map(Channel::to_json)
                    .collect::<Vec<_>>()
            ),
        );
        o.insert("threads".into(), json!([]));
        o.insert("presences".into(), json!([]));
        o.insert("voice_states".into(), json!([]));
        o.insert("stage_instances".into(), json!([]));
        o.insert("guild_scheduled_events".into(), json!([]));
        o.insert("soundboard_sounds".into(), json!([]));
        o.insert("lazy".into(), json!(true));
        v
    }
}

/// Creation time of a guild (Unix ms), from its id.
#[must_use]
pub fn guild_created_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}
