//! Automod on edits, through the running worker: a member posts clean text and edits it into
//! abuse (a known way around filters that only read new messages); the edit is acted on like a
//! new message, once. Discord resolving a link (an embed-only update) is not an edit.

mod moderation_support;

use std::time::Duration;

use kyuta_worker::store::{ActionKind, CaseFilter};
use moderation_support::{Harness, StoreKind, http, wait_until};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_edited_into_abuse_is_caught_once() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (worker, cases) = h.start_live_on_mongo().await;
    h.slash_answer(c.owner, "automod preset", json!({"name": "standard"}))
        .await;

    let clean = h.post(c.member, "hello everyone, how is it going").await;
    let other = h.post(c.member2, "see https://example.com").await;
    let clean_id = clean["id"].as_str().unwrap().to_owned();
    let other_id = other["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids = |msgs: &[serde_json::Value]| -> Vec<String> {
        msgs.iter()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        ids(&h.messages(c.general).await).contains(&clean_id),
        "a clean message stays"
    );

    // Discord resolves the link: an embed-only MESSAGE_UPDATE, not an edit.
    let (status, body) = http(
        &h.sim,
        "PATCH",
        &format!("/_sim/channels/{}/messages/{other_id}", c.general),
        Some(json!({"author_id": c.member2.to_string(), "unfurl": true,
                    "embeds": [{"title": "a page", "url": "https://example.com"}]})),
    )
    .await;
    assert_eq!(status, 200, "unfurl: {body}");

    // The member edits the clean message into abuse.
    let (status, body) = http(
        &h.sim,
        "PATCH",
        &format!("/_sim/channels/{}/messages/{clean_id}", c.general),
        Some(json!({"author_id": c.member.to_string(), "content": "kill yourself"})),
    )
    .await;
    assert_eq!(status, 200, "edit: {body}");
    assert!(
        wait_until(Duration::from_secs(10), async || !ids(&h
            .messages(c.general)
            .await)
        .contains(&clean_id))
        .await,
        "the edited message was not deleted"
    );
    assert!(
        wait_until(Duration::from_secs(10), async || h
            .timed_out_until(c.member)
            .is_some())
        .await,
        "the member was not timed out for the edit"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let page = cases
        .list_cases(c.guild, &CaseFilter::default(), 0, 50)
        .await
        .unwrap();
    let of = |kind: ActionKind, user: u64| {
        page.cases
            .iter()
            .filter(|x| x.kind == kind && x.user_id == user)
            .count()
    };
    assert_eq!(
        of(ActionKind::AutomodDelete, c.member),
        1,
        "{:?}",
        page.cases
    );
    assert_eq!(of(ActionKind::Timeout, c.member), 1, "{:?}", page.cases);
    let delete = page
        .cases
        .iter()
        .find(|x| x.kind == ActionKind::AutomodDelete)
        .unwrap();
    assert_eq!(
        delete.evidence.as_ref().expect("evidence")["rule"],
        "toxicity",
        "{delete:?}"
    );
    // Nothing happened to the message whose link was resolved.
    assert_eq!(
        of(ActionKind::AutomodDelete, c.member2),
        0,
        "{:?}",
        page.cases
    );
    assert!(ids(&h.messages(c.general).await).contains(&other_id));

    worker.shutdown().await;
    h.shutdown().await;
}
