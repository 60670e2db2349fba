//! The world and its generation: the id scheme that encodes a guild's index in every id of
//! its data, and guild `n` as a pure function of `(seed, n)`.

use super::{Channel, Guild, Member, Overwrite, Role, User, channel_type, perms};
use crate::util::{hash3, snowflake_at};
use std::collections::BTreeMap;

/// Highest guild index the id scheme can encode (guild ids carry the index in their low
/// 22 bits; indices from 0x3F0000 are reserved for ids made at run time).
pub const MAX_GUILDS: u64 = 0x3F_0000;

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
