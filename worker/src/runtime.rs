//! Bringing the worker up and down: bootstrap from `/gateway/bot`, shards, commands,
//! telemetry; on SIGTERM close shards resumably, save sessions, finish in-flight commands.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use twilight_model::{
    gateway::event::Event,
    id::{Id, marker::ApplicationMarker},
};

use kyuta_crds::contract::redis_keys;

use crate::{
    analytics::{Analytics, Metric},
    automod::{
        self, LocalCounters, RedisCounters, RulesCache, act::AutomodRunner, runtime::Automod,
    },
    cache::{CooldownStore, GuildCache, GuildConfigs, InProcessCooldowns, RedisCooldowns},
    clock::SystemClock,
    commands::{Registry, RegistryError, Services, dispatch::Dispatcher, general},
    config::{Config, ShardCount},
    gateway::{
        EventSink,
        generation::{EventId, GenerationGate},
        ownership::ShardLeases,
        queue::{IdentifyQueue, LocalQueue, QueueStats, RedisQueue, StartLimit},
        runner::{ShardDeps, ShardExit, run_shard},
        session::{FileSessions, RedisSessions, SessionStore},
        status::ShardStatus,
    },
    moderation::{
        self,
        engine::Deps,
        scheduler::{self, SchedulerConfig},
    },
    rest::{LocalBudget, RedisBudget, Rest, RestBudget, http_client},
    store::{DueScope, Store},
    telemetry::{Metrics, http, load},
};

/// Every command of the bot. Each module contributes its own: the general commands,
/// moderation (over `store`) and `/automod` (over `store` and the compiled-rules cache).
pub fn build_registry(
    store: Arc<dyn Store>,
    rules: Arc<RulesCache>,
    analytics: Arc<Analytics>,
) -> Result<Registry, RegistryError> {
    let mut registry = Registry::new();
    general::register(&mut registry)?;
    crate::analytics::register(&mut registry, analytics)?;
    moderation::register(&mut registry, Arc::clone(&store))?;
    automod::commands::register(&mut registry, Arc::clone(&store), rules)?;
    crate::i18n::register(&mut registry, store)?;
    Ok(registry)
}

/// Routes gateway events: every event feeds the guild cache, then commands go to the
/// dispatcher and guild messages and joins to automod. Handlers run as tracked tasks, so
/// shutdown waits for them.
#[derive(Debug, Clone)]
pub struct Router {
    dispatcher: Dispatcher,
    automod: Arc<AutomodRunner>,
    gate: Arc<GenerationGate>,
}

impl Router {
    /// A router over the dispatcher and automod, with the generation gate disabled.
    #[must_use]
    pub fn new(dispatcher: Dispatcher, automod: Arc<AutomodRunner>) -> Self {
        Self {
            dispatcher,
            automod,
            gate: Arc::new(GenerationGate::disabled()),
        }
    }

    /// Routes interactions, messages and joins through `gate` (handled once, by the active
    /// generation only).
    #[must_use]
    pub fn with_gate(mut self, gate: Arc<GenerationGate>) -> Self {
        self.gate = gate;
        self
    }
}

impl EventSink for Router {
    fn handle(&self, shard: u32, event: Event) {
        self.dispatcher.services().guild_cache.update(&event);
        // Interactions, messages and joins go through the generation gate (exactly once,
        // active generation only) when it is enabled; everything else is routed directly.
        if self.gate.is_enabled()
            && let Some(id) = EventId::of(&event)
        {
            let this = self.clone();
            self.dispatcher.spawn(async move {
                if this.gate.admit(id).await.handles() {
                    this.route(shard, event);
                }
            });
            return;
        }
        self.route(shard, event);
    }
}

impl Router {
    fn route(&self, shard: u32, event: Event) {
        let analytics = &self.dispatcher.services().analytics;
        match &event {
            Event::MessageCreate(m) if !m.author.bot => {
                if let Some(g) = m.guild_id {
                    analytics.record(g.get(), Metric::Messages);
                }
            }
            Event::MemberAdd(m) => analytics.record(m.guild_id.get(), Metric::Joins),
            _ => {}
        }
        match event {
            Event::InteractionCreate(i) => self.dispatcher.on_interaction(shard, i),
            Event::MessageCreate(m) => {
                if m.guild_id.is_some() && !m.author.bot {
                    let automod = Arc::clone(&self.automod);
                    let message = m.clone();
                    self.dispatcher
                        .spawn(async move { automod.on_message(&message).await });
                }
                self.dispatcher.on_message(shard, m);
            }
            Event::MemberAdd(m) => {
                let automod = Arc::clone(&self.automod);
                self.dispatcher.spawn(async move {
                    automod.on_member_add(m.guild_id.get(), &m.member).await;
                });
            }
            _ => {}
        }
    }
}

/// A running worker.
#[derive(Debug)]
pub struct WorkerHandle {
    /// Shared services.
    pub services: Arc<Services>,
    /// Where `/metrics` listens.
    pub metrics_addr: SocketAddr,
    /// Where `/health` and `/ready` listen.
    pub health_addr: SocketAddr,
    /// Identify accounting of this process.
    pub identifies: Arc<QueueStats>,
    dispatcher: Dispatcher,
    shards: JoinSet<(u32, ShardExit)>,
    /// Scheduler, load publisher, gauges: stopped with the servers and awaited, so nothing
    /// holds the store once shutdown returns.
    background: JoinSet<()>,
    stop_shards: CancellationToken,
    stop_servers: CancellationToken,
    /// Set when the gateway closed a shard for good (shard, close code).
    fatal: tokio::sync::watch::Receiver<Option<(u32, Option<u16>)>>,
}

/// What shutdown did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Shards whose session was saved for resume.
    pub sessions_saved: usize,
    /// Commands still running when the grace period ran out.
    pub commands_abandoned: usize,
}

impl WorkerHandle {
    /// Whether every shard is ready.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.services.shards.is_ready()
    }

    /// Resolves when the gateway closed one of this process's shards for good (bad token,
    /// intents, shard layout): the process cannot serve its range. Returns the shard and the
    /// close code.
    pub async fn fatal(&self) -> (u32, Option<u16>) {
        let mut rx = self.fatal.clone();
        loop {
            if let Some(f) = *rx.borrow_and_update() {
                return f;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Closes every shard with a resumable code and saves its session, then lets in-flight
    /// commands finish (bounded by the configured grace), then stops the servers.
    pub async fn shutdown(mut self) -> ShutdownReport {
        tracing::info!("shutting down: closing shards resumably");
        self.stop_shards.cancel();
        let mut sessions_saved = 0;
        let deadline = self.services.config.shutdown_grace() + Duration::from_secs(5);
        let joined = tokio::time::timeout(deadline, async {
            while let Some(res) = self.shards.join_next().await {
                match res {
                    Ok((_, ShardExit::Closed { saved: true })) => sessions_saved += 1,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "a shard task failed"),
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!("some shards did not close in time");
            self.shards.abort_all();
        }
        let commands_abandoned = self
            .dispatcher
            .drain(self.services.config.shutdown_grace())
            .await;
        if commands_abandoned > 0 {
            tracing::warn!(
                commands_abandoned,
                "commands still running after the grace period"
            );
        }
        self.stop_servers.cancel();
        if tokio::time::timeout(Duration::from_secs(10), async {
            while self.background.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!("background tasks did not stop in time");
            self.background.abort_all();
        }
        tracing::info!(sessions_saved, "shut down");
        ShutdownReport {
            sessions_saved,
            commands_abandoned,
        }
    }
}

async fn redis_connection(
    config: &Config,
) -> anyhow::Result<Option<redis::aio::ConnectionManager>> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    let client = redis::Client::open(url.expose())
        .map_err(|e| anyhow::anyhow!("REDIS_URL ({}): {e}", url.redacted()))?;
    // Every command is bounded: a stalled Redis fails calls after 2 s instead of holding the
    // shard tasks, the REST budget or the event gate; the manager reconnects in the
    // background.
    let manager = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    let conn = tokio::time::timeout(
        Duration::from_secs(10),
        redis::aio::ConnectionManager::new_with_config(client, manager),
    )
    .await
    .map_err(|_| anyhow::anyhow!("REDIS_URL ({}): no answer within 10 s", url.redacted()))?
    .map_err(|e| anyhow::anyhow!("REDIS_URL ({}): {e}", url.redacted()))?;
    Ok(Some(conn))
}

/// Registers slash commands, once per fleet: with Redis the pod that wins a `SET NX` on
/// `redis_keys::command_registration` for this command list; without Redis, ordinal 0.
async fn register_commands(
    services: &Services,
    redis: Option<&redis::aio::ConnectionManager>,
    ordinal: u32,
) -> anyhow::Result<()> {
    let commands = services
        .registry
        .discord_commands(Some(services.application_id));
    let body = serde_json::to_string(&commands)?;
    let digest = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        services.config.guild_id.hash(&mut h);
        format!("{:016x}", h.finish())
    };
    let mine = match redis {
        Some(conn) => {
            let key = redis_keys::command_registration(&services.config.cluster);
            let mut c = conn.clone();
            let won: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&digest)
                .arg("NX")
                .arg("EX")
                .arg(300)
                .query_async(&mut c)
                .await
                .context("command registration lock (Redis)")?;
            if won.is_none() {
                let current: Option<String> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap_or(None);
                if current.as_deref() != Some(digest.as_str()) {
                    tracing::info!(
                        "another pod is registering a different command list; leaving it to that pod"
                    );
                }
            }
            won.is_some()
        }
        None => ordinal == 0,
    };
    if !mine {
        tracing::debug!("slash commands are registered by another pod");
        return Ok(());
    }
    let app = services.application_id;
    match services.config.guild_id {
        Some(guild) => {
            let guild = Id::new(guild);
            services
                .rest
                .call("set_guild_commands", |c| {
                    c.interaction(app)
                        .set_guild_commands(guild, &commands)
                        .into_future()
                })
                .await?;
            tracing::info!(count = commands.len(), %guild, "slash commands registered in the guild");
        }
        None => {
            services
                .rest
                .call("set_global_commands", |c| {
                    c.interaction(app)
                        .set_global_commands(&commands)
                        .into_future()
                })
                .await?;
            tracing::info!(count = commands.len(), "slash commands registered globally");
        }
    }
    Ok(())
}

/// Starts the worker: bootstrap, shards, servers. Returns once everything is spawned.
pub async fn start(config: Config) -> anyhow::Result<WorkerHandle> {
    let started_at = Instant::now();
    let config = Arc::new(config);
    let token = config
        .token()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("DISCORD_TOKEN is not set"))?;
    let metrics = Arc::new(Metrics::new());
    let redis = redis_connection(&config).await?;
    // The fleet's size as the StatefulSet gives it (fixed shard total and shards per pod):
    // each pod's share of the REST limit when Redis cannot be asked.
    let pods = match (config.shard_count, config.shards_per_pod) {
        (ShardCount::Fixed(total), Some(per)) if per > 0 => total.div_ceil(per).max(1),
        _ => 1,
    };
    let budget: Arc<dyn RestBudget> = match &redis {
        Some(conn) => Arc::new(RedisBudget::new(
            conn.clone(),
            &config.cluster,
            config.rest_per_second,
            pods,
        )),
        None => Arc::new(LocalBudget::new(config.rest_per_second)),
    };
    let rest = Rest::new(
        http_client(&token, config.discord_api_url.as_deref()),
        budget,
        Arc::clone(&metrics),
    );

    let info = rest
        .model("get_gateway_bot", |c| c.gateway().authed().into_future())
        .await
        .context("reading /gateway/bot (is DISCORD_TOKEN right and DISCORD_API_URL reachable?)")?;
    let me = rest
        .model("get_current_user", |c| c.current_user().into_future())
        .await
        .context("reading /users/@me")?;
    let application_id: Id<ApplicationMarker> = match config.client_id {
        Some(id) => Id::new(id),
        None => {
            rest.model("get_current_application", |c| {
                c.current_user_application().into_future()
            })
            .await
            .context("reading /applications/@me (or set CLIENT_ID)")?
            .id
        }
    };

    let shard_total = match config.shard_count {
        ShardCount::Fixed(n) => n,
        ShardCount::Auto => info.shards.max(1),
    };
    let plan = config
        .plan(shard_total)
        .map_err(|e| anyhow::anyhow!("shard layout: {e}"))?;
    let limit = StartLimit {
        max_concurrency: u32::from(info.session_start_limit.max_concurrency).max(1),
        remaining: info.session_start_limit.remaining,
        reset_after_ms: info.session_start_limit.reset_after,
        total: info.session_start_limit.total,
    };
    tracing::info!(
        shard_total,
        owned = ?plan.owned,
        ordinal = plan.ordinal,
        max_concurrency = limit.max_concurrency,
        session_starts_remaining = limit.remaining,
        "starting shards"
    );
    if limit.remaining < plan.owned.len() as u32 {
        tracing::error!(
            remaining = limit.remaining,
            needed = plan.owned.len(),
            "session_start_limit cannot pay for every shard; shards past the budget wait for Discord's reset"
        );
    }

    let owner = owner_name(&config);
    let queue = match &redis {
        Some(conn) => IdentifyQueue::Redis(
            RedisQueue::new(
                conn.clone(),
                &config.cluster,
                &owner,
                limit,
                config.identify_window(),
            )
            .with_metrics(Arc::clone(&metrics))
            .with_refresh(rest.clone()),
        ),
        None => IdentifyQueue::Local(
            LocalQueue::new(limit, config.identify_window()).with_metrics(Arc::clone(&metrics)),
        ),
    };
    let ttl = Duration::from_secs(config.session_ttl_secs);
    let sessions: Arc<dyn SessionStore> = match &redis {
        Some(conn) => Arc::new(RedisSessions::new(
            conn.clone(),
            &config.cluster,
            shard_total,
            ttl,
        )),
        None => {
            let path =
                (config.session_file.as_os_str() != "none").then(|| config.session_file.clone());
            Arc::new(FileSessions::new(path, shard_total, ttl))
        }
    };
    let status = Arc::new(ShardStatus::new(shard_total, plan.owned.clone()));

    let store_config = match &config.mongo_uri {
        Some(uri) => {
            let mut opts = crate::store::MongoOptions::new(uri.expose().to_owned());
            opts.database = Some(config.mongo_database.clone());
            crate::store::StoreConfig::Mongo(opts)
        }
        None => crate::store::StoreConfig::Embedded {
            path: config.store_path.clone(),
        },
    };
    let store = crate::store::open(&store_config)
        .await
        .map_err(|e| match &config.mongo_uri {
            Some(uri) => anyhow::anyhow!("MONGO_URI ({}): {e}", uri.redacted()),
            None => anyhow::anyhow!("KYUTA_STORE_PATH ({}): {e}", config.store_path.display()),
        })?;
    tracing::info!(backend = store.backend(), "store open");

    let rules = Arc::new(RulesCache::default());
    let analytics = Arc::new(Analytics::new(
        config.features.enabled("analytics"),
        Arc::new(SystemClock),
    ));
    let registry = Arc::new(
        build_registry(
            Arc::clone(&store),
            Arc::clone(&rules),
            Arc::clone(&analytics),
        )
        .context("building the command registry")?,
    );
    let cooldowns: Arc<dyn CooldownStore> = match &redis {
        Some(conn) => Arc::new(RedisCooldowns::new(conn.clone(), config.cluster.clone())),
        None => Arc::new(InProcessCooldowns::new()),
    };
    let guild_cache = Arc::new(
        GuildCache::builder()
            .max_guilds(usize::try_from(config.cache_max_guilds).unwrap_or(usize::MAX))
            .build(),
    );
    let services = Arc::new(Services {
        config: Arc::clone(&config),
        rest,
        registry,
        clock: Arc::new(SystemClock),
        metrics: Arc::clone(&metrics),
        shards: Arc::clone(&status),
        application_id,
        bot_user_id: me.id,
        started_at,
        store: Arc::clone(&store),
        guild_configs: GuildConfigs::new(),
        guild_cache: Arc::clone(&guild_cache),
        cooldowns,
        analytics: Arc::clone(&analytics),
        guild_refills: Default::default(),
    });
    let dispatcher = Dispatcher::new(Arc::clone(&services));
    let counters: Arc<dyn automod::Counters> = match &redis {
        Some(conn) => Arc::new(RedisCounters::new(conn.clone(), &config.cluster)),
        None => Arc::new(LocalCounters::new()),
    };
    let automod = Arc::new(AutomodRunner::new(
        Automod::new(rules, counters),
        Arc::clone(&services),
    ));

    let stop_servers = CancellationToken::new();
    let metrics_addr = http::serve_metrics(
        SocketAddr::new(config.bind_address, config.metrics_port),
        Arc::clone(&metrics),
        stop_servers.clone(),
    )
    .await
    .with_context(|| format!("METRICS_PORT {}: cannot listen", config.metrics_port))?;
    let health_addr = http::serve_health(
        SocketAddr::new(config.bind_address, config.health_check_port),
        Arc::clone(&status),
        stop_servers.clone(),
    )
    .await
    .with_context(|| {
        format!(
            "HEALTH_CHECK_PORT {}: cannot listen",
            config.health_check_port
        )
    })?;
    tracing::info!(%metrics_addr, %health_addr, "telemetry listening");

    if config.register_commands
        && let Err(e) = register_commands(&services, redis.as_ref(), plan.ordinal).await
    {
        tracing::error!(
            error = format!("{e:#}"),
            "could not register slash commands"
        );
    }

    let mut background = JoinSet::new();
    // Tempban expiries and timeout renewals of the guilds on this process's shards.
    background.spawn(scheduler::run(
        Deps::from_services(&services, Arc::clone(&store)),
        SchedulerConfig::new(
            owner_name(&config),
            DueScope::Shards {
                total: shard_total,
                range: plan.owned.clone(),
            },
        ),
        stop_servers.clone(),
    ));
    background.spawn(Arc::clone(&analytics).run(Arc::clone(&store), stop_servers.clone()));
    background.spawn(cache_gauges(
        Arc::clone(&guild_cache),
        Arc::clone(&metrics),
        stop_servers.clone(),
    ));

    let presence = Arc::new(crate::presence::Presence::new(
        config.presence.clone(),
        config.presence_status,
        Duration::from_secs(config.presence_interval_secs),
    ));
    if presence.needs_guild_count() {
        background.spawn(crate::presence::guild_count_loop(
            Arc::clone(&presence),
            redis.clone(),
            config.cluster.clone(),
            Arc::clone(&status),
            Duration::from_secs(kyuta_crds::contract::load_fields::REFRESH_SECS),
            stop_servers.clone(),
        ));
    }

    if let Some(conn) = &redis {
        background.spawn(load::publish_loop(
            conn.clone(),
            config.cluster.clone(),
            Arc::clone(&status),
            stop_servers.clone(),
        ));
    }

    let gateway_url = config
        .discord_gateway_url
        .clone()
        .unwrap_or_else(|| info.url.clone());
    let identifies = queue.stats();
    let leases = match &redis {
        Some(conn) => ShardLeases::new(
            conn.clone(),
            &config.cluster,
            shard_total,
            &owner,
            &format!("{}:{:08x}", std::process::id(), rand::random::<u32>()),
        ),
        None => ShardLeases::disabled(),
    };
    let deps = ShardDeps {
        token,
        gateway_url,
        shard_total,
        queue,
        sessions,
        leases,
        status: Arc::clone(&status),
        metrics: Arc::clone(&metrics),
        sink: Arc::new(
            Router::new(dispatcher.clone(), automod).with_gate(Arc::new(
                GenerationGate::new(redis.clone(), &config.cluster, config.generation)
                    .with_metrics(Arc::clone(&metrics)),
            )),
        ),
        presence,
        close_timeout: Duration::from_secs(5),
    };
    let stop_shards = CancellationToken::new();
    let (fatal_tx, fatal) = tokio::sync::watch::channel(None);
    let fatal_tx = Arc::new(fatal_tx);
    let mut shards = JoinSet::new();
    for id in plan.owned.clone() {
        let deps = deps.clone();
        let stop = stop_shards.clone();
        let fatal_tx = Arc::clone(&fatal_tx);
        shards.spawn(async move {
            let exit = run_shard(id, deps, stop).await;
            if let ShardExit::Fatal(code) = exit {
                fatal_tx.send_if_modified(|f| f.is_none() && f.replace((id, code)).is_none());
            }
            (id, exit)
        });
    }

    Ok(WorkerHandle {
        services,
        metrics_addr,
        health_addr,
        identifies,
        dispatcher,
        shards,
        background,
        stop_shards,
        stop_servers,
        fatal,
    })
}

/// Who this process is in claims and locks: the pod name, else `pid<N>`.
fn owner_name(config: &Config) -> String {
    config
        .pod_name
        .clone()
        .unwrap_or_else(|| format!("pid{}", std::process::id()))
}

/// Keeps `kyuta_cache_entries{kind}` current.
async fn cache_gauges(cache: Arc<GuildCache>, metrics: Arc<Metrics>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let stats = cache.stats();
        for (kind, n) in [
            ("guilds", stats.guilds),
            ("members", stats.members),
            ("roles", stats.roles),
        ] {
            metrics
                .cache_size
                .get_or_create(&crate::telemetry::metrics::CacheLabels {
                    kind: kind.to_owned(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}

/// What a fatal close code means, for the exit message.
fn close_reason(code: Option<u16>) -> &'static str {
    match code {
        Some(4004) => "authentication failed: DISCORD_TOKEN is wrong or was reset",
        Some(4010) => "invalid shard: the shard id is not below the shard total",
        Some(4011) => "sharding required: too many guilds for this shard total",
        Some(4012) => "invalid API version",
        Some(4013) => "invalid intents",
        Some(4014) => {
            "disallowed intents: enable the privileged intents (members, message content) for the application"
        }
        _ => "the gateway does not allow this shard to reconnect",
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the worker until SIGTERM/Ctrl-C, then shuts down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if config.local {
        return crate::local::run(config).await;
    }
    let handle = start(config).await?;
    tokio::select! {
        () = shutdown_signal() => {
            handle.shutdown().await;
            Ok(())
        }
        (shard, code) = handle.fatal() => {
            // A process that cannot serve its range says why and exits, so Kubernetes
            // restarts it (with back-off) and the pod's state shows the reason.
            tracing::error!(shard, ?code, "the gateway closed a shard for good; exiting");
            handle.shutdown().await;
            anyhow::bail!(
                "the gateway closed shard {shard} for good (close code {}): {}",
                code.map_or_else(|| "none".to_owned(), |c| c.to_string()),
                close_reason(code)
            )
        }
    }
}
