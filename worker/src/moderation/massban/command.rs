//! `/massban` (`k!massban`): bans up to 200 users at once, one case each.
//!
//! The flow: read the list ([`parse_users`]); check each user against the same rules as
//! `/ban` ([`rules::check`]: not yourself, not the bot or the owner, roles below yours and
//! the bot's); a dry run stops here and says who would be banned. Otherwise one case per
//! user is recorded (keyed by the invocation and the user, so a redelivered invocation bans
//! nobody twice), then Discord's bulk ban bans them in one request when the bot holds Manage
//! Server (Discord's condition for it), or one ban at a time otherwise; each case gets its
//! outcome, a pending tempban expiry of a banned user is cancelled (the ban is now
//! permanent), and the mod log gets one post for the whole massban. No DMs are sent.

use std::sync::Arc;

use twilight_http::request::AuditLogReason as _;
use twilight_model::{
    guild::Permissions,
    id::{
        Id,
        marker::{GuildMarker, UserMarker},
    },
};

use crate::action::ActionKind;
use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, OptionDef, OptionKind,
    Registry, RegistryError, Reply,
};
use crate::rest::RestError;
use crate::store::{CaseOutcome, NewCase, ScheduleKind, Store};

use super::super::discord::{self, Expect};
use super::super::facts;
use super::super::options::{DeleteMessages, MAX_REASON_CHARS, Reason};
use super::super::publish::post_to_modlog;
use super::super::request::Deps;
use super::super::rules::{self, Subject};
use super::{Outcome, dry_run_reply, modlog_embed, parse_users, reply};

struct Massban(Arc<dyn Store>);

/// The audit-log reason of every ban of a massban.
fn audit_reason(reason: Option<&str>, moderator: u64) -> String {
    super::super::engine::audit_reason_with(reason, &format!("massban, by {moderator}"))
}

/// Why Discord did not ban a user it names in `failed_users`.
const NOT_BANNED: &str = "Discord did not ban them (already banned, or not below my role)";

/// Bans `users` in one bulk ban; returns each user's result.
async fn bulk(
    deps: &Deps,
    guild: u64,
    users: &[u64],
    delete_secs: u32,
    audit: &str,
) -> Vec<Result<(), String>> {
    let ids: Vec<Id<UserMarker>> = users.iter().copied().map(Id::new).collect();
    let guild_id: Id<GuildMarker> = Id::new(guild);
    let res = deps
        .rest
        .call("bulk_guild_ban", |c| {
            let mut req = c.bulk_guild_ban(guild_id, &ids).reason(audit);
            if delete_secs > 0 {
                req = req.delete_message_seconds(delete_secs);
            }
            req.into_future()
        })
        .await;
    let body = match res {
        Ok(r) => r.model().await.map_err(|source| RestError::Body {
            route: "bulk_guild_ban",
            source,
        }),
        Err(e) => Err(e),
    };
    match body {
        Ok(body) => users
            .iter()
            .map(|u| {
                if body.banned_users.iter().any(|b| b.get() == *u) {
                    Ok(())
                } else {
                    Err(NOT_BANNED.to_owned())
                }
            })
            .collect(),
        Err(e) if e.after_doubt() => {
            let mut out = Vec::with_capacity(users.len());
            for u in users {
                out.push(read_back(deps, guild, *u, &e).await);
            }
            out
        }
        Err(e) => users.iter().map(|_| Err(e.to_string())).collect(),
    }
}

/// After a 5xx or no answer: whether the user is banned now.
async fn read_back(deps: &Deps, guild: u64, user: u64, e: &RestError) -> Result<(), String> {
    match discord::confirm(&deps.rest, guild, user, Expect::Banned).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(e.to_string()),
        Err(read) => Err(format!("{e}; reading the ban back failed too: {read}")),
    }
}

#[async_trait::async_trait]
impl CommandHandler for Massban {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        let given_reason = args.string("reason");
        let list = parse_users(
            args.string("users").unwrap_or_default(),
            !ctx.is_slash() && given_reason.is_none(),
        )
        .map_err(|e| CommandError::user(format!("`users`: {e}")))?;
        let reason_text = given_reason.map(str::to_owned).or(list.rest);
        let reason = Reason::parse_optional(reason_text.as_deref())
            .map_err(|e| CommandError::user(e.to_string()))?;
        let delete = match args.string("delete_messages") {
            Some(v) => v
                .parse::<DeleteMessages>()
                .map_err(|e| CommandError::user(e.to_string()))?,
            None => DeleteMessages::None,
        };
        let dry_run = args.boolean("dry_run").unwrap_or(false);
        let deps = Deps::from_services(&ctx.services, Arc::clone(&self.0));
        let moderator_id = ctx.invoker.user_id.get();

        // The rules of /ban, for each user.
        let cache = deps.cache.as_deref();
        let facts = facts::guild(cache, &deps.rest, guild)
            .await
            .map_err(CommandError::from)?;
        let moderator_roles: Vec<u64> = ctx.invoker.roles.iter().map(|r| r.get()).collect();
        let bot_roles = facts::member_roles(cache, &deps.rest, guild, deps.bot_id)
            .await
            .map_err(CommandError::from)?
            .unwrap_or_default();
        let moderator = facts.member(moderator_id, &moderator_roles);
        let bot = facts.member(deps.bot_id, &bot_roles);
        let mut allowed = Vec::new();
        let mut refused = Vec::new();
        let total = list.users.len();
        for (i, &user) in list.users.iter().enumerate() {
            let target_roles = if user == moderator_id || user == deps.bot_id {
                None
            } else {
                facts::member_roles(cache, &deps.rest, guild, user)
                    .await
                    .map_err(CommandError::from)?
            };
            let subject = Subject {
                action: ActionKind::Ban,
                owner_id: facts.owner_id,
                moderator_id,
                moderator_permissions: moderator.permissions,
                moderator_position: moderator.position,
                bot_id: deps.bot_id,
                bot_permissions: bot.permissions,
                bot_position: bot.position,
                target_id: user,
                target_member: target_roles.map(|r| facts.member(user, &r)),
            };
            match rules::check(&subject) {
                Ok(()) => allowed.push(user),
                Err(r) => refused.push((user, r.to_string())),
            }
            if i % 20 == 19 {
                ctx.progress
                    .report(format!("Checking the users… {} of {total}", i + 1));
            }
        }
        if dry_run {
            return Ok(Reply::text(dry_run_reply(&allowed, &refused)).ephemeral());
        }
        let mut outcome = Outcome {
            refused,
            ..Outcome::default()
        };
        if allowed.is_empty() {
            return Err(CommandError::user(reply(&outcome)));
        }

        // One case per user, before anything happens on Discord.
        let key = ctx.idempotency_key();
        let now = deps.now();
        let mut todo: Vec<(u64, u64)> = Vec::new();
        for &user in &allowed {
            let mut new = NewCase::new(
                guild,
                format!("{key}:{user}"),
                ActionKind::Ban,
                user,
                moderator_id,
            )
            .created_at(now);
            if let Some(r) = &reason {
                new = new.reason(r.as_str());
            }
            match self.0.insert_case(new).await.map_err(CommandError::from)? {
                (case, true) => todo.push((case.number, user)),
                (_, false) => outcome.already += 1,
            }
        }
        if todo.is_empty() {
            return Ok(Reply::text(reply(&outcome)).ephemeral());
        }

        let audit = audit_reason(reason.as_ref().map(Reason::as_str), moderator_id);
        let users: Vec<u64> = todo.iter().map(|(_, u)| *u).collect();
        let can_bulk = bot.permissions.contains(Permissions::ADMINISTRATOR)
            || bot
                .permissions
                .contains(Permissions::BAN_MEMBERS | Permissions::MANAGE_GUILD);
        let results = if can_bulk {
            ctx.progress
                .report(format!("Banning {} users…", users.len()));
            bulk(&deps, guild, &users, delete.seconds(), &audit).await
        } else {
            let mut out = Vec::with_capacity(users.len());
            for (i, &user) in users.iter().enumerate() {
                let r = match discord::ban(&deps.rest, guild, user, delete.seconds(), &audit).await
                {
                    Ok(()) => Ok(()),
                    Err(e) if e.after_doubt() => read_back(&deps, guild, user, &e).await,
                    Err(e) => Err(e.to_string()),
                };
                out.push(r);
                ctx.progress
                    .report(format!("Banning… {} of {}", i + 1, users.len()));
            }
            out
        };

        for ((number, user), result) in todo.iter().copied().zip(results) {
            let case_outcome = match &result {
                Ok(()) => CaseOutcome::Applied,
                Err(why) => CaseOutcome::Failed { error: why.clone() },
            };
            if let Err(e) = self.0.set_case_outcome(guild, number, case_outcome).await {
                tracing::warn!(guild, case = number, error = %e, "could not record a massban case's outcome");
            }
            match result {
                Ok(()) => {
                    if let Err(e) = self
                        .0
                        .cancel_schedules(guild, user, ScheduleKind::Unban)
                        .await
                    {
                        tracing::warn!(guild, user, error = %e, "could not cancel a tempban expiry after a massban");
                    }
                    outcome.banned.push((number, user));
                }
                Err(why) => outcome.failed.push((number, user, why)),
            }
        }

        match self.0.guild_config(guild).await {
            Ok(config) => {
                if let Some(channel) = config.mod_log_channel {
                    let embed = modlog_embed(
                        &outcome,
                        moderator_id,
                        reason.as_ref().map(Reason::as_str),
                        now.unix_secs(),
                    );
                    let once = format!("massban:{guild}:{key}");
                    post_to_modlog(&deps, guild, channel, &embed, &once).await;
                }
            }
            Err(e) => {
                tracing::warn!(guild, error = %e, "settings unavailable; the massban is not posted in the mod log");
            }
        }
        Ok(Reply::text(reply(&outcome)).ephemeral())
    }
}

/// Registers `/massban`.
///
/// # Errors
/// A registry error (a duplicate name).
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    let delete = DeleteMessages::ALL.iter().fold(
        OptionDef::new(
            "delete_messages",
            "How much of their recent messages to delete",
            OptionKind::String,
        )
        .named_only(),
        |o, c| o.choice(c.label(), c.value()),
    );
    registry.register(
        CommandDef::new(
            "massban",
            "Ban up to 200 users at once (a raid), one case each",
            Massban(store),
        )
        .ephemeral()
        .option(
            OptionDef::new(
                "users",
                "User mentions or ids, separated by spaces (up to 200)",
                OptionKind::String,
            )
            .required()
            .max_length(6000),
        )
        .option(
            OptionDef::new("reason", "Why (shown in the audit log)", OptionKind::String)
                .max_length(MAX_REASON_CHARS as u16)
                .named_only(),
        )
        .option(delete)
        .option(
            OptionDef::new(
                "dry_run",
                "Only show who would be banned and who not",
                OptionKind::Boolean,
            )
            .named_only(),
        )
        .permissions(Permissions::BAN_MEMBERS)
        .category("Moderation"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_reason_fits() {
        assert_eq!(audit_reason(None, 5), "massban, by 5");
        assert_eq!(audit_reason(Some("raid"), 5), "raid (massban, by 5)");
        let long = "x".repeat(600);
        assert_eq!(
            audit_reason(Some(&long), 5).chars().count(),
            MAX_REASON_CHARS
        );
    }
}
