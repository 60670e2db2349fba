//! `/lockdown`, `/unlock` and `/slowmode` (and their `k!` forms).
//!
//! `/lockdown` records the channel's `@everyone` overwrite in the guild's settings before it
//! changes anything on Discord, then denies [`LOCKED`](super::LOCKED) (what of it the bot
//! holds, [`deniable`](super::deniable)); when Discord refuses,
//! the record is dropped again. `/unlock` puts the recorded overwrite back exactly (or
//! removes it when there was none) and drops the record. With `server:true` both act on every
//! text and announcement channel. Each is posted in the mod log.

use std::sync::Arc;

use twilight_http::request::AuditLogReason as _;
use twilight_model::{
    channel::{Channel, ChannelType, permission_overwrite::PermissionOverwriteType},
    guild::Permissions,
    http::permission_overwrite::{
        PermissionOverwrite as HttpOverwrite, PermissionOverwriteType as HttpOverwriteType,
    },
    id::Id,
};

use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, EmbedBuilder, OptionDef,
    OptionKind, Registry, RegistryError, Reply,
};
use crate::rest::{Rest, RestError};
use crate::store::{Lockdown, OverwriteBits, Store, Timestamp};

use super::super::commands::store_error;
use super::super::facts;
use super::super::options::{MAX_REASON_CHARS, Reason};
use super::super::publish::post_to_modlog;
use super::super::request::Deps;
use super::{already_locked, deniable, describe_slowmode, locked, parse_slowmode};

/// Colour of lockdown posts in the mod log.
const LOCK_COLOUR: u32 = 0xE6_7E_22;

#[derive(Clone)]
struct Shared {
    store: Arc<dyn Store>,
}

/// Why Discord refused, in words for the moderator.
fn describe(e: &RestError) -> String {
    match e.discord_code() {
        Some(50_013) => "I need the Manage Roles permission there".to_owned(),
        Some(50_001) => "I cannot see that channel".to_owned(),
        _ => e.to_string(),
    }
}

/// The channel and its `@everyone` overwrite.
async fn read(rest: &Rest, channel: u64, guild: u64) -> Result<Option<OverwriteBits>, RestError> {
    let c: Channel = rest
        .model("get_channel", |c| c.channel(Id::new(channel)).into_future())
        .await?;
    Ok(c.permission_overwrites
        .unwrap_or_default()
        .iter()
        .find(|o| o.id.get() == guild && o.kind == PermissionOverwriteType::Role)
        .map(|o| OverwriteBits {
            allow: o.allow.bits(),
            deny: o.deny.bits(),
        }))
}

/// Sets (`Some`) or removes (`None`) the `@everyone` overwrite of `channel`.
async fn write(
    rest: &Rest,
    channel: u64,
    guild: u64,
    bits: Option<OverwriteBits>,
    reason: &str,
) -> Result<(), RestError> {
    let channel_id = Id::new(channel);
    match bits {
        Some(b) => {
            let overwrite = HttpOverwrite {
                allow: Some(Permissions::from_bits_truncate(b.allow)),
                deny: Some(Permissions::from_bits_truncate(b.deny)),
                id: Id::new(guild),
                kind: HttpOverwriteType::Role,
            };
            rest.call("update_channel_permission", |c| {
                c.update_channel_permission(channel_id, &overwrite)
                    .reason(reason)
                    .into_future()
            })
            .await
            .map(drop)
        }
        None => rest
            .call("delete_channel_permission", |c| {
                c.delete_channel_permission(channel_id)
                    .role(Id::new(guild))
                    .reason(reason)
                    .into_future()
            })
            .await
            .map(drop),
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
    let all: Vec<Channel> = ctx
        .rest()
        .call("guild_channels", |c| {
            c.guild_channels(Id::new(guild)).into_future()
        })
        .await
        .map_err(CommandError::from)?
        .models()
        .await
        .map_err(|source| {
            CommandError::from(RestError::Body {
                route: "guild_channels",
                source,
            })
        })?;
    Ok(all
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                ChannelType::GuildText | ChannelType::GuildAnnouncement
            )
        })
        .map(|c| c.id.get())
        .collect())
}

/// The dispatcher's check of these commands, again for callers that run a handler directly.
fn require_manage_channels(ctx: &CommandContext) -> Result<(), CommandError> {
    crate::commands::dispatch::check_permissions(
        Permissions::MANAGE_CHANNELS,
        ctx.invoker.permissions,
    )
}

/// The bot's server-wide permissions.
async fn bot_permissions(ctx: &CommandContext, guild: u64) -> Result<Permissions, CommandError> {
    let cache = Some(&*ctx.services.guild_cache);
    let rest = ctx.rest();
    let bot = ctx.services.bot_user_id.get();
    let facts = facts::guild(cache, rest, guild)
        .await
        .map_err(CommandError::from)?;
    let roles = facts::member_roles(cache, rest, guild, bot)
        .await
        .map_err(CommandError::from)?
        .unwrap_or_default();
    Ok(facts.permissions(bot, &roles))
}

fn audit_reason(reason: Option<&Reason>, what: &str, moderator: u64) -> String {
    super::super::engine::audit_reason_with(
        reason.map(Reason::as_str),
        &format!("{what}, by {moderator}"),
    )
}

fn mentions(channels: &[u64]) -> String {
    let shown: Vec<String> = channels
        .iter()
        .take(30)
        .map(|c| format!("<#{c}>"))
        .collect();
    let more = channels.len().saturating_sub(30);
    let mut out = shown.join(", ");
    if more > 0 {
        out.push_str(&format!(" and {more} more"));
    }
    out
}

impl Shared {
    async fn post(&self, ctx: &CommandContext, guild: u64, title: &str, text: String) {
        let channel = match self.store.guild_config(guild).await {
            Ok(c) => c.mod_log_channel,
            Err(e) => {
                tracing::warn!(guild, error = %e, "settings unavailable; not posted in the mod log");
                None
            }
        };
        let Some(channel) = channel else { return };
        let embed = EmbedBuilder::new()
            .title(title)
            .description(super::super::modlog::truncate(&text, 4096))
            .colour(LOCK_COLOUR)
            .build();
        let deps = Deps::from_services(&ctx.services, Arc::clone(&self.store));
        let once = format!("{title}:{guild}:{}", ctx.idempotency_key());
        post_to_modlog(&deps, guild, channel, &embed, &once).await;
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
        let configs = &ctx.services.guild_configs;
        let deny = deniable(bot_permissions(ctx, guild).await?);
        let (mut done, mut skipped, mut failed) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &channel) in targets.iter().enumerate() {
            if targets.len() > 1 {
                ctx.progress
                    .report(format!("Locking… {} of {}", i + 1, targets.len()));
            }
            let current = match read(ctx.rest(), channel, guild).await {
                Ok(c) => c,
                Err(e) => {
                    failed.push((channel, describe(&e)));
                    continue;
                }
            };
            let at = Timestamp::from_unix_millis(
                i64::try_from(ctx.clock().unix_millis()).unwrap_or(i64::MAX),
            );
            // Recorded before Discord changes, so /unlock can always put it back.
            let recorded = configs
                .update(&*self.0.store, guild, |c| {
                    if c.lockdowns.iter().any(|l| l.channel_id == channel)
                        || already_locked(current)
                    {
                        return Err(());
                    }
                    c.lockdowns.push(Lockdown {
                        channel_id: channel,
                        previous: current,
                        by: moderator,
                        at,
                    });
                    Ok(())
                })
                .await
                .map_err(store_error)?;
            if recorded.is_err() {
                skipped.push(channel);
                continue;
            }
            if let Err(e) = write(
                ctx.rest(),
                channel,
                guild,
                Some(locked(current, deny)),
                &audit,
            )
            .await
            {
                failed.push((channel, describe(&e)));
                configs
                    .update(&*self.0.store, guild, |c| {
                        c.lockdowns.retain(|l| l.channel_id != channel);
                        Ok::<_, ()>(())
                    })
                    .await
                    .map_err(store_error)?
                    .ok();
                continue;
            }
            done.push(channel);
        }
        let mut out = String::new();
        if !done.is_empty() {
            out.push_str(&format!(
                "Locked {}: members cannot send messages until `/unlock`.",
                mentions(&done)
            ));
            let why = reason.as_ref().map_or("", Reason::as_str);
            self.0
                .post(
                    ctx,
                    guild,
                    "Lockdown",
                    format!("{} by <@{moderator}>. {why}", mentions(&done)),
                )
                .await;
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
        let configs = &ctx.services.guild_configs;
        let config = self
            .0
            .store
            .guild_config(guild)
            .await
            .map_err(store_error)?;
        let targets: Vec<u64> = if args.boolean("server").unwrap_or(false) {
            config.lockdowns.iter().map(|l| l.channel_id).collect()
        } else {
            vec![args.channel("channel").unwrap_or(ctx.channel_id).get()]
        };
        let (mut done, mut not_locked, mut failed) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &channel) in targets.iter().enumerate() {
            if targets.len() > 1 {
                ctx.progress
                    .report(format!("Unlocking… {} of {}", i + 1, targets.len()));
            }
            let Some(record) = config.lockdowns.iter().find(|l| l.channel_id == channel) else {
                not_locked.push(channel);
                continue;
            };
            if let Err(e) = write(ctx.rest(), channel, guild, record.previous, &audit).await {
                failed.push((channel, describe(&e)));
                continue;
            }
            configs
                .update(&*self.0.store, guild, |c| {
                    c.lockdowns.retain(|l| l.channel_id != channel);
                    Ok::<_, ()>(())
                })
                .await
                .map_err(store_error)?
                .ok();
            done.push(channel);
        }
        let mut out = String::new();
        if !done.is_empty() {
            out.push_str(&format!(
                "Unlocked {}: the permissions are as they were before the lockdown.",
                mentions(&done)
            ));
            let why = reason.as_ref().map_or("", Reason::as_str);
            self.0
                .post(
                    ctx,
                    guild,
                    "Unlock",
                    format!("{} by <@{moderator}>. {why}", mentions(&done)),
                )
                .await;
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
            if targets.is_empty() {
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
