//! Full validation of message bodies (embeds, components, `allowed_mentions`, attachments)
//! and application commands, answered as Discord does: 50035 Invalid Form Body with every
//! invalid field under its path in the `errors` tree. Responses are checked against the spec.

mod common;

use common::world::*;
use common::*;
use kyuta_sim::SimConfig;
use serde_json::{Value, json};

async fn roomy() -> kyuta_sim::Sim {
    // Many bodies go to one channel here: the per-channel message limit is not under test.
    sim_with(SimConfig {
        guilds: 1,
        route_limit_factor: 100,
        route_limit: 1000,
        ..fast()
    })
    .await
}

async fn post(sim: &kyuta_sim::Sim, body: &Value) -> Resp {
    let g = guild0(sim).await;
    api(
        sim,
        "POST",
        &format!("/channels/{}/messages", channel_id(&g, "general")),
        Some(body),
    )
    .await
}

/// The error codes at `path` (dot-separated) of a 50035.
fn codes(r: &Resp, path: &str) -> Vec<String> {
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["code"], 50035, "{}", r.body);
    let mut node = &r.body["errors"];
    for k in path.split('.').filter(|k| !k.is_empty()) {
        node = &node[k];
    }
    node["_errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors at {path}: {}", r.body))
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect()
}

fn s(n: usize) -> String {
    "x".repeat(n)
}

#[tokio::test]
async fn embed_limits_are_checked_field_by_field_and_reported_together() {
    let sim = roomy().await;
    let r = post(
        &sim,
        &json!({"embeds": [{
            "title": s(257),
            "fields": [{"name": s(257), "value": s(1025)}, {"name": "", "value": "ok"}],
            "footer": {"text": s(2049)},
            "author": {"name": s(257)},
        }]}),
    )
    .await;
    for path in [
        "embeds.0.title",
        "embeds.0.fields.0.name",
        "embeds.0.fields.0.value",
        "embeds.0.footer.text",
        "embeds.0.author.name",
    ] {
        assert_eq!(codes(&r, path), ["BASE_TYPE_MAX_LENGTH"], "{path}");
    }
    assert_eq!(codes(&r, "embeds.0.fields.1.name"), ["BASE_TYPE_REQUIRED"]);
    let fields: Vec<Value> = (0..26)
        .map(|_| json!({"name": "n", "value": "v"}))
        .collect();
    let r = post(&sim, &json!({"embeds": [{"fields": fields}]})).await;
    assert_eq!(codes(&r, "embeds.0.fields"), ["BASE_TYPE_MAX_LENGTH"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn embeds_of_one_message_hold_at_most_6000_characters_together() {
    let sim = roomy().await;
    let r = post(
        &sim,
        &json!({"embeds": [{"description": s(4000)}, {"description": s(1900), "title": s(101)}]}),
    )
    .await;
    assert_eq!(codes(&r, "embeds"), ["MAX_EMBED_SIZE_EXCEEDED"]);
    let r = post(
        &sim,
        &json!({"embeds": [{"description": s(4000)}, {"description": s(1900), "title": s(100)}]}),
    )
    .await;
    assert_eq!(r.status, 200, "exactly 6000 is allowed: {}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn components_follow_discord_layout_and_id_rules() {
    let sim = roomy().await;
    let btn = |id: &str| json!({"type": 2, "style": 1, "label": "b", "custom_id": id});
    let r = post(
        &sim,
        &json!({"components": [
            {"type": 1, "components": [btn(&s(101))]},
            {"type": 1, "components": [btn("a"), btn("b"), btn("c"), btn("d"), btn("e"), btn("f")]},
            {"type": 1, "components": [btn("g"), {"type": 3, "custom_id": "sel", "options": [{"label": "l", "value": "v"}]}]},
            {"type": 1, "components": [{"type": 3, "custom_id": "empty", "options": []}]},
            {"type": 2, "style": 1, "label": "top", "custom_id": "top"},
        ]}),
    )
    .await;
    assert_eq!(
        codes(&r, "components.0.components.0.custom_id"),
        ["BASE_TYPE_MAX_LENGTH"]
    );
    assert_eq!(
        codes(&r, "components.1.components"),
        ["BASE_TYPE_MAX_LENGTH"]
    );
    assert_eq!(
        codes(&r, "components.2.components"),
        ["COMPONENT_LAYOUT_WIDTH_EXCEEDED"]
    );
    assert_eq!(
        codes(&r, "components.3.components.0.options"),
        ["BASE_TYPE_BAD_LENGTH"]
    );
    assert_eq!(codes(&r, "components.4.type"), ["UNION_TYPE_CHOICES"]);
    let r = post(
        &sim,
        &json!({"content": "x", "components": [
            {"type": 1, "components": [btn("same"), btn("same"), {"type": 2, "style": 5, "label": "link", "url": "https://example.com", "custom_id": "nope"}]},
        ]}),
    )
    .await;
    assert_eq!(
        codes(&r, "components.0.components.1.custom_id"),
        ["COMPONENT_CUSTOM_ID_DUPLICATED"]
    );
    assert_eq!(
        codes(&r, "components.0.components.2.custom_id"),
        ["BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED"]
    );
    let rows: Vec<Value> = (0..6)
        .map(|i| json!({"type": 1, "components": [btn(&format!("r{i}"))]}))
        .collect();
    let r = post(&sim, &json!({"components": rows})).await;
    assert_eq!(codes(&r, "components"), ["BASE_TYPE_MAX_LENGTH"]);
    let r = post(
        &sim,
        &json!({"content": "ok", "components": [
            {"type": 1, "components": [btn("yes"), btn("no"), {"type": 2, "style": 5, "label": "docs", "url": "https://example.com"}]},
            {"type": 1, "components": [{"type": 3, "custom_id": "pick", "max_values": 2, "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}]}]},
        ]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn allowed_mentions_are_validated() {
    let sim = roomy().await;
    let g = guild0(&sim).await;
    let user = plain_member(&sim, &g).await;
    let r = post(
        &sim,
        &json!({"content": "hi", "allowed_mentions": {"parse": ["users"], "users": [user]}}),
    )
    .await;
    assert_eq!(
        codes(&r, "allowed_mentions"),
        ["MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"]
    );
    let r = post(
        &sim,
        &json!({"content": "hi", "allowed_mentions": {"parse": ["users", "bogus"]}}),
    )
    .await;
    assert_eq!(codes(&r, "allowed_mentions.parse.1"), ["BASE_TYPE_CHOICES"]);
    let r = post(
        &sim,
        &json!({"content": "hi", "allowed_mentions": {"users": ["not-an-id"], "replied_user": "yes"}}),
    )
    .await;
    assert_eq!(
        codes(&r, "allowed_mentions.users.0"),
        ["NUMBER_TYPE_COERCE"]
    );
    assert_eq!(
        codes(&r, "allowed_mentions.replied_user"),
        ["BASE_TYPE_BOOLEAN"]
    );
    // At most 100 ids per list.
    let ids: Vec<String> = (0..101)
        .map(|i| (1_000_000_000_000_000u64 + i).to_string())
        .collect();
    let r = post(
        &sim,
        &json!({"content": "hi", "allowed_mentions": {"roles": ids}}),
    )
    .await;
    assert_eq!(
        codes(&r, "allowed_mentions.roles"),
        ["BASE_TYPE_MAX_LENGTH"]
    );
    let r = post(
        &sim,
        &json!({"content": "hi", "allowed_mentions": {"parse": [], "users": [user], "replied_user": false}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn attachments_in_a_json_body_need_an_id() {
    let sim = roomy().await;
    let r = post(
        &sim,
        &json!({"content": "x", "attachments": [{"filename": "a.txt"}]}),
    )
    .await;
    assert_eq!(codes(&r, "attachments.0.id"), ["BASE_TYPE_REQUIRED"]);
    sim.shutdown().await;
}

async fn create_command(sim: &kyuta_sim::Sim, body: &Value) -> Resp {
    api(
        sim,
        "POST",
        &format!("/applications/{}/commands", sim.bot_id()),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn command_localizations_use_discord_locales_and_100_character_descriptions() {
    let sim = roomy().await;
    let r = create_command(
        &sim,
        &json!({"name": "warn", "description": "Warn", "description_localizations": {"xx": "Avertir"}}),
    )
    .await;
    assert_eq!(
        codes(&r, "description_localizations.xx"),
        ["ENUM_TYPE_COERCE"]
    );
    let r = create_command(
        &sim,
        &json!({"name": "warn", "description": "Warn", "description_localizations": {"fr": s(101)}}),
    )
    .await;
    assert_eq!(
        codes(&r, "description_localizations.fr"),
        ["BASE_TYPE_BAD_LENGTH"]
    );
    let r = create_command(
        &sim,
        &json!({"name": "warn", "description": "Warn", "options": [
            {"type": 6, "name": "user", "description": "Who", "name_localizations": {"de": "Benutzer"}}
        ]}),
    )
    .await;
    assert_eq!(
        codes(&r, "options.0.name_localizations.de"),
        ["APPLICATION_COMMAND_INVALID_NAME"]
    );
    let r = create_command(
        &sim,
        &json!({"name": "warn", "description": "Warn", "description_localizations": {"fr": "Avertir", "ja": "警告"}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_command_holds_at_most_8000_characters_counting_the_longest_localization() {
    let sim = roomy().await;
    let option = |i: usize, desc: &str| json!({"type": 3, "name": format!("o{i}"), "description": "d", "description_localizations": {"fr": desc}});
    // 25 options of 100-character (French) descriptions, each with 25 choices of 100 + 100.
    let choices: Vec<Value> = (0..25)
        .map(|i| json!({"name": format!("{i:0>100}"), "value": format!("{i:0>100}")}))
        .collect();
    let opts: Vec<Value> = (0..25)
        .map(|i| {
            let mut o = option(i, &s(100));
            o["choices"] = json!(choices);
            o
        })
        .collect();
    let r = create_command(
        &sim,
        &json!({"name": "big", "description": "Big", "options": opts}),
    )
    .await;
    assert_eq!(codes(&r, ""), ["APPLICATION_COMMAND_TOO_LARGE"]);
    let small: Vec<Value> = (0..25).map(|i| option(i, &s(100))).collect();
    let r = create_command(
        &sim,
        &json!({"name": "big", "description": "Big", "options": small}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn option_nesting_rules_are_enforced() {
    let sim = roomy().await;
    let sub = json!({"type": 1, "name": "add", "description": "Add"});
    let string = json!({"type": 3, "name": "text", "description": "Text"});
    let r = create_command(
        &sim,
        &json!({"name": "tag", "description": "Tags", "options": [sub, string]}),
    )
    .await;
    assert_eq!(
        codes(&r, "options"),
        ["APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"]
    );
    let r = create_command(
        &sim,
        &json!({"name": "tag", "description": "Tags", "options": [
            {"type": 2, "name": "group", "description": "Group", "options": [string]}
        ]}),
    )
    .await;
    assert_eq!(
        codes(&r, "options.0.options.0.type"),
        ["APPLICATION_COMMAND_OPTION_TYPE_INVALID"]
    );
    let r = create_command(
        &sim,
        &json!({"name": "tag", "description": "Tags", "options": [
            {"type": 5, "name": "flag", "description": "Flag", "choices": [{"name": "a", "value": true}]}
        ]}),
    )
    .await;
    assert_eq!(
        codes(&r, "options.0.choices"),
        ["APPLICATION_COMMAND_OPTION_CHOICES_INVALID"]
    );
    let r = create_command(
        &sim,
        &json!({"name": "tag", "description": "Tags", "options": [
            {"type": 2, "name": "group", "description": "Group", "options": [
                {"type": 1, "name": "add", "description": "Add", "options": [string]}
            ]}
        ]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    sim.shutdown().await;
}
