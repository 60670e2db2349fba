//! The moderation entries of Discord's context menus (right-click → Apps):
//!
//! - on a user: **Warn**, **Timeout 1h**, **Ban**, **Note**, **Cases**;
//! - on a message: **Delete & warn**, **Report to moderators**.
//!
//! Each user entry runs the slash command of the same job on the user
//! ([`Delegate`]), with that command's permissions: Warn and Note ask for the reason or the
//! note in a form first, Ban asks for an optional reason, Timeout 1h and Cases run at once.
//! Delete & warn asks for the reason, deletes the message and warns its author (the warn's
//! reason quotes the message). Report to moderators is for every member: it asks what is
//! wrong and posts the report, with the message's text and a link, in the mod-log channel.

use std::{sync::Arc, time::Duration};

use twilight_http::request::AuditLogReason as _;
use twilight_model::{guild::Permissions, id::Id};

use crate::action::ActionKind;
use crate::commands::{
    ArgValue, Args, CommandContext, CommandDef, CommandError, CommandHandler, CommandKind,
    EmbedBuilder, Registry, RegistryError, Reply,
    dispatch::check_permissions,
    menu::{Delegate, MenuTarget, Modal, SUBMITTED, TEXT},
};
use crate::store::Store;

use super::discord::describe;
use super::modlog::truncate;
use super::publish::post_to_modlog;
use super::request::Deps;

/// Discord's code for "Unknown Message": already deleted.
const UNKNOWN_MESSAGE: u64 = 10008;
/// How often one member may report a message.
pub const REPORT_COOLDOWN: Duration = Duration::from_secs(30);
/// Most characters of the reported message shown in the report and quoted in a warn.
const QUOTE_CHARS: usize = 300;

/// Registers the entries. Runs after the slash commands they run are registered, whose
/// permissions they take.
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    let like = |registry: &Registry, def: CommandDef, command: &str| {
        let target = registry.get(command);
        CommandDef {
            default_member_permissions: target.and_then(|t| t.default_member_permissions),
            run_with_any: target.and_then(|t| t.run_with_any),
            ephemeral: true,
            ..def
        }
    };
    let user = |name: &str, delegate: Delegate| CommandDef::menu(CommandKind::User, name, delegate);
    let entries = [
        (
            user(
                "Warn",
                Delegate::new("warn").asking("reason", "Warn", "Reason (the member is told)"),
            ),
            "warn",
        ),
        (
            user(
                "Timeout 1h",
                Delegate::new("timeout").with("duration", ArgValue::String("1h".into())),
            ),
            "timeout",
        ),
        (
            user(
                "Ban",
                Delegate::new("ban").asking("reason", "Ban", "Reason (optional)"),
            ),
            "ban",
        ),
        (
            user(
                "Note",
                Delegate::new("note").asking("text", "Note", "The note (only moderators see it)"),
            ),
            "note",
        ),
        (user("Cases", Delegate::new("cases")), "cases"),
    ];
    for (def, command) in entries {
        let def = like(registry, def, command);
        registry.register(def)?;
    }
    let warn = registry
        .get("warn")
        .and_then(|w| w.default_member_permissions)
        .unwrap_or(ActionKind::Warn.permission());
    registry.register(CommandDef {
        default_member_permissions: Some(warn | Permissions::MANAGE_MESSAGES),
        ephemeral: true,
        ..CommandDef::menu(CommandKind::Message, "Delete & warn", DeleteAndWarn)
    })?;
    registry.register(CommandDef {
        ephemeral: true,
        ..CommandDef::menu(CommandKind::Message, "Report to moderators", Report(store))
    })?;
    Ok(())
}

fn message_target(args: &Args) -> Result<(u64, u64, Option<String>), CommandError> {
    match MenuTarget::from_args(args) {
        Some(MenuTarget::Message {
            id,
            author,
            content,
        }) => Ok((id.get(), author.get(), content)),
        _ => Err(CommandError::Internal(
            "a message entry without its message".into(),
        )),
    }
}

/// The message's text, read again (the form's submission does not carry it). `None` when it
/// cannot be read (gone, or no access).
async fn message_text(ctx: &CommandContext, message: u64) -> Option<String> {
    let channel = ctx.channel_id;
    let res = ctx
        .rest()
        .call("get_message", |c| {
            c.message(channel, Id::new(message)).into_future()
        })
        .await
        .ok()?;
    res.model().await.ok().map(|m| m.content)
}

fn quote(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("“{}”", truncate(&one_line, QUOTE_CHARS))
}

/// The form to show first, unless this run is its submission.
fn form(ctx: &CommandContext, args: &Args, title: &str, label: &str) -> Option<Modal> {
    if args.boolean(SUBMITTED) == Some(true) {
        return None;
    }
    let target = MenuTarget::from_args(args)?;
    Some(Modal::new(&ctx.command, &target, title, label))
}

/// Deletes a message and warns its author.
struct DeleteAndWarn;

#[async_trait::async_trait]
impl CommandHandler for DeleteAndWarn {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        ctx.require_guild()?;
        check_permissions(
            ActionKind::Warn.permission() | Permissions::MANAGE_MESSAGES,
            ctx.invoker.permissions,
        )?;
        if let Some(form) = form(ctx, args, "Delete & warn", "Reason (the member is told)") {
            return Ok(Reply::modal(form.required(true).max_length(400)));
        }
        let (message, author, _) = message_target(args)?;
        let reason = args
            .string(TEXT)
            .ok_or_else(|| CommandError::user("a warn needs a reason"))?;
        let warn = ctx
            .registry()
            .get("warn")
            .ok_or_else(|| CommandError::Internal("/warn is not registered".into()))?;
        let quoted = message_text(ctx, message).await.filter(|t| !t.is_empty());
        let channel = ctx.channel_id;
        let audit = format!("deleted with a warn by {}", ctx.invoker.user_id);
        let deleted = ctx
            .rest()
            .call("delete_message", |c| {
                c.delete_message(channel, Id::new(message))
                    .reason(&audit)
                    .into_future()
            })
            .await;
        match deleted {
            Ok(_) => {}
            Err(e) if e.discord_code() == Some(UNKNOWN_MESSAGE) => {}
            Err(e) => {
                return Err(CommandError::user(format!(
                    "the message was not deleted, and no one was warned: {}",
                    describe(&e)
                )));
            }
        }
        let reason = match &quoted {
            Some(q) => format!("{reason} (message: {})", quote(q)),
            None => reason.to_owned(),
        };
        let warn_args = Args::new()
            .with("user", ArgValue::User(Id::new(author)))
            .with(
                "reason",
                ArgValue::String(truncate(
                    &reason,
                    warn.options
                        .iter()
                        .find(|o| o.name == "reason")
                        .and_then(|o| o.max_length)
                        .map_or(usize::MAX, usize::from),
                )),
            );
        let reply = warn.handler.run(ctx, &warn_args).await?;
        Ok(Reply {
            content: Some(format!(
                "Deleted the message.{}",
                reply.content.map(|c| format!(" {c}")).unwrap_or_default()
            )),
            ..reply
        })
    }
}

/// A member reports a message to the moderators, in the mod-log channel.
struct Report(Arc<dyn Store>);

#[async_trait::async_trait]
impl CommandHandler for Report {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        if let Some(form) = form(
            ctx,
            args,
            "Report to moderators",
            "What is wrong with this message?",
        ) {
            return Ok(Reply::modal(form.max_length(500)));
        }
        let (message, author, _) = message_target(args)?;
        // Counted on the submission (a cooldown on the entry would refuse its own form).
        let reporter = ctx.invoker.user_id.get();
        match ctx
            .services
            .cooldowns
            .try_start("report", reporter, REPORT_COOLDOWN)
            .await
        {
            Ok(Some(remaining)) => return Err(CommandError::Cooldown { remaining }),
            Ok(None) => {}
            // The shared store cannot answer: a report matters more than its rate.
            Err(e) => tracing::warn!(error = %e, "report cooldown unavailable"),
        }
        let config = self
            .0
            .guild_config(guild)
            .await
            .map_err(CommandError::from)?;
        let Some(modlog) = config.mod_log_channel else {
            return Err(CommandError::user(
                "this server has no mod-log channel, so reports have nowhere to go: tell a moderator (they set one with /modlog)",
            ));
        };
        let text = message_text(ctx, message).await;
        let link = format!(
            "https://discord.com/channels/{guild}/{}/{message}",
            ctx.channel_id
        );
        let mut embed = EmbedBuilder::new()
            .title("Message reported")
            .colour(0x00FE_E75C)
            .field("Author", format!("<@{author}> ({author})"), true)
            .field(
                "Reported by",
                format!("<@{}> ({})", ctx.invoker.user_id, ctx.invoker.user_id),
                true,
            )
            .field("Channel", format!("<#{}>", ctx.channel_id), true)
            .field(
                "Message",
                match &text {
                    Some(t) if !t.is_empty() => truncate(t, 1000),
                    Some(_) => "(no text)".to_owned(),
                    None => "(deleted, or not readable by Kyuta)".to_owned(),
                },
                false,
            )
            .field("Link", link, false);
        if let Some(why) = args.string(TEXT) {
            embed = embed.field("Why", truncate(why, 1000), false);
        }
        let deps = Deps::from_services(&ctx.services, Arc::clone(&self.0));
        let once = format!("report:{}", ctx.idempotency_key());
        post_to_modlog(&deps, guild, modlog, &embed.build(), &once).await;
        Ok(Reply::text("Reported to the moderators. Thank you.").ephemeral())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_one_short_line() {
        assert_eq!(quote("free\n\nnitro   here"), "“free nitro here”");
        assert!(quote(&"x".repeat(1000)).chars().count() <= QUOTE_CHARS + 2);
    }

    #[tokio::test]
    async fn entries_fit_discord_and_take_their_commands_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            crate::store::EmbeddedStore::open(dir.path().join("s.redb"))
                .await
                .unwrap(),
        );
        let mut registry = Registry::new();
        super::super::register(&mut registry, Arc::clone(&store)).unwrap();
        let warn = registry.get_menu(CommandKind::User, "Warn").unwrap();
        assert_eq!(
            warn.default_member_permissions,
            registry.get("warn").unwrap().default_member_permissions
        );
        let cases = registry.get_menu(CommandKind::User, "Cases").unwrap();
        assert_eq!(
            cases.run_with_any,
            registry.get("cases").unwrap().run_with_any
        );
        let report = registry
            .get_menu(CommandKind::Message, "Report to moderators")
            .unwrap();
        assert_eq!(report.default_member_permissions, None);
        let dw = registry
            .get_menu(CommandKind::Message, "Delete & warn")
            .unwrap();
        assert_eq!(
            dw.default_member_permissions,
            Some(Permissions::MODERATE_MEMBERS | Permissions::MANAGE_MESSAGES)
        );
        let json = serde_json::to_value(dw.to_discord(None)).unwrap();
        assert_eq!(
            json["default_member_permissions"], "1099511635968",
            "{json}"
        );
        assert_eq!(registry.menus().count(), 7);
        for d in registry.discord_commands(None) {
            if d.kind != twilight_model::application::command::CommandType::ChatInput {
                assert!(
                    d.description.is_empty() && d.options.is_empty(),
                    "{}",
                    d.name
                );
            }
        }
    }
}
