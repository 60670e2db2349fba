//! `/massban` through the running worker: a dry run changes nothing; a raid of members and
//! outsiders is banned with one case each and one mod-log post, one ban at a time while the
//! bot lacks Manage Server and in one bulk ban once it holds it; the owner and members above
//! the moderator are refused; an invocation delivered twice bans once.

mod moderation_support;

use std::time::Duration;

use kyuta_worker::store::{ActionKind, CaseFilter, CaseOutcome};
use moderation_support::{Harness, StoreKind, http, reply_text, wait_until};
use serde_json::{Value, json};

/// A new account joins the test guild; returns its id.
async fn join(h: &Harness, name: &str) -> u64 {
    let (status, body) = http(
        &h.sim,
        "POST",
        &format!("/_sim/guilds/{}/members", h.cast.guild),
        Some(json!({"username": name})),
    )
    .await;
    assert_eq!(status, 201, "join: {body}");
    body["user"]["id"].as_str().unwrap().parse().unwrap()
}

async fn rest_requests(h: &Harness, route_part: &str) -> u64 {
    let (_, stats) = http(&h.sim, "GET", "/_sim/stats", None).await;
    stats["rest_requests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.contains(route_part))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum()
}

/// An account that joined and left: not a member, but a user Discord knows (banning an id
/// no account has is refused with Unknown User).
async fn outsider(h: &Harness, name: &str) -> u64 {
    let id = join(h, name).await;
    let (status, body) = http(
        &h.sim,
        "DELETE",
        &format!("/_sim/guilds/{}/members/{id}", h.cast.guild),
        None,
    )
    .await;
    assert!(status < 300, "leave: {status} {body}");
    id
}

fn list(users: &[u64]) -> String {
    users
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raid_is_banned_with_a_case_each_singly_then_in_bulk() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (worker, cases) = h.start_live_on_mongo().await;
    h.slash_answer(c.admin, "modlog", json!({"channel": c.mod_log.to_string()}))
        .await;
    let mut raiders = Vec::new();
    for i in 0..6 {
        raiders.push(join(&h, &format!("raider{i}")).await);
    }
    // Accounts that are not members can be banned by id.
    let outsiders = [outsider(&h, "gone1").await, outsider(&h, "gone2").await];

    // A dry run: who would go, who not; nothing happens.
    let mut named = raiders.clone();
    named.extend(outsiders);
    named.extend([c.owner, c.admin]);
    let a = h
        .slash_answer(
            c.moderator,
            "massban",
            json!({"users": list(&named), "dry_run": true}),
        )
        .await;
    let text = reply_text(&a);
    assert!(
        text.contains("Dry run: **8** users would be banned"),
        "{text}"
    );
    assert!(text.contains("server owner"), "{text}");
    assert!(text.contains("your highest role must be above"), "{text}");
    assert!(
        named.iter().all(|u| !h.is_banned(*u)),
        "a dry run bans nobody"
    );
    let all_bans = CaseFilter {
        kind: Some(ActionKind::Ban),
        ..CaseFilter::default()
    };
    assert_eq!(
        cases
            .list_cases(c.guild, &all_bans, 0, 50)
            .await
            .unwrap()
            .total,
        0
    );

    // The bot lacks Manage Server: one ban at a time.
    let first: Vec<u64> = raiders[..4]
        .iter()
        .copied()
        .chain([outsiders[0], c.owner])
        .collect();
    let a = h
        .slash_answer(
            c.moderator,
            "massban",
            json!({"users": list(&first), "reason": "raid"}),
        )
        .await;
    let text = reply_text(&a);
    assert!(
        text.starts_with("Banned **5** users (cases #1–#5)."),
        "{text}"
    );
    assert!(text.contains("Refused 1"), "{text}");
    assert!(first[..5].iter().all(|u| h.is_banned(*u)));
    assert!(!h.is_banned(c.owner));
    assert_eq!(rest_requests(&h, "bulk-ban").await, 0);
    let page = cases.list_cases(c.guild, &all_bans, 0, 50).await.unwrap();
    assert_eq!(page.total, 5);
    for case in &page.cases {
        assert_eq!(case.outcome, CaseOutcome::Applied, "{case:?}");
        assert_eq!(case.moderator_id, c.moderator);
        assert_eq!(case.reason.as_deref(), Some("raid"));
    }
    let ban_audit = h.audit_of(22, raiders[0]).await;
    assert_eq!(
        ban_audit[0]["reason"].as_str(),
        Some(format!("raid (massban, by {})", c.moderator).as_str())
    );

    // With Manage Server, one bulk ban; a user banned already is reported, not recounted.
    h.grant_bot(0x20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = [raiders[4], raiders[5], outsiders[1], raiders[0]];
    h.post(
        c.moderator,
        &format!("k!massban {} raid wave two", list(&second)),
    )
    .await;
    let mut texts: Vec<String> = Vec::new();
    let answered = wait_until(Duration::from_secs(20), async || {
        texts = h.bot_replies(1).await;
        texts.iter().any(|t| t.starts_with("Banned"))
    })
    .await;
    assert!(answered, "{texts:?}");
    let text = texts.iter().find(|t| t.starts_with("Banned")).unwrap();
    assert!(
        text.starts_with("Banned **3** users (cases #6–#8)."),
        "{text}"
    );
    assert!(text.contains("Discord did not ban 1"), "{text}");
    assert_eq!(rest_requests(&h, "bulk-ban").await, 1);
    assert!(second.iter().all(|u| h.is_banned(*u)));
    let page = cases.list_cases(c.guild, &all_bans, 0, 50).await.unwrap();
    assert_eq!(page.total, 9, "one case per user named");
    let failed: Vec<&kyuta_worker::store::Case> = page
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, CaseOutcome::Failed { .. }))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].user_id, raiders[0]);
    assert_eq!(failed[0].reason.as_deref(), Some("raid wave two"));

    // One mod-log post per massban.
    let posts = h.modlog_posts("Massban", 2).await;
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts[0].contains("Massban · 5 banned"), "{}", posts[0]);
    assert!(posts[0].contains("#1–#5"), "{}", posts[0]);
    assert!(posts[1].contains("Massban · 3 banned"), "{}", posts[1]);

    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_massban_delivered_twice_bans_once() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let users = [c.member, c.member2, outsider(&h, "gone").await];
    let content = format!("massban {} spam wave", list(&users));
    let first = h
        .prefix_with_id(&h.worker, c.moderator, &content, 777_000_000_000_000_001)
        .await
        .expect("the massban runs");
    let first = moderation_support::text(&first);
    assert!(first.starts_with("Banned **3** users"), "{first}");
    let again = h
        .prefix_with_id(&h.worker, c.moderator, &content, 777_000_000_000_000_001)
        .await
        .expect("the second delivery answers");
    let again = moderation_support::text(&again);
    assert!(again.contains("3 were already handled"), "{again}");
    let filter = CaseFilter {
        kind: Some(ActionKind::Ban),
        ..CaseFilter::default()
    };
    let page = h
        .worker
        .store
        .list_cases(c.guild, &filter, 0, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 3);
    let banned: Vec<Value> = h.audit_log().await;
    assert_eq!(
        banned.iter().filter(|e| e["action_type"] == 22).count(),
        3,
        "three bans, not six"
    );
    // Errors say what is wrong.
    let e = h
        .prefix(c.moderator, "massban 5 spam")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("name at least one user"), "{e}");
    h.shutdown().await;
}
