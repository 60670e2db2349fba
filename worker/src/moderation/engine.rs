//! The flow every moderation action follows:
//!
//! 1. a case already recorded under the invocation's idempotency key is answered from the
//!    store (a retried command never acts twice);
//! 2. permission and hierarchy rules ([`super::rules`]), before any call that changes
//!    anything on Discord;
//! 3. the case is created with outcome `Pending`;
//! 4. schedules are updated *before* the Discord call (a tempban writes its expiry, a
//!    permanent ban or an unban cancels a pending expiry) so that a crash between the call and
//!    the bookkeeping can never leave a ban without its expiry or an old expiry that would
//!    lift a later permanent ban; if the call fails the previous schedule is put back;
//! 5. the optional DM to the user (its failure never blocks the action);
//! 6. the Discord call, with the reason in `X-Audit-Log-Reason`;
//! 7. the case's outcome becomes `Applied` or `Failed{error}`;
//! 8. the mod-log embed is posted (a failure to post is logged, not fatal);
//! 9. for warns, escalation thresholds are evaluated and may apply their own case.

use std::time::Duration;

use twilight_model::guild::Permissions;

use crate::action::ActionKind;
use crate::rest::RestError;
use crate::store::{
    Case, CaseFilter, CaseOutcome, NewCase, NewSchedule, Schedule, ScheduleKind, ScheduleState,
    StoreError, Timestamp,
};

pub use super::publish::{modlog_entry, post_modlog};
pub use super::request::{ActionError, ActionReport, ActionRequest, Deps, DmStatus};

use super::call::{read_back, send_dm, softban};
use super::discord;
use super::escalation::{self, WarnRecord};
use super::facts::{self, GuildFacts};
use super::modlog;
use super::options::{DeleteMessages, MAX_REASON_CHARS, Reason};
use super::record::{self, Recorded};
use super::rules::{self, Subject};
use super::timeout;
use crate::duration::format_duration;

/// A case left `Pending` for longer than this is considered abandoned (the process that
/// created it died) and a retry with the same key finishes it.
pub const PENDING_TAKEOVER: Duration = Duration::from_secs(30);

/// The `X-Audit-Log-Reason` for a case: `reason (case #N, by <moderator id>)`, cut so the
/// whole fits Discord's 512 characters.
#[must_use]
pub fn audit_reason(reason: Option<&str>, case_number: u64, moderator_id: u64) -> String {
    audit_reason_with(reason, &format!("case #{case_number}, by {moderator_id}"))
}

/// The `X-Audit-Log-Reason` `reason (suffix)`, or `suffix` alone, cut so the whole fits
/// Discord's 512 characters (the suffix is kept whole).
#[must_use]
pub fn audit_reason_with(reason: Option<&str>, suffix: &str) -> String {
    match reason {
        None => suffix.to_owned(),
        Some(r) => {
            let room = MAX_REASON_CHARS - suffix.chars().count() - 3;
            format!("{} ({suffix})", modlog::truncate(r, room))
        }
    }
}

/// Performs one action. See the [module documentation](self) for the steps.
///
/// # Errors
/// [`ActionError`] when nothing was done; an action that reached Discord and failed is an
/// `Ok` report whose case outcome is `Failed`.
pub async fn perform(deps: &Deps, req: ActionRequest) -> Result<ActionReport, ActionError> {
    if !req.kind.is_manual() {
        return Err(ActionError::Invalid(format!(
            "{} is not a manual action",
            req.kind
        )));
    }
    // 1. A case under this key already?
    if let Some(existing) = deps
        .store
        .case_by_key(req.guild_id, &req.idempotency_key)
        .await?
    {
        return replay(deps, &req, existing).await;
    }
    // 2. Rules.
    let facts = check_rules(deps, &req).await?;
    // 3. The case.
    let now = deps.now();
    let mut new = NewCase::new(
        req.guild_id,
        req.idempotency_key.clone(),
        req.kind,
        req.user_id,
        req.moderator_id,
    )
    .created_at(now)
    .references(req.references.clone());
    if let Some(r) = &req.reason {
        new = new.reason(r.as_str());
    }
    if let Some(d) = req.duration {
        new = new.duration_secs(d.as_secs());
    }
    if let Some(e) = &req.evidence {
        new = new.evidence(e.clone());
    }
    if req.kind == ActionKind::Warn {
        new = new.outcome(CaseOutcome::Applied);
    }
    let (case, created) = deps.store.insert_case(new).await?;
    if !created {
        // Another process created it between our lookup and now: it carries the action out.
        return replay(deps, &req, case).await;
    }
    let config = deps.store.guild_config(req.guild_id).await?;
    // Only members of the server get a DM: a ban of someone outside it messages no one.
    let dm = if config.dm_on_action && facts.target_is_member {
        send_dm(deps, &req, &case, facts.name.as_deref()).await
    } else {
        DmStatus::NotSent
    };
    let (recorded, renewals) = execute(deps, &req, case).await?;
    if let Recorded::Now(case) = &recorded {
        post_modlog(deps, config.mod_log_channel, case).await;
    }
    let recorded_later = matches!(recorded, Recorded::Later(_));
    let case = recorded.case().clone();
    let escalation = if req.kind == ActionKind::Warn {
        escalate(deps, &req, &case, &config.escalation).await
    } else {
        None
    };
    Ok(ActionReport {
        case,
        replayed: false,
        dm,
        renewals,
        escalation,
        recorded_later,
    })
}

/// A key that already has a case: report it, or finish an abandoned pending one.
async fn replay(deps: &Deps, req: &ActionRequest, case: Case) -> Result<ActionReport, ActionError> {
    let renewals = renewals_for(req.kind, case.duration_secs);
    if case.outcome != CaseOutcome::Pending {
        return Ok(ActionReport {
            case,
            replayed: true,
            dm: DmStatus::NotSent,
            renewals,
            escalation: None,
            recorded_later: false,
        });
    }
    if deps.now().since(case.created_at) < PENDING_TAKEOVER {
        return Err(ActionError::InProgress(case.number));
    }
    // The process that created it died mid-way: every call below is idempotent on
    // Discord's side, so finishing it cannot act twice.
    tracing::info!(
        guild = req.guild_id,
        case = case.number,
        "finishing an abandoned pending case"
    );
    let req = ActionRequest {
        kind: case.kind,
        user_id: case.user_id,
        duration: case.duration_secs.map(Duration::from_secs),
        ..req.clone()
    };
    let (recorded, renewals) = execute(deps, &req, case).await?;
    if let Recorded::Now(case) = &recorded {
        let config = deps.store.guild_config(req.guild_id).await?;
        post_modlog(deps, config.mod_log_channel, case).await;
    }
    Ok(ActionReport {
        case: recorded.case().clone(),
        replayed: false,
        dm: DmStatus::NotSent,
        renewals,
        escalation: None,
        recorded_later: matches!(recorded, Recorded::Later(_)),
    })
}

fn renewals_for(kind: ActionKind, duration_secs: Option<u64>) -> usize {
    match (kind, duration_secs) {
        (ActionKind::Timeout, Some(s)) => timeout::renewals_needed(Duration::from_secs(s)),
        _ => 0,
    }
}

/// Guild facts, with the name for DMs.
struct CheckedFacts {
    name: Option<String>,
    /// Whether the target is a member of the guild.
    target_is_member: bool,
}

async fn check_rules(deps: &Deps, req: &ActionRequest) -> Result<CheckedFacts, ActionError> {
    let cache = deps.cache.as_deref();
    let facts = facts::guild(cache, &deps.rest, req.guild_id)
        .await
        .map_err(ActionError::Facts)?;
    let member_roles = |user: u64| facts::member_roles(cache, &deps.rest, req.guild_id, user);
    let moderator_roles = if req.moderator_id == deps.bot_id {
        None
    } else if let Some(roles) = &req.moderator_roles {
        Some(roles.clone())
    } else {
        Some(
            member_roles(req.moderator_id)
                .await
                .map_err(ActionError::Facts)?
                .unwrap_or_default(),
        )
    };
    let bot_roles = member_roles(deps.bot_id)
        .await
        .map_err(ActionError::Facts)?
        .unwrap_or_default();
    let target_roles = if req.user_id == req.moderator_id || req.user_id == deps.bot_id {
        None
    } else {
        member_roles(req.user_id)
            .await
            .map_err(ActionError::Facts)?
    };
    let subject = subject(
        &facts,
        req,
        deps.bot_id,
        moderator_roles.as_deref(),
        &bot_roles,
        target_roles.as_deref(),
    );
    rules::check(&subject)?;
    Ok(CheckedFacts {
        name: facts.name,
        target_is_member: target_roles.is_some(),
    })
}

/// Builds the rules' input. `moderator_roles` is `None` for automatic actions (the bot acts
/// on its own behalf).
fn subject(
    facts: &GuildFacts,
    req: &ActionRequest,
    bot_id: u64,
    moderator_roles: Option<&[u64]>,
    bot_roles: &[u64],
    target_roles: Option<&[u64]>,
) -> Subject {
    let bot = facts.member(bot_id, bot_roles);
    let moderator = moderator_roles.map_or(bot, |r| facts.member(req.moderator_id, r));
    Subject {
        action: req.kind,
        owner_id: facts.owner_id,
        moderator_id: req.moderator_id,
        moderator_permissions: moderator.permissions,
        moderator_position: moderator.position,
        bot_id,
        bot_permissions: bot.permissions,
        bot_position: bot.position,
        target_id: req.user_id,
        target_member: target_roles.map(|r| facts.member(req.user_id, r)),
    }
}

/// The schedule slot an action touches, and what it puts there.
fn schedule_change(
    req: &ActionRequest,
    case: &Case,
    now: Timestamp,
) -> Option<(ScheduleKind, Option<NewSchedule>)> {
    let slot = |kind, due_at| NewSchedule {
        guild_id: req.guild_id,
        user_id: req.user_id,
        kind,
        due_at,
        case_number: Some(case.number),
    };
    match req.kind {
        ActionKind::Tempban => {
            let d = req.duration.unwrap_or_default();
            Some((
                ScheduleKind::Unban,
                Some(slot(ScheduleKind::Unban, now.plus(d))),
            ))
        }
        ActionKind::Ban | ActionKind::Unban => Some((ScheduleKind::Unban, None)),
        ActionKind::Timeout => {
            let end = now.unix_secs() + secs_i64(req.duration.unwrap_or_default());
            let next = timeout::next_step(now.unix_secs(), end)
                .and_then(|s| s.next_renewal_at)
                .map(|at| {
                    slot(
                        ScheduleKind::RenewTimeout,
                        Timestamp::from_unix_millis(at * 1000),
                    )
                });
            Some((ScheduleKind::RenewTimeout, next))
        }
        ActionKind::Untimeout => Some((ScheduleKind::RenewTimeout, None)),
        _ => None,
    }
}

fn secs_i64(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Applies the schedule change; returns what to put back if the Discord call fails.
async fn update_schedules(
    deps: &Deps,
    req: &ActionRequest,
    case: &Case,
    now: Timestamp,
) -> Result<Option<NewSchedule>, StoreError> {
    let Some((kind, put)) = schedule_change(req, case, now) else {
        return Ok(None);
    };
    let previous = deps
        .store
        .get_schedule(req.guild_id, req.user_id, kind)
        .await?
        .filter(|s| {
            matches!(
                s.state,
                ScheduleState::Pending | ScheduleState::Running { .. }
            )
        })
        .map(|s: Schedule| NewSchedule {
            guild_id: s.id.guild_id,
            user_id: s.id.user_id,
            kind: s.id.kind,
            due_at: s.due_at,
            case_number: s.case_number,
        });
    match put {
        Some(schedule) => {
            deps.store.put_schedule(schedule).await?;
        }
        None => {
            deps.store
                .cancel_schedules(req.guild_id, req.user_id, kind)
                .await?;
        }
    }
    Ok(previous)
}

/// Steps 4, 6 and 7: schedules, the Discord call, the outcome (written even through a
/// store outage once the call has happened: [`record::outcome`]).
async fn execute(
    deps: &Deps,
    req: &ActionRequest,
    case: Case,
) -> Result<(Recorded, usize), ActionError> {
    if req.kind == ActionKind::Warn {
        let case = if case.outcome == CaseOutcome::Pending {
            deps.store
                .set_case_outcome(req.guild_id, case.number, CaseOutcome::Applied)
                .await?
        } else {
            case
        };
        return Ok((Recorded::Now(case), 0));
    }
    // Expiries and timeout ends count from the case's creation, so a retried (abandoned)
    // case keeps its original end.
    let start = case.created_at;
    let restore = update_schedules(deps, req, &case, start).await?;
    let reason = audit_reason(case.reason.as_deref(), case.number, case.moderator_id);
    let rest = &deps.rest;
    let (g, u) = (req.guild_id, req.user_id);
    let mut renewals = 0;
    let mut until = None;
    let call: Result<(), RestError> = match req.kind {
        ActionKind::Ban | ActionKind::Tempban => {
            discord::ban(rest, g, u, req.delete_messages.seconds(), &reason).await
        }
        ActionKind::Softban => {
            return finish(
                deps,
                req,
                case,
                restore,
                start,
                softban(rest, g, u, req.delete_messages, &reason).await,
                0,
            )
            .await;
        }
        ActionKind::Unban => discord::unban(rest, g, u, &reason).await,
        ActionKind::Kick => discord::kick(rest, g, u, &reason).await,
        ActionKind::Timeout => {
            let total = req.duration.unwrap_or_default();
            renewals = timeout::renewals_needed(total);
            let end = start.unix_secs() + secs_i64(total);
            match timeout::next_step(deps.now().unix_secs(), end) {
                Some(step) => {
                    until = Some(step.until);
                    discord::set_timeout(rest, g, u, Some(step.until), &reason).await
                }
                None => {
                    let error = "the timeout had already ended when it was retried".to_owned();
                    return finish(deps, req, case, restore, start, Err(error), 0).await;
                }
            }
        }
        ActionKind::Untimeout => discord::set_timeout(rest, g, u, None, &reason).await,
        other => {
            let error = format!("{other} is not a manual action");
            return finish(deps, req, case, restore, start, Err(error), 0).await;
        }
    };
    let result = match call {
        Ok(()) => Ok(()),
        Err(e) if e.after_doubt() => read_back(deps, req, until, &e).await,
        Err(e) => Err(discord::describe(&e)),
    };
    finish(deps, req, case, restore, start, result, renewals).await
}

/// Step 7, and the undo of step 4 when the call failed.
async fn finish(
    deps: &Deps,
    req: &ActionRequest,
    case: Case,
    restore: Option<NewSchedule>,
    start: Timestamp,
    result: Result<(), String>,
    renewals: usize,
) -> Result<(Recorded, usize), ActionError> {
    let (g, u) = (req.guild_id, req.user_id);
    let mut renewals = renewals;
    let outcome = match result {
        Ok(()) => CaseOutcome::Applied,
        Err(error) => {
            // Undo the schedule change: the action did not happen.
            if let Some((kind, put)) = schedule_change(req, &case, start) {
                if put.is_some() {
                    deps.store.cancel_schedules(g, u, kind).await?;
                }
                if let Some(previous) = restore {
                    deps.store.put_schedule(previous).await?;
                }
            }
            renewals = 0;
            CaseOutcome::Failed { error }
        }
    };
    Ok((record::outcome(deps, case, outcome).await?, renewals))
}

/// Step 9: after a warn, applies the escalation it triggers, as its own case.
async fn escalate(
    deps: &Deps,
    req: &ActionRequest,
    warn: &Case,
    rules: &[crate::store::EscalationRule],
) -> Option<Result<Box<ActionReport>, String>> {
    if rules.is_empty() || warn.outcome != CaseOutcome::Applied {
        return None;
    }
    let filter = CaseFilter {
        user_id: Some(req.user_id),
        moderator_id: None,
        kind: Some(ActionKind::Warn),
        // A hidden warn still counts; a deleted one does not (never listed).
        include_hidden: true,
    };
    let page = match deps
        .store
        .list_cases(req.guild_id, &filter, 0, crate::store::MAX_PER_PAGE)
        .await
    {
        Ok(p) => p,
        Err(e) => return Some(Err(format!("could not read the warns: {e}"))),
    };
    let warns: Vec<WarnRecord> = page
        .cases
        .iter()
        .filter(|c| c.outcome == CaseOutcome::Applied)
        .map(|c| WarnRecord {
            number: c.number,
            created_at: c.created_at.unix_secs(),
        })
        .collect();
    // Warns earlier escalations (carried out or in progress) consumed: the bot's cases
    // against the user that carry escalation evidence.
    let by_bot = CaseFilter {
        user_id: Some(req.user_id),
        moderator_id: Some(deps.bot_id),
        kind: None,
        include_hidden: true,
    };
    let escalations = match deps
        .store
        .list_cases(req.guild_id, &by_bot, 0, crate::store::MAX_PER_PAGE)
        .await
    {
        Ok(p) => p,
        Err(e) => return Some(Err(format!("could not read earlier escalations: {e}"))),
    };
    let consumed: Vec<escalation::Consumed> = escalations
        .cases
        .iter()
        .filter(|c| !matches!(c.outcome, CaseOutcome::Failed { .. }))
        .flat_map(|c| escalation::consumed_by(c.evidence.as_ref(), &c.references))
        .collect();
    let found = escalation::evaluate(rules, &warns, &consumed, warn.created_at.unix_secs())?;
    let t = found.threshold;
    let reason = format!(
        "Escalation: {} warns within {}",
        t.warns,
        format_duration(Duration::from_secs(t.within_secs))
    );
    let esc = ActionRequest {
        guild_id: req.guild_id,
        kind: t.action.kind(),
        user_id: req.user_id,
        moderator_id: deps.bot_id,
        moderator_roles: None,
        reason: Reason::parse_optional(Some(&reason)).ok().flatten(),
        duration: t.action.duration(),
        delete_messages: DeleteMessages::None,
        idempotency_key: format!("{}:escalation", req.idempotency_key),
        references: found.references,
        evidence: Some(escalation::evidence(&found.fired)),
    };
    Some(
        Box::pin(perform(deps, esc))
            .await
            .map(Box::new)
            .map_err(|e| e.to_string()),
    )
}

/// The permissions of which any one makes a member a moderator and lets them use the case
/// commands (administrators too): Ban Members, Kick Members, Timeout Members.
pub const MODERATOR_PERMISSIONS: Permissions = Permissions::BAN_MEMBERS
    .union(Permissions::KICK_MEMBERS)
    .union(Permissions::MODERATE_MEMBERS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_reason_fits() {
        assert_eq!(audit_reason(None, 3, 42), "case #3, by 42");
        assert_eq!(audit_reason(Some("spam"), 3, 42), "spam (case #3, by 42)");
        let long = "x".repeat(512);
        let r = audit_reason(Some(&long), 123_456, 1_234_567_890_123_456_789);
        assert_eq!(r.chars().count(), 512);
        assert!(r.ends_with("(case #123456, by 1234567890123456789)"));
    }
}
