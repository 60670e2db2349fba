//! Locking and unlocking channels on Discord, for `/lockdown` and `/unlock`
//! ([`super::command`]) and for automod's raid mode (a `join_rate` rule with the `lockdown`
//! action, [`crate::automod::Action::Lockdown`]).
//!
//! [`lock`] records a channel's `@everyone` overwrite in the guild's settings before it
//! changes anything on Discord, then denies [`LOCKED`](super::LOCKED) (what of it the bot
//! holds, [`deniable`]); when Discord refuses, the record is dropped again. [`unlock`] puts the
//! recorded overwrite back exactly (or removes it when there was none) and drops the record.

use twilight_http::request::AuditLogReason as _;
use twilight_model::{
    channel::{Channel, ChannelType, permission_overwrite::PermissionOverwriteType},
    guild::Permissions,
    http::permission_overwrite::{
        PermissionOverwrite as HttpOverwrite, PermissionOverwriteType as HttpOverwriteType,
    },
    id::Id,
};

use crate::cache::GuildConfigs;
use crate::commands::EmbedBuilder;
use crate::rest::{Rest, RestError};
use crate::store::{Lockdown, OverwriteBits, StoreError};

use super::super::facts;
use super::super::publish::post_to_modlog;
use super::super::request::Deps;
use super::{already_locked, deniable, locked};

/// Colour of lockdown posts in the mod log.
const LOCK_COLOUR: u32 = 0xE6_7E_22;

/// What a lock or an unlock did, channel by channel.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Channels changed.
    pub done: Vec<u64>,
    /// Channels left alone: already locked (for a lock) or not locked by Kyuta (for an
    /// unlock).
    pub skipped: Vec<u64>,
    /// Channels Discord refused, with why in words for the moderator.
    pub failed: Vec<(u64, String)>,
}

/// Why Discord refused, in words for the moderator.
fn describe(e: &RestError) -> String {
    match e.discord_code() {
        Some(50_013) => "I need the Manage Roles permission there".to_owned(),
        Some(50_001) => "I cannot see that channel".to_owned(),
        _ => e.to_string(),
    }
}

/// The channel's `@everyone` overwrite.
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

/// Every text and announcement channel of the guild, read from Discord.
///
/// # Errors
/// Discord's refusal or an unreadable answer.
pub async fn server_channels(rest: &Rest, guild: u64) -> Result<Vec<u64>, RestError> {
    let all: Vec<Channel> = rest
        .call("guild_channels", |c| {
            c.guild_channels(Id::new(guild)).into_future()
        })
        .await?
        .models()
        .await
        .map_err(|source| RestError::Body {
            route: "guild_channels",
            source,
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

/// The bot's server-wide permissions.
async fn bot_permissions(deps: &Deps, guild: u64) -> Result<Permissions, RestError> {
    let cache = deps.cache.as_deref();
    let facts = facts::guild(cache, &deps.rest, guild).await?;
    let roles = facts::member_roles(cache, &deps.rest, guild, deps.bot_id)
        .await?
        .unwrap_or_default();
    Ok(facts.permissions(deps.bot_id, &roles))
}

/// Locks `targets`, one after the other, for `by` (a moderator, or the bot for raid mode);
/// `progress(i, n)` is called before the `i`-th of `n` channels. A channel already locked
/// (recorded, or `@everyone` already denied sending) is skipped.
///
/// # Errors
/// The bot's permissions cannot be read (nothing is changed), or the settings cannot be
/// written (channels before the failing one stay locked and recorded).
pub async fn lock(
    deps: &Deps,
    configs: &GuildConfigs,
    guild: u64,
    targets: &[u64],
    by: u64,
    audit: &str,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Outcome, LockError> {
    let deny = deniable(bot_permissions(deps, guild).await?);
    let mut out = Outcome::default();
    for (i, &channel) in targets.iter().enumerate() {
        progress(i + 1, targets.len());
        let current = match read(&deps.rest, channel, guild).await {
            Ok(c) => c,
            Err(e) => {
                out.failed.push((channel, describe(&e)));
                continue;
            }
        };
        let at = deps.now();
        // Recorded before Discord changes, so an unlock can always put it back.
        let recorded = configs
            .update(&*deps.store, guild, |c| {
                if c.lockdowns.iter().any(|l| l.channel_id == channel) || already_locked(current) {
                    return Err(());
                }
                c.lockdowns.push(Lockdown {
                    channel_id: channel,
                    previous: current,
                    by,
                    at,
                });
                Ok(())
            })
            .await?;
        if recorded.is_err() {
            out.skipped.push(channel);
            continue;
        }
        if let Err(e) = write(
            &deps.rest,
            channel,
            guild,
            Some(locked(current, deny)),
            audit,
        )
        .await
        {
            out.failed.push((channel, describe(&e)));
            forget(deps, configs, guild, channel).await?;
            continue;
        }
        out.done.push(channel);
    }
    Ok(out)
}

/// Drops the record of `channel`'s lockdown.
async fn forget(
    deps: &Deps,
    configs: &GuildConfigs,
    guild: u64,
    channel: u64,
) -> Result<(), StoreError> {
    configs
        .update(&*deps.store, guild, |c| {
            c.lockdowns.retain(|l| l.channel_id != channel);
            Ok::<_, ()>(())
        })
        .await
        .map(drop)
}

/// Unlocks `targets` (`None`: every channel Kyuta locked in the guild), putting back the
/// `@everyone` overwrite each had; a channel Kyuta did not lock is skipped.
///
/// # Errors
/// The settings cannot be read or written.
pub async fn unlock(
    deps: &Deps,
    configs: &GuildConfigs,
    guild: u64,
    targets: Option<&[u64]>,
    audit: &str,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Outcome, StoreError> {
    let config = deps.store.guild_config(guild).await?;
    let targets: Vec<u64> = match targets {
        Some(t) => t.to_vec(),
        None => config.lockdowns.iter().map(|l| l.channel_id).collect(),
    };
    let mut out = Outcome::default();
    for (i, &channel) in targets.iter().enumerate() {
        progress(i + 1, targets.len());
        let Some(record) = config.lockdowns.iter().find(|l| l.channel_id == channel) else {
            out.skipped.push(channel);
            continue;
        };
        if let Err(e) = write(&deps.rest, channel, guild, record.previous, audit).await {
            out.failed.push((channel, describe(&e)));
            continue;
        }
        forget(deps, configs, guild, channel).await?;
        out.done.push(channel);
    }
    Ok(out)
}

/// Why a lock could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Discord did not say what the bot may do, or which channels there are.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The settings that keep the previous overwrites are unavailable.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Channel mentions, the first 30 of them, then how many more.
#[must_use]
pub fn mentions(channels: &[u64]) -> String {
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

/// Posts a lockdown or an unlock (`title`) in the guild's mod log, once for `once`; nothing
/// when the guild has no mod log or its settings cannot be read.
pub async fn post(deps: &Deps, guild: u64, title: &str, text: &str, once: &str) {
    let channel = match deps.store.guild_config(guild).await {
        Ok(c) => c.mod_log_channel,
        Err(e) => {
            tracing::warn!(guild, error = %e, "settings unavailable; not posted in the mod log");
            None
        }
    };
    let Some(channel) = channel else { return };
    let embed = EmbedBuilder::new()
        .title(title)
        .description(super::super::modlog::truncate(text, 4096))
        .colour(LOCK_COLOUR)
        .build();
    post_to_modlog(
        deps,
        guild,
        channel,
        &embed,
        &format!("{title}:{guild}:{once}"),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_channel_lists_are_cut_at_thirty() {
        assert_eq!(mentions(&[1, 2]), "<#1>, <#2>");
        let many: Vec<u64> = (1..=32).collect();
        let m = mentions(&many);
        assert!(m.ends_with("<#30> and 2 more"), "{m}");
    }
}
