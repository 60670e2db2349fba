//! The firehose control route: generated dispatches at a rate on the shards' connections,
//! with a report of what was sent and dropped.

mod common;

use common::gw::{Gw, INTENTS, Next};
use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Reads dispatches named `t` until `n` arrived (each is parsed by twilight-model on the
/// way); returns them.
async fn collect(gw: &mut Gw, t: &str, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        match gw.next().await {
            Next::Payload(p) if p["t"] == t => out.push(p),
            Next::Payload(_) => {}
            Next::Closed(c) => panic!("closed {c:?} after {} {t}", out.len()),
        }
    }
    out
}

async fn fire(sim: &kyuta_sim::Sim, body: Value) -> Resp {
    ctl(sim, "POST", "/firehose", Some(&body)).await
}

#[tokio::test]
async fn messages_stream_on_every_shard_and_the_report_counts_them() {
    let sim = sim_with(kyuta_sim::SimConfig {
        guilds: 40,
        max_concurrency: 2,
        ..fast()
    })
    .await;
    let (mut a, _) = Gw::ready(&sim, None, [0, 2], INTENTS).await;
    let (mut b, _) = Gw::ready(&sim, None, [1, 2], INTENTS).await;
    let r = fire(
        &sim,
        json!({"events_per_second": 20000, "count": 400, "kind": "message", "wait": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["running"], false);
    assert_eq!(r.body["generated"], 400);
    assert_eq!(r.body["sent"], 400);
    assert_eq!(r.body["dropped"], 0);
    let on_a = collect(&mut a, "MESSAGE_CREATE", 200).await;
    let on_b = collect(&mut b, "MESSAGE_CREATE", 200).await;
    let world = sim.world();
    for (shard, msgs) in [(0u64, &on_a), (1, &on_b)] {
        let mut seqs = Vec::new();
        for m in msgs {
            let gid: u64 = m["d"]["guild_id"].as_str().unwrap().parse().unwrap();
            assert_eq!((gid >> 22) % 2, shard, "guild on the wrong shard");
            assert!(world.guild_index(gid).is_some());
            assert!(
                m["d"]["content"]
                    .as_str()
                    .unwrap()
                    .starts_with("firehose message")
            );
            assert!(m["d"]["member"]["roles"].is_array());
            seqs.push(m["s"].as_u64().unwrap());
        }
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "sequence gaps");
    }
    let stats = ctl(&sim, "GET", "/stats", None).await.body;
    assert_eq!(stats["firehose_sent"], 400);
    assert_eq!(stats["firehose_dropped"], 0);
    let id = r.body["id"].as_u64().unwrap();
    let again = ctl(&sim, "GET", &format!("/firehose/{id}"), None).await;
    assert_eq!(again.body["sent"], 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_rate_is_kept_over_a_duration() {
    let sim = sim(10).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let t = Instant::now();
    let r = fire(
        &sim,
        json!({"events_per_second": 500, "duration_ms": 600, "kind": "message"}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["id"].as_u64().unwrap();
    let msgs = collect(&mut gw, "MESSAGE_CREATE", 300).await;
    let took = t.elapsed();
    assert_eq!(msgs.len(), 300);
    // 300 events at 500/s take 0.6 s: not much sooner.
    assert!(took >= Duration::from_millis(540), "{took:?}");
    let done = loop {
        let v = ctl(&sim, "GET", &format!("/firehose/{id}"), None)
            .await
            .body;
        if v["running"] == false {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done["generated"], 300);
    assert_eq!(done["sent"], 300);
    sim.shutdown().await;
}

#[tokio::test]
async fn events_for_shards_without_a_session_or_the_intent_are_dropped_and_reported() {
    let sim = sim_with(kyuta_sim::SimConfig {
        guilds: 20,
        max_concurrency: 2,
        ..fast()
    })
    .await;
    // Shard 0 without GUILD_MESSAGE_TYPING; shard 1 not connected.
    let (_a, _) = Gw::ready(&sim, None, [0, 2], INTENTS).await;
    let r = fire(
        &sim,
        json!({"shards": [0, 1], "events_per_second": 10000, "count": 100, "kind": "typing", "wait": true}),
    )
    .await;
    assert_eq!(r.body["sent"], 0);
    assert_eq!(r.body["dropped"], 100);
    assert_eq!(r.body["dropped_by_reason"]["intents"], 50);
    assert_eq!(r.body["dropped_by_reason"]["no_session"], 50);
    assert_eq!(
        ctl(&sim, "GET", "/stats", None).await.body["firehose_dropped"],
        100
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn reactions_typing_and_presences_are_valid_dispatches() {
    let sim = sim(10).await;
    let all = INTENTS | (1 << 8) | (1 << 10) | (1 << 11);
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], all).await;
    for (kind, t) in [
        ("reaction", "MESSAGE_REACTION_ADD"),
        ("typing", "TYPING_START"),
        ("presence", "PRESENCE_UPDATE"),
    ] {
        let r = fire(
            &sim,
            json!({"events_per_second": 10000, "count": 20, "kind": kind, "wait": true}),
        )
        .await;
        assert_eq!(r.body["sent"], 20, "{kind}: {}", r.body);
        let got = collect(&mut gw, t, 20).await;
        assert!(got.iter().all(|p| p["d"]["guild_id"].is_string()));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn without_message_content_the_content_is_blank() {
    let sim = sim(10).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS & !(1 << 15)).await;
    fire(
        &sim,
        json!({"events_per_second": 10000, "count": 10, "wait": true}),
    )
    .await;
    for m in collect(&mut gw, "MESSAGE_CREATE", 10).await {
        assert_eq!(m["d"]["content"], "");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hot_spread_puts_most_events_in_one_guild() {
    let sim = sim(50).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    fire(
        &sim,
        json!({"events_per_second": 50000, "count": 1000, "spread": "hot", "hot_share": 0.9, "wait": true}),
    )
    .await;
    let mut per_guild: HashMap<String, u32> = HashMap::new();
    for m in collect(&mut gw, "MESSAGE_CREATE", 1000).await {
        *per_guild
            .entry(m["d"]["guild_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let top = per_guild.values().max().copied().unwrap();
    assert!((850..=950).contains(&top), "hot guild got {top} of 1000");
    assert!(
        per_guild.len() > 10,
        "the rest is spread: {}",
        per_guild.len()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_run_can_be_stopped_and_bad_requests_are_refused() {
    let sim = sim(10).await;
    let (_gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let r = fire(&sim, json!({"events_per_second": 10, "count": 100000})).await;
    let id = r.body["id"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = ctl(&sim, "DELETE", &format!("/firehose/{id}"), None).await;
    assert_eq!(stopped.body["running"], false);
    assert!(stopped.body["generated"].as_u64().unwrap() < 100);
    for bad in [
        json!({"count": 10}),
        json!({"events_per_second": 0, "count": 10}),
        json!({"events_per_second": 10}),
        json!({"events_per_second": 10, "count": 5, "duration_ms": 5}),
        json!({"events_per_second": 10, "count": 5, "kind": "voice"}),
        json!({"events_per_second": 10, "count": 5, "spread": "zipf"}),
        json!({"events_per_second": 10, "count": 5, "spread": "hot", "hot_share": 2}),
        json!({"events_per_second": 10, "count": 5, "shards": []}),
        json!({"events_per_second": 10, "count": 5, "shards": ["a"]}),
    ] {
        let r = fire(&sim, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad} → {}", r.body);
        assert!(r.body["error"].is_string());
    }
    assert_eq!(ctl(&sim, "GET", "/firehose/999", None).await.status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_gets_its_backlog_capped_and_the_rest_reported() {
    let sim = sim(10).await;
    // This client reads READY and then nothing: its socket fills, then its queue.
    let (mut slow, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let count = kyuta_sim::firehose::BACKLOG_LIMIT as u64 * 3;
    let r = fire(
        &sim,
        json!({"events_per_second": 5_000_000, "count": count, "kind": "message", "wait": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (sent, dropped) = (
        r.body["sent"].as_u64().unwrap(),
        r.body["dropped"].as_u64().unwrap(),
    );
    let backlog = r.body["dropped_by_reason"]["backlog"].as_u64().unwrap();
    assert_eq!(r.body["generated"], count);
    assert_eq!(sent + dropped, count, "{}", r.body);
    assert_eq!(backlog, dropped, "every drop is the backlog's: {}", r.body);
    assert!(
        backlog > 0,
        "a reader that stopped must cost drops: {}",
        r.body
    );
    // What was queued is bounded: the limit, and what the socket and the connection took.
    assert!(
        sent >= kyuta_sim::firehose::BACKLOG_LIMIT as u64,
        "{}",
        r.body
    );
    assert!(sent < count, "{}", r.body);
    assert_eq!(sim.stats().stats.firehose_dropped, dropped);
    // The client reads again: what was sent arrives in order, without a gap in `s`.
    let first = collect(&mut slow, "MESSAGE_CREATE", 1000).await;
    for w in first.windows(2) {
        assert_eq!(
            w[1]["s"].as_u64().unwrap(),
            w[0]["s"].as_u64().unwrap() + 1,
            "dropped events take no sequence number"
        );
    }
    sim.shutdown().await;
}
