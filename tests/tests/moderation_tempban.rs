//! Tempbans against the simulator: `/ban` with duration `5s` bans, posts case #1 in the
//! mod-log channel and 5 s later the user is unbanned exactly once — also when the worker is
//! restarted in between or dies holding the claim; a permanent ban cancels the pending
//! expiry; an expiry whose ban is already gone completes quietly; a retried command never
//! bans twice.

mod moderation_support;

use std::time::{Duration, Instant};

use kyuta_worker::moderation::scheduler;
use kyuta_worker::store::{ActionKind, CaseOutcome, ScheduleKind, ScheduleOutcome, ScheduleState};
use moderation_support::{Harness, StoreKind, Worker, text, wait_until};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const BAN_ADD: u64 = 22;
const BAN_REMOVE: u64 = 23;

/// Runs a worker's scheduler until the returned token is cancelled.
fn start_scheduler(w: &Worker) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let token = CancellationToken::new();
    let task = tokio::spawn(scheduler::run(
        w.deps(),
        w.scheduler_config(),
        token.clone(),
    ));
    (token, task)
}

async fn stop(s: (CancellationToken, tokio::task::JoinHandle<()>)) {
    s.0.cancel();
    s.1.await.unwrap();
}

fn embed_titles(messages: &[serde_json::Value]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| m["embeds"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["title"].as_str().map(str::to_owned))
        .collect()
}

async fn five_second_tempban(store: StoreKind, restart: bool) {
    let mut h = Harness::start(&store).await;
    let c = h.cast;
    h.set_modlog().await;
    let banned_at = Instant::now();
    let reply = h
        .slash(
            c.moderator,
            "ban",
            json!({"user": c.member.to_string(), "duration": "5s", "reason": "cool down"}),
        )
        .await
        .expect("tempban");
    assert!(text(&reply).contains("case #1"), "{}", text(&reply));
    assert!(h.is_banned(c.member));
    let log = h.messages(c.mod_log).await;
    assert_eq!(embed_titles(&log), vec!["Case #1 · Tempban".to_owned()]);

    if restart {
        // The worker goes away (its store handle closed) and a new process starts on the
        // same store before the expiry.
        tokio::time::sleep(Duration::from_secs(1)).await;
        h.restart_worker(&store, "worker-0-restarted").await;
    }
    let sched = start_scheduler(&h.worker);
    let lifted = wait_until(Duration::from_secs(15), async || !h.is_banned(c.member)).await;
    let after = banned_at.elapsed();
    assert!(lifted, "the tempban was not lifted within 15 s");
    assert!(
        after >= Duration::from_millis(4500),
        "lifted after {after:?}, before its 5 s were up"
    );
    // Give further scheduler passes (and any duplicate) the chance to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop(sched).await;

    assert_eq!(h.audit_of(BAN_ADD, c.member).await.len(), 1, "one ban");
    assert_eq!(
        h.audit_of(BAN_REMOVE, c.member).await.len(),
        1,
        "exactly one unban"
    );
    let w = &h.worker;
    let s = w
        .store
        .get_schedule(c.guild, c.member, ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    match &s.state {
        ScheduleState::Done { outcome, .. } => assert_eq!(*outcome, ScheduleOutcome::Succeeded),
        other => panic!("the schedule is {other:?}"),
    }
    let unban = w
        .store
        .get_case(c.guild, 2)
        .await
        .unwrap()
        .expect("case #2");
    assert_eq!(unban.kind, ActionKind::Unban);
    assert_eq!(unban.outcome, CaseOutcome::Applied);
    assert_eq!(unban.moderator_id, c.bot);
    assert_eq!(unban.references, vec![1]);
    assert_eq!(unban.reason.as_deref(), Some("Tempban expired (case #1)"));
    assert!(w.store.get_case(c.guild, 3).await.unwrap().is_none());
    let titles = embed_titles(&h.messages(c.mod_log).await);
    assert_eq!(titles, vec!["Case #1 · Tempban", "Case #2 · Unban"]);
    h.shutdown().await;
}

#[tokio::test]
async fn five_second_tempban_embedded() {
    five_second_tempban(StoreKind::embedded(), false).await;
}

#[tokio::test]
async fn five_second_tempban_mongo() {
    five_second_tempban(StoreKind::mongo(), false).await;
}

#[tokio::test]
async fn five_second_tempban_across_a_restart_embedded() {
    five_second_tempban(StoreKind::embedded(), true).await;
}

#[tokio::test]
async fn five_second_tempban_across_a_restart_mongo() {
    five_second_tempban(StoreKind::mongo(), true).await;
}

#[tokio::test]
async fn a_worker_that_dies_holding_the_claim_is_taken_over_once() {
    let store = StoreKind::mongo();
    let h = Harness::start(&store).await;
    let c = h.cast;
    h.slash(
        c.moderator,
        "ban",
        json!({"user": c.member.to_string(), "duration": "2s"}),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // Worker A claims the due expiry and dies before doing anything.
    let due = h
        .worker
        .store
        .get_schedule(c.guild, c.member, ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    assert!(
        h.worker
            .store
            .claim_schedule(&due.id, "worker-a", Duration::from_secs(3))
            .await
            .unwrap()
    );
    // Worker B polls: nothing to take while A's lease holds, then takes over.
    let b = Harness::worker_on(&h.sim, &store, "worker-b").await;
    let sched = start_scheduler(&b);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.is_banned(c.member), "B must wait for A's lease");
    assert!(
        wait_until(Duration::from_secs(10), async || !h.is_banned(c.member)).await,
        "B took over after the lease"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop(sched).await;
    assert_eq!(h.audit_of(BAN_REMOVE, c.member).await.len(), 1);
    // A, back from the dead, cannot complete it any more.
    assert!(
        !h.worker
            .store
            .complete_schedule(&due.id, "worker-a", ScheduleOutcome::Succeeded)
            .await
            .unwrap()
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_permanent_ban_cancels_the_pending_expiry() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.slash(
        c.moderator,
        "ban",
        json!({"user": c.member.to_string(), "duration": "2s"}),
    )
    .await
    .unwrap();
    h.prefix(c.moderator, &format!("ban {} for good this time", c.member))
        .await
        .unwrap();
    let sched = start_scheduler(&h.worker);
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop(sched).await;
    assert!(
        h.is_banned(c.member),
        "the old expiry must not lift the permanent ban"
    );
    assert!(h.audit_of(BAN_REMOVE, c.member).await.is_empty());
    let s = h
        .worker
        .store
        .get_schedule(c.guild, c.member, ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(s.state, ScheduleState::Cancelled { .. }), "{s:?}");
    assert_eq!(
        h.worker
            .store
            .get_case(c.guild, 2)
            .await
            .unwrap()
            .unwrap()
            .kind,
        ActionKind::Ban
    );
    h.shutdown().await;
}

#[tokio::test]
async fn an_expiry_whose_ban_is_gone_completes_quietly() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.set_modlog().await;
    h.slash(
        c.moderator,
        "ban",
        json!({"user": c.member.to_string(), "duration": "1s"}),
    )
    .await
    .unwrap();
    // Lifted behind the bot's back (e.g. in Discord's client): the schedule is still pending.
    h.worker
        .services
        .rest
        .client()
        .delete_ban(
            twilight_model::id::Id::new(c.guild),
            twilight_model::id::Id::new(c.member),
        )
        .await
        .unwrap();
    let sched = start_scheduler(&h.worker);
    let done = wait_until(Duration::from_secs(10), async || {
        let s = h
            .worker
            .store
            .get_schedule(c.guild, c.member, ScheduleKind::Unban)
            .await
            .unwrap()
            .unwrap();
        matches!(s.state, ScheduleState::Done { .. })
    })
    .await;
    assert!(done, "the schedule completes");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop(sched).await;
    let s = h
        .worker
        .store
        .get_schedule(c.guild, c.member, ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    let ScheduleState::Done { outcome, .. } = s.state else {
        unreachable!()
    };
    assert!(
        matches!(outcome, ScheduleOutcome::Skipped { .. }),
        "{outcome:?}"
    );
    // One unban (the manual one), no retry loop, nothing posted for the expiry.
    assert_eq!(h.audit_of(BAN_REMOVE, c.member).await.len(), 1);
    let titles = embed_titles(&h.messages(c.mod_log).await);
    assert_eq!(titles, vec!["Case #1 · Tempban".to_owned()]);
    h.shutdown().await;
}

#[tokio::test]
async fn a_retried_command_bans_once_and_records_one_case() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let interaction = h
        .build_interaction(
            c.moderator,
            "ban",
            json!({"user": c.member.to_string(), "duration": "1h", "reason": "x"}),
        )
        .await;
    let first = h.run_interaction(&h.worker, &interaction).await.unwrap();
    let again = h.run_interaction(&h.worker, &interaction).await.unwrap();
    assert!(text(&first).contains("case #1"));
    assert!(text(&again).contains("case #1"), "{}", text(&again));
    assert!(text(&again).contains("already done"), "{}", text(&again));
    // Same for a prefix message redelivered.
    h.prefix_with_id(&h.worker, c.moderator, &format!("kick {}", c.member2), 4242)
        .await
        .unwrap();
    h.prefix_with_id(&h.worker, c.moderator, &format!("kick {}", c.member2), 4242)
        .await
        .unwrap();
    assert_eq!(h.audit_of(BAN_ADD, c.member).await.len(), 1);
    assert_eq!(h.audit_of(20, c.member2).await.len(), 1);
    let page = h
        .worker
        .store
        .list_cases(c.guild, &Default::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    h.shutdown().await;
}
