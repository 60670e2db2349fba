//! Users editing and deleting their own messages, and members changing their names, through
//! the control API: the stored state and the dispatches Discord sends for them.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::*;
use common::*;
use serde_json::{Value, json};

/// MESSAGE_CONTENT, as in [`INTENTS`].
const MESSAGE_CONTENT: u64 = 1 << 15;

async fn post(sim: &kyuta_sim::Sim, channel: &str, author: &str, content: &str) -> Value {
    let r = ctl(
        sim,
        "POST",
        &format!("/channels/{channel}/messages"),
        Some(&json!({"author_id": author, "content": content})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

#[tokio::test]
async fn an_author_edits_their_message_and_message_update_carries_all_of_it() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let channel = channel_id(&g, "general");
    let users = plain_members(&sim, &g, 2).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let m = post(&sim, &channel, &users[0], "hello").await;
    let mid = m["id"].as_str().unwrap().to_owned();
    assert!(m["edited_timestamp"].is_null());
    let path = format!("/channels/{channel}/messages/{mid}");

    // Only the author may edit.
    let other = ctl(
        &sim,
        "PATCH",
        &path,
        Some(&json!({"author_id": users[1], "content": "x"})),
    )
    .await;
    assert_eq!(other.status, 403, "{}", other.body);

    let edited = ctl(
        &sim,
        "PATCH",
        &path,
        Some(&json!({"author_id": users[0], "content": "spam now"})),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.body["content"], "spam now");
    assert!(
        edited.body["edited_timestamp"].is_string(),
        "{}",
        edited.body
    );

    let up = gw.dispatch("MESSAGE_UPDATE").await;
    let d = &up["d"];
    assert_eq!(d["id"], mid.as_str());
    assert_eq!(d["guild_id"], gid(&g));
    assert_eq!(d["content"], "spam now");
    assert_eq!(d["author"]["id"], users[0].as_str());
    assert!(d["member"]["roles"].is_array(), "{d}");
    assert!(d["edited_timestamp"].is_string());
    common::gw::twilight_parses(&up.to_string());

    let stored = ctl(&sim, "GET", &format!("/channels/{channel}/messages"), None).await;
    let s = stored
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == mid.as_str())
        .unwrap()
        .clone();
    assert_eq!(s["content"], "spam now");
    assert_eq!(s["edited_timestamp"], edited.body["edited_timestamp"]);

    // Discord resolving a link's embed: embeds change, the edit time does not.
    let unfurl = ctl(
        &sim,
        "PATCH",
        &path,
        Some(&json!({"author_id": users[0], "unfurl": true,
        "embeds": [{"title": "a page", "url": "https://example.com"}]})),
    )
    .await;
    assert_eq!(unfurl.status, 200, "{}", unfurl.body);
    assert_eq!(
        unfurl.body["edited_timestamp"],
        edited.body["edited_timestamp"]
    );
    let up = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(up["d"]["embeds"][0]["title"], "a page");
    assert_eq!(up["d"]["content"], "spam now");
}

#[tokio::test]
async fn an_edit_has_no_content_without_the_message_content_intent() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let channel = channel_id(&g, "general");
    let user = plain_member(&sim, &g).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS & !MESSAGE_CONTENT).await;
    let m = post(&sim, &channel, &user, "hello").await;
    let path = format!("/channels/{channel}/messages/{}", m["id"].as_str().unwrap());
    let r = ctl(
        &sim,
        "PATCH",
        &path,
        Some(&json!({"author_id": user, "content": "secret"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let up = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(up["d"]["content"], "");
    assert!(up["d"]["edited_timestamp"].is_string());
}

#[tokio::test]
async fn an_author_deletes_their_message_and_message_delete_names_it() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let channel = channel_id(&g, "general");
    let users = plain_members(&sim, &g, 2).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let m = post(&sim, &channel, &users[0], "oops").await;
    let mid = m["id"].as_str().unwrap().to_owned();
    let path = format!("/channels/{channel}/messages/{mid}");
    let other = ctl(&sim, "DELETE", &path, Some(&json!({"author_id": users[1]}))).await;
    assert_eq!(other.status, 403, "{}", other.body);
    let r = ctl(&sim, "DELETE", &path, Some(&json!({"author_id": users[0]}))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let d = gw.dispatch("MESSAGE_DELETE").await["d"].clone();
    assert_eq!(
        d,
        json!({"id": mid, "channel_id": channel, "guild_id": gid(&g)})
    );
    let gone = api(&sim, "GET", &path, None).await;
    assert_eq!(gone.status, 404);
    let again = ctl(&sim, "DELETE", &path, Some(&json!({"author_id": users[0]}))).await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn a_member_changing_their_nickname_is_a_member_update_with_an_audit_entry() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let user = plain_member(&sim, &g).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let path = format!("/guilds/{}/members/{user}/nick", gid(&g));
    let long = ctl(&sim, "POST", &path, Some(&json!({"nick": "x".repeat(33)}))).await;
    assert_eq!(long.status, 400);
    let r = ctl(&sim, "POST", &path, Some(&json!({"nick": "Discord Staff"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = gw.dispatch("GUILD_MEMBER_UPDATE").await["d"].clone();
    assert_eq!(d["nick"], "Discord Staff");
    assert_eq!(d["user"]["id"], user.as_str());
    assert_eq!(d["guild_id"], gid(&g));
    let audit = ctl(&sim, "GET", &format!("/guilds/{}/audit-log", gid(&g)), None).await;
    let e = audit.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(e["action_type"], 24, "{e}");
    assert_eq!(e["user_id"], user.as_str());
    assert_eq!(e["changes"][0]["key"], "nick");
    assert_eq!(e["changes"][0]["new_value"], "Discord Staff");
    let member = ctl(
        &sim,
        "GET",
        &format!("/guilds/{}/members/{user}", gid(&g)),
        None,
    )
    .await;
    assert_eq!(member.body["nick"], "Discord Staff", "{}", member.body);
}

#[tokio::test]
async fn a_user_renaming_their_account_updates_them_in_every_shared_guild() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let user = plain_member(&sim, &g).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let r = ctl(
        &sim,
        "PATCH",
        &format!("/users/{user}"),
        Some(&json!({"username": "free_nitro", "global_name": "Free Nitro"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["guilds"], json!([gid(&g)]));
    let d = gw.dispatch("GUILD_MEMBER_UPDATE").await["d"].clone();
    assert_eq!(d["user"]["username"], "free_nitro");
    assert_eq!(d["user"]["global_name"], "Free Nitro");
    let member = ctl(
        &sim,
        "GET",
        &format!("/guilds/{}/members/{user}", gid(&g)),
        None,
    )
    .await;
    assert_eq!(
        member.body["user"]["username"], "free_nitro",
        "{}",
        member.body
    );
    let bad = ctl(
        &sim,
        "PATCH",
        &format!("/users/{user}"),
        Some(&json!({"username": "x"})),
    )
    .await;
    assert_eq!(bad.status, 400);
}
