//! `/lockdown`, `/unlock` and `/slowmode` (and their `k!` forms).
//!
//! `/lockdown` and `/unlock` carry out [`super::apply::lock`] and [`super::apply::unlock`]
//! on one channel (the `channel` option, else the one the command runs in) or, with
//! `server:true`, on every text and announcement channel (for `/unlock`, every channel
//! Kyuta locked). Each is posted in the mod log.

use std::sync::Arc;

use twilight_http::request::AuditLogReason as _;
use twilight_model::guild::Permissions;

use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, OptionDef, OptionKind,
    Registry, RegistryError, Reply,
};
use crate::store::Store;

use super::super::options::{MAX_REASON_CHARS, Reason};
use super::super::request::Deps;
use super::apply::{self, LockError, mentions};
use super::{describe_slowmode, parse_slowmode};

#[derive(Clone)]
struct Shared {
    store: Arc<dyn Store>,
}

impl Shared {
    fn deps(&self, ctx: &CommandContext) -> Deps {
        Deps::from_services(&ctx.services, Arc::clone(&self.store))
    }
}

/// The channels a command acts on: every text and announcement channel with `server`, else
/// the `channel` option or the one it was run in.
async fn channels(ctx: &CommandContext, args: &Args, guild: u64) -> Result<Vec<u64>, CommandError> {
    if !args.boolean("server").unwrap_or(false) {
        return Ok(vec![
            args.channel("channel").unwrap_or(ctx.channel_id).get(),
        ]);
    }
    apply::server_channels(ctx.rest(), guild)
        .await
        .map_err(CommandError::from)
}

/// The dispatcher's check of these commands, again for callers that run a handler directly.
fn require_manage_channels(ctx: &CommandContext) -> Result<(), CommandError> {
    crate::commands::dispatch::check_permissions(
        Permissions::MANAGE_CHANNELS,
        ctx.invoker.permissions,
    )
}

fn audit_reason(reason: Option<&Reason>, what: &str, moderator: u64) -> String {
    super::super::engine::audit_reason_with(
        reason.map(Reason::as_str),
        &format!("{what}, by {moderator}"),
    )
}

/// Reports "`verb`… i of n" as the command's progress when it acts on several channels.
fn progress<'a>(
    ctx: &'a CommandContext,
    verb: &'a str,
) -> impl Fn(usize, usize) + Send + Sync + 'a {
    move |i, n| {
        if n > 1 {
            ctx.progress.report(format!("{verb}… {i} of {n}"));
        }
    }
}

/// `/lockdown`.
struct LockdownCommand(Shared);

#[async_trait::async_trait]
impl CommandHandler for LockdownCommand {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        require_manage_channels(ctx)?;
        let reason = Reason::parse_optional(args.string("reason"))
            .map_err(|e| CommandError::user(e.to_string()))?;
        let moderator = ctx.invoker.user_id.get();
        let audit = audit_reason(reason.as_ref(), "lockdown", moderator);
        let targets = channels(ctx, args, guild).await?;
        let deps = self.0.deps(ctx);
        let apply::Outcome {
            done,
            skipped,
            failed,
        } = apply::lock(
            &deps,
            &ctx.services.guild_configs,
            guild,
            &targets,
            moderator,
            &audit,
            &progress(ctx, "Locking"),
        )
        .await
        .map_err(|e| match e {
            LockError::Rest(e) => CommandError::from(e),
            LockError::Store(e) => CommandError::from(e),
        })?;
        let mut out = String::new();
        if !done.is_empty() {
            out.push_str(&format!(
                "Locked {}: members cannot send messages until `/unlock`.",
                mentions(&done)
            ));
            let why = reason.as_ref().map_or("", Reason::as_str);
            let text = format!("{} by <@{moderator}>. {why}", mentions(&done));
            apply::post(&deps, guild, "Lockdown", &text, &ctx.idempotency_key()).await;
        }
        if !skipped.is_empty() {
            out.push_str(&format!("\nAlready locked: {}.", mentions(&skipped)));
        }
        for (c, why) in &failed {
            out.push_str(&format!("\nCould not lock <#{c}>: {why}."));
        }
        if done.is_empty() && skipped.is_empty() {
            return Err(CommandError::user(out.trim().to_owned()));
        }
        Ok(Reply::text(out.trim().to_owned()))
    }
}

/// `/unlock`.
struct UnlockCommand(Shared);

#[async_trait::async_trait]
impl CommandHandler for UnlockCommand {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        require_manage_channels(ctx)?;
        let reason = Reason::parse_optional(args.string("reason"))
            .map_err(|e| CommandError::user(e.to_string()))?;
        let moderator = ctx.invoker.user_id.get();
        let audit = audit_reason(reason.as_ref(), "unlock", moderator);
        let server = args.boolean("server").unwrap_or(false);
        let one = [args.channel("channel").unwrap_or(ctx.channel_id).get()];
        let deps = self.0.deps(ctx);
        let apply::Outcome {
            done,
            skipped: not_locked,
            failed,
        } = apply::unlock(
            &deps,
            &ctx.services.guild_configs,
            guild,
            (!server).then_some(&one[..]),
            &audit,
            &progress(ctx, "Unlocking"),
        )
        .await
        .map_err(CommandError::from)?;
        let mut out = String::new();
        if !done.is_empty() {
            out.push_str(&format!(
                "Unlocked {}: the permissions are as they were before the lockdown.",
                mentions(&done)
            ));
            let why = reason.as_ref().map_or("", Reason::as_str);
            let text = format!("{} by <@{moderator}>. {why}", mentions(&done));
            apply::post(&deps, guild, "Unlock", &text, &ctx.idempotency_key()).await;
        }
        if !not_locked.is_empty() {
            out.push_str(&format!(
                "\nNot locked by `/lockdown`: {}.",
                mentions(&not_locked)
            ));
        }
        for (c, why) in &failed {
            out.push_str(&format!("\nCould not unlock <#{c}>: {why}."));
        }
        if done.is_empty() {
            if not_locked.is_empty() && failed.is_empty() {
                return Err(CommandError::user("no channel is locked"));
            }
            return Err(CommandError::user(out.trim().to_owned()));
        }
        Ok(Reply::text(out.trim().to_owned()))
    }
}

/// `/slowmode`.
struct SlowmodeCommand;

#[async_trait::async_trait]
impl CommandHandler for SlowmodeCommand {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        ctx.require_guild()?;
        require_manage_channels(ctx)?;
        let secs = parse_slowmode(args.string("duration").unwrap_or_default())
            .map_err(|e| CommandError::user(format!("`duration`: {e}")))?;
        let channel = args.channel("channel").unwrap_or(ctx.channel_id);
        let reason = audit_reason(None, "slowmode", ctx.invoker.user_id.get());
        ctx.rest()
            .call("update_channel", |c| {
                c.update_channel(channel)
                    .rate_limit_per_user(secs)
                    .reason(&reason)
                    .into_future()
            })
            .await
            .map_err(|e| match e.discord_code() {
                Some(50_013) => CommandError::user("I need the Manage Channels permission there"),
                _ => CommandError::from(e),
            })?;
        Ok(Reply::text(if secs == 0 {
            format!("Slowmode is off in <#{channel}>.")
        } else {
            format!(
                "Slowmode in <#{channel}>: one message per member every {}.",
                describe_slowmode(secs)
            )
        }))
    }
}

/// Registers `/lockdown`, `/unlock` and `/slowmode`.
///
/// # Errors
/// A registry error (a duplicate name).
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    let st = Shared { store };
    let channel = |d: &str| OptionDef::new("channel", d, OptionKind::Channel);
    let server = |d: &str| OptionDef::new("server", d, OptionKind::Boolean).named_only();
    let reason = || {
        OptionDef::new("reason", "Why (shown in the audit log)", OptionKind::String)
            .max_length(MAX_REASON_CHARS as u16)
    };
    registry.register(
        CommandDef::new(
            "lockdown",
            "Stop members from sending messages in a channel, or in the whole server",
            LockdownCommand(st.clone()),
        )
        .option(channel("The channel (default: this one)"))
        .option(server("Every text channel of the server"))
        .option(reason())
        .permissions(Permissions::MANAGE_CHANNELS)
        .category("Moderation"),
    )?;
    registry.register(
        CommandDef::new(
            "unlock",
            "Lift a lockdown: the permissions go back to what they were",
            UnlockCommand(st),
        )
        .option(channel("The channel (default: this one)"))
        .option(server("Every channel locked by /lockdown"))
        .option(reason())
        .permissions(Permissions::MANAGE_CHANNELS)
        .category("Moderation"),
    )?;
    registry.register(
        CommandDef::new(
            "slowmode",
            "Set how often each member may send a message in a channel",
            SlowmodeCommand,
        )
        .option(
            OptionDef::new(
                "duration",
                "e.g. 10s, 1m, 2h (up to 6h); off to turn it off",
                OptionKind::String,
            )
            .required(),
        )
        .option(channel("The channel (default: this one)"))
        .permissions(Permissions::MANAGE_CHANNELS)
        .category("Moderation"),
    )?;
    Ok(())
}
