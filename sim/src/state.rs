//! Shared simulator state: the changed part of the world, gateway sessions, interactions,
//! messages, audit logs, faults and statistics.

use crate::config::SimConfig;
use crate::intents;
use crate::util::{hash3, iso, next_snowflake, now_ms};
use crate::world::{Channel, Guild, User, World};
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// A command from the simulator to one live gateway connection.
#[derive(Debug, Clone)]
pub(crate) enum ConnCmd {
    /// A serialized dispatch frame.
    Frame(Arc<str>),
    /// Close with a code.
    Close(u16, String),
    /// Send op 7 then close.
    Reconnect,
    /// Send op 9 with `d`.
    InvalidSession(bool),
    /// Send op 1 (server-requested heartbeat).
    RequestHeartbeat,
    /// Drop the TCP connection without a close frame.
    Drop,
    /// Stop (true) or restart (false) heartbeat ACKs.
    StopAcks(bool),
    /// Rebuild and send a GUILD_CREATE kept lazily in the replay buffer, with its sequence
    /// number (RESUME replay).
    ReplayGuildCreate {
        /// Sequence number it was first sent with.
        seq: u64,
        /// Guild id.
        guild: u64,
        /// What the session's GUILD_CREATEs carry.
        view: crate::frames::CreateView,
    },
    /// Change how this connection delivers dispatches and heartbeat ACKs.
    Delivery(crate::gwfaults::Delivery),
}

/// One entry of a session's replay buffer.
#[derive(Debug, Clone)]
pub(crate) enum Buffered {
    /// The frame as sent.
    Frame(Arc<str>),
    /// A GUILD_CREATE, rebuilt on replay (a few bytes instead of the payload's kilobytes).
    GuildCreate {
        /// Guild id.
        guild: u64,
        /// What the session's GUILD_CREATEs carry.
        view: crate::frames::CreateView,
    },
}

/// The live connection attached to a session.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    pub id: u64,
    pub tx: mpsc::UnboundedSender<ConnCmd>,
    /// Frames queued for the connection and not yet written.
    pub backlog: Arc<AtomicUsize>,
}

impl ConnHandle {
    /// Queues a frame (counted in the backlog until the connection takes it).
    pub fn send_frame(&self, cmd: ConnCmd) {
        self.backlog.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(cmd).is_err() {
            self.backlog.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A gateway session.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: String,
    pub shard: [u32; 2],
    pub intents: u64,
    pub seq: u64,
    pub buffer: VecDeque<(u64, Buffered)>,
    pub conn: Option<ConnHandle>,
    pub disconnected_at: Option<Instant>,
    pub ready: bool,
    /// When the client last sent a heartbeat (op 1) on this session.
    pub last_heartbeat: Option<Instant>,
    /// What the session's GUILD_CREATEs carry (IDENTIFY's `large_threshold`, intents).
    pub view: crate::frames::CreateView,
    /// GUILD_CREATEs not streamed yet while no connection is attached (sent after RESUME).
    pub pending_guilds: VecDeque<u64>,
}

/// One recorded IDENTIFY.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifyRecord {
    /// `[shard_id, shard_total]`.
    pub shard: [u32; 2],
    /// Unix ms when accepted.
    pub at_ms: u64,
    /// Session created.
    pub session_id: String,
}

/// Counters; see [`crate::Sim::stats`].
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// Accepted identifies, in order.
    pub identifies: Vec<IdentifyRecord>,
    /// Identifies refused with op 9 (too fast for the bucket, or no session starts left).
    pub identifies_refused: u64,
    /// The refused identifies: shard and time.
    pub refused_identifies: Vec<IdentifyRecord>,
    /// Successful resumes.
    pub resumes: u64,
    /// Resumes per shard id.
    pub resumes_per_shard: BTreeMap<u32, u64>,
    /// Op 9 sent (any reason).
    pub invalid_sessions: u64,
    /// Close codes sent by the simulator, by code.
    pub closes: BTreeMap<u16, u64>,
    /// Dispatches pushed to sessions.
    pub dispatches: u64,
    /// GUILD_CREATE sent during READY streaming.
    pub guild_creates: u64,
    /// Presence updates received (op 3).
    pub presence_updates: u64,
    /// REST requests by `METHOD /route`.
    pub rest_requests: BTreeMap<String, u64>,
    /// REST 429s by `METHOD /route`.
    pub rest_429s: BTreeMap<String, u64>,
    /// Invalid requests (401/403/429) counted.
    pub invalid_requests: u64,
    /// Dispatches the firehose sent on live connections.
    pub firehose_sent: u64,
    /// Firehose events not sent (no ready session on the shard, intents, backlog).
    pub firehose_dropped: u64,
}

/// A stored interaction.
#[derive(Debug)]
pub(crate) struct Interaction {
    pub id: u64,
    pub token: String,
    pub guild_id: Option<u64>,
    pub channel_id: u64,
    pub user_id: u64,
    pub created: Instant,
    pub acknowledged: bool,
    /// Initial-response callbacks received, accepted or not (a second one is a bug in the
    /// bot: Discord refuses it with 40060).
    pub callbacks: u32,
    pub response: Option<Value>,
    pub original: Option<Value>,
    pub followups: Vec<Value>,
    pub payload: Value,
    /// Whether the form (modal) the bot answered with was submitted (once only).
    pub modal_submitted: bool,
}

/// A route fault.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RouteFault {
    /// `METHOD /route` (as in stats), a route template, or `*`.
    pub route: String,
    /// `429`, a 5xx status, `lag`, `hang` (no answer until the client gives up) or `reset`
    /// (the connection is cut before the response is complete).
    pub kind: String,
    /// For `lag`: delay in ms; for `429`: retry-after in ms.
    #[serde(default)]
    pub ms: Option<u64>,
    /// Requests it applies to (unlimited when absent).
    #[serde(default)]
    pub count: Option<u32>,
    /// For `429`: `user` (default), `shared` (not counted as an invalid request) or `global`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// For 5xx, `hang` and `reset`: the request is carried out first, then answered so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_apply: bool,
    /// For 5xx: Cloudflare's HTML page instead of Discord's JSON body.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub html: bool,
}

/// One command permission overwrite: target id, type (1 role, 2 user), allowed.
pub(crate) type CommandOverwrite = (u64, u8, bool);

/// Mutable state behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub guilds: HashMap<u64, Guild>,
    pub users: HashMap<u64, User>,
    pub dm_channels: HashMap<u64, Channel>,
    pub messages: HashMap<u64, Vec<Value>>,
    /// Who reacted to a message with an emoji: (message id, emoji as in the route) → users.
    pub reactions: HashMap<(u64, String), std::collections::BTreeSet<u64>>,
    /// The bytes of files the bot uploaded, by attachment id.
    pub uploads: crate::uploads::Store,
    pub audit: HashMap<u64, Vec<Value>>,
    /// Native auto-moderation rules by guild, in creation order.
    pub automod_rules: HashMap<u64, Vec<Value>>,
    pub sessions: HashMap<String, Session>,
    pub bucket_last_identify: HashMap<u32, Instant>,
    pub session_starts_used: u32,
    pub session_reset_at: Option<Instant>,
    pub commands_global: Vec<Value>,
    pub commands_guild: HashMap<u64, Vec<Value>>,
    pub command_ids: HashMap<(Option<u64>, String, u64), u64>,
    pub interactions: HashMap<u64, Interaction>,
    pub interaction_tokens: HashMap<String, u64>,
    pub presences: BTreeMap<String, Value>,
    pub stats: Stats,
    pub faults: Vec<RouteFault>,
    pub buckets: HashMap<String, crate::limits::Bucket>,
    pub global_hits: VecDeque<Instant>,
    pub dm_opens: VecDeque<Instant>,
    /// When each channel's name or topic was changed within the rename window, by channel.
    pub channel_renames: HashMap<u64, VecDeque<Instant>>,
    /// When a member last posted in a slowmode channel (Unix ms), by `(channel, user)`:
    /// only posts that start a slowmode wait are kept.
    pub last_posts: HashMap<(u64, u64), u64>,
    /// A Cloudflare ban in force: until when, and whether its body is HTML.
    pub cloudflare_ban: Option<(Instant, bool)>,
    /// The bot token was revoked: every authenticated request gets 401.
    pub token_revoked: bool,
    pub invalid_window: VecDeque<Instant>,
    pub member_requests: HashMap<(String, u64), Instant>,
    pub guild_deliveries: HashMap<u64, u32>,
    pub replay_cap: usize,
    pub dms_closed: std::collections::HashSet<u64>,
    /// Guilds in an outage: unavailable in READY, no GUILD_CREATE, no events.
    pub unavailable: std::collections::HashSet<u64>,
    /// Guilds the bot is not in (it left or was removed, or never joined).
    pub bot_left: std::collections::HashSet<u64>,
    /// The token was reset (session start limit exhausted): IDENTIFY and RESUME get 4004.
    pub token_reset: bool,
    /// Gateway faults that shape new sessions.
    pub gw_faults: crate::gwfaults::GatewayFaults,
    /// Firehose runs.
    pub firehoses: crate::firehose::plan::Runs,
    /// Command permission overwrites a guild's admins set (Discord's application command
    /// permissions), by guild and command name (`None`: every command of the application):
    /// `(role, user or channel id, type 1 role / 2 user, allowed)`.
    pub command_overwrites: HashMap<(u64, Option<String>), Vec<CommandOverwrite>>,
    /// The privileged intents as switched in the Developer Portal at run time
    /// (`POST /_sim/application`); `None`: as configured (`--no-privileged-intents`).
    pub privileged_intents: Option<bool>,
}

/// Everything a handler needs.
pub(crate) struct Shared {
    pub cfg: SimConfig,
    pub world: World,
    pub addr: SocketAddr,
    /// `SimConfig::public_url` as a gateway URL, validated.
    pub public_gateway_url: Option<String>,
    pub state: Mutex<State>,
    pub shutdown: CancellationToken,
    pub paused: watch::Sender<bool>,
    pub open_connections: AtomicUsize,
    pub conn_ids: AtomicU64,
    pub started: Instant,
    /// GUILD_CREATE bytes of untouched guilds.
    pub guild_create_cache: crate::frames::GuildCreateCache,
    /// Guilds per shard, per shard total.
    pub shard_index: crate::frames::ShardIndex,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The gateway URL announced to a client whose request carried `host` (its `Host`
    /// header): the public URL if configured, else `ws://HOST`, else the listen address.
    pub fn gateway_url(&self, host: Option<&axum::http::HeaderValue>) -> String {
        if let Some(url) = &self.public_gateway_url {
            return url.clone();
        }
        if let Some(host) = host
            .and_then(|h| h.to_str().ok())
            .and_then(crate::urls::host_authority)
        {
            return format!("ws://{host}");
        }
        format!("ws://{}", crate::urls::reachable(self.addr))
    }

    /// Guild ids of the world on shard `[id, total]`.
    pub fn guilds_on_shard(&self, shard: [u32; 2]) -> Vec<u64> {
        let index = self.shard_index.get(&self.world, shard[1]);
        index
            .get(shard[0] as usize)
            .map(|g| {
                g.iter()
                    .map(|n| self.world.guild_id(u64::from(*n)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the application has its privileged intents (members, presences, message
    /// content) switched on now.
    pub fn privileged_intents(&self, st: &State) -> bool {
        st.privileged_intents.unwrap_or(self.cfg.privileged_intents)
    }

    /// Session starts left.
    pub fn session_starts_remaining(&self, st: &mut State) -> u32 {
        if let Some(at) = st.session_reset_at
            && Instant::now() >= at
        {
            st.session_starts_used = 0;
            st.session_reset_at = None;
        }
        self.cfg
            .session_start_total
            .saturating_sub(st.session_starts_used)
    }

    /// Milliseconds until session starts reset.
    pub fn session_reset_after_ms(&self, st: &State) -> u64 {
        st.session_reset_at
            .map(|at| at.saturating_duration_since(Instant::now()).as_millis() as u64)
            .unwrap_or(self.cfg.session_start_reset.as_millis() as u64)
    }
}

/// Shard a guild's events go to.
pub(crate) fn shard_of(guild_id: Option<u64>, total: u32) -> u32 {
    guild_id.map_or(0, |g| ((g >> 22) % u64::from(total.max(1))) as u32)
}

impl State {
    /// Whether the bot's token no longer works: reset by Discord (session starts exhausted)
    /// or revoked. Either way REST answers 401 and the gateway closes with 4004.
    pub fn token_invalid(&self) -> bool {
        self.token_reset || self.token_revoked
    }

    /// Whether a GUILD_CREATE for `guild` may be streamed now (not in an outage, the bot in
    /// it).
    pub fn guild_streamable(&self, guild: u64) -> bool {
        !self.unavailable.contains(&guild) && !self.bot_left.contains(&guild)
    }

    /// Guild by id, read-only (generated when untouched).
    pub fn guild<'a>(&'a self, world: &World, id: u64) -> Option<Cow<'a, Guild>> {
        let n = world.guild_index(id)?;
        Some(match self.guilds.get(&n) {
            Some(g) => Cow::Borrowed(g),
            None => Cow::Owned(world.generate(n)),
        })
    }

    /// Guild by id, materialized for change.
    pub fn guild_mut(&mut self, world: &World, id: u64) -> Option<&mut Guild> {
        let n = world.guild_index(id)?;
        Some(self.guilds.entry(n).or_insert_with(|| world.generate(n)))
    }

    /// Guild by index, read-only.
    pub fn guild_by_index<'a>(&'a self, world: &World, n: u64) -> Cow<'a, Guild> {
        match self.guilds.get(&n) {
            Some(g) => Cow::Borrowed(g),
            None => Cow::Owned(world.generate(n)),
        }
    }

    /// A channel by id, with its guild id.
    pub fn channel(&self, world: &World, id: u64) -> Option<Channel> {
        if let Some(c) = self.dm_channels.get(&id) {
            return Some(c.clone());
        }
        let n = world.owner_index(id)?;
        self.guild_by_index(world, n).channel(id).cloned()
    }

    /// A user by id (whether or not still in a guild).
    pub fn user(&self, world: &World, id: u64) -> Option<User> {
        if id == world.bot.id {
            return Some(world.bot.clone());
        }
        if id == world.app_owner.id {
            return Some(world.app_owner.clone());
        }
        if let Some(u) = self.users.get(&id) {
            return Some(u.clone());
        }
        let n = world.owner_index(id)?;
        world.generate(n).members.get(&id).map(|m| m.user.clone())
    }

    /// Removes `uid` from `gid`'s members (a leave, kick or ban) and, if they were one,
    /// dispatches GUILD_MEMBER_REMOVE (`guild_id`, `user`). Returns whether they were.
    pub fn remove_member(&mut self, world: &World, gid: u64, uid: u64) -> bool {
        let Some(member) = self
            .guild_mut(world, gid)
            .and_then(|g| g.members.remove(&uid))
        else {
            return false;
        };
        let ev = json!({"guild_id": gid.to_string(), "user": member.user.to_json()});
        self.dispatch(
            Some(gid),
            "GUILD_MEMBER_REMOVE",
            &ev,
            intents::GUILD_MEMBERS,
            false,
        );
        true
    }

    /// Pushes a dispatch to every session that should get it: the shard owning `guild_id`
    /// (shard 0 when none), with `intent` (0 = always). `strip_content` drops message
    /// content for sessions without MESSAGE_CONTENT.
    pub fn dispatch(
        &mut self,
        guild_id: Option<u64>,
        event: &str,
        data: &Value,
        intent: u64,
        strip_content: bool,
    ) {
        if let Some(g) = guild_id
            && (self.unavailable.contains(&g) || self.bot_left.contains(&g))
        {
            // Discord sends nothing for a guild in an outage or one the bot is not in.
            return;
        }
        let full: Arc<str> = Arc::from(data.to_string());
        let mut stripped: Option<Arc<str>> = None;
        let ids: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.ready && shard_of(guild_id, s.shard[1]) == s.shard[0])
            .filter(|s| intent == 0 || s.intents & intent != 0)
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            let intents_of = self.sessions[&id].intents;
            let d = if strip_content && intents_of & intents::MESSAGE_CONTENT == 0 {
                stripped
                    .get_or_insert_with(|| {
                        let mut v = data.clone();
                        v["content"] = json!("");
                        v["embeds"] = json!([]);
                        v["attachments"] = json!([]);
                        v["components"] = json!([]);
                        Arc::from(v.to_string())
                    })
                    .clone()
            } else {
                full.clone()
            };
            self.push(&id, event, &d);
        }
    }

    /// Pushes one dispatch (already serialized `d`) to a session.
    pub fn push(&mut self, session_id: &str, event: &str, d: &str) {
        let Some(s) = self.sessions.get_mut(session_id) else {
            return;
        };
        s.seq += 1;
        let frame: Arc<str> = Arc::from(crate::frames::dispatch_frame(s.seq, event, d));
        s.buffer.push_back((s.seq, Buffered::Frame(frame.clone())));
        while s.buffer.len() > self.replay_cap {
            s.buffer.pop_front();
        }
        if let Some(c) = &s.conn {
            c.send_frame(ConnCmd::Frame(frame));
        }
        self.stats.dispatches += 1;
    }

    /// Pushes a GUILD_CREATE (serialized `d`) to a session; the replay buffer keeps only the
    /// guild id. Returns whether the session exists.
    pub fn push_guild_create(
        &mut self,
        session_id: &str,
        guild: u64,
        d: &str,
        view: crate::frames::CreateView,
    ) -> bool {
        let Some(s) = self.sessions.get_mut(session_id) else {
            return false;
        };
        s.seq += 1;
        let frame: Arc<str> = Arc::from(crate::frames::dispatch_frame(s.seq, "GUILD_CREATE", d));
        s.buffer
            .push_back((s.seq, Buffered::GuildCreate { guild, view }));
        while s.buffer.len() > self.replay_cap {
            s.buffer.pop_front();
        }
        if let Some(c) = &s.conn {
            c.send_frame(ConnCmd::Frame(frame));
        }
        self.stats.dispatches += 1;
        self.stats.guild_creates += 1;
        *self.guild_deliveries.entry(guild).or_default() += 1;
        true
    }

    /// Appends an audit-log entry and raises GUILD_AUDIT_LOG_ENTRY_CREATE, which Discord
    /// sends only to sessions with GUILD_MODERATION and only while the bot holds
    /// VIEW_AUDIT_LOG in the guild.
    #[allow(clippy::too_many_arguments)]
    pub fn audit(
        &mut self,
        world: &World,
        guild_id: u64,
        actor: u64,
        target: Option<u64>,
        action_type: u32,
        changes: Vec<Value>,
        reason: Option<&str>,
        options: Option<Value>,
    ) -> Value {
        let mut entry = json!({
            "id": next_snowflake().to_string(),
            "user_id": actor.to_string(),
            "target_id": target.map(|t| t.to_string()),
            "action_type": action_type,
            "changes": changes,
        });
        if let Some(r) = reason {
            entry["reason"] = json!(r);
        }
        if let Some(o) = options {
            entry["options"] = o;
        }
        self.audit.entry(guild_id).or_default().push(entry.clone());
        let sees = self.guild(world, guild_id).is_some_and(|g| {
            g.base_permissions(world.bot.id) & crate::world::perms::VIEW_AUDIT_LOG != 0
        });
        if !sees {
            return entry;
        }
        let mut ev = entry.clone();
        ev["guild_id"] = json!(guild_id.to_string());
        self.dispatch(
            Some(guild_id),
            "GUILD_AUDIT_LOG_ENTRY_CREATE",
            &ev,
            intents::GUILD_MODERATION,
            false,
        );
        entry
    }

    /// Records an invalid request (401/403/429).
    pub fn count_invalid(&mut self) {
        self.stats.invalid_requests += 1;
        self.invalid_window.push_back(Instant::now());
    }

    /// Whether channel `cid` stores a message with id `id`.
    pub(crate) fn has_message(&self, cid: u64, id: u64) -> bool {
        self.messages.get(&cid).is_some_and(|v| {
            let at = v.partition_point(|m| message_id(m) < id);
            v.get(at).is_some_and(|m| message_id(m) == id)
        })
    }

    /// Stores message `m` in channel `cid` at its id's place. A channel's messages are kept
    /// in id (creation) order, which listing them (newest first, `before` / `after` /
    /// `around`) relies on, also when a backdated message arrives after newer ones.
    pub(crate) fn store_message(&mut self, cid: u64, m: Value) {
        let v = self.messages.entry(cid).or_default();
        let id = message_id(&m);
        let at = v.partition_point(|x| message_id(x) <= id);
        v.insert(at, m);
    }

    /// Dispatches MESSAGE_DELETE for message `id` of channel `cid`: `id`, `channel_id` and,
    /// in a guild, `guild_id`, under GUILD_MESSAGES in a guild and DIRECT_MESSAGES in a DM.
    pub(crate) fn dispatch_message_delete(&mut self, guild: Option<u64>, cid: u64, id: u64) {
        let mut ev = json!({"id": id.to_string(), "channel_id": cid.to_string()});
        if let Some(g) = guild {
            ev["guild_id"] = json!(g.to_string());
        }
        let intent = if guild.is_some() {
            intents::GUILD_MESSAGES
        } else {
            intents::DIRECT_MESSAGES
        };
        self.dispatch(guild, "MESSAGE_DELETE", &ev, intent, false);
    }
}

/// The id of a stored message (0 if it has none).
pub(crate) fn message_id(m: &Value) -> u64 {
    m["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A message object.
#[allow(clippy::too_many_arguments)]
pub(crate) fn message_json(
    id: u64,
    channel_id: u64,
    guild_id: Option<u64>,
    author: &User,
    member: Option<Value>,
    content: &str,
    body: &Value,
    kind: u8,
) -> Value {
    let mut v = json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": author.to_json(),
        "content": content,
        "timestamp": iso(crate::util::snowflake_ms(id)),
        "edited_timestamp": null,
        "tts": body.get("tts").and_then(Value::as_bool).unwrap_or(false),
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": normalize_embeds(body.get("embeds")),
        "components": normalize_components(body.get("components")),
        "pinned": false,
        "type": kind,
        "flags": body.get("flags").and_then(Value::as_u64).unwrap_or(0),
    });
    if let Some(n) = body.get("nonce") {
        v["nonce"] = n.clone();
    }
    if let Some(g) = guild_id {
        v["guild_id"] = json!(g.to_string());
    }
    if let Some(m) = member {
        v["member"] = m;
    }
    v
}

/// Applies an edit body (content, embeds, components, flags) to a stored message.
pub(crate) fn apply_edit(m: &mut Value, b: &Value) {
    if let Some(v) = b.get("content") {
        m["content"] = if v.is_null() { json!("") } else { v.clone() };
    }
    if let Some(v) = b.get("embeds") {
        m["embeds"] = normalize_embeds(Some(v));
    }
    if let Some(v) = b.get("components") {
        m["components"] = normalize_components(Some(v));
    }
    if let Some(f) = b.get("flags").and_then(Value::as_u64) {
        // Only SUPPRESS_EMBEDS can be toggled by an edit.
        let old = m["flags"].as_u64().unwrap_or(0);
        m["flags"] = json!((old & !4) | (f & 4));
    }
}

/// Components as Discord stores them: every component gets a numeric `id` (those given are
/// kept; the others are numbered from 1 in tree order, skipping ids in use) and selects get
/// their `min_values` / `max_values` defaults (1).
pub(crate) fn normalize_components(v: Option<&Value>) -> Value {
    fn each(v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
        let Some(list) = v.as_array_mut() else {
            return;
        };
        for c in list {
            f(c);
            // (IndexMut would insert null for a missing key: look before indexing.)
            if c.get("components").is_some() {
                each(&mut c["components"], f);
            }
            if c.get("accessory").is_some_and(Value::is_object) {
                f(&mut c["accessory"]);
            }
        }
    }
    let Some(Value::Array(a)) = v else {
        return json!([]);
    };
    let mut out = Value::Array(a.clone());
    let mut used = std::collections::HashSet::new();
    each(&mut out, &mut |c| {
        if let Some(id) = c.get("id").and_then(Value::as_u64) {
            used.insert(id);
        }
    });
    let mut next = 1;
    each(&mut out, &mut |c| {
        let Some(obj) = c.as_object_mut() else {
            return;
        };
        if obj.get("id").and_then(Value::as_u64).is_none() {
            while used.contains(&next) {
                next += 1;
            }
            obj.insert("id".into(), json!(next));
            used.insert(next);
        }
        if matches!(obj.get("type").and_then(Value::as_u64), Some(3 | 5..=8)) {
            obj.entry("min_values").or_insert(json!(1));
            obj.entry("max_values").or_insert(json!(1));
        }
    });
    out
}

/// Embeds as Discord stores them: `type` defaults to `rich`, fields get `inline`.
pub(crate) fn normalize_embeds(v: Option<&Value>) -> Value {
    let Some(Value::Array(a)) = v else {
        return json!([]);
    };
    Value::Array(
        a.iter()
            .map(|e| {
                let mut e = e.clone();
                if let Some(o) = e.as_object_mut() {
                    o.entry("type").or_insert(json!("rich"));
                    o.retain(|_, v| !v.is_null());
                    if let Some(Value::Array(fields)) = o.get_mut("fields") {
                        for f in fields {
                            if let Some(fo) = f.as_object_mut() {
                                fo.entry("inline").or_insert(json!(false));
                            }
                        }
                    }
                }
                e
            })
            .collect(),
    )
}

/// The member JSON without `user` (as embedded in MESSAGE_CREATE).
pub(crate) fn member_partial(g: &Guild, user_id: u64) -> Option<Value> {
    let mut m = g.members.get(&user_id)?.to_json();
    m.as_object_mut()?.remove("user");
    Some(m)
}

/// A deterministic-looking session id.
pub(crate) fn new_session_id(seed: u64) -> String {
    format!(
        "{:016x}{:016x}",
        hash3(seed, now_ms(), 77),
        rand::random::<u64>()
    )
}

/// Identify-window helper: how long until `bucket` may identify again. Discord enforces the
/// window exactly; `slack` (0 by default, [`SimConfig::identify_window_slack`]) lets an
/// identify arrive that much early.
pub(crate) fn bucket_wait(
    st: &State,
    bucket: u32,
    window: Duration,
    slack: Duration,
) -> Option<Duration> {
    let last = st.bucket_last_identify.get(&bucket)?;
    let next = *last + window.saturating_sub(slack);
    let now = Instant::now();
    (next > now).then(|| next - now)
}

/// Open-connection counter guard.
pub(crate) struct ConnGuard(pub Arc<Shared>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_components;
    use serde_json::json;

    #[test]
    fn components_get_ids_in_tree_order_skipping_given_ones_and_select_defaults() {
        let given = json!([
            {"type": 1, "components": [
                {"type": 2, "style": 1, "custom_id": "a"},
                {"type": 2, "style": 1, "custom_id": "b", "id": 2}
            ]},
            {"type": 1, "components": [{"type": 3, "custom_id": "s", "options": []}]}
        ]);
        let out = normalize_components(Some(&given));
        assert_eq!(out[0]["id"], 1);
        assert_eq!(out[0]["components"][0]["id"], 3);
        assert_eq!(out[0]["components"][1]["id"], 2);
        assert_eq!(out[1]["id"], 4);
        assert_eq!(out[1]["components"][0]["id"], 5);
        assert_eq!(out[1]["components"][0]["min_values"], 1);
        assert_eq!(out[1]["components"][0]["max_values"], 1);
        assert!(out[0]["components"][0].get("components").is_none());
        assert_eq!(normalize_components(None), json!([]));
    }
}
