//! The general commands: `/ping`, `/help`, `/serverinfo` (`/userinfo`, which shows a
//! member's cases to moderators, is [`crate::moderation::userinfo`]).

use std::time::{Duration, Instant};

use twilight_model::channel::message::Embed;

use super::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, EmbedBuilder, OptionDef,
    OptionKind, Registry, RegistryError, Reply,
};
use crate::telemetry::metrics::resident_memory_bytes;

use crate::snowflake::unix_secs as snowflake_unix_secs;

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

/// Discord's limit for an embed field's value.
const FIELD_MAX: usize = 1024;

/// `lines` as field values of at most [`FIELD_MAX`] characters, a line never split (one
/// longer than that is cut).
fn chunk_lines(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for line in lines {
        let line: String = if line.chars().count() > FIELD_MAX {
            let mut cut: String = line.chars().take(FIELD_MAX - 1).collect();
            cut.push('…');
            cut
        } else {
            line.clone()
        };
        if !cur.is_empty() && cur.chars().count() + 1 + line.chars().count() > FIELD_MAX {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(&line);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `/help`: every command by category; a category longer than a field goes on in the next.
#[must_use]
pub fn help_overview(registry: &Registry, prefix: &str) -> Embed {
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
        for (i, value) in chunk_lines(&lines).into_iter().enumerate() {
            let name = if i == 0 {
                cat.to_owned()
            } else {
                format!("{cat} (continued)")
            };
            b = b.field(name, value, false);
        }
    }
    b.build()
}

/// `/help command`: its usage, options, permissions and cooldown.
#[must_use]
pub fn help_command(def: &super::CommandDef, prefix: &str) -> Embed {
    let usage: Vec<String> = def
        .usage()
        .iter()
        .map(|u| format!("`/{u}`  ·  `{prefix}{u}`"))
        .collect();
    let mut b = EmbedBuilder::new()
        .title(format!("/{}", def.name))
        .description(def.description.clone());
    for (i, value) in chunk_lines(&usage).into_iter().enumerate() {
        b = b.field(
            if i == 0 { "Usage" } else { "Usage (continued)" },
            value,
            false,
        );
    }
    let options: Vec<String> = def
        .options
        .iter()
        .chain(def.subcommands.iter().flat_map(|s| s.options.iter()))
        .map(|o| format!("`{}`: {} ({})", o.name, o.description, o.kind.describe()))
        .collect();
    for (i, value) in chunk_lines(&options).into_iter().enumerate() {
        b = b.field(
            if i == 0 {
                "Options"
            } else {
                "Options (continued)"
            },
            value,
            false,
        );
    }
    if let Some(p) = def.run_with_any {
        b = b.field("Needs", super::dispatch::any_permission_names(p), true);
    } else if let Some(p) = def.default_member_permissions {
        b = b.field("Needs", super::dispatch::permission_names(p), true);
    }
    if let Some(c) = def.cooldown {
        b = b.field("Cooldown", format!("{} s", c.as_secs_f64()), true);
    }
    b.build()
}

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
            return Ok(Reply::embed(help_command(def, prefix)));
        }
        Ok(Reply::embed(help_overview(registry, prefix)))
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

    /// Discord's embed limits: 25 fields, names 256, values 1024, 6000 characters in all.
    fn within_discords_limits(e: &Embed) -> Result<(), String> {
        let len = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
        let mut total = len(&e.title) + len(&e.description);
        if e.fields.len() > 25 {
            return Err(format!("{} fields", e.fields.len()));
        }
        for f in &e.fields {
            let (n, v) = (f.name.chars().count(), f.value.chars().count());
            if n > 256 || v > 1024 || v == 0 {
                return Err(format!("field {:?}: name {n}, value {v}", f.name));
            }
            total += n + v;
        }
        if total > 6000 {
            return Err(format!("{total} characters"));
        }
        Ok(())
    }

    #[tokio::test]
    async fn help_fits_in_an_embed_for_every_command() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&crate::store::StoreConfig::Embedded {
            path: dir.path().join("kyuta.redb"),
        })
        .await
        .unwrap();
        let analytics = std::sync::Arc::new(crate::analytics::Analytics::new(
            true,
            std::sync::Arc::new(crate::clock::SystemClock),
        ));
        let registry =
            crate::runtime::build_registry(store, std::sync::Arc::default(), analytics).unwrap();
        let overview = help_overview(&registry, "k!");
        within_discords_limits(&overview).unwrap();
        assert!(
            overview
                .fields
                .iter()
                .any(|f| f.value.contains("`/massban`")),
            "every command is listed"
        );
        for def in registry.iter() {
            within_discords_limits(&help_command(def, "k!"))
                .unwrap_or_else(|e| panic!("/help {}: {e}", def.name));
        }
    }

    #[test]
    fn long_lists_go_on_in_the_next_field() {
        let lines: Vec<String> = (0..40)
            .map(|i| format!("`/command{i}` {}", "x".repeat(40)))
            .collect();
        let chunks = chunk_lines(&lines);
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|c| c.chars().count() <= FIELD_MAX));
        assert_eq!(chunks.join("\n"), lines.join("\n"));
    }

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
