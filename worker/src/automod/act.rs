//! Carrying out automod's verdicts on the live bot: gateway events in, Discord actions and
//! cases out.
//!
//! - Punishments (warn, timeout, kick, ban) go through the moderation flow
//!   ([`crate::moderation::engine::perform`]) with the bot as moderator: the same hierarchy
//!   checks, optional DM, mod-log embed, schedules and warn escalation as a manual action, and
//!   the same idempotency (the key is derived from the event, the rule and the action, so a
//!   redelivered message never acts twice). The case keeps the rule's evidence.
//! - Deleting the message, posting an alert and raid mode's lockdown of the server are cases
//!   of their own (`automod_delete`, `automod_alert`, `lockdown`) whose outcome records what
//!   Discord answered.

use std::sync::Arc;
use std::time::Duration;

use twilight_http::request::AuditLogReason as _;
use twilight_model::channel::Message;
use twilight_model::guild::Member;
use twilight_model::id::Id;

use super::config::Action;
use super::runtime::{Automod, PlannedAction};
use crate::action::ActionKind;
use crate::analytics::{Analytics, Metric};
use crate::moderation::discord;
use crate::moderation::engine::{self, ActionError, ActionRequest, Deps};
use crate::moderation::lockdown::apply as lockdown;
use crate::moderation::options::{DeleteMessages, Reason};
use crate::services::Services;
use crate::store::{Case, CaseOutcome, GuildConfig};

/// Discord's "Unknown Message": the message is already gone.
const UNKNOWN_MESSAGE: u64 = 10_008;

/// Automod on the live bot.
pub struct AutomodRunner {
    automod: Automod,
    services: Arc<Services>,
    analytics: Arc<Analytics>,
    deps: Deps,
}

impl std::fmt::Debug for AutomodRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutomodRunner").finish_non_exhaustive()
    }
}

/// The moderation flow's kind for a punishment; `None` for a delete or an alert, which automod
/// records itself.
fn punishment_kind(action: &Action) -> Option<ActionKind> {
    let kind = action.kind();
    kind.is_punishment().then_some(kind)
}

/// Automod's `delete_message_secs` as one of the moderation choices: nothing, the last day,
/// or the last week (Discord's maximum) for anything longer than a day.
fn delete_choice(secs: u32) -> DeleteMessages {
    match secs {
        0 => DeleteMessages::None,
        1..=86_400 => DeleteMessages::Day,
        _ => DeleteMessages::Week,
    }
}

impl AutomodRunner {
    /// Automod over the worker's services; the actions it carries out are counted in
    /// `analytics`.
    #[must_use]
    pub fn new(automod: Automod, services: Arc<Services>, analytics: Arc<Analytics>) -> Self {
        let deps = Deps::from_services(&services, Arc::clone(&services.store));
        Self {
            automod,
            services,
            analytics,
            deps,
        }
    }

    /// The guild's settings when it has automod rules; `None` when it has none or the settings
    /// cannot be read.
    async fn automod_config(&self, guild: u64) -> Option<Arc<GuildConfig>> {
        match self
            .services
            .guild_configs
            .get(&*self.services.store, guild)
            .await
        {
            Ok(c) => (!c.automod.is_null()).then_some(c),
            Err(e) => {
                // Without the configuration there are no rules to apply; nothing is half done.
                tracing::warn!(guild, error = %e, "automod skipped: guild settings unavailable");
                None
            }
        }
    }

    /// Evaluates a guild message and carries out what the guild's rules ask.
    pub async fn on_message(&self, msg: &Message) {
        self.on_guild_message(msg, false).await;
    }

    /// Evaluates an edited guild message (MESSAGE_UPDATE) and carries out what the guild's
    /// content rules ask; updates that are no edit by the author (an embed resolved) are left
    /// alone.
    pub async fn on_message_edit(&self, msg: &Message) {
        if msg.edited_timestamp.is_some() {
            self.on_guild_message(msg, true).await;
        }
    }

    /// A new message, or (`edit`) the new content of an edited one, through the guild's rules.
    async fn on_guild_message(&self, msg: &Message, edit: bool) {
        let Some(guild) = msg.guild_id.map(|g| g.get()) else {
            return;
        };
        if msg.author.bot || msg.author.id == self.services.bot_user_id {
            return;
        }
        let Some(config) = self.automod_config(guild).await else {
            return;
        };
        // Moderators are exempt: their permissions must be known even right after a RESUME.
        let roles = super::runtime::message_roles(msg);
        let permissions = self
            .services
            .author_permissions(guild, msg.author.id.get(), &roles)
            .await;
        let planned = if edit {
            self.automod
                .on_message_edit(&config.automod, msg, permissions, self.deps.bot_id)
                .await
        } else {
            self.automod
                .on_message(&config.automod, msg, permissions, self.deps.bot_id)
                .await
        };
        self.carry_out(&config, planned).await;
    }

    /// Evaluates a member whose names may have changed (GUILD_MEMBER_UPDATE) against the
    /// guild's name rules and carries out what they ask.
    pub async fn on_member_update(
        &self,
        update: &twilight_model::gateway::payload::incoming::MemberUpdate,
    ) {
        if update.user.bot {
            return;
        }
        let ctx = super::runtime::updated_member_context(update);
        let Some(config) = self.automod_config(ctx.guild_id).await else {
            return;
        };
        let now_ms = crate::store::Timestamp::now().unix_millis() as u64;
        let planned = self
            .automod
            .on_member_update(&config.automod, &ctx, now_ms, self.deps.bot_id)
            .await;
        self.carry_out(&config, planned).await;
    }

    /// Evaluates a member who joined and carries out what the guild's rules ask (raid mode,
    /// account age, names).
    pub async fn on_member_add(&self, guild: u64, member: &Member) {
        if member.user.bot {
            return;
        }
        let Some(config) = self.automod_config(guild).await else {
            return;
        };
        let planned = self
            .automod
            .on_member_add(&config.automod, guild, member, self.deps.bot_id)
            .await;
        self.carry_out(&config, planned).await;
    }

    /// Carries out planned actions in order (delete first, then the punishment, then alerts).
    pub async fn carry_out(&self, config: &GuildConfig, planned: Vec<PlannedAction>) {
        for p in planned {
            let name = p.action.name();
            let outcome = match punishment_kind(&p.action) {
                Some(kind) => self.punish(kind, &p).await,
                None => self.record_and_call(config, &p).await,
            };
            self.services.metrics.automod_action(name, outcome);
            if outcome == "applied" {
                self.analytics
                    .record(p.case.guild_id, Metric::AutomodActions);
            }
        }
    }

    async fn punish(&self, kind: ActionKind, p: &PlannedAction) -> &'static str {
        let case = &p.case;
        let (duration, delete_messages) = match p.action {
            Action::Timeout { secs } => (
                Some(Duration::from_secs(u64::from(secs))),
                DeleteMessages::None,
            ),
            Action::Ban {
                delete_message_secs,
            } => (None, delete_choice(delete_message_secs)),
            _ => (None, DeleteMessages::None),
        };
        let req = ActionRequest {
            guild_id: case.guild_id,
            kind,
            user_id: case.user_id,
            moderator_id: self.deps.bot_id,
            moderator_roles: None,
            reason: Reason::parse_optional(case.reason.as_deref())
                .ok()
                .flatten(),
            duration,
            delete_messages,
            idempotency_key: case.idempotency_key.clone(),
            references: Vec::new(),
            evidence: case.evidence.clone(),
        };
        match engine::perform(&self.deps, req).await {
            Ok(report) if report.replayed => "replayed",
            Ok(report) => match report.case.outcome {
                CaseOutcome::Applied => "applied",
                _ => "failed",
            },
            Err(ActionError::Refused(r)) => {
                tracing::info!(guild = case.guild_id, user = case.user_id, rule = %p.rule, refusal = %r, "automod punishment refused");
                "refused"
            }
            Err(ActionError::InProgress(_)) => "replayed",
            Err(e) => {
                tracing::warn!(guild = case.guild_id, user = case.user_id, rule = %p.rule, error = %e, "automod punishment failed");
                "failed"
            }
        }
    }

    /// Delete and alert: the case first (idempotent by key), then the call, then the outcome.
    async fn record_and_call(&self, config: &GuildConfig, p: &PlannedAction) -> &'static str {
        let store = &*self.services.store;
        let case = match store.insert_case(p.case.clone()).await {
            Ok((c, true)) => c,
            // Recorded before (a replayed event) or by another process right now: that
            // one makes the call.
            Ok((_, false)) => return "replayed",
            Err(e) => {
                tracing::warn!(guild = p.case.guild_id, rule = %p.rule, error = %e, "automod case not recorded; action skipped");
                return "failed";
            }
        };
        let result = match p.action {
            Action::Delete => self.delete(p).await,
            Action::Alert { channel } => self.alert(config, channel, &case, p).await,
            Action::Lockdown => self.lockdown(&case, p).await,
            _ => Err("not a delete, alert or lockdown".to_owned()),
        };
        let (outcome, label) = match result {
            Ok(()) => (CaseOutcome::Applied, "applied"),
            Err(error) => (CaseOutcome::Failed { error }, "failed"),
        };
        if let Err(e) = store
            .set_case_outcome(case.guild_id, case.number, outcome)
            .await
        {
            tracing::warn!(guild = case.guild_id, case = case.number, error = %e, "automod case outcome not saved");
        }
        label
    }

    async fn delete(&self, p: &PlannedAction) -> Result<(), String> {
        let Some((channel, message)) = p.message else {
            return Err("no message to delete".into());
        };
        let reason = format!("automod {}", p.rule);
        let res = self
            .services
            .rest
            .call("delete_message", |c| {
                c.delete_message(Id::new(channel), Id::new(message))
                    .reason(&reason)
                    .into_future()
            })
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.discord_code() == Some(UNKNOWN_MESSAGE) => Ok(()),
            Err(e) => Err(discord::describe(&e)),
        }
    }

    /// Raid mode's lockdown: every text and announcement channel, as `/lockdown server:true`
    /// by the bot, posted in the mod log. It fails only when no channel could be locked.
    async fn lockdown(&self, case: &Case, p: &PlannedAction) -> Result<(), String> {
        let guild = case.guild_id;
        let channels = lockdown::server_channels(&self.services.rest, guild)
            .await
            .map_err(|e| discord::describe(&e))?;
        let audit = format!("raid mode (automod rule {})", p.rule);
        let out = lockdown::lock(
            &self.deps,
            &self.services.guild_configs,
            guild,
            &channels,
            self.deps.bot_id,
            &audit,
            &|_, _| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        for (channel, why) in &out.failed {
            tracing::warn!(guild, channel, rule = %p.rule, why = %why, "raid lockdown: channel not locked");
        }
        if !out.done.is_empty() {
            let text = format!(
                "{} by automod rule **{}** (raid mode, case #{}). Lift it with `/unlock server:true`.",
                lockdown::mentions(&out.done),
                p.rule,
                case.number
            );
            lockdown::post(&self.deps, guild, "Lockdown", &text, &case.idempotency_key).await;
        }
        if out.done.is_empty() && out.skipped.is_empty() {
            let why: Vec<String> = out
                .failed
                .iter()
                .map(|(c, why)| format!("<#{c}>: {why}"))
                .collect();
            return Err(format!("no channel locked; {}", why.join("; ")));
        }
        Ok(())
    }

    async fn alert(
        &self,
        config: &GuildConfig,
        channel: Option<u64>,
        case: &Case,
        p: &PlannedAction,
    ) -> Result<(), String> {
        let rules = self.automod.cache().get(case.guild_id, &config.automod);
        let Some(channel) = channel
            .or_else(|| rules.alert_channel())
            .or(config.mod_log_channel)
        else {
            return Err(
                "no alert channel: set one with /automod set all alert_channel #channel or /modlog"
                    .into(),
            );
        };
        // A stored 0 cannot name a channel, and one of another server is never written to
        // (settings stored before ids were checked could hold either).
        let Some(channel_id) =
            Id::<twilight_model::id::marker::ChannelMarker>::new_checked(channel)
        else {
            return Err("the alert channel setting is 0; set it again".into());
        };
        match crate::services::channel_in_guild(
            &self.services.rest,
            &self.services.guild_cache,
            case.guild_id,
            channel,
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => {
                return Err(format!(
                    "<#{channel}> is not a channel of this server; set the alert channel again"
                ));
            }
            Err(e) => return Err(discord::describe(&e)),
        }
        let text = format!(
            "🚨 automod **{}** — <@{}> (case #{}): {}",
            p.rule,
            case.user_id,
            case.number,
            case.reason.as_deref().unwrap_or("no details"),
        );
        let once = format!("automod-alert:{}:{}", case.guild_id, case.number);
        let body = serde_json::json!({"content": text});
        discord::post_once(&self.services.rest, channel_id.get(), body, &once)
            .await
            .map_err(|e| discord::describe(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_message_deletion_maps_to_the_moderation_choices() {
        assert_eq!(delete_choice(0), DeleteMessages::None);
        assert_eq!(delete_choice(3600), DeleteMessages::Day);
        assert_eq!(delete_choice(86_400), DeleteMessages::Day);
        assert_eq!(delete_choice(86_401), DeleteMessages::Week);
        assert_eq!(delete_choice(604_800), DeleteMessages::Week);
    }

    #[test]
    fn only_punishments_go_through_the_moderation_flow() {
        assert_eq!(punishment_kind(&Action::Warn), Some(ActionKind::Warn));
        assert_eq!(punishment_kind(&Action::Kick), Some(ActionKind::Kick));
        assert_eq!(punishment_kind(&Action::Delete), None);
        assert_eq!(punishment_kind(&Action::Alert { channel: None }), None);
    }
}
