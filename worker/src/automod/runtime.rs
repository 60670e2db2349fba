//! From gateway events to planned actions: builds the engine's contexts from twilight's
//! `Message` and `Member`, evaluates the guild's cached rules, and turns verdicts into
//! [`PlannedAction`]s, each with the case that records it (rule and evidence included).
//!
//! Planning is pure; [`super::act`] carries the plan out. Every case carries an idempotency key derived from the event, the rule
//! and the action, so the same message or join handled twice (a redelivery, a reshard, a
//! retry after a crash) never creates a second case or a second action.

use std::sync::Arc;

use twilight_model::channel::Message;
use twilight_model::guild::{Member, Permissions};

use super::config::Action;
use super::context::{MemberContext, MessageContext};
use super::counters::Counters;
use super::engine::{Engine, RulesCache, Verdict};
use crate::action::ActionKind;
use crate::snowflake;
use crate::store::{NewCase, Timestamp};

/// Longest case reason (Discord's audit-log reason limit).
pub const MAX_REASON: usize = 512;

/// One action to carry out, with its case.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAction {
    /// What to do.
    pub action: Action,
    /// The rule that asked for it.
    pub rule: Arc<str>,
    /// The message to delete (for `delete`).
    pub message: Option<(u64, u64)>,
    /// The case that records it (created before the Discord call, outcome set after).
    pub case: NewCase,
}

fn reason(v: &Verdict) -> String {
    let r = format!("automod {}: {}", v.rule, v.evidence.reason);
    if r.chars().count() <= MAX_REASON {
        return r;
    }
    let mut out: String = r.chars().take(MAX_REASON - 1).collect();
    out.push('…');
    out
}

/// Plans the actions of `verdicts` about `user` in `guild`. `event` names the event (e.g.
/// `message:{id}` or `join:{user}:{joined_at}`) and makes the idempotency keys; `bot` is the
/// moderator recorded on the cases; `at_ms` is when it happened.
#[must_use]
pub fn plan(
    verdicts: &[Verdict],
    guild: u64,
    user: u64,
    bot: u64,
    event: &str,
    message: Option<(u64, u64)>,
    at_ms: u64,
) -> Vec<PlannedAction> {
    let mut out = Vec::new();
    let mut deleted = false;
    for v in verdicts {
        for a in &v.actions {
            // One message is deleted once, whichever rules asked.
            if matches!(a, Action::Delete) {
                if deleted || message.is_none() {
                    continue;
                }
                deleted = true;
            }
            let mut case = NewCase::new(
                guild,
                format!("automod:{event}:{}:{}", v.rule, a.name()),
                a.kind(),
                user,
                bot,
            )
            .reason(reason(v))
            .evidence(v.evidence_json())
            .created_at(Timestamp::from_unix_millis(at_ms as i64));
            if let Action::Timeout { secs } = a {
                case = case.duration_secs(u64::from(*secs));
            }
            out.push(PlannedAction {
                action: *a,
                rule: v.rule.clone(),
                message: message.filter(|_| matches!(a, Action::Delete)),
                case,
            });
        }
    }
    // Punishments, most severe first, then the rest: a ban makes a timeout of the same
    // member pointless, and the alert should describe what was done.
    out.sort_by_key(|p| {
        let kind = p.action.kind();
        let group = match kind {
            ActionKind::AutomodDelete => 0,
            ActionKind::AutomodAlert => 2,
            _ => 1,
        };
        (group, std::cmp::Reverse(kind.severity()))
    });
    let strongest = out
        .iter()
        .find(|p| p.action.is_punishment())
        .map(|p| p.action);
    out.retain(|p| match (strongest, p.action) {
        (Some(s), a) if a.is_punishment() => a == s,
        _ => true,
    });
    out
}

/// Builds the engine's view of a guild message; `None` outside guilds. `permissions` are the
/// author's (from the cache); `None` counts as no permissions.
#[must_use]
pub fn message_context<'a>(
    msg: &'a Message,
    roles: &'a [u64],
    permissions: Option<Permissions>,
) -> Option<MessageContext<'a>> {
    let guild = msg.guild_id?;
    Some(MessageContext {
        guild_id: guild.get(),
        channel_id: msg.channel_id.get(),
        message_id: msg.id.get(),
        author_id: msg.author.id.get(),
        author_is_bot: msg.author.bot || msg.webhook_id.is_some(),
        author_roles: roles,
        author_permissions: permissions.unwrap_or_else(Permissions::empty),
        content: &msg.content,
        user_mentions: msg.mentions.len() as u32,
        role_mentions: msg.mention_roles.len() as u32,
        mentions_everyone: msg.mention_everyone,
        attachments: msg.attachments.len() as u32,
        timestamp_ms: snowflake::timestamp_ms(msg.id.get()),
    })
}

/// The author's role ids of a guild message (from the partial member Discord sends).
#[must_use]
pub fn message_roles(msg: &Message) -> Vec<u64> {
    msg.member
        .as_ref()
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default()
}

/// Builds the engine's view of a member who joined.
#[must_use]
pub fn member_context(guild: u64, member: &Member) -> MemberContext<'_> {
    let joined = member
        .joined_at
        .map(|t| (t.as_micros() / 1000) as u64)
        .unwrap_or_else(|| snowflake::timestamp_ms(member.user.id.get()));
    MemberContext {
        guild_id: guild,
        user_id: member.user.id.get(),
        is_bot: member.user.bot,
        username: &member.user.name,
        global_name: member.user.global_name.as_deref(),
        nick: member.nick.as_deref(),
        joined_at_ms: joined,
    }
}

/// The event name of an edit: the message and when it was edited.
#[must_use]
pub fn edit_event(message_id: u64, edited_ms: u64) -> String {
    format!("edit:{message_id}:{edited_ms}")
}

/// The event name of a member's names: the member and a hash of their username, global
/// name and nickname, so the same names are acted on once.
#[must_use]
pub fn rename_event(ctx: &MemberContext<'_>) -> String {
    let names = format!(
        "{}\u{0}{}\u{0}{}",
        ctx.username,
        ctx.global_name.unwrap_or(""),
        ctx.nick.unwrap_or("")
    );
    format!(
        "rename:{}:{:016x}",
        ctx.user_id,
        crate::hash::fnv1a64(names.as_bytes())
    )
}

/// Builds the engine's view of a member from a GUILD_MEMBER_UPDATE.
#[must_use]
pub fn updated_member_context(
    update: &twilight_model::gateway::payload::incoming::MemberUpdate,
) -> MemberContext<'_> {
    MemberContext {
        guild_id: update.guild_id.get(),
        user_id: update.user.id.get(),
        is_bot: update.user.bot,
        username: &update.user.name,
        global_name: update.user.global_name.as_deref(),
        nick: update.nick.as_deref(),
        joined_at_ms: update
            .joined_at
            .map(|t| (t.as_micros() / 1000) as u64)
            .unwrap_or_else(|| snowflake::timestamp_ms(update.user.id.get())),
    }
}

/// Automod for one worker: the engine, the compiled-rules cache and the counters.
pub struct Automod {
    engine: Engine,
    cache: Arc<RulesCache>,
    counters: Arc<dyn Counters>,
}

impl Automod {
    /// Automod over `counters` (Redis when configured, else in process).
    #[must_use]
    pub fn new(cache: Arc<RulesCache>, counters: Arc<dyn Counters>) -> Self {
        Self {
            engine: Engine::new(),
            cache,
            counters,
        }
    }

    /// The rules cache (shared with `/automod`, which invalidates it).
    #[must_use]
    pub fn cache(&self) -> &Arc<RulesCache> {
        &self.cache
    }

    /// Plans the actions for a guild message; `stored` is the guild's `GuildConfig.automod`.
    pub async fn on_message(
        &self,
        stored: &serde_json::Value,
        msg: &Message,
        permissions: Option<Permissions>,
        bot: u64,
    ) -> Vec<PlannedAction> {
        let roles = message_roles(msg);
        let Some(ctx) = message_context(msg, &roles, permissions) else {
            return Vec::new();
        };
        let rules = self.cache.get(ctx.guild_id, stored);
        let verdicts = self.engine.evaluate(&rules, &ctx, &*self.counters).await;
        plan(
            &verdicts,
            ctx.guild_id,
            ctx.author_id,
            bot,
            &format!("message:{}", ctx.message_id),
            Some((ctx.channel_id, ctx.message_id)),
            ctx.timestamp_ms,
        )
    }

    /// Plans the actions for an edited guild message: its new content through the content
    /// rules ([`Engine::evaluate_edit`]). Only an edit by its author counts (the message has
    /// an `edited_timestamp`); the idempotency keys name the edit, so a later update that
    /// leaves the text alone (Discord resolving a link's embed) replays and never acts twice.
    pub async fn on_message_edit(
        &self,
        stored: &serde_json::Value,
        msg: &Message,
        permissions: Option<Permissions>,
        bot: u64,
    ) -> Vec<PlannedAction> {
        let Some(edited) = msg.edited_timestamp else {
            return Vec::new();
        };
        let roles = message_roles(msg);
        let Some(ctx) = message_context(msg, &roles, permissions) else {
            return Vec::new();
        };
        let rules = self.cache.get(ctx.guild_id, stored);
        let verdicts = self
            .engine
            .evaluate_edit(&rules, &ctx, &*self.counters)
            .await;
        let edited_ms = (edited.as_micros() / 1000) as u64;
        plan(
            &verdicts,
            ctx.guild_id,
            ctx.author_id,
            bot,
            &edit_event(ctx.message_id, edited_ms),
            Some((ctx.channel_id, ctx.message_id)),
            edited_ms,
        )
    }

    /// Plans the actions for a member of `guild` whose names may have changed (a
    /// GUILD_MEMBER_UPDATE): the name rules ([`Engine::evaluate_rename`]). The keys name the
    /// names, so an update that changes something else (roles, a timeout) replays instead of
    /// acting again.
    pub async fn on_member_update(
        &self,
        stored: &serde_json::Value,
        ctx: &MemberContext<'_>,
        now_ms: u64,
        bot: u64,
    ) -> Vec<PlannedAction> {
        let rules = self.cache.get(ctx.guild_id, stored);
        let verdicts = self
            .engine
            .evaluate_rename(&rules, ctx, now_ms, &*self.counters)
            .await;
        plan(
            &verdicts,
            ctx.guild_id,
            ctx.user_id,
            bot,
            &rename_event(ctx),
            None,
            now_ms,
        )
    }

    /// Plans the actions for a member who joined `guild`.
    pub async fn on_member_add(
        &self,
        stored: &serde_json::Value,
        guild: u64,
        member: &Member,
        bot: u64,
    ) -> Vec<PlannedAction> {
        let ctx = member_context(guild, member);
        let rules = self.cache.get(guild, stored);
        let verdicts = self
            .engine
            .evaluate_join(&rules, &ctx, &*self.counters)
            .await;
        plan(
            &verdicts,
            guild,
            ctx.user_id,
            bot,
            &format!("join:{}:{}", ctx.user_id, ctx.joined_at_ms),
            None,
            ctx.joined_at_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automod::{GuildRules, LocalCounters, Preset};
    use serde_json::json;

    fn message(content: &str, id: u64) -> Message {
        serde_json::from_value(json!({
            "id": id.to_string(), "channel_id": "20", "guild_id": "10",
            "author": {"id": "30", "username": "member", "discriminator": "0", "avatar": null},
            "member": {"roles": ["40"], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0},
            "content": content, "timestamp": "2024-06-01T00:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": [], "pinned": false, "type": 0
        }))
        .expect("a MESSAGE_CREATE payload")
    }

    #[tokio::test]
    async fn a_toxic_message_becomes_one_delete_and_one_punishment_with_cases() {
        let stored = Preset::Standard.config().to_json();
        let automod = Automod::new(
            Arc::new(RulesCache::default()),
            Arc::new(LocalCounters::new()),
        );
        let id = (1u64 << 40) | 7;
        let m = message("kill yourself, discord.gg/spam", id);
        let plan = automod.on_message(&stored, &m, None, 999).await;
        let actions: Vec<_> = plan.iter().map(|p| p.action).collect();
        // invites asks delete + warn, toxicity (self-harm incitement) delete + timeout +
        // alert: one delete, the timeout wins over the warning, no ban on the score alone.
        assert_eq!(
            actions,
            [
                Action::Delete,
                Action::Timeout { secs: 3600 },
                Action::Alert { channel: None }
            ]
        );
        assert_eq!(plan[0].message, Some((20, id)));
        assert_eq!(plan[0].case.kind, ActionKind::AutomodDelete);
        let timeout = &plan[1].case;
        assert_eq!(
            (
                timeout.guild_id,
                timeout.user_id,
                timeout.moderator_id,
                timeout.kind
            ),
            (10, 30, 999, ActionKind::Timeout)
        );
        assert_eq!(
            timeout.idempotency_key,
            format!("automod:message:{id}:toxicity:timeout")
        );
        assert!(
            timeout
                .reason
                .as_deref()
                .unwrap()
                .starts_with("automod toxicity: self_harm "),
            "{:?}",
            timeout.reason
        );
        assert_eq!(plan[2].case.kind, ActionKind::AutomodAlert);
        let ev = timeout.evidence.as_ref().unwrap();
        assert_eq!(ev["rule"], "toxicity");
        assert_eq!(ev["message_id"], id);
        // The same message again plans the same keys: the store returns the same cases.
        let again = automod.on_message(&stored, &m, None, 999).await;
        assert_eq!(
            again
                .iter()
                .map(|p| &p.case.idempotency_key)
                .collect::<Vec<_>>(),
            plan.iter()
                .map(|p| &p.case.idempotency_key)
                .collect::<Vec<_>>()
        );
        // Moderators are exempt.
        let none = automod
            .on_message(&stored, &m, Some(Permissions::MANAGE_MESSAGES), 999)
            .await;
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn an_edit_is_planned_under_its_own_keys_and_an_unedited_update_is_not() {
        let stored = Preset::Standard.config().to_json();
        let automod = Automod::new(
            Arc::new(RulesCache::default()),
            Arc::new(LocalCounters::new()),
        );
        let id = (1u64 << 40) | 9;
        let mut m = message("join discord.gg/spam now", id);
        assert!(
            automod
                .on_message_edit(&stored, &m, None, 999)
                .await
                .is_empty(),
            "no edited_timestamp: not an edit by the author"
        );
        m.edited_timestamp =
            Some(twilight_model::util::Timestamp::from_secs(1_717_200_060).unwrap());
        let plan = automod.on_message_edit(&stored, &m, None, 999).await;
        assert_eq!(
            plan.iter().map(|p| p.action).collect::<Vec<_>>(),
            [Action::Delete, Action::Warn]
        );
        assert_eq!(
            plan[0].case.idempotency_key,
            format!("automod:edit:{id}:1717200060000:invites:delete")
        );
        assert_eq!(plan[0].message, Some((20, id)));
    }

    #[test]
    fn the_same_names_make_the_same_rename_event() {
        let ctx = |nick| MemberContext {
            guild_id: 1,
            user_id: 2,
            is_bot: false,
            username: "someone",
            global_name: None,
            nick,
            joined_at_ms: 0,
        };
        assert_eq!(rename_event(&ctx(Some("a"))), rename_event(&ctx(Some("a"))));
        assert_ne!(rename_event(&ctx(Some("a"))), rename_event(&ctx(None)));
        assert!(rename_event(&ctx(None)).starts_with("rename:2:"));
    }

    #[test]
    fn timeouts_carry_their_duration_and_alerts_come_last() {
        let rules = GuildRules::compile(&Preset::Standard.config()).unwrap();
        let d = futures::executor::block_on(
            Engine::new().dry_run(&rules, "I will find where you live and hurt you"),
        );
        let p = plan(&d.verdicts, 1, 2, 3, "message:5", Some((4, 5)), 0);
        assert_eq!(
            p.iter().map(|p| p.action).collect::<Vec<_>>(),
            [
                Action::Delete,
                Action::Timeout { secs: 3600 },
                Action::Alert { channel: None }
            ]
        );
        assert_eq!(p[1].case.duration_secs, Some(3600));
    }
}
