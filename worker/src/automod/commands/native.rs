//! `/automod native`: `list` shows the guild's native AutoMod rules, `sync` creates or
//! updates Kyuta's native rules from its own configuration ([`crate::automod::native`]),
//! with `dry_run` saying what it would do. Both need Manage Server for the bot; Discord's
//! 50013 is answered with the permission's name.

use std::fmt::Write as _;

use twilight_model::guild::auto_moderation::{
    AutoModerationAction, AutoModerationActionMetadata, AutoModerationActionType,
    AutoModerationEventType, AutoModerationRule, AutoModerationTriggerMetadata,
    AutoModerationTriggerType,
};
use twilight_model::id::Id;

use super::super::config::AutomodConfig;
use super::super::native::{Existing, NativeRule, Plan, Trigger, desired, plan};
use super::AUTOMOD_COLOUR;
use super::format::truncate;
use crate::commands::{Args, CommandContext, CommandError, EmbedBuilder, Reply};
use crate::rest::RestError;

/// What the bot is told when Discord refuses for want of a permission.
const NEEDS_MANAGE_SERVER: &str =
    "I need the Manage Server permission to read and change this server's AutoMod rules";

fn refused(e: RestError) -> CommandError {
    match e.discord_code() {
        Some(50_013) => CommandError::user(NEEDS_MANAGE_SERVER),
        _ => CommandError::from(e),
    }
}

/// Kyuta's terms for a rule Discord returned.
#[must_use]
pub fn existing_of(r: &AutoModerationRule) -> Existing {
    let md = &r.trigger_metadata;
    let trigger = match r.trigger_type {
        AutoModerationTriggerType::Keyword => Trigger::Keyword {
            keywords: md.keyword_filter.clone().unwrap_or_default(),
            patterns: md.regex_patterns.clone().unwrap_or_default(),
        },
        AutoModerationTriggerType::MentionSpam => Trigger::MentionSpam {
            limit: md.mention_total_limit.unwrap_or(0),
        },
        other => Trigger::Other(u8::from(other)),
    };
    let mut rule = NativeRule {
        name: r.name.clone(),
        trigger,
        enabled: r.enabled,
        block: false,
        alert_channel: None,
        timeout_secs: None,
        exempt_roles: r.exempt_roles.iter().map(|x| x.get()).collect(),
        exempt_channels: r.exempt_channels.iter().map(|x| x.get()).collect(),
    };
    rule.exempt_roles.sort_unstable();
    rule.exempt_channels.sort_unstable();
    for a in &r.actions {
        match a.kind {
            AutoModerationActionType::BlockMessage => rule.block = true,
            AutoModerationActionType::SendAlertMessage => {
                rule.alert_channel = a.metadata.as_ref().and_then(|m| m.channel_id).map(Id::get);
            }
            AutoModerationActionType::Timeout => {
                rule.timeout_secs = a.metadata.as_ref().and_then(|m| m.duration_seconds);
            }
            _ => {}
        }
    }
    Existing {
        id: r.id.get(),
        rule,
    }
}

fn actions_of(r: &NativeRule) -> Vec<AutoModerationAction> {
    let mut v = Vec::new();
    let action = |kind, metadata| AutoModerationAction { kind, metadata };
    if r.block {
        v.push(action(AutoModerationActionType::BlockMessage, None));
    }
    if let Some(c) = r.alert_channel {
        v.push(action(
            AutoModerationActionType::SendAlertMessage,
            Some(AutoModerationActionMetadata {
                channel_id: Some(Id::new(c)),
                custom_message: None,
                duration_seconds: None,
            }),
        ));
    }
    if let Some(secs) = r.timeout_secs {
        v.push(action(
            AutoModerationActionType::Timeout,
            Some(AutoModerationActionMetadata {
                channel_id: None,
                custom_message: None,
                duration_seconds: Some(secs),
            }),
        ));
    }
    v
}

fn metadata_of(r: &NativeRule) -> AutoModerationTriggerMetadata {
    let mut md = AutoModerationTriggerMetadata {
        allow_list: None,
        keyword_filter: None,
        mention_raid_protection_enabled: None,
        mention_total_limit: None,
        presets: None,
        regex_patterns: None,
    };
    match &r.trigger {
        Trigger::Keyword { keywords, patterns } => {
            md.keyword_filter = Some(keywords.clone());
            md.regex_patterns = Some(patterns.clone());
        }
        Trigger::MentionSpam { limit } => md.mention_total_limit = Some(*limit),
        Trigger::Other(_) => {}
    }
    md
}

async fn fetch(ctx: &CommandContext, guild: u64) -> Result<Vec<AutoModerationRule>, CommandError> {
    ctx.rest()
        .call("auto_moderation_rules", |c| {
            c.auto_moderation_rules(Id::new(guild)).into_future()
        })
        .await
        .map_err(refused)?
        .models()
        .await
        .map_err(|source| {
            CommandError::from(RestError::Body {
                route: "auto_moderation_rules",
                source,
            })
        })
}

async fn create(ctx: &CommandContext, guild: u64, r: &NativeRule) -> Result<(), RestError> {
    let roles: Vec<_> = r.exempt_roles.iter().map(|x| Id::new(*x)).collect();
    let channels: Vec<_> = r.exempt_channels.iter().map(|x| Id::new(*x)).collect();
    let (keywords, patterns): (Vec<&str>, Vec<&str>) = match &r.trigger {
        Trigger::Keyword { keywords, patterns } => (
            keywords.iter().map(String::as_str).collect(),
            patterns.iter().map(String::as_str).collect(),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    ctx.rest()
        .call("create_auto_moderation_rule", |c| {
            let mut req = c
                .create_auto_moderation_rule(
                    Id::new(guild),
                    &r.name,
                    AutoModerationEventType::MessageSend,
                )
                .enabled(r.enabled)
                .exempt_roles(&roles)
                .exempt_channels(&channels);
            if r.block {
                req = req.action_block_message();
            }
            if let Some(ch) = r.alert_channel {
                req = req.action_send_alert_message(Id::new(ch));
            }
            if let Some(secs) = r.timeout_secs {
                req = req.action_timeout(secs);
            }
            match &r.trigger {
                Trigger::MentionSpam { limit } => req.with_mention_spam(*limit),
                _ => req.with_keyword(&keywords, &patterns, &[]),
            }
        })
        .await
        .map(|_| ())
}

async fn update(
    ctx: &CommandContext,
    guild: u64,
    id: u64,
    r: &NativeRule,
) -> Result<(), RestError> {
    let roles: Vec<_> = r.exempt_roles.iter().map(|x| Id::new(*x)).collect();
    let channels: Vec<_> = r.exempt_channels.iter().map(|x| Id::new(*x)).collect();
    let actions = actions_of(r);
    let md = metadata_of(r);
    ctx.rest()
        .call("update_auto_moderation_rule", |c| {
            c.update_auto_moderation_rule(Id::new(guild), Id::new(id))
                .actions(&actions)
                .enabled(r.enabled)
                .exempt_roles(&roles)
                .exempt_channels(&channels)
                .trigger_metadata(&md)
                .into_future()
        })
        .await
        .map(|_| ())
}

/// The `list` reply.
#[must_use]
pub fn list_reply(rules: &[AutoModerationRule]) -> Reply {
    let mut e = EmbedBuilder::new()
        .title("Discord's native AutoMod")
        .colour(AUTOMOD_COLOUR);
    if rules.is_empty() {
        e = e.description(
            "This server has no native AutoMod rules. `/automod native action:sync` creates them from Kyuta's rules.",
        );
    } else {
        let mut text = String::new();
        for r in rules {
            let x = existing_of(r);
            let actions: Vec<&str> = r
                .actions
                .iter()
                .map(|a| match a.kind {
                    AutoModerationActionType::BlockMessage => "block",
                    AutoModerationActionType::SendAlertMessage => "alert",
                    AutoModerationActionType::Timeout => "timeout",
                    AutoModerationActionType::BlockMemberInteraction => "block interactions",
                    _ => "other",
                })
                .collect();
            let _ = writeln!(
                text,
                "**{}** — {}, {}; actions: {}; exempt: {} role(s), {} channel(s)",
                r.name,
                x.rule.trigger.type_name(),
                if r.enabled { "enabled" } else { "disabled" },
                if actions.is_empty() {
                    "none".into()
                } else {
                    actions.join(", ")
                },
                r.exempt_roles.len(),
                r.exempt_channels.len(),
            );
        }
        e = e.description(truncate(&text, 4000));
    }
    Reply::embed(e.footer(format!("{} rule(s)", rules.len())).build())
}

fn names(v: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = v.into_iter().collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The `sync` reply: what was (or, in a dry run, would be) done.
#[must_use]
pub fn sync_reply(p: &Plan, dry_run: bool, failed: &[String]) -> Reply {
    let (created, updated) = if dry_run {
        ("Would create", "Would update")
    } else {
        ("Created", "Updated")
    };
    let mut e = EmbedBuilder::new()
        .title(if dry_run {
            "Native AutoMod sync (dry run: nothing was changed)"
        } else {
            "Native AutoMod sync"
        })
        .colour(AUTOMOD_COLOUR)
        .field(
            created,
            truncate(&names(p.create.iter().map(|r| r.name.clone())), 1000),
            false,
        )
        .field(
            updated,
            truncate(&names(p.update.iter().map(|(_, r)| r.name.clone())), 1000),
            false,
        )
        .field(
            "Left alone",
            truncate(&names(p.unchanged.iter().cloned()), 1000),
            false,
        );
    if !p.stale.is_empty() {
        e = e.field(
            "No longer in Kyuta's rules (left alone)",
            truncate(&p.stale.join(", "), 1000),
            false,
        );
    }
    if !p.cannot.is_empty() {
        e = e.field(
            "Could not be expressed",
            truncate(&p.cannot.join("\n"), 1000),
            false,
        );
    }
    if !failed.is_empty() {
        e = e.field("Discord refused", truncate(&failed.join("\n"), 1000), false);
    }
    Reply::embed(e.build())
}

/// Runs `/automod native` for `guild` with its stored automod configuration `cfg`.
pub async fn run(
    ctx: &CommandContext,
    guild: u64,
    cfg: &AutomodConfig,
    args: &Args,
) -> Result<Reply, CommandError> {
    let rules = fetch(ctx, guild).await?;
    if args.string("action").unwrap_or("list") == "list" {
        return Ok(list_reply(&rules));
    }
    let existing: Vec<Existing> = rules.iter().map(existing_of).collect();
    let (want, notes) = desired(cfg);
    let p = plan(want, notes, &existing);
    let dry_run = args.boolean("dry_run").unwrap_or(false);
    let mut failed = Vec::new();
    if !dry_run {
        for r in &p.create {
            if let Err(e) = create(ctx, guild, r).await {
                if e.discord_code() == Some(50_013) {
                    return Err(CommandError::user(NEEDS_MANAGE_SERVER));
                }
                failed.push(format!(
                    "{}: {}",
                    r.name,
                    crate::moderation::discord::describe(&e)
                ));
            }
        }
        for (id, r) in &p.update {
            if let Err(e) = update(ctx, guild, *id, r).await {
                if e.discord_code() == Some(50_013) {
                    return Err(CommandError::user(NEEDS_MANAGE_SERVER));
                }
                failed.push(format!(
                    "{}: {}",
                    r.name,
                    crate::moderation::discord::describe(&e)
                ));
            }
        }
    }
    Ok(sync_reply(&p, dry_run, &failed))
}
