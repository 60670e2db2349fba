//! Interactions as Discord runs them: followups after a deferred response, permissions in
//! the payload, who may use a command. Responses from `api()` are checked against the spec.

mod common;

use common::world::*;
use common::*;
use serde_json::{Value, json};

async fn followup(sim: &kyuta_sim::Sim, it: &Resp, body: &Value) -> Resp {
    let (_, token) = id_token(it);
    api_with(
        sim,
        "POST",
        &format!("/webhooks/{}/{token}", sim.bot_id()),
        Some(body),
        &[],
    )
    .await
}

fn flags(m: &Value) -> u64 {
    m["flags"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn the_first_followup_after_a_defer_edits_the_loading_message_and_keeps_it_ephemeral() {
    let sim = sim(1).await;
    let (_, it) = ban_interaction(&sim, None).await;
    let r = callback(
        &sim,
        &it,
        "?with_response=true",
        &json!({"type": 5, "data": {"flags": 64}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let loading = r.body["interaction"]["response_message_id"].clone();
    let first = followup(&sim, &it, &json!({"content": "done", "flags": 0})).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["id"], loading, "the loading message itself");
    assert_eq!(first.body["content"], "done");
    assert_ne!(flags(&first.body) & 64, 0, "still ephemeral");
    assert_eq!(flags(&first.body) & 128, 0, "no longer loading");
    let (id, _) = id_token(&it);
    let state = ctl(&sim, "GET", &format!("/interactions/{id}"), None).await;
    assert_eq!(state.body["original"]["content"], "done");
    assert_eq!(state.body["followups"], json!([]));
    // Later followups are new messages with their own flags.
    let second = followup(&sim, &it, &json!({"content": "more"})).await;
    assert_eq!(second.status, 200);
    assert_ne!(second.body["id"], loading);
    assert_eq!(flags(&second.body) & 64, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_followup_after_a_public_defer_stays_public() {
    let sim = sim(1).await;
    let (g, it) = ban_interaction(&sim, None).await;
    assert_eq!(
        callback(&sim, &it, "", &json!({"type": 5})).await.status,
        204
    );
    let r = followup(&sim, &it, &json!({"content": "public", "flags": 64})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(flags(&r.body) & 64, 0, "the defer was public");
    let posted = ctl(
        &sim,
        "GET",
        &format!("/channels/{}/messages", channel_id(&g, "general")),
        None,
    )
    .await;
    let shown: Vec<&Value> = posted
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["id"] == r.body["id"])
        .collect();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["content"], "public");
    sim.shutdown().await;
}

#[tokio::test]
async fn member_permissions_in_an_interaction_include_channel_overwrites() {
    let sim = sim(1).await;
    register(&sim).await;
    let g = guild0(&sim).await;
    let moderator = member_with_role(&sim, &g, "Moderator").await;
    let target = plain_member(&sim, &g).await;
    let it = ctl(
        &sim,
        "POST",
        "/interactions",
        Some(&json!({
            "guild_id": g["id"], "channel_id": channel_id(&g, "mod-log"), "user_id": moderator,
            "name": "ban", "options": {"user": target}
        })),
    )
    .await;
    assert_eq!(it.status, 201, "{}", it.body);
    let p = &it.body["payload"];
    let member: u64 = p["member"]["permissions"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let channel: u64 = p["channel"]["permissions"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(member, channel, "the member's permissions in #mod-log");
    assert_eq!(
        member & (1 << 11),
        0,
        "#mod-log denies SEND_MESSAGES to members"
    );
    let resolved: u64 = p["data"]["resolved"]["members"][&target]["permissions"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(resolved & (1 << 11), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn default_member_permissions_and_contexts_decide_who_may_run_a_command() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let cmds = json!([
        {"name": "purge", "description": "Purge", "default_member_permissions": "8192"},
        {"name": "admin", "description": "Admins only", "default_member_permissions": "0"},
        {"name": "dmonly", "description": "DMs only", "contexts": [1]},
    ]);
    let r = api(
        &sim,
        "PUT",
        &format!("/applications/{}/commands", sim.bot_id()),
        Some(&cmds),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let plain = plain_member(&sim, &g).await;
    let moderator = member_with_role(&sim, &g, "Moderator").await;
    let run = |user: String, name: &'static str| {
        let g = g.clone();
        let sim = &sim;
        async move {
            ctl(sim, "POST", "/interactions", Some(&json!({
                "guild_id": g["id"], "channel_id": channel_id(&g, "general"), "user_id": user, "name": name
            })))
            .await
            .status
        }
    };
    // MANAGE_MESSAGES (8192): the Moderator has it, a plain member does not.
    assert_eq!(run(plain.clone(), "purge").await, 400);
    assert_eq!(run(moderator.clone(), "purge").await, 201);
    assert_eq!(run(moderator.clone(), "admin").await, 400);
    assert_eq!(
        run(g["owner_id"].as_str().unwrap().to_owned(), "admin").await,
        201
    );
    assert_eq!(
        run(moderator.clone(), "dmonly").await,
        400,
        "not usable in a guild"
    );
    // The guild's admins let everyone run /purge, except the Moderator.
    let r = ctl(
        &sim,
        "PUT",
        &format!("/guilds/{}/commands/purge/permissions", gid(&g)),
        Some(&json!({"permissions": [
            {"id": g["id"], "type": 1, "permission": true},
            {"id": moderator, "type": 2, "permission": false},
        ]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(run(plain.clone(), "purge").await, 201);
    assert_eq!(run(moderator, "purge").await, 400);
    assert_eq!(
        run(plain, "admin").await,
        400,
        "other commands keep their defaults"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_member_can_neither_post_nor_run_commands() {
    let sim = sim(1).await;
    register(&sim).await;
    let g = guild0(&sim).await;
    let user = plain_member(&sim, &g).await;
    let target = plain_members(&sim, &g, 2).await[1].clone();
    let general = channel_id(&g, "general");
    let path = format!("/channels/{general}/messages");
    let hello = json!({"author_id": user, "content": "hi"});
    let say = || ctl(&sim, "POST", &path, Some(&hello));
    assert_eq!(say().await.status, 201);
    let until = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let until = until
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = api(
        &sim,
        "PATCH",
        &format!("/guilds/{}/members/{user}", gid(&g)),
        Some(&json!({"communication_disabled_until": until})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(say().await.status, 400);
    let it = ctl(&sim, "POST", "/interactions", Some(&json!({
        "guild_id": g["id"], "channel_id": general, "user_id": user, "name": "ban", "options": {"user": target}
    }))).await;
    assert_eq!(it.status, 400, "{}", it.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn context_menu_entries_carry_their_target_and_open_forms_once() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    // Discord refuses a description or options on a context-menu entry (an empty list is
    // taken).
    for (bad, code) in [
        (
            json!({"type": 2, "name": "Warn", "description": "Warn"}),
            "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION_INVALID",
        ),
        (
            json!({"type": 3, "name": "Report", "options": [{"type": 3, "name": "why", "description": "Why"}]}),
            "APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS_INVALID",
        ),
    ] {
        let r = api(
            &sim,
            "PUT",
            &format!("/applications/{}/commands", sim.bot_id()),
            Some(&json!([bad])),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.to_string().contains(code), "{}", r.body);
    }
    let cmds = json!([
        {"type": 2, "name": "Ban", "description": "", "options": [], "default_member_permissions": "4"},
        {"type": 3, "name": "Report to moderators"},
    ]);
    let r = api(
        &sim,
        "PUT",
        &format!("/applications/{}/commands", sim.bot_id()),
        Some(&cmds),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let plain = plain_member(&sim, &g).await;
    let moderator = member_with_role(&sim, &g, "Moderator").await;
    let general = channel_id(&g, "general");
    let entry = |user: &str, kind: u64, name: &str, target: &str| json!({"type": kind, "guild_id": g["id"], "channel_id": general, "user_id": user, "name": name, "target_id": target});
    // BAN_MEMBERS (4): the Moderator has it, a plain member does not.
    let r = ctl(
        &sim,
        "POST",
        "/interactions",
        Some(&entry(&plain, 2, "Ban", &moderator)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = ctl(
        &sim,
        "POST",
        "/interactions",
        Some(&entry(&moderator, 2, "Ban", &plain)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = &r.body["payload"];
    assert_eq!(p["data"]["type"], 2);
    assert_eq!(p["data"]["target_id"], json!(plain));
    assert!(p["data"]["resolved"]["members"][&plain].is_object(), "{p}");
    // A message entry names a message of the channel and carries it whole.
    let m = ctl(
        &sim,
        "POST",
        &format!("/channels/{general}/messages"),
        Some(&json!({"author_id": plain, "content": "hello"})),
    )
    .await;
    let mid = m.body["id"].as_str().unwrap().to_owned();
    let r = ctl(
        &sim,
        "POST",
        "/interactions",
        Some(&entry(&plain, 3, "Report to moderators", &mid)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["payload"]["data"]["resolved"]["messages"][&mid]["content"],
        "hello"
    );
    let r = ctl(
        &sim,
        "POST",
        "/interactions",
        Some(&entry(&plain, 3, "Report to moderators", "1")),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // The bot answers with a form; Discord checks it, and the user submits it once.
    let r = ctl(
        &sim,
        "POST",
        "/interactions",
        Some(&entry(&plain, 3, "Report to moderators", &mid)),
    )
    .await;
    let (iid, token) = (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["token"].as_str().unwrap().to_owned(),
    );
    let form = |title: &str| {
        json!({"type": 9, "data": {"custom_id": "report", "title": title, "components": [
            {"type": 18, "label": "Why?", "component": {"type": 4, "custom_id": "why", "style": 2, "required": true, "max_length": 10}}
        ]}})
    };
    let r = api(
        &sim,
        "POST",
        &format!("/interactions/{iid}/{token}/callback"),
        Some(&form(&"t".repeat(46))),
    )
    .await;
    assert_eq!(r.status, 400, "a title over 45 characters: {}", r.body);
    let r = api(
        &sim,
        "POST",
        &format!("/interactions/{iid}/{token}/callback"),
        Some(&form("Report")),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let submit = |values: Value| json!({"interaction_id": iid, "values": values});
    for bad in [
        json!({}),
        json!({"why": "much too long"}),
        json!({"other": "x"}),
    ] {
        let r = ctl(
            &sim,
            "POST",
            "/interactions/modal",
            Some(&submit(bad.clone())),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let r = ctl(
        &sim,
        "POST",
        "/interactions/modal",
        Some(&submit(json!({"why": "rude"}))),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = &r.body["payload"];
    assert_eq!(p["type"], 5);
    assert_eq!(p["data"]["custom_id"], "report");
    assert_eq!(p["data"]["components"][0]["component"]["value"], "rude");
    let r = ctl(
        &sim,
        "POST",
        "/interactions/modal",
        Some(&submit(json!({"why": "rude"}))),
    )
    .await;
    assert_eq!(r.status, 400, "submitted once: {}", r.body);
    sim.shutdown().await;
}
