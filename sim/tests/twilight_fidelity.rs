//! twilight-gateway and twilight-http against the simulator: sharding, identify pacing with
//! buckets, resume after a dropped connection, 429 honoured.

mod common;

use common::*;
use kyuta_sim::SimConfig;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use twilight_gateway::queue::InMemoryQueue;
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, StreamExt};

fn intents() -> Intents {
    Intents::GUILDS | Intents::GUILD_MEMBERS | Intents::GUILD_MODERATION | Intents::GUILD_MESSAGES
}

/// Starts every recommended shard with twilight's in-memory queue built from
/// `GET /gateway/bot`, forwarding (shard id, event) to the returned channel.
async fn run_bot(
    sim: &kyuta_sim::Sim,
) -> (
    mpsc::UnboundedReceiver<(u32, Event)>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let http = twilight_http(sim);
    let info = http
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let l = info.session_start_limit;
    let queue = InMemoryQueue::new(
        l.max_concurrency,
        l.remaining,
        Duration::from_millis(l.reset_after),
        l.total,
    );
    let config = ConfigBuilder::new(TOKEN.to_owned(), intents())
        .proxy_url(sim.gateway_url())
        .queue(queue)
        .build();
    #[allow(deprecated)]
    let shards: Vec<Shard<InMemoryQueue>> =
        twilight_gateway::create_iterator(0..info.shards, info.shards, config, |_, b| b.build())
            .collect();
    let (tx, rx) = mpsc::unbounded_channel();
    let tasks = shards
        .into_iter()
        .map(|mut shard| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let id = shard.id().number();
                while let Some(ev) = shard.next_event(EventTypeFlags::all()).await {
                    if let Ok(ev) = ev
                        && tx.send((id, ev)).is_err()
                    {
                        break;
                    }
                }
            })
        })
        .collect();
    (rx, tasks)
}

async fn expect_guilds(
    rx: &mut mpsc::UnboundedReceiver<(u32, Event)>,
    n: usize,
    within: Duration,
) -> HashSet<u64> {
    let deadline = Instant::now() + within;
    let mut seen = HashSet::new();
    while seen.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let (shard, ev) = tokio::time::timeout(left, rx.recv())
            .await
            .expect("all guilds in time")
            .unwrap();
        if let Event::GuildCreate(g) = ev {
            let id = g.id().get();
            assert_eq!(((id >> 22) % 4) as u32, shard, "guild on its shard");
            assert!(seen.insert(id), "guild {id} delivered twice");
        }
    }
    seen
}

#[tokio::test]
async fn four_shards_5000_guilds_identifies_spaced_per_window_every_guild_once() {
    let sim = sim_with(SimConfig {
        guilds: 5000,
        members_per_guild: 3,
        recommended_shards: 4,
        identify_window: Duration::from_secs(5),
        // twilight's default queue grants identifies exactly 5 s apart, so on a loaded
        // machine the time between a grant and its IDENTIFY reaching the gateway can put
        // two arrivals a few ms under 5 s; the simulator is exact by default. This checks
        // twilight's pacing, not its scheduling jitter, so allow 250 ms.
        identify_window_slack: Duration::from_millis(250),
        ..fast()
    })
    .await;
    let (mut rx, tasks) = run_bot(&sim).await;
    let seen = expect_guilds(&mut rx, 5000, Duration::from_secs(60)).await;
    assert_eq!(seen.len(), 5000);
    let stats = sim.stats();
    let ids = &stats.stats.identifies;
    assert_eq!(
        stats.stats.identifies_refused, 0,
        "accepted {ids:?}, refused {:?}",
        stats.stats.refused_identifies
    );
    assert_eq!(ids.len(), 4, "{ids:?}");
    for w in ids.windows(2) {
        let gap = w[1].at_ms - w[0].at_ms;
        assert!(
            gap >= 4500,
            "identifies {gap} ms apart (window 5 s, tolerance 500 ms)"
        );
    }
    assert_eq!(stats.guilds_delivered, 5000);
    assert_eq!(stats.guilds_delivered_more_than_once, 0);
    assert_eq!(stats.ready_shards.len(), 4);
    for t in tasks {
        t.abort();
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn two_identify_buckets_identify_in_pairs_per_window() {
    let sim = sim_with(SimConfig {
        guilds: 40,
        recommended_shards: 4,
        max_concurrency: 2,
        identify_window: Duration::from_secs(5),
        ..fast()
    })
    .await;
    let (mut rx, tasks) = run_bot(&sim).await;
    expect_guilds(&mut rx, 40, Duration::from_secs(30)).await;
    let ids = sim.stats().stats.identifies;
    assert_eq!(ids.len(), 4);
    let at = |s: u32| ids.iter().find(|r| r.shard[0] == s).unwrap().at_ms;
    // Buckets 0 (shards 0, 2) and 1 (shards 1, 3) each identify once per window.
    assert!(at(2) - at(0) >= 4500);
    assert!(at(3) - at(1) >= 4500);
    assert!(
        at(1).abs_diff(at(0)) < 4000,
        "the two buckets run concurrently"
    );
    let s = sim.stats();
    assert_eq!(
        s.stats.identifies_refused, 0,
        "accepted {ids:?} refused {:?}",
        s.stats.refused_identifies
    );
    for t in tasks {
        t.abort();
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn twilight_resumes_after_a_dropped_connection() {
    let sim = sim(10).await;
    let (mut rx, tasks) = {
        let sim = &sim;
        let http = twilight_http(sim);
        let config = ConfigBuilder::new(TOKEN.to_owned(), intents())
            .proxy_url(sim.gateway_url())
            .build();
        let mut shard = Shard::with_config(twilight_gateway::ShardId::ONE, config);
        let _ = http;
        let (tx, rx) = mpsc::unbounded_channel();
        let t = tokio::spawn(async move {
            while let Some(ev) = shard.next_event(EventTypeFlags::all()).await {
                if let Ok(ev) = ev {
                    let _ = tx.send((0u32, ev));
                }
            }
        });
        (rx, vec![t])
    };
    let mut n = 0;
    while n < 10 {
        if let (_, Event::GuildCreate(_)) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            n += 1;
        }
    }
    let f = ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "drop", "shard": 0})),
    )
    .await;
    assert_eq!(f.body["affected"], 1);
    let g = &ctl(&sim, "GET", "/guilds?limit=1", None).await.body[0];
    ctl(
        &sim,
        "POST",
        &format!("/guilds/{}/members", g["id"].as_str().unwrap()),
        Some(&json!({"username": "during"})),
    )
    .await;
    let mut resumed = false;
    let mut got_member = false;
    while !(resumed && got_member) {
        match tokio::time::timeout(Duration::from_secs(15), rx.recv())
            .await
            .unwrap()
            .unwrap()
            .1
        {
            Event::Resumed => resumed = true,
            Event::MemberAdd(m) => {
                assert_eq!(m.user.name, "during");
                got_member = true;
            }
            Event::Ready(_) => panic!("re-identified instead of resuming"),
            _ => {}
        }
    }
    let stats = sim.stats();
    assert_eq!(stats.stats.resumes, 1);
    assert_eq!(stats.stats.identifies.len(), 1);
    for t in tasks {
        t.abort();
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn twilight_http_honours_429() {
    let sim = sim(1).await;
    let http = twilight_http(&sim);
    ctl(&sim, "POST", "/faults", Some(&json!({"kind": "route", "route": "GET /users/@me", "status": 429, "ms": 1000, "count": 1}))).await;
    let t = Instant::now();
    let me = http.current_user().await.unwrap().model().await.unwrap();
    assert_eq!(me.id.get(), sim.bot_id());
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "retried after the reset, not at once"
    );
    let s = sim.stats();
    assert_eq!(s.stats.rest_429s["GET /users/@me"], 1);
    assert_eq!(s.stats.rest_requests["GET /users/@me"], 2);
    // Buckets: twilight waits instead of hitting 429 when a bucket is exhausted.
    let g: u64 = ctl(&sim, "GET", "/guilds?limit=1", None).await.body[0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for _ in 0..12 {
        http.guild(twilight_model::id::Id::new(g)).await.unwrap();
    }
    assert!(
        !sim.stats()
            .stats
            .rest_429s
            .contains_key("GET /guilds/{guild}")
    );
    sim.shutdown().await;
}
