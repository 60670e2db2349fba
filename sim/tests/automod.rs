//! Discord's native AutoMod: the rule routes (Manage Server, validation, per-guild limits,
//! events) and what a matching rule does to a user's message. Every response of `api()` is
//! checked against Discord's OpenAPI spec.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::*;
use common::*;
use serde_json::{Value, json};

const MANAGE_GUILD: u64 = 1 << 5;
const MODERATE_MEMBERS: u64 = 1 << 40;
const BOT: u64 = kyuta_sim::world::perms::BOT;

fn rules_path(g: &Value) -> String {
    format!("/guilds/{}/auto-moderation/rules", gid(g))
}

fn keyword_rule(name: &str, words: &[&str]) -> Value {
    json!({
        "name": name, "event_type": 1, "trigger_type": 1, "enabled": true,
        "trigger_metadata": {"keyword_filter": words},
        "actions": [{"type": 1}],
    })
}

async fn grant(sim: &kyuta_sim::Sim, g: &Value, bits: u64) {
    set_role_permissions(sim, g, "Kyuta", bits).await;
}

#[tokio::test]
async fn rules_need_manage_server() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let r = api(&sim, "GET", &rules_path(&g), None).await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    let r = api(
        &sim,
        "POST",
        &rules_path(&g),
        Some(&keyword_rule("x", &["a"])),
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    grant(&sim, &g, BOT | MANAGE_GUILD).await;
    let r = api(&sim, "GET", &rules_path(&g), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn bodies_are_validated_with_every_error_at_once() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    grant(&sim, &g, (BOT & !MODERATE_MEMBERS) | MANAGE_GUILD).await;
    let long = "x".repeat(61);
    let r = api(
        &sim,
        "POST",
        &rules_path(&g),
        Some(&json!({
            "name": "",
            "event_type": 1,
            "trigger_type": 1,
            "trigger_metadata": {"keyword_filter": [long], "regex_patterns": ["(unclosed"]},
            "actions": [{"type": 2, "metadata": {}}, {"type": 3, "metadata": {"duration_seconds": 60}}],
            "exempt_roles": ["1"],
        })),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50035), "{}", r.body);
    let e = &r.body["errors"];
    assert!(e["name"]["_errors"].is_array(), "{e}");
    assert!(
        e["trigger_metadata"]["keyword_filter"]["0"]["_errors"].is_array(),
        "{e}"
    );
    assert!(
        e["trigger_metadata"]["regex_patterns"]["0"]["_errors"].is_array(),
        "{e}"
    );
    assert!(
        e["actions"]["0"]["metadata"]["channel_id"]["_errors"].is_array(),
        "{e}"
    );
    // Timeout actions need Moderate Members.
    assert!(e["actions"]["1"]["type"]["_errors"].is_array(), "{e}");
    assert!(e["exempt_roles"]["0"]["_errors"].is_array(), "{e}");
    // Too many keywords, regexes over 10, a mention limit over 50.
    let many: Vec<String> = (0..1001).map(|i| format!("w{i}")).collect();
    let r = api(
        &sim,
        "POST",
        &rules_path(&g),
        Some(&json!({"name": "k", "event_type": 1, "trigger_type": 1,
            "trigger_metadata": {"keyword_filter": many, "regex_patterns": vec!["a"; 11]},
            "actions": [{"type": 1}]})),
    )
    .await;
    let e = &r.body["errors"]["trigger_metadata"];
    assert!(
        e["keyword_filter"]["_errors"].is_array() && e["regex_patterns"]["_errors"].is_array(),
        "{}",
        r.body
    );
    let r = api(
        &sim,
        "POST",
        &rules_path(&g),
        Some(&json!({"name": "m", "event_type": 1, "trigger_type": 5,
            "trigger_metadata": {"mention_total_limit": 51}, "actions": [{"type": 1}]})),
    )
    .await;
    assert!(
        r.body["errors"]["trigger_metadata"]["mention_total_limit"]["_errors"].is_array(),
        "{}",
        r.body
    );
    assert_eq!(
        api(&sim, "GET", &rules_path(&g), None).await.body,
        json!([])
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn each_trigger_type_has_its_limit_per_guild() {
    let sim = sim_with(kyuta_sim::SimConfig {
        // The AutoMod rule routes have no limit of their own here; 100 lets the test create
        // rules until the per-guild count per trigger type refuses, which is what it checks.
        route_limit: 100,
        ..fast()
    })
    .await;
    let g = guild0(&sim).await;
    grant(&sim, &g, BOT | MANAGE_GUILD).await;
    for i in 0..6 {
        let r = api(
            &sim,
            "POST",
            &rules_path(&g),
            Some(&keyword_rule(&format!("k{i}"), &["a"])),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = api(
        &sim,
        "POST",
        &rules_path(&g),
        Some(&keyword_rule("k7", &["a"])),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50035));
    assert_eq!(
        r.body["errors"]["_errors"][0]["code"],
        "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED"
    );
    for (t, md) in [
        (3, json!({})),
        (4, json!({"presets": [1]})),
        (5, json!({"mention_total_limit": 5})),
    ] {
        let body = json!({"name": format!("t{t}"), "event_type": 1, "trigger_type": t,
            "trigger_metadata": md, "actions": [{"type": 1}]});
        assert_eq!(
            api(&sim, "POST", &rules_path(&g), Some(&body)).await.status,
            200
        );
        let r = api(&sim, "POST", &rules_path(&g), Some(&body)).await;
        assert_eq!(r.status, 400, "type {t}: {}", r.body);
    }
    let profile = json!({"name": "p", "event_type": 2, "trigger_type": 6,
        "trigger_metadata": {"keyword_filter": ["x"]}, "actions": [{"type": 4}]});
    assert_eq!(
        api(&sim, "POST", &rules_path(&g), Some(&profile))
            .await
            .status,
        200
    );
    assert_eq!(
        api(&sim, "POST", &rules_path(&g), Some(&profile))
            .await
            .status,
        400
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn rules_are_read_modified_and_deleted_with_events() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    grant(&sim, &g, BOT | MANAGE_GUILD).await;
    let mut gw = Gw::identified(&sim, [0, 1], INTENTS | (1 << 20)).await;
    let r = api(
        &sim,
        "POST",
        &rules_path(&g),
        Some(&keyword_rule("words", &["bad"])),
    )
    .await;
    assert_eq!(r.status, 200);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        gw.dispatch("AUTO_MODERATION_RULE_CREATE").await["d"]["id"],
        id.as_str()
    );
    let path = format!("{}/{id}", rules_path(&g));
    let r = api(
        &sim,
        "PATCH",
        &path,
        Some(&json!({"trigger_metadata": {"keyword_filter": ["worse"]}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["trigger_metadata"]["keyword_filter"],
        json!(["worse"])
    );
    assert_eq!(r.body["name"], "words");
    let ev = gw.dispatch("AUTO_MODERATION_RULE_UPDATE").await;
    assert_eq!(
        ev["d"]["trigger_metadata"]["keyword_filter"],
        json!(["worse"])
    );
    // The trigger type is fixed.
    let r = api(&sim, "PATCH", &path, Some(&json!({"trigger_type": 5}))).await;
    assert_eq!(r.status, 400);
    assert_eq!(api(&sim, "GET", &path, None).await.body["id"], id.as_str());
    assert_eq!(api(&sim, "DELETE", &path, None).await.status, 204);
    gw.dispatch("AUTO_MODERATION_RULE_DELETE").await;
    assert_eq!(api(&sim, "GET", &path, None).await.status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_matching_message_is_blocked_with_one_execution_per_action() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    grant(&sim, &g, BOT | MANAGE_GUILD | MODERATE_MEMBERS).await;
    let general = channel_id(&g, "general");
    let alerts = channel_id(&g, "mod-log");
    let mut gw = Gw::identified(&sim, [0, 1], INTENTS | (1 << 21)).await;
    let rule = json!({
        "name": "no cats", "event_type": 1, "trigger_type": 1, "enabled": true,
        "trigger_metadata": {"keyword_filter": ["cat*"], "allow_list": ["category"]},
        "actions": [{"type": 1}, {"type": 2, "metadata": {"channel_id": alerts}},
                    {"type": 3, "metadata": {"duration_seconds": 60}}],
    });
    let r = api(&sim, "POST", &rules_path(&g), Some(&rule)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.body["id"].as_str().unwrap().to_owned();
    let user = plain_member(&sim, &g).await;
    let post = |content: &str| json!({"author_id": user, "content": content});
    // On the allow list: posted.
    let r = ctl(
        &sim,
        "POST",
        &format!("/channels/{general}/messages"),
        Some(&post("a category")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = ctl(
        &sim,
        "POST",
        &format!("/channels/{general}/messages"),
        Some(&post("my Catz are cute")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["blocked"], true);
    assert_eq!(r.body["rule_id"], rid.as_str());
    assert_eq!(r.body["matched_keyword"], "cat*");
    let mut actions = Vec::new();
    for _ in 0..3 {
        let d = gw.dispatch("AUTO_MODERATION_ACTION_EXECUTION").await["d"].clone();
        assert_eq!(d["rule_id"], rid.as_str());
        assert_eq!(d["user_id"], user.as_str());
        assert_eq!(d["matched_keyword"], "cat*");
        assert_eq!(d["matched_content"], "catz");
        assert_eq!(d["content"], "my Catz are cute");
        assert!(d.get("message_id").is_none(), "a blocked message has no id");
        assert_eq!(
            d["alert_system_message_id"].is_string(),
            d["action"]["type"] == 2
        );
        actions.push(d["action"]["type"].as_u64().unwrap());
    }
    assert_eq!(actions, [1, 2, 3]);
    // The message is nowhere; the alert is in the alert channel; the author is timed out.
    let msgs = ctl(&sim, "GET", &format!("/channels/{general}/messages"), None)
        .await
        .body;
    assert!(!msgs.to_string().contains("Catz"));
    let alert = ctl(&sim, "GET", &format!("/channels/{alerts}/messages"), None)
        .await
        .body;
    assert!(
        alert.as_array().unwrap().iter().any(|m| m["type"] == 24),
        "{alert}"
    );
    let r = ctl(
        &sim,
        "POST",
        &format!("/channels/{general}/messages"),
        Some(&post("hi")),
    )
    .await;
    assert_eq!(r.status, 400, "timed out: {}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn mention_spam_exemptions_and_moderators() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    grant(&sim, &g, BOT | MANAGE_GUILD).await;
    let general = channel_id(&g, "general");
    let members = plain_members(&sim, &g, 4).await;
    let rule = json!({"name": "mentions", "event_type": 1, "trigger_type": 5, "enabled": true,
        "trigger_metadata": {"mention_total_limit": 2}, "actions": [{"type": 1}],
        "exempt_roles": [role_id(&g, "Moderator")]});
    assert_eq!(
        api(&sim, "POST", &rules_path(&g), Some(&rule)).await.status,
        200
    );
    let text = format!("<@{}> <@{}> <@{}>", members[1], members[2], members[3]);
    let post = |who: &str, content: &str| json!({"author_id": who, "content": content});
    let url = format!("/channels/{general}/messages");
    // Two unique mentions (one repeated) pass; three are blocked.
    let two = format!("<@{}> <@{}> <@{}>", members[1], members[1], members[2]);
    assert_eq!(
        ctl(&sim, "POST", &url, Some(&post(&members[0], &two)))
            .await
            .status,
        201
    );
    let r = ctl(&sim, "POST", &url, Some(&post(&members[0], &text))).await;
    assert_eq!(r.body["blocked"], true, "{}", r.body);
    // An exempt role, and members with Manage Server, are never blocked.
    let moderator = member_with_role(&sim, &g, "Moderator").await;
    assert_eq!(
        ctl(&sim, "POST", &url, Some(&post(&moderator, &text)))
            .await
            .status,
        201
    );
    let owner = g["owner_id"].as_str().unwrap();
    assert_eq!(
        ctl(&sim, "POST", &url, Some(&post(owner, &text)))
            .await
            .status,
        201
    );
    sim.shutdown().await;
}
