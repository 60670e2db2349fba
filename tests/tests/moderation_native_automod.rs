//! Discord's native AutoMod: `/automod native` lists the server's rules and syncs Kyuta's
//! word and mention rules into native ones (once: a second sync changes nothing, a changed
//! Kyuta rule updates its native rule, a dry run creates nothing); without Manage Server the
//! reply names it. On the running worker, a message the simulator's AutoMod blocks is one
//! case in the mod log naming the rule and the keyword, although Discord sends one
//! execution per action of the rule.

mod moderation_support;

use std::time::Duration;

use kyuta_worker::store::{ActionKind, Case, CaseFilter};
use moderation_support::{Harness, StoreKind, reply_text, wait_until};
use serde_json::{Value, json};
use twilight_model::id::Id;

const MANAGE_GUILD: u64 = 1 << 5;

/// The guild's native rules, as the simulator holds them.
async fn native_rules(h: &Harness) -> Vec<Value> {
    let r = h
        .worker
        .services
        .rest
        .client()
        .auto_moderation_rules(Id::new(h.cast.guild))
        .await
        .expect("the bot reads the rules");
    let body = r.bytes().await.expect("a body");
    serde_json::from_slice(&body).expect("a list of rules")
}

fn named<'a>(rules: &'a [Value], name: &str) -> &'a Value {
    rules
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no native rule {name:?}: {rules:?}"))
}

/// What the running worker answered `user`'s slash command (embed fields as `name: value`).
async fn answer(h: &Harness, user: u64, name: &str, options: Value) -> String {
    reply_text(&h.slash_answer(user, name, options).await).replace('"', "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_mirrors_kyutas_rules_once_and_follows_their_changes() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (worker, _) = h.start_live_on_mongo().await;
    let native = |action: &str| json!({"action": action});

    // The bot's role lacks Manage Server: Discord refuses, and the reply says what is missing.
    for action in ["list", "sync"] {
        let t = answer(&h, c.owner, "automod native", native(action)).await;
        assert!(
            t.contains("I need the Manage Server permission"),
            "{action}: {t}"
        );
    }
    h.grant_bot(MANAGE_GUILD).await;
    let t = answer(&h, c.owner, "automod native", native("list")).await;
    assert!(t.contains("no native AutoMod rules"), "{t}");

    // The prefix forms as docs/automod.md writes them.
    h.post(c.owner, "k!automod add slurs words badword, worse*")
        .await;
    assert!(h.bot_replies(1).await[0].contains('✅'));
    for (sub, options) in [
        (
            "automod add",
            json!({"rule": "pings", "type": "mention_spam"}),
        ),
        (
            "automod set",
            json!({"rule": "pings", "setting": "actions", "value": "delete, timeout 10m"}),
        ),
        ("automod add", json!({"rule": "caps", "type": "caps"})),
        ("automod enable", json!({})),
    ] {
        let t = answer(&h, c.owner, sub, options.clone()).await;
        assert!(t.contains('✅'), "{sub} {options}: {t}");
    }

    // A dry run says what would happen and changes nothing.
    let t = answer(
        &h,
        c.owner,
        "automod native",
        json!({"action": "sync", "dry_run": true}),
    )
    .await;
    assert!(
        t.contains("dry run") && t.contains("Would create: Kyuta: slurs, Kyuta: pings"),
        "{t}"
    );
    assert!(
        t.contains("caps: caps rules have no native equivalent"),
        "{t}"
    );
    assert!(native_rules(&h).await.is_empty());

    let t = answer(&h, c.owner, "automod native", native("sync")).await;
    assert!(t.contains("Created: Kyuta: slurs, Kyuta: pings"), "{t}");
    let rules = native_rules(&h).await;
    assert_eq!(rules.len(), 2, "{rules:?}");
    let words = named(&rules, "Kyuta: slurs");
    assert_eq!(words["trigger_type"], 1);
    assert_eq!(
        words["trigger_metadata"]["keyword_filter"],
        json!(["badword", "worse*"])
    );
    assert_eq!(words["enabled"], true);
    assert_eq!(words["actions"], json!([{"type": 1, "metadata": {}}]));
    let pings = named(&rules, "Kyuta: pings");
    assert_eq!(pings["trigger_type"], 5);
    // Kyuta's rule fires at 6 mentions, Discord's above its limit.
    assert_eq!(pings["trigger_metadata"]["mention_total_limit"], 5);
    assert_eq!(
        pings["actions"][1],
        json!({"type": 3, "metadata": {"duration_seconds": 600}})
    );

    // Again: nothing changes.
    let t = answer(&h, c.owner, "automod native", native("sync")).await;
    assert!(
        t.contains("Created: none") && t.contains("Updated: none"),
        "{t}"
    );
    assert!(t.contains("Left alone: Kyuta: slurs, Kyuta: pings"), "{t}");
    assert_eq!(
        native_rules(&h).await,
        rules,
        "a second sync changed the rules"
    );

    // A changed Kyuta rule updates its native rule (the same one).
    h.post(c.owner, "k!automod set slurs words +third").await;
    assert!(h.bot_replies(2).await[1].contains('✅'));
    let t = answer(&h, c.owner, "automod native", native("sync")).await;
    assert!(t.contains("Updated: Kyuta: slurs"), "{t}");
    assert!(t.contains("Left alone: Kyuta: pings"), "{t}");
    let after = native_rules(&h).await;
    assert_eq!(after.len(), 2);
    let words2 = named(&after, "Kyuta: slurs");
    assert_eq!(words2["id"], words["id"]);
    assert_eq!(
        words2["trigger_metadata"]["keyword_filter"],
        json!(["badword", "worse*", "third"])
    );

    // The list, by slash and by prefix.
    let listed = answer(&h, c.owner, "automod native", native("list")).await;
    h.post(c.owner, "k!automod native list").await;
    let prefixed = h.bot_replies(3).await.pop().unwrap();
    for t in [listed, prefixed] {
        assert!(
            t.contains(
                "**Kyuta: slurs** — keyword, enabled; actions: block; exempt: 0 role(s), 0 channel(s)"
            ),
            "{t}"
        );
        assert!(
            t.contains("**Kyuta: pings** — mention spam, enabled; actions: block, timeout"),
            "{t}"
        );
    }
    h.post(c.owner, "k!automod native dry_run:yes sync").await;
    let dry = h.bot_replies(4).await.pop().unwrap();
    assert!(
        dry.contains("dry run") && dry.contains("Would create"),
        "{dry}"
    );
    assert_eq!(native_rules(&h).await.len(), 2);
    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_message_is_one_case_naming_the_rule_and_the_keyword() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.grant_bot(MANAGE_GUILD).await;
    let (worker, cases) = h.start_live_on_mongo().await;
    for (name, options) in [
        ("modlog", json!({"channel": c.mod_log.to_string()})),
        (
            "automod add",
            json!({"rule": "slurs", "type": "words", "value": "badword"}),
        ),
        // Alerts go to the mod log: the native rule blocks and alerts.
        (
            "automod set",
            json!({"rule": "all", "setting": "alert_channel", "value": c.mod_log.to_string()}),
        ),
        ("automod enable", json!({})),
        ("automod native", json!({"action": "sync"})),
    ] {
        let a = h.slash_answer(c.owner, name, options).await;
        assert!(!reply_text(&a).contains("need"), "{name}: {a}");
    }
    let rules = native_rules(&h).await;
    let rule = named(&rules, "Kyuta: slurs");
    assert_eq!(rule["actions"].as_array().unwrap().len(), 2, "{rule}");

    let blocked = h.post(c.member, "what a BADWORD that is").await;
    assert_eq!(blocked["blocked"], true, "{blocked}");
    assert_eq!(blocked["rule_name"], "Kyuta: slurs");
    let mine = |all: &[Case]| -> Vec<Case> {
        all.iter()
            .filter(|x| x.user_id == c.member)
            .cloned()
            .collect()
    };
    let mut found = Vec::new();
    let done = wait_until(Duration::from_secs(15), async || {
        let all = cases
            .list_cases(c.guild, &CaseFilter::default(), 0, 50)
            .await
            .unwrap()
            .cases;
        found = mine(&all);
        !found.is_empty()
    })
    .await;
    assert!(done, "no case for the blocked message");
    // Discord sent two executions (block, alert): a late second case would show up now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = cases
        .list_cases(c.guild, &CaseFilter::default(), 0, 50)
        .await
        .unwrap()
        .cases;
    let found = mine(&all);
    assert_eq!(found.len(), 1, "{found:?}");
    let case = &found[0];
    assert_eq!(case.kind, ActionKind::AutomodDelete);
    assert_eq!(case.moderator_id, c.bot);
    let reason = case.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("\"Kyuta: slurs\"") && reason.contains("\"badword\""),
        "{reason}"
    );
    // Posted once in the mod log (next to Discord's own alert).
    let posts = h.modlog_posts("Discord AutoMod", 1).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].contains("Kyuta: slurs"), "{posts:?}");
    worker.shutdown().await;
    h.shutdown().await;
}
