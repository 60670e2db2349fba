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
            Event::MessageCreate(m) => {
                // The author's partial member: what a prefix command or automod needs of
                // them, without the full member list GUILD_CREATE does not carry.
                if let Some(g) = m.guild_id {
                    if let Some(member) = &m.member {
                        self.note_member_ids(g.get(), m.author.id.get(), &member.roles);
                    }
                    // Each mentioned member comes with their partial member too (a prefix
                    // command's target, `k!ban @user`).
                    for mention in &m.mentions {
                        if let Some(member) = &mention.member {
                            self.note_member_ids(g.get(), mention.id.get(), &member.roles);
                        }
                    }
                }
            }
            Event::InteractionCreate(i) => self.interaction_members(&i.0),
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

    /// The invoking member and the resolved members of an interaction.
    fn interaction_members(&self, i: &twilight_model::application::interaction::Interaction) {
        use twilight_model::application::interaction::InteractionData;
        let Some(guild) = i.guild_id.map(|g| g.get()) else {
            return;
        };
        if let Some(m) = &i.member
            && let Some(user) = &m.user
        {
            self.note_member_ids(guild, user.id.get(), &m.roles);
        }
        let resolved = match &i.data {
            Some(InteractionData::ApplicationCommand(d)) => d.resolved.as_ref(),
            Some(InteractionData::MessageComponent(d)) => d.resolved.as_ref(),
            Some(InteractionData::ModalSubmit(d)) => d.resolved.as_ref(),
            _ => None,
        };
        for (user, m) in resolved.into_iter().flat_map(|r| &r.members) {
            self.note_member_ids(guild, user.get(), &m.roles);
        }
    }

    fn note_member_ids(
        &self,
        guild_id: u64,
        user_id: u64,
        roles: &[twilight_model::id::Id<twilight_model::id::marker::RoleMarker>],
    ) {
        let bot = self.bot_user_id();
        self.with_guild(guild_id, |g| self.put_member(g, bot, user_id, roles));
    }

    /// Remembers a member's role ids read from Discord (`GET /guilds/{id}/members/{user}`),
    /// when the guild is cached; later GUILD_MEMBER_UPDATE/REMOVE events keep it current.
    pub fn note_member(&self, guild_id: u64, user_id: u64, roles: &[u64]) {
        let bot = self.bot_user_id();
        self.with_guild(guild_id, |g| {
            self.put_member_ids(g, bot, user_id, roles.into())
        });
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
        self.put_member_ids(guild, bot, user_id, ids);
    }

    fn put_member_ids(
        &self,
        guild: &mut CachedGuild,
        bot: Option<u64>,
        user_id: u64,
        ids: Box<[u64]>,
    ) {
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
#[path = "guild_tests.rs"]
mod tests;
