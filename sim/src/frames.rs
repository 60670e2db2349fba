//! Fast gateway payloads: GUILD_CREATE written straight to bytes (no `serde_json::Value`
//! tree), a bounded cache of the GUILD_CREATE bytes of untouched guilds, dispatch frames with
//! the sequence number spliced in, and the guilds of each shard computed once per shard total.

use crate::util::iso;
use crate::world::{Channel, Guild, Member, Role, User, channel_type};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Writes `s` as a JSON string (quoted and escaped).
fn string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Writes a snowflake as Discord does: a JSON string.
fn id(out: &mut Vec<u8>, v: u64) {
    let _ = write!(out, "\"{v}\"");
}

fn opt_id(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => id(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn opt_string(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(v) => string(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// Discord's user object, as [`User::to_json`] builds it.
pub(crate) fn write_user(out: &mut Vec<u8>, u: &User) {
    out.extend_from_slice(b"{\"id\":");
    id(out, u.id);
    out.extend_from_slice(b",\"username\":");
    string(out, &u.username);
    out.extend_from_slice(b",\"discriminator\":\"0\",\"global_name\":");
    opt_string(out, u.global_name.as_deref());
    out.extend_from_slice(b",\"avatar\":null,\"public_flags\":0,\"flags\":0,\"banner\":null,\"accent_color\":null,\"avatar_decoration_data\":null,\"collectibles\":null,\"primary_guild\":null");
    if u.bot {
        out.extend_from_slice(b",\"bot\":true");
    }
    out.push(b'}');
}

/// The fields of a member after `user` (as [`Member::to_json`] builds them), without braces.
fn write_member_fields(out: &mut Vec<u8>, m: &Member) {
    out.extend_from_slice(b"\"nick\":");
    opt_string(out, m.nick.as_deref());
    out.extend_from_slice(b",\"avatar\":null,\"banner\":null,\"roles\":[");
    for (i, r) in m.roles.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        id(out, *r);
    }
    out.extend_from_slice(b"],\"joined_at\":");
    string(out, &iso(m.joined_ms));
    out.extend_from_slice(
        b",\"premium_since\":null,\"deaf\":false,\"mute\":false,\"flags\":0,\"pending\":false,\"communication_disabled_until\":",
    );
    match m.communication_disabled_until {
        Some(t) => string(out, &iso(t)),
        None => out.extend_from_slice(b"null"),
    }
}

/// Discord's guild member object, as [`Member::to_json`] builds it.
pub(crate) fn write_member(out: &mut Vec<u8>, m: &Member) {
    out.extend_from_slice(b"{\"user\":");
    write_user(out, &m.user);
    out.push(b',');
    write_member_fields(out, m);
    out.push(b'}');
}

/// The member object without `user`, as MESSAGE_CREATE embeds it.
pub(crate) fn write_member_partial(out: &mut Vec<u8>, m: &Member) {
    out.push(b'{');
    write_member_fields(out, m);
    out.push(b'}');
}

fn write_role(out: &mut Vec<u8>, r: &Role) {
    out.extend_from_slice(b"{\"id\":");
    id(out, r.id);
    out.extend_from_slice(b",\"name\":");
    string(out, &r.name);
    let _ = write!(
        out,
        ",\"description\":null,\"color\":{c},\"colors\":{{\"primary_color\":{c},\"secondary_color\":null,\"tertiary_color\":null}},\"hoist\":{},\"icon\":null,\"unicode_emoji\":null,\"position\":{},\"permissions\":\"{}\",\"managed\":{},\"mentionable\":false,\"flags\":0",
        r.hoist,
        r.position,
        r.permissions,
        r.managed,
        c = r.color,
    );
    if let Some(bot) = r.bot_id {
        let _ = write!(out, ",\"tags\":{{\"bot_id\":\"{bot}\"}}");
    }
    out.push(b'}');
}

fn write_channel(out: &mut Vec<u8>, c: &Channel) {
    if c.kind == channel_type::DM {
        // Never part of a guild; the generic path keeps this exact.
        let _ = serde_json::to_writer(&mut *out, &c.to_json());
        return;
    }
    out.extend_from_slice(b"{\"id\":");
    id(out, c.id);
    let _ = write!(out, ",\"type\":{},\"guild_id\":", c.kind);
    opt_id(out, c.guild_id);
    out.extend_from_slice(b",\"name\":");
    string(out, &c.name);
    let _ = write!(out, ",\"position\":{},\"parent_id\":", c.position);
    opt_id(out, c.parent_id);
    out.extend_from_slice(b",\"flags\":0,\"permission_overwrites\":[");
    for (i, o) in c.overwrites.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(
            out,
            "{{\"id\":\"{}\",\"type\":{},\"allow\":\"{}\",\"deny\":\"{}\"}}",
            o.id, o.kind, o.allow, o.deny
        );
    }
    out.push(b']');
    match c.kind {
        channel_type::GUILD_TEXT => {
            out.extend_from_slice(b",\"topic\":");
            opt_string(out, c.topic.as_deref());
            let _ = write!(
                out,
                ",\"nsfw\":false,\"last_message_id\":null,\"rate_limit_per_user\":{}",
                c.rate_limit_per_user
            );
        }
        channel_type::GUILD_VOICE => {
            let _ = write!(
                out,
                ",\"bitrate\":64000,\"user_limit\":0,\"rtc_region\":null,\"nsfw\":false,\"rate_limit_per_user\":{},\"last_message_id\":null",
                c.rate_limit_per_user
            );
        }
        _ => {}
    }
    out.push(b'}');
}

/// What a session's GUILD_CREATEs carry, from its IDENTIFY: `large_threshold` and whether
/// the session has the GUILD_PRESENCES intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateView {
    /// IDENTIFY's `large_threshold` (50–250).
    pub large_threshold: u64,
    /// Whether the session has GUILD_PRESENCES.
    pub presences: bool,
}

impl Default for CreateView {
    fn default() -> Self {
        Self {
            large_threshold: 50,
            presences: false,
        }
    }
}

/// Which members a GUILD_CREATE lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MembersShown {
    /// Every member: GUILD_PRESENCES and a guild within `large_threshold`.
    All,
    /// A large guild with GUILD_PRESENCES: the members Discord counts as online (the
    /// simulator has no presences and shows the owner) and the bot.
    OwnerAndBot,
    /// Without GUILD_PRESENCES: the bot alone (and members in voice, of whom the simulator
    /// has none), as on Discord.
    BotOnly,
}

impl CreateView {
    /// Whether a guild of `member_count` members is `large` for this view.
    #[must_use]
    pub fn large(self, member_count: u64) -> bool {
        member_count > self.large_threshold
    }

    /// The members a GUILD_CREATE of a guild of `member_count` members lists.
    #[must_use]
    pub fn members(self, member_count: u64) -> MembersShown {
        if !self.presences {
            MembersShown::BotOnly
        } else if self.large(member_count) {
            MembersShown::OwnerAndBot
        } else {
            MembersShown::All
        }
    }
}

impl Guild {
    /// The members a GUILD_CREATE for `view` lists, in id order.
    pub(crate) fn shown_members(&self, view: CreateView) -> Vec<&Member> {
        let bot = || self.members.values().find(|m| m.user.bot);
        match view.members(self.members.len() as u64) {
            MembersShown::All => self.members.values().collect(),
            MembersShown::OwnerAndBot => {
                let mut v: Vec<&Member> = [self.members.get(&self.owner_id), bot()]
                    .into_iter()
                    .flatten()
                    .collect();
                v.dedup_by_key(|m| m.user.id);
                v
            }
            MembersShown::BotOnly => bot().into_iter().collect(),
        }
    }
}

/// The GUILD_CREATE payload of `g`, byte for byte the JSON of [`Guild::to_create_json`]
/// (keys in another order), written without building a value tree.
#[must_use]
pub fn guild_create(g: &Guild, view: CreateView) -> String {
    let shown = g.shown_members(view);
    let mut out = Vec::with_capacity(4096 + shown.len() * 600);
    let large = view.large(g.members.len() as u64);
    out.extend_from_slice(b"{\"id\":");
    id(&mut out, g.id);
    out.extend_from_slice(b",\"name\":");
    string(&mut out, &g.name);
    out.extend_from_slice(b",\"icon\":null,\"icon_hash\":null,\"splash\":null,\"discovery_splash\":null,\"owner_id\":");
    id(&mut out, g.owner_id);
    out.extend_from_slice(b",\"afk_channel_id\":null,\"afk_timeout\":300,\"widget_enabled\":false,\"widget_channel_id\":null,\"verification_level\":1,\"default_message_notifications\":1,\"explicit_content_filter\":2,\"roles\":[");
    for (i, r) in g.roles.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_role(&mut out, r);
    }
    out.extend_from_slice(b"],\"emojis\":[],\"features\":[],\"mfa_level\":0,\"application_id\":null,\"system_channel_id\":");
    opt_id(&mut out, g.channels.get(1).map(|c| c.id));
    out.extend_from_slice(b",\"system_channel_flags\":0,\"rules_channel_id\":null,\"max_presences\":null,\"max_members\":500000,\"vanity_url_code\":null,\"description\":null,\"banner\":null,\"premium_tier\":0,\"premium_subscription_count\":0,\"preferred_locale\":\"en-US\",\"public_updates_channel_id\":null,\"max_video_channel_users\":25,\"max_stage_video_channel_users\":50,\"nsfw_level\":0,\"stickers\":[],\"premium_progress_bar_enabled\":false,\"safety_alerts_channel_id\":null,\"incidents_data\":null,\"region\":\"deprecated\",\"home_header\":null,\"nsfw\":false,\"hub_type\":null,\"latest_onboarding_question_id\":null,\"joined_at\":");
    string(&mut out, &iso(g.bot_joined_ms));
    let _ = write!(
        out,
        ",\"large\":{large},\"unavailable\":false,\"member_count\":{},\"members\":[",
        g.members.len()
    );
    for (i, m) in shown.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_member(&mut out, m);
    }
    out.extend_from_slice(b"],\"channels\":[");
    for (i, c) in g.channels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_channel(&mut out, c);
    }
    out.extend_from_slice(b"],\"threads\":[],\"presences\":[],\"voice_states\":[],\"stage_instances\":[],\"guild_scheduled_events\":[],\"soundboard_sounds\":[],\"lazy\":true}");
    String::from_utf8(out).expect("JSON written from str pieces is UTF-8")
}

/// A dispatch frame: `{"op":0,"s":SEQ,"t":"EVENT","d":D}`.
#[must_use]
pub fn dispatch_frame(seq: u64, event: &str, d: &str) -> String {
    let mut s = String::with_capacity(d.len() + event.len() + 40);
    s.push_str("{\"op\":0,\"s\":");
    let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{seq}"));
    s.push_str(",\"t\":\"");
    s.push_str(event);
    s.push_str("\",\"d\":");
    s.push_str(d);
    s.push('}');
    s
}

/// GUILD_CREATE bytes of untouched guilds, keyed by guild index, whether the guild is
/// `large` for the session and which members it lists (all a [`CreateView`] changes),
/// evicted oldest first
/// past a byte budget. A guild that something changed is never served from here: it is
/// materialized in the state, and callers check that first.
#[derive(Debug, Default)]
pub(crate) struct GuildCreateCache {
    inner: Mutex<CacheInner>,
}

/// Guild index, `large`, the members listed.
type CacheKey = (u64, bool, MembersShown);

#[derive(Debug, Default)]
struct CacheInner {
    map: HashMap<CacheKey, Arc<str>>,
    order: VecDeque<CacheKey>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

impl GuildCreateCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached payload of untouched guild `n` as `view` shows a guild of
    /// `member_count` members.
    pub fn get(&self, n: u64, member_count: u64, view: CreateView) -> Option<Arc<str>> {
        let key = Self::key(n, member_count, view);
        let mut c = self.lock();
        let hit = c.map.get(&key).cloned();
        if hit.is_some() {
            c.hits += 1;
        } else {
            c.misses += 1;
        }
        hit
    }

    fn key(n: u64, member_count: u64, view: CreateView) -> CacheKey {
        (n, view.large(member_count), view.members(member_count))
    }

    /// Keeps `payload` for untouched guild `n` (of `member_count` members) as `view` shows
    /// it, within `budget` bytes.
    pub fn put(
        &self,
        n: u64,
        member_count: u64,
        view: CreateView,
        payload: Arc<str>,
        budget: usize,
    ) {
        if payload.len() > budget {
            return;
        }
        let key = Self::key(n, member_count, view);
        let mut c = self.lock();
        if c.map.insert(key, payload.clone()).is_none() {
            c.order.push_back(key);
            c.bytes += payload.len();
        }
        while c.bytes > budget {
            let Some(k) = c.order.pop_front() else { break };
            if let Some(v) = c.map.remove(&k) {
                c.bytes -= v.len();
            }
        }
    }

    /// `(entries, bytes, hits, misses)`.
    #[cfg(test)]
    pub fn figures(&self) -> (usize, usize, u64, u64) {
        let c = self.lock();
        (c.map.len(), c.bytes, c.hits, c.misses)
    }
}

/// The guild indices of each shard for one shard total, computed once per total asked for
/// (4 bytes per guild).
#[derive(Debug, Default)]
pub(crate) struct ShardIndex {
    by_total: Mutex<HashMap<u32, Arc<Vec<Vec<u32>>>>>,
}

impl ShardIndex {
    /// Guild indices per shard id for `total` shards.
    pub fn get(&self, world: &crate::world::World, total: u32) -> Arc<Vec<Vec<u32>>> {
        let total = total.max(1);
        if let Some(v) = self
            .by_total
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&total)
        {
            return v.clone();
        }
        // Built outside the lock: two first identifies of a new total may both build it.
        let mut shards = vec![Vec::new(); total as usize];
        for n in 0..world.guild_count {
            let s = (world.guild_id(n) >> 22) % u64::from(total);
            // Guild indices stay below `MAX_GUILDS`, which fits in 32 bits.
            shards[s as usize].push(n as u32);
        }
        let v = Arc::new(shards);
        let mut map = self
            .by_total
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Keep a few totals (a reshard asks for a second one).
        if map.len() >= 4 {
            map.clear();
        }
        map.insert(total, v.clone());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;
    use serde_json::Value;

    #[test]
    fn guild_create_bytes_equal_the_value_tree() {
        let w = World::new(3, 100, 20);
        for n in [0, 1, 57, 99] {
            let mut g = w.generate(n);
            for threshold in [50, 10] {
                for presences in [true, false] {
                    let view = CreateView {
                        large_threshold: threshold,
                        presences,
                    };
                    let fast: Value = serde_json::from_str(&guild_create(&g, view)).unwrap();
                    assert_eq!(fast, g.to_create_json(view), "guild {n} / {view:?}");
                }
            }
            // Changed guilds: a nickname with quotes, a timeout, a new overwrite, a topic, slowmode.
            let uid = *g.members.keys().next().unwrap();
            let m = g.members.get_mut(&uid).unwrap();
            m.nick = Some("\"quoted\" \\ nick ✓".into());
            m.communication_disabled_until = Some(1_900_000_000_000);
            g.channels[1].overwrites.push(crate::world::Overwrite {
                id: uid,
                kind: 1,
                allow: 1 << 11,
                deny: 1 << 10,
            });
            // A topic that needs escaping and slowmode, on a text and a voice channel.
            g.channels[1].topic = Some("rules: \"be kind\" \\ ✓".into());
            g.channels[1].rate_limit_per_user = 21_600;
            g.channels[5].rate_limit_per_user = 30;
            let view = CreateView {
                presences: true,
                ..CreateView::default()
            };
            let fast: Value = serde_json::from_str(&guild_create(&g, view)).unwrap();
            assert_eq!(fast, g.to_create_json(view));
        }
    }

    #[test]
    fn dispatch_frames_splice_the_sequence() {
        let f = dispatch_frame(42, "GUILD_CREATE", "{\"id\":\"1\"}");
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["s"], 42);
        assert_eq!(v["op"], 0);
        assert_eq!(v["t"], "GUILD_CREATE");
        assert_eq!(v["d"]["id"], "1");
    }

    #[test]
    fn cache_stays_within_its_budget() {
        let c = GuildCreateCache::default();
        for n in 0..100 {
            c.put(
                n,
                21,
                CreateView::default(),
                Arc::from("x".repeat(100)),
                1000,
            );
        }
        let (entries, bytes, _, _) = c.figures();
        assert_eq!((entries, bytes), (10, 1000));
        assert!(c.get(99, 21, CreateView::default()).is_some());
        assert!(c.get(0, 21, CreateView::default()).is_none());
        let presences = CreateView {
            presences: true,
            ..CreateView::default()
        };
        assert!(c.get(99, 21, presences).is_none(), "another member list");
    }

    #[test]
    fn shard_index_matches_the_id_rule() {
        let w = World::new(1, 5000, 1);
        let idx = ShardIndex::default().get(&w, 7);
        assert_eq!(idx.iter().map(Vec::len).sum::<usize>(), 5000);
        for (s, guilds) in idx.iter().enumerate() {
            for n in guilds {
                assert_eq!((w.guild_id(u64::from(*n)) >> 22) % 7, s as u64);
            }
        }
    }
}
