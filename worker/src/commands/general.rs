//! The general commands: `/ping`, `/help`, `/serverinfo` (`/userinfo`, which shows a
//! member's cases to moderators, is [`crate::moderation::userinfo`]).

use std::time::{Duration, Instant};

use super::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, EmbedBuilder, OptionDef,
    OptionKind, Registry, RegistryError, Reply,
};
use crate::telemetry::metrics::resident_memory_bytes;

/// Discord's epoch (2015-01-01) in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// When a snowflake id was made, as Unix seconds.
#[must_use]
pub fn snowflake_unix_secs(id: u64) -> u64 {
    ((id >> 22) + DISCORD_EPOCH_MS) / 1000
}

/// `<t:…:R>`-style timestamp markup plus the date.
#[must_use]
pub fn discord_time(unix_secs: u64) -> String {
    format!("<t:{unix_secs}:D> (<t:{unix_secs}:R>)")
}

fn fmt_ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "n/a".to_owned(), |d| format!("{} ms", d.as_millis()))
}

fn fmt_uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, s) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if days > 0 {
        format!("{days}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else {
        format!("{m}m {s}s")
    }
}

fn fmt_bytes(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// `/ping`: gateway, REST and store latency, memory, uptime, shard.
#[derive(Debug)]
pub struct Ping;

#[async_trait::async_trait]
impl CommandHandler for Ping {
    async fn run(&self, ctx: &CommandContext, _: &Args) -> Result<Reply, CommandError> {
        let services = &ctx.services;
        let gateway = services.shards.get(ctx.shard_id).and_then(|s| s.latency);
        let start = Instant::now();
        let rest = match services
            .rest
            .call("get_current_user", |c| c.current_user().into_future())
            .await
        {
            Ok(_) => Some(start.elapsed()),
            Err(e) => {
                tracing::debug!(error = %e, "/ping REST probe failed");
                None
            }
        };
        let store = match services.store.ping().await {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::debug!(error = %e, "/ping store probe failed");
                None
            }
        };
        let memory = resident_memory_bytes().map_or_else(|| "n/a".to_owned(), fmt_bytes);
        let embed = EmbedBuilder::new()
            .title("Pong!")
            .field("Gateway", fmt_ms(gateway), true)
            .field("REST", fmt_ms(rest), true)
            .field("Store", fmt_ms(store), true)
            .field("Memory", memory, true)
            .field("Uptime", fmt_uptime(services.started_at.elapsed()), true)
            .field(
                "Shard",
                format!("{}/{}", ctx.shard_id, services.shards.shard_total()),
                true,
            )
            .build();
        Ok(Reply::embed(embed))
    }
}

/// `/help [command]`: the command list from the registry, or one command's details.
#[derive(Debug)]
pub struct Help;

#[async_trait::async_trait]
impl CommandHandler for Help {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let registry = ctx.registry();
        let prefix = &ctx.config().prefix;
        if let Some(name) = args.string("command") {
            let name = name.trim_start_matches('/').to_lowercase();
            let def = registry.get(&name).ok_or_else(|| {
                CommandError::user(format!("there is no command `{name}`; see `/help`"))
            })?;
            let mut b = EmbedBuilder::new()
                .title(format!("/{}", def.name))
                .description(def.description.clone())
                .field(
                    "Usage",
                    def.usage()
                        .iter()
                        .map(|u| format!("`/{u}`  ·  `{prefix}{u}`"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    false,
                );
            let options: Vec<String> = def
                .options
                .iter()
                .chain(def.subcommands.iter().flat_map(|s| s.options.iter()))
                .map(|o| format!("`{}`: {} ({})", o.name, o.description, o.kind.describe()))
                .collect();
            if !options.is_empty() {
                b = b.field("Options", options.join("\n"), false);
            }
            if let Some(p) = def.run_with_any {
                b = b.field("Needs", super::dispatch::any_permission_names(p), true);
            } else if let Some(p) = def.default_member_permissions {
                b = b.field("Needs", super::dispatch::permission_names(p), true);
            }
            if let Some(c) = def.cooldown {
                b = b.field("Cooldown", format!("{} s", c.as_secs_f64()), true);
            }
            return Ok(Reply::embed(b.build()));
        }
        let mut categories: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for def in registry.iter() {
            categories
                .entry(def.category.as_str())
                .or_default()
                .push(format!("`/{}` {}", def.name, def.description));
        }
        let mut b = EmbedBuilder::new().title("Kyuta commands").description(format!(
            "Every command works as a slash command or with the prefix `{prefix}` (e.g. `{prefix}ping`). \
             `/help command` shows one command in detail."
        ));
        for (cat, lines) in categories {
            b = b.field(cat, lines.join("\n"), false);
        }
        Ok(Reply::embed(b.build()))
    }
}

/// `/serverinfo`: the server's details.
#[derive(Debug)]
pub struct ServerInfo;

#[async_trait::async_trait]
impl CommandHandler for ServerInfo {
    async fn run(&self, ctx: &CommandContext, _: &Args) -> Result<Reply, CommandError> {
        let guild_id = ctx.require_guild()?;
        let guild = ctx
            .rest()
            .model("get_guild", |c| {
                c.guild(guild_id).with_counts(true).into_future()
            })
            .await?;
        let members = guild
            .approximate_member_count
            .or(guild.member_count)
            .map_or_else(|| "unknown".to_owned(), |n| n.to_string());
        let embed = EmbedBuilder::new()
            .title(guild.name.clone())
            .field("ID", guild.id.to_string(), true)
            .field("Owner", format!("<@{}>", guild.owner_id), true)
            .field("Members", members, true)
            .field("Roles", guild.roles.len().to_string(), true)
            .field(
                "Boost tier",
                format!("{}", u8::from(guild.premium_tier)),
                true,
            )
            .field(
                "Created",
                discord_time(snowflake_unix_secs(guild.id.get())),
                false,
            )
            .footer(format!(
                "Shard {}/{}",
                ctx.shard_id,
                ctx.services.shards.shard_total()
            ))
            .build();
        Ok(Reply::embed(embed))
    }
}

/// Registers the general commands.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    registry
        .register(
            CommandDef::new("ping", "Latency, memory, uptime and shard of the bot", Ping)
                .allow_dms()
                .cooldown(Duration::from_secs(3)),
        )?
        .register(
            CommandDef::new("help", "List the commands, or explain one", Help)
                .option(OptionDef::new(
                    "command",
                    "A command to explain",
                    OptionKind::String,
                ))
                .allow_dms(),
        )?
        .register(CommandDef::new(
            "serverinfo",
            "Show this server's details",
            ServerInfo,
        ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_valid_commands() {
        let mut r = Registry::new();
        register(&mut r).unwrap();
        assert_eq!(r.len(), 3);
        let json = serde_json::to_value(r.discord_commands(None)).unwrap();
        assert_eq!(json[0]["name"], "help");
        assert_eq!(json[0]["options"][0]["type"], 3);
    }

    #[test]
    fn helpers() {
        assert_eq!(snowflake_unix_secs(175_928_847_299_117_063), 1_462_015_105);
        assert_eq!(fmt_uptime(Duration::from_secs(3725)), "1h 2m 5s");
        assert_eq!(fmt_uptime(Duration::from_secs(90_000)), "1d 1h 0m");
    }
}
