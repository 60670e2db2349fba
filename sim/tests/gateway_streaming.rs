//! GUILD_CREATE streaming: the cache never serves a changed guild, RESUME rebuilds the
//! GUILD_CREATEs of the replay buffer, and guilds not streamed yet follow the session.

mod common;

use common::gw::{GUILD_PRESENCES, Gw, INTENTS, Next};
use common::world::guild0;
use common::*;
use kyuta_sim::SimConfig;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

#[tokio::test]
async fn a_guild_changed_after_it_was_cached_streams_as_changed() {
    let sim = sim(2).await;
    // GUILD_PRESENCES: the GUILD_CREATEs list the members, so the newcomer shows.
    let intents = INTENTS | GUILD_PRESENCES;
    let (mut a, _) = Gw::ready(&sim, None, [0, 1], intents).await;
    let mut first = HashMap::new();
    for _ in 0..2 {
        let c = a.dispatch("GUILD_CREATE").await;
        first.insert(c["d"]["id"].as_str().unwrap().to_owned(), c);
    }
    let g = guild0(&sim).await;
    let joined = ctl(
        &sim,
        "POST",
        &format!("/guilds/{}/members", g["id"].as_str().unwrap()),
        Some(&json!({"username": "newcomer"})),
    )
    .await;
    assert_eq!(joined.status, 201);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (mut b, _) = Gw::ready(&sim, None, [0, 1], intents).await;
    let mut by_id = HashMap::new();
    for _ in 0..2 {
        let c = b.dispatch("GUILD_CREATE").await;
        by_id.insert(c["d"]["id"].as_str().unwrap().to_owned(), c);
    }
    let gid = g["id"].as_str().unwrap();
    let (before, again) = (&first[gid], &by_id[gid]);
    assert_eq!(
        again["d"]["member_count"].as_u64().unwrap(),
        before["d"]["member_count"].as_u64().unwrap() + 1
    );
    assert!(
        again["d"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user"]["username"] == "newcomer")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn resume_rebuilds_guild_creates_with_their_sequence_numbers() {
    let sim = sim(3).await;
    let (mut gw, r) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let sid = r["d"]["session_id"].as_str().unwrap().to_owned();
    let mut originals = Vec::new();
    for _ in 0..3 {
        originals.push(gw.dispatch("GUILD_CREATE").await);
    }
    drop(gw);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": sid, "seq": 1}}))
        .await;
    for o in &originals {
        let p = gw.payload().await;
        assert_eq!(p["t"], "GUILD_CREATE");
        assert_eq!(p["s"], o["s"]);
        assert_eq!(p["d"], o["d"]);
    }
    assert_eq!(gw.payload().await["t"], "RESUMED");
    sim.shutdown().await;
}

#[tokio::test]
async fn guild_creates_not_streamed_before_a_drop_arrive_after_resume() {
    let sim = sim_with(SimConfig {
        guilds: 2000,
        members_per_guild: 2,
        ..fast()
    })
    .await;
    let (mut gw, r) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let sid = r["d"]["session_id"].as_str().unwrap().to_owned();
    let mut seen = HashSet::new();
    let mut seq = 1;
    for _ in 0..5 {
        let c = gw.dispatch("GUILD_CREATE").await;
        seq = c["s"].as_u64().unwrap();
        seen.insert(c["d"]["id"].as_str().unwrap().to_owned());
    }
    // Gone mid-stream, without reading the rest.
    drop(gw);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": sid, "seq": seq}}))
        .await;
    while seen.len() < 2000 {
        match gw.next().await {
            Next::Payload(p) if p["t"] == "GUILD_CREATE" => {
                let s = p["s"].as_u64().unwrap();
                assert!(s > seq, "sequence went back: {s} after {seq}");
                seq = s;
                assert!(
                    seen.insert(p["d"]["id"].as_str().unwrap().to_owned()),
                    "a guild twice"
                );
            }
            Next::Payload(_) => {}
            Next::Closed(c) => panic!("closed {c:?} with {} guilds", seen.len()),
        }
    }
    assert_eq!(sim.stats().guilds_delivered, 2000);
    sim.shutdown().await;
}
