//! Runs commands from gateway events: parses, checks (guild-only, permissions, cooldown),
//! bounds concurrency, defers interactions that run long, answers, and records metrics.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::{Semaphore, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use twilight_model::{
    application::interaction::{Interaction, InteractionData, InteractionType},
    channel::message::{AllowedMentions, Message, MessageFlags},
    gateway::payload::incoming::{InteractionCreate, MessageCreate},
    guild::Permissions,
    http::interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, InteractionMarker, MessageMarker},
    },
};

use crate::cache::{CooldownStore as _, InProcessCooldowns};
use crate::commands::GuildScope as _;
use crate::i18n::Locale;

use crate::services::Services;

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

fn no_mentions() -> AllowedMentions {
    AllowedMentions::default()
}

/// Least time between two progress edits of one answer (an edit is a REST request; a
/// moderator reads no faster).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Where a command's answer goes, and how far it got.
#[derive(Debug)]
enum Answer {
    /// An interaction: answered directly, or deferred and then edited.
    Interaction {
        id: Id<InteractionMarker>,
        token: String,
        /// The command's default visibility, which a defer keeps.
        ephemeral: bool,
        /// `None` until a defer was tried; then whether it succeeded.
        deferred: Option<bool>,
    },
    /// A prefix command: a reply message, posted once and then edited.
    Message {
        channel: Id<ChannelMarker>,
        reply_to: Id<MessageMarker>,
        /// The reply posted for progress, which the answer replaces.
        posted: Option<Id<MessageMarker>>,
    },
}

impl Answer {
    fn needs_defer(&self) -> bool {
        matches!(self, Self::Interaction { deferred: None, .. })
    }
}

/// Names of the permissions in `p`, for messages, as Discord's permission settings call
/// them (`manage server`, `timeout members`, `kick members`).
#[must_use]
pub fn permission_names(p: Permissions) -> String {
    p.iter_names()
        .map(|(n, _)| match n {
            "MANAGE_GUILD" => "manage server".to_owned(),
            "MODERATE_MEMBERS" => "timeout members".to_owned(),
            "MANAGE_GUILD_EXPRESSIONS" => "manage expressions".to_owned(),
            _ => n.to_lowercase().replace('_', " "),
        })
        .collect::<Vec<_>>()
        .join(", ")
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
        if interaction.kind != InteractionType::ApplicationCommand {
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
            Ok(c) => Locale::from_setting(&c.locale),
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
                .map_or(Locale::EnUs, |c| Locale::from_setting(&c.locale)),
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
        let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
            return;
        };
        let registry = Arc::clone(&self.registry);
        let token = interaction.token.clone();
        let Some((def, args)) = registry.parse_slash(data) else {
            let reply = Reply::error(format!(
                "`/{}` is not a command of this bot any more; the command list may be out of date",
                data.name
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
        let reply = self.reply_for(&ctx, def, result);
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

    /// Runs `work` and, while it runs, answers for it: an interaction is deferred after
    /// `defer_after` (or when progress is first shown), and progress reports edit the
    /// deferred answer or the reply posted to a prefix command: first once the command has
    /// run for [`PROGRESS_EVERY`], then at most every [`PROGRESS_EVERY`], always the latest.
    async fn with_progress<F>(
        &self,
        work: F,
        mut updates: watch::Receiver<Option<String>>,
        answer: &mut Answer,
        defer_after: Option<Duration>,
    ) -> Result<Reply, CommandError>
    where
        F: std::future::Future<Output = Result<Reply, CommandError>>,
    {
        tokio::pin!(work);
        // Without a defer (prefix commands) the deadline is never armed.
        let deadline = tokio::time::sleep(defer_after.unwrap_or(Duration::from_secs(3600)));
        tokio::pin!(deadline);
        let mut open = true;
        let mut pending = false;
        // A command done within PROGRESS_EVERY answers once, without progress.
        let mut last_shown = tokio::time::Instant::now();
        loop {
            let next_show = last_shown + PROGRESS_EVERY;
            tokio::select! {
                biased;
                r = &mut work => return r,
                () = &mut deadline, if defer_after.is_some() && answer.needs_defer() => {
                    self.start_answer(answer).await;
                }
                changed = updates.changed(), if open => {
                    if changed.is_err() {
                        open = false;
                    } else {
                        pending = true;
                    }
                }
                () = tokio::time::sleep_until(next_show), if pending => {
                    pending = false;
                    let text = updates.borrow_and_update().clone();
                    if let Some(text) = text {
                        if answer.needs_defer() {
                            self.start_answer(answer).await;
                        }
                        self.show_progress(answer, &text).await;
                        last_shown = tokio::time::Instant::now();
                    }
                }
            }
        }
    }

    /// Defers an interaction answer that is not deferred yet.
    async fn start_answer(&self, answer: &mut Answer) {
        if let Answer::Interaction {
            id,
            token,
            ephemeral,
            deferred,
        } = answer
            && deferred.is_none()
        {
            *deferred = Some(self.defer(*id, token, *ephemeral).await);
        }
    }

    /// Shows `text` as the progress: edits the deferred interaction answer, or posts (then
    /// edits) a reply to the prefix command. Failures are logged: progress is best effort.
    async fn show_progress(&self, answer: &mut Answer, text: &str) {
        let reply = Reply::text(text);
        match answer {
            Answer::Interaction {
                token,
                ephemeral,
                deferred: Some(true),
                ..
            } => {
                let token = token.clone();
                let ephemeral = *ephemeral;
                self.edit_deferred(&token, &reply, ephemeral, false).await;
            }
            Answer::Interaction { .. } => {}
            Answer::Message { posted: None, .. } => match self.post_reply(answer, &reply).await {
                Ok(id) => {
                    if let Answer::Message { posted, .. } = answer {
                        *posted = id;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "could not post the progress reply"),
            },
            Answer::Message { .. } => {
                if let Err(e) = self.post_reply(answer, &reply).await {
                    tracing::debug!(error = %e, "could not edit the progress reply");
                }
            }
        }
    }

    /// Sends a prefix command's reply: a new reply to the command, or an edit of the one
    /// its progress posted. Returns the id of a new message.
    async fn post_reply(
        &self,
        answer: &Answer,
        reply: &Reply,
    ) -> Result<Option<Id<MessageMarker>>, crate::rest::RestError> {
        let Answer::Message {
            channel,
            reply_to,
            posted,
        } = answer
        else {
            return Ok(None);
        };
        let (channel, reply_to) = (*channel, *reply_to);
        let content = reply.content.clone().unwrap_or_default();
        let embeds = reply.embeds.clone();
        let mentions = no_mentions();
        if let Some(posted) = *posted {
            self.services
                .rest
                .call("update_message", |c| {
                    c.update_message(channel, posted)
                        .content(Some(&content))
                        .embeds(Some(&embeds))
                        .allowed_mentions(Some(&mentions))
                        .into_future()
                })
                .await?;
            return Ok(None);
        }
        let sent = self
            .services
            .rest
            .call("create_message", |c| {
                let mut req = c
                    .create_message(channel)
                    .reply(reply_to)
                    .fail_if_not_exists(false)
                    .allowed_mentions(Some(&mentions))
                    .embeds(&embeds);
                if !content.is_empty() {
                    req = req.content(&content);
                }
                req.into_future()
            })
            .await?;
        Ok(sent.model().await.ok().map(|m| m.id))
    }

    async fn defer(
        &self,
        id: Id<twilight_model::id::marker::InteractionMarker>,
        token: &str,
        ephemeral: bool,
    ) -> bool {
        let response = InteractionResponse {
            kind: InteractionResponseType::DeferredChannelMessageWithSource,
            data: Some(InteractionResponseData {
                flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
                ..InteractionResponseData::default()
            }),
        };
        let app = self.services.application_id;
        let res = self
            .services
            .rest
            .interaction("interaction_defer", |c| {
                c.interaction(app)
                    .create_response(id, token, &response)
                    .into_future()
            })
            .await;
        match res {
            Ok(_) => {
                self.services.metrics.deferred.inc();
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not defer the interaction");
                false
            }
        }
    }

    /// Answers a deferred interaction by editing the loading message, which the defer posted
    /// with the command's default visibility (`deferred_ephemeral`). Discord keeps that
    /// visibility for the edit and for a first follow-up alike, so a `private` answer after a
    /// public defer is replaced by a notice instead of being shown to the channel.
    async fn edit_deferred(
        &self,
        token: &str,
        reply: &Reply,
        deferred_ephemeral: bool,
        private: bool,
    ) {
        let app = self.services.application_id;
        let mentions = no_mentions();
        // Commands with private answers declare it, so their defer is private; this is the
        // guard for one that does not.
        let private_notice;
        let reply = if private && !deferred_ephemeral {
            tracing::warn!("a private answer after a public defer: not shown in the channel");
            private_notice = Reply::error(
                "the answer is private and took too long to be shown only to you; run the command again",
            );
            &private_notice
        } else {
            reply
        };
        let res = self
            .services
            .rest
            .interaction("interaction_edit_response", |c| {
                c.interaction(app)
                    .update_response(token)
                    .content(reply.content.as_deref())
                    .embeds(Some(&reply.embeds))
                    .allowed_mentions(Some(&mentions))
                    .into_future()
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "could not edit the deferred response");
        }
    }

    async fn respond(
        &self,
        id: Id<twilight_model::id::marker::InteractionMarker>,
        token: &str,
        reply: &Reply,
        ephemeral: bool,
    ) {
        let response = InteractionResponse {
            kind: InteractionResponseType::ChannelMessageWithSource,
            data: Some(InteractionResponseData {
                allowed_mentions: Some(no_mentions()),
                content: reply.content.clone(),
                embeds: Some(reply.embeds.clone()),
                flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
                ..InteractionResponseData::default()
            }),
        };
        let app = self.services.application_id;
        let res = self
            .services
            .rest
            .interaction("interaction_response", |c| {
                c.interaction(app)
                    .create_response(id, token, &response)
                    .into_future()
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "could not answer the interaction");
        }
    }
}

/// Refuses when `have` lacks any of `needed` (administrators have every permission). Unknown
/// permissions are refused: the check never passes by default.
pub fn check_permissions(
    needed: Permissions,
    have: Option<Permissions>,
) -> Result<(), CommandError> {
    let Some(have) = have else {
        return Err(CommandError::user(
            "I could not verify your permissions right now; try the slash command or again shortly",
        ));
    };
    if have.contains(Permissions::ADMINISTRATOR) || have.contains(needed) {
        return Ok(());
    }
    Err(CommandError::MissingPermissions {
        missing: permission_names(needed - have),
    })
}

/// Refuses when `have` holds none of `any` (administrators have every permission). Unknown
/// permissions are refused.
pub fn check_any_permission(
    any: Permissions,
    have: Option<Permissions>,
) -> Result<(), CommandError> {
    let Some(have) = have else {
        return check_permissions(any, None);
    };
    if have.contains(Permissions::ADMINISTRATOR) || have.intersects(any) {
        return Ok(());
    }
    Err(CommandError::MissingPermissions {
        missing: any_permission_names(any),
    })
}

/// `a, b or c`: the names of the permissions in `p`, of which one is enough.
#[must_use]
pub fn any_permission_names(p: Permissions) -> String {
    let names: Vec<String> = p.iter().map(permission_names).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn outcome_label(result: &Result<Reply, CommandError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.metric_label(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_checks() {
        let ban = Permissions::BAN_MEMBERS;
        assert!(
            check_permissions(
                ban,
                Some(Permissions::BAN_MEMBERS | Permissions::KICK_MEMBERS)
            )
            .is_ok()
        );
        assert!(check_permissions(ban, Some(Permissions::ADMINISTRATOR)).is_ok());
        let e = check_permissions(
            ban | Permissions::KICK_MEMBERS,
            Some(Permissions::KICK_MEMBERS),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "you need the ban members permission to use this command"
        );
        assert!(check_permissions(ban, None).is_err());
        let any =
            Permissions::BAN_MEMBERS | Permissions::KICK_MEMBERS | Permissions::MODERATE_MEMBERS;
        assert!(check_any_permission(any, Some(Permissions::KICK_MEMBERS)).is_ok());
        assert!(check_any_permission(any, Some(Permissions::ADMINISTRATOR)).is_ok());
        assert!(check_any_permission(any, None).is_err());
        assert_eq!(
            check_any_permission(any, Some(Permissions::SEND_MESSAGES))
                .unwrap_err()
                .to_string(),
            "you need the kick members, ban members or timeout members permission to use this command"
        );
        assert_eq!(
            permission_names(Permissions::MANAGE_GUILD | Permissions::MODERATE_MEMBERS),
            "manage server, timeout members"
        );
    }
}
