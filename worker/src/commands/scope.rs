//! Ids a user gives are checked for belonging to the server they are used in: a channel or
//! role of another server is refused, so no server's settings can make Kyuta post into, or
//! act on, another server.

use super::{CommandError, IdKind};
use crate::services::{Services, channel_in_guild};

/// Checks that ids a user gave belong to the server the command runs in. Every channel and
/// role argument is checked by the dispatcher; handlers that read ids out of text (automod
/// settings) check them through this too.
#[async_trait::async_trait]
pub trait GuildScope: Send + Sync {
    /// `Ok` when `channel` is a channel or thread of `guild`, else
    /// [`CommandError::NotInGuild`] (or why it could not be checked).
    async fn check_channel(&self, guild: u64, channel: u64) -> Result<(), CommandError>;
    /// `Ok` when `role` is a role of `guild`, else [`CommandError::NotInGuild`] (or why it
    /// could not be checked).
    async fn check_role(&self, guild: u64, role: u64) -> Result<(), CommandError>;
}

#[async_trait::async_trait]
impl GuildScope for Services {
    /// Refuses unless `channel` is a channel or thread of `guild`: the guild cache first, and
    /// Discord (`GET /channels/{id}`) when the cache does not know it, so a channel created a
    /// moment ago is accepted and one of another server never is. Fails closed: when Discord
    /// cannot be asked, the command is refused with an error that says so.
    async fn check_channel(&self, guild: u64, channel: u64) -> Result<(), CommandError> {
        match channel_in_guild(&self.rest, &self.guild_cache, guild, channel).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CommandError::NotInGuild {
                kind: IdKind::Channel,
                id: channel,
            }),
            Err(e) => Err(CommandError::from(e)),
        }
    }

    /// Refuses unless `role` is a role of `guild` (`@everyone` included): the guild cache,
    /// refilled over REST once when it lacks the guild. Fails closed when the guild's roles
    /// cannot be read.
    async fn check_role(&self, guild: u64, role: u64) -> Result<(), CommandError> {
        let known = match self.guild_cache.has_role(guild, role) {
            Some(true) => return Ok(()),
            Some(false) => {
                // A role created since the cache heard of the guild: read its roles again.
                self.refill_guild(guild).await;
                self.guild_cache.has_role(guild, role)
            }
            None => {
                self.refill_guild(guild).await;
                self.guild_cache.has_role(guild, role)
            }
        };
        match known {
            Some(true) => Ok(()),
            Some(false) => Err(CommandError::NotInGuild {
                kind: IdKind::Role,
                id: role,
            }),
            None => Err(CommandError::user(
                "I could not read this server's roles from Discord to check that role; try again shortly",
            )),
        }
    }
}
