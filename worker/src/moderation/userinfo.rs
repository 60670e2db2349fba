//! `/userinfo [user]` (`k!userinfo`): a user's account and membership, for anyone; for
//! moderators also the user's cases.
//!
//! Shown: the avatar (the server one when the member has it), the account's age, the join
//! date, the nickname, the roles highest first (Discord's order: position, then the older
//! role), the key permissions, a timeout only while it lasts, and for members holding Ban,
//! Kick or Timeout Members the number of cases and warns (other members do not see anyone's
//! record).

use std::sync::Arc;

use twilight_model::{
    guild::{Member, Permissions},
    id::{Id, marker::UserMarker},
    user::User,
};

use crate::commands::general::discord_time;
use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, EmbedBuilder, OptionDef,
    OptionKind, Registry, RegistryError, Reply,
};
use crate::snowflake::unix_secs as snowflake_unix_secs;
use crate::store::{ActionKind, CaseFilter, Store, Timestamp};

use super::engine::MODERATOR_PERMISSIONS;
use super::facts::{self, GuildFacts};

/// The permissions `/userinfo` names, in this order, as Discord's settings call them.
pub const KEY_PERMISSIONS: [(Permissions, &str); 9] = [
    (Permissions::MANAGE_GUILD, "Manage Server"),
    (Permissions::MANAGE_ROLES, "Manage Roles"),
    (Permissions::MANAGE_CHANNELS, "Manage Channels"),
    (Permissions::BAN_MEMBERS, "Ban Members"),
    (Permissions::KICK_MEMBERS, "Kick Members"),
    (Permissions::MODERATE_MEMBERS, "Timeout Members"),
    (Permissions::MANAGE_MESSAGES, "Manage Messages"),
    (Permissions::MENTION_EVERYONE, "Mention Everyone"),
    (Permissions::VIEW_AUDIT_LOG, "View Audit Log"),
];

/// The key permissions in `p`: `Administrator (all)` for administrators, else the names of
/// [`KEY_PERMISSIONS`] held, or `none`.
#[must_use]
pub fn key_permissions(p: Permissions) -> String {
    if p.contains(Permissions::ADMINISTRATOR) {
        return "Administrator (all)".to_owned();
    }
    let names: Vec<&str> = KEY_PERMISSIONS
        .iter()
        .filter(|(k, _)| p.contains(*k))
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// `roles` highest first: by position, and of two at the same position the older (smaller
/// id) above, as Discord orders them. Roles the facts do not know go last.
#[must_use]
pub fn sorted_roles(facts: &GuildFacts, roles: &[u64]) -> Vec<u64> {
    let mut out = roles.to_vec();
    out.sort_by_key(|id| {
        let position = facts.roles.get(id).map_or(i64::MIN, |r| r.position);
        (std::cmp::Reverse(position), *id)
    });
    out
}

/// The avatar's URL: the member's server avatar, the account's, or Discord's default.
#[must_use]
pub fn avatar_url(user: &User, member: Option<&Member>, guild: Option<u64>) -> String {
    let ext = |animated: bool| if animated { "gif" } else { "png" };
    if let (Some(hash), Some(g)) = (member.and_then(|m| m.avatar), guild) {
        return format!(
            "https://cdn.discordapp.com/guilds/{g}/users/{}/avatars/{hash}.{}",
            user.id,
            ext(hash.is_animated())
        );
    }
    if let Some(hash) = user.avatar {
        return format!(
            "https://cdn.discordapp.com/avatars/{}/{hash}.{}",
            user.id,
            ext(hash.is_animated())
        );
    }
    // Usernames without a discriminator pick by id; legacy ones by discriminator.
    let index = if user.discriminator == 0 {
        (user.id.get() >> 22) % 6
    } else {
        u64::from(user.discriminator) % 5
    };
    format!("https://cdn.discordapp.com/embed/avatars/{index}.png")
}

/// `/userinfo`.
pub struct UserInfo(Arc<dyn Store>);

impl UserInfo {
    async fn record(&self, guild: u64, user: u64) -> String {
        let cases = self
            .0
            .list_cases(
                guild,
                &CaseFilter {
                    user_id: Some(user),
                    ..CaseFilter::default()
                },
                0,
                1,
            )
            .await;
        let warns = self
            .0
            .count_cases(
                guild,
                user,
                ActionKind::Warn,
                Timestamp::from_unix_millis(0),
            )
            .await;
        match (cases, warns) {
            (Ok(c), Ok(w)) => format!(
                "{} case{}, {w} warn{} (`/cases user:{user}`)",
                c.total,
                if c.total == 1 { "" } else { "s" },
                if w == 1 { "" } else { "s" }
            ),
            _ => "unavailable right now".to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl CommandHandler for UserInfo {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let user_id: Id<UserMarker> = args.user("user").unwrap_or(ctx.invoker.user_id);
        let rest = ctx.rest();
        let member: Option<Member> = match ctx.guild_id {
            Some(guild) => match rest
                .model("get_guild_member", |c| {
                    c.guild_member(guild, user_id).into_future()
                })
                .await
            {
                Ok(m) => Some(m),
                Err(e) if e.status() == Some(404) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let user = match &member {
            Some(m) => m.user.clone(),
            None => rest
                .model("get_user", |c| c.user(user_id).into_future())
                .await
                .map_err(|e| {
                    if e.status() == Some(404) {
                        CommandError::user(format!("there is no user with id {user_id}"))
                    } else {
                        e.into()
                    }
                })?,
        };
        let guild = ctx.guild_id.map(Id::get);
        let mut b = EmbedBuilder::new()
            .author(
                match &user.global_name {
                    Some(g) => format!("{g} (@{})", user.name),
                    None => format!("@{}", user.name),
                },
                None,
            )
            .thumbnail(avatar_url(&user, member.as_ref(), guild))
            .field("User", format!("<@{}>", user.id), true)
            .field("ID", user.id.to_string(), true)
            .field("Bot", if user.bot { "yes" } else { "no" }, true)
            .field(
                "Account created",
                discord_time(snowflake_unix_secs(user.id.get())),
                false,
            );
        match (member, guild) {
            (Some(m), Some(g)) => {
                if let Some(joined) = m.joined_at {
                    let secs = u64::try_from(joined.as_secs()).unwrap_or(0);
                    b = b.field("Joined", discord_time(secs), false);
                }
                if let Some(nick) = &m.nick {
                    b = b.field("Nickname", nick.clone(), true);
                }
                let role_ids: Vec<u64> = m.roles.iter().map(|r| r.get()).collect();
                let guild_facts = facts::guild(Some(&ctx.services.guild_cache), rest, g)
                    .await
                    .ok();
                let ordered = match &guild_facts {
                    Some(f) => sorted_roles(f, &role_ids),
                    None => role_ids.clone(),
                };
                let roles = if ordered.is_empty() {
                    "none".to_owned()
                } else {
                    let shown: Vec<String> = ordered
                        .iter()
                        .take(20)
                        .map(|r| format!("<@&{r}>"))
                        .collect();
                    let more = ordered.len().saturating_sub(20);
                    let mut s = shown.join(" ");
                    if more > 0 {
                        s.push_str(&format!(" and {more} more"));
                    }
                    s
                };
                b = b.field(format!("Roles ({})", ordered.len()), roles, false);
                if let Some(f) = &guild_facts {
                    b = b.field(
                        "Key permissions",
                        key_permissions(f.permissions(user.id.get(), &role_ids)),
                        false,
                    );
                }
                let now_secs = i64::try_from(ctx.clock().unix_millis() / 1000).unwrap_or(i64::MAX);
                if let Some(until) = m
                    .communication_disabled_until
                    .filter(|u| u.as_secs() > now_secs)
                {
                    b = b.field(
                        "Timed out until",
                        format!("<t:{0}:f> (<t:{0}:R>)", until.as_secs()),
                        true,
                    );
                }
            }
            (None, Some(_)) => {
                b = b.footer("Not a member of this server");
            }
            _ => {}
        }
        let moderator = crate::commands::dispatch::check_any_permission(
            MODERATOR_PERMISSIONS,
            ctx.invoker.permissions,
        )
        .is_ok();
        if let (Some(g), true) = (guild, moderator) {
            b = b.field("Record", self.record(g, user.id.get()).await, false);
        }
        Ok(Reply::embed(b.build()))
    }
}

/// Registers `/userinfo`.
///
/// # Errors
/// A registry error (a duplicate name).
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    registry.register(
        CommandDef::new(
            "userinfo",
            "Show a user's account and membership",
            UserInfo(store),
        )
        .option(OptionDef::new(
            "user",
            "Who (default: you)",
            OptionKind::User,
        )),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::facts::RoleFacts;
    use std::collections::HashMap;

    #[test]
    fn roles_in_discords_order_and_key_permissions() {
        let role = |position| RoleFacts {
            position,
            permissions: Permissions::empty(),
        };
        let facts = GuildFacts {
            guild_id: 1,
            name: None,
            owner_id: 2,
            roles: HashMap::from([(10, role(1)), (11, role(5)), (12, role(5)), (13, role(3))]),
        };
        assert_eq!(
            sorted_roles(&facts, &[10, 12, 99, 13, 11]),
            vec![11, 12, 13, 10, 99]
        );
        assert_eq!(
            key_permissions(Permissions::BAN_MEMBERS | Permissions::SEND_MESSAGES),
            "Ban Members"
        );
        assert_eq!(
            key_permissions(Permissions::ADMINISTRATOR),
            "Administrator (all)"
        );
        assert_eq!(key_permissions(Permissions::SEND_MESSAGES), "none");
    }

    #[test]
    fn avatars() {
        let mut user: User = serde_json::from_value(serde_json::json!({
            "id": "175928847299117063", "username": "a", "discriminator": "0", "avatar": null
        }))
        .unwrap();
        assert_eq!(
            avatar_url(&user, None, None),
            format!(
                "https://cdn.discordapp.com/embed/avatars/{}.png",
                (175_928_847_299_117_063_u64 >> 22) % 6
            )
        );
        user.avatar = Some(
            twilight_model::util::ImageHash::parse(b"a_1269e74af4df7417b13759eae50c83dc").unwrap(),
        );
        assert_eq!(
            avatar_url(&user, None, Some(5)),
            "https://cdn.discordapp.com/avatars/175928847299117063/a_1269e74af4df7417b13759eae50c83dc.gif"
        );
    }
}
