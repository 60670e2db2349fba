//! Where each gateway event goes: every event feeds the guild cache; interactions and prefix
//! commands go to the command dispatcher; guild messages, their edits, member joins and
//! member updates (name changes) go to automod; audit-log entries of moderation done outside
//! Kyuta become cases ([`crate::moderation::external`]), and so do the actions of Discord's
//! native AutoMod ([`crate::moderation::native`]). The server log ([`crate::serverlog`])
//! sees every event before the guild cache applies it (it reads the state before the change
//! there) and posts in tasks of its own.
//!
//! Handlers run as tasks the router tracks (the dispatcher tracks the commands it runs), so
//! shutdown waits for both. Automod work is bounded: at most [`MAX_CONCURRENT_AUTOMOD`]
//! messages or joins are evaluated at once per process; the others wait their turn in arrival
//! order, so a raid or a spam wave cannot start unbounded concurrent store, Redis and REST
//! work.

use std::{sync::Arc, time::Duration};

use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use twilight_model::gateway::event::Event;

use crate::{
    analytics::{Analytics, Metric},
    automod::act::AutomodRunner,
    commands::dispatch::Dispatcher,
    gateway::{
        EventSink,
        generation::{EventId, GenerationGate},
    },
    moderation::external::BanEvent,
    serverlog::ServerLog,
};

/// How many automod evaluations (a message or a join, with the actions they lead to) run at
/// once in one process. Past it, events wait for a slot in arrival order; none is dropped.
/// Commands have their own bound (`KYUTA_MAX_CONCURRENT_COMMANDS`).
pub const MAX_CONCURRENT_AUTOMOD: usize = 64;

/// Routes gateway events to the cache, the command dispatcher and automod.
#[derive(Debug, Clone)]
pub struct Router {
    dispatcher: Dispatcher,
    automod: Arc<AutomodRunner>,
    analytics: Arc<Analytics>,
    gate: Arc<GenerationGate>,
    automod_slots: Arc<Semaphore>,
    tracker: TaskTracker,
    stopping: CancellationToken,
    /// Prefix commands are parsed from message text: off without MESSAGE_CONTENT.
    prefix_commands: bool,
    /// The server log's message cache and names.
    serverlog: Arc<ServerLog>,
}

impl Router {
    /// A router over the dispatcher and automod, counting messages and joins in `analytics`,
    /// with the generation gate disabled.
    #[must_use]
    pub fn new(
        dispatcher: Dispatcher,
        automod: Arc<AutomodRunner>,
        analytics: Arc<Analytics>,
    ) -> Self {
        Self {
            dispatcher,
            automod,
            analytics,
            gate: Arc::new(GenerationGate::disabled()),
            automod_slots: Arc::new(Semaphore::new(MAX_CONCURRENT_AUTOMOD)),
            tracker: TaskTracker::new(),
            stopping: CancellationToken::new(),
            prefix_commands: true,
            serverlog: Arc::new(ServerLog::new(true)),
        }
    }

    /// Turns prefix commands off (no MESSAGE_CONTENT intent: messages carry no text, so the
    /// server log shows none either).
    #[must_use]
    pub fn without_prefix_commands(mut self) -> Self {
        self.prefix_commands = false;
        self.serverlog = Arc::new(ServerLog::new(false));
        self
    }

    /// Routes interactions, messages and joins through `gate` (handled once, by the active
    /// generation only).
    #[must_use]
    pub fn with_gate(mut self, gate: Arc<GenerationGate>) -> Self {
        self.gate = gate;
        self
    }

    /// Tasks running right now: the router's own (gate admissions, automod) and the
    /// dispatcher's commands.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.tracker.len() + self.dispatcher.in_flight()
    }

    /// Stops taking events and waits (at most `grace`) for the running commands and automod
    /// work. Returns how many were still running when the grace ran out.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.stopping.cancel();
        self.tracker.close();
        let own = async {
            if tokio::time::timeout(grace, self.tracker.wait())
                .await
                .is_err()
            {
                self.tracker.len()
            } else {
                0
            }
        };
        let (own, commands) = tokio::join!(own, self.dispatcher.drain(grace));
        own + commands
    }

    fn spawn<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if self.stopping.is_cancelled() {
            return;
        }
        self.tracker.spawn(work);
    }

    /// A ban or unban: a case when Kyuta cannot read the audit log
    /// ([`crate::moderation::external::record_ban_event`]).
    fn ban_event(
        &self,
        guild: twilight_model::id::Id<twilight_model::id::marker::GuildMarker>,
        user: twilight_model::id::Id<twilight_model::id::marker::UserMarker>,
        event: BanEvent,
    ) {
        let services = self.dispatcher.services();
        let deps =
            crate::moderation::request::Deps::from_services(services, Arc::clone(&services.store));
        self.spawn(async move {
            crate::moderation::external::record_ban_event(&deps, guild.get(), user.get(), event)
                .await;
        });
    }

    /// Runs automod work once a slot is free.
    fn spawn_automod<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let slots = Arc::clone(&self.automod_slots);
        self.spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            work.await;
        });
    }

    fn route(&self, shard: u32, event: Event) {
        let analytics = &self.analytics;
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
                // Native AutoMod's alert (a system message quoting a blocked message) is not
                // the member's message: Discord already acted on it.
                let alert =
                    m.kind == twilight_model::channel::message::MessageType::AutoModerationAction;
                if m.guild_id.is_some() && !m.author.bot && !alert {
                    let automod = Arc::clone(&self.automod);
                    let message = m.clone();
                    self.spawn_automod(async move { automod.on_message(&message).await });
                }
                if self.prefix_commands {
                    self.dispatcher.on_message(shard, m);
                }
            }
            Event::MessageUpdate(m) if m.guild_id.is_some() && !m.author.bot => {
                let automod = Arc::clone(&self.automod);
                self.spawn_automod(async move { automod.on_message_edit(&m).await });
            }
            Event::MemberUpdate(m) => {
                let automod = Arc::clone(&self.automod);
                self.spawn_automod(async move { automod.on_member_update(&m).await });
            }
            Event::GuildAuditLogEntryCreate(e) => {
                let Some(guild) = e.0.guild_id else { return };
                let services = self.dispatcher.services();
                let deps = crate::moderation::request::Deps::from_services(
                    services,
                    Arc::clone(&services.store),
                );
                self.spawn(async move {
                    crate::moderation::external::record(&deps, guild.get(), &e.0).await;
                });
            }
            Event::BanAdd(b) => self.ban_event(b.guild_id, b.user.id, BanEvent::Added),
            Event::BanRemove(b) => self.ban_event(b.guild_id, b.user.id, BanEvent::Removed),
            Event::AutoModerationActionExecution(e) => {
                let services = self.dispatcher.services();
                let deps = crate::moderation::request::Deps::from_services(
                    services,
                    Arc::clone(&services.store),
                );
                self.spawn(async move {
                    crate::moderation::native::record(&deps, &e).await;
                });
            }
            Event::MemberAdd(m) => {
                let automod = Arc::clone(&self.automod);
                self.spawn_automod(async move {
                    automod.on_member_add(m.guild_id.get(), &m.member).await;
                });
            }
            _ => {}
        }
    }
}

impl EventSink for Router {
    fn handle(&self, shard: u32, event: Event) {
        let services = self.dispatcher.services();
        // The server log reads the state before the change (a leaving member's roles), so
        // it sees the event before the guild cache applies it.
        let log = self.serverlog.observe(
            &event,
            &services.guild_cache,
            services.bot_user_id.get(),
            services.clock.unix_millis(),
        );
        services.guild_cache.update(&event);
        if let Some(pending) = log {
            let serverlog = Arc::clone(&self.serverlog);
            let services = Arc::clone(services);
            self.spawn(async move { serverlog.post(&services, pending).await });
        }
        // Interactions, messages and joins go through the generation gate (exactly once,
        // active generation only) when it is enabled; everything else is routed directly.
        if self.gate.is_enabled()
            && let Some(id) = EventId::of(&event)
        {
            let this = self.clone();
            self.spawn(async move {
                if this.gate.admit(id).await.handles() {
                    this.route(shard, event);
                }
            });
            return;
        }
        self.route(shard, event);
    }
}
