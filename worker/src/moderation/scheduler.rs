//! Runs due schedules: tempban expiries and long-timeout renewals.
//!
//! Every worker polls the store for due schedules *of the guilds on its own shards*
//! ([`DueScope::Shards`], `shard = (guild_id >> 22) % total`), so after a pod move or a
//! reshard whoever owns the guild's shard runs them. Each schedule is claimed with a lease
//! before anything is done and completed once afterwards:
//!
//! - **Unban**: the expiry becomes an `Unban` case (idempotency key `schedule:<id>`, so a
//!   second attempt after a crash finds the same case), then `DELETE /bans`. If Discord says
//!   the ban is already gone (10026) the schedule completes quietly as `Skipped` — it is never
//!   retried. A refusal (e.g. 50013) completes it as `Failed` and the mod log says so.
//!   Transient errors (5xx, 429, network) leave the claim to lapse; another attempt follows
//!   after the lease.
//! - **RenewTimeout**: extends the timeout by up to 28 days and stores the next renewal while
//!   the timeout's end is further away.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{
    ActionKind, CaseOutcome, DueScope, NewCase, NewSchedule, Schedule, ScheduleKind,
    ScheduleOutcome, StoreError, Timestamp,
};

use super::discord;
use super::engine::{Deps, audit_reason, post_modlog};
use super::record::{self, Recorded};
use super::timeout;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Who claims (the pod name).
    pub owner: String,
    /// Which guilds' schedules this worker runs.
    pub scope: DueScope,
    /// How often the store is polled.
    pub interval: Duration,
    /// How long a claim holds before another worker may take over.
    pub lease: Duration,
    /// Most schedules handled per poll.
    pub batch: usize,
}

impl SchedulerConfig {
    /// Defaults: poll every second, 60 s lease, 50 per poll.
    #[must_use]
    pub fn new(owner: impl Into<String>, scope: DueScope) -> Self {
        Self {
            owner: owner.into(),
            scope,
            interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            batch: 50,
        }
    }
}

/// What happened to one schedule in a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Another worker claimed it first.
    NotClaimed,
    /// Completed with this outcome.
    Completed(ScheduleOutcome),
    /// Renewed: the next renewal is stored.
    Renewed,
    /// A transient failure: the claim lapses and it is tried again later.
    Deferred(String),
}

/// Polls until `shutdown` is cancelled. Store errors are logged and the poll goes on.
pub async fn run(deps: Deps, config: SchedulerConfig, shutdown: CancellationToken) {
    tracing::info!(owner = %config.owner, scope = ?config.scope, "moderation scheduler started");
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = run_due(&deps, &config).await {
            tracing::warn!(error = %e, "moderation scheduler: store error");
        }
    }
    tracing::info!("moderation scheduler stopped");
}

/// One poll: handles every due schedule in scope (up to `batch`).
///
/// # Errors
/// A store error while listing; errors on single schedules are logged and skipped.
pub async fn run_due(
    deps: &Deps,
    config: &SchedulerConfig,
) -> Result<Vec<(Schedule, Handled)>, StoreError> {
    let due = deps
        .store
        .due_schedules(deps.now(), &config.scope, config.batch)
        .await?;
    let mut done = Vec::with_capacity(due.len());
    for schedule in due {
        match handle(deps, config, &schedule).await {
            Ok(h) => {
                tracing::info!(schedule = %schedule.id, outcome = ?h, "schedule handled");
                done.push((schedule, h));
            }
            Err(e) => tracing::warn!(schedule = %schedule.id, error = %e, "schedule failed"),
        }
    }
    Ok(done)
}

async fn handle(
    deps: &Deps,
    config: &SchedulerConfig,
    schedule: &Schedule,
) -> Result<Handled, StoreError> {
    if !deps
        .store
        .claim_schedule(&schedule.id, &config.owner, config.lease)
        .await?
    {
        return Ok(Handled::NotClaimed);
    }
    let handled = match schedule.id.kind {
        ScheduleKind::Unban => expire_tempban(deps, schedule).await?,
        ScheduleKind::RenewTimeout => renew_timeout(deps, schedule).await?,
    };
    if let Handled::Completed(outcome) = &handled {
        deps.store
            .complete_schedule(&schedule.id, &config.owner, outcome.clone())
            .await?;
    }
    Ok(handled)
}

async fn expire_tempban(deps: &Deps, schedule: &Schedule) -> Result<Handled, StoreError> {
    let (guild, user) = (schedule.id.guild_id, schedule.id.user_id);
    let key = format!("schedule:{}", schedule.id);
    let reason = match schedule.case_number {
        Some(n) => format!("Tempban expired (case #{n})"),
        None => "Tempban expired".to_owned(),
    };
    let mut new = NewCase::new(guild, key, ActionKind::Unban, user, deps.bot_id)
        .created_at(deps.now())
        .reason(reason);
    if let Some(n) = schedule.case_number {
        new = new.references(vec![n]);
    }
    let (case, fresh) = deps.store.insert_case(new).await?;
    match case.outcome {
        CaseOutcome::Applied => return Ok(Handled::Completed(ScheduleOutcome::Succeeded)),
        CaseOutcome::Failed { error } => {
            return Ok(Handled::Completed(ScheduleOutcome::Failed { error }));
        }
        CaseOutcome::Pending => {}
    }
    let audit = audit_reason(case.reason.as_deref(), case.number, deps.bot_id);
    let (outcome, post, handled) = match discord::unban(&deps.rest, guild, user, &audit).await {
        Ok(()) => (
            CaseOutcome::Applied,
            true,
            Handled::Completed(ScheduleOutcome::Succeeded),
        ),
        Err(e) if e.discord_code() == Some(discord::UNKNOWN_BAN) => {
            if fresh {
                // Lifted by someone else before the expiry: nothing to do, nothing to post.
                (
                    CaseOutcome::Failed {
                        error: "the ban was already lifted (10026)".into(),
                    },
                    false,
                    Handled::Completed(ScheduleOutcome::Skipped {
                        reason: "the ban was already lifted (10026)".into(),
                    }),
                )
            } else {
                // An earlier attempt that died after its unban most likely lifted it.
                (
                    CaseOutcome::Applied,
                    true,
                    Handled::Completed(ScheduleOutcome::Skipped {
                        reason: "the ban was already lifted (10026)".into(),
                    }),
                )
            }
        }
        Err(e) if discord::is_transient(&e) => {
            return Ok(Handled::Deferred(discord::describe(&e)));
        }
        Err(e) => {
            let error = discord::describe(&e);
            (
                CaseOutcome::Failed {
                    error: error.clone(),
                },
                true,
                Handled::Completed(ScheduleOutcome::Failed { error }),
            )
        }
    };
    // The unban has happened (or was found done): the outcome survives a store outage, and
    // the background writer posts the mod-log entry when it is written later.
    let recorded = if post {
        record::outcome(deps, case, outcome).await?
    } else {
        Recorded::Now(
            deps.store
                .set_case_outcome(guild, case.number, outcome)
                .await?,
        )
    };
    if post && let Recorded::Now(case) = &recorded {
        let config = deps.store.guild_config(guild).await?;
        post_modlog(deps, config.mod_log_channel, case).await;
    }
    Ok(handled)
}

async fn renew_timeout(deps: &Deps, schedule: &Schedule) -> Result<Handled, StoreError> {
    let (guild, user) = (schedule.id.guild_id, schedule.id.user_id);
    let case = match schedule.case_number {
        Some(n) => deps.store.get_case(guild, n).await?,
        None => None,
    };
    let Some(case) = case else {
        return Ok(Handled::Completed(ScheduleOutcome::Failed {
            error: "the timeout's case is missing".into(),
        }));
    };
    let end = case.created_at.unix_secs()
        + i64::try_from(case.duration_secs.unwrap_or(0)).unwrap_or(i64::MAX);
    let now = deps.now().unix_secs();
    let Some(step) = timeout::next_step(now, end) else {
        return Ok(Handled::Completed(ScheduleOutcome::Skipped {
            reason: "the timeout has ended".into(),
        }));
    };
    let audit = audit_reason(
        Some(&format!("Timeout renewal (case #{})", case.number)),
        case.number,
        case.moderator_id,
    );
    match discord::set_timeout(&deps.rest, guild, user, Some(step.until), &audit).await {
        Ok(()) => {}
        Err(e) if e.discord_code() == Some(discord::UNKNOWN_MEMBER) => {
            return Ok(Handled::Completed(ScheduleOutcome::Skipped {
                reason: "the member left the server (10007)".into(),
            }));
        }
        Err(e) if discord::is_transient(&e) => {
            return Ok(Handled::Deferred(discord::describe(&e)));
        }
        Err(e) => {
            return Ok(Handled::Completed(ScheduleOutcome::Failed {
                error: discord::describe(&e),
            }));
        }
    }
    match step.next_renewal_at {
        Some(at) => {
            // Replaces (supersedes) the running schedule in this slot.
            deps.store
                .put_schedule(NewSchedule {
                    guild_id: guild,
                    user_id: user,
                    kind: ScheduleKind::RenewTimeout,
                    due_at: Timestamp::from_unix_millis(at.saturating_mul(1000)),
                    case_number: Some(case.number),
                })
                .await?;
            Ok(Handled::Renewed)
        }
        None => Ok(Handled::Completed(ScheduleOutcome::Succeeded)),
    }
}
