//! `/purge` through the running worker: 250 messages, 30 of them older than 14 days, go in
//! bulk deletes and single deletes with one case and one mod-log post, progress shown in the
//! reply; the prefix form with filters deletes only what matches and answers in one message;
//! refusals change nothing.

mod moderation_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyuta_worker::store::{ActionKind, CaseFilter, CaseOutcome};
use moderation_support::{Harness, StoreKind, http, wait_until};
use serde_json::{Value, json};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// `user` posts `content` in `channel`, sent at `at_ms` when given; with `attachment` a file.
async fn post(h: &Harness, user: u64, content: &str, at_ms: Option<u64>, attachment: bool) -> u64 {
    let mut body = json!({"author_id": user.to_string(), "content": content});
    if let Some(at) = at_ms {
        body["created_at_ms"] = json!(at);
    }
    if attachment {
        body["attachments"] = json!([{"filename": "raid.png", "content_type": "image/png"}]);
    }
    let (status, m) = http(
        &h.sim,
        "POST",
        &format!("/_sim/channels/{}/messages", h.cast.general),
        Some(body),
    )
    .await;
    assert!(status == 200 || status == 201, "posting: {status} {m}");
    m["id"].as_str().unwrap().parse().unwrap()
}

/// The bot's replies in #general once there are `n` and none is a progress line (`…`).
async fn settled_replies(h: &Harness, n: usize) -> Vec<String> {
    let mut texts = Vec::new();
    let settled = wait_until(Duration::from_secs(30), async || {
        texts = h.bot_replies(n).await;
        texts.iter().all(|t| !t.ends_with('…'))
    })
    .await;
    assert!(settled, "the replies did not settle: {texts:?}");
    texts
}

fn ids(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_of_250_messages_with_30_past_14_days_is_one_case() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (worker, cases) = h.start_live_on_mongo().await;
    h.slash_answer(c.admin, "modlog", json!({"channel": c.mod_log.to_string()}))
        .await;

    let now = now_ms();
    // Ten a month old stay (past the count); thirty 20 days old go one by one; 220 recent
    // ones go in bulk.
    let mut keep = Vec::new();
    for i in 0..10 {
        keep.push(
            post(
                &h,
                c.member2,
                &format!("old news {i}"),
                Some(now - 30 * DAY_MS + i),
                false,
            )
            .await,
        );
    }
    let mut gone = Vec::new();
    for i in 0..30 {
        gone.push(
            post(
                &h,
                c.member,
                &format!("last month {i}"),
                Some(now - 20 * DAY_MS + i),
                false,
            )
            .await,
        );
    }
    for i in 0..220 {
        let who = if i % 2 == 0 { c.member } else { c.member2 };
        gone.push(post(&h, who, &format!("chatter {i}"), None, false).await);
    }

    let id = h
        .send_slash(
            c.admin,
            "purge",
            json!({"count": 250, "reason": "raid cleanup"}),
        )
        .await;
    // The answer is edited while the purge runs, then once with the result.
    let mut seen = Vec::new();
    let mut last = Value::Null;
    let done = wait_until(Duration::from_secs(90), async || {
        let (_, body) = http(&h.sim, "GET", &format!("/_sim/interactions/{id}"), None).await;
        let text = body["original"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !text.is_empty() && seen.last() != Some(&text) {
            seen.push(text.clone());
        }
        last = body;
        text.starts_with("Deleted **")
    })
    .await;
    assert!(done, "the purge did not answer: {last}");
    let answer = seen.last().unwrap();
    assert!(
        answer.contains("Deleted **250** messages (30 older than 14 days, one by one)"),
        "{answer}"
    );
    assert!(
        seen.iter().any(|t| t.ends_with('…')),
        "no progress was shown before the answer: {seen:?}"
    );
    let flags = last["original"]["flags"].as_u64().unwrap_or(0);
    assert_eq!(flags & 64, 64, "the answer is ephemeral: {last}");

    // Exactly the 250 newest are gone.
    let left = ids(&h.messages(c.general).await);
    for k in &keep {
        assert!(left.contains(k), "a message past the count was deleted");
    }
    let deleted_still_there: Vec<&u64> = gone.iter().filter(|g| left.contains(g)).collect();
    assert!(
        deleted_still_there.is_empty(),
        "{} not deleted",
        deleted_still_there.len()
    );

    // Three bulk deletes (100, 100, 20) and thirty single deletes, under the reason.
    let audit = h.audit_log().await;
    let bulk: Vec<u64> = audit
        .iter()
        .filter(|e| e["action_type"].as_u64() == Some(73))
        .map(|e| e["options"]["count"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut sizes = bulk.clone();
    sizes.sort_unstable();
    assert_eq!(sizes, [20, 100, 100], "bulk deletes: {bulk:?}");
    let singles = audit
        .iter()
        .filter(|e| e["action_type"].as_u64() == Some(72))
        .count();
    assert_eq!(singles, 30, "single deletes");
    assert!(
        audit
            .iter()
            .filter(|e| matches!(e["action_type"].as_u64(), Some(72 | 73)))
            .all(|e| e["reason"].as_str() == Some("raid cleanup")),
        "every delete carries the reason"
    );

    // One case, applied, recording the count; one mod-log post.
    let filter = CaseFilter {
        kind: Some(ActionKind::Purge),
        ..CaseFilter::default()
    };
    let page = cases.list_cases(c.guild, &filter, 0, 10).await.unwrap();
    assert_eq!(page.total, 1, "{:?}", page.cases);
    let case = &page.cases[0];
    assert_eq!(case.outcome, CaseOutcome::Applied);
    assert_eq!((case.user_id, case.moderator_id), (0, c.admin));
    assert_eq!(case.reason.as_deref(), Some("raid cleanup"));
    let evidence = case.evidence.as_ref().unwrap();
    assert_eq!(evidence["planned"], 250);
    assert_eq!(evidence["old"], 30);
    let title = format!("Case #{} · Purge", case.number);
    let posts = h.modlog_posts(&title, 1).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(
        posts[0].contains(&format!(
            "250 messages in <#{}> (30 older than 14 days, one by one)",
            c.general
        )),
        "{}",
        posts[0]
    );
    assert!(posts[0].contains("Anyone"), "{}", posts[0]);

    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefix_form_deletes_only_what_its_filters_match() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (worker, _cases) = h.start_live_on_mongo().await;

    let mut nitro = Vec::new();
    let mut files = Vec::new();
    let mut rest = Vec::new();
    for i in 0..12 {
        match i % 4 {
            0 => nitro.push(post(&h, c.member, &format!("FREE Nitro here {i}"), None, false).await),
            1 => files.push(post(&h, c.member2, &format!("look {i}"), None, true).await),
            2 => rest.push(post(&h, c.member2, &format!("free nitro? {i}"), None, false).await),
            _ => rest.push(post(&h, c.member, &format!("hello {i}"), None, false).await),
        }
    }

    // Text (any case) by one user; the words after the named filters are the reason.
    let command = post(
        &h,
        c.admin,
        &format!(
            "k!purge 100 <@{}> contains:\"free nitro\" spam wave",
            c.member
        ),
        None,
        false,
    )
    .await;
    let texts = settled_replies(&h, 1).await;
    assert!(texts[0].starts_with("Deleted **3** messages."), "{texts:?}");
    let left = ids(&h.messages(c.general).await);
    assert!(
        nitro.iter().all(|m| !left.contains(m)),
        "the matches are gone"
    );
    assert!(
        rest.iter().chain(&files).all(|m| left.contains(m)),
        "the rest stays"
    );
    assert!(left.contains(&command), "the command itself stays");

    // Attachments only.
    post(&h, c.admin, "k!purge 100 attachments:yes", None, false).await;
    let texts = settled_replies(&h, 2).await;
    assert!(texts[1].starts_with("Deleted **3** messages."), "{texts:?}");
    let left = ids(&h.messages(c.general).await);
    assert!(files.iter().all(|m| !left.contains(m)));
    assert!(rest.iter().all(|m| left.contains(m)));

    // Refusals: a member without Manage Messages; a bad regex; a count past 1000.
    post(&h, c.plain, "k!purge 5", None, false).await;
    post(&h, c.admin, "k!purge 5 regex:\"(unclosed\"", None, false).await;
    post(&h, c.admin, "k!purge 5000", None, false).await;
    let texts = settled_replies(&h, 5).await;
    let refusals = &texts[2..];
    assert!(
        refusals.iter().any(|t| t.contains("manage messages")),
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .any(|t| t.contains("not a valid regular expression")),
        "{refusals:?}"
    );
    assert!(
        refusals.iter().any(|t| t.contains("between 1 and 1000")),
        "{refusals:?}"
    );
    let left = ids(&h.messages(c.general).await);
    assert!(
        rest.iter().all(|m| left.contains(m)),
        "refusals delete nothing"
    );

    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_delivered_twice_purges_once() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let mut posted = Vec::new();
    for i in 0..8 {
        posted.push(post(&h, c.member, &format!("line {i}"), None, false).await);
    }
    // The command's message, newer than the lines; the same message seen twice (a resumed
    // session replaying it, two generations during a roll).
    let command_id = ((now_ms() + 1000 - 1_420_070_400_000) << 22) | 7;
    let first = h
        .prefix_with_id(&h.worker, c.admin, "purge 5", command_id)
        .await
        .expect("the purge runs");
    assert!(
        moderation_support::text(&first).starts_with("Deleted **5** messages."),
        "{first:?}"
    );
    let again = h
        .prefix_with_id(&h.worker, c.admin, "purge 5", command_id)
        .await
        .expect("the second delivery answers");
    assert!(
        moderation_support::text(&again).contains("already carried out"),
        "{again:?}"
    );
    let left = ids(&h.messages(c.general).await);
    assert_eq!(
        posted.iter().filter(|m| left.contains(m)).count(),
        3,
        "five deleted once, not ten"
    );
    let page = h
        .worker
        .store
        .list_cases(
            c.guild,
            &CaseFilter {
                kind: Some(ActionKind::Purge),
                ..CaseFilter::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    h.shutdown().await;
}
