//! Two workers acting in one guild at once (separate processes' worth of state: their own
//! REST clients and MongoDB connections, one FerretDB): case numbers stay distinct and
//! sequential, and one invocation handled by both is carried out once.

mod moderation_support;

use std::collections::BTreeSet;

use kyuta_worker::store::{ActionKind, CaseFilter};
use moderation_support::{Harness, StoreKind};
use serde_json::json;

#[tokio::test]
async fn concurrent_bans_from_two_workers_get_distinct_numbers() {
    let store = StoreKind::mongo();
    let h = Harness::start(&store).await;
    let c = h.cast;
    let other = Harness::worker_on(&h.sim, &store, "worker-1").await;
    let g = h.sim.guild(c.guild).unwrap();
    // Every plain member (no role) and Member-role member is a valid target.
    let targets: Vec<u64> = g
        .members
        .values()
        .filter(|m| !m.user.bot)
        .map(|m| m.user.id)
        .filter(|id| ![c.owner, c.admin, c.moderator].contains(id))
        .collect();
    assert!(targets.len() >= 8, "{} targets", targets.len());
    let mut interactions = Vec::new();
    for t in &targets {
        interactions.push(
            h.build_interaction(
                c.moderator,
                "ban",
                json!({"user": t.to_string(), "reason": "raid"}),
            )
            .await,
        );
    }
    let runs = interactions.iter().enumerate().map(|(i, it)| {
        let w = if i % 2 == 0 { &h.worker } else { &other };
        h.run_interaction(w, it)
    });
    let results = futures::future::join_all(runs).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let page = h
        .worker
        .store
        .list_cases(c.guild, &CaseFilter::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(page.total as usize, targets.len());
    let numbers: BTreeSet<u64> = page.cases.iter().map(|k| k.number).collect();
    assert_eq!(numbers.len(), targets.len(), "numbers are distinct");
    let users: BTreeSet<u64> = page.cases.iter().map(|k| k.user_id).collect();
    assert_eq!(users.len(), targets.len(), "one case per target");
    assert!(page.cases.iter().all(|k| k.kind == ActionKind::Ban));
    for t in &targets {
        assert!(h.is_banned(*t));
    }
    h.shutdown().await;
}

#[tokio::test]
async fn one_invocation_on_two_workers_is_carried_out_once() {
    let store = StoreKind::mongo();
    let h = Harness::start(&store).await;
    let c = h.cast;
    let other = Harness::worker_on(&h.sim, &store, "worker-1").await;
    let it = h
        .build_interaction(c.moderator, "ban", json!({"user": c.member.to_string()}))
        .await;
    let (a, b) = tokio::join!(
        h.run_interaction(&h.worker, &it),
        h.run_interaction(&other, &it)
    );
    // One carried it out; the other answered from the same case (done, or still running).
    let oks = [a.is_ok(), b.is_ok()].iter().filter(|x| **x).count();
    assert!(oks >= 1, "{a:?} {b:?}");
    assert_eq!(
        h.audit_of(22, c.member).await.len(),
        1,
        "one ban on Discord"
    );
    let page = h
        .worker
        .store
        .list_cases(c.guild, &CaseFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 1, "one case");
    // Both took a case number before one of them won the invocation's key, so the case is
    // #1 or #2 (the loser's number stays unused); the refusal names the case that exists.
    let number = page.cases[0].number;
    for r in [&a, &b] {
        if let Err(e) = r {
            assert!(
                e.to_string()
                    .contains(&format!("already being carried out (case #{number})")),
                "{e}"
            );
        }
    }
    h.shutdown().await;
}
