//! The moderation commands, each available as a slash command and as a prefix command
//! (`k!ban @user 1d spam`). Prefix words map to the options in the order they are declared
//! here; the reason, last, takes the rest of the line.

use std::sync::Arc;
use std::time::Duration;

use twilight_model::guild::Permissions;

use crate::action::ActionKind;
use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, OptionDef, OptionKind,
    Registry, RegistryError, Reply, SubcommandDef,
};
use crate::store::{CaseOutcome, EscalationAction, EscalationRule, Store};

use super::engine::{self, ActionError, ActionReport, ActionRequest, Deps, DmStatus};
use super::options::{DeleteMessages, MAX_REASON_CHARS, Reason};
use super::timeout::TIMEOUT_CAP;
use crate::duration::{DurationError, format_duration, parse_duration};

const CATEGORY: &str = "Moderation";

/// Adds every moderation command to the registry; the handlers keep `store` (cases,
/// schedules, guild settings).
///
/// # Errors
/// A definition the registry refuses (duplicate name, invalid option).
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    let st = Shared { store };
    let user = |d: &str| OptionDef::new("user", d, OptionKind::User).required();
    let reason = || {
        OptionDef::new("reason", "Why (shown in the audit log)", OptionKind::String)
            .max_length(MAX_REASON_CHARS as u16)
    };
    let delete = || {
        DeleteMessages::ALL.iter().fold(
            OptionDef::new(
                "delete_messages",
                "How much of their recent messages to delete",
                OptionKind::String,
            ),
            |o, c| o.choice(c.label(), c.value()),
        )
    };
    let moderation = |name: &str, description: &str, kind: ActionKind| {
        CommandDef::new(name, description, ActionCommand(kind, st.clone()))
            .permissions(kind.permission())
            .category(CATEGORY)
    };
    registry.register(
        moderation("ban", "Ban a user, optionally for a time", ActionKind::Ban)
            .option(user("Who to ban"))
            .option(OptionDef::new(
                "duration",
                "Lift the ban after this long (e.g. 1d, 2h30m); permanent when empty",
                OptionKind::Duration,
            ))
            .option(delete())
            .option(reason()),
    )?;
    registry.register(
        moderation("unban", "Lift a ban", ActionKind::Unban)
            .option(user("Who to unban"))
            .option(reason()),
    )?;
    registry.register(
        moderation(
            "softban",
            "Ban and unban at once to delete a user's recent messages",
            ActionKind::Softban,
        )
        .option(user("Who to softban"))
        .option(delete())
        .option(reason()),
    )?;
    registry.register(
        moderation("kick", "Remove a member from the server", ActionKind::Kick)
            .option(user("Who to kick"))
            .option(reason()),
    )?;
    registry.register(
        moderation(
            "timeout",
            "Time a member out (longer than 28 days is renewed until it ends)",
            ActionKind::Timeout,
        )
        .option(user("Who to time out"))
        .option(
            OptionDef::new(
                "duration",
                "How long (e.g. 90s, 1h30m, 2d, 1w)",
                OptionKind::Duration,
            )
            .required(),
        )
        .option(reason()),
    )?;
    registry.register(
        moderation(
            "untimeout",
            "Lift a member's timeout",
            ActionKind::Untimeout,
        )
        .option(user("Whose timeout to lift"))
        .option(reason()),
    )?;
    registry.register(
        moderation(
            "warn",
            "Warn a member (recorded as a case)",
            ActionKind::Warn,
        )
        .option(user("Who to warn"))
        .option(reason().required()),
    )?;
    registry.register(
        CommandDef::new(
            "modlog",
            "Set the channel where cases are posted",
            SetModlog(st.clone()),
        )
        .ephemeral()
        .option(OptionDef::new("channel", "The mod-log channel", OptionKind::Channel).required())
        .permissions(Permissions::MANAGE_GUILD)
        .category(CATEGORY),
    )?;
    registry.register(
        CommandDef::new(
            "moddm",
            "Whether users get a DM before they are banned, kicked, timed out or warned",
            SetDm(st.clone()),
        )
        .ephemeral()
        .option(OptionDef::new("enabled", "Send the DM", OptionKind::Boolean).required())
        .permissions(Permissions::MANAGE_GUILD)
        .category(CATEGORY),
    )?;
    registry.register(
        CommandDef::new(
            "escalation",
            "Automatic actions after repeated warns",
            Escalation(st.clone()),
        )
        .ephemeral()
        .subcommand(
            SubcommandDef::new("add", "Add a rule: N warns within T → action")
                .option(
                    OptionDef::new("warns", "How many warns", OptionKind::Integer)
                        .required()
                        .range(1, 100),
                )
                .option(
                    OptionDef::new(
                        "within",
                        "Within how long (e.g. 1d, 1w)",
                        OptionKind::Duration,
                    )
                    .required(),
                )
                .option(
                    OptionDef::new("action", "What to do", OptionKind::String)
                        .required()
                        .choice("Timeout", "timeout")
                        .choice("Kick", "kick")
                        .choice("Ban", "ban"),
                )
                .option(OptionDef::new(
                    "duration",
                    "Timeout length (for timeout)",
                    OptionKind::Duration,
                )),
        )
        .subcommand(SubcommandDef::new("list", "Show the rules"))
        .subcommand(
            SubcommandDef::new("remove", "Remove a rule by its number in the list").option(
                OptionDef::new("number", "Rule number", OptionKind::Integer)
                    .required()
                    .range(1, 100),
            ),
        )
        .permissions(Permissions::MANAGE_GUILD)
        .category(CATEGORY),
    )?;
    super::cases::register(registry, Arc::clone(&st.store))?;
    super::purge::command::register(registry, Arc::clone(&st.store))?;
    super::massban::command::register(registry, Arc::clone(&st.store))?;
    super::lockdown::command::register(registry, Arc::clone(&st.store))?;
    super::menus::register(registry, st.store)?;
    Ok(())
}

/// What every moderation handler holds.
#[derive(Clone)]
struct Shared {
    store: Arc<dyn Store>,
}

impl Shared {
    /// The services the flow needs, for this invocation.
    fn deps(&self, ctx: &CommandContext) -> Deps {
        Deps::from_services(&ctx.services, self.store.clone())
    }
}

fn action_error(e: ActionError) -> CommandError {
    match e {
        ActionError::Store(e) => CommandError::from(e),
        ActionError::Facts(e) => CommandError::Discord(Box::new(e)),
        other => CommandError::user(other.to_string()),
    }
}

/// A moderation command: carries out its [`ActionKind`] (a ban with a duration is a tempban).
struct ActionCommand(ActionKind, Shared);

fn bad_duration(option: &str, e: &DurationError) -> CommandError {
    CommandError::user(format!("`{option}`: {e}"))
}

/// Reads ban-like options. In prefix form a word in the `duration` slot that is not a
/// duration belongs to what follows: a `delete_messages` choice, or the start of the reason.
/// Duration, message deletion and reason as read from a ban-like command.
type BanOptions = (Option<Duration>, Option<DeleteMessages>, Option<String>);

fn read_options(ctx: &CommandContext, args: &Args) -> Result<BanOptions, CommandError> {
    let mut reason = args.string("reason").map(str::to_owned);
    let mut delete = match args.string("delete_messages") {
        Some(v) => Some(
            v.parse::<DeleteMessages>()
                .map_err(|e| CommandError::user(e.to_string()))?,
        ),
        None => None,
    };
    let duration = match args.string("duration") {
        None => None,
        Some(word) => match parse_duration(word) {
            Ok(d) => Some(d),
            Err(e) => {
                let starts_with_digit = word.trim_start().starts_with(|c: char| c.is_ascii_digit());
                if ctx.is_slash() || starts_with_digit {
                    return Err(bad_duration("duration", &e));
                }
                match word.parse::<DeleteMessages>() {
                    Ok(d) if delete.is_none() => delete = Some(d),
                    _ => {
                        reason = Some(match reason {
                            Some(r) => format!("{word} {r}"),
                            None => word.to_owned(),
                        });
                    }
                }
                None
            }
        },
    };
    Ok((duration, delete, reason))
}

#[async_trait::async_trait]
impl CommandHandler for ActionCommand {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild_id = ctx.require_guild()?.get();
        let user_id = args
            .user("user")
            .ok_or_else(|| CommandError::user("`user` is missing"))?
            .get();
        let (duration, delete, reason_text) = match self.0 {
            ActionKind::Ban | ActionKind::Softban => read_options(ctx, args)?,
            ActionKind::Timeout => {
                let word = args.string("duration").unwrap_or_default();
                let d = parse_duration(word).map_err(|e| bad_duration("duration", &e))?;
                (Some(d), None, args.string("reason").map(str::to_owned))
            }
            _ => (None, None, args.string("reason").map(str::to_owned)),
        };
        let reason = Reason::parse_optional(reason_text.as_deref())
            .map_err(|e| CommandError::user(e.to_string()))?;
        if self.0 == ActionKind::Warn && reason.is_none() {
            return Err(CommandError::user("a warn needs a reason"));
        }
        let kind = match self.0 {
            ActionKind::Ban if duration.is_some() => ActionKind::Tempban,
            kind => kind,
        };
        let delete_messages = match (self.0, delete) {
            (_, Some(d)) => d,
            (ActionKind::Softban, None) => DeleteMessages::Day,
            _ => DeleteMessages::None,
        };
        let req = ActionRequest {
            guild_id,
            kind,
            user_id,
            moderator_id: ctx.invoker.user_id.get(),
            moderator_roles: Some(ctx.invoker.roles.iter().map(|r| r.get()).collect()),
            reason,
            duration,
            delete_messages,
            idempotency_key: ctx.idempotency_key(),
            references: Vec::new(),
            evidence: None,
        };
        let report = engine::perform(&self.1.deps(ctx), req)
            .await
            .map_err(action_error)?;
        report_reply(&report)
    }
}

/// One line describing what a report did.
fn summary(report: &ActionReport) -> Result<String, String> {
    let case = &report.case;
    let who = format!("<@{}>", case.user_id);
    match &case.outcome {
        CaseOutcome::Failed { error } => Err(format!(
            "Could not {} {who}: {error}. Case #{} records the failure.",
            case.kind.attempted(),
            case.number
        )),
        CaseOutcome::Pending => Err(format!(
            "Case #{} is still being carried out; check it with /case {}.",
            case.number, case.number
        )),
        CaseOutcome::Applied => {
            let mut line = format!("{} {who}", case.kind.done());
            if let Some(secs) = case.duration_secs {
                let ends = case.created_at.unix_secs() + i64::try_from(secs).unwrap_or(i64::MAX);
                line.push_str(&format!(
                    " for {} (until <t:{ends}:f>)",
                    format_duration(Duration::from_secs(secs))
                ));
            }
            line.push_str(&format!(" · case #{}", case.number));
            if report.replayed {
                line.push_str(" (already done; nothing was repeated)");
            }
            if let Some(r) = &case.reason {
                line.push_str(&format!("\nReason: {r}"));
            }
            if report.recorded_later {
                line.push_str(&format!(
                    "\nStorage is unavailable right now: case #{} will be recorded (and posted \
                     to the mod log) as soon as it is back.",
                    case.number
                ));
            }
            if report.renewals > 0 {
                line.push_str(&format!(
                    "\nDiscord caps a timeout at {}: it will be renewed {} time{} until it ends.",
                    format_duration(TIMEOUT_CAP),
                    report.renewals,
                    if report.renewals == 1 { "" } else { "s" }
                ));
            }
            Ok(line)
        }
    }
}

fn report_reply(report: &ActionReport) -> Result<Reply, CommandError> {
    let mut text = summary(report).map_err(CommandError::user)?;
    if let DmStatus::Failed(e) = &report.dm {
        text.push_str(&format!(
            "\n(The DM to the user failed: {e}; the action went ahead.)"
        ));
    }
    match &report.escalation {
        Some(Ok(esc)) => match summary(esc) {
            Ok(line) => text.push_str(&format!("\nEscalation: {line}")),
            Err(line) => text.push_str(&format!("\nEscalation failed: {line}")),
        },
        Some(Err(e)) => text.push_str(&format!("\nEscalation could not run: {e}")),
        None => {}
    }
    Ok(Reply::text(text).public())
}

struct SetModlog(Shared);

#[async_trait::async_trait]
impl CommandHandler for SetModlog {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        let channel = args
            .channel("channel")
            .ok_or_else(|| CommandError::user("`channel` is missing"))?
            .get();
        ctx.services
            .guild_configs
            .update(&*self.0.store, guild, |c| {
                c.mod_log_channel = Some(channel);
                Ok::<_, CommandError>(())
            })
            .await
            .map_err(CommandError::from)??;
        Ok(Reply::text(format!("Cases will be posted in <#{channel}>.")).ephemeral())
    }
}

struct SetDm(Shared);

#[async_trait::async_trait]
impl CommandHandler for SetDm {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        let enabled = args.boolean("enabled").unwrap_or(false);
        ctx.services
            .guild_configs
            .update(&*self.0.store, guild, |c| {
                c.dm_on_action = enabled;
                Ok::<_, CommandError>(())
            })
            .await
            .map_err(CommandError::from)??;
        Ok(Reply::text(if enabled {
            "Users will get a DM before an action against them (a failed DM never stops the action)."
        } else {
            "Users will not get a DM before actions."
        })
        .ephemeral())
    }
}

/// Renders an escalation rule for people (`3 warns within 1d → timeout 1h`).
#[must_use]
pub fn describe_rule(rule: &EscalationRule) -> String {
    let action = match rule.action {
        EscalationAction::Timeout { secs } => {
            format!("timeout {}", format_duration(Duration::from_secs(secs)))
        }
        EscalationAction::Kick => "kick".into(),
        EscalationAction::Ban => "ban".into(),
    };
    format!(
        "{} warns within {} → {action}",
        rule.warns,
        format_duration(Duration::from_secs(rule.within_secs))
    )
}

/// Longest list of escalation rules per guild.
pub const MAX_ESCALATION_RULES: usize = 10;

struct Escalation(Shared);

#[async_trait::async_trait]
impl CommandHandler for Escalation {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        let store = &*self.0.store;
        let configs = &ctx.services.guild_configs;
        match args.subcommand() {
            Some("add") => {
                let warns = u32::try_from(args.integer("warns").unwrap_or(0))
                    .map_err(|_| CommandError::user("`warns` must be between 1 and 100"))?;
                let within = parse_duration(args.string("within").unwrap_or_default())
                    .map_err(|e| bad_duration("within", &e))?;
                let action = match args.string("action").unwrap_or_default() {
                    "timeout" => {
                        let word = args
                            .string("duration")
                            .ok_or_else(|| CommandError::user("a timeout rule needs `duration`"))?;
                        let d = parse_duration(word).map_err(|e| bad_duration("duration", &e))?;
                        EscalationAction::Timeout { secs: d.as_secs() }
                    }
                    "kick" => EscalationAction::Kick,
                    "ban" => EscalationAction::Ban,
                    other => {
                        return Err(CommandError::user(format!(
                            "`{other}` is not an action; use timeout, kick or ban"
                        )));
                    }
                };
                let rule = EscalationRule {
                    warns,
                    within_secs: within.as_secs(),
                    action,
                };
                let text = describe_rule(&rule);
                configs
                    .update(store, guild, |config| {
                        if config.escalation.len() >= MAX_ESCALATION_RULES {
                            return Err(CommandError::user(format!(
                                "a server can have at most {MAX_ESCALATION_RULES} escalation rules"
                            )));
                        }
                        config.escalation.push(rule);
                        Ok(())
                    })
                    .await
                    .map_err(CommandError::from)??;
                Ok(Reply::text(format!("Added: {text}")).ephemeral())
            }
            Some("remove") => {
                let n = usize::try_from(args.integer("number").unwrap_or(0)).unwrap_or(0);
                let rule = configs
                    .update(store, guild, |config| {
                        if n == 0 || n > config.escalation.len() {
                            return Err(CommandError::user(format!(
                                "there is no rule {n}; /escalation list shows them"
                            )));
                        }
                        Ok(config.escalation.remove(n - 1))
                    })
                    .await
                    .map_err(CommandError::from)??;
                Ok(Reply::text(format!("Removed: {}", describe_rule(&rule))).ephemeral())
            }
            _ => {
                let config = store
                    .guild_config(guild)
                    .await
                    .map_err(CommandError::from)?;
                if config.escalation.is_empty() {
                    return Ok(Reply::text("No escalation rules.").ephemeral());
                }
                let lines: Vec<String> = config
                    .escalation
                    .iter()
                    .enumerate()
                    .map(|(i, r)| format!("{}. {}", i + 1, describe_rule(r)))
                    .collect();
                Ok(Reply::text(lines.join("\n")).ephemeral())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::commands::Registry;

    #[tokio::test]
    async fn every_moderation_command_is_hidden_from_members() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&crate::store::StoreConfig::Embedded {
            path: dir.path().join("kyuta.redb"),
        })
        .await
        .unwrap();
        let mut registry = Registry::new();
        super::register(&mut registry, store).unwrap();
        for def in registry.iter() {
            assert!(
                def.default_member_permissions
                    .is_some_and(|p| !p.is_empty()),
                "/{} is shown to every member",
                def.name
            );
        }
    }
}
