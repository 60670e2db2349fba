//! Shared set-up for the moderation tests: a simulator world, a store, the worker's services
//! and the registry, and ways to run a command as a slash command (through the simulator's
//! interaction builder and the registry's slash parser) or as a prefix command.

#![allow(dead_code, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kyuta_sim::{Sim, SimConfig};
use kyuta_worker::clock::SystemClock;
use kyuta_worker::commands::{CommandContext, CommandError, Invoker, Registry, Reply, Source};
use kyuta_worker::config::{Config, Token};
use kyuta_worker::moderation::engine::Deps;
use kyuta_worker::moderation::scheduler::SchedulerConfig;
use kyuta_worker::rest::{LocalBudget, Rest, http_client};
use kyuta_worker::services::Services;
use kyuta_worker::shards::status::ShardStatus;
use kyuta_worker::store::{DueScope, EmbeddedStore, MongoOptions, MongoStore, Store};
use kyuta_worker::telemetry::Metrics;
use serde_json::{Value, json};
use twilight_model::application::interaction::{Interaction, InteractionData};
use twilight_model::guild::Permissions;
use twilight_model::id::Id;

pub const TOKEN: &str = "moderation-test-token";
pub const PREFIX: &str = "k!";

/// Which store backs a test.
#[derive(Debug, Clone)]
pub enum StoreKind {
    /// A fresh redb file at this path.
    Embedded(std::path::PathBuf),
    /// MongoDB (FerretDB) with this database name.
    Mongo(String),
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call (for databases and files).
pub fn unique(prefix: &str) -> String {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!("{prefix}_{}_{t}_{n}", std::process::id())
}

impl StoreKind {
    pub fn embedded() -> Self {
        Self::Embedded(std::env::temp_dir().join(format!("{}.redb", unique("kyuta_mod"))))
    }

    pub fn mongo() -> Self {
        Self::Mongo(unique("kyuta_mod"))
    }

    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Self::Embedded(path) => Arc::new(
                EmbeddedStore::open(path.clone())
                    .await
                    .expect("open the embedded store"),
            ),
            Self::Mongo(db) => {
                let mut opts = MongoOptions::new(kyuta_tests::mongo_uri());
                opts.database = Some(db.clone());
                Arc::new(
                    MongoStore::connect(opts)
                        .await
                        .expect("connect to MongoDB (FerretDB); start it with tests/env/up"),
                )
            }
        }
    }
}

/// The people of the test guild (the simulator's generated guild 0).
#[derive(Debug, Clone, Copy)]
pub struct Cast {
    pub guild: u64,
    pub owner: u64,
    /// Has the Admin role (position 4, above the bot).
    pub admin: u64,
    /// Has the Moderator role (position 2).
    pub moderator: u64,
    /// Has the Member role (position 1).
    pub member: u64,
    /// Another member with the Member role.
    pub member2: u64,
    /// A member with no role.
    pub plain: u64,
    pub general: u64,
    pub mod_log: u64,
    pub bot: u64,
}

/// A simulator plus one worker's services.
pub struct Harness {
    pub sim: Sim,
    pub cast: Cast,
    pub worker: Worker,
    ids: AtomicU64,
}

/// One worker's services (several may share a simulator and a store).
#[derive(Clone)]
pub struct Worker {
    pub services: Arc<Services>,
    pub registry: Arc<Registry>,
    pub store: Arc<dyn Store>,
    pub name: String,
}

impl Worker {
    pub fn deps(&self) -> Deps {
        Deps::from_services(&self.services, self.store.clone())
    }

    pub fn scheduler_config(&self) -> SchedulerConfig {
        let mut c = SchedulerConfig::new(self.name.clone(), DueScope::All);
        c.interval = Duration::from_millis(200);
        c.lease = Duration::from_secs(5);
        c
    }
}

fn member_by_slot(guild: &kyuta_sim::world::Guild, k: u32) -> u64 {
    let suffix = format!("_{}_{k}", guild.index);
    guild
        .members
        .values()
        .find(|m| !m.user.bot && m.user.username.ends_with(&suffix))
        .map(|m| m.user.id)
        .unwrap_or_else(|| panic!("the simulator world has no member {k}"))
}

impl Harness {
    /// Starts a simulator (one guild, 12 members) and a worker on `store`.
    pub async fn start(store: &StoreKind) -> Self {
        Self::start_with_guilds(store, 1).await
    }

    /// Like [`Harness::start`] with `guilds` guilds in the world; the cast is guild 0's, and
    /// the bot is in all of them.
    pub async fn start_with_guilds(store: &StoreKind, guilds: u64) -> Self {
        let sim = Sim::start(SimConfig {
            token: TOKEN.into(),
            guilds,
            members_per_guild: 12,
            // Routes without a limit of their own (GET /users/@me, /applications/@me,
            // command registration, member reads; 5 per window by default) get 50: the
            // workers of one test call them more often than one bot at rest would. The
            // routes Discord limits on their own (messages, bans, member edits, DMs) keep
            // their real limits.
            route_limit: 50,
            // Readiness waits for an acked heartbeat: Discord's 41.25 s would make a live
            // worker's start take up to that long.
            heartbeat_interval: Duration::from_secs(2),
            ..SimConfig::default()
        })
        .await
        .expect("start the simulator");
        let gid = sim.world().guild_id(0);
        let g = sim.guild(gid).expect("guild 0");
        let channel = |name: &str| {
            g.channels
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.id)
                .unwrap_or_else(|| panic!("no #{name} channel"))
        };
        let admins: Vec<u64> = [0, 1].iter().map(|k| member_by_slot(&g, *k)).collect();
        let cast = Cast {
            guild: gid,
            owner: g.owner_id,
            admin: *admins.iter().find(|a| **a != g.owner_id).unwrap(),
            moderator: member_by_slot(&g, 2),
            member: member_by_slot(&g, 4),
            member2: member_by_slot(&g, 5),
            plain: member_by_slot(&g, 3),
            general: channel("general"),
            mod_log: channel("mod-log"),
            bot: sim.bot_id(),
        };
        let worker = Self::worker_on(&sim, store, "worker-0").await;
        let h = Self {
            sim,
            cast,
            worker,
            ids: AtomicU64::new(1),
        };
        h.register_commands().await;
        // The server's admins let every member run Kyuta's commands (Server Settings →
        // Integrations), as servers that rely on the bot's own checks do: otherwise Discord
        // would hide /ban from a plain member and the worker's refusals could not be reached.
        let (status, body) = http(
            &h.sim,
            "PUT",
            &format!("/_sim/guilds/{gid}/commands/permissions"),
            Some(json!({"permissions": [{"id": gid.to_string(), "type": 1, "permission": true}]})),
        )
        .await;
        assert_eq!(status, 200, "command permissions: {body}");
        h
    }

    /// Another worker (own REST client and store connection) against the same simulator.
    pub async fn worker_on(sim: &Sim, store: &StoreKind, name: &str) -> Worker {
        let store = store.open().await;
        let metrics = Arc::new(Metrics::new());
        let client = http_client(&Token::new(TOKEN), Some(&sim.api_url()));
        let rest = Rest::new(client, Arc::new(LocalBudget::new(50)), metrics.clone());
        let mut registry = Registry::new();
        kyuta_worker::moderation::register(&mut registry, store.clone())
            .expect("register moderation commands");
        kyuta_worker::moderation::userinfo::register(&mut registry, store.clone())
            .expect("register /userinfo");
        kyuta_worker::serverlog::register(&mut registry, store.clone())
            .expect("register /serverlog");
        let services = Arc::new(Services {
            config: Arc::new(Config::defaults()),
            rest,
            clock: Arc::new(SystemClock),
            metrics,
            shards: Arc::new(ShardStatus::new(1, [0])),
            application_id: Id::new(sim.bot_id()),
            bot_user_id: Id::new(sim.bot_id()),
            started_at: Instant::now(),
            store: store.clone(),
            guild_configs: Default::default(),
            guild_cache: Arc::new(kyuta_worker::cache::GuildCache::new()),
            cooldowns: Arc::new(kyuta_worker::cache::InProcessCooldowns::new()),
            guild_refills: Default::default(),
        });
        Worker {
            services,
            registry: Arc::new(registry),
            store,
            name: name.into(),
        }
    }

    /// Simulates a restart: the worker's services (and its store handle) are dropped, then a
    /// new worker named `name` starts on the same store.
    pub async fn restart_worker(&mut self, store: &StoreKind, name: &str) {
        let placeholder = Self::worker_on(&self.sim, &StoreKind::embedded(), "placeholder").await;
        let old = std::mem::replace(&mut self.worker, placeholder);
        assert_eq!(
            Arc::strong_count(&old.services),
            1,
            "nothing else may hold the old worker"
        );
        drop(old);
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.worker = Self::worker_on(&self.sim, store, name).await;
    }

    async fn register_commands(&self) {
        let s = &self.worker.services;
        let commands = self
            .worker
            .registry
            .discord_commands(Some(s.application_id));
        s.rest
            .client()
            .interaction(s.application_id)
            .set_global_commands(&commands)
            .await
            .expect("register the commands with the simulator");
    }

    fn next_id(&self) -> u64 {
        // Snowflake-shaped, unique within the test.
        (1_400_000_000_000u64 << 22) + self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The member's role ids and guild permissions, as the simulator has them now.
    pub fn member_view(&self, user: u64) -> (Vec<u64>, Permissions) {
        let g = self.sim.guild(self.cast.guild).unwrap();
        let roles = g
            .members
            .get(&user)
            .map(|m| m.roles.clone())
            .unwrap_or_default();
        (
            roles,
            Permissions::from_bits_truncate(g.base_permissions(user)),
        )
    }

    /// Runs a slash command as `user` in #general: the simulator builds the interaction
    /// (resolving users and channels like Discord), the registry parses its data.
    pub async fn slash(
        &self,
        user: u64,
        name: &str,
        options: Value,
    ) -> Result<Reply, CommandError> {
        self.slash_on(&self.worker, user, name, options).await
    }

    /// Builds a slash interaction without running it (to run it several times).
    pub async fn build_interaction(&self, user: u64, name: &str, options: Value) -> Interaction {
        let created = http(
            &self.sim,
            "POST",
            "/_sim/interactions",
            Some(json!({
                "guild_id": self.cast.guild.to_string(),
                "channel_id": self.cast.general.to_string(),
                "user_id": user.to_string(),
                "name": name,
                "options": options,
            })),
        )
        .await;
        assert_eq!(created.0, 201, "building the interaction: {}", created.1);
        serde_json::from_value(created.1["payload"].clone())
            .expect("the simulator's interaction deserializes with twilight")
    }

    pub async fn slash_on(
        &self,
        worker: &Worker,
        user: u64,
        name: &str,
        options: Value,
    ) -> Result<Reply, CommandError> {
        let interaction = self.build_interaction(user, name, options).await;
        self.run_interaction(worker, &interaction).await
    }

    /// Runs a built interaction on a worker.
    pub async fn run_interaction(
        &self,
        worker: &Worker,
        interaction: &Interaction,
    ) -> Result<Reply, CommandError> {
        let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
            panic!("not a command interaction");
        };
        let (def, args) = worker
            .registry
            .parse_slash(data)
            .expect("the command is registered");
        let args = args?;
        let member = interaction.member.as_ref().expect("guild interaction");
        let user = member.user.as_ref().expect("member user");
        let ctx = CommandContext {
            command: def.name.clone(),
            guild_id: interaction.guild_id,
            channel_id: interaction.channel.as_ref().unwrap().id,
            invoker: Invoker {
                user_id: user.id,
                name: user.name.clone(),
                roles: member.roles.clone(),
                permissions: member.permissions,
            },
            source: Source::Interaction {
                id: interaction.id,
                token: interaction.token.clone(),
            },
            shard_id: 0,
            locale: kyuta_worker::i18n::Locale::EnUs,
            services: worker.services.clone(),
            registry: worker.registry.clone(),
            progress: kyuta_worker::commands::Progress::default(),
        };
        def.handler.run(&ctx, &args).await
    }

    /// Runs a prefix command (`content` without the prefix) as `user` in #general.
    pub async fn prefix(&self, user: u64, content: &str) -> Result<Reply, CommandError> {
        let id = self.next_id();
        self.prefix_with_id(&self.worker, user, content, id).await
    }

    pub async fn prefix_with_id(
        &self,
        worker: &Worker,
        user: u64,
        content: &str,
        message_id: u64,
    ) -> Result<Reply, CommandError> {
        let text = format!("{PREFIX}{content}");
        let (def, args) = worker
            .registry
            .parse_prefix(&text, PREFIX)
            .unwrap_or_else(|| panic!("`{text}` is not a registered command"));
        let args = args?;
        let (roles, permissions) = self.member_view(user);
        let ctx = CommandContext {
            command: def.name.clone(),
            guild_id: Some(Id::new(self.cast.guild)),
            channel_id: Id::new(self.cast.general),
            invoker: Invoker {
                user_id: Id::new(user),
                name: format!("user{user}"),
                roles: roles.into_iter().map(Id::new).collect(),
                permissions: Some(permissions),
            },
            source: Source::Message {
                id: Id::new(message_id),
            },
            shard_id: 0,
            locale: kyuta_worker::i18n::Locale::EnUs,
            services: worker.services.clone(),
            registry: worker.registry.clone(),
            progress: kyuta_worker::commands::Progress::default(),
        };
        def.handler.run(&ctx, &args).await
    }

    /// Whether the user is banned in the simulator.
    pub fn is_banned(&self, user: u64) -> bool {
        self.sim
            .guild(self.cast.guild)
            .unwrap()
            .bans
            .contains_key(&user)
    }

    /// Whether the user is a member in the simulator.
    pub fn is_member(&self, user: u64) -> bool {
        self.sim
            .guild(self.cast.guild)
            .unwrap()
            .members
            .contains_key(&user)
    }

    /// The member's `communication_disabled_until` (Unix ms), if any.
    pub fn timed_out_until(&self, user: u64) -> Option<u64> {
        self.sim
            .guild(self.cast.guild)
            .unwrap()
            .members
            .get(&user)
            .and_then(|m| m.communication_disabled_until)
    }

    /// The guild's audit-log entries from the simulator's control API.
    pub async fn audit_log(&self) -> Vec<Value> {
        let (status, body) = http(
            &self.sim,
            "GET",
            &format!("/_sim/guilds/{}/audit-log", self.cast.guild),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        entries(body)
    }

    /// Audit-log entries of one action type (22 ban add, 23 ban remove, 20 kick, 24 member
    /// update).
    pub async fn audit_of(&self, action_type: u64, target: u64) -> Vec<Value> {
        self.audit_log()
            .await
            .into_iter()
            .filter(|e| {
                e["action_type"].as_u64() == Some(action_type)
                    && e["target_id"].as_str() == Some(target.to_string().as_str())
            })
            .collect()
    }

    /// Messages in a channel (oldest first).
    pub async fn messages(&self, channel: u64) -> Vec<Value> {
        let (status, body) = http(
            &self.sim,
            "GET",
            &format!("/_sim/channels/{channel}/messages"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let mut m = entries(body);
        m.sort_by_key(|v| {
            v["id"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        });
        m
    }

    /// The server gives Kyuta's role `bits` more (as its owner would in the role settings):
    /// the generated role holds only some of what the invite asks for.
    pub async fn grant_bot(&self, bits: u64) {
        self.edit_bot_role(|have| have | bits).await;
    }

    /// The server takes `bits` away from Kyuta's role.
    pub async fn revoke_bot(&self, bits: u64) {
        self.edit_bot_role(|have| have & !bits).await;
    }

    /// Sets Kyuta's role's permissions to `change` of what it has.
    async fn edit_bot_role(&self, change: impl FnOnce(u64) -> u64) {
        let (_, guild) = http(
            &self.sim,
            "GET",
            &format!("/_sim/guilds/{}", self.cast.guild),
            None,
        )
        .await;
        let role = guild["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["name"] == "Kyuta")
            .cloned()
            .expect("Kyuta's role");
        let have: u64 = role["permissions"].as_str().unwrap().parse().unwrap();
        let want = change(have);
        let (status, body) = http(
            &self.sim,
            "PATCH",
            &format!(
                "/_sim/guilds/{}/roles/{}",
                self.cast.guild,
                role["id"].as_str().unwrap()
            ),
            Some(json!({"permissions": want.to_string()})),
        )
        .await;
        assert!(
            status < 300,
            "setting the bot's role to {want:#x}: {status} {body}"
        );
    }

    /// The mod-log posts whose text contains `needle`, once there are at least `n` (fails
    /// after 10 s).
    pub async fn modlog_posts(&self, needle: &str, n: usize) -> Vec<String> {
        let mut posts = Vec::new();
        let posted = wait_until(Duration::from_secs(10), async || {
            posts = self
                .messages(self.cast.mod_log)
                .await
                .iter()
                .map(message_text)
                .filter(|t| t.contains(needle))
                .collect();
            posts.len() >= n
        })
        .await;
        assert!(
            posted,
            "{n} mod-log posts with {needle:?} expected: {posts:?}"
        );
        posts
    }

    /// Sets the mod-log channel through the command.
    pub async fn set_modlog(&self) {
        self.slash(
            self.cast.admin,
            "modlog",
            json!({"channel": self.cast.mod_log.to_string()}),
        )
        .await
        .expect("set the mod-log channel");
    }

    pub async fn shutdown(self) {
        self.sim.shutdown().await;
    }

    /// The configuration of a real worker process on this simulator and `store`.
    pub fn live_config(&self, store: &StoreKind) -> Config {
        // `Config::defaults()` reads the environment like the binary does; a live test owns
        // its world, so nothing shared (Redis, a cluster name, a pod identity) leaks in from
        // the test environment's variables.
        let mut c = Config::defaults();
        c.redis_url = None;
        c.mongo_uri = None;
        c.cluster = unique("live");
        c.pod_name = None;
        c.pod_ordinal = None;
        c.shards_per_pod = None;
        c.generation = None;
        c.discord_token = Some(Token::new(TOKEN));
        c.discord_api_url = Some(self.sim.api_url());
        c.discord_gateway_url = Some(self.sim.gateway_url());
        c.shard_count = kyuta_worker::config::ShardCount::Fixed(1);
        c.metrics_port = 0;
        c.health_check_port = 0;
        c.bind_address = std::net::IpAddr::from([127, 0, 0, 1]);
        c.session_file = "none".into();
        c.register_commands = true;
        c.features = "analytics".parse().expect("a feature flag");
        match store {
            StoreKind::Embedded(path) => c.store_path = path.clone(),
            StoreKind::Mongo(db) => {
                c.mongo_uri = Some(kyuta_worker::config::SecretUrl::new(
                    kyuta_tests::mongo_uri(),
                ));
                c.mongo_database = db.clone();
            }
        }
        c
    }

    /// Starts the real worker runtime (gateway, dispatcher, automod, scheduler) on this
    /// simulator and `store`, and waits until its shard is ready.
    pub async fn start_live(&self, store: &StoreKind) -> kyuta_worker::WorkerHandle {
        self.start_live_with(self.live_config(store)).await
    }

    /// Starts the real worker runtime with `config` and waits until its shard is ready.
    pub async fn start_live_with(&self, config: Config) -> kyuta_worker::WorkerHandle {
        let handle = kyuta_worker::start(config).await.expect("start the worker");
        assert!(
            wait_until(Duration::from_secs(30), async || handle.is_ready()).await,
            "the worker's shard did not become ready"
        );
        handle
    }

    /// Starts the real worker runtime on a fresh MongoDB (FerretDB) database and opens a
    /// second handle on that database, to read what the worker wrote.
    pub async fn start_live_on_mongo(&self) -> (kyuta_worker::WorkerHandle, Arc<dyn Store>) {
        let store = StoreKind::mongo();
        let worker = self.start_live(&store).await;
        (worker, store.open().await)
    }

    /// A user runs a slash command through the gateway; returns the answer ([`Self::answer`]).
    pub async fn slash_answer(&self, user: u64, name: &str, options: Value) -> Value {
        let id = self.send_slash(user, name, options).await;
        self.answer(id).await
    }

    /// A user runs a slash command through the gateway: the simulator sends
    /// INTERACTION_CREATE to the running worker. Returns the interaction id.
    pub async fn send_slash(&self, user: u64, name: &str, options: Value) -> u64 {
        let (status, body) = http(
            &self.sim,
            "POST",
            "/_sim/interactions",
            Some(json!({
                "guild_id": self.cast.guild.to_string(),
                "channel_id": self.cast.general.to_string(),
                "user_id": user.to_string(),
                "name": name,
                "options": options,
            })),
        )
        .await;
        assert_eq!(status, 201, "sending /{name}: {body}");
        body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no interaction id in {body}"))
    }

    /// What the bot answered to an interaction (waits up to 10 s for the answer);
    /// `["original"]` is the reply message.
    pub async fn answer(&self, interaction: u64) -> Value {
        let mut last = Value::Null;
        let answered = wait_until(Duration::from_secs(10), async || {
            let (_, body) = http(
                &self.sim,
                "GET",
                &format!("/_sim/interactions/{interaction}"),
                None,
            )
            .await;
            let o = &body["original"];
            let has_text = |v: &Value| match v {
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => false,
            };
            // A deferred answer counts once its edit carries the reply.
            let done = body["acknowledged"].as_bool() == Some(true)
                && (has_text(&o["content"]) || has_text(&o["embeds"]));
            last = body;
            done
        })
        .await;
        assert!(
            answered,
            "interaction {interaction} was not answered: {last}"
        );
        last
    }

    /// A user posts in #general through the gateway (MESSAGE_CREATE). Returns the message.
    pub async fn post(&self, user: u64, content: &str) -> Value {
        let (status, body) = http(
            &self.sim,
            "POST",
            &format!("/_sim/channels/{}/messages", self.cast.general),
            Some(json!({"author_id": user.to_string(), "content": content})),
        )
        .await;
        assert!(status == 200 || status == 201, "posting: {status} {body}");
        body
    }
}

/// What an interaction answer shows: the original's content, embed titles, descriptions
/// and fields.
pub fn reply_text(answer: &Value) -> String {
    let o = &answer["original"];
    let mut out = o["content"].as_str().unwrap_or_default().to_owned();
    for e in o["embeds"].as_array().into_iter().flatten() {
        for k in ["title", "description"] {
            if let Some(t) = e[k].as_str() {
                out.push('\n');
                out.push_str(t);
            }
        }
        for f in e["fields"].as_array().into_iter().flatten() {
            out.push_str(&format!("\n{}: {}", f["name"], f["value"]));
        }
    }
    out
}

/// What a channel message shows (as [`reply_text`]).
pub fn message_text(m: &Value) -> String {
    reply_text(&json!({ "original": m }))
}

impl Harness {
    /// The text of the bot's messages in guild 0's #general, once there are at least `n`
    /// (fails after 10 s).
    pub async fn bot_replies(&self, n: usize) -> Vec<String> {
        let bot = self.cast.bot.to_string();
        let mut texts = Vec::new();
        let done = wait_until(Duration::from_secs(10), async || {
            texts = self
                .messages(self.cast.general)
                .await
                .iter()
                .filter(|m| m["author"]["id"].as_str() == Some(bot.as_str()))
                .map(message_text)
                .collect();
            texts.len() >= n
        })
        .await;
        assert!(done, "the bot answered {texts:?}, expected {n} replies");
        texts
    }
}

fn entries(body: Value) -> Vec<Value> {
    match body {
        Value::Array(a) => a,
        Value::Object(mut o) => {
            for key in ["audit_log_entries", "entries", "messages", "items"] {
                if let Some(Value::Array(a)) = o.remove(key) {
                    return a;
                }
            }
            panic!("unexpected control-API body: {}", Value::Object(o));
        }
        other => panic!("unexpected control-API body: {other}"),
    }
}

/// Text of a reply (content, embed titles, descriptions and fields).
pub fn text(reply: &Reply) -> String {
    reply.plain_text()
}

/// Waits until `f` is true or `timeout` passes.
pub async fn wait_until(timeout: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A minimal HTTP/1.1 client for the simulator's control API (127.0.0.1 only).
pub async fn http(sim: &Sim, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = sim.addr();
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the simulator");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    let value = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    };
    (status, value)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
