//! Writing a case's outcome once its action has reached Discord.
//!
//! By then the ban, kick or timeout has happened, so a store outage must not lose the case
//! nor make the answer say that nothing was done. The outcome is written at once and retried
//! for up to [`INLINE_RETRY`]; if the store still fails, a background task keeps writing it
//! (backing off up to [`BACKOFF_CAP`], for up to [`BACKGROUND_RETRY`]) and posts the mod-log
//! entry once the case is recorded, and the answer says the case will be recorded as soon as
//! storage is back. Only [`StoreErrorKind::Unavailable`] is retried: any other error is a
//! bug or corrupt data, and retrying cannot fix it.
//!
//! Writing an outcome is idempotent (the same outcome is upserted again), so a write that
//! reached the store but whose answer was lost does no harm when retried.
//!
//! A process that dies while the background task still waits leaves the case `Pending`;
//! a retry of the same invocation finishes it after [`super::engine::PENDING_TAKEOVER`].

use std::time::{Duration, Instant};

use crate::store::{Case, CaseOutcome, StoreError, StoreErrorKind};

use super::publish::post_modlog;
use super::request::Deps;

/// How long an action keeps trying before it answers and leaves the write to the background.
pub const INLINE_RETRY: Duration = Duration::from_secs(3);
/// How long the background task keeps trying.
pub const BACKGROUND_RETRY: Duration = Duration::from_secs(30 * 60);
/// Longest pause between two background attempts.
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// Where the outcome stands when the action answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Written: the stored case.
    Now(Case),
    /// Not written yet: the case as it will be stored. A background task writes it and then
    /// posts the mod-log entry.
    Later(Case),
}

impl Recorded {
    /// The case (stored, or as it will be).
    #[must_use]
    pub fn case(&self) -> &Case {
        match self {
            Self::Now(c) | Self::Later(c) => c,
        }
    }
}

/// Writes `outcome` on `case` (see the module docs).
///
/// # Errors
/// A store error other than [`StoreErrorKind::Unavailable`].
pub async fn outcome(
    deps: &Deps,
    case: Case,
    outcome: CaseOutcome,
) -> Result<Recorded, StoreError> {
    let deadline = Instant::now() + INLINE_RETRY;
    let mut pause = Duration::from_millis(250);
    let error = loop {
        match deps
            .store
            .set_case_outcome(case.guild_id, case.number, outcome.clone())
            .await
        {
            Ok(stored) => return Ok(Recorded::Now(stored)),
            Err(e) if e.kind() != StoreErrorKind::Unavailable => return Err(e),
            Err(e) if Instant::now() + pause >= deadline => break e,
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    };
    tracing::warn!(
        guild = case.guild_id,
        case = case.number,
        error = %error,
        "storage is unavailable: the case's outcome will be written when it is back"
    );
    let later = Case {
        outcome: outcome.clone(),
        ..case
    };
    let deps = deps.clone();
    let (guild, number) = (later.guild_id, later.number);
    tokio::spawn(async move {
        match write_in_background(&deps, guild, number, outcome).await {
            Some(stored) => {
                tracing::info!(guild, case = number, "the case's outcome is written");
                match deps.store.guild_config(guild).await {
                    Ok(config) => post_modlog(&deps, config.mod_log_channel, &stored).await,
                    Err(e) => {
                        tracing::warn!(guild, case = number, error = %e, "could not read the mod-log channel; nothing posted");
                    }
                }
            }
            None => tracing::error!(
                guild,
                case = number,
                "gave up writing the case's outcome; it stays pending until the same action is retried"
            ),
        }
    });
    Ok(Recorded::Later(later))
}

async fn write_in_background(
    deps: &Deps,
    guild: u64,
    number: u64,
    outcome: CaseOutcome,
) -> Option<Case> {
    let deadline = Instant::now() + BACKGROUND_RETRY;
    let mut pause = Duration::from_millis(500);
    while Instant::now() < deadline {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(BACKOFF_CAP);
        match deps
            .store
            .set_case_outcome(guild, number, outcome.clone())
            .await
        {
            Ok(stored) => return Some(stored),
            Err(e) if e.kind() != StoreErrorKind::Unavailable => {
                tracing::error!(guild, case = number, error = %e, "writing the case's outcome failed");
                return None;
            }
            Err(_) => {}
        }
    }
    None
}
