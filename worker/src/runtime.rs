//! Bringing the worker up and down, the composition root: bootstrap from `/gateway/bot`,
//! the shared backends ([`crate::backends`]), the services, the event router
//! ([`crate::router`]), command registration ([`crate::commands::sync`]), shards, telemetry
//! and background work; on SIGTERM close shards resumably, save sessions, finish in-flight
//! commands and automod work.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use twilight_model::{
    id::{
        Id,
        marker::{ApplicationMarker, UserMarker},
    },
    oauth::ApplicationFlags,
};

use crate::{
    analytics::Analytics,
    automod::{self, RulesCache, act::AutomodRunner, runtime::Automod},
    backends::{Backends, ShardLayout},
    cache::{GuildCache, GuildConfigs},
    clock::SystemClock,
    commands::{
        CommandObserver, Registry, RegistryError, dispatch::Dispatcher, general,
        sync::register_commands,
    },
    config::{Config, Feature, ShardCount, ShardPlan},
    gateway::{
        queue::{QueueStats, StartLimit},
        runner::{ShardDeps, ShardExit, run_shard},
    },
    intents::{Privileged, PrivilegedIntents},
    moderation::{
        self,
        engine::Deps,
        scheduler::{self, SchedulerConfig},
    },
    presence::Presence,
    rest::{Rest, http_client},
    router::Router,
    services::Services,
    shards::status::ShardStatus,
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
    moderation::userinfo::register(&mut registry, Arc::clone(&store))?;
    crate::analytics::register(&mut registry, analytics)?;
    moderation::register(&mut registry, Arc::clone(&store))?;
    crate::serverlog::register(&mut registry, Arc::clone(&store))?;
    automod::commands::register(&mut registry, Arc::clone(&store), rules)?;
    crate::commands::language::register(&mut registry, Arc::clone(&store))?;
    crate::commands::prefix::register(&mut registry, store)?;
    Ok(registry)
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
    router: Router,
    shards: JoinSet<(u32, ShardExit)>,
    /// Scheduler, load publisher, gauges: stopped with the servers and awaited, so nothing
    /// holds the store once shutdown returns.
    background: JoinSet<()>,
    stop_shards: CancellationToken,
    stop_servers: CancellationToken,
    /// Set when the gateway closed a shard for good (shard, close code).
    fatal: FatalWatch,
}

/// Set when the gateway closed a shard for good (shard, close code).
type FatalWatch = tokio::sync::watch::Receiver<Option<(u32, Option<u16>)>>;

/// What shutdown did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Shards whose session was saved for resume.
    pub sessions_saved: usize,
    /// Commands and automod work still running when the grace period ran out.
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
            .router
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

/// What Discord said at start: the shard layout and who the bot is.
struct Bootstrap {
    gateway_url: String,
    application_id: Id<ApplicationMarker>,
    bot_user_id: Id<UserMarker>,
    shard_total: u32,
    plan: ShardPlan,
    limit: StartLimit,
    privileged: Privileged,
}

impl Bootstrap {
    /// Reads `/gateway/bot`, `/users/@me` and (unless `KYUTA_CLIENT_ID` is set and the privileged
    /// intents are given) `/applications/@me`, and lays out this process's shards.
    async fn read(config: &Config, rest: &Rest) -> anyhow::Result<Self> {
        let info = rest
            .model("get_gateway_bot", |c| c.gateway().authed().into_future())
            .await
            .context(
                "reading /gateway/bot (is DISCORD_TOKEN right and KYUTA_DISCORD_API_URL reachable?)",
            )?;
        let me = rest
            .model("get_current_user", |c| c.current_user().into_future())
            .await
            .context("reading /users/@me")?;
        let app = match (config.client_id, config.privileged_intents) {
            (Some(_), PrivilegedIntents::Fixed(_)) => None,
            _ => Some(
                rest.model("get_current_application", |c| {
                    c.current_user_application().into_future()
                })
                .await
                .context(
                    "reading /applications/@me (or set KYUTA_CLIENT_ID and KYUTA_PRIVILEGED_INTENTS)",
                )?,
            ),
        };
        let application_id: Id<ApplicationMarker> = match (config.client_id, &app) {
            (Some(id), _) => Id::new(id),
            (None, app) => app
                .as_ref()
                .map(|a| a.id)
                .context("KYUTA_CLIENT_ID is not set and /applications/@me was not read")?,
        };
        let privileged = match config.privileged_intents {
            PrivilegedIntents::Fixed(p) => p,
            PrivilegedIntents::Auto => Privileged::from_flags(
                app.as_ref()
                    .and_then(|a| a.flags)
                    .unwrap_or_else(ApplicationFlags::empty),
            ),
        };
        if let Some(missing) = privileged.missing() {
            tracing::warn!("{missing}");
        }
        if !config.features.unknown().is_empty() {
            let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
            tracing::warn!(
                unknown = ?config.features.unknown(),
                ?known,
                "KYUTA_FEATURES names flags this version does not know; they have no effect"
            );
        }
        tracing::info!(
            invite = %crate::invite::url(application_id.get()),
            "add the bot to a server with this invite URL (scopes bot and applications.commands, the permissions Kyuta uses)"
        );
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
        Ok(Self {
            gateway_url: config
                .discord_gateway_url
                .clone()
                .unwrap_or_else(|| info.url.clone()),
            application_id,
            bot_user_id: me.id,
            shard_total,
            plan,
            limit,
            privileged,
        })
    }
}

/// Opens the store: MongoDB when `MONGO_URI` is set, else the embedded file.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
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
    Ok(store)
}

/// Starts `/metrics` and `/health` + `/ready`; returns where they listen.
async fn serve_telemetry(
    config: &Config,
    metrics: &Arc<Metrics>,
    status: &Arc<ShardStatus>,
    stop: &CancellationToken,
) -> anyhow::Result<(SocketAddr, SocketAddr)> {
    let metrics_addr = http::serve_metrics(
        SocketAddr::new(config.bind_address, config.metrics_port),
        Arc::clone(metrics),
        stop.clone(),
    )
    .await
    .with_context(|| format!("KYUTA_METRICS_PORT {}: cannot listen", config.metrics_port))?;
    let health_addr = http::serve_health(
        SocketAddr::new(config.bind_address, config.health_check_port),
        Arc::clone(status),
        stop.clone(),
    )
    .await
    .with_context(|| {
        format!(
            "KYUTA_HEALTH_PORT {}: cannot listen",
            config.health_check_port
        )
    })?;
    tracing::info!(%metrics_addr, %health_addr, "telemetry listening");
    Ok((metrics_addr, health_addr))
}

/// The background work of a process, stopped with the servers: the scheduler (tempban
/// expiries and timeout renewals of the guilds on this process's shards), analytics flushes,
/// cache gauges, the presence's guild count and the load publisher.
fn spawn_background(
    services: &Arc<Services>,
    analytics: &Arc<Analytics>,
    backends: &Backends,
    boot: &Bootstrap,
    presence: &Arc<Presence>,
    stop: &CancellationToken,
) -> JoinSet<()> {
    let config = &services.config;
    let mut background = JoinSet::new();
    background.spawn(scheduler::run(
        Deps::from_services(services, Arc::clone(&services.store)),
        SchedulerConfig::new(
            owner_name(config),
            DueScope::Shards {
                total: boot.shard_total,
                range: boot.plan.owned.clone(),
            },
        ),
        stop.clone(),
    ));
    background.spawn(Arc::clone(analytics).run(Arc::clone(&services.store), stop.clone()));
    background.spawn(cache_gauges(
        Arc::clone(&services.guild_cache),
        Arc::clone(&services.metrics),
        stop.clone(),
    ));
    if presence.needs_guild_count() {
        background.spawn(crate::presence::guild_count_loop(
            Arc::clone(presence),
            backends.connection().cloned(),
            config.cluster.clone(),
            Arc::clone(&services.shards),
            Duration::from_secs(kyuta_crds::contract::load_fields::REFRESH_SECS),
            stop.clone(),
        ));
    }
    if let Some(conn) = backends.connection() {
        background.spawn(load::publish_loop(
            conn.clone(),
            config.cluster.clone(),
            Arc::clone(&services.shards),
            stop.clone(),
        ));
    }
    background
}

/// The shards this process owns, each a task; a shard the gateway closes for good is reported
/// on `fatal`.
fn spawn_shards(
    owned: impl IntoIterator<Item = u32>,
    deps: &ShardDeps,
    stop: &CancellationToken,
) -> (JoinSet<(u32, ShardExit)>, FatalWatch) {
    let (fatal_tx, fatal) = tokio::sync::watch::channel(None);
    let fatal_tx = Arc::new(fatal_tx);
    let mut shards = JoinSet::new();
    for id in owned {
        let deps = deps.clone();
        let stop = stop.clone();
        let fatal_tx = Arc::clone(&fatal_tx);
        shards.spawn(async move {
            let exit = run_shard(id, deps, stop).await;
            if let ShardExit::Fatal(code) = exit {
                fatal_tx.send_if_modified(|f| f.is_none() && f.replace((id, code)).is_none());
            }
            (id, exit)
        });
    }
    (shards, fatal)
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
    let backends = Backends::connect(&config, &metrics).await?;
    let rest = Rest::new(
        http_client(&token, config.discord_api_url.as_deref()),
        Arc::clone(&backends.budget),
        Arc::clone(&metrics),
    );
    let boot = Bootstrap::read(&config, &rest).await?;
    let owner = owner_name(&config);
    let shard_backends = backends.for_shards(
        &config,
        &metrics,
        &rest,
        ShardLayout {
            shard_total: boot.shard_total,
            limit: boot.limit,
            owner: &owner,
        },
    );
    let status = Arc::new(ShardStatus::new(boot.shard_total, boot.plan.owned.clone()));
    let store = open_store(&config).await?;

    let rules = Arc::new(RulesCache::default());
    let analytics = Arc::new(Analytics::new(
        config.features.enabled(Feature::Analytics),
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
    let guild_cache = Arc::new(
        GuildCache::builder()
            .max_guilds(usize::try_from(config.cache_max_guilds).unwrap_or(usize::MAX))
            .build(),
    );
    let services = Arc::new(Services {
        config: Arc::clone(&config),
        rest,
        clock: Arc::new(SystemClock),
        metrics: Arc::clone(&metrics),
        shards: Arc::clone(&status),
        application_id: boot.application_id,
        bot_user_id: boot.bot_user_id,
        started_at,
        store: Arc::clone(&store),
        guild_configs: GuildConfigs::new(),
        guild_cache,
        cooldowns: Arc::clone(&backends.cooldowns),
        guild_refills: Default::default(),
    });
    let dispatcher = Dispatcher::new(Arc::clone(&services), Arc::clone(&registry))
        .observe(Arc::clone(&analytics) as Arc<dyn CommandObserver>);
    let automod = Arc::new(AutomodRunner::new(
        Automod::new(rules, Arc::clone(&backends.counters)),
        Arc::clone(&services),
        Arc::clone(&analytics),
    ));
    let mut router = Router::new(dispatcher, automod, Arc::clone(&analytics))
        .with_gate(Arc::clone(&backends.gate));
    if !boot.privileged.message_content {
        router = router.without_prefix_commands();
    }

    let stop_servers = CancellationToken::new();
    let (metrics_addr, health_addr) =
        serve_telemetry(&config, &metrics, &status, &stop_servers).await?;
    if config.register_commands
        && let Err(e) = register_commands(
            &services,
            &registry,
            backends.connection(),
            boot.plan.ordinal,
        )
        .await
    {
        tracing::error!(
            error = format!("{e:#}"),
            "could not register slash commands"
        );
    }
    let presence = Arc::new(Presence::new(
        config.presence.clone(),
        config.presence_status,
        Duration::from_secs(config.presence_interval_secs),
    ));
    let background = spawn_background(
        &services,
        &analytics,
        &backends,
        &boot,
        &presence,
        &stop_servers,
    );

    let identifies = shard_backends.queue.stats();
    let deps = ShardDeps {
        token,
        gateway_url: boot.gateway_url.clone(),
        intents: boot.privileged.intents(),
        shard_total: boot.shard_total,
        queue: shard_backends.queue,
        sessions: shard_backends.sessions,
        leases: shard_backends.leases,
        status: Arc::clone(&status),
        metrics: Arc::clone(&metrics),
        sink: Arc::new(router.clone()),
        presence,
        close_timeout: Duration::from_secs(5),
        fatal: shard_backends.fatal,
    };
    let stop_shards = CancellationToken::new();
    let (shards, fatal) = spawn_shards(boot.plan.owned.clone(), &deps, &stop_shards);

    Ok(WorkerHandle {
        services,
        metrics_addr,
        health_addr,
        identifies,
        router,
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
                crate::shards::close::explain(code)
            )
        }
    }
}
