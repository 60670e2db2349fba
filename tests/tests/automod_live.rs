//! Automod on the running worker: messages and joins arrive over the simulator's gateway,
//! the guild's rules (set with `/automod preset`) act on Discord, and each action is a case
//! with its evidence — on the MongoDB store (FerretDB), read back through a second handle.

mod moderation_support;

use std::time::Duration;

use kyuta_worker::store::{ActionKind, CaseFilter, CaseOutcome};
use moderation_support::{Harness, StoreKind, http, wait_until};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxic_messages_and_a_join_burst_are_acted_on_once_with_cases() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (worker, cases) = h.start_live_on_mongo().await;

    let id = h
        .send_slash(c.admin, "modlog", json!({"channel": c.mod_log.to_string()}))
        .await;
    h.answer(id).await;
    let id = h
        .send_slash(c.owner, "automod preset", json!({"name": "standard"}))
        .await;
    let a = h.answer(id).await;
    assert!(
        a["original"]["content"]
            .as_str()
            .unwrap_or("")
            .contains('✅'),
        "{a}"
    );

    // A moderator's message is exempt; a member's is deleted and, as self-harm incitement,
    // the member is timed out and the moderators alerted (no preset bans on the score alone).
    let exempt = h.post(c.moderator, "kill yourself").await;
    let toxic = h.post(c.member, "kill yourself").await;
    let toxic_id = toxic["id"].as_str().unwrap().to_owned();
    assert!(
        wait_until(Duration::from_secs(10), async || h
            .timed_out_until(c.member)
            .is_some())
        .await,
        "the member was not timed out"
    );
    assert!(!h.is_banned(c.member), "banned on the score alone");
    let general = h.messages(c.general).await;
    let ids: Vec<&str> = general.iter().filter_map(|m| m["id"].as_str()).collect();
    assert!(
        !ids.contains(&toxic_id.as_str()),
        "the toxic message is still there"
    );
    assert!(
        ids.contains(&exempt["id"].as_str().unwrap()),
        "the moderator's message was deleted"
    );
    let page = cases
        .list_cases(c.guild, &CaseFilter::default(), 0, 50)
        .await
        .unwrap();
    let kinds: Vec<ActionKind> = page.cases.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&ActionKind::AutomodDelete), "{kinds:?}");
    assert!(!kinds.contains(&ActionKind::Ban), "{kinds:?}");
    let timeout = page
        .cases
        .iter()
        .find(|x| x.kind == ActionKind::Timeout)
        .expect("a timeout case");
    assert_eq!(timeout.user_id, c.member);
    assert_eq!(timeout.moderator_id, c.bot);
    assert_eq!(timeout.outcome, CaseOutcome::Applied);
    let evidence = timeout.evidence.as_ref().expect("evidence on the case");
    assert_eq!(evidence["rule"], "toxicity");
    assert_eq!(
        page.cases
            .iter()
            .filter(|x| x.kind == ActionKind::Timeout)
            .count(),
        1
    );

    // A join burst: the standard preset's raid rule (10 joins in 10 s) times out the
    // joiners once it trips and alerts.
    let mut joined = Vec::new();
    for i in 0..14 {
        let (status, body) = http(
            &h.sim,
            "POST",
            &format!("/_sim/guilds/{}/members", c.guild),
            Some(json!({"username": format!("raider{i}")})),
        )
        .await;
        assert!(status == 200 || status == 201, "join {i}: {status} {body}");
        let user = body["user"]["id"]
            .as_str()
            .or(body["id"].as_str())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no user id in {body}"));
        joined.push(user);
    }
    let last = *joined.last().unwrap();
    assert!(
        wait_until(Duration::from_secs(15), async || h
            .timed_out_until(last)
            .is_some())
        .await,
        "the last raider was not timed out"
    );
    assert!(
        h.timed_out_until(joined[0]).is_none(),
        "the first joiner, before the raid tripped, was punished"
    );
    let alerted = wait_until(Duration::from_secs(10), async || {
        h.messages(c.mod_log).await.iter().any(|m| {
            m["content"]
                .as_str()
                .unwrap_or("")
                .contains("automod **raid**")
        })
    })
    .await;
    assert!(alerted, "no raid alert in the mod log");

    // Analytics counted it all: /stats shows the messages, the joins and automod's actions.
    let id = h.send_slash(c.owner, "stats", json!({})).await;
    let stats = h.answer(id).await;
    let fields = stats["original"]["embeds"][0]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["value"].as_str())
            .map(|v| v.split(" · ").next().unwrap_or("").to_owned())
            .unwrap_or_else(|| panic!("no {name} in {stats}"))
    };
    assert_eq!(field("Messages"), "2", "{stats}");
    assert_eq!(field("Joins"), "14", "{stats}");
    assert!(
        field("Automod actions").parse::<u64>().unwrap() >= 3,
        "{stats}"
    );
    assert!(field("Commands").parse::<u64>().unwrap() >= 3, "{stats}");
    worker.shutdown().await;
    h.shutdown().await;
}
