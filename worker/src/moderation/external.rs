//! Cases for actions taken outside Kyuta: a ban, unban, kick or timeout made in Discord's own
//! interface or by another bot becomes a case naming the moderator, so a member's history is
//! complete.
//!
//! The source is GUILD_AUDIT_LOG_ENTRY_CREATE (Discord sends it to sessions with the
//! GUILD_MODERATION intent while the bot holds View Audit Log): entries 22 (ban), 23 (unban),
//! 20 (kick) and 24 (member update) when it changes `communication_disabled_until` (timeout
//! set or lifted). Entries made by Kyuta itself are skipped: its commands record their own
//! cases. A case is keyed `audit:{entry id}`, so the same entry seen twice (a resumed session
//! replaying it, two generations during a roll) is one case with one mod-log post.
//!
//! An outside action also ends what Kyuta planned for that member ([`schedule_ended`]): a
//! human unban ends a tempban (its expiry would otherwise unban again after a later ban),
//! and a timeout set or lifted by hand ends the renewals of Kyuta's long timeout (which would
//! otherwise put it back).
//!
//! Without View Audit Log Discord sends no audit entries, so a ban would leave no trace: then
//! GUILD_BAN_ADD and GUILD_BAN_REMOVE stand in ([`record_ban_event`]). Their cases name no
//! moderator (Discord does not say who) and a ban carries its reason, read from Discord. One
//! is recorded only when the member's history does not already say it ([`ban_event_case`]).
//!
//! [`case_of`] and [`ban_event_case`] are the pure parts, table-tested; [`record`] and
//! [`record_ban_event`] write the case and post it.

use std::time::Duration;

use twilight_model::guild::Permissions;
use twilight_model::guild::audit_log::{AuditLogChange, AuditLogEntry, AuditLogEventType};
use twilight_model::id::Id;

use crate::action::ActionKind;
use crate::store::{CaseOutcome, NewCase, ScheduleKind, Timestamp};

use super::facts;
use super::publish::post_modlog;
use super::request::Deps;
use crate::snowflake;

/// Attempts to write a case while the store does not answer (1, 2, 4, 8, 16 s apart): an audit
/// entry is sent once, so it is not dropped on the first failure.
pub const STORE_ATTEMPTS: u32 = 6;

/// The idempotency key of the case of audit entry `entry_id`.
#[must_use]
pub fn case_key(entry_id: u64) -> String {
    format!("audit:{entry_id}")
}

/// The case an audit entry calls for, or `None` (another kind of entry, one of Kyuta's own,
/// a member update that is not a timeout, or an entry without a moderator or a target).
#[must_use]
pub fn case_of(entry: &AuditLogEntry, guild_id: u64, bot_id: u64) -> Option<NewCase> {
    let moderator = entry.user_id?.get();
    let target = entry.target_id?.get();
    if moderator == bot_id {
        return None;
    }
    let at_ms = snowflake::timestamp_ms(entry.id.get());
    let mut duration = None;
    let kind = match entry.action_type {
        AuditLogEventType::MemberBanAdd => ActionKind::Ban,
        AuditLogEventType::MemberBanRemove => ActionKind::Unban,
        AuditLogEventType::MemberKick => ActionKind::Kick,
        AuditLogEventType::MemberUpdate => {
            let until = entry.changes.iter().find_map(|c| match c {
                AuditLogChange::CommunicationDisabledUntil { new, .. } => Some(*new),
                _ => None,
            })?;
            match until {
                Some(t) => {
                    let until_ms = u64::try_from(t.as_micros() / 1000).unwrap_or(0);
                    duration = Some(until_ms.saturating_sub(at_ms).div_ceil(1000));
                    ActionKind::Timeout
                }
                None => ActionKind::Untimeout,
            }
        }
        _ => return None,
    };
    let mut case = NewCase::new(guild_id, case_key(entry.id.get()), kind, target, moderator)
        .outcome(CaseOutcome::Applied);
    case.created_at = Timestamp::from_unix_millis(i64::try_from(at_ms).unwrap_or(i64::MAX));
    case.duration_secs = duration.filter(|d| *d > 0);
    if let Some(r) = entry
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        case = case.reason(super::modlog::truncate(r, super::options::MAX_REASON_CHARS));
    }
    Some(case)
}

/// A ban event Discord sends with the GUILD_MODERATION intent, audit log or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanEvent {
    /// GUILD_BAN_ADD.
    Added,
    /// GUILD_BAN_REMOVE.
    Removed,
}

/// How long a softban's own ban and unban events are taken as Kyuta's (a softban bans and
/// unbans at once, after recording its case).
pub const SOFTBAN_EVENTS_MS: i64 = 5 * 60 * 1000;

/// What the member's cases say about their bans: the latest ban, tempban, softban or unban
/// case (kind and age in milliseconds), and how many bans (of the three kinds) and unbans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BanHistory {
    /// The latest case of those kinds that Discord did not refuse, and its age.
    pub latest: Option<(ActionKind, i64)>,
    /// Ban, tempban and softban cases.
    pub bans: u64,
    /// Unban cases.
    pub unbans: u64,
}

/// The case a ban event calls for when Kyuta cannot read the audit log, or `None` when the
/// member's history already says it (Kyuta's own action records its case before it calls
/// Discord; a replayed event finds the case it made): a ban after a ban, an unban after an
/// unban, and a recent softban's own two events. The key counts the member's earlier cases of
/// the other kind (`ban-add:{user}:{unbans}`, `ban-remove:{user}:{bans}`), so it is the same
/// for everyone who sees one event and new after the next change. No moderator is named
/// (Discord does not say who); the reason is the ban's, when Discord gave it.
#[must_use]
pub fn ban_event_case(
    guild_id: u64,
    user_id: u64,
    event: BanEvent,
    history: BanHistory,
    reason: Option<&str>,
) -> Option<NewCase> {
    let latest = history.latest.map(|(k, _)| k);
    let recent_softban =
        matches!(history.latest, Some((ActionKind::Softban, age)) if age < SOFTBAN_EVENTS_MS);
    let (kind, key) = match event {
        BanEvent::Added => {
            if recent_softban || matches!(latest, Some(ActionKind::Ban | ActionKind::Tempban)) {
                return None;
            }
            (
                ActionKind::Ban,
                format!("ban-add:{user_id}:{}", history.unbans),
            )
        }
        BanEvent::Removed => {
            if recent_softban || latest == Some(ActionKind::Unban) {
                return None;
            }
            (
                ActionKind::Unban,
                format!("ban-remove:{user_id}:{}", history.bans),
            )
        }
    };
    let mut case = NewCase::new(guild_id, key, kind, user_id, 0).outcome(CaseOutcome::Applied);
    if let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) {
        case = case.reason(super::modlog::truncate(r, super::options::MAX_REASON_CHARS));
    }
    Some(case)
}

/// Whether Kyuta reads the guild's audit log (then its entries make the cases).
async fn reads_audit_log(deps: &Deps, guild_id: u64) -> Result<bool, crate::rest::RestError> {
    let cache = deps.cache.as_deref();
    let guild = facts::guild(cache, &deps.rest, guild_id).await?;
    let roles = facts::member_roles(cache, &deps.rest, guild_id, deps.bot_id)
        .await?
        .unwrap_or_default();
    let p = guild.permissions(deps.bot_id, &roles);
    Ok(p.intersects(Permissions::VIEW_AUDIT_LOG | Permissions::ADMINISTRATOR))
}

/// The member's [`BanHistory`], from the last ten cases of each kind.
async fn ban_history(
    deps: &Deps,
    guild_id: u64,
    user_id: u64,
) -> Result<BanHistory, crate::store::StoreError> {
    let now = deps.now();
    let mut latest: Option<(Timestamp, u64, ActionKind)> = None;
    let mut h = BanHistory::default();
    for kind in [
        ActionKind::Ban,
        ActionKind::Tempban,
        ActionKind::Softban,
        ActionKind::Unban,
    ] {
        let filter = crate::store::CaseFilter {
            user_id: Some(user_id),
            kind: Some(kind),
            include_hidden: true,
            ..crate::store::CaseFilter::default()
        };
        let page = deps.store.list_cases(guild_id, &filter, 0, 10).await?;
        if kind == ActionKind::Unban {
            h.unbans = page.total;
        } else {
            h.bans += page.total;
        }
        // A ban Discord refused did not ban; one pending is Kyuta's own, under way.
        let standing = page
            .cases
            .iter()
            .find(|c| !matches!(c.outcome, CaseOutcome::Failed { .. }));
        if let Some(c) = standing
            && latest.is_none_or(|l| (l.0, l.1) < (c.created_at, c.number))
        {
            latest = Some((c.created_at, c.number, kind));
        }
    }
    h.latest =
        latest.map(|(at, _, kind)| (kind, now.unix_millis().saturating_sub(at.unix_millis())));
    Ok(h)
}

/// GUILD_BAN_ADD or GUILD_BAN_REMOVE of `user_id` in `guild_id`: when Kyuta cannot read the
/// audit log, records the case [`ban_event_case`] calls for and posts it in the mod log; an
/// unban also ends a tempban's planned unban. Store failures are retried
/// ([`STORE_ATTEMPTS`]), then logged.
pub async fn record_ban_event(deps: &Deps, guild_id: u64, user_id: u64, event: BanEvent) {
    if user_id == deps.bot_id {
        return;
    }
    match reads_audit_log(deps, guild_id).await {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(guild = guild_id, user = user_id, error = %e, "cannot tell whether the audit log records this ban event; recording it from the event");
        }
    }
    let reason = match event {
        BanEvent::Removed => None,
        BanEvent::Added => match deps
            .rest
            .model("get_guild_ban", |c| {
                c.ban(Id::new(guild_id), Id::new(user_id)).into_future()
            })
            .await
        {
            Ok(twilight_model::guild::Ban { reason, .. }) => reason,
            Err(e) => {
                tracing::info!(guild = guild_id, user = user_id, error = %e, "the ban's reason could not be read");
                None
            }
        },
    };
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=STORE_ATTEMPTS {
        let result = async {
            let history = ban_history(deps, guild_id, user_id).await?;
            let Some(new) = ban_event_case(guild_id, user_id, event, history, reason.as_deref())
            else {
                return Ok(None);
            };
            deps.store
                .insert_case(new.clone())
                .await
                .map(|r| Some((new, r)))
        }
        .await;
        match result {
            Ok(Some((new, (case, created)))) => {
                end_schedule(deps, &new).await;
                if !created {
                    return;
                }
                let channel = match deps.store.guild_config(guild_id).await {
                    Ok(c) => c.mod_log_channel,
                    Err(e) => {
                        tracing::warn!(guild = guild_id, case = case.number, error = %e, "settings unavailable; the case of an outside ban is not posted");
                        None
                    }
                };
                post_modlog(deps, channel, &case).await;
                return;
            }
            Ok(None) => return,
            Err(e) if attempt < STORE_ATTEMPTS => {
                tracing::warn!(guild = guild_id, user = user_id, attempt, error = %e, "could not record the case of an outside ban event; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(guild = guild_id, user = user_id, error = %e, "the case of an outside ban event could not be recorded");
            }
        }
    }
}

/// The schedule of Kyuta's that an outside action of `kind` ends, if any.
#[must_use]
pub fn schedule_ended(kind: ActionKind) -> Option<ScheduleKind> {
    match kind {
        ActionKind::Unban => Some(ScheduleKind::Unban),
        ActionKind::Timeout | ActionKind::Untimeout => Some(ScheduleKind::RenewTimeout),
        _ => None,
    }
}

/// Cancels the schedule the outside action `new` ends ([`schedule_ended`]), retrying store
/// failures like the case itself. Cancelling twice is harmless (an entry seen again).
async fn end_schedule(deps: &Deps, new: &NewCase) {
    let Some(kind) = schedule_ended(new.kind) else {
        return;
    };
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=STORE_ATTEMPTS {
        match deps
            .store
            .cancel_schedules(new.guild_id, new.user_id, kind)
            .await
        {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(
                        guild = new.guild_id,
                        user = new.user_id,
                        schedule = kind.as_str(),
                        "an outside action ended a planned one"
                    );
                }
                return;
            }
            Err(e) if attempt < STORE_ATTEMPTS => {
                tracing::warn!(guild = new.guild_id, attempt, error = %e, "could not cancel the schedule an outside action ends; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(guild = new.guild_id, user = new.user_id, error = %e, "the schedule an outside action ends could not be cancelled");
            }
        }
    }
}

/// Records the case of `entry` (of guild `guild_id`), if it calls for one, and posts it in the
/// mod log when this call created it; then ends the schedule the action ends. Store failures
/// are retried ([`STORE_ATTEMPTS`]), then logged.
pub async fn record(deps: &Deps, guild_id: u64, entry: &AuditLogEntry) {
    let Some(new) = case_of(entry, guild_id, deps.bot_id) else {
        return;
    };
    end_schedule(deps, &new).await;
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=STORE_ATTEMPTS {
        match deps.store.insert_case(new.clone()).await {
            Ok((case, true)) => {
                let channel = match deps.store.guild_config(guild_id).await {
                    Ok(c) => c.mod_log_channel,
                    Err(e) => {
                        tracing::warn!(guild = guild_id, case = case.number, error = %e, "settings unavailable; the case of an outside action is not posted");
                        None
                    }
                };
                post_modlog(deps, channel, &case).await;
                return;
            }
            // Already recorded (the entry seen again): posted by whoever created it.
            Ok((_, false)) => return,
            Err(e) if attempt < STORE_ATTEMPTS => {
                tracing::warn!(guild = guild_id, entry = %entry.id, attempt, error = %e, "could not record the case of an outside action; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(guild = guild_id, entry = %entry.id, error = %e, "the case of an outside action could not be recorded");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOT: u64 = 900_000_000_000_000_001;
    const MODERATOR: u64 = 800_000_000_000_000_002;
    const TARGET: u64 = 700_000_000_000_000_003;

    /// An entry made at Unix millisecond `ms`.
    fn entry(kind: u64, by: u64, ms: u64, changes: serde_json::Value) -> AuditLogEntry {
        let id = crate::snowflake::at_ms(ms, 0);
        serde_json::from_value(json!({
            "id": id.to_string(),
            "action_type": kind,
            "user_id": by.to_string(),
            "target_id": TARGET.to_string(),
            "changes": changes,
            "reason": " raid ",
        }))
        .unwrap()
    }

    #[test]
    fn bans_unbans_kicks_and_timeouts_by_others_are_cases() {
        let t = 1_800_000_000_000;
        let cases = [
            (22, ActionKind::Ban),
            (23, ActionKind::Unban),
            (20, ActionKind::Kick),
        ];
        for (code, kind) in cases {
            let e = entry(code, MODERATOR, t, json!([]));
            let c = case_of(&e, 1, BOT).unwrap_or_else(|| panic!("{code}"));
            assert_eq!(
                (c.kind, c.user_id, c.moderator_id),
                (kind, TARGET, MODERATOR)
            );
            assert_eq!(c.idempotency_key, format!("audit:{}", e.id));
            assert_eq!(c.reason.as_deref(), Some("raid"));
            assert_eq!(c.outcome, CaseOutcome::Applied);
            assert_eq!(c.created_at.unix_millis(), 1_800_000_000_000);
        }
        // A day after the entry (1_800_000_000 s is 2027-01-15T08:00:00Z).
        let until = "2027-01-16T08:00:00+00:00";
        let e = entry(
            24,
            MODERATOR,
            t,
            json!([{"key": "communication_disabled_until", "new_value": until}]),
        );
        let c = case_of(&e, 1, BOT).unwrap();
        assert_eq!(c.kind, ActionKind::Timeout);
        assert_eq!(c.duration_secs, Some(86_400));
        let e = entry(
            24,
            MODERATOR,
            t,
            json!([{"key": "communication_disabled_until", "old_value": until}]),
        );
        assert_eq!(case_of(&e, 1, BOT).unwrap().kind, ActionKind::Untimeout);
    }

    #[test]
    fn unbans_and_timeouts_by_hand_end_kyutas_schedules() {
        assert_eq!(schedule_ended(ActionKind::Unban), Some(ScheduleKind::Unban));
        for k in [ActionKind::Timeout, ActionKind::Untimeout] {
            assert_eq!(schedule_ended(k), Some(ScheduleKind::RenewTimeout));
        }
        for k in [ActionKind::Ban, ActionKind::Kick] {
            assert_eq!(schedule_ended(k), None);
        }
    }

    #[test]
    fn ban_events_are_cases_unless_the_history_already_says_so() {
        let hist = |latest: Option<(ActionKind, i64)>, bans, unbans| BanHistory {
            latest,
            bans,
            unbans,
        };
        let add = |h| ban_event_case(1, TARGET, BanEvent::Added, h, Some(" raid "));
        let remove = |h| ban_event_case(1, TARGET, BanEvent::Removed, h, None);
        let new = add(hist(None, 0, 0)).expect("a first ban");
        assert_eq!(
            (new.kind, new.user_id, new.moderator_id),
            (ActionKind::Ban, TARGET, 0)
        );
        assert_eq!(new.reason.as_deref(), Some("raid"));
        assert_eq!(new.idempotency_key, format!("ban-add:{TARGET}:0"));
        assert_eq!(new.outcome, CaseOutcome::Applied);
        for latest in [ActionKind::Ban, ActionKind::Tempban] {
            assert!(add(hist(Some((latest, 10)), 1, 0)).is_none(), "{latest}");
        }
        let again = add(hist(Some((ActionKind::Unban, 10)), 1, 2)).unwrap();
        assert_eq!(again.idempotency_key, format!("ban-add:{TARGET}:2"));
        // Unbans: after a ban, or with no history (a ban older than Kyuta).
        let un = remove(hist(Some((ActionKind::Tempban, 10)), 3, 1)).unwrap();
        assert_eq!((un.kind, un.moderator_id), (ActionKind::Unban, 0));
        assert_eq!(un.idempotency_key, format!("ban-remove:{TARGET}:3"));
        assert_eq!(schedule_ended(un.kind), Some(ScheduleKind::Unban));
        assert!(remove(hist(None, 0, 0)).is_some());
        assert!(remove(hist(Some((ActionKind::Unban, 10)), 1, 1)).is_none());
        // A softban's own ban and unban are Kyuta's; later ones are not.
        let soft = |age| hist(Some((ActionKind::Softban, age)), 1, 0);
        assert!(add(soft(1_000)).is_none());
        assert!(remove(soft(1_000)).is_none());
        assert!(add(soft(SOFTBAN_EVENTS_MS + 1)).is_some());
    }

    #[test]
    fn kyutas_own_and_other_entries_are_not() {
        let t = 1_800_000_000_000;
        assert!(case_of(&entry(22, BOT, t, json!([])), 1, BOT).is_none());
        // A nickname change, a role change: no case.
        let nick = json!([{"key": "nick", "new_value": "x"}]);
        assert!(case_of(&entry(24, MODERATOR, t, nick), 1, BOT).is_none());
        // A channel created.
        assert!(case_of(&entry(10, MODERATOR, t, json!([])), 1, BOT).is_none());
    }
}
