//! Registering the slash commands with Discord, once per fleet.

use anyhow::Context as _;
use twilight_model::id::Id;

use kyuta_crds::contract::redis_keys;

use super::Registry;
use crate::services::Services;

/// Registers the slash commands of `registry`, once per fleet: with Redis the pod that wins a `SET NX` on
/// `redis_keys::command_registration` for this command list; without Redis, ordinal 0.
/// Global commands, or the commands of `GUILD_ID` when set.
pub async fn register_commands(
    services: &Services,
    registry: &Registry,
    redis: Option<&redis::aio::ConnectionManager>,
    ordinal: u32,
) -> anyhow::Result<()> {
    let commands = registry.discord_commands(Some(services.application_id));
    let body = serde_json::to_string(&commands)?;
    let digest = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        services.config.guild_id.hash(&mut h);
        format!("{:016x}", h.finish())
    };
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
