//! Registering the slash commands with Discord, once per fleet.
//!
//! With `KYUTA_GUILD_ID` set (development) the commands are registered in that guild, which is
//! recorded (`redis_keys::dev_guild_commands` with Redis, else a file beside the store:
//! `KYUTA_STORE_PATH` with the extension `dev-guild`). Once `KYUTA_GUILD_ID` is unset (or names
//! another guild) the recorded guild's copies are removed, so members do not see every
//! command twice.

use std::path::PathBuf;

use anyhow::Context as _;
use twilight_model::id::Id;

use kyuta_crds::contract::redis_keys;

use super::Registry;
use crate::services::Services;

/// Registers the slash commands of `registry`, once per fleet: with Redis the pod that wins a `SET NX` on
/// `redis_keys::command_registration` for this command list; without Redis, ordinal 0.
/// Global commands, or the commands of `KYUTA_GUILD_ID` when set.
pub async fn register_commands(
    services: &Services,
    registry: &Registry,
    redis: Option<&kyuta_redis::Conn>,
    ordinal: u32,
) -> anyhow::Result<()> {
    let commands = registry.discord_commands(Some(services.application_id));
    let body = serde_json::to_string(&commands)?;
    let digest = registration_digest(&body, services.config.guild_id);
    let mine = match redis {
        Some(conn) => {
            let key = redis_keys::command_registration(&services.config.cluster);
            let mut c = conn.clone();
            let won: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&digest)
                .arg("NX")
                .arg("EX")
                .arg(300)
                .query_async(&mut c)
                .await
                .context("command registration lock (Redis)")?;
            if won.is_none() {
                let current: Option<String> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap_or(None);
                if current.as_deref() != Some(digest.as_str()) {
                    tracing::info!(
                        "another pod is registering a different command list; leaving it to that pod"
                    );
                }
            }
            won.is_some()
        }
        None => ordinal == 0,
    };
    if !mine {
        tracing::debug!("slash commands are registered by another pod");
        return Ok(());
    }
    let app = services.application_id;
    let record = DevGuildRecord::new(services, redis);
    let previous = record.get().await.unwrap_or_else(|e| {
        tracing::warn!(
            error = format!("{e:#}"),
            "could not read the development guild record"
        );
        None
    });
    if let Some(old) = previous.filter(|g| Some(*g) != services.config.guild_id) {
        let guild = Id::new(old);
        services
            .rest
            .call("set_guild_commands", |c| {
                c.interaction(app)
                    .set_guild_commands(guild, &[])
                    .into_future()
            })
            .await
            .with_context(|| format!("removing the slash commands of development guild {old}"))?;
        record.set(None).await?;
        tracing::info!(%guild, "removed the slash commands registered in the development guild");
    }
    match services.config.guild_id {
        Some(guild) => {
            let guild = Id::new(guild);
            services
                .rest
                .call("set_guild_commands", |c| {
                    c.interaction(app)
                        .set_guild_commands(guild, &commands)
                        .into_future()
                })
                .await?;
            record.set(Some(guild.get())).await?;
            tracing::info!(count = commands.len(), %guild, "slash commands registered in the guild");
        }
        None => {
            services
                .rest
                .call("set_global_commands", |c| {
                    c.interaction(app)
                        .set_global_commands(&commands)
                        .into_future()
                })
                .await?;
            tracing::info!(count = commands.len(), "slash commands registered globally");
        }
    }
    Ok(())
}

/// The digest of a registration (the command list as Discord gets it, and where): FNV-1a
/// 64 in hex, the same in every build and Rust release, so pods of two builds with the
/// same commands agree.
#[must_use]
pub fn registration_digest(body: &str, guild: Option<u64>) -> String {
    let scope = guild.map_or_else(|| "global".to_owned(), |g| format!("guild:{g}"));
    format!(
        "{:016x}",
        crate::hash::fnv1a64(format!("{body}\n{scope}").as_bytes())
    )
}

/// Where the development guild holding copies of the commands is recorded.
enum DevGuildRecord {
    Redis(kyuta_redis::Conn, String),
    File(PathBuf),
}

impl DevGuildRecord {
    fn new(services: &Services, redis: Option<&kyuta_redis::Conn>) -> Self {
        let config = &services.config;
        match redis {
            Some(c) => Self::Redis(c.clone(), redis_keys::dev_guild_commands(&config.cluster)),
            None => Self::File(config.store_path.with_extension("dev-guild")),
        }
    }

    async fn get(&self) -> anyhow::Result<Option<u64>> {
        Ok(match self {
            Self::Redis(c, key) => redis::cmd("GET")
                .arg(key)
                .query_async(&mut c.clone())
                .await
                .context("development guild record (Redis)")?,
            Self::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => text.trim().parse().ok(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(e).with_context(|| format!("reading {}", path.display()));
                }
            },
        })
    }

    async fn set(&self, guild: Option<u64>) -> anyhow::Result<()> {
        match (self, guild) {
            (Self::Redis(c, key), Some(g)) => redis::cmd("SET")
                .arg(key)
                .arg(g)
                .query_async::<()>(&mut c.clone())
                .await
                .context("development guild record (Redis)"),
            (Self::Redis(c, key), None) => redis::cmd("DEL")
                .arg(key)
                .query_async::<()>(&mut c.clone())
                .await
                .context("development guild record (Redis)"),
            (Self::File(path), Some(g)) => std::fs::write(path, g.to_string())
                .with_context(|| format!("writing {}", path.display())),
            (Self::File(path), None) => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::registration_digest;

    #[test]
    fn the_digest_is_fixed_across_builds() {
        // FNV-1a 64 of "[]\nglobal" and "[]\nguild:42", computed independently.
        assert_eq!(registration_digest("[]", None), "dabbf5f2f85fa4f6");
        assert_eq!(registration_digest("[]", Some(42)), "a627c11b7337d37c");
    }
}
