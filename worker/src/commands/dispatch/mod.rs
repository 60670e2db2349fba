//! Runs commands from gateway events: parses, checks (guild-only, permissions, cooldown),
//! bounds concurrency, defers interactions that run long, answers, and records metrics.
//! How the answer is sent, and a long command's progress, is `answer.rs`'s; the permission
//! checks are `permissions.rs`'.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use twilight_model::{
    application::interaction::{Interaction, InteractionData, InteractionType},
    channel::message::Message,
    gateway::payload::incoming::{InteractionCreate, MessageCreate},
    id::{Id, marker::GuildMarker},
};

use crate::cache::{CooldownStore as _, InProcessCooldowns};
use crate::commands::GuildScope as _;
use crate::i18n::Locale;

use crate::services::Services;

mod answer;
mod permissions;

use answer::Answer;
pub use answer::PROGRESS_EVERY;
pub use permissions::{
    any_permission_names, check_any_permission, check_permissions, permission_names,
};

use super::{
    Args, CommandContext, CommandDef, CommandError, Invoker, Progress, Registry, Reply, Source,
    parse::ArgError,
};

/// Told of each command that passed its checks, just before it runs (analytics counts them
/// this way, so the command framework does not know analytics).
pub trait CommandObserver: Send + Sync + std::fmt::Debug {
    /// `ctx` is about to run.
    fn command_started(&self, ctx: &CommandContext);
}

/// Runs commands.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    services: Arc<Services>,
    registry: Arc<Registry>,
    observers: Vec<Arc<dyn CommandObserver>>,
    semaphore: Arc<Semaphore>,
    tracker: TaskTracker,
    stopping: CancellationToken,
    /// Used when the shared cooldown store cannot answer (Redis down): cooldowns still hold
    /// within this process.
    fallback_cooldowns: Arc<InProcessCooldowns>,
}

impl Dispatcher {
    /// A dispatcher of the commands of `registry` over `services`.
    #[must_use]
    pub fn new(services: Arc<Services>, registry: Arc<Registry>) -> Self {
        let permits = services.config.max_concurrent_commands as usize;
        Self {
            services,
            registry,
            observers: Vec::new(),
            semaphore: Arc::new(Semaphore::new(permits)),
            tracker: TaskTracker::new(),
            stopping: CancellationToken::new(),
            fallback_cooldowns: Arc::default(),
        }
    }

    /// Tells `observer` of every command that runs.
    #[must_use]
    pub fn observe(mut self, observer: Arc<dyn CommandObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The shared services.
    #[must_use]
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// The commands it runs.
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Commands running right now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.tracker.len()
    }

    /// Stops accepting commands and waits (at most `grace`) for running ones. Returns how many
    /// were still running when the grace ran out.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.stopping.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            return self.tracker.len();
        }
        0
    }

    /// Handles an INTERACTION_CREATE from `shard`.
    pub fn on_interaction(&self, shard: u32, event: Box<InteractionCreate>) {
        let interaction = (*event).0;
        if !matches!(
            interaction.kind,
            InteractionType::ApplicationCommand | InteractionType::ModalSubmit
        ) {
            return;
        }
        let this = self.clone();
        self.tracker
            .spawn(async move { this.run_interaction(shard, interaction).await });
    }

    /// Handles a MESSAGE_CREATE from `shard`: runs it when it is a prefix command of ours.
    pub fn on_message(&self, shard: u32, event: Box<MessageCreate>) {
        let message = event.message;
        if message.author.bot || message.author.id == self.services.bot_user_id {
            return;
        }
        let default = &self.services.config.prefix;
        let cached = message
            .guild_id
            .map(|g| self.services.guild_configs.cached(g.get()));
        match cached {
            // DMs, and guilds whose settings are known: decide here without spawning.
            None | Some(Some(_)) => {
                let prefix = cached
                    .flatten()
                    .map_or_else(|| default.clone(), |c| c.prefix_or(default).to_owned());
                if super::parse::split_prefix(&message.content, &prefix).is_none() {
                    return;
                }
                let this = self.clone();
                self.tracker
                    .spawn(async move { this.run_message(shard, message, prefix).await });
            }
            // A guild not seen lately: read its prefix from the store first.
            Some(None) => {
                let this = self.clone();
                self.tracker.spawn(async move {
                    let prefix = this.load_prefix(message.guild_id).await;
                    if super::parse::split_prefix(&message.content, &prefix).is_some() {
                        this.run_message(shard, message, prefix).await;
                    }
                });
            }
        }
    }

    /// The member's Discord language when Kyuta speaks it, else the server's.
    async fn interaction_locale(&self, interaction: &Interaction) -> Locale {
        if let Some(l) = interaction.locale.as_deref().and_then(Locale::from_discord) {
            return l;
        }
        let Some(guild) = interaction.guild_id else {
            return Locale::EnUs;
        };
        match self
            .services
            .guild_configs
            .get(&*self.services.store, guild.get())
            .await
        {
            Ok(c) => c.locale,
            Err(_) => Locale::EnUs,
        }
    }

    async fn load_prefix(&self, guild: Option<Id<GuildMarker>>) -> String {
        let default = self.services.config.prefix.clone();
        let Some(guild) = guild else {
            return default;
        };
        match self
            .services
            .guild_configs
            .get(&*self.services.store, guild.get())
            .await
        {
            Ok(cfg) => cfg.prefix_or(&default).to_owned(),
            Err(e) => {
                tracing::debug!(error = %e, %guild, "guild prefix unavailable; using the default");
                default
            }
        }
    }

    async fn run_message(&self, shard: u32, message: Message, prefix: String) {
        let start = Instant::now();
        let registry = Arc::clone(&self.registry);
        let Some((def, args)) = registry.parse_prefix(&message.content, &prefix) else {
            return;
        };
        let member = message.member.as_ref();
        // Guild-wide permissions from the cache and the roles the message carries (owner,
        // roles, ADMINISTRATOR); channel overwrites are not applied. Unknown → `None`, which
        // refuses guarded commands.
        let permissions = match message.guild_id {
            Some(g) => {
                let roles: Vec<u64> = member
                    .map(|m| m.roles.iter().map(|r| r.get()).collect())
                    .unwrap_or_default();
                self.services
                    .author_permissions(g.get(), message.author.id.get(), &roles)
                    .await
            }
            None => None,
        };
        let ctx = CommandContext {
            command: def.name.clone(),
            guild_id: message.guild_id,
            channel_id: message.channel_id,
            invoker: Invoker {
                user_id: message.author.id,
                name: message.author.name.clone(),
                roles: member.map(|m| m.roles.clone()).unwrap_or_default(),
                permissions,
            },
            source: Source::Message { id: message.id },
            shard_id: shard,
            // Discord does not say a message author's language: the server's.
            locale: message
                .guild_id
                .and_then(|g| self.services.guild_configs.cached(g.get()))
                .map_or(Locale::EnUs, |c| c.locale),
            services: Arc::clone(&self.services),
            registry: Arc::clone(&self.registry),
            progress: Progress::default(),
        };
        let (progress, updates) = Progress::channel();
        let ctx = CommandContext { progress, ..ctx };
        let mut answer = Answer::Message {
            channel: message.channel_id,
            reply_to: message.id,
            posted: None,
        };
        let work = self.execute(&ctx, def, args);
        let result = self.with_progress(work, updates, &mut answer, None).await;
        let outcome = outcome_label(&result);
        let reply = self.reply_for(&ctx, def, result);
        if let Err(e) = self.post_reply(&answer, &reply).await {
            tracing::warn!(command = %ctx.command, error = %e, "could not send the reply");
        }
        self.services
            .metrics
            .command(&ctx.command, outcome, start.elapsed().as_secs_f64());
    }

    async fn run_interaction(&self, shard: u32, interaction: Interaction) {
        let start = Instant::now();
        let registry = Arc::clone(&self.registry);
        let token = interaction.token.clone();
        let (parsed, name) = match &interaction.data {
            Some(InteractionData::ApplicationCommand(data)) => {
                (registry.parse_slash(data), format!("`/{}`", data.name))
            }
            // A context-menu entry's form, submitted.
            Some(InteractionData::ModalSubmit(data)) => {
                (registry.parse_modal(data), "this form".to_owned())
            }
            _ => return,
        };
        let Some((def, args)) = parsed else {
            let reply = Reply::error(format!(
                "{name} is not a command of this bot any more; the command list may be out of date"
            ));
            self.respond(interaction.id, &token, &reply, true).await;
            return;
        };
        let Some(user) = interaction.author() else {
            return;
        };
        let member = interaction.member.as_ref();
        let Some(channel_id) = interaction.channel.as_ref().map(|c| c.id) else {
            return;
        };
        let ctx = CommandContext {
            command: def.name.clone(),
            guild_id: interaction.guild_id,
            channel_id,
            invoker: Invoker {
                user_id: user.id,
                name: user.name.clone(),
                roles: member.map(|m| m.roles.clone()).unwrap_or_default(),
                permissions: member.and_then(|m| m.permissions),
            },
            source: Source::Interaction {
                id: interaction.id,
                token: token.clone(),
            },
            shard_id: shard,
            locale: self.interaction_locale(&interaction).await,
            services: Arc::clone(&self.services),
            registry: Arc::clone(&self.registry),
            progress: Progress::default(),
        };
        let (progress, updates) = Progress::channel();
        let ctx = CommandContext { progress, ..ctx };

        let mut answer = Answer::Interaction {
            id: interaction.id,
            token: token.clone(),
            ephemeral: def.ephemeral,
            deferred: None,
        };
        let defer_after = self.services.config.defer_after();
        let work = self.execute(&ctx, def, args);
        let result = self
            .with_progress(
                work,
                updates,
                &mut answer,
                Some(defer_after.saturating_sub(start.elapsed())),
            )
            .await;
        let deferred = matches!(
            answer,
            Answer::Interaction {
                deferred: Some(true),
                ..
            }
        );
        let outcome = outcome_label(&result);
        let failed = result.is_err();
        let mut reply = self.reply_for(&ctx, def, result);
        if let Some(modal) = reply.modal.take() {
            // A form can only be the first answer, and never to a form.
            if deferred || interaction.kind == InteractionType::ModalSubmit {
                reply = Reply::error("this form could not be shown; use the entry again");
            } else {
                self.respond_modal(interaction.id, &token, &modal).await;
                self.services
                    .metrics
                    .command(&ctx.command, outcome, start.elapsed().as_secs_f64());
                return;
            }
        }
        if deferred {
            // Refusals and errors are shown where the defer put them; an answer the command
            // marks private must not go public.
            let private = !failed && reply.ephemeral.unwrap_or(def.ephemeral);
            self.edit_deferred(&token, &reply, def.ephemeral, private)
                .await;
        } else {
            let ephemeral = reply.ephemeral.unwrap_or(def.ephemeral);
            self.respond(interaction.id, &token, &reply, ephemeral)
                .await;
        }
        self.services
            .metrics
            .command(&ctx.command, outcome, start.elapsed().as_secs_f64());
    }

    /// Checks and runs a command.
    async fn execute(
        &self,
        ctx: &CommandContext,
        def: &CommandDef,
        args: Result<Args, ArgError>,
    ) -> Result<Reply, CommandError> {
        if self.stopping.is_cancelled() {
            return Err(CommandError::ShuttingDown);
        }
        let args = args?;
        if def.guild_only && ctx.guild_id.is_none() {
            return Err(CommandError::GuildOnly);
        }
        if let Some(any) = def.run_with_any {
            check_any_permission(any, ctx.invoker.permissions)?;
        } else if let Some(needed) = def.default_member_permissions {
            check_permissions(needed, ctx.invoker.permissions)?;
        }
        if let Some(guild) = ctx.guild_id {
            self.check_ids_in_guild(guild.get(), &args).await?;
        }
        if let Some(cooldown) = def.cooldown.filter(|d| !d.is_zero()) {
            self.check_cooldown(&def.name, ctx.invoker.user_id.get(), cooldown)
                .await?;
        }
        let _permit = self
            .semaphore
            .acquire()
            .await
            .map_err(|_| CommandError::ShuttingDown)?;
        for observer in &self.observers {
            observer.command_started(ctx);
        }
        def.handler.run(ctx, &args).await
    }

    /// Refuses channel and role arguments that are not of `guild` (a prefix argument can name
    /// any id; a slash option from Discord is resolved in the guild, and checked all the same).
    async fn check_ids_in_guild(&self, guild: u64, args: &Args) -> Result<(), CommandError> {
        for (_, value) in args.iter() {
            match value {
                super::ArgValue::Channel(c) => self.services.check_channel(guild, c.get()).await?,
                super::ArgValue::Role(r) => self.services.check_role(guild, r.get()).await?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Starts the command's cooldown for the user, in the shared store; in this process when
    /// the shared store cannot answer (logged), so a Redis outage neither blocks commands nor
    /// lifts cooldowns altogether.
    async fn check_cooldown(
        &self,
        command: &str,
        user: u64,
        period: Duration,
    ) -> Result<(), CommandError> {
        let started = match self
            .services
            .cooldowns
            .try_start(command, user, period)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, command, "shared cooldowns unavailable; using this process's");
                self.fallback_cooldowns
                    .try_start(command, user, period)
                    .await
                    .unwrap_or(None)
            }
        };
        match started {
            None => Ok(()),
            Some(remaining) => Err(CommandError::Cooldown { remaining }),
        }
    }

    /// Runs `work` as part of the in-flight work that shutdown waits for.
    pub fn spawn<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if self.stopping.is_cancelled() {
            return;
        }
        self.tracker.spawn(work);
    }

    fn reply_for(
        &self,
        ctx: &CommandContext,
        def: &CommandDef,
        result: Result<Reply, CommandError>,
    ) -> Reply {
        match result {
            Ok(reply) => reply,
            Err(e) => {
                if e.is_refusal() {
                    tracing::debug!(command = %def.name, user = %ctx.invoker.user_id, reason = %e, "command refused");
                } else {
                    tracing::warn!(command = %def.name, error = %e, source = ?std::error::Error::source(&e).map(ToString::to_string), "command failed");
                }
                Reply::error(e.localized(ctx.locale))
            }
        }
    }
}

fn outcome_label(result: &Result<Reply, CommandError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.metric_label(),
    }
}
