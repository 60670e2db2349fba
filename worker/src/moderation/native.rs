//! Cases for what Discord's native AutoMod did: AUTO_MODERATION_ACTION_EXECUTION (sent to
//! sessions with the AUTO_MODERATION_EXECUTION intent while the bot holds Manage Server)
//! becomes a case with the bot as moderator, the rule's name and the matched keyword in the
//! reason, posted to the mod log.
//!
//! Discord sends one execution per action of the rule: a message blocked by a rule that
//! blocks, alerts and times out arrives three times. Only BLOCK_MESSAGE (an automod delete
//! case) and TIMEOUT (a timeout case with the duration) make cases; the alert is Discord's
//! own mod-log post of the same message, so a blocked and alerted message is one case.
//!
//! The case key is `native:{rule id}:{what}:{action type}`, where `what` is the message
//! (`m{message id}`) when Discord names one (it does not for a blocked message), else the
//! member, a hash of the channel and the matched text, and the minute the event arrived
//! (`u{user}-{hash}-{minute}`): the same execution seen twice (a resumed session, two
//! generations during a roll) is one case, and so are repeats of the same blocked message
//! by the same member within a minute.
//!
//! [`case_of`] is the pure part, table-tested; [`record`] adds the rule's name (read from
//! Discord), writes the case with store retries and posts it.

use std::time::Duration;

use twilight_model::gateway::payload::incoming::AutoModerationActionExecution;
use twilight_model::guild::auto_moderation::AutoModerationActionType;
use twilight_model::id::Id;

use crate::action::ActionKind;
use crate::store::{CaseOutcome, NewCase};

use super::external::STORE_ATTEMPTS;
use super::publish::post_modlog;
use super::request::Deps;

/// The idempotency key of the case of execution `e`, seen at Unix millisecond `now_ms`.
#[must_use]
pub fn case_key(e: &AutoModerationActionExecution, now_ms: u64) -> String {
    let what = match e.message_id {
        Some(m) => format!("m{m}"),
        None => {
            let text = format!(
                "{}\u{0}{}\u{0}{}",
                e.channel_id.map_or(0, Id::get),
                e.matched_content.as_deref().unwrap_or_default(),
                e.content
            );
            format!(
                "u{}-{:016x}-{}",
                e.user_id,
                crate::hash::fnv1a64(text.as_bytes()),
                now_ms / 60_000
            )
        }
    };
    format!("native:{}:{what}:{}", e.rule_id, u8::from(e.action.kind))
}

/// The case execution `e` of guild `e.guild_id` calls for (`None` for alerts and other
/// actions); `rule_name` is the rule's name when it could be read.
#[must_use]
pub fn case_of(
    e: &AutoModerationActionExecution,
    rule_name: Option<&str>,
    bot_id: u64,
    now_ms: u64,
) -> Option<NewCase> {
    let (kind, duration) = match e.action.kind {
        AutoModerationActionType::BlockMessage => (ActionKind::AutomodDelete, None),
        AutoModerationActionType::Timeout => (
            ActionKind::Timeout,
            e.action
                .metadata
                .as_ref()
                .and_then(|m| m.duration_seconds)
                .map(u64::from),
        ),
        _ => return None,
    };
    let rule = rule_name.map_or_else(|| format!("rule {}", e.rule_id), |n| format!("rule {n:?}"));
    let what = match (&e.matched_keyword, &e.matched_content) {
        (Some(k), Some(c)) if !c.is_empty() => format!("matched keyword {k:?} ({c:?})"),
        (Some(k), _) => format!("matched keyword {k:?}"),
        (None, _) => "triggered".to_owned(),
    };
    let reason = format!(
        "Discord AutoMod {rule} {what}{}",
        match kind {
            ActionKind::AutomodDelete => ": message blocked",
            _ => "",
        }
    );
    let mut case = NewCase::new(
        e.guild_id.get(),
        case_key(e, now_ms),
        kind,
        e.user_id.get(),
        bot_id,
    )
    .outcome(CaseOutcome::Applied)
    .reason(super::modlog::truncate(
        &reason,
        super::options::MAX_REASON_CHARS,
    ))
    .evidence(serde_json::json!({
        "native_rule_id": e.rule_id.to_string(),
        "native_rule": rule_name,
        "matched_keyword": e.matched_keyword,
        "matched_content": e.matched_content,
        "channel_id": e.channel_id.map(|c| c.to_string()),
    }));
    case.duration_secs = duration.filter(|d| *d > 0);
    Some(case)
}

/// The name of rule `rule` of `guild`, read from Discord (`None` when it cannot be read).
async fn rule_name(deps: &Deps, guild: u64, rule: u64) -> Option<String> {
    deps.rest
        .model("auto_moderation_rule", |c| {
            c.auto_moderation_rule(Id::new(guild), Id::new(rule))
                .into_future()
        })
        .await
        .map(|r| r.name)
        .map_err(|e| tracing::debug!(guild, rule, error = %e, "AutoMod rule name unavailable"))
        .ok()
}

/// Records the case of execution `e`, if it calls for one, and posts it in the mod log when
/// this call created it. Store failures are retried ([`STORE_ATTEMPTS`]), then logged.
pub async fn record(deps: &Deps, e: &AutoModerationActionExecution) {
    if !matches!(
        e.action.kind,
        AutoModerationActionType::BlockMessage | AutoModerationActionType::Timeout
    ) {
        return;
    }
    let guild = e.guild_id.get();
    let now_ms = u64::try_from(deps.now().unix_millis()).unwrap_or(0);
    let name = rule_name(deps, guild, e.rule_id.get()).await;
    let Some(new) = case_of(e, name.as_deref(), deps.bot_id, now_ms) else {
        return;
    };
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=STORE_ATTEMPTS {
        match deps.store.insert_case(new.clone()).await {
            Ok((case, true)) => {
                let channel = match deps.store.guild_config(guild).await {
                    Ok(c) => c.mod_log_channel,
                    Err(err) => {
                        tracing::warn!(guild, case = case.number, error = %err, "settings unavailable; the case of a native AutoMod action is not posted");
                        None
                    }
                };
                post_modlog(deps, channel, &case).await;
                return;
            }
            Ok((_, false)) => return,
            Err(err) if attempt < STORE_ATTEMPTS => {
                tracing::warn!(guild, rule = %e.rule_id, attempt, error = %err, "could not record the case of a native AutoMod action; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(err) => {
                tracing::error!(guild, rule = %e.rule_id, error = %err, "the case of a native AutoMod action could not be recorded");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOT: u64 = 900_000_000_000_000_001;

    fn exec(action: serde_json::Value, message_id: Option<&str>) -> AutoModerationActionExecution {
        let mut v = json!({
            "guild_id": "100",
            "action": action,
            "rule_id": "555",
            "rule_trigger_type": 1,
            "user_id": "700",
            "channel_id": "300",
            "content": "my catz",
            "matched_keyword": "cat*",
            "matched_content": "catz",
        });
        if let Some(m) = message_id {
            v["message_id"] = json!(m);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn blocks_and_timeouts_are_cases_alerts_are_not() {
        let t = 1_800_000_000_000;
        let block = exec(json!({"type": 1, "metadata": {}}), None);
        let c = case_of(&block, Some("Kyuta: words"), BOT, t).unwrap();
        assert_eq!(
            (c.kind, c.user_id, c.moderator_id),
            (ActionKind::AutomodDelete, 700, BOT)
        );
        assert_eq!(c.outcome, CaseOutcome::Applied);
        let reason = c.reason.unwrap();
        assert!(
            reason.contains("\"Kyuta: words\"") && reason.contains("\"cat*\""),
            "{reason}"
        );
        let timeout = exec(
            json!({"type": 3, "metadata": {"duration_seconds": 60}}),
            None,
        );
        let c = case_of(&timeout, None, BOT, t).unwrap();
        assert_eq!((c.kind, c.duration_secs), (ActionKind::Timeout, Some(60)));
        assert!(c.reason.unwrap().contains("rule 555"));
        let alert = exec(json!({"type": 2, "metadata": {"channel_id": "9"}}), None);
        assert!(case_of(&alert, None, BOT, t).is_none());
    }

    #[test]
    fn the_key_is_the_same_for_the_same_execution_and_differs_per_action() {
        let t = 1_800_000_000_000;
        let block = exec(json!({"type": 1, "metadata": {}}), None);
        let timeout = exec(
            json!({"type": 3, "metadata": {"duration_seconds": 60}}),
            None,
        );
        assert_eq!(case_key(&block, t), case_key(&block, t + 1_000));
        assert_ne!(case_key(&block, t), case_key(&timeout, t));
        assert!(case_key(&block, t).starts_with("native:555:u700-"));
        let seen = exec(json!({"type": 1, "metadata": {}}), Some("42"));
        assert_eq!(case_key(&seen, t), "native:555:m42:1");
    }
}
