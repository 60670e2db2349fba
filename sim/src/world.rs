//! The generated world: guilds, channels, roles, users and members, derived lazily and
//! deterministically from a seed. Guild `n`'s data is a pure function of `(seed, n)`; a guild
//! is only stored once something changes it.

use crate::util::{DISCORD_EPOCH_MS, hash3, iso, snowflake_at, snowflake_ms};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Permission bits (Discord's numbering).
#[allow(missing_docs)]
pub mod perms {
    pub const CREATE_INSTANT_INVITE: u64 = 1 << 0;
    pub const KICK_MEMBERS: u64 = 1 << 1;
    pub const BAN_MEMBERS: u64 = 1 << 2;
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_CHANNELS: u64 = 1 << 4;
    pub const MANAGE_GUILD: u64 = 1 << 5;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_AUDIT_LOG: u64 = 1 << 7;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MENTION_EVERYONE: u64 = 1 << 17;
    pub const USE_EXTERNAL_EMOJIS: u64 = 1 << 18;
    pub const CONNECT: u64 = 1 << 20;
    pub const SPEAK: u64 = 1 << 21;
    pub const CHANGE_NICKNAME: u64 = 1 << 26;
    pub const MANAGE_NICKNAMES: u64 = 1 << 27;
    pub const MANAGE_ROLES: u64 = 1 << 28;
    pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
    pub const MANAGE_THREADS: u64 = 1 << 34;
    pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
    pub const MODERATE_MEMBERS: u64 = 1 << 40;
    /// Every permission bit Discord defines (through bit 50).
    pub const ALL: u64 = (1 << 51) - 1;
    /// What @everyone gets in generated guilds.
    pub const EVERYONE: u64 = CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CONNECT
        | SPEAK
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS;
    /// What a moderation bot is invited with.
    pub const BOT: u64 = KICK_MEMBERS
        | BAN_MEMBERS
        | VIEW_AUDIT_LOG
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | MANAGE_MESSAGES
        | EMBED_LINKS
        | READ_MESSAGE_HISTORY
        | MANAGE_NICKNAMES
        | MANAGE_ROLES
        | MANAGE_THREADS
        | MODERATE_MEMBERS;
    /// The generated Moderator role.
    pub const MODERATOR: u64 = KICK_MEMBERS
        | BAN_MEMBERS
        | VIEW_AUDIT_LOG
        | MANAGE_MESSAGES
        | MANAGE_NICKNAMES
        | MODERATE_MEMBERS;
}

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

/// Highest guild index the id scheme can encode (guild ids carry the index in their low
/// 22 bits; indices from 0x3F0000 are reserved for ids made at run time).
pub const MAX_GUILDS: u64 = 0x3F_0000;

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

/// Role names of generated guilds, by slot.
const ROLE_EVERYONE: usize = 0;
/// Slot of "Member".
const ROLE_MEMBER: usize = 1;
/// Slot of "Moderator".
const ROLE_MODERATOR: usize = 2;
/// Slot of the bot's managed role.
const ROLE_BOT: usize = 3;
/// Slot of "Admin".
const ROLE_ADMIN: usize = 4;

const FIRST_WORDS: &[&str] = &[
    "Crimson", "Quiet", "Lunar", "Pixel", "Cozy", "Rapid", "Golden", "Hidden", "Iron", "Velvet",
    "Neon", "Stormy", "Happy", "Arcane", "Mellow", "Wild",
];
const SECOND_WORDS: &[&str] = &[
    "Foxes",
    "Harbor",
    "Guild",
    "Lounge",
    "Collective",
    "Den",
    "Club",
    "Garden",
    "Forge",
    "Society",
    "Hideout",
    "Realm",
    "Camp",
    "Works",
    "Circle",
    "Tavern",
];
const NAMES: &[&str] = &[
    "alex", "sam", "robin", "kai", "jules", "noor", "mika", "ren", "ash", "lee", "sky", "rio",
    "nova", "eli", "max", "zoe", "ivy", "leo", "mia", "finn",
];

/// Earliest generated account/guild creation (2015-06-01).
const GEN_START_MS: u64 = 1_433_116_800_000;
/// Latest generated guild creation (2023-01-01).
const GEN_GUILD_END_MS: u64 = 1_672_531_200_000;
/// Latest generated account creation (2025-06-01).
const GEN_USER_END_MS: u64 = 1_748_736_000_000;

/// The world: how to derive any guild, plus the bot's identity.
#[derive(Debug, Clone)]
pub struct World {
    /// Seed.
    pub seed: u64,
    /// Number of generated guilds.
    pub guild_count: u64,
    /// Human members per guild.
    pub members_per_guild: u32,
    /// The bot user.
    pub bot: User,
    /// Application id (equals the bot's user id, as for applications made since 2019).
    pub application_id: u64,
    /// The application's owner.
    pub app_owner: User,
}

impl World {
    /// A world from a seed.
    #[must_use]
    pub fn new(seed: u64, guild_count: u64, members_per_guild: u32) -> Self {
        let bot_ms = GEN_START_MS + hash3(seed, 0xB07, 0) % (GEN_GUILD_END_MS - GEN_START_MS);
        let bot_id = snowflake_at(bot_ms, 0x3F_FFFF);
        let owner_ms = bot_ms - 86_400_000;
        Self {
            seed,
            guild_count: guild_count.min(MAX_GUILDS),
            members_per_guild: members_per_guild.max(1),
            bot: User {
                id: bot_id,
                username: "Kyuta".into(),
                global_name: None,
                bot: true,
                avatar: None,
            },
            application_id: bot_id,
            app_owner: User {
                id: snowflake_at(owner_ms, 0x3F_FFFE),
                username: "kyuta-dev".into(),
                global_name: Some("Kyuta Dev".into()),
                bot: false,
                avatar: None,
            },
        }
    }

    fn guild_ms(&self, n: u64) -> u64 {
        GEN_START_MS + hash3(self.seed, n, 1) % (GEN_GUILD_END_MS - GEN_START_MS)
    }

    /// Id of guild `n` (`n < guild_count`).
    #[must_use]
    pub fn guild_id(&self, n: u64) -> u64 {
        snowflake_at(self.guild_ms(n), n)
    }

    /// The guild index an id of the generated world encodes, when it is one of its guilds.
    #[must_use]
    pub fn guild_index(&self, guild_id: u64) -> Option<u64> {
        let n = guild_id & 0x3F_FFFF;
        (n < self.guild_count && self.guild_id(n) == guild_id).then_some(n)
    }

    /// The generated guild index an entity id (channel, role, user) belongs to, if any.
    #[must_use]
    pub fn owner_index(&self, id: u64) -> Option<u64> {
        let n = id & 0x3F_FFFF;
        (n < self.guild_count).then_some(n)
    }

    /// Generates guild `n` as it is before anything changed it.
    #[must_use]
    pub fn generate(&self, n: u64) -> Guild {
        let seed = self.seed;
        let gms = self.guild_ms(n);
        let gid = snowflake_at(gms, n);
        let name = format!(
            "{} {} {}",
            FIRST_WORDS[(hash3(seed, n, 2) % FIRST_WORDS.len() as u64) as usize],
            SECOND_WORDS[(hash3(seed, n, 3) % SECOND_WORDS.len() as u64) as usize],
            n
        );
        let at = |k: u64| snowflake_at(gms + k, n);
        let role = |slot: usize,
                    name: &str,
                    position: i64,
                    permissions: u64,
                    color: u32,
                    bot_id: Option<u64>| Role {
            id: if slot == ROLE_EVERYONE {
                gid
            } else {
                at(100 + slot as u64)
            },
            name: name.into(),
            position,
            permissions,
            color,
            hoist: slot != ROLE_EVERYONE,
            managed: bot_id.is_some(),
            bot_id,
        };
        let roles = vec![
            role(ROLE_EVERYONE, "@everyone", 0, perms::EVERYONE, 0, None),
            role(ROLE_MEMBER, "Member", 1, 0, 0x3498DB, None),
            role(
                ROLE_MODERATOR,
                "Moderator",
                2,
                perms::MODERATOR,
                0x2ECC71,
                None,
            ),
            role(
                ROLE_BOT,
                "Kyuta",
                3,
                perms::BOT,
                0x9B59B6,
                Some(self.bot.id),
            ),
            role(ROLE_ADMIN, "Admin", 4, perms::ADMINISTRATOR, 0xE74C3C, None),
        ];
        let category = at(1);
        let chan = |k: u64, name: &str, kind: u8, position: i64, parent: Option<u64>| Channel {
            id: at(k),
            guild_id: Some(gid),
            name: name.into(),
            kind,
            position,
            parent_id: parent,
            overwrites: Vec::new(),
            topic: None,
            rate_limit_per_user: 0,
            recipient: None,
        };
        let mut staff = chan(5, "staff", channel_type::GUILD_TEXT, 3, Some(category));
        staff.overwrites = vec![
            Overwrite {
                id: gid,
                kind: 0,
                allow: 0,
                deny: perms::VIEW_CHANNEL,
            },
            Overwrite {
                id: roles[ROLE_MODERATOR].id,
                kind: 0,
                allow: perms::VIEW_CHANNEL,
                deny: 0,
            },
        ];
        let mut mod_log = chan(4, "mod-log", channel_type::GUILD_TEXT, 2, Some(category));
        mod_log.overwrites = vec![
            Overwrite {
                id: gid,
                kind: 0,
                allow: 0,
                deny: perms::SEND_MESSAGES,
            },
            Overwrite {
                id: roles[ROLE_BOT].id,
                kind: 0,
                allow: perms::SEND_MESSAGES | perms::VIEW_CHANNEL,
                deny: 0,
            },
        ];
        let channels = vec![
            chan(1, "Text Channels", channel_type::GUILD_CATEGORY, 0, None),
            chan(2, "general", channel_type::GUILD_TEXT, 0, Some(category)),
            chan(3, "off-topic", channel_type::GUILD_TEXT, 1, Some(category)),
            mod_log,
            staff,
            chan(6, "Voice", channel_type::GUILD_VOICE, 4, Some(category)),
        ];
        let mut members = BTreeMap::new();
        let mut used = std::collections::HashSet::new();
        for k in 0..u64::from(self.members_per_guild) {
            let span = GEN_USER_END_MS - GEN_START_MS;
            let mut ums = GEN_START_MS + hash3(seed, n, 1000 + k) % span;
            while !used.insert(ums) {
                ums += 1;
            }
            let uid = snowflake_at(ums, n);
            let base = NAMES[(hash3(seed, n, 5000 + k) % NAMES.len() as u64) as usize];
            let user = User {
                id: uid,
                username: format!("{base}_{n}_{k}"),
                global_name: Some(format!("{}{}", &base[..1].to_uppercase(), &base[1..])),
                bot: false,
                avatar: None,
            };
            let mut roles_of = Vec::new();
            match k {
                0 => roles_of.push(roles[ROLE_ADMIN].id),
                1 => roles_of.push(roles[ROLE_ADMIN].id),
                2 => roles_of.push(roles[ROLE_MODERATOR].id),
                _ if k % 3 != 0 => roles_of.push(roles[ROLE_MEMBER].id),
                _ => {}
            }
            let joined = gms.max(ums) + hash3(seed, n, 9000 + k) % 86_400_000;
            members.insert(
                uid,
                Member {
                    user,
                    nick: None,
                    roles: roles_of,
                    joined_ms: joined,
                    communication_disabled_until: None,
                },
            );
        }
        let owner_id = *members
            .keys()
            .find(|id| members[id].roles.first() == Some(&roles[ROLE_ADMIN].id))
            .unwrap_or(members.keys().next().unwrap_or(&self.bot.id));
        let bot_joined_ms = gms + 86_400_000;
        members.insert(
            self.bot.id,
            Member {
                user: self.bot.clone(),
                nick: None,
                roles: vec![roles[ROLE_BOT].id],
                joined_ms: bot_joined_ms,
                communication_disabled_until: None,
            },
        );
        Guild {
            index: n,
            id: gid,
            name,
            owner_id,
            channels,
            roles,
            members,
            bans: BTreeMap::new(),
            bot_joined_ms,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_ids_decode() {
        let w = World::new(7, 1000, 20);
        let g = w.generate(42);
        assert_eq!(g, w.generate(42));
        assert_eq!(w.guild_index(g.id), Some(42));
        assert_eq!(g.everyone().id, g.id);
        assert_eq!(g.members.len(), 21);
        for c in &g.channels {
            assert_eq!(w.owner_index(c.id), Some(42));
        }
        for m in g.members.values().filter(|m| !m.user.bot) {
            assert_eq!(w.owner_index(m.user.id), Some(42));
        }
        assert!(g.mod_log().is_some());
    }

    #[test]
    fn hierarchy_puts_bot_below_owner_and_admins() {
        let w = World::new(1, 10, 20);
        let g = w.generate(3);
        let bot = w.bot.id;
        assert!(!g.outranks(bot, g.owner_id));
        let admin = g
            .members
            .values()
            .find(|m| m.roles.contains(&g.roles[ROLE_ADMIN].id) && m.user.id != g.owner_id)
            .expect("an admin");
        assert!(!g.outranks(bot, admin.user.id));
        let plain = g
            .members
            .values()
            .find(|m| m.roles.is_empty())
            .expect("a plain member");
        assert!(g.outranks(bot, plain.user.id));
        assert_ne!(g.base_permissions(bot) & perms::BAN_MEMBERS, 0);
        assert_eq!(g.base_permissions(bot) & perms::ADMINISTRATOR, 0);
        let staff = g.channels.iter().find(|c| c.name == "staff").unwrap();
        assert_eq!(g.channel_permissions(bot, staff.id), 0);
    }

    #[test]
    fn guilds_spread_over_shards() {
        let w = World::new(1, 4000, 1);
        let mut counts = [0u32; 4];
        for n in 0..4000 {
            counts[((w.guild_id(n) >> 22) % 4) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
