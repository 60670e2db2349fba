//! `/purge` (`k!purge`): deletes recent messages of the channel it is run in, by count and
//! filters, in bulk where Discord allows it and one by one where it does not, and records one
//! case.
//!
//! The flow: check the options ([`PurgeFilter::parse`]); read the channel for matches
//! ([`run::scan`]); plan the deletes ([`plan`]); record the case, keyed by the invocation, so
//! an invocation delivered twice purges once; delete ([`run::delete`]), reporting progress as
//! the reply; set the case's outcome and post it in the mod log.

use std::sync::Arc;

use twilight_model::guild::Permissions;

use crate::action::ActionKind;
use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, OptionDef, OptionKind,
    Registry, RegistryError, Reply, Source,
};
use crate::store::{Case, CaseOutcome, NewCase, Store, Timestamp};

use super::super::options::{MAX_REASON_CHARS, Reason};
use super::super::publish::post_modlog;
use super::super::request::Deps;
use super::{
    Evidence, MAX_CONTAINS_CHARS, MAX_COUNT, MAX_PATTERN_CHARS, PurgeFilter, PurgeOptions, plan,
    run, skip_old,
};

struct Purge(Arc<dyn Store>);

/// The reply of an invocation whose purge was already carried out (the same interaction or
/// message delivered again).
fn already(case: &Case) -> Reply {
    Reply::text(format!(
        "This purge was already carried out: case #{}.",
        case.number
    ))
    .ephemeral()
}

fn options<'a>(args: &'a Args) -> PurgeOptions<'a> {
    PurgeOptions {
        count: args.integer("count").unwrap_or(0),
        user: args.user("user").map(|u| u.get()),
        bots: args.boolean("bots").unwrap_or(false),
        contains: args.string("contains"),
        regex: args.string("regex"),
        attachments: args.boolean("attachments").unwrap_or(false),
        before: args.string("before"),
        after: args.string("after"),
    }
}

/// The answer once the deletes are done.
fn summary(deleted: &run::Deleted, evidence: &Evidence, case: u64) -> String {
    let n = deleted.done;
    let mut out = format!("Deleted **{n}** message{}", if n == 1 { "" } else { "s" });
    if deleted.old > 0 {
        out.push_str(&format!(
            " ({} older than 14 days, one by one)",
            deleted.old
        ));
    }
    out.push('.');
    if evidence.skipped_old > 0 {
        out.push_str(&format!(
            " Left {} older than 14 days (`skip_old`).",
            evidence.skipped_old
        ));
    }
    if let Some(why) = &deleted.stopped {
        out.push_str(&format!(
            " Stopped after {n} of {}: {why}.",
            evidence.planned
        ));
    }
    out.push_str(&format!(" Case #{case}."));
    out
}

#[async_trait::async_trait]
impl CommandHandler for Purge {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        let filter =
            PurgeFilter::parse(&options(args)).map_err(|e| CommandError::user(e.to_string()))?;
        let reason = Reason::parse_optional(args.string("reason"))
            .map_err(|e| CommandError::user(e.to_string()))?;
        let key = ctx.idempotency_key();
        if let Some(case) = self
            .0
            .case_by_key(guild, &key)
            .await
            .map_err(CommandError::from)?
        {
            return Ok(already(&case));
        }
        let channel = ctx.channel_id.get();
        // A prefix command's own message is not purged: the history read starts below it.
        let start_before = match ctx.source {
            Source::Message { id } => Some(filter.before.map_or(id.get(), |b| b.min(id.get()))),
            Source::Interaction { .. } => filter.before,
        };
        ctx.progress.report("Looking for messages to delete…");
        let rest = ctx.rest();
        let scan = run::scan(rest, channel, &filter, start_before, |n| {
            ctx.progress
                .report(format!("Looking for messages to delete… ({n} read)"));
        })
        .await
        .map_err(|e| CommandError::Discord(Box::new(e)))?;
        if scan.ids.is_empty() {
            return Ok(Reply::text(format!(
                "No messages match (read the {} most recent).",
                scan.scanned
            ))
            .ephemeral());
        }
        let mut planned = plan(&scan.ids, ctx.clock().unix_millis());
        let skipped_old = if args.boolean("skip_old").unwrap_or(false) {
            skip_old(&mut planned)
        } else {
            0
        };
        let evidence = Evidence {
            channel_id: channel,
            scanned: scan.scanned,
            planned: planned.total(),
            old: planned.old,
            skipped_old,
        };
        let mut new = NewCase::new(
            guild,
            key,
            ActionKind::Purge,
            filter.user.unwrap_or(0),
            ctx.invoker.user_id.get(),
        )
        .evidence(serde_json::to_value(&evidence).map_err(CommandError::internal)?);
        new.created_at = Timestamp::from_unix_millis(
            i64::try_from(ctx.clock().unix_millis()).unwrap_or(i64::MAX),
        );
        if let Some(r) = &reason {
            new = new.reason(r.as_str());
        }
        let (case, created) = self.0.insert_case(new).await.map_err(CommandError::from)?;
        if !created {
            return Ok(already(&case));
        }
        let total = planned.total();
        let deleted = run::delete(
            rest,
            channel,
            &planned,
            reason.as_ref().map(Reason::as_str),
            |done| ctx.progress.report(format!("Deleted {done} of {total}…")),
        )
        .await;
        let outcome = match &deleted.stopped {
            None => CaseOutcome::Applied,
            Some(why) => CaseOutcome::Failed {
                error: format!("deleted {} of {total}: {why}", deleted.done),
            },
        };
        let deps = Deps::from_services(&ctx.services, Arc::clone(&self.0));
        let case = match self.0.set_case_outcome(guild, case.number, outcome).await {
            Ok(updated) => updated,
            Err(e) => {
                tracing::warn!(guild, case = case.number, error = %e, "could not record the purge's outcome");
                case
            }
        };
        match self.0.guild_config(guild).await {
            Ok(config) => post_modlog(&deps, config.mod_log_channel, &case).await,
            Err(e) => {
                tracing::warn!(guild, case = case.number, error = %e, "settings unavailable; the purge is not posted in the mod log");
            }
        }
        Ok(Reply::text(summary(&deleted, &evidence, case.number)).ephemeral())
    }
}

/// Registers `/purge`.
///
/// # Errors
/// A registry error (a duplicate name).
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    let max_count = i64::try_from(MAX_COUNT).unwrap_or(1000);
    registry.register(
        CommandDef::new(
            "purge",
            "Delete recent messages in this channel, by count and filters",
            Purge(store),
        )
        .ephemeral()
        .option(
            OptionDef::new(
                "count",
                "How many matching messages to delete (up to 1000)",
                OptionKind::Integer,
            )
            .required()
            .range(1, max_count),
        )
        .option(OptionDef::new(
            "user",
            "Only messages of this user",
            OptionKind::User,
        ))
        .option(
            OptionDef::new(
                "bots",
                "Only messages of bots and webhooks",
                OptionKind::Boolean,
            )
            .named_only(),
        )
        .option(
            OptionDef::new(
                "contains",
                "Only messages containing this text (any case)",
                OptionKind::String,
            )
            .max_length(MAX_CONTAINS_CHARS as u16)
            .named_only(),
        )
        .option(
            OptionDef::new(
                "regex",
                "Only messages matching this regular expression",
                OptionKind::String,
            )
            .max_length(MAX_PATTERN_CHARS as u16)
            .named_only(),
        )
        .option(
            OptionDef::new(
                "attachments",
                "Only messages with attachments",
                OptionKind::Boolean,
            )
            .named_only(),
        )
        .option(
            OptionDef::new(
                "before",
                "Only messages older than this message (its id)",
                OptionKind::String,
            )
            .max_length(20)
            .named_only(),
        )
        .option(
            OptionDef::new(
                "after",
                "Only messages newer than this message (its id)",
                OptionKind::String,
            )
            .max_length(20)
            .named_only(),
        )
        .option(
            OptionDef::new(
                "skip_old",
                "Leave messages older than 14 days instead of deleting them one by one",
                OptionKind::Boolean,
            )
            .named_only(),
        )
        .option(
            OptionDef::new("reason", "Why (shown in the audit log)", OptionKind::String)
                .max_length(MAX_REASON_CHARS as u16),
        )
        .permissions(Permissions::MANAGE_MESSAGES)
        .category("Moderation"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_what_was_done() {
        let e = Evidence {
            channel_id: 1,
            scanned: 300,
            planned: 250,
            old: 30,
            skipped_old: 0,
        };
        let d = run::Deleted {
            done: 250,
            old: 30,
            stopped: None,
        };
        assert_eq!(
            summary(&d, &e, 4),
            "Deleted **250** messages (30 older than 14 days, one by one). Case #4."
        );
        let d = run::Deleted {
            done: 1,
            old: 0,
            stopped: Some("I need the Manage Messages permission".into()),
        };
        let e = Evidence {
            skipped_old: 2,
            ..e
        };
        assert_eq!(
            summary(&d, &e, 5),
            "Deleted **1** message. Left 2 older than 14 days (`skip_old`). Stopped after 1 of 250: I need the Manage Messages permission. Case #5."
        );
    }
}
