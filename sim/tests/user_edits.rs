//! Users posting (also backdated, or with attachments), editing and deleting their own
//! messages, and members changing their names, through the control API: the stored state and
//! the dispatches Discord sends for them.

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

/// Discord's epoch (2015-01-01) in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
const DAY_MS: u64 = 86_400_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The Unix-millisecond time a snowflake was made at.
fn snowflake_ms(id: &str) -> u64 {
    (id.parse::<u64>().unwrap() >> 22) + DISCORD_EPOCH_MS
}

/// A Discord timestamp (`2021-01-01T01:01:01.010000+00:00`) in Unix milliseconds.
fn timestamp_ms(ts: &Value) -> u64 {
    let t = time::OffsetDateTime::parse(
        ts.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// The ids of a list of messages, in its order.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A user posts `body` (with `author_id`) through the control API.
async fn post_body(sim: &kyuta_sim::Sim, channel: &str, body: &Value) -> Resp {
    ctl(
        sim,
        "POST",
        &format!("/channels/{channel}/messages"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_backdated_message_has_an_id_of_its_time_and_lists_in_id_order() {
    // Many listings of one channel: the default limit of unlisted routes is not under test.
    let sim = sim_with(kyuta_sim::SimConfig {
        guilds: 1,
        route_limit: 1000,
        ..fast()
    })
    .await;
    let g = guild0(&sim).await;
    let channel = channel_id(&g, "general");
    let user = plain_member(&sim, &g).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let backdated = |days: u64, content: &str| {
        let at = now_ms() - days * DAY_MS;
        (
            at,
            json!({"author_id": user, "content": content, "created_at_ms": at}),
        )
    };

    let (oldest_at, body) = backdated(25, "oldest");
    let oldest = post_body(&sim, &channel, &body).await;
    assert_eq!(oldest.status, 201, "{}", oldest.body);
    let a = post(&sim, &channel, &user, "a").await;
    let b = post(&sim, &channel, &user, "b").await;
    // Posted after a and b, sent 20 days ago.
    let (old_at, body) = backdated(20, "old");
    let old = post_body(&sim, &channel, &body).await;
    assert_eq!(old.status, 201, "{}", old.body);
    let c = post(&sim, &channel, &user, "c").await;

    // Its id is a snowflake of that time, and its timestamp says so.
    let old_id = old.body["id"].as_str().unwrap().to_owned();
    assert_eq!(snowflake_ms(&old_id), old_at);
    assert_eq!(timestamp_ms(&old.body["timestamp"]), old_at);
    let day = time::OffsetDateTime::from_unix_timestamp((old_at / 1000) as i64)
        .unwrap()
        .date();
    assert!(
        old.body["timestamp"]
            .as_str()
            .unwrap()
            .starts_with(&day.to_string()),
        "{} is not on {day}",
        old.body["timestamp"]
    );
    assert_eq!(snowflake_ms(oldest.body["id"].as_str().unwrap()), oldest_at);

    // Dispatched as any other message.
    let mut created = Vec::new();
    for _ in 0..5 {
        let ev = gw.dispatch("MESSAGE_CREATE").await;
        created.push(ev["d"]["id"].as_str().unwrap().to_owned());
        if ev["d"]["id"] == old_id.as_str() {
            assert_eq!(ev["d"]["timestamp"], old.body["timestamp"]);
            common::gw::twilight_parses(&ev.to_string());
        }
    }
    assert!(created.contains(&old_id), "{created:?}");

    // Newest first, the backdated one in id order among the newer ones.
    let [a, b, c, old, oldest] =
        [&a, &b, &c, &old.body, &oldest.body].map(|m| m["id"].as_str().unwrap().to_owned());
    let path = format!("/channels/{channel}/messages");
    let all = api(&sim, "GET", &format!("{path}?limit=100"), None).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let listed = ids(&all.body);
    assert_eq!(
        listed,
        [
            c.as_str(),
            b.as_str(),
            a.as_str(),
            old.as_str(),
            oldest.as_str()
        ],
        "{}",
        all.body
    );
    let mut by_id = listed.clone();
    by_id.sort_by_key(|id| std::cmp::Reverse(id.parse::<u64>().unwrap()));
    assert_eq!(by_id, listed);

    // Paging with before= walks across it.
    let page = |q: String| {
        let (sim, path) = (&sim, &path);
        async move {
            let r = api(sim, "GET", &format!("{path}?{q}"), None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            ids(&r.body)
        }
    };
    assert_eq!(page("limit=2".into()).await, [c.as_str(), b.as_str()]);
    assert_eq!(
        page(format!("limit=2&before={b}")).await,
        [a.as_str(), old.as_str()]
    );
    assert_eq!(
        page(format!("limit=2&before={old}")).await,
        [oldest.as_str()]
    );
    assert_eq!(
        page(format!("limit=1&after={oldest}")).await,
        [old.as_str()]
    );
    assert_eq!(
        page(format!("limit=3&around={old}")).await,
        [a.as_str(), old.as_str(), oldest.as_str()]
    );

    // Too old to bulk delete, as on Discord.
    let bulk = api(
        &sim,
        "POST",
        &format!("/channels/{channel}/messages/bulk-delete"),
        Some(&json!({"messages": [a, old]})),
    )
    .await;
    assert_eq!(bulk.status, 400, "{}", bulk.body);
    assert_eq!(code(&bulk), 50034);

    // Not in the future, not before Discord's epoch.
    for at in [
        json!(now_ms() + 3_600_000),
        json!(DISCORD_EPOCH_MS - 1),
        json!(-1),
        json!("yesterday"),
    ] {
        let r = post_body(
            &sim,
            &channel,
            &json!({"author_id": user, "content": "x", "created_at_ms": at}),
        )
        .await;
        assert_eq!(r.status, 400, "{at}: {}", r.body);
    }
    let after = api(&sim, "GET", &format!("{path}?limit=100"), None).await;
    assert_eq!(after.body.as_array().unwrap().len(), 5, "{}", after.body);
}

#[tokio::test]
async fn a_message_with_attachments_carries_them_in_rest_and_message_create() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let channel = channel_id(&g, "general");
    let user = plain_member(&sim, &g).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let r = post_body(
        &sim,
        &channel,
        &json!({"author_id": user, "content": "look", "attachments": [
            {"filename": "cat.png", "size": 52_318, "content_type": "image/png"},
            {"filename": "notes of mine.txt"},
        ]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mid = r.body["id"].as_str().unwrap().to_owned();

    let got = api(
        &sim,
        "GET",
        &format!("/channels/{channel}/messages/{mid}"),
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let att = got.body["attachments"].as_array().unwrap().clone();
    assert_eq!(att.len(), 2, "{}", got.body);
    let (png, txt) = (&att[0], &att[1]);
    let png_id = png["id"].as_str().unwrap();
    let txt_id = txt["id"].as_str().unwrap();
    assert_ne!(png_id, txt_id);
    assert_ne!(png_id, mid);
    assert_eq!(png["filename"], "cat.png");
    assert_eq!(png["size"], 52_318);
    assert_eq!(png["content_type"], "image/png");
    assert_eq!(
        png["url"],
        format!("https://cdn.discordapp.com/attachments/{channel}/{png_id}/cat.png")
    );
    assert_eq!(
        png["proxy_url"],
        format!("https://media.discordapp.net/attachments/{channel}/{png_id}/cat.png")
    );
    assert_eq!(txt["filename"], "notes of mine.txt");
    assert_eq!(txt["size"], 1024);
    assert!(txt.get("content_type").is_none(), "{txt}");
    assert_eq!(
        txt["url"],
        format!("https://cdn.discordapp.com/attachments/{channel}/{txt_id}/notes%20of%20mine.txt")
    );
    assert!(
        txt["proxy_url"]
            .as_str()
            .unwrap()
            .starts_with("https://media.discordapp.net/attachments/"),
        "{txt}"
    );
    assert_eq!(r.body["attachments"], got.body["attachments"]);
    let listed = api(&sim, "GET", &format!("/channels/{channel}/messages"), None).await;
    assert_eq!(listed.body[0]["attachments"], got.body["attachments"]);

    let ev = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(ev["d"]["id"], mid.as_str());
    assert_eq!(ev["d"]["attachments"], got.body["attachments"]);
    common::gw::twilight_parses(&ev.to_string());

    // At most 10, each with a filename of 1 to 255 characters.
    let many: Vec<Value> = (0..11)
        .map(|i| json!({"filename": format!("{i}.txt")}))
        .collect();
    for bad in [
        json!(many),
        json!([{"filename": ""}]),
        json!([{"filename": "x".repeat(256)}]),
        json!([{"size": 10}]),
        json!([{"filename": "a.txt", "size": -1}]),
        json!([{"filename": "a.txt", "content_type": 7}]),
        json!({"filename": "a.txt"}),
    ] {
        let r = post_body(
            &sim,
            &channel,
            &json!({"author_id": user, "attachments": bad}),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
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
