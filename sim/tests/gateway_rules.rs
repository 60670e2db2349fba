//! One test per gateway protocol rule, named after the rule.

mod common;

use common::gw::{GUILD_PRESENCES, Gw, INTENTS, Next, identify};
use common::*;
use kyuta_sim::SimConfig;
use serde_json::json;
use std::time::Duration;

async fn ready(
    sim: &kyuta_sim::Sim,
    compress: Option<&str>,
    shard: [u32; 2],
) -> (Gw, serde_json::Value) {
    Gw::ready(sim, compress, shard, INTENTS).await
}

#[tokio::test]
async fn hello_carries_the_configured_heartbeat_interval() {
    let sim = sim_with(SimConfig {
        heartbeat_interval: Duration::from_millis(1234),
        ..fast()
    })
    .await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    let hello = gw.payload().await;
    assert_eq!(hello["op"], 10);
    assert_eq!(hello["d"]["heartbeat_interval"], 1234);
    sim.shutdown().await;
}

#[tokio::test]
async fn heartbeat_is_acknowledged() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 1, "d": null})).await;
    assert_eq!(gw.payload().await["op"], 11);
    sim.shutdown().await;
}

#[tokio::test]
async fn missed_heartbeats_close_with_4009() {
    let sim = sim_with(SimConfig {
        heartbeat_interval: Duration::from_millis(100),
        ..fast()
    })
    .await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    // Deadline is 1.5 intervals + 5 s.
    let code = tokio::time::timeout(Duration::from_secs(9), gw.close_code())
        .await
        .unwrap();
    assert_eq!(code, Some(4009));
    sim.shutdown().await;
}

#[tokio::test]
async fn identify_with_a_bad_token_closes_4004() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.identify("wrong", [0, 1], INTENTS).await;
    assert_eq!(gw.close_code().await, Some(4004));
    sim.shutdown().await;
}

#[tokio::test]
async fn identify_with_a_bad_shard_closes_4010() {
    let sim = sim(1).await;
    let mut gw = Gw::identified(&sim, [2, 2], INTENTS).await;
    assert_eq!(gw.close_code().await, Some(4010));
    sim.shutdown().await;
}

#[tokio::test]
async fn more_than_2500_guilds_on_a_shard_closes_4011() {
    let sim = sim(2600).await;
    let mut gw = Gw::identified(&sim, [0, 1], INTENTS).await;
    assert_eq!(gw.close_code().await, Some(4011));
    // Two shards are enough.
    let (_gw, r) = ready(&sim, None, [0, 2]).await;
    assert!(r["d"]["guilds"].as_array().unwrap().len() <= 2500);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_intent_bits_close_4013() {
    let sim = sim(1).await;
    let mut gw = Gw::identified(&sim, [0, 1], 1 << 30).await;
    assert_eq!(gw.close_code().await, Some(4013));
    sim.shutdown().await;
}

#[tokio::test]
async fn privileged_intents_not_enabled_close_4014() {
    let sim = sim_with(SimConfig {
        privileged_intents: false,
        ..fast()
    })
    .await;
    let mut gw = Gw::identified(&sim, [0, 1], 1 << 15).await;
    assert_eq!(gw.close_code().await, Some(4014));
    sim.shutdown().await;
}

/// Switching the privileged intents off in the Developer Portal while the bot runs: the next
/// IDENTIFY asking for them is closed with 4014, and the application's flags no longer list them; switched on again, it identifies.
#[tokio::test]
async fn privileged_intents_switched_off_at_run_time_close_the_next_identify_4014() {
    let sim = sim(1).await;
    let (_running, _) = ready(&sim, None, [0, 1]).await;
    let flags = |r: &Resp| r.body["flags"].as_u64().unwrap_or(0);
    assert_ne!(flags(&api(&sim, "GET", "/applications/@me", None).await), 0);
    let r = ctl(
        &sim,
        "POST",
        "/application",
        Some(&json!({"privileged_intents": false})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(flags(&api(&sim, "GET", "/applications/@me", None).await), 0);
    let mut refused = Gw::identified(&sim, [0, 1], 1 << 15).await;
    assert_eq!(refused.close_code().await, Some(4014));
    let r = ctl(
        &sim,
        "POST",
        "/application",
        Some(&json!({"privileged_intents": true})),
    )
    .await;
    assert_eq!(r.status, 200);
    // Past the identify window of the first session's bucket.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_again, ready) = Gw::ready(&sim, None, [0, 1], INTENTS | (1 << 15)).await;
    assert!(ready["d"]["session_id"].is_string(), "{ready}");
    let bad = ctl(
        &sim,
        "POST",
        "/application",
        Some(&json!({"privileged_intents": "no"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn sending_before_identify_closes_4003() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(
        &json!({"op": 3, "d": {"since": null, "activities": [], "status": "online", "afk": false}}),
    )
    .await;
    assert_eq!(gw.close_code().await, Some(4003));
    sim.shutdown().await;
}

#[tokio::test]
async fn second_identify_closes_4005() {
    let sim = sim(1).await;
    let (mut gw, _) = ready(&sim, None, [0, 1]).await;
    gw.send(&identify(TOKEN, [0, 1], INTENTS)).await;
    assert_eq!(gw.close_code().await, Some(4005));
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_opcode_closes_4001() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 42, "d": null})).await;
    assert_eq!(gw.close_code().await, Some(4001));
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_json_closes_4002() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send_raw("{not json".into()).await;
    assert_eq!(gw.close_code().await, Some(4002));
    sim.shutdown().await;
}

#[tokio::test]
async fn payload_over_4096_bytes_closes_4002() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    let big = json!({"op": 1, "d": null, "pad": "x".repeat(4100)});
    gw.send(&big).await;
    assert_eq!(gw.close_code().await, Some(4002));
    sim.shutdown().await;
}

#[tokio::test]
async fn more_than_120_sends_per_60_seconds_closes_4008() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    for _ in 0..121 {
        gw.send(&json!({"op": 1, "d": null})).await;
    }
    assert_eq!(gw.close_code().await, Some(4008));
    sim.shutdown().await;
}

#[tokio::test]
async fn api_version_other_than_10_closes_4012() {
    let sim = sim(1).await;
    let mut gw = Gw::connect_url(&format!("{}/?v=9&encoding=json", sim.gateway_url())).await;
    assert_eq!(gw.close_code().await, Some(4012));
    sim.shutdown().await;
}

#[tokio::test]
async fn ready_then_one_guild_create_per_guild_of_the_shard() {
    let sim = sim(40).await;
    let (mut gw, r) = ready(&sim, None, [1, 2]).await;
    let d = &r["d"];
    assert_eq!(d["shard"], json!([1, 2]));
    assert_eq!(d["resume_gateway_url"], sim.gateway_url());
    assert_eq!(d["application"]["id"], sim.bot_id().to_string());
    assert!(!d["session_id"].as_str().unwrap().is_empty());
    let expected: Vec<String> = d["guilds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["unavailable"], true);
            g["id"].as_str().unwrap().to_owned()
        })
        .collect();
    for id in &expected {
        let gid: u64 = id.parse().unwrap();
        assert_eq!((gid >> 22) % 2, 1, "guild on the right shard");
    }
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let g = gw.dispatch("GUILD_CREATE").await;
        got.push(g["d"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(got, expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn zstd_stream_compression_decodes() {
    let sim = sim(5).await;
    let (mut gw, r) = ready(&sim, Some("zstd-stream"), [0, 1]).await;
    assert_eq!(r["t"], "READY");
    for _ in 0..5 {
        gw.dispatch("GUILD_CREATE").await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn zlib_stream_compression_decodes() {
    let sim = sim(5).await;
    let (mut gw, r) = ready(&sim, Some("zlib-stream"), [0, 1]).await;
    assert_eq!(r["t"], "READY");
    for _ in 0..5 {
        gw.dispatch("GUILD_CREATE").await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn identify_faster_than_the_bucket_window_gets_op_9() {
    let sim = sim_with(SimConfig {
        identify_window: Duration::from_secs(5),
        max_concurrency: 2,
        ..fast()
    })
    .await;
    let (_a, _) = ready(&sim, None, [0, 4]).await;
    // Other bucket: fine at once.
    let (_b, _) = ready(&sim, None, [1, 4]).await;
    // Same bucket as shard 0: too early.
    let mut c = Gw::identified(&sim, [2, 4], INTENTS).await;
    let p = c.payload().await;
    assert_eq!(p["op"], 9);
    assert_eq!(p["d"], false);
    let s = sim.stats();
    assert_eq!(s.stats.identifies.len(), 2);
    assert_eq!(s.stats.identifies_refused, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn session_start_limit_counts_down_per_identify_and_resume_is_free() {
    let sim = sim_with(SimConfig {
        session_start_total: 2,
        ..fast()
    })
    .await;
    let before = api(&sim, "GET", "/gateway/bot", None).await.body;
    assert_eq!(before["session_start_limit"]["remaining"], 2);
    let (mut gw, r) = ready(&sim, None, [0, 1]).await;
    let sid = r["d"]["session_id"].as_str().unwrap().to_owned();
    let after = api(&sim, "GET", "/gateway/bot", None).await.body;
    assert_eq!(after["session_start_limit"]["remaining"], 1);
    drop(gw.ws.close(None).await);
    let mut again = Gw::connect(&sim.gateway_url(), None).await;
    again.payload().await;
    again
        .send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": sid, "seq": 1}}))
        .await;
    again.dispatch("RESUMED").await;
    let after = api(&sim, "GET", "/gateway/bot", None).await.body;
    assert_eq!(after["session_start_limit"]["remaining"], 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_x, _) = ready(&sim, None, [0, 1]).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let after = api(&sim, "GET", "/gateway/bot", None).await.body;
    assert_eq!(after["session_start_limit"]["remaining"], 0);
    // What happens past the limit: tests/session_starts.rs.
    sim.shutdown().await;
}

#[tokio::test]
async fn resume_replays_missed_events_then_resumed() {
    let sim = sim(2).await;
    let (mut gw, r) = ready(&sim, None, [0, 1]).await;
    let sid = r["d"]["session_id"].as_str().unwrap().to_owned();
    let mut seq = r["s"].as_u64().unwrap();
    for _ in 0..2 {
        seq = gw.dispatch("GUILD_CREATE").await["s"].as_u64().unwrap();
    }
    drop(gw);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // An event while disconnected.
    let g = &ctl(&sim, "GET", "/guilds?limit=1", None).await.body[0];
    let joined = ctl(
        &sim,
        "POST",
        &format!("/guilds/{}/members", g["id"].as_str().unwrap()),
        Some(&json!({"username": "late"})),
    )
    .await;
    assert_eq!(joined.status, 201);
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": sid, "seq": seq}}))
        .await;
    let replay = gw.payload().await;
    assert_eq!(replay["t"], "GUILD_MEMBER_ADD");
    assert_eq!(replay["s"].as_u64().unwrap(), seq + 1);
    let resumed = gw.payload().await;
    assert_eq!(resumed["t"], "RESUMED");
    assert_eq!(sim.stats().stats.resumes, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_close_with_1000_or_1001_ends_the_session_and_4000_keeps_it() {
    let sim = sim(1).await;
    for (code, resumable) in [(1000u16, false), (1001, false), (4000, true)] {
        // One identify per window.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (mut gw, r) = ready(&sim, None, [0, 1]).await;
        let sid = r["d"]["session_id"].as_str().unwrap().to_owned();
        let seq = r["s"].as_u64().unwrap();
        gw.close_with(code).await;
        drop(gw);
        let mut gw = Gw::connect(&sim.gateway_url(), None).await;
        gw.payload().await;
        gw.send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": sid, "seq": seq}}))
            .await;
        let p = gw.payload().await;
        if resumable {
            // The GUILD_CREATE replayed, then RESUMED.
            let mut t = p["t"].as_str().unwrap_or_default().to_owned();
            while t != "RESUMED" {
                t = gw.payload().await["t"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            }
        } else {
            assert_eq!(
                (p["op"].as_u64(), p["d"].as_bool()),
                (Some(9), Some(false)),
                "after a client close with {code}: op {} {}",
                p["op"],
                p["t"]
            );
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn resume_of_an_unknown_session_gets_op_9_false() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": "nope", "seq": 3}}))
        .await;
    let p = gw.payload().await;
    assert_eq!((p["op"].as_u64(), p["d"].as_bool()), (Some(9), Some(false)));
    sim.shutdown().await;
}

#[tokio::test]
async fn resume_with_a_seq_ahead_of_the_session_closes_4007() {
    let sim = sim(1).await;
    let (gw, r) = ready(&sim, None, [0, 1]).await;
    let sid = r["d"]["session_id"].as_str().unwrap().to_owned();
    drop(gw);
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 6, "d": {"token": TOKEN, "session_id": sid, "seq": 999}}))
        .await;
    assert_eq!(gw.close_code().await, Some(4007));
    sim.shutdown().await;
}

#[tokio::test]
async fn presence_update_is_recorded() {
    let sim = sim(1).await;
    let (mut gw, _) = ready(&sim, None, [0, 1]).await;
    gw.send(&json!({"op": 3, "d": {"since": null, "activities": [{"name": "/help", "type": 0}], "status": "dnd", "afk": false}})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let p = ctl(&sim, "GET", "/presences", None).await.body;
    assert_eq!(p["0/1"]["presence"]["status"], "dnd");
    sim.shutdown().await;
}

#[tokio::test]
async fn identify_presence_is_recorded_and_null_means_none() {
    let sim = sim(1).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 2, "d": {
        "token": TOKEN, "intents": INTENTS, "properties": {"os": "linux", "browser": "t", "device": "t"},
        "presence": null
    }}))
    .await;
    assert_eq!(gw.dispatch("READY").await["t"], "READY");
    assert_eq!(ctl(&sim, "GET", "/presences", None).await.body, json!({}));
    drop(gw);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut gw = Gw::connect(&sim.gateway_url(), None).await;
    gw.payload().await;
    gw.send(&json!({"op": 2, "d": {
        "token": TOKEN, "intents": INTENTS, "properties": {"os": "linux", "browser": "t", "device": "t"},
        "presence": {"since": null, "activities": [{"name": "Custom Status", "type": 4, "state": "hi"}], "status": "idle", "afk": false}
    }}))
    .await;
    gw.dispatch("READY").await;
    let p = ctl(&sim, "GET", "/presences", None).await.body;
    assert_eq!(p["0/1"]["presence"]["status"], "idle", "{p}");
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_presence_update_closes_with_4002() {
    let sim = sim(1).await;
    for bad in [
        json!({"since": null, "activities": [], "status": "away", "afk": false}),
        json!({"since": null, "activities": [{"name": "x", "type": 9}], "status": "online", "afk": false}),
        json!({"since": null, "activities": [{"type": 0}], "status": "online", "afk": false}),
        json!({"activities": [], "status": "online", "afk": false}),
    ] {
        // A new identify once the bucket's window has passed.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (mut gw, _) = ready(&sim, None, [0, 1]).await;
        gw.send(&json!({"op": 3, "d": bad})).await;
        assert_eq!(gw.close_code().await, Some(4002), "{bad}");
    }
    let p = ctl(&sim, "GET", "/presences", None).await.body;
    assert_eq!(p, json!({}));
    sim.shutdown().await;
}

#[tokio::test]
async fn request_guild_members_answers_chunks_of_at_most_1000() {
    let sim = sim_with(SimConfig {
        guilds: 1,
        members_per_guild: 2100,
        ..fast()
    })
    .await;
    let (mut gw, r) = ready(&sim, None, [0, 1]).await;
    let gid = r["d"]["guilds"][0]["id"].as_str().unwrap().to_owned();
    gw.send(&json!({"op": 8, "d": {"guild_id": gid, "query": "", "limit": 0, "nonce": "n1"}}))
        .await;
    let mut total = 0;
    let mut chunks = 0;
    loop {
        let c = gw.dispatch("GUILD_MEMBERS_CHUNK").await;
        let n = c["d"]["members"].as_array().unwrap().len();
        assert!(n <= 1000);
        assert_eq!(c["d"]["nonce"], "n1");
        total += n;
        chunks += 1;
        if c["d"]["chunk_index"].as_u64().unwrap() + 1 == c["d"]["chunk_count"].as_u64().unwrap() {
            break;
        }
    }
    assert_eq!((total, chunks), (2101, 3));
    // Asking for everyone again at once is rate limited.
    gw.send(&json!({"op": 8, "d": {"guild_id": gid, "query": "", "limit": 0, "nonce": "n2"}}))
        .await;
    let rl = gw.dispatch("RATE_LIMITED").await;
    assert_eq!(rl["d"]["opcode"], 8);
    sim.shutdown().await;
}

#[tokio::test]
async fn op_7_reconnect_fault_is_sent_then_the_connection_closes() {
    let sim = sim(1).await;
    let (mut gw, _) = ready(&sim, None, [0, 1]).await;
    gw.dispatch("GUILD_CREATE").await;
    let f = ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "reconnect", "shard": 0})),
    )
    .await;
    assert_eq!(f.body["affected"], 1);
    loop {
        match gw.next().await {
            Next::Payload(p) if p["op"] == 7 => break,
            Next::Payload(_) => {}
            Next::Closed(c) => panic!("closed {c:?} before op 7"),
        }
    }
    gw.ws.close(None).await.ok();
    sim.shutdown().await;
}

#[tokio::test]
async fn invalidate_session_fault_sends_op_9() {
    let sim = sim(1).await;
    let (mut gw, _) = ready(&sim, None, [0, 1]).await;
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "invalidate_session", "resumable": false})),
    )
    .await;
    loop {
        let p = gw.payload().await;
        if p["op"] == 9 {
            assert_eq!(p["d"], false);
            break;
        }
    }
    assert!(sim.stats().sessions.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn close_fault_closes_with_the_code() {
    let sim = sim(1).await;
    let (mut gw, _) = ready(&sim, None, [0, 1]).await;
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "close", "code": 4000})),
    )
    .await;
    assert_eq!(gw.close_code().await, Some(4000));
    sim.shutdown().await;
}

#[tokio::test]
async fn server_requested_heartbeat_is_op_1() {
    let sim = sim(1).await;
    let (mut gw, _) = ready(&sim, None, [0, 1]).await;
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "request_heartbeat"})),
    )
    .await;
    loop {
        if gw.payload().await["op"] == 1 {
            break;
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn paused_gateway_refuses_connections_and_holds_frames() {
    let sim = sim(1).await;
    let (mut gw, _) = ready(&sim, None, [0, 1]).await;
    gw.dispatch("GUILD_CREATE").await;
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "pause_gateway"})),
    )
    .await;
    let refused =
        tokio_tungstenite::connect_async(format!("{}/?v=10&encoding=json", sim.gateway_url()))
            .await;
    assert!(refused.is_err());
    let g = &ctl(&sim, "GET", "/guilds?limit=1", None).await.body[0];
    ctl(
        &sim,
        "POST",
        &format!("/guilds/{}/members", g["id"].as_str().unwrap()),
        Some(&json!({})),
    )
    .await;
    let held = tokio::time::timeout(Duration::from_millis(300), gw.next()).await;
    assert!(held.is_err(), "nothing arrives while paused");
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "resume_gateway"})),
    )
    .await;
    gw.dispatch("GUILD_MEMBER_ADD").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn events_without_a_guild_go_to_shard_0() {
    let sim = sim(4).await;
    let (mut s0, _) = ready(&sim, None, [0, 2]).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_s1, _) = ready(&sim, None, [1, 2]).await;
    let dm = api(&sim, "POST", "/users/@me/channels", Some(&json!({"recipient_id": ctl(&sim, "GET", "/guilds?limit=1", None).await.body[0]["member_ids"][5]}))).await;
    assert_eq!(dm.status, 200, "{:?}", dm.body);
    let sent = api(
        &sim,
        "POST",
        &format!("/channels/{}/messages", dm.body["id"].as_str().unwrap()),
        Some(&json!({"content": "hi"})),
    )
    .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let m = s0.dispatch("MESSAGE_CREATE").await;
    assert_eq!(m["d"]["content"], "hi");
    assert!(m["d"].get("guild_id").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn public_url_is_announced_as_resume_gateway_url_and_gateway_url() {
    let sim = sim_with(SimConfig {
        public_url: Some("http://kyuta-sim.kyuta.svc:8787/".into()),
        ..fast()
    })
    .await;
    let want = "ws://kyuta-sim.kyuta.svc:8787";
    assert_eq!(sim.public_gateway_url(), want);
    for route in ["/gateway", "/gateway/bot"] {
        let r = api(&sim, "GET", route, None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["url"], want, "{route}");
    }
    let (_gw, r) = ready(&sim, None, [0, 1]).await;
    assert_eq!(r["d"]["resume_gateway_url"], want);
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_public_url_the_gateway_url_follows_the_host_header() {
    let sim = sim(2).await;
    let auth = format!("Bot {TOKEN}");
    for route in ["/gateway", "/gateway/bot"] {
        let r = api_with(
            &sim,
            "GET",
            route,
            None,
            &[
                ("authorization", auth.as_str()),
                ("host", "sim.example:1234"),
            ],
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["url"], "ws://sim.example:1234", "{route}");
    }
    let mut gw = Gw::connect_with_host(&sim.gateway_url(), "kyuta-sim.kyuta.svc:4321").await;
    gw.identify(TOKEN, [0, 1], INTENTS).await;
    let r = gw.dispatch("READY").await;
    assert_eq!(
        r["d"]["resume_gateway_url"],
        "ws://kyuta-sim.kyuta.svc:4321"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_usable_host_header_the_gateway_url_is_the_listen_address() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = sim(2).await;
    let want = format!("ws://{}", sim.addr());
    // HTTP/1.0 allows a request without Host; a Host that is not host[:port] is ignored.
    for host_line in ["", "Host: evil/path\r\n", "Host: user@sim\r\n"] {
        let mut tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        let req = format!("GET /api/v10/gateway HTTP/1.0\r\n{host_line}\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await.unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["url"], want.as_str(), "{host_line:?}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_public_url_that_is_not_a_url_is_refused_at_start() {
    install_crypto();
    let err = kyuta_sim::Sim::start(SimConfig {
        public_url: Some("kyuta-sim:8787".into()),
        ..fast()
    })
    .await
    .expect_err("no scheme");
    assert!(
        matches!(err, kyuta_sim::SimError::Config(ref m) if m.contains("public URL")),
        "{err}"
    );
}

/// The members of the GUILD_CREATE of a 1-guild simulator for a session with `intents`.
async fn guild_create_members(sim: &kyuta_sim::Sim, intents: u64) -> (Vec<serde_json::Value>, u64) {
    // One identify per 200 ms window.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (mut gw, _) = Gw::ready(sim, None, [0, 1], intents).await;
    let g = gw.dispatch("GUILD_CREATE").await;
    let members = g["d"]["members"].as_array().unwrap().clone();
    (members, g["d"]["member_count"].as_u64().unwrap())
}

#[tokio::test]
async fn guild_create_lists_only_the_bot_without_guild_presences() {
    let sim = sim(1).await;
    let bot = ctl(&sim, "GET", "/health", None).await.body["bot_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Untouched guild (generated, cached bytes): the bot alone, the real count.
    let (members, count) = guild_create_members(&sim, INTENTS).await;
    assert_eq!(count, 21);
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["user"]["id"], bot.as_str());
    // With GUILD_PRESENCES, a guild within large_threshold lists everyone.
    let (members, count) = guild_create_members(&sim, INTENTS | GUILD_PRESENCES).await;
    assert_eq!((members.len(), count), (21, 21));
    // A changed guild (serialized from the state) follows the same rule.
    let g = common::world::guild0(&sim).await;
    let joined = ctl(
        &sim,
        "POST",
        &format!("/guilds/{}/members", common::world::gid(&g)),
        Some(&json!({"username": "newbie"})),
    )
    .await;
    assert!(joined.status < 300, "{:?}", joined.body);
    let (members, count) = guild_create_members(&sim, INTENTS).await;
    assert_eq!((members.len(), count), (1, 22));
    assert_eq!(members[0]["user"]["id"], bot.as_str());
    let (members, count) = guild_create_members(&sim, INTENTS | GUILD_PRESENCES).await;
    assert_eq!((members.len(), count), (22, 22));
    sim.shutdown().await;
}
