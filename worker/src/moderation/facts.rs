//! What the rules need to know about a guild: its owner, its roles, and the roles of the
//! moderator, the bot and the target. Read from the guild cache when it knows the guild or
//! the member, otherwise from Discord's REST API (`GET /guilds/{id}`,
//! `GET /guilds/{id}/members/{user}`, whose answer is then cached).

use std::collections::HashMap;

use twilight_model::guild::{Guild, Member, Permissions};
use twilight_model::id::Id;

use crate::cache::{GuildCache, guild_permissions};
use crate::rest::{Rest, RestError};

use super::discord::{UNKNOWN_MEMBER, UNKNOWN_USER};
use super::rules::TargetMember;

/// A role's position and permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleFacts {
    /// Position (`@everyone` = 0).
    pub position: i64,
    /// Permissions.
    pub permissions: Permissions,
}

/// The guild-level facts behind permission and hierarchy checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuildFacts {
    /// Guild id.
    pub guild_id: u64,
    /// Guild name, when known.
    pub name: Option<String>,
    /// Owner's user id.
    pub owner_id: u64,
    /// Roles by id (the `@everyone` role has the guild's id).
    pub roles: HashMap<u64, RoleFacts>,
}

impl GuildFacts {
    /// Builds the facts from a guild object.
    #[must_use]
    pub fn from_guild(guild: &Guild) -> Self {
        Self {
            guild_id: guild.id.get(),
            name: Some(guild.name.clone()),
            owner_id: guild.owner_id.get(),
            roles: guild
                .roles
                .iter()
                .map(|r| {
                    (
                        r.id.get(),
                        RoleFacts {
                            position: r.position,
                            permissions: r.permissions,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Guild permissions of a member with `roles` (owner and `ADMINISTRATOR` → all).
    #[must_use]
    pub fn permissions(&self, user_id: u64, roles: &[u64]) -> Permissions {
        if user_id == self.owner_id {
            return Permissions::all();
        }
        guild_permissions(
            self.roles.get(&self.guild_id).map(|r| r.permissions),
            roles
                .iter()
                .filter_map(|id| self.roles.get(id))
                .map(|r| r.permissions),
        )
    }

    /// Rank of the highest of `roles` in Discord's role order (0 when none, i.e. only
    /// `@everyone`): roles sorted by position, and for equal positions the role with the lower
    /// id ranks higher, so two different roles never tie.
    #[must_use]
    pub fn highest_position(&self, roles: &[u64]) -> i64 {
        let mut order: Vec<(i64, std::cmp::Reverse<u64>)> = self
            .roles
            .iter()
            .filter(|(id, r)| **id != self.guild_id && r.position > 0)
            .map(|(id, r)| (r.position, std::cmp::Reverse(*id)))
            .collect();
        order.sort_unstable();
        roles
            .iter()
            .filter_map(|id| {
                let r = self.roles.get(id)?;
                let key = (r.position, std::cmp::Reverse(*id));
                order.binary_search(&key).ok()
            })
            .map(|i| i64::try_from(i).unwrap_or(i64::MAX - 1) + 1)
            .max()
            .unwrap_or(0)
    }

    /// The member view the rules need.
    #[must_use]
    pub fn member(&self, user_id: u64, roles: &[u64]) -> TargetMember {
        TargetMember {
            position: self.highest_position(roles),
            permissions: self.permissions(user_id, roles),
        }
    }
}

/// The guild's facts from the gateway-fed cache, when it has the guild.
#[must_use]
pub fn from_cache(cache: &GuildCache, guild_id: u64) -> Option<GuildFacts> {
    let g = cache.guild_roles(guild_id)?;
    Some(GuildFacts {
        guild_id,
        name: Some(g.name),
        owner_id: g.owner_id,
        roles: g
            .roles
            .into_iter()
            .map(|(id, position, permissions)| {
                (
                    id,
                    RoleFacts {
                        position,
                        permissions,
                    },
                )
            })
            .collect(),
    })
}

/// The guild's facts: from the cache when it has the guild, else from Discord.
///
/// # Errors
/// The REST error.
pub async fn guild(
    cache: Option<&GuildCache>,
    rest: &Rest,
    guild_id: u64,
) -> Result<GuildFacts, RestError> {
    match cache.and_then(|c| from_cache(c, guild_id)) {
        Some(f) => Ok(f),
        None => fetch_guild(rest, guild_id).await,
    }
}

/// A member's role ids: from the cache when it has the member, else from Discord (and then
/// kept in the cache, which member events keep current); `None` when the user is not a
/// member. GUILD_CREATE lists only the bot's own member (no GUILD_PRESENCES), so a member
/// who has not spoken, joined or used a command since the worker started is read over REST
/// once.
///
/// # Errors
/// The REST error (other than "unknown member").
pub async fn member_roles(
    cache: Option<&GuildCache>,
    rest: &Rest,
    guild_id: u64,
    user_id: u64,
) -> Result<Option<Vec<u64>>, RestError> {
    if let Some(roles) = cache.and_then(|c| c.member_roles(guild_id, user_id)) {
        return Ok(Some(roles));
    }
    let roles = fetch_member_roles(rest, guild_id, user_id).await?;
    if let (Some(cache), Some(roles)) = (cache, &roles) {
        cache.note_member(guild_id, user_id, roles);
    }
    Ok(roles)
}

/// Fetches the guild's facts from Discord.
///
/// # Errors
/// The REST error.
pub async fn fetch_guild(rest: &Rest, guild_id: u64) -> Result<GuildFacts, RestError> {
    let guild: Guild = rest
        .model("get_guild", |c| c.guild(Id::new(guild_id)).into_future())
        .await?;
    Ok(GuildFacts::from_guild(&guild))
}

/// Fetches a member's role ids; `None` when the user is not a member of the guild.
///
/// # Errors
/// The REST error (other than "unknown member").
pub async fn fetch_member_roles(
    rest: &Rest,
    guild_id: u64,
    user_id: u64,
) -> Result<Option<Vec<u64>>, RestError> {
    let result: Result<Member, RestError> = rest
        .model("get_guild_member", |c| {
            c.guild_member(Id::new(guild_id), Id::new(user_id))
                .into_future()
        })
        .await;
    match result {
        Ok(m) => Ok(Some(m.roles.iter().map(|r| r.get()).collect())),
        Err(e) if matches!(e.discord_code(), Some(UNKNOWN_MEMBER | UNKNOWN_USER)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> GuildFacts {
        let mut roles = HashMap::new();
        roles.insert(
            100,
            RoleFacts {
                position: 0,
                permissions: Permissions::SEND_MESSAGES,
            },
        );
        roles.insert(
            1,
            RoleFacts {
                position: 3,
                permissions: Permissions::BAN_MEMBERS,
            },
        );
        roles.insert(
            2,
            RoleFacts {
                position: 7,
                permissions: Permissions::ADMINISTRATOR,
            },
        );
        GuildFacts {
            guild_id: 100,
            name: None,
            owner_id: 9,
            roles,
        }
    }

    #[test]
    fn permissions_and_positions() {
        let f = facts();
        assert_eq!(
            f.permissions(5, &[1]),
            Permissions::SEND_MESSAGES | Permissions::BAN_MEMBERS
        );
        assert_eq!(f.permissions(5, &[]), Permissions::SEND_MESSAGES);
        assert_eq!(f.permissions(5, &[2]), Permissions::all());
        assert_eq!(f.permissions(9, &[]), Permissions::all());
        assert_eq!(f.highest_position(&[1, 2]), 2);
        assert_eq!(f.highest_position(&[1]), 1);
        assert_eq!(f.highest_position(&[]), 0);
        assert_eq!(f.highest_position(&[100]), 0);
        assert_eq!(f.highest_position(&[12345]), 0);
    }

    #[test]
    fn equal_positions_follow_discords_order_lower_id_above() {
        let mut f = facts();
        for id in [30, 40] {
            f.roles.insert(
                id,
                RoleFacts {
                    position: 5,
                    permissions: Permissions::KICK_MEMBERS,
                },
            );
        }
        // Position 3 < both 5s < 7; between the two 5s, role 30 (lower id) is above 40.
        assert!(f.highest_position(&[30]) > f.highest_position(&[40]));
        assert!(f.highest_position(&[40]) > f.highest_position(&[1]));
        assert!(f.highest_position(&[2]) > f.highest_position(&[30]));
    }
}
