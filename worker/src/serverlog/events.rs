//! From gateway events to server-log posts. [`ServerLog::observe`] runs in the router
//! before the guild cache applies the event, so it can read what was there before (a
//! leaving member's roles, a member's roles before an update); it also keeps what the guild
//! cache does not hold (message text, nicknames and avatars, channel and role names) and
//! answers the post to make, if any. [`ServerLog::post`] posts it, in a task of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use twilight_model::channel::Channel;
use twilight_model::gateway::event::Event;
use twilight_model::gateway::payload::incoming::GuildCreate;
use twilight_model::guild::{Permissions, Role};

use super::cache::{CachedMessage, MessageCache};
use super::format::{self, Change, Content, Deleted, Diff, Entry};
use crate::cache::GuildCache;
use crate::services::Services;
use crate::snowflake;
use crate::store::ServerLogKind;

/// Most members whose nickname and avatar are remembered per process (past it, members not
/// yet remembered are not added, and their nickname and avatar changes are not logged).
pub const MAX_MEMBERS: usize = 200_000;

/// How many posts are made at once per process; the others wait in arrival order.
pub const MAX_CONCURRENT_POSTS: usize = 16;

/// A post to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The guild.
    pub guild_id: u64,
    /// Its kind: posted only when the guild has it on.
    pub kind: ServerLogKind,
    /// What it shows.
    pub entry: Entry,
    /// The post's once key: the same event seen by two processes is posted once.
    pub once: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ChannelSnap {
    name: String,
    topic: Option<String>,
    nsfw: bool,
    slowmode: u16,
}

impl ChannelSnap {
    fn of(c: &Channel) -> Self {
        Self {
            name: c.name.clone().unwrap_or_default(),
            topic: c.topic.clone().filter(|t| !t.is_empty()),
            nsfw: c.nsfw.unwrap_or(false),
            slowmode: c.rate_limit_per_user.unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RoleSnap {
    name: String,
    colour: u32,
    permissions: Permissions,
    hoist: bool,
    mentionable: bool,
}

impl RoleSnap {
    fn of(r: &Role) -> Self {
        Self {
            name: r.name.clone(),
            colour: r.colors.primary_color,
            permissions: r.permissions,
            hoist: r.hoist,
            mentionable: r.mentionable,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MemberSnap {
    nick: Option<String>,
    /// The guild avatar, else the account's.
    avatar: Option<String>,
}

#[derive(Debug, Default)]
struct GuildNames {
    channels: HashMap<u64, ChannelSnap>,
    roles: HashMap<u64, RoleSnap>,
}

#[derive(Debug, Default)]
struct Names {
    guilds: HashMap<u64, GuildNames>,
    members: HashMap<(u64, u64), MemberSnap>,
}

impl Names {
    fn member(&mut self, guild: u64, user: u64, snap: MemberSnap) -> Option<MemberSnap> {
        let key = (guild, user);
        if self.members.len() >= MAX_MEMBERS && !self.members.contains_key(&key) {
            return None;
        }
        self.members.insert(key, snap)
    }
}

/// The server log's state in one process: the message cache and the names it remembers.
#[derive(Debug)]
pub struct ServerLog {
    messages: MessageCache,
    names: Mutex<Names>,
    message_content: bool,
    slots: Arc<Semaphore>,
}

impl Default for ServerLog {
    fn default() -> Self {
        Self::new(true)
    }
}

fn avatar_of<T: ToString>(guild: Option<&T>, user: Option<&T>) -> Option<String> {
    guild.or(user).map(ToString::to_string)
}

fn diff(out: &mut Vec<Diff>, what: &str, before: String, after: String) {
    if before != after {
        out.push(Diff {
            what: what.to_owned(),
            before,
            after,
        });
    }
}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_owned()
}

fn permission_names(p: Permissions) -> String {
    let names: Vec<&str> = p.iter_names().map(|(n, _)| n).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn channel_diffs(before: &ChannelSnap, after: &ChannelSnap) -> Vec<Diff> {
    let mut d = Vec::new();
    diff(&mut d, "Name", before.name.clone(), after.name.clone());
    let topic = |t: &Option<String>| t.clone().unwrap_or_else(|| "*none*".into());
    diff(&mut d, "Topic", topic(&before.topic), topic(&after.topic));
    diff(&mut d, "NSFW", on_off(before.nsfw), on_off(after.nsfw));
    diff(
        &mut d,
        "Slowmode",
        format!("{}s", before.slowmode),
        format!("{}s", after.slowmode),
    );
    d
}

fn role_diffs(before: &RoleSnap, after: &RoleSnap) -> Vec<Diff> {
    let mut d = Vec::new();
    diff(&mut d, "Name", before.name.clone(), after.name.clone());
    diff(
        &mut d,
        "Colour",
        format!("#{:06X}", before.colour),
        format!("#{:06X}", after.colour),
    );
    if before.permissions != after.permissions {
        let added = after.permissions - before.permissions;
        let removed = before.permissions - after.permissions;
        d.push(Diff {
            what: "Permissions".into(),
            before: format!("removed: {}", permission_names(removed)),
            after: format!("added: {}", permission_names(added)),
        });
    }
    diff(&mut d, "Hoisted", on_off(before.hoist), on_off(after.hoist));
    diff(
        &mut d,
        "Mentionable",
        on_off(before.mentionable),
        on_off(after.mentionable),
    );
    d
}

impl ServerLog {
    /// The server log's state; `message_content` says whether the bot can read message text
    /// (the MESSAGE_CONTENT intent): without it, cached messages have no content and posts
    /// say "content unavailable".
    #[must_use]
    pub fn new(message_content: bool) -> Self {
        Self {
            messages: MessageCache::default(),
            names: Mutex::new(Names::default()),
            message_content,
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_POSTS)),
        }
    }

    /// The message cache.
    #[must_use]
    pub fn messages(&self) -> &MessageCache {
        &self.messages
    }

    fn names(&self) -> std::sync::MutexGuard<'_, Names> {
        self.names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn content(&self, text: &str) -> Option<String> {
        self.message_content.then(|| text.to_owned())
    }

    /// Takes in `event` before `guild_cache` applies it, at `now_ms` (Unix ms), with the
    /// bot's id `bot`: remembers what later posts need, and answers the post this event
    /// makes, if any (whether the guild logs it is decided when posting).
    pub fn observe(
        &self,
        event: &Event,
        guild_cache: &GuildCache,
        bot: u64,
        now_ms: u64,
    ) -> Option<Pending> {
        let now_secs = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
        match event {
            Event::GuildCreate(gc) => {
                if let GuildCreate::Available(g) = &**gc {
                    let gid = g.id.get();
                    let mut names = self.names();
                    let entry = names.guilds.entry(gid).or_default();
                    entry.channels = g
                        .channels
                        .iter()
                        .map(|c| (c.id.get(), ChannelSnap::of(c)))
                        .collect();
                    entry.roles = g
                        .roles
                        .iter()
                        .map(|r| (r.id.get(), RoleSnap::of(r)))
                        .collect();
                    for m in &g.members {
                        let snap = MemberSnap {
                            nick: m.nick.clone(),
                            avatar: avatar_of(m.avatar.as_ref(), m.user.avatar.as_ref()),
                        };
                        names.member(gid, m.user.id.get(), snap);
                    }
                }
                None
            }
            Event::GuildDelete(gd) => {
                let gid = gd.id.get();
                let mut names = self.names();
                names.guilds.remove(&gid);
                names.members.retain(|(g, _), _| *g != gid);
                None
            }
            Event::MessageCreate(m) => {
                let guild = m.guild_id?.get();
                self.messages.insert(
                    m.id.get(),
                    CachedMessage {
                        guild_id: guild,
                        channel_id: m.channel_id.get(),
                        author_id: m.author.id.get(),
                        author_bot: m.author.bot || m.webhook_id.is_some(),
                        content: self.content(&m.content),
                        attachments: m.attachments.len(),
                    },
                    now_ms,
                );
                if let Some(member) = &m.member {
                    let snap = MemberSnap {
                        nick: member.nick.clone(),
                        avatar: avatar_of(member.avatar.as_ref(), m.author.avatar.as_ref()),
                    };
                    self.names().member(guild, m.author.id.get(), snap);
                }
                None
            }
            Event::MessageUpdate(m) => {
                let guild = m.guild_id?.get();
                let id = m.id.get();
                let before = self.messages.get(id, now_ms);
                let after = CachedMessage {
                    guild_id: guild,
                    channel_id: m.channel_id.get(),
                    author_id: m.author.id.get(),
                    author_bot: m.author.bot || m.webhook_id.is_some(),
                    content: self.content(&m.content),
                    attachments: m.attachments.len(),
                };
                // Only messages the cache still holds are refreshed: an edit of an old
                // message does not bring it back past the bounds.
                if before.is_some() {
                    self.messages.insert(id, after.clone(), now_ms);
                }
                if after.author_bot {
                    return None;
                }
                // Without MESSAGE_CONTENT there is no text to compare: an edit is one Discord
                // marks as edited (its once key, the edit time, posts each edit once).
                let unchanged = match (&before, &after.content) {
                    (Some(b), Some(_)) => {
                        b.content == after.content && b.attachments == after.attachments
                    }
                    (_, None) => m.edited_timestamp.is_none(),
                    (None, Some(_)) => false,
                };
                // Discord resolving a link (an embed added, no edit) changes nothing shown.
                if unchanged || (before.is_none() && m.edited_timestamp.is_none()) {
                    return None;
                }
                let edited = m
                    .edited_timestamp
                    .map_or_else(|| now_ms.to_string(), |t| t.as_micros().to_string());
                Some(Pending {
                    guild_id: guild,
                    kind: ServerLogKind::Edits,
                    entry: Entry::Edit {
                        channel_id: after.channel_id,
                        message_id: id,
                        author_id: after.author_id,
                        before: before.map(|b| Content {
                            text: b.content,
                            attachments: b.attachments,
                        }),
                        after: Content {
                            text: after.content,
                            attachments: after.attachments,
                        },
                    },
                    once: format!("serverlog:edit:{id}:{edited}"),
                })
            }
            Event::MessageDelete(d) => {
                let guild = d.guild_id?.get();
                let id = d.id.get();
                let cached = self.messages.remove(id);
                if cached.as_ref().is_some_and(|c| c.author_bot) {
                    return None;
                }
                Some(Pending {
                    guild_id: guild,
                    kind: ServerLogKind::Deletes,
                    entry: Entry::Delete {
                        channel_id: d.channel_id.get(),
                        message_id: id,
                        message: cached.map(deleted),
                    },
                    once: format!("serverlog:delete:{id}"),
                })
            }
            Event::MessageDeleteBulk(d) => {
                let guild = d.guild_id?.get();
                let mut ids: Vec<u64> = d.ids.iter().map(|i| i.get()).collect();
                ids.sort_unstable();
                let cached = ids
                    .iter()
                    .filter_map(|id| self.messages.remove(*id))
                    .filter(|m| m.author_id != bot)
                    .map(deleted)
                    .collect();
                Some(Pending {
                    guild_id: guild,
                    kind: ServerLogKind::Deletes,
                    entry: Entry::BulkDelete {
                        channel_id: d.channel_id.get(),
                        count: ids.len(),
                        cached,
                    },
                    once: format!(
                        "serverlog:bulk:{}:{}:{}",
                        d.channel_id,
                        ids.first().copied().unwrap_or(0),
                        ids.len()
                    ),
                })
            }
            Event::MemberAdd(m) => {
                let guild = m.guild_id.get();
                let user = &m.member.user;
                self.names().member(
                    guild,
                    user.id.get(),
                    MemberSnap {
                        nick: m.member.nick.clone(),
                        avatar: avatar_of(m.member.avatar.as_ref(), user.avatar.as_ref()),
                    },
                );
                if user.id.get() == bot {
                    return None;
                }
                let joined = m.member.joined_at.map_or(now_ms, |t| {
                    u64::try_from(t.as_micros() / 1000).unwrap_or(now_ms)
                });
                Some(Pending {
                    guild_id: guild,
                    kind: ServerLogKind::Joins,
                    entry: Entry::Join {
                        user_id: user.id.get(),
                        name: user.name.clone(),
                        created_secs: created_secs(user.id.get()),
                        now_secs,
                    },
                    once: format!("serverlog:join:{guild}:{}:{joined}", user.id),
                })
            }
            Event::MemberRemove(m) => {
                let guild = m.guild_id.get();
                let user = m.user.id.get();
                self.names().members.remove(&(guild, user));
                if user == bot {
                    return None;
                }
                let roles = guild_cache
                    .member_roles(guild, user)
                    .map(|r| r.into_iter().filter(|r| *r != guild).collect());
                Some(Pending {
                    guild_id: guild,
                    kind: ServerLogKind::Leaves,
                    entry: Entry::Leave {
                        user_id: user,
                        name: m.user.name.clone(),
                        created_secs: created_secs(user),
                        now_secs,
                        roles,
                    },
                    once: format!("serverlog:leave:{guild}:{user}:{}", now_secs / 10),
                })
            }
            Event::MemberUpdate(m) => {
                let guild = m.guild_id.get();
                let user = m.user.id.get();
                let roles_before = guild_cache.member_roles(guild, user);
                let snap = MemberSnap {
                    nick: m.nick.clone(),
                    avatar: avatar_of(m.avatar.as_ref(), m.user.avatar.as_ref()),
                };
                let before = self.names().member(guild, user, snap.clone());
                let (nick, avatar) = match &before {
                    Some(b) => (
                        (b.nick != snap.nick).then(|| (b.nick.clone(), snap.nick.clone())),
                        b.avatar != snap.avatar,
                    ),
                    None => (None, false),
                };
                let now: Vec<u64> = m.roles.iter().map(|r| r.get()).collect();
                let (mut added, mut removed) = (Vec::new(), Vec::new());
                if let Some(was) = &roles_before {
                    added = now.iter().filter(|r| !was.contains(r)).copied().collect();
                    removed = was
                        .iter()
                        .filter(|r| !now.contains(r) && **r != guild)
                        .copied()
                        .collect();
                }
                if nick.is_none() && !avatar && added.is_empty() && removed.is_empty() {
                    return None;
                }
                let once = format!(
                    "serverlog:member:{guild}:{user}:{:?}:{avatar}:{added:?}:{removed:?}:{}",
                    nick,
                    now_secs / 10
                );
                Some(Pending {
                    guild_id: guild,
                    kind: ServerLogKind::Members,
                    entry: Entry::Member {
                        user_id: user,
                        nick,
                        roles_added: added,
                        roles_removed: removed,
                        avatar,
                    },
                    once,
                })
            }
            Event::ChannelCreate(c) => self.channel(&c.0, Change::Created, now_secs),
            Event::ChannelUpdate(c) => self.channel(&c.0, Change::Updated, now_secs),
            Event::ChannelDelete(c) => self.channel(&c.0, Change::Deleted, now_secs),
            Event::RoleCreate(r) => self.role(
                r.guild_id.get(),
                r.role.id.get(),
                Some(&r.role),
                Change::Created,
                now_secs,
            ),
            Event::RoleUpdate(r) => self.role(
                r.guild_id.get(),
                r.role.id.get(),
                Some(&r.role),
                Change::Updated,
                now_secs,
            ),
            Event::RoleDelete(r) => self.role(
                r.guild_id.get(),
                r.role_id.get(),
                None,
                Change::Deleted,
                now_secs,
            ),
            _ => None,
        }
    }

    fn channel(&self, c: &Channel, change: Change, now_secs: i64) -> Option<Pending> {
        let guild = c.guild_id?.get();
        let id = c.id.get();
        let snap = ChannelSnap::of(c);
        let before = {
            let mut names = self.names();
            let g = names.guilds.entry(guild).or_default();
            if change == Change::Deleted {
                g.channels.remove(&id)
            } else {
                g.channels.insert(id, snap.clone())
            }
        };
        let diffs = match (change, &before) {
            (Change::Updated, Some(b)) => channel_diffs(b, &snap),
            // An update of a channel not seen before, or one changing nothing shown (its
            // position): nothing to say.
            (Change::Updated, None) => return None,
            _ => Vec::new(),
        };
        if change == Change::Updated && diffs.is_empty() {
            return None;
        }
        let once = format!(
            "serverlog:channel:{id}:{change:?}:{diffs:?}:{}",
            now_secs / 10
        );
        Some(Pending {
            guild_id: guild,
            kind: ServerLogKind::Channels,
            entry: Entry::Channel {
                change,
                channel_id: id,
                name: snap.name,
                diffs,
            },
            once,
        })
    }

    fn role(
        &self,
        guild: u64,
        id: u64,
        role: Option<&Role>,
        change: Change,
        now_secs: i64,
    ) -> Option<Pending> {
        let snap = role.map(RoleSnap::of);
        let before = {
            let mut names = self.names();
            let g = names.guilds.entry(guild).or_default();
            match &snap {
                Some(s) => g.roles.insert(id, s.clone()),
                None => g.roles.remove(&id),
            }
        };
        let diffs = match (change, &before, &snap) {
            (Change::Updated, Some(b), Some(s)) => role_diffs(b, s),
            (Change::Updated, _, _) => return None,
            _ => Vec::new(),
        };
        if change == Change::Updated && diffs.is_empty() {
            return None;
        }
        let name = snap.or(before).map(|s| s.name);
        let once = format!("serverlog:role:{id}:{change:?}:{diffs:?}:{}", now_secs / 10);
        Some(Pending {
            guild_id: guild,
            kind: ServerLogKind::Roles,
            entry: Entry::Role {
                change,
                role_id: id,
                name,
                diffs,
            },
            once,
        })
    }

    /// Posts `pending` in the guild's log channel, if it has one and the kind is on, after
    /// checking the channel is the guild's. Waits for a free slot first
    /// ([`MAX_CONCURRENT_POSTS`]). Failures are logged.
    pub async fn post(&self, services: &Services, pending: Pending) {
        let Ok(_slot) = Arc::clone(&self.slots).acquire_owned().await else {
            return;
        };
        let guild = pending.guild_id;
        let config = match services.guild_configs.get(&*services.store, guild).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(guild, error = %e, "settings unavailable; nothing posted in the server log");
                return;
            }
        };
        let Some(channel) = config.server_log.channel_for(pending.kind) else {
            return;
        };
        match crate::services::channel_in_guild(
            &services.rest,
            &services.guild_cache,
            guild,
            channel,
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    guild,
                    channel,
                    "the server-log channel is not a channel of this server; nothing posted (set it again with /serverlog channel)"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(guild, channel, error = %e, "could not check the server-log channel; nothing posted");
                return;
            }
        }
        let now_secs = i64::try_from(services.clock.unix_millis() / 1000).unwrap_or(i64::MAX);
        let embed = format::build_embed(&pending.entry, now_secs);
        if let Err(e) =
            crate::moderation::discord::post_embed(&services.rest, channel, &embed, &pending.once)
                .await
        {
            tracing::warn!(guild, channel, error = %e, "could not post to the server-log channel");
        }
    }
}

fn deleted(m: CachedMessage) -> Deleted {
    Deleted {
        author_id: m.author_id,
        content: Content {
            text: m.content,
            attachments: m.attachments,
        },
    }
}

/// When the account `user` was made (Unix seconds), from its id.
#[must_use]
pub fn created_secs(user: u64) -> i64 {
    i64::try_from(snowflake::timestamp_ms(user) / 1000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use twilight_model::gateway::payload::incoming::{
        MemberRemove, MemberUpdate, MessageCreate, MessageDelete, MessageDeleteBulk, MessageUpdate,
        RoleUpdate,
    };
    use twilight_model::guild::Guild;

    use super::*;

    const G: u64 = 1_000;
    const OWNER: u64 = 10;
    const BOT: u64 = 11;
    const ALICE: u64 = 175_928_847_299_117_063;
    const CHANNEL: u64 = 500;
    const NOW: u64 = 1_800_000_000_000;

    fn message_id(n: u64) -> u64 {
        crate::snowflake::at_ms(NOW - 60_000, n)
    }

    fn role(id: u64, name: &str) -> Value {
        json!({
            "id": id.to_string(), "name": name, "description": null,
            "color": 0, "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
            "hoist": false, "icon": null, "unicode_emoji": null, "position": 1,
            "permissions": "0", "managed": false, "mentionable": false, "flags": 0,
        })
    }

    fn user(id: u64) -> Value {
        json!({"id": id.to_string(), "username": format!("u{id}"), "discriminator": "0",
               "global_name": null, "avatar": null, "bot": id == BOT})
    }

    fn member(id: u64, roles: &[u64], nick: Option<&str>) -> Value {
        json!({
            "user": user(id), "nick": nick, "avatar": null, "banner": null,
            "roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
            "deaf": false, "mute": false, "flags": 0, "pending": false,
            "communication_disabled_until": null,
        })
    }

    fn guild_create(members: Vec<Value>) -> Event {
        let mut g = json!({
            "id": G.to_string(), "name": "g", "icon": null, "splash": null,
            "discovery_splash": null, "owner_id": OWNER.to_string(), "afk_channel_id": null,
            "afk_timeout": 300, "widget_enabled": false, "widget_channel_id": null,
            "verification_level": 1, "default_message_notifications": 1,
            "explicit_content_filter": 2, "roles": [role(G, "@everyone"), role(21, "Member"), role(22, "Helper")],
            "emojis": [], "features": [],
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
        let g: Guild = serde_json::from_value(g).expect("guild json");
        Event::GuildCreate(Box::new(GuildCreate::Available(g)))
    }

    fn message(id: u64, author: u64, content: &str, edited: bool) -> Value {
        json!({
            "id": id.to_string(), "channel_id": CHANNEL.to_string(), "guild_id": G.to_string(),
            "author": user(author), "content": content,
            "timestamp": "2027-01-15T08:00:00.000000+00:00",
            "edited_timestamp": if edited { json!("2027-01-15T08:01:00.000000+00:00") } else { Value::Null },
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0, "flags": 0,
        })
    }

    fn create(id: u64, author: u64, content: &str) -> Event {
        Event::MessageCreate(Box::new(MessageCreate {
            channel_type: None,
            message: serde_json::from_value(message(id, author, content, false)).unwrap(),
        }))
    }

    fn update(id: u64, author: u64, content: &str, edited: bool) -> Event {
        Event::MessageUpdate(Box::new(MessageUpdate(
            serde_json::from_value(message(id, author, content, edited)).unwrap(),
        )))
    }

    /// A server log and a guild cache that both saw the guild (ALICE with role 21).
    fn setup(content: bool) -> (ServerLog, GuildCache) {
        let log = ServerLog::new(content);
        let cache = GuildCache::new();
        let gc = guild_create(vec![
            member(OWNER, &[], None),
            member(ALICE, &[21], Some("Al")),
        ]);
        feed(&log, &cache, &gc);
        (log, cache)
    }

    /// As the router does: the server log first, then the cache.
    fn feed(log: &ServerLog, cache: &GuildCache, event: &Event) -> Option<Pending> {
        let p = log.observe(event, cache, BOT, NOW);
        cache.update(event);
        p
    }

    #[test]
    fn an_edit_shows_the_cached_text_and_unchanged_or_bot_edits_are_skipped() {
        let (log, cache) = setup(true);
        let id = message_id(1);
        assert_eq!(feed(&log, &cache, &create(id, ALICE, "hello")), None);
        let p = feed(&log, &cache, &update(id, ALICE, "hullo", true)).expect("logged");
        assert_eq!(p.kind, ServerLogKind::Edits);
        let Entry::Edit { before, after, .. } = &p.entry else {
            panic!("{p:?}")
        };
        assert_eq!(before.as_ref().unwrap().text.as_deref(), Some("hello"));
        assert_eq!(after.text.as_deref(), Some("hullo"));
        assert_eq!(
            feed(&log, &cache, &update(id, ALICE, "hullo", true)),
            None,
            "a link preview changes nothing shown"
        );
        let mine = message_id(2);
        feed(&log, &cache, &create(mine, BOT, "a reply"));
        assert_eq!(feed(&log, &cache, &update(mine, BOT, "edited", true)), None);
        let delete = |id: u64| {
            Event::MessageDelete(MessageDelete {
                channel_id: twilight_model::id::Id::new(CHANNEL),
                guild_id: Some(twilight_model::id::Id::new(G)),
                id: twilight_model::id::Id::new(id),
            })
        };
        assert_eq!(feed(&log, &cache, &delete(mine)), None, "Kyuta's own");
        let p = feed(&log, &cache, &delete(id)).expect("logged");
        let Entry::Delete { message, .. } = p.entry else {
            panic!()
        };
        assert_eq!(message.unwrap().content.text.as_deref(), Some("hullo"));
    }

    #[test]
    fn without_message_content_the_text_is_unavailable() {
        let (log, cache) = setup(false);
        let id = message_id(1);
        feed(&log, &cache, &create(id, ALICE, ""));
        let p = feed(&log, &cache, &update(id, ALICE, "", true)).expect("an edit is logged");
        let e = format::build_embed(&p.entry, 0);
        assert!(
            e.fields
                .iter()
                .all(|f| f.value.contains("content unavailable"))
        );
    }

    #[test]
    fn a_bulk_delete_lists_the_cached_ones_but_not_kyutas() {
        let (log, cache) = setup(true);
        feed(&log, &cache, &create(message_id(1), ALICE, "one"));
        feed(&log, &cache, &create(message_id(2), BOT, "mine"));
        let ev = Event::MessageDeleteBulk(MessageDeleteBulk {
            channel_id: twilight_model::id::Id::new(CHANNEL),
            guild_id: Some(twilight_model::id::Id::new(G)),
            ids: [3, 2, 1]
                .map(|n| twilight_model::id::Id::new(message_id(n)))
                .to_vec(),
        });
        let p = feed(&log, &cache, &ev).unwrap();
        let Entry::BulkDelete { count, cached, .. } = p.entry else {
            panic!()
        };
        assert_eq!(count, 3);
        assert_eq!(cached.len(), 1);
        assert_eq!(cached[0].author_id, ALICE);
        assert!(log.messages().is_empty());
    }

    #[test]
    fn member_changes_compare_with_the_state_before_the_cache_applies_them() {
        let (log, cache) = setup(true);
        let up: MemberUpdate = serde_json::from_value({
            let mut m = member(ALICE, &[22], Some("Alice"));
            m["guild_id"] = json!(G.to_string());
            m
        })
        .unwrap();
        let p = feed(&log, &cache, &Event::MemberUpdate(Box::new(up.clone()))).unwrap();
        assert_eq!(
            p.entry,
            Entry::Member {
                user_id: ALICE,
                nick: Some((Some("Al".into()), Some("Alice".into()))),
                roles_added: vec![22],
                roles_removed: vec![21],
                avatar: false,
            }
        );
        assert_eq!(
            feed(&log, &cache, &Event::MemberUpdate(Box::new(up))),
            None,
            "nothing changed"
        );
        let leave = Event::MemberRemove(MemberRemove {
            guild_id: twilight_model::id::Id::new(G),
            user: serde_json::from_value(user(ALICE)).unwrap(),
        });
        let p = feed(&log, &cache, &leave).unwrap();
        let Entry::Leave { roles, .. } = p.entry else {
            panic!()
        };
        assert_eq!(
            roles,
            Some(vec![22]),
            "the roles the member had when leaving"
        );
    }

    #[test]
    fn a_role_rename_shows_before_and_after() {
        let (log, cache) = setup(true);
        let ev = Event::RoleUpdate(RoleUpdate {
            guild_id: twilight_model::id::Id::new(G),
            role: serde_json::from_value(role(21, "Regulars")).unwrap(),
        });
        let p = feed(&log, &cache, &ev).unwrap();
        let Entry::Role { diffs, name, .. } = p.entry else {
            panic!()
        };
        assert_eq!(name.as_deref(), Some("Regulars"));
        assert_eq!(
            diffs,
            vec![Diff {
                what: "Name".into(),
                before: "Member".into(),
                after: "Regulars".into()
            }]
        );
        assert_eq!(feed(&log, &cache, &ev), None, "no change");
    }
}
