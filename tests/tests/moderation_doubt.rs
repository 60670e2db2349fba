//! A moderation call that Discord carried out but answered with a 5xx (or never answered)
//! is not reported as failed: the worker reads back what Discord holds. A retried kick that
//! finds no member, a retried unban that finds no ban, and a ban whose every attempt got a
//! 502 after Discord applied it are all applied, once, with their case saying so.

mod moderation_support;

use kyuta_worker::store::{ActionKind, CaseOutcome};
use moderation_support::{Harness, StoreKind, text};
use serde_json::json;

const BAN_ADD: u64 = 22;
const BAN_REMOVE: u64 = 23;
const KICK: u64 = 20;

/// Discord carries the next `count` requests of `route` out, then answers 502.
async fn applied_then_502(h: &Harness, route: &str, count: u32) {
    moderation_support::http(
        &h.sim,
        "POST",
        "/_sim/faults",
        Some(json!({"kind": "route", "route": route, "status": 502, "after_apply": true, "count": count})),
    )
    .await;
}

/// Every injected fault was used (a route that matched nothing would prove nothing).
async fn faults_used(h: &Harness) {
    let (_, faults) = moderation_support::http(&h.sim, "GET", "/_sim/faults", None).await;
    assert_eq!(faults["routes"], json!([]), "{faults}");
}

async fn last_case(h: &Harness) -> kyuta_worker::store::Case {
    let page = h
        .worker
        .store
        .list_cases(h.cast.guild, &Default::default(), 0, 1)
        .await
        .expect("list cases");
    page.cases.into_iter().next().expect("a case")
}

#[tokio::test]
async fn a_kick_whose_first_attempt_applied_is_applied_once() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    applied_then_502(&h, "DELETE /guilds/{guild}/members/{user}", 1).await;
    let reply = h
        .slash(c.moderator, "kick", json!({"user": c.member.to_string()}))
        .await
        .expect("slash kick");
    let t = text(&reply);
    assert!(t.contains(&format!("Kicked <@{}>", c.member)), "{t}");
    assert!(!h.is_member(c.member));
    assert_eq!(h.audit_of(KICK, c.member).await.len(), 1);
    faults_used(&h).await;
    let case = last_case(&h).await;
    assert_eq!(case.kind, ActionKind::Kick);
    assert_eq!(case.outcome, CaseOutcome::Applied);
    h.shutdown().await;
}

#[tokio::test]
async fn an_unban_whose_first_attempt_applied_is_applied_once() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.slash(c.moderator, "ban", json!({"user": c.member.to_string()}))
        .await
        .expect("slash ban");
    applied_then_502(&h, "DELETE /guilds/{guild}/bans/{user}", 1).await;
    let reply = h
        .slash(c.moderator, "unban", json!({"user": c.member.to_string()}))
        .await
        .expect("slash unban");
    let t = text(&reply);
    assert!(
        t.contains(&format!("<@{}>", c.member)) && !t.contains("Could not"),
        "{t}"
    );
    assert!(!h.is_banned(c.member));
    assert_eq!(h.audit_of(BAN_REMOVE, c.member).await.len(), 1);
    faults_used(&h).await;
    let case = last_case(&h).await;
    assert_eq!(case.kind, ActionKind::Unban);
    assert_eq!(case.outcome, CaseOutcome::Applied);
    h.shutdown().await;
}

#[tokio::test]
async fn a_ban_that_applied_but_never_got_a_good_answer_is_applied() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    // Every attempt (the worker tries 4 times) is carried out and answered 502.
    applied_then_502(&h, "PUT /guilds/{guild}/bans/{user}", 4).await;
    let reply = h
        .slash(c.moderator, "ban", json!({"user": c.member.to_string()}))
        .await
        .expect("slash ban");
    let t = text(&reply);
    assert!(t.contains(&format!("Banned <@{}>", c.member)), "{t}");
    assert!(h.is_banned(c.member));
    faults_used(&h).await;
    let case = last_case(&h).await;
    assert_eq!(case.kind, ActionKind::Ban);
    assert_eq!(case.outcome, CaseOutcome::Applied);
    assert!(!h.audit_of(BAN_ADD, c.member).await.is_empty());
    h.shutdown().await;
}
