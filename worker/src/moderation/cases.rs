//! The case records: `/case` (show, hide, unhide, delete), `/cases`, `/reason`, `/note` and
//! `/warnings` (list, remove, clear).
//!
//! Nothing here deletes a record for good. A deleted case (`/case delete`, `/warnings remove`
//! and `clear`) is kept with who deleted it, when and why; it is no longer listed and no
//! longer counts towards escalation. A hidden case is left out of `/cases` (unless asked for)
//! and still counts. Every change is kept in the case's history, shown by `/case`, and a
//! deletion is posted in the mod log.

use std::sync::Arc;
use std::time::Duration;

use twilight_model::channel::message::Embed;
use twilight_model::guild::Permissions;

use crate::action::ActionKind;
use crate::commands::dispatch::{check_any_permission, check_permissions};
use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, EmbedBuilder, OptionDef,
    OptionKind, Registry, RegistryError, Reply, SubcommandDef,
};
use crate::duration::format_duration;
use crate::store::{
    Case, CaseChange, CaseChangeKind, CaseFilter, CaseOutcome, MAX_PER_PAGE, NewCase, Store,
    Timestamp,
};

use super::engine::{self, MODERATOR_PERMISSIONS};
use super::modlog::{self, build_embed};
use super::options::{MAX_REASON_CHARS, Reason};
use super::publish::{post_modlog, post_to_modlog};
use super::request::Deps;

/// Cases per page of `/cases` and `/warnings list`.
pub const CASES_PER_PAGE: u32 = 10;

const CATEGORY: &str = "Moderation";

/// Colour of the mod-log notice of a deleted case.
const VOID_COLOUR: u32 = 0x95_A5_A6;

/// What every handler here holds.
#[derive(Clone)]
struct Shared {
    store: Arc<dyn Store>,
}

impl Shared {
    fn deps(&self, ctx: &CommandContext) -> Deps {
        Deps::from_services(&ctx.services, Arc::clone(&self.store))
    }
}

/// The dispatcher's check of these commands (`visible_to_any`), again for callers that run a
/// handler directly.
fn require_moderator(ctx: &CommandContext) -> Result<(), CommandError> {
    check_any_permission(MODERATOR_PERMISSIONS, ctx.invoker.permissions)
}

fn number(args: &Args, option: &str) -> u64 {
    u64::try_from(args.integer(option).unwrap_or(0)).unwrap_or(0)
}

fn reason(args: &Args) -> Result<Option<Reason>, CommandError> {
    Reason::parse_optional(args.string("reason")).map_err(|e| CommandError::user(e.to_string()))
}

fn change(ctx: &CommandContext, kind: CaseChangeKind, reason: Option<&Reason>) -> CaseChange {
    CaseChange {
        kind,
        by: ctx.invoker.user_id.get(),
        at: Timestamp::from_unix_millis(
            i64::try_from(ctx.clock().unix_millis()).unwrap_or(i64::MAX),
        ),
        reason: reason.map(|r| r.as_str().to_owned()),
    }
}

impl Shared {
    /// The case, or a refusal naming the number.
    async fn case(&self, guild: u64, number: u64) -> Result<Case, CommandError> {
        self.store
            .get_case(guild, number)
            .await
            .map_err(CommandError::from)?
            .ok_or_else(|| CommandError::user(format!("there is no case #{number}")))
    }

    /// Deletes `case` and posts the notice in the mod log.
    async fn void(
        &self,
        ctx: &CommandContext,
        case: &Case,
        reason: Option<&Reason>,
    ) -> Result<Case, CommandError> {
        let voided = self
            .store
            .change_case(
                case.guild_id,
                case.number,
                change(ctx, CaseChangeKind::Voided, reason),
            )
            .await
            .map_err(CommandError::from)?;
        self.post_void_notice(ctx, std::slice::from_ref(&voided))
            .await;
        Ok(voided)
    }

    /// One mod-log post for deleted cases.
    async fn post_void_notice(&self, ctx: &CommandContext, cases: &[Case]) {
        let Some(first) = cases.first() else { return };
        let guild = first.guild_id;
        let channel = match self.store.guild_config(guild).await {
            Ok(c) => c.mod_log_channel,
            Err(e) => {
                tracing::warn!(guild, error = %e, "settings unavailable; the deletion is not posted");
                None
            }
        };
        let Some(channel) = channel else { return };
        let numbers: Vec<u64> = cases.iter().map(|c| c.number).collect();
        let embed = void_notice(cases, ctx.invoker.user_id.get());
        let once = format!(
            "casevoid:{guild}:{}",
            numbers
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        post_to_modlog(&self.deps(ctx), guild, channel, &embed, &once).await;
    }
}

/// The mod-log notice of deleted cases.
fn void_notice(cases: &[Case], by: u64) -> Embed {
    let numbers: Vec<u64> = cases.iter().map(|c| c.number).collect();
    let list = super::massban::case_ranges(&numbers);
    let why = cases
        .first()
        .and_then(|c| c.voided.as_ref())
        .and_then(|v| v.reason.clone())
        .unwrap_or_else(|| modlog::NO_REASON.to_owned());
    EmbedBuilder::new()
        .title(if cases.len() == 1 {
            format!("Case {list} deleted")
        } else {
            format!("Cases {list} deleted")
        })
        .description(modlog::truncate(
            &format!(
                "By <@{by}>: {why}\nKept for the record; no longer listed or counted towards escalation."
            ),
            4096,
        ))
        .colour(VOID_COLOUR)
        .build()
}

/// `/case N`'s embed: the mod-log embed with the case's state and history.
fn case_embed(case: &Case) -> Embed {
    use twilight_model::channel::message::embed::EmbedField;
    let field = |name: &str, value: String| EmbedField {
        inline: false,
        name: name.into(),
        value: modlog::truncate(&value, 1024),
    };
    let mut embed = build_embed(&engine::modlog_entry(case));
    if case.outcome == CaseOutcome::Pending {
        embed.fields.push(field("Outcome", "Pending".into()));
    }
    if let Some(v) = &case.voided {
        embed.fields.push(field(
            "Deleted",
            format!(
                "<t:{}:f> by <@{}>: {}",
                v.at.unix_secs(),
                v.by,
                v.reason.as_deref().unwrap_or(modlog::NO_REASON)
            ),
        ));
    } else if case.hidden {
        embed.fields.push(field(
            "Hidden",
            "Not listed by /cases; still counts towards escalation".into(),
        ));
    }
    if !case.reason_history.is_empty() {
        let lines: Vec<String> = case
            .reason_history
            .iter()
            .map(|e| {
                format!(
                    "<t:{}:f> by <@{}>: {}",
                    e.edited_at.unix_secs(),
                    e.editor_id,
                    e.previous.as_deref().unwrap_or(modlog::NO_REASON)
                )
            })
            .collect();
        embed
            .fields
            .push(field("Earlier reasons", lines.join("\n")));
    }
    if !case.changes.is_empty() {
        let lines: Vec<String> = case
            .changes
            .iter()
            .map(|c| {
                let what = match c.kind {
                    CaseChangeKind::Hidden => "hidden",
                    CaseChangeKind::Unhidden => "listed again",
                    CaseChangeKind::Voided => "deleted",
                };
                format!("<t:{}:f> {what} by <@{}>", c.at.unix_secs(), c.by)
            })
            .collect();
        embed.fields.push(field("History", lines.join("\n")));
    }
    embed
}

fn case_line(case: &Case) -> String {
    let outcome = match &case.outcome {
        CaseOutcome::Applied => "",
        CaseOutcome::Pending => " (pending)",
        CaseOutcome::Failed { .. } => " (failed)",
    };
    let hidden = if case.hidden { " (hidden)" } else { "" };
    let duration = case
        .duration_secs
        .map(|s| format!(" {}", format_duration(Duration::from_secs(s))))
        .unwrap_or_default();
    let user = if case.user_id == 0 {
        modlog::ANY_USER.to_owned()
    } else {
        format!("<@{}>", case.user_id)
    };
    format!(
        "**#{}** {}{duration}{outcome}{hidden} · {user} by <@{}> · <t:{}:R> · {}",
        case.number,
        case.kind.label(),
        case.moderator_id,
        case.created_at.unix_secs(),
        modlog::truncate(case.reason.as_deref().unwrap_or(modlog::NO_REASON), 80)
    )
}

/// A page of cases as a reply.
async fn case_page(
    store: &dyn Store,
    guild: u64,
    filter: &CaseFilter,
    page: u32,
    title: &str,
) -> Result<Reply, CommandError> {
    let found = store
        .list_cases(guild, filter, page - 1, CASES_PER_PAGE)
        .await
        .map_err(CommandError::from)?;
    let pages = found.total.div_ceil(u64::from(CASES_PER_PAGE)).max(1);
    if found.cases.is_empty() {
        return Ok(Reply::text(if found.total == 0 {
            "No cases match.".to_owned()
        } else {
            format!("Page {page} is past the end; there are {pages} pages.")
        })
        .ephemeral());
    }
    let lines: Vec<String> = found.cases.iter().map(case_line).collect();
    let embed = EmbedBuilder::new()
        .title(format!(
            "{title} ({} total) · page {page}/{pages}",
            found.total
        ))
        .description(modlog::truncate(&lines.join("\n"), 4096))
        .build();
    Ok(Reply::embed(embed).ephemeral())
}

fn page(args: &Args) -> u32 {
    u32::try_from(args.integer("page").unwrap_or(1).max(1)).unwrap_or(1)
}

/// `/case show|hide|unhide|delete`.
struct CaseCommand(Shared);

#[async_trait::async_trait]
impl CommandHandler for CaseCommand {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        require_moderator(ctx)?;
        let n = number(args, "number");
        let case = self.0.case(guild, n).await?;
        let kind = match args.subcommand() {
            Some("hide") => CaseChangeKind::Hidden,
            Some("unhide") => CaseChangeKind::Unhidden,
            Some("delete") => {
                // Deleting a record is for those who run the server.
                check_permissions(Permissions::MANAGE_GUILD, ctx.invoker.permissions)?;
                if case.voided.is_some() {
                    return Err(CommandError::user(format!("case #{n} is already deleted")));
                }
                let reason = reason(args)?;
                self.0.void(ctx, &case, reason.as_ref()).await?;
                return Ok(Reply::text(format!(
                    "Deleted case #{n}: it is kept for the record, but no longer listed or counted towards escalation."
                ))
                .ephemeral());
            }
            _ => return Ok(Reply::embed(case_embed(&case)).ephemeral()),
        };
        self.0
            .store
            .change_case(guild, n, change(ctx, kind, None))
            .await
            .map_err(CommandError::from)?;
        Ok(Reply::text(match kind {
            CaseChangeKind::Hidden => format!(
                "Case #{n} is hidden from `/cases` (`/cases hidden:true` lists it); it still counts towards escalation."
            ),
            _ => format!("Case #{n} is listed again."),
        })
        .ephemeral())
    }
}

struct ListCases(Shared);

#[async_trait::async_trait]
impl CommandHandler for ListCases {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        require_moderator(ctx)?;
        let filter = CaseFilter {
            user_id: args.user("user").map(|u| u.get()),
            moderator_id: args.user("moderator").map(|u| u.get()),
            kind: None,
            include_hidden: args.boolean("hidden").unwrap_or(false),
        };
        case_page(&*self.0.store, guild, &filter, page(args), "Cases").await
    }
}

struct EditReason(Shared);

#[async_trait::async_trait]
impl CommandHandler for EditReason {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        require_moderator(ctx)?;
        let number = number(args, "case");
        let reason = Reason::parse_optional(args.string("text"))
            .map_err(|e| CommandError::user(e.to_string()))?
            .ok_or_else(|| CommandError::user("the new reason is empty"))?;
        self.0.case(guild, number).await?;
        let store = &self.0.store;
        let case = store
            .edit_case_reason(
                guild,
                number,
                Some(reason.into_string()),
                ctx.invoker.user_id.get(),
            )
            .await
            .map_err(CommandError::from)?;
        let config = store
            .guild_config(guild)
            .await
            .map_err(CommandError::from)?;
        post_modlog(&self.0.deps(ctx), config.mod_log_channel, &case).await;
        Ok(Reply::text(format!("Updated the reason of case #{number}.")).ephemeral())
    }
}

/// `/note user text`: a case that records something about a user and does nothing to them.
struct Note(Shared);

#[async_trait::async_trait]
impl CommandHandler for Note {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        require_moderator(ctx)?;
        let user = args
            .user("user")
            .ok_or_else(|| CommandError::user("`user` is missing"))?
            .get();
        let text = Reason::parse_optional(args.string("text"))
            .map_err(|e| CommandError::user(e.to_string()))?
            .ok_or_else(|| CommandError::user("a note needs a text"))?;
        let new = NewCase::new(
            guild,
            ctx.idempotency_key(),
            ActionKind::Note,
            user,
            ctx.invoker.user_id.get(),
        )
        .reason(text.into_string())
        .outcome(CaseOutcome::Applied)
        .created_at(self.0.deps(ctx).now());
        let (case, created) = self
            .0
            .store
            .insert_case(new)
            .await
            .map_err(CommandError::from)?;
        if created {
            let config = self
                .0
                .store
                .guild_config(guild)
                .await
                .map_err(CommandError::from)?;
            post_modlog(&self.0.deps(ctx), config.mod_log_channel, &case).await;
        }
        Ok(Reply::text(format!(
            "Noted on <@{user}> as case #{}; they are not told.",
            case.number
        ))
        .ephemeral())
    }
}

/// `/warnings list|remove|clear`.
struct Warnings(Shared);

impl Warnings {
    /// Every warn of `user` that counts (hidden ones too), newest first.
    async fn active(&self, guild: u64, user: u64) -> Result<Vec<Case>, CommandError> {
        let filter = CaseFilter {
            user_id: Some(user),
            kind: Some(ActionKind::Warn),
            include_hidden: true,
            ..CaseFilter::default()
        };
        let mut out = Vec::new();
        for page in 0.. {
            let found = self
                .0
                .store
                .list_cases(guild, &filter, page, MAX_PER_PAGE)
                .await
                .map_err(CommandError::from)?;
            let n = found.cases.len();
            out.extend(found.cases);
            if n < MAX_PER_PAGE as usize || out.len() as u64 >= found.total {
                break;
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl CommandHandler for Warnings {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        match args.subcommand() {
            Some("remove") => {
                let n = number(args, "case");
                let case = self.0.case(guild, n).await?;
                if case.kind != ActionKind::Warn {
                    return Err(CommandError::user(format!(
                        "case #{n} is a {}, not a warn; `/case delete` deletes other cases",
                        case.kind.label().to_lowercase()
                    )));
                }
                if case.voided.is_some() {
                    return Err(CommandError::user(format!("warn #{n} is already removed")));
                }
                let reason = reason(args)?;
                self.0.void(ctx, &case, reason.as_ref()).await?;
                Ok(Reply::text(format!(
                    "Removed warn #{n} of <@{}>; it no longer counts towards escalation.",
                    case.user_id
                ))
                .ephemeral())
            }
            Some("clear") => {
                let user = args
                    .user("user")
                    .ok_or_else(|| CommandError::user("`user` is missing"))?
                    .get();
                let reason = reason(args)?;
                let warns = self.active(guild, user).await?;
                if warns.is_empty() {
                    return Ok(Reply::text(format!("<@{user}> has no warns.")).ephemeral());
                }
                let mut voided = Vec::with_capacity(warns.len());
                for w in &warns {
                    voided.push(
                        self.0
                            .store
                            .change_case(
                                guild,
                                w.number,
                                change(ctx, CaseChangeKind::Voided, reason.as_ref()),
                            )
                            .await
                            .map_err(CommandError::from)?,
                    );
                }
                self.0.post_void_notice(ctx, &voided).await;
                Ok(Reply::text(format!(
                    "Cleared {} warn{} of <@{user}>; they no longer count towards escalation.",
                    voided.len(),
                    if voided.len() == 1 { "" } else { "s" }
                ))
                .ephemeral())
            }
            _ => {
                let user = args
                    .user("user")
                    .ok_or_else(|| CommandError::user("`user` is missing"))?
                    .get();
                let filter = CaseFilter {
                    user_id: Some(user),
                    kind: Some(ActionKind::Warn),
                    include_hidden: true,
                    ..CaseFilter::default()
                };
                case_page(&*self.0.store, guild, &filter, page(args), "Warns").await
            }
        }
    }
}

/// Registers `/case`, `/cases`, `/reason`, `/note` and `/warnings`.
///
/// # Errors
/// A registry error (a duplicate name).
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    let st = Shared { store };
    let number = || {
        OptionDef::new("number", "Case number", OptionKind::Integer)
            .required()
            .range(1, i64::MAX)
    };
    let reason = || {
        OptionDef::new("reason", "Why (kept with the case)", OptionKind::String)
            .max_length(MAX_REASON_CHARS as u16)
    };
    let moderators = |def: CommandDef| {
        def.ephemeral()
            .visible_to_any(Permissions::MODERATE_MEMBERS, MODERATOR_PERMISSIONS)
            .category(CATEGORY)
    };
    registry.register(moderators(
        CommandDef::new(
            "case",
            "Show, hide or delete a case",
            CaseCommand(st.clone()),
        )
        .subcommand(SubcommandDef::new("show", "Show a case").option(number()))
        .subcommand(
            SubcommandDef::new(
                "hide",
                "Leave a case out of /cases (it still counts towards escalation)",
            )
            .option(number()),
        )
        .subcommand(SubcommandDef::new("unhide", "List a hidden case again").option(number()))
        .subcommand(
            SubcommandDef::new(
                "delete",
                "Delete a case: kept for the record, no longer listed or counted",
            )
            .option(number())
            .option(reason()),
        )
        .default_subcommand("show"),
    ))?;
    registry.register(moderators(
        CommandDef::new("cases", "List cases, newest first", ListCases(st.clone()))
            .option(OptionDef::new(
                "user",
                "Only cases about this user",
                OptionKind::User,
            ))
            .option(OptionDef::new(
                "moderator",
                "Only cases by this moderator",
                OptionKind::User,
            ))
            .option(OptionDef::new("page", "Page (from 1)", OptionKind::Integer).range(1, 100_000))
            .option(
                OptionDef::new("hidden", "Also hidden cases", OptionKind::Boolean).named_only(),
            ),
    ))?;
    registry.register(moderators(
        CommandDef::new(
            "reason",
            "Change a case's reason (the old one is kept)",
            EditReason(st.clone()),
        )
        .option(
            OptionDef::new("case", "Case number", OptionKind::Integer)
                .required()
                .range(1, i64::MAX),
        )
        .option(
            OptionDef::new("text", "The new reason", OptionKind::String)
                .required()
                .max_length(MAX_REASON_CHARS as u16),
        ),
    ))?;
    registry.register(moderators(
        CommandDef::new(
            "note",
            "Record a note about a user (a case; nothing happens to them)",
            Note(st.clone()),
        )
        .option(OptionDef::new("user", "Who the note is about", OptionKind::User).required())
        .option(
            OptionDef::new("text", "The note", OptionKind::String)
                .required()
                .max_length(MAX_REASON_CHARS as u16),
        ),
    ))?;
    let user = |d: &str| OptionDef::new("user", d, OptionKind::User).required();
    registry.register(
        CommandDef::new(
            "warnings",
            "List, remove or clear a user's warns",
            Warnings(st),
        )
        .ephemeral()
        .subcommand(
            SubcommandDef::new("list", "List a user's warns")
                .option(user("Whose warns"))
                .option(
                    OptionDef::new("page", "Page (from 1)", OptionKind::Integer).range(1, 100_000),
                ),
        )
        .subcommand(
            SubcommandDef::new("remove", "Remove one warn (it stops counting)")
                .option(
                    OptionDef::new("case", "The warn's case number", OptionKind::Integer)
                        .required()
                        .range(1, i64::MAX),
                )
                .option(reason()),
        )
        .subcommand(
            SubcommandDef::new("clear", "Remove every warn of a user")
                .option(user("Whose warns"))
                .option(reason()),
        )
        .default_subcommand("list")
        .permissions(ActionKind::Warn.permission())
        .category(CATEGORY),
    )?;
    Ok(())
}
