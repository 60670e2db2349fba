//! `allowed_mentions` applied: which of a message's `<@user>`, `<@&role>` and `@everyone`
//! mentions notify, as the created message (and the stored one) records them in
//! `mentions`, `mention_roles` and `mention_everyone`; and MESSAGE_CREATE's mentions carry
//! each mentioned member's partial `member`, as Discord's gateway sends them.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::*;
use common::*;
use kyuta_sim::SimConfig;
use serde_json::{Value, json};

async fn roomy() -> kyuta_sim::Sim {
    // Many messages go to one channel here: the per-channel message limit is not under test.
    sim_with(SimConfig {
        guilds: 1,
        route_limit_factor: 100,
        route_limit: 1000,
        ..fast()
    })
    .await
}

/// The ids of a message's `mentions`, its `mention_roles` and `mention_everyone`.
fn mentioned(m: &Value) -> (Vec<String>, Vec<String>, bool) {
    let ids = |k: &str, f: &dyn Fn(&Value) -> &Value| {
        m[k].as_array()
            .unwrap_or_else(|| panic!("no {k}: {m}"))
            .iter()
            .map(|x| f(x).as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    (
        ids("mentions", &|u| &u["id"]),
        ids("mention_roles", &|r| r),
        m["mention_everyone"].as_bool().unwrap(),
    )
}

#[tokio::test]
async fn allowed_mentions_decide_which_mentions_a_bot_message_notifies() {
    let sim = roomy().await;
    let g = guild0(&sim).await;
    let channel = channel_id(&g, "general");
    let users = plain_members(&sim, &g, 2).await;
    let (u1, u2) = (users[0].clone(), users[1].clone());
    let role = role_id(&g, "Member");
    let content = format!("<@{u1}> <@!{u2}> <@&{role}> @everyone <@{u1}>");
    let post = |allowed: Value| {
        let mut body = json!({"content": content});
        if !allowed.is_null() {
            body["allowed_mentions"] = allowed;
        }
        let (sim, path) = (&sim, format!("/channels/{channel}/messages"));
        async move {
            let r = api(sim, "POST", &path, Some(&body)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            mentioned(&r.body)
        }
    };
    let none: Vec<String> = Vec::new();
    // No allowed_mentions: every user; roles and @everyone need MENTION_EVERYONE, which
    // the bot's role lacks (the generated roles are not mentionable).
    assert_eq!(
        post(Value::Null).await,
        (vec![u1.clone(), u2.clone()], none.clone(), false)
    );
    assert_eq!(
        post(json!({"parse": []})).await,
        (none.clone(), none.clone(), false)
    );
    assert_eq!(
        post(json!({"users": [u2]})).await,
        (vec![u2.clone()], none.clone(), false)
    );
    // The owner gives the bot's role MENTION_EVERYONE (1 << 17).
    let kyuta = g["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Kyuta")
        .unwrap();
    let bits: u64 = match &kyuta["permissions"] {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_u64().unwrap(),
    };
    set_role_permissions(&sim, &g, "Kyuta", bits | (1 << 17)).await;
    assert_eq!(
        post(Value::Null).await,
        (vec![u1.clone(), u2.clone()], vec![role.clone()], true)
    );
    assert_eq!(
        post(json!({"parse": ["users"]})).await,
        (vec![u1.clone(), u2.clone()], none.clone(), false)
    );
    assert_eq!(
        post(json!({"parse": ["everyone"], "roles": [role]})).await,
        (none.clone(), vec![role.clone()], true)
    );
    // The stored message records the same.
    let stored = ctl(&sim, "GET", &format!("/channels/{channel}/messages"), None).await;
    let last = stored.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(mentioned(&last), (none, vec![role], true));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_interaction_response_applies_its_allowed_mentions() {
    let sim = roomy().await;
    let (g, it) = ban_interaction(&sim, None).await;
    let user = plain_member(&sim, &g).await;
    let r = callback(
        &sim,
        &it,
        "",
        &json!({"type": 4, "data": {"content": format!("banned <@{user}>"), "allowed_mentions": {"parse": []}}}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (id, _) = id_token(&it);
    let result = ctl(&sim, "GET", &format!("/interactions/{id}"), None).await;
    let (users, roles, everyone) = mentioned(&result.body["original"]);
    assert!(
        users.is_empty() && roles.is_empty() && !everyone,
        "{}",
        result.body
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn message_create_mentions_carry_the_mentioned_members() {
    let sim = roomy().await;
    let g = guild0(&sim).await;
    let channel = channel_id(&g, "general");
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let author = plain_member(&sim, &g).await;
    let target = member_with_role(&sim, &g, "Member").await;
    let r = ctl(
        &sim,
        "POST",
        &format!("/channels/{channel}/messages"),
        Some(&json!({"author_id": author, "content": format!("k!warn <@{target}> spam")})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The message object (REST, stored) has plain user objects...
    assert!(r.body["mentions"][0]["member"].is_null(), "{}", r.body);
    // ...the gateway event adds the member, roles included.
    let ev = gw.dispatch("MESSAGE_CREATE").await;
    let m = &ev["d"]["mentions"][0];
    assert_eq!(m["id"], target.as_str(), "{ev}");
    assert_eq!(m["member"]["roles"], json!([role_id(&g, "Member")]), "{ev}");
    assert!(m["member"]["user"].is_null(), "partial: no user inside");
    sim.shutdown().await;
}
