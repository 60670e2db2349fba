//! Session starts and the identify window, as Discord enforces them.

mod common;

use common::gw::{Gw, INTENTS, Next};
use common::*;
use kyuta_sim::SimConfig;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_exhausted_session_start_limit_ends_every_session_and_resets_the_token() {
    let sim = sim_with(SimConfig {
        session_start_total: 2,
        max_concurrency: 2,
        ..fast()
    })
    .await;
    let (mut a, r) = Gw::ready(&sim, None, [0, 2], INTENTS).await;
    let sid = r["d"]["session_id"].as_str().unwrap().to_owned();
    let (mut b, _) = Gw::ready(&sim, None, [1, 2], INTENTS).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    // A third identify with no session start left: Discord ends every session of the bot
    // and resets its token.
    let mut c = Gw::identified(&sim, [0, 2], INTENTS).await;
    assert_eq!(c.close_code().await, Some(4004));
    assert_eq!(a.close_code().await, Some(4004));
    assert_eq!(b.close_code().await, Some(4004));
    // The old token is dead: IDENTIFY and RESUME get 4004, even after the window.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut d = Gw::identified(&sim, [0, 2], INTENTS).await;
    assert_eq!(d.close_code().await, Some(4004));
    let mut e = Gw::connect(&sim.gateway_url(), None).await;
    e.payload().await;
    e.send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": sid, "seq": 1}}))
        .await;
    assert_eq!(e.close_code().await, Some(4004));
    assert!(sim.stats().sessions.is_empty());
    // Redeployed with the new token (the control API undoes the reset).
    let r = ctl(&sim, "POST", "/token", Some(&json!({"reset": false}))).await;
    assert_eq!(r.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_reset_closes_sessions_with_4004() {
    let sim = sim(2).await;
    let (mut a, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let r = ctl(&sim, "POST", "/token", Some(&json!({"reset": true}))).await;
    assert_eq!(r.body["sessions_closed"], 1);
    assert_eq!(a.close_code().await, Some(4004));
    let mut b = Gw::identified(&sim, [0, 1], INTENTS).await;
    assert_eq!(b.close_code().await, Some(4004));
    let bad = ctl(&sim, "POST", "/token", Some(&json!({"reset": "yes"}))).await;
    assert_eq!(bad.status, 400);
    ctl(&sim, "POST", "/token", Some(&json!({"reset": false}))).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_c, r) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    assert_eq!(r["t"], "READY");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_identify_window_is_exact() {
    let window = Duration::from_millis(2000);
    let sim = sim_with(SimConfig {
        identify_window: window,
        ..fast()
    })
    .await;
    let (_a, _) = Gw::ready(&sim, None, [0, 2], INTENTS).await;
    let first = Instant::now();
    // Same bucket 1.85 s into the 2 s window: refused (a tenth of slack would have let it in).
    tokio::time::sleep_until((first + Duration::from_millis(1850)).into()).await;
    let mut early = Gw::identified(&sim, [1, 2], INTENTS).await;
    let p = early.payload().await;
    assert_eq!((p["op"].as_u64(), p["d"].as_bool()), (Some(9), Some(false)));
    let refused = sim.stats().stats.refused_identifies;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].session_id, "identify bucket busy");
    // A full window after the last accepted identify: accepted.
    tokio::time::sleep_until((first + window + Duration::from_millis(50)).into()).await;
    let (_b, r) = Gw::ready(&sim, None, [1, 2], INTENTS).await;
    assert_eq!(r["t"], "READY");
    sim.shutdown().await;
}

#[tokio::test]
async fn configured_slack_lets_an_identify_arrive_that_much_early() {
    let window = Duration::from_millis(1000);
    let sim = sim_with(SimConfig {
        identify_window: window,
        identify_window_slack: Duration::from_millis(200),
        ..fast()
    })
    .await;
    let (_a, _) = Gw::ready(&sim, None, [0, 2], INTENTS).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    let mut b = Gw::identified(&sim, [1, 2], INTENTS).await;
    loop {
        match b.next().await {
            Next::Payload(p) if p["t"] == "READY" => break,
            Next::Payload(p) => assert_ne!(p["op"], 9, "refused within the slack"),
            Next::Closed(c) => panic!("closed {c:?}"),
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reset_or_revoked_token_is_dead_on_rest_and_on_the_gateway() {
    let sim = sim(2).await;
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    // Reset by Discord (as after an exhausted session start limit): REST refuses it too.
    ctl(&sim, "POST", "/token", Some(&json!({"reset": true}))).await;
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 401);
    ctl(&sim, "POST", "/token", Some(&json!({"reset": false}))).await;
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    // Revoked (as from the Developer Portal): the gateway refuses it too.
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "revoke_token"})),
    )
    .await;
    let mut g = Gw::identified(&sim, [0, 1], INTENTS).await;
    assert_eq!(g.close_code().await, Some(4004));
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "restore_token"})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_c, r) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    assert_eq!(r["t"], "READY");
    sim.shutdown().await;
}
