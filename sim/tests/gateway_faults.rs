//! Gateway faults as Discord really fails: a slow READY while heartbeats are acknowledged,
//! invalidation storms, delayed / duplicated / reordered dispatches, slow heartbeat ACKs.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::{channel_id, guild0};
use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn fault(sim: &kyuta_sim::Sim, body: Value) -> Resp {
    let r = ctl(sim, "POST", "/faults", Some(&body)).await;
    assert_eq!(r.status, 200, "{body} → {}", r.body);
    r
}

/// A user posts in guild 0's #general (one MESSAGE_CREATE).
async fn post(sim: &kyuta_sim::Sim, content: &str) {
    let g = guild0(sim).await;
    let r = ctl(
        sim,
        "POST",
        &format!("/channels/{}/messages", channel_id(&g, "general")),
        Some(&json!({"author_id": g["owner_id"], "content": content})),
    )
    .await;
    assert_eq!(r.status, 201);
}

/// Waits for the next MESSAGE_CREATE; returns `(content, seq)`.
async fn message(gw: &mut Gw) -> (String, u64) {
    let m = gw.dispatch("MESSAGE_CREATE").await;
    (
        m["d"]["content"].as_str().unwrap().to_owned(),
        m["s"].as_u64().unwrap(),
    )
}

async fn streamed(sim: &kyuta_sim::Sim) -> Gw {
    let (mut gw, _) = Gw::ready(sim, None, [0, 1], INTENTS).await;
    for _ in 0..2 {
        gw.dispatch("GUILD_CREATE").await;
    }
    gw
}

#[tokio::test]
async fn a_slow_ready_comes_late_while_heartbeats_are_acknowledged() {
    let sim = sim(2).await;
    fault(&sim, json!({"kind": "slow_ready", "ms": 1200})).await;
    let t = Instant::now();
    let mut gw = Gw::identified(&sim, [0, 1], INTENTS).await;
    gw.send(&json!({"op": 1, "d": null})).await;
    let ack = gw.payload().await;
    assert_eq!(ack["op"], 11, "heartbeat acknowledged before READY");
    assert!(t.elapsed() < Duration::from_millis(1000));
    let ready = gw.payload().await;
    assert_eq!(ready["t"], "READY");
    assert!(
        t.elapsed() >= Duration::from_millis(1150),
        "{:?}",
        t.elapsed()
    );
    gw.dispatch("GUILD_CREATE").await;
    fault(&sim, json!({"kind": "slow_ready", "ms": 0})).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_invalidation_storm_refuses_resume_and_identify_for_a_while() {
    let sim = sim(2).await;
    let (mut gw, r) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let sid = r["d"]["session_id"].as_str().unwrap().to_owned();
    let r = fault(&sim, json!({"kind": "invalidation_storm", "ms": 1500})).await;
    assert_eq!(r.body["affected"], 1);
    let p = loop {
        let p = gw.payload().await;
        if p["op"] != 0 {
            break p;
        }
    };
    assert_eq!((p["op"].as_u64(), p["d"].as_bool()), (Some(9), Some(false)));
    let mut again = Gw::connect(&sim.gateway_url(), None).await;
    again.payload().await;
    again
        .send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": sid, "seq": 1}}))
        .await;
    let p = again.payload().await;
    assert_eq!((p["op"].as_u64(), p["d"].as_bool()), (Some(9), Some(false)));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut fresh = Gw::identified(&sim, [0, 1], INTENTS).await;
    let p = fresh.payload().await;
    assert_eq!((p["op"].as_u64(), p["d"].as_bool()), (Some(9), Some(false)));
    let refused = sim.stats().stats.refused_identifies;
    assert_eq!(refused.last().unwrap().session_id, "invalidation storm");
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let (_ok, r) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    assert_eq!(r["t"], "READY");
    sim.shutdown().await;
}

#[tokio::test]
async fn delayed_dispatches_arrive_late() {
    let sim = sim(2).await;
    let mut gw = streamed(&sim).await;
    fault(&sim, json!({"kind": "delivery", "delay_ms": 700})).await;
    let t = Instant::now();
    post(&sim, "late").await;
    let (content, _) = message(&mut gw).await;
    assert_eq!(content, "late");
    assert!(
        t.elapsed() >= Duration::from_millis(650),
        "{:?}",
        t.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicated_dispatches_arrive_twice_with_the_same_sequence() {
    let sim = sim(2).await;
    let mut gw = streamed(&sim).await;
    fault(&sim, json!({"kind": "delivery", "duplicate": true})).await;
    post(&sim, "twice").await;
    let a = message(&mut gw).await;
    let b = message(&mut gw).await;
    assert_eq!(a, b);
    // Back to normal.
    ctl(&sim, "DELETE", "/faults", None).await;
    post(&sim, "once").await;
    post(&sim, "next").await;
    assert_eq!(message(&mut gw).await.0, "once");
    assert_eq!(message(&mut gw).await.0, "next");
    sim.shutdown().await;
}

#[tokio::test]
async fn reordered_dispatches_arrive_in_swapped_pairs() {
    let sim = sim(2).await;
    let mut gw = streamed(&sim).await;
    fault(&sim, json!({"kind": "delivery", "reorder": true})).await;
    post(&sim, "first").await;
    post(&sim, "second").await;
    let x = message(&mut gw).await;
    let y = message(&mut gw).await;
    assert_eq!((x.0.as_str(), y.0.as_str()), ("second", "first"));
    assert_eq!(x.1, y.1 + 1, "the later sequence number comes first");
    // A lone dispatch is not held forever.
    post(&sim, "alone").await;
    assert_eq!(message(&mut gw).await.0, "alone");
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_heartbeat_acks_come_late() {
    let sim = sim(2).await;
    let mut gw = streamed(&sim).await;
    fault(&sim, json!({"kind": "delivery", "ack_delay_ms": 800})).await;
    let t = Instant::now();
    gw.send(&json!({"op": 1, "d": 3})).await;
    let ack = gw.payload().await;
    assert_eq!(ack["op"], 11);
    assert!(
        t.elapsed() >= Duration::from_millis(750),
        "{:?}",
        t.elapsed()
    );
    let bad = ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "delivery", "delay_ms": -1})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let bad = ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "slow_ready"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    sim.shutdown().await;
}
