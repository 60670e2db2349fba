//! [`GuildCache`]: what permission and hierarchy checks need, fed by gateway events.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use twilight_model::gateway::event::Event;
use twilight_model::gateway::payload::incoming::GuildCreate;
use twilight_model::guild::{Member, Permissions, Role};

/// Default cap on cached guilds.
pub const DEFAULT_MAX_GUILDS: usize = 25_000;
/// Default cap on cached members per guild.
pub const DEFAULT_MAX_MEMBERS_PER_GUILD: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CachedRole {
    id: u64,
    position: i64,
    permissions: Permissions,
}

impl CachedRole {
    fn from_role(r: &Role) -> Self {
        Self {
            id: r.id.get(),
            position: r.position,
            permissions: r.permissions,
        }
    }

    /// Discord's role order: by position, and for equal positions the role with the lower
    /// id ranks higher.
    fn order_key(&self) -> (i64, std::cmp::Reverse<u64>) {
        (self.position, std::cmp::Reverse(self.id))
    }
}

#[derive(Debug)]
struct CachedGuild {
    name: Box<str>,
    owner_id: u64,
    /// Sorted by role id.
    roles: Vec<CachedRole>,
    /// User id → role ids.
    members: HashMap<u64, Box<[u64]>>,
    /// Channel and thread ids, sorted; `None` when the guild came from a REST read, which
    /// carries no channels.
    channels: Option<Vec<u64>>,
    last_used: AtomicU64,
}

/// Guild-level permissions of a member who is not the owner: `@everyone`'s permissions
/// (`everyone`, absent when the role is unknown) united with those of the member's roles;
/// everything when the result holds `ADMINISTRATOR`. Channel overwrites are not applied.
#[must_use]
pub fn guild_permissions(
    everyone: Option<Permissions>,
    roles: impl IntoIterator<Item = Permissions>,
) -> Permissions {
    let perms = roles
        .into_iter()
        .fold(everyone.unwrap_or(Permissions::empty()), |acc, p| acc | p);
    if perms.contains(Permissions::ADMINISTRATOR) {
        Permissions::all()
    } else {
        perms
    }
}

impl CachedGuild {
    fn role(&self, id: u64) -> Option<&CachedRole> {
        self.roles
            .binary_search_by_key(&id, |r| r.id)
            .ok()
            .map(|i| &self.roles[i])
    }

    /// `@everyone`'s permissions plus those of `roles` (see [`guild_permissions`]). (The
    /// owner is handled by the callers.)
    fn permissions_of(&self, guild_id: u64, roles: &[u64]) -> Permissions {
        guild_permissions(
            self.role(guild_id).map(|r| r.permissions),
            roles
                .iter()
                .filter_map(|id| self.role(*id))
                .map(|r| r.permissions),
        )
    }

    fn set_roles(&mut self, roles: &[Role]) {
        self.roles = roles.iter().map(CachedRole::from_role).collect();
        self.roles.sort_unstable_by_key(|r| r.id);
        self.roles.shrink_to_fit();
    }

    fn upsert_role(&mut self, role: &Role) {
        let r = CachedRole::from_role(role);
        match self.roles.binary_search_by_key(&r.id, |x| x.id) {
            Ok(i) => self.roles[i] = r,
            Err(i) => self.roles.insert(i, r),
        }
    }

    fn remove_role(&mut self, id: u64) {
        if let Ok(i) = self.roles.binary_search_by_key(&id, |x| x.id) {
            self.roles.remove(i);
        }
    }

    fn add_channel(&mut self, id: u64) {
        if let Some(channels) = &mut self.channels
            && let Err(i) = channels.binary_search(&id)
        {
            channels.insert(i, id);
        }
    }

    fn remove_channel(&mut self, id: u64) {
        if let Some(channels) = &mut self.channels
            && let Ok(i) = channels.binary_search(&id)
        {
            channels.remove(i);
        }
    }
}

/// A guild's name, owner and roles as the cache has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedGuildRoles {
    /// Guild name.
    pub name: String,
    /// Owner's user id.
    pub owner_id: u64,
    /// Every role: id, position, permissions (`@everyone` has the guild's id).
    pub roles: Vec<(u64, i64, Permissions)>,
}

/// A snapshot of the cache's size, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Guilds cached.
    pub guilds: usize,
    /// Members cached, over all guilds.
    pub members: usize,
    /// Roles cached, over all guilds.
    pub roles: usize,
}

/// Builds a [`GuildCache`].
#[derive(Debug, Clone)]
#[must_use]
pub struct GuildCacheBuilder {
    max_guilds: usize,
    max_members_per_guild: usize,
}

impl GuildCacheBuilder {
    /// Cap on cached guilds; beyond it the least recently used guild is dropped.
    pub fn max_guilds(mut self, n: usize) -> Self {
        self.max_guilds = n.max(1);
        self
    }

    /// Cap on cached members per guild; beyond it new members are not cached (the bot's own
    /// member always is). Lookups of uncached members return `None`.
    pub fn max_members_per_guild(mut self, n: usize) -> Self {
        self.max_members_per_guild = n;
        self
    }

    /// The cache.
    #[must_use]
    pub fn build(self) -> GuildCache {
        GuildCache {
            guilds: RwLock::new(HashMap::new()),
            bot_id: AtomicU64::new(0),
            tick: AtomicU64::new(0),
            max_guilds: self.max_guilds,
            max_members_per_guild: self.max_members_per_guild,
        }
    }
}

/// A bounded in-process cache of what permission and hierarchy checks need: each guild's
/// owner, its roles (id, position, permissions) and its members' role ids, plus the bot's
/// own user id. Fed by [`GuildCache::update`] with every gateway event; cheap to share
/// (`Arc<GuildCache>`), safe to use from many tasks.
///
/// Bounded: at most `max_guilds` guilds (least recently used dropped first) and
/// `max_members_per_guild` members per guild.
#[derive(Debug)]
pub struct GuildCache {
    guilds: RwLock<HashMap<u64, CachedGuild>>,
    bot_id: AtomicU64,
    tick: AtomicU64,
    max_guilds: usize,
    max_members_per_guild: usize,
}

impl Default for GuildCache {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl GuildCache {
    /// A cache with the default caps ([`DEFAULT_MAX_GUILDS`],
    /// [`DEFAULT_MAX_MEMBERS_PER_GUILD`]).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder to set the caps.
    pub fn builder() -> GuildCacheBuilder {
        GuildCacheBuilder {
            max_guilds: DEFAULT_MAX_GUILDS,
            max_members_per_guild: DEFAULT_MAX_MEMBERS_PER_GUILD,
        }
    }

    fn next_tick(&self) -> u64 {
        self.tick.fetch_add(1, Ordering::Relaxed)
    }

    /// Feeds one gateway event. Events the cache does not need are ignored.
    pub fn update(&self, event: &Event) {
        match event {
            Event::Ready(ready) => self.bot_id.store(ready.user.id.get(), Ordering::Relaxed),
            Event::GuildCreate(gc) => {
                if let GuildCreate::Available(g) = gc.as_ref() {
                    let mut guild = CachedGuild {
                        name: g.name.as_str().into(),
                        owner_id: g.owner_id.get(),
                        roles: Vec::new(),
                        members: HashMap::new(),
                        channels: None,
                        last_used: AtomicU64::new(self.next_tick()),
                    };
                    guild.set_roles(&g.roles);
                    // A guild read over REST has no channels; one from the gateway has at
                    // least one (or carries its threads).
                    if !g.channels.is_empty() || !g.threads.is_empty() {
                        let mut ids: Vec<u64> = g
                            .channels
                            .iter()
                            .chain(&g.threads)
                            .map(|c| c.id.get())
                            .collect();
                        ids.sort_unstable();
                        ids.dedup();
                        guild.channels = Some(ids);
                    }
                    let bot = self.bot_user_id();
                    for m in &g.members {
                        self.put_member(&mut guild, bot, m.user.id.get(), &m.roles);
                    }
                    self.insert_guild(g.id.get(), guild);
                }
            }
            Event::GuildUpdate(gu) => {
                let g = &gu.0;
                self.with_guild(g.id.get(), |guild| {
                    guild.name = g.name.as_str().into();
                    guild.owner_id = g.owner_id.get();
                    guild.set_roles(&g.roles);
                });
            }
            Event::GuildDelete(gd) => {
                self.write().remove(&gd.id.get());
            }
            Event::RoleCreate(rc) => {
                self.with_guild(rc.guild_id.get(), |g| g.upsert_role(&rc.role))
            }
            Event::RoleUpdate(ru) => {
                self.with_guild(ru.guild_id.get(), |g| g.upsert_role(&ru.role))
            }
            Event::RoleDelete(rd) => {
                self.with_guild(rd.guild_id.get(), |g| g.remove_role(rd.role_id.get()));
            }
            Event::ChannelCreate(c) => self.channel_added(&c.0),
            Event::ThreadCreate(c) => self.channel_added(&c.0),
            Event::ChannelDelete(c) => {
                if let Some(g) = c.0.guild_id {
                    self.with_guild(g.get(), |guild| guild.remove_channel(c.0.id.get()));
                }
            }
            Event::ThreadDelete(t) => {
                self.with_guild(t.guild_id.get(), |guild| guild.remove_channel(t.id.get()));
            }
            Event::MemberAdd(ma) => self.member(ma.guild_id.get(), &ma.member),
            Event::MemberUpdate(mu) => {
                let bot = self.bot_user_id();
                self.with_guild(mu.guild_id.get(), |g| {
                    self.put_member(g, bot, mu.user.id.get(), &mu.roles);
                });
            }
            Event::MemberRemove(mr) => {
                self.with_guild(mr.guild_id.get(), |g| {
                    g.members.remove(&mr.user.id.get());
                });
            }
            Event::MemberChunk(chunk) => {
                let bot = self.bot_user_id();
                self.with_guild(chunk.guild_id.get(), |g| {
                    for m in &chunk.members {
                        self.put_member(g, bot, m.user.id.get(), &m.roles);
                    }
                });
            }
            _ => {}
        }
    }

    fn channel_added(&self, channel: &twilight_model::channel::Channel) {
        if let Some(g) = channel.guild_id {
            self.with_guild(g.get(), |guild| guild.add_channel(channel.id.get()));
        }
    }

    fn member(&self, guild_id: u64, m: &Member) {
        let bot = self.bot_user_id();
        self.with_guild(guild_id, |g| {
            self.put_member(g, bot, m.user.id.get(), &m.roles)
        });
    }

    fn put_member(
        &self,
        guild: &mut CachedGuild,
        bot: Option<u64>,
        user_id: u64,
        roles: &[twilight_model::id::Id<twilight_model::id::marker::RoleMarker>],
    ) {
        let ids: Box<[u64]> = roles.iter().map(|r| r.get()).collect();
        if let Some(slot) = guild.members.get_mut(&user_id) {
            *slot = ids;
        } else if guild.members.len() < self.max_members_per_guild || bot == Some(user_id) {
            guild.members.insert(user_id, ids);
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, CachedGuild>> {
        self.guilds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, CachedGuild>> {
        self.guilds
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert_guild(&self, id: u64, guild: CachedGuild) {
        let mut guilds = self.write();
        if !guilds.contains_key(&id) && guilds.len() >= self.max_guilds {
            let victim = guilds
                .iter()
                .min_by_key(|(_, g)| g.last_used.load(Ordering::Relaxed))
                .map(|(id, _)| *id);
            if let Some(v) = victim {
                guilds.remove(&v);
            }
        }
        guilds.insert(id, guild);
    }

    fn with_guild(&self, id: u64, f: impl FnOnce(&mut CachedGuild)) {
        let tick = self.next_tick();
        if let Some(g) = self.write().get_mut(&id) {
            g.last_used.store(tick, Ordering::Relaxed);
            f(g);
        }
    }

    fn look<T>(&self, id: u64, f: impl FnOnce(&CachedGuild) -> Option<T>) -> Option<T> {
        let guilds = self.read();
        let g = guilds.get(&id)?;
        g.last_used.store(self.next_tick(), Ordering::Relaxed);
        f(g)
    }

    /// The bot's own user id, once READY was seen.
    #[must_use]
    pub fn bot_user_id(&self) -> Option<u64> {
        match self.bot_id.load(Ordering::Relaxed) {
            0 => None,
            id => Some(id),
        }
    }

    /// Whether the guild is cached.
    #[must_use]
    pub fn contains_guild(&self, guild_id: u64) -> bool {
        self.read().contains_key(&guild_id)
    }

    /// The guild owner's user id.
    #[must_use]
    pub fn owner_id(&self, guild_id: u64) -> Option<u64> {
        self.look(guild_id, |g| Some(g.owner_id))
    }

    /// The guild's name, owner and roles (id, position, permissions), if it is cached.
    #[must_use]
    pub fn guild_roles(&self, guild_id: u64) -> Option<CachedGuildRoles> {
        self.look(guild_id, |g| {
            Some(CachedGuildRoles {
                name: g.name.to_string(),
                owner_id: g.owner_id,
                roles: g
                    .roles
                    .iter()
                    .map(|r| (r.id, r.position, r.permissions))
                    .collect(),
            })
        })
    }

    /// Whether `channel_id` is a channel or thread of the guild: `None` when the cache does
    /// not know the guild's channels (not cached, or read over REST). A `Some(false)` may be
    /// a channel created since the cache last heard of the guild; callers that refuse on it
    /// confirm with Discord first ([`crate::commands::GuildScope::check_channel`]).
    #[must_use]
    pub fn has_channel(&self, guild_id: u64, channel_id: u64) -> Option<bool> {
        self.look(guild_id, |g| {
            g.channels
                .as_ref()
                .map(|c| c.binary_search(&channel_id).is_ok())
        })
    }

    /// Whether `role_id` is a role of the guild (`@everyone` included); `None` when the
    /// guild is not cached.
    #[must_use]
    pub fn has_role(&self, guild_id: u64, role_id: u64) -> Option<bool> {
        self.look(guild_id, |g| Some(g.role(role_id).is_some()))
    }

    /// Remembers that `channel_id` belongs to the guild (confirmed over REST), when the
    /// guild's channels are known.
    pub fn note_channel(&self, guild_id: u64, channel_id: u64) {
        self.with_guild(guild_id, |g| g.add_channel(channel_id));
    }

    /// The member's role ids (without `@everyone`), if the member is cached.
    #[must_use]
    pub fn member_roles(&self, guild_id: u64, user_id: u64) -> Option<Vec<u64>> {
        self.look(guild_id, |g| g.members.get(&user_id).map(|r| r.to_vec()))
    }

    /// The member's guild-level permissions: `@everyone`'s plus those of each of its roles;
    /// everything for the owner and for members with ADMINISTRATOR. `None` when the guild or
    /// (for anyone but the owner) the member is not cached.
    #[must_use]
    pub fn member_permissions(&self, guild_id: u64, user_id: u64) -> Option<Permissions> {
        self.look(guild_id, |g| {
            if g.owner_id == user_id {
                return Some(Permissions::all());
            }
            Some(g.permissions_of(guild_id, g.members.get(&user_id)?))
        })
    }

    /// Guild-level permissions of `user_id` holding `roles` (e.g. the roles a MESSAGE_CREATE
    /// carries for its author), from the cached guild's roles; everything for the owner and
    /// with ADMINISTRATOR. `None` when the guild is not cached.
    #[must_use]
    pub fn permissions_with_roles(
        &self,
        guild_id: u64,
        user_id: u64,
        roles: &[u64],
    ) -> Option<Permissions> {
        self.look(guild_id, |g| {
            if g.owner_id == user_id {
                return Some(Permissions::all());
            }
            Some(g.permissions_of(guild_id, roles))
        })
    }

    /// The member's highest role as its rank in Discord's role order (by position; for equal
    /// positions the lower role id ranks higher): `@everyone` and members without roles are
    /// 0, and two different roles never have the same rank, so "strictly above" is a plain
    /// `>`. `None` when the guild or the member is not cached. Ranks are comparable within
    /// one guild at one moment only.
    #[must_use]
    pub fn highest_role_position(&self, guild_id: u64, user_id: u64) -> Option<i64> {
        self.look(guild_id, |g| {
            let roles = g.members.get(&user_id)?;
            let top = roles
                .iter()
                .filter(|id| **id != guild_id)
                .filter_map(|id| g.role(*id))
                .max_by_key(|r| r.order_key())?;
            let key = top.order_key();
            let below = g
                .roles
                .iter()
                .filter(|r| r.id != guild_id && r.order_key() < key)
                .count();
            Some(i64::try_from(below).unwrap_or(i64::MAX) + 1)
        })
        .or_else(|| {
            // A cached member without roles sits at @everyone.
            self.look(guild_id, |g| g.members.contains_key(&user_id).then_some(0))
        })
    }

    /// The id of the member's highest role (Discord's order), `None` when it has none or is
    /// not cached.
    #[must_use]
    pub fn highest_role(&self, guild_id: u64, user_id: u64) -> Option<u64> {
        self.look(guild_id, |g| {
            g.members
                .get(&user_id)?
                .iter()
                .filter(|id| **id != guild_id)
                .filter_map(|id| g.role(*id))
                .max_by_key(|r| r.order_key())
                .map(|r| r.id)
        })
    }

    /// How many guilds are cached.
    #[must_use]
    pub fn guild_count(&self) -> usize {
        self.read().len()
    }

    /// Guild, member and role counts.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let guilds = self.read();
        let mut s = CacheStats {
            guilds: guilds.len(),
            ..CacheStats::default()
        };
        for g in guilds.values() {
            s.members += g.members.len();
            s.roles += g.roles.len();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use twilight_model::gateway::event::Event;
    use twilight_model::gateway::payload::incoming::{
        GuildCreate, GuildDelete, GuildUpdate, MemberAdd, MemberChunk, MemberRemove, MemberUpdate,
        Ready, RoleCreate, RoleDelete, RoleUpdate,
    };
    use twilight_model::guild::{Guild, PartialGuild, Permissions};

    use super::GuildCache;

    const G: u64 = 1_000;
    const OWNER: u64 = 10;
    const BOT: u64 = 11;

    fn role(id: u64, position: i64, perms: Permissions) -> Value {
        json!({
            "id": id.to_string(), "name": format!("r{id}"), "description": null,
            "color": 0, "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
            "hoist": false, "icon": null, "unicode_emoji": null, "position": position,
            "permissions": perms.bits().to_string(), "managed": false, "mentionable": false,
            "flags": 0,
        })
    }

    fn user(id: u64) -> Value {
        json!({"id": id.to_string(), "username": format!("u{id}"), "discriminator": "0",
               "global_name": null, "avatar": null, "bot": id == BOT})
    }

    fn member(id: u64, roles: &[u64]) -> Value {
        json!({
            "user": user(id), "nick": null, "avatar": null, "banner": null,
            "roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
            "deaf": false, "mute": false, "flags": 0, "pending": false,
            "communication_disabled_until": null,
        })
    }

    fn guild_json(id: u64, owner: u64, roles: Vec<Value>, members: Vec<Value>) -> Value {
        let mut g = json!({
            "id": id.to_string(), "name": "g", "icon": null, "splash": null,
            "discovery_splash": null, "owner_id": owner.to_string(), "afk_channel_id": null,
            "afk_timeout": 300, "widget_enabled": false, "widget_channel_id": null,
            "verification_level": 1, "default_message_notifications": 1,
            "explicit_content_filter": 2, "roles": roles, "emojis": [], "features": [],
            "mfa_level": 0, "application_id": null, "system_channel_id": null,
            "system_channel_flags": 0, "rules_channel_id": null, "max_presences": null,
        });
        let more = json!({
            "max_members": 500000, "vanity_url_code": null, "description": null,
            "banner": null, "premium_tier": 0, "premium_subscription_count": 0,
            "preferred_locale": "en-US", "public_updates_channel_id": null,
            "max_video_channel_users": 25, "nsfw_level": 0, "stickers": [],
            "premium_progress_bar_enabled": false, "safety_alerts_channel_id": null,
        });
        let gateway = json!({
            "joined_at": "2024-01-01T00:00:00.000000+00:00", "large": false,
            "unavailable": false, "member_count": members.len(), "members": members,
            "channels": [], "threads": [], "presences": [], "voice_states": [],
            "stage_instances": [], "guild_scheduled_events": [], "nsfw": false,
        });
        let o = g.as_object_mut().expect("object");
        for part in [more, gateway] {
            if let Value::Object(m) = part {
                o.extend(m);
            }
        }
        g
    }

    fn guild_create(id: u64, owner: u64, roles: Vec<Value>, members: Vec<Value>) -> Event {
        let g: Guild =
            serde_json::from_value(guild_json(id, owner, roles, members)).expect("guild json");
        Event::GuildCreate(Box::new(GuildCreate::Available(g)))
    }

    fn ready(bot: u64) -> Event {
        let r: Ready = serde_json::from_value(json!({
            "v": 10, "user": {"id": bot.to_string(), "username": "kyuta", "discriminator": "0",
                 "avatar": null, "bot": true, "mfa_enabled": false, "verified": true, "flags": 0},
            "guilds": [], "session_id": "s", "resume_gateway_url": "ws://127.0.0.1:1",
            "shard": [0, 1], "application": {"id": "5", "flags": 0},
        }))
        .expect("ready json");
        Event::Ready(r)
    }

    /// A guild with @everyone (SEND_MESSAGES), mod (pos 2, KICK+BAN), helper (pos 1,
    /// MODERATE), admin (pos 3, ADMINISTRATOR), bot role (pos 4, BAN).
    fn setup() -> GuildCache {
        let cache = GuildCache::new();
        cache.update(&ready(BOT));
        cache.update(&guild_create(
            G,
            OWNER,
            vec![
                role(G, 0, Permissions::SEND_MESSAGES),
                role(20, 2, Permissions::KICK_MEMBERS | Permissions::BAN_MEMBERS),
                role(21, 1, Permissions::MODERATE_MEMBERS),
                role(22, 3, Permissions::ADMINISTRATOR),
                role(23, 4, Permissions::BAN_MEMBERS),
            ],
            vec![
                member(OWNER, &[]),
                member(BOT, &[23]),
                member(30, &[20, 21]),
                member(31, &[]),
                member(32, &[22]),
            ],
        ));
        cache
    }

    #[test]
    fn ready_sets_bot_id_and_guild_create_fills() {
        let cache = setup();
        assert_eq!(cache.bot_user_id(), Some(BOT));
        assert_eq!(cache.guild_count(), 1);
        assert_eq!(cache.owner_id(G), Some(OWNER));
        let s = cache.stats();
        assert_eq!((s.guilds, s.members, s.roles), (1, 5, 5));
    }

    #[test]
    fn permissions_combine_roles_owner_and_admin() {
        let cache = setup();
        assert_eq!(cache.member_permissions(G, OWNER), Some(Permissions::all()));
        assert_eq!(
            cache.member_permissions(G, 32),
            Some(Permissions::all()),
            "admin"
        );
        assert_eq!(
            cache.member_permissions(G, 30),
            Some(
                Permissions::SEND_MESSAGES
                    | Permissions::KICK_MEMBERS
                    | Permissions::BAN_MEMBERS
                    | Permissions::MODERATE_MEMBERS
            )
        );
        assert_eq!(
            cache.member_permissions(G, 31),
            Some(Permissions::SEND_MESSAGES)
        );
        assert_eq!(cache.member_permissions(G, 99), None, "uncached member");
        assert_eq!(cache.member_permissions(G + 1, 30), None, "uncached guild");
    }

    #[test]
    fn hierarchy_ranks_follow_discord_order() {
        let cache = setup();
        // Ranks (excluding @everyone): helper(1)=1, mod(2)=2, admin(3)=3, bot(4)=4.
        assert_eq!(cache.highest_role_position(G, 30), Some(2));
        assert_eq!(cache.highest_role(G, 30), Some(20));
        assert_eq!(
            cache.highest_role_position(G, 31),
            Some(0),
            "no roles = @everyone"
        );
        assert_eq!(cache.highest_role_position(G, BOT), Some(4));
        assert_eq!(cache.highest_role_position(G, 99), None);
        // Equal positions: the lower id ranks higher.
        let tie_low: RoleCreate = serde_json::from_value(
            json!({"guild_id": G.to_string(), "role": role(40, 2, Permissions::empty())}),
        )
        .unwrap();
        cache.update(&Event::RoleCreate(tie_low));
        let add: MemberAdd = serde_json::from_value({
            let mut m = member(33, &[40]);
            m["guild_id"] = json!(G.to_string());
            m
        })
        .unwrap();
        cache.update(&Event::MemberAdd(Box::new(add)));
        // Role 20 and 40 share position 2; 20 has the lower id so it is above 40.
        let r20 = cache.highest_role_position(G, 30).unwrap();
        let r40 = cache.highest_role_position(G, 33).unwrap();
        assert!(r20 > r40, "{r20} vs {r40}");
        assert_ne!(r20, r40, "distinct roles never tie");
    }

    #[test]
    fn role_events_update_permissions_and_positions() {
        let cache = setup();
        let upd: RoleUpdate = serde_json::from_value(
            json!({"guild_id": G.to_string(), "role": role(21, 9, Permissions::ADMINISTRATOR)}),
        )
        .unwrap();
        cache.update(&Event::RoleUpdate(upd));
        assert_eq!(cache.member_permissions(G, 30), Some(Permissions::all()));
        assert_eq!(cache.highest_role(G, 30), Some(21));
        let del: RoleDelete =
            serde_json::from_value(json!({"guild_id": G.to_string(), "role_id": "21"})).unwrap();
        cache.update(&Event::RoleDelete(del));
        assert_eq!(cache.highest_role(G, 30), Some(20));
        assert!(
            !cache
                .member_permissions(G, 30)
                .unwrap()
                .contains(Permissions::MODERATE_MEMBERS)
        );
    }

    #[test]
    fn member_events() {
        let cache = setup();
        let upd: MemberUpdate = serde_json::from_value(json!({
            "guild_id": G.to_string(), "roles": ["22"], "user": user(31),
            "nick": null, "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "deaf": false, "mute": false, "pending": false, "avatar": null,
            "premium_since": null, "communication_disabled_until": null, "flags": 0,
        }))
        .unwrap();
        cache.update(&Event::MemberUpdate(Box::new(upd)));
        assert_eq!(cache.member_permissions(G, 31), Some(Permissions::all()));
        let rm: MemberRemove =
            serde_json::from_value(json!({"guild_id": G.to_string(), "user": user(31)})).unwrap();
        cache.update(&Event::MemberRemove(rm));
        assert_eq!(cache.member_permissions(G, 31), None);
        let chunk: MemberChunk = serde_json::from_value(json!({
            "guild_id": G.to_string(), "chunk_index": 0, "chunk_count": 1,
            "members": [member(50, &[20]), member(51, &[])],
            "not_found": [], "presences": [],
        }))
        .unwrap();
        cache.update(&Event::MemberChunk(chunk));
        assert_eq!(cache.highest_role(G, 50), Some(20));
        assert_eq!(cache.member_roles(G, 51), Some(vec![]));
    }

    #[test]
    fn guild_update_and_delete() {
        let cache = setup();
        let mut pg = guild_json(G, 31, vec![role(G, 0, Permissions::empty())], vec![]);
        let o = pg.as_object_mut().unwrap();
        for k in [
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
        ] {
            o.remove(k);
        }
        let pg: PartialGuild = serde_json::from_value(pg).expect("partial guild");
        cache.update(&Event::GuildUpdate(Box::new(GuildUpdate(pg))));
        assert_eq!(cache.owner_id(G), Some(31));
        assert_eq!(cache.member_permissions(G, 31), Some(Permissions::all()));
        assert_eq!(cache.member_permissions(G, 30), Some(Permissions::empty()));
        let del: GuildDelete = serde_json::from_value(json!({"id": G.to_string()})).unwrap();
        cache.update(&Event::GuildDelete(del));
        assert_eq!(cache.guild_count(), 0);
        assert_eq!(cache.owner_id(G), None);
    }

    fn text_channel(id: u64, guild: u64) -> Value {
        json!({"id": id.to_string(), "type": 0, "guild_id": guild.to_string(), "name": "c",
               "position": 0, "permission_overwrites": [], "nsfw": false})
    }

    #[test]
    fn channels_follow_guild_create_and_channel_events() {
        let cache = GuildCache::new();
        let mut g = guild_json(G, OWNER, vec![role(G, 0, Permissions::empty())], vec![]);
        g["channels"] = json!([text_channel(50, G), text_channel(40, G)]);
        let g: Guild = serde_json::from_value(g).expect("guild");
        cache.update(&Event::GuildCreate(Box::new(GuildCreate::Available(g))));
        assert_eq!(cache.has_channel(G, 40), Some(true));
        assert_eq!(cache.has_channel(G, 50), Some(true));
        assert_eq!(cache.has_channel(G, 60), Some(false));
        assert_eq!(cache.has_channel(G + 1, 40), None, "unknown guild");
        assert_eq!(cache.has_role(G, G), Some(true));
        assert_eq!(cache.has_role(G, 7), Some(false));

        let created: twilight_model::channel::Channel =
            serde_json::from_value(text_channel(60, G)).expect("channel");
        cache.update(&Event::ChannelCreate(Box::new(
            twilight_model::gateway::payload::incoming::ChannelCreate(created.clone()),
        )));
        assert_eq!(cache.has_channel(G, 60), Some(true));
        cache.update(&Event::ChannelDelete(Box::new(
            twilight_model::gateway::payload::incoming::ChannelDelete(created),
        )));
        assert_eq!(cache.has_channel(G, 60), Some(false));
        cache.note_channel(G, 70);
        assert_eq!(cache.has_channel(G, 70), Some(true));

        // A guild read over REST carries no channels: unknown, not "none".
        cache.update(&guild_create(
            G + 2,
            OWNER,
            vec![role(G + 2, 0, Permissions::empty())],
            vec![],
        ));
        assert_eq!(cache.has_channel(G + 2, 40), None);
    }

    #[test]
    fn bounded_by_guilds_lru_and_members() {
        let cache = GuildCache::builder()
            .max_guilds(2)
            .max_members_per_guild(2)
            .build();
        cache.update(&ready(BOT));
        let mk = |id| {
            guild_create(
                id,
                OWNER,
                vec![role(id, 0, Permissions::empty())],
                vec![
                    member(1, &[]),
                    member(2, &[]),
                    member(3, &[]),
                    member(BOT, &[]),
                ],
            )
        };
        cache.update(&mk(1));
        cache.update(&mk(2));
        let s = cache.stats();
        assert_eq!(s.members, 6, "2 members per guild + the bot always");
        assert!(cache.member_roles(1, BOT).is_some());
        // Touch guild 1, then add guild 3: guild 2 is the least recently used.
        assert!(cache.owner_id(1).is_some());
        cache.update(&mk(3));
        assert_eq!(cache.guild_count(), 2);
        assert!(cache.contains_guild(1));
        assert!(!cache.contains_guild(2));
        assert!(cache.contains_guild(3));
    }
}
