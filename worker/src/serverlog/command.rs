//! `/serverlog` (and `k!serverlog`): where the server log goes and what it shows.

use std::sync::Arc;

use twilight_model::channel::{Channel, ChannelType};
use twilight_model::guild::Permissions;
use twilight_model::id::Id;

use crate::commands::scope::GuildScope as _;
use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, IdKind, OptionDef, OptionKind,
    Registry, RegistryError, Reply, SubcommandDef,
};
use crate::store::{ServerLogKind, ServerLogSettings, Store};

/// Adds `/serverlog`; the handler keeps `store` (guild settings).
///
/// # Errors
/// A definition the registry refuses.
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    let kind = |d: &str| {
        ServerLogKind::ALL.iter().fold(
            OptionDef::new("kind", d, OptionKind::String).required(),
            |o, k| o.choice(k.name(), k.name()),
        )
    };
    registry.register(
        CommandDef::new(
            "serverlog",
            "Log message edits and deletes, joins, leaves and server changes in a channel",
            ServerLogCommand { store },
        )
        .ephemeral()
        .subcommand(
            SubcommandDef::new("channel", "Set the server-log channel (every kind is on)").option(
                OptionDef::new(
                    "channel",
                    "A text channel of this server",
                    OptionKind::Channel,
                )
                .required(),
            ),
        )
        .subcommand(SubcommandDef::new("clear", "Stop the server log"))
        .subcommand(SubcommandDef::new("enable", "Log one kind again").option(kind("What to log")))
        .subcommand(
            SubcommandDef::new("disable", "Stop logging one kind").option(kind("What not to log")),
        )
        .subcommand(SubcommandDef::new("show", "Show the server-log settings"))
        .permissions(Permissions::MANAGE_GUILD)
        .category("Moderation"),
    )?;
    Ok(())
}

struct ServerLogCommand {
    store: Arc<dyn Store>,
}

/// What `/serverlog show` answers.
#[must_use]
pub fn describe(s: &ServerLogSettings) -> String {
    let Some(channel) = s.channel_id else {
        return "The server log is off: no channel is set (`/serverlog channel`).".to_owned();
    };
    let kinds: Vec<String> = ServerLogKind::ALL
        .iter()
        .map(|k| {
            let on = !s.disabled.contains(k);
            format!("{} {}", if on { "✅" } else { "❌" }, k.name())
        })
        .collect();
    format!("Server log in <#{channel}>:\n{}", kinds.join("\n"))
}

/// Refuses unless `channel` is a text or announcement channel of `guild`.
async fn check_text_channel(
    ctx: &CommandContext,
    guild: u64,
    channel: u64,
) -> Result<(), CommandError> {
    ctx.services.check_channel(guild, channel).await?;
    let c: Channel = ctx
        .rest()
        .model("get_channel", |c| c.channel(Id::new(channel)).into_future())
        .await
        .map_err(CommandError::from)?;
    if c.guild_id.map(Id::get) != Some(guild) {
        return Err(CommandError::NotInGuild {
            kind: IdKind::Channel,
            id: channel,
        });
    }
    if !matches!(
        c.kind,
        ChannelType::GuildText | ChannelType::GuildAnnouncement
    ) {
        return Err(CommandError::user(format!(
            "<#{channel}> is not a text channel; the server log needs one"
        )));
    }
    Ok(())
}

fn kind(args: &Args) -> Result<ServerLogKind, CommandError> {
    args.string("kind")
        .ok_or_else(|| CommandError::user("`kind` is missing"))?
        .parse()
        .map_err(CommandError::user)
}

#[async_trait::async_trait]
impl CommandHandler for ServerLogCommand {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        // The dispatcher's check, again for callers that run the handler directly.
        crate::commands::dispatch::check_permissions(
            Permissions::MANAGE_GUILD,
            ctx.invoker.permissions,
        )?;
        let configs = &ctx.services.guild_configs;
        let store = &*self.store;
        let text = match args.subcommand() {
            Some("channel") => {
                let channel = args
                    .channel("channel")
                    .ok_or_else(|| CommandError::user("`channel` is missing"))?
                    .get();
                check_text_channel(ctx, guild, channel).await?;
                configs
                    .update(store, guild, |c| {
                        c.server_log.channel_id = Some(channel);
                        Ok::<_, CommandError>(())
                    })
                    .await
                    .map_err(CommandError::from)??;
                format!(
                    "The server log will be posted in <#{channel}>. Kinds off: {}.",
                    off_list(
                        &configs
                            .get(store, guild)
                            .await
                            .map_err(CommandError::from)?
                            .server_log
                    )
                )
            }
            Some("clear") => {
                configs
                    .update(store, guild, |c| {
                        c.server_log.channel_id = None;
                        Ok::<_, CommandError>(())
                    })
                    .await
                    .map_err(CommandError::from)??;
                "The server log is off.".to_owned()
            }
            Some(sub @ ("enable" | "disable")) => {
                let kind = kind(args)?;
                let on = sub == "enable";
                let settings = configs
                    .update(store, guild, |c| {
                        c.server_log.disabled.retain(|k| *k != kind);
                        if !on {
                            c.server_log.disabled.push(kind);
                            c.server_log.disabled.sort_unstable();
                        }
                        Ok::<_, CommandError>(c.server_log.clone())
                    })
                    .await
                    .map_err(CommandError::from)??;
                let mut t = format!(
                    "{} {} logged.",
                    kind.name(),
                    if on { "will be" } else { "will not be" }
                );
                if settings.channel_id.is_none() {
                    t.push_str(
                        " No server-log channel is set yet: set one with /serverlog channel.",
                    );
                }
                t
            }
            _ => describe(
                &configs
                    .get(store, guild)
                    .await
                    .map_err(CommandError::from)?
                    .server_log,
            ),
        };
        Ok(Reply::text(text).ephemeral())
    }
}

fn off_list(s: &ServerLogSettings) -> String {
    if s.disabled.is_empty() {
        "none".to_owned()
    } else {
        s.disabled
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_described() {
        let mut s = ServerLogSettings::default();
        assert!(describe(&s).contains("off"));
        s.channel_id = Some(5);
        s.disabled = vec![ServerLogKind::Joins];
        let d = describe(&s);
        assert!(d.contains("<#5>"), "{d}");
        assert!(d.contains("✅ edits") && d.contains("❌ joins"), "{d}");
        assert_eq!(s.channel_for(ServerLogKind::Joins), None);
        assert_eq!(s.channel_for(ServerLogKind::Edits), Some(5));
        assert_eq!(off_list(&s), "joins");
    }

    #[tokio::test]
    async fn the_command_is_hidden_from_members_and_offers_every_kind() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&crate::store::StoreConfig::Embedded {
            path: dir.path().join("kyuta.redb"),
        })
        .await
        .unwrap();
        let mut registry = Registry::new();
        register(&mut registry, store).unwrap();
        let def = registry.iter().next().expect("/serverlog");
        assert_eq!(
            def.default_member_permissions,
            Some(Permissions::MANAGE_GUILD)
        );
        let enable = def.find_subcommand("enable").expect("enable");
        let kinds: Vec<String> = enable.options[0]
            .choices
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(kinds, ServerLogKind::ALL.map(|k| k.name().to_owned()));
    }

    #[test]
    fn kinds_parse() {
        for k in ServerLogKind::ALL {
            assert_eq!(k.name().parse::<ServerLogKind>(), Ok(k));
        }
        assert_eq!("Edits".parse::<ServerLogKind>(), Ok(ServerLogKind::Edits));
        assert!("bans".parse::<ServerLogKind>().is_err());
    }
}
