//! Guild availability: outages (GUILD_DELETE `unavailable: true`, GUILD_CREATE on recovery,
//! guilds still unavailable after READY) and the bot joining or leaving guilds at run time.

mod common;

use common::gw::{Gw, INTENTS, Next};
use common::world::{channel_id, guild0};
use common::*;
use kyuta_sim::SimConfig;
use serde_json::{Value, json};
use std::time::Duration;

fn ids(ready: &Value) -> Vec<String> {
    ready["d"]["guilds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["unavailable"], true);
            g["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Every GUILD_CREATE id until nothing came for `quiet`.
async fn creates_until_quiet(gw: &mut Gw, quiet: Duration) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(n) = tokio::time::timeout(quiet, gw.next()).await {
        match n {
            Next::Payload(p) if p["t"] == "GUILD_CREATE" => {
                out.push(p["d"]["id"].as_str().unwrap().to_owned());
            }
            Next::Payload(_) => {}
            Next::Closed(c) => panic!("closed {c:?}"),
        }
    }
    out
}

async fn set(sim: &kyuta_sim::Sim, gid: &str, route: &str, body: Value) -> Resp {
    let r = ctl(sim, "POST", &format!("/guilds/{gid}/{route}"), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

#[tokio::test]
async fn a_guild_in_an_outage_stays_unavailable_after_ready_and_arrives_on_recovery() {
    let sim = sim(3).await;
    let g = guild0(&sim).await;
    let gid = g["id"].as_str().unwrap();
    set(&sim, gid, "availability", json!({"unavailable": true})).await;
    let (mut gw, ready) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    assert_eq!(ids(&ready).len(), 3, "READY still lists it, unavailable");
    let created = creates_until_quiet(&mut gw, Duration::from_millis(300)).await;
    assert_eq!(created.len(), 2);
    assert!(
        !created.iter().any(|c| c == gid),
        "no GUILD_CREATE during the outage"
    );
    let r = set(&sim, gid, "availability", json!({"unavailable": false})).await;
    assert_eq!(r.body["guild_creates_sent"], 1);
    let back = gw.dispatch("GUILD_CREATE").await;
    assert_eq!(back["d"]["id"], gid);
    assert_eq!(back["d"]["unavailable"], false);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_outage_sends_guild_delete_unavailable_and_no_events_until_recovery() {
    let sim = sim(2).await;
    let g = guild0(&sim).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    let general = channel_id(&g, "general");
    let owner = g["owner_id"].as_str().unwrap().to_owned();
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    assert_eq!(
        creates_until_quiet(&mut gw, Duration::from_millis(300))
            .await
            .len(),
        2
    );
    set(&sim, &gid, "availability", json!({"unavailable": true})).await;
    let del = gw.dispatch("GUILD_DELETE").await;
    assert_eq!(del["d"]["id"], gid.as_str());
    assert_eq!(del["d"]["unavailable"], true);
    // A message during the outage is not dispatched.
    let post = |content: &'static str| {
        let (general, owner) = (general.clone(), owner.clone());
        let sim = &sim;
        async move {
            ctl(
                sim,
                "POST",
                &format!("/channels/{general}/messages"),
                Some(&json!({"author_id": owner, "content": content})),
            )
            .await
        }
    };
    post("during").await;
    set(&sim, &gid, "availability", json!({"unavailable": false})).await;
    let back = gw.payload().await;
    assert_eq!(
        (back["t"].as_str(), back["d"]["id"].as_str()),
        (Some("GUILD_CREATE"), Some(gid.as_str()))
    );
    post("after").await;
    let m = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(m["d"]["content"], "after");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_bot_removed_from_a_guild_gets_guild_delete_and_added_back_guild_create() {
    let sim = sim(3).await;
    let g = guild0(&sim).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    creates_until_quiet(&mut gw, Duration::from_millis(300)).await;
    set(&sim, &gid, "bot", json!({"joined": false})).await;
    let del = gw.dispatch("GUILD_DELETE").await;
    assert_eq!(del["d"]["id"], gid.as_str());
    assert!(
        del["d"].get("unavailable").is_none(),
        "removal has no unavailable: {del}"
    );
    // A new session no longer sees it.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_other, ready) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let listed = ids(&ready);
    assert_eq!(listed.len(), 2);
    assert!(!listed.contains(&gid));
    set(&sim, &gid, "bot", json!({"joined": true})).await;
    let add = gw.dispatch("GUILD_CREATE").await;
    assert_eq!(add["d"]["id"], gid.as_str());
    sim.shutdown().await;
}

#[tokio::test]
async fn guilds_not_joined_at_start_arrive_when_the_bot_is_added() {
    let sim = sim_with(SimConfig {
        guilds: 4,
        guilds_not_joined: 1,
        ..fast()
    })
    .await;
    let last = sim.world().guild_id(3).to_string();
    let (mut gw, ready) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    assert_eq!(ids(&ready).len(), 3);
    let created = creates_until_quiet(&mut gw, Duration::from_millis(300)).await;
    assert!(!created.contains(&last));
    set(&sim, &last, "bot", json!({"joined": true})).await;
    let add = gw.dispatch("GUILD_CREATE").await;
    assert_eq!(add["d"]["id"], last.as_str());
    let bad = ctl(
        &sim,
        "POST",
        &format!("/guilds/{last}/bot"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let unknown = ctl(
        &sim,
        "POST",
        "/guilds/123/availability",
        Some(&json!({"unavailable": true})),
    )
    .await;
    assert_eq!(unknown.status, 404);
    sim.shutdown().await;
}
