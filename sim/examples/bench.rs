//! Simulator benchmark: a large world, many shard connections, dispatch throughput and
//! memory per guild.
//!
//! `cargo run --release -p kyuta-sim --example bench -- [GUILDS] [SHARDS] [MATERIALIZE] [MESSAGES] [FIREHOSE]`
//! (defaults 100000 guilds, 1000 shards, 10000 guilds materialized, 20000 messages,
//! 1000000 firehose events).
//!
//! Phases: (0) payload generation on one core: GUILD_CREATE through a `serde_json::Value`
//! tree (the former path) and written directly, GUILD_CREATE frames from cached bytes, and
//! firehose MESSAGE_CREATEs; (1) start the world; (2) change MATERIALIZE guilds (a member joins each) and
//! measure the RSS they add, on a fresh heap; (3) open SHARDS raw gateway connections (at
//! most 100 handshakes in flight, a refused handshake is retried), then all identify at once
//! and each streams READY and the GUILD_CREATEs of its shard; (4) post MESSAGES user messages
//! through the control API from 32 concurrent clients and wait until every MESSAGE_CREATE
//! reached its shard connection; (5) the firehose streams FIREHOSE MESSAGE_CREATEs over the
//! shard connections as fast as it can, and the clients count what arrives.
//!
//! The clients run in the same process, so CPU and RSS figures include the client side (kept
//! light: frames are not parsed beyond their opcode, except READY). CPU seconds are read
//! from `/proc/self/stat` (all threads), so events per CPU second stay meaningful on a busy
//! machine where wall-clock rates depend on the neighbours; the load average is printed.

use futures::{SinkExt, StreamExt};
use kyuta_sim::{Sim, SimConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The GUILD_CREATE the benchmark measures: a session with GUILD_PRESENCES (as the
/// streaming phase identifies), so every member is listed, the heaviest payload.
const BENCH_VIEW: kyuta_sim::frames::CreateView = kyuta_sim::frames::CreateView {
    large_threshold: 50,
    presences: true,
};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system, all threads) of this process so far (`USER_HZ` = 100).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

/// CPU seconds of the calling thread so far (`USER_HZ` = 100).
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

/// Runs `f` (which makes `step` payloads and returns their bytes) on this thread for at
/// least `secs` seconds; prints payloads per thread-CPU second.
fn per_core(label: &str, secs: f64, step: u64, mut f: impl FnMut(u64) -> u64) -> f64 {
    let (cpu, wall) = (thread_cpu_secs(), Instant::now());
    let (mut made, mut bytes, mut i) = (0u64, 0u64, 0u64);
    while wall.elapsed().as_secs_f64() < secs {
        bytes += f(i);
        made += step;
        i += 1;
    }
    let used = (thread_cpu_secs() - cpu).max(0.01);
    let rate = made as f64 / used;
    println!(
        "  {label}: {made} in {used:.2} CPU s = {rate:.0} per CPU second ({:.1} µs each, {:.0} bytes each)",
        used * 1e6 / made as f64,
        bytes as f64 / made as f64
    );
    rate
}

/// Phase 0: payload generation on one core, the former path and the current one side by side.
fn generation(world: &kyuta_sim::world::World) {
    println!(
        "payload generation on one core (this thread; load average {}):",
        loadavg()
    );
    let guilds = world.guild_count.max(1);
    let old = per_core(
        "GUILD_CREATE generated + serde_json::Value tree + to_string (former path)",
        2.0,
        1,
        |i| {
            let g = world.generate(i % guilds);
            let d = g.to_create_json(BENCH_VIEW).to_string();
            format!("{{\"op\":0,\"s\":{i},\"t\":\"GUILD_CREATE\",\"d\":{d}}}").len() as u64
        },
    );
    let new = per_core(
        "GUILD_CREATE generated + written directly + frame",
        2.0,
        1,
        |i| {
            let g = world.generate(i % guilds);
            let d = kyuta_sim::frames::guild_create(&g, BENCH_VIEW);
            kyuta_sim::frames::dispatch_frame(i, "GUILD_CREATE", &d).len() as u64
        },
    );
    let cached: Vec<String> = (0..guilds.min(64))
        .map(|n| kyuta_sim::frames::guild_create(&world.generate(n), BENCH_VIEW))
        .collect();
    let hit = per_core(
        "GUILD_CREATE frame from cached bytes (sequence spliced)",
        1.0,
        1,
        |i| {
            let d = &cached[(i % cached.len() as u64) as usize];
            kyuta_sim::frames::dispatch_frame(i, "GUILD_CREATE", d).len() as u64
        },
    );
    let msgs = per_core("firehose MESSAGE_CREATE frame", 1.0, 1000, |i| {
        kyuta_sim::firehose::generate_messages(world, i % guilds, 1000)
    });
    println!(
        "  GUILD_CREATE: {:.1}x the former path written directly, {:.0}x from the cache; MESSAGE_CREATE {msgs:.0}/s",
        new / old,
        hit / old
    );
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opens one gateway connection, retrying a refused handshake (counted in `retries`).
async fn connect(url: &str, retries: &AtomicU64) -> Ws {
    let mut attempt = 0;
    loop {
        match tokio_tungstenite::connect_async(format!("{url}/?v=10&encoding=json")).await {
            Ok((ws, _)) => return ws,
            Err(_) if attempt < 20 => {
                attempt += 1;
                retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => panic!("gateway handshake failed 20 times: {e}"),
        }
    }
}

/// One raw shard on an open connection: identifies, counts dispatches until every
/// GUILD_CREATE of READY's guild list arrived, then keeps reading, counting the
/// MESSAGE_CREATEs it receives into `messages`.
async fn shard(mut ws: Ws, id: u32, total: u32, messages: Arc<AtomicU64>) -> (u64, u64) {
    let _hello = ws.next().await;
    let identify = json!({"op": 2, "d": {"token": "T", "intents": 1 | 2 | 256 | 512, "shard": [id, total], "properties": {"os": "linux", "browser": "bench", "device": "bench"}}});
    ws.send(Message::Text(identify.to_string().into()))
        .await
        .unwrap();
    let mut expected = None;
    let (mut events, mut bytes) = (0u64, 0u64);
    while let Some(Ok(m)) = ws.next().await {
        let Message::Text(t) = m else { continue };
        bytes += t.len() as u64;
        assert!(!t.starts_with("{\"op\":9"), "identify refused");
        if !t.starts_with("{\"op\":0") {
            continue;
        }
        events += 1;
        if expected.is_none() && t.contains("\"t\":\"READY\"") {
            let v: Value = serde_json::from_str(&t).unwrap();
            expected = Some(v["d"]["guilds"].as_array().unwrap().len() as u64);
        }
        if expected.is_some_and(|e| events > e) {
            break;
        }
    }
    // Keep the connection open until the end of the run.
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m
                && t.contains("\"t\":\"MESSAGE_CREATE\"")
            {
                messages.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    (events, bytes)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let guilds = args.first().copied().unwrap_or(100_000);
    let shards = args.get(1).copied().unwrap_or(1000) as u32;
    let materialize = args.get(2).copied().unwrap_or(10_000);
    let message_count = args.get(3).copied().unwrap_or(20_000);
    let firehose_count = args.get(4).copied().unwrap_or(1_000_000);
    let rss0 = rss_kib();
    let t = Instant::now();
    let sim = Sim::start(SimConfig {
        token: "T".into(),
        guilds,
        members_per_guild: 20,
        recommended_shards: shards,
        max_concurrency: shards,
        identify_window: Duration::from_millis(1),
        heartbeat_interval: Duration::from_secs(600),
        replay_buffer: 64,
        ..SimConfig::default()
    })
    .await?;
    let rss_world = rss_kib();
    println!(
        "world: {guilds} guilds, started in {:?}; RSS {} MiB → {} MiB idle",
        t.elapsed(),
        rss0 / 1024,
        rss_world / 1024
    );
    if std::env::var_os("KYUTA_BENCH_SKIP_GENERATION").is_none() {
        generation(sim.world());
    }

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<hyper::body::Bytes>>();

    // Memory per materialized guild: touch guilds through the control API (a member joins).
    let before = rss_kib();
    let t = Instant::now();
    let n = materialize.min(guilds);
    for i in 0..n {
        let gid = sim.world().guild_id(i);
        let req = hyper::Request::post(format!("{}/guilds/{gid}/members", sim.control_url()))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(hyper::body::Bytes::from_static(
                b"{}",
            )))?;
        let resp = client.request(req).await?;
        assert_eq!(resp.status(), 201);
    }
    let after = rss_kib();
    println!(
        "materialized {n} guilds (a member joined each, GUILD_MEMBER_ADD pushed) in {:.2} s: RSS +{} MiB = {} bytes per changed guild; untouched guilds cost nothing",
        t.elapsed().as_secs_f64(),
        after.saturating_sub(before) / 1024,
        after.saturating_sub(before) * 1024 / n.max(1)
    );
    println!("materialized guilds: {}", sim.stats().guilds_materialized);

    let rss_idle = rss_kib();
    // Many shard connections: open them all, then all identify and stream READY + their
    // GUILD_CREATEs at once.
    let url = sim.gateway_url();
    let retries = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(100));
    let t = Instant::now();
    let opening: Vec<_> = (0..shards)
        .map(|_| {
            let (url, retries, gate) = (url.clone(), retries.clone(), gate.clone());
            tokio::spawn(async move {
                let _permit = gate.acquire().await.expect("semaphore open");
                connect(&url, &retries).await
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(opening.len());
    for c in opening {
        conns.push(c.await?);
    }
    println!(
        "{shards} gateway connections open in {:.2} s ({} handshakes retried); load average {}",
        t.elapsed().as_secs_f64(),
        retries.load(Ordering::Relaxed),
        loadavg()
    );
    let received = Arc::new(AtomicU64::new(0));
    let cpu = cpu_secs();
    let t = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(0..shards)
        .map(|(ws, i)| tokio::spawn(shard(ws, i, shards, received.clone())))
        .collect();
    let (mut events, mut bytes) = (0, 0);
    for task in tasks {
        let (e, b) = task.await?;
        events += e;
        bytes += b;
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu_used = cpu_secs() - cpu;
    let stats = sim.stats();
    println!(
        "{shards} shards streaming at once: {} open, {} ready; {events} dispatches ({} GUILD_CREATE, {:.1} MiB JSON) in {secs:.2} s = {:.0} events/s, {:.1} MiB/s; {cpu_used:.1} CPU s = {:.0} events per CPU s; load average {}",
        stats.open_connections,
        stats.ready_shards.len(),
        stats.stats.guild_creates,
        bytes as f64 / 1_048_576.0,
        events as f64 / secs,
        bytes as f64 / 1_048_576.0 / secs,
        events as f64 / cpu_used.max(0.01),
        loadavg()
    );
    let rss_conn = rss_kib();
    println!(
        "RSS with {shards} connections: {} MiB ({} KiB per connection)",
        rss_conn / 1024,
        (rss_conn.saturating_sub(rss_idle)) / u64::from(shards.max(1))
    );

    // Small events end to end: users post messages through the control API (as a worker
    // benchmark would drive it); each MESSAGE_CREATE is pushed to the owning shard.
    let targets: Vec<(u64, u64)> = (0..message_count.min(guilds).max(1))
        .map(|i| {
            let g = sim.guild(sim.world().guild_id(i)).expect("guild");
            let general = g
                .channels
                .iter()
                .find(|c| c.name == "general")
                .expect("#general");
            (general.id, g.owner_id)
        })
        .collect();
    let targets = Arc::new(targets);
    let workers = 32u64;
    let cpu = cpu_secs();
    let t = Instant::now();
    let posters: Vec<_> = (0..workers)
        .map(|w| {
            let (client, targets, base) = (client.clone(), targets.clone(), sim.control_url());
            tokio::spawn(async move {
                let mut i = w;
                while i < message_count {
                    let (channel, author) = targets[(i % targets.len() as u64) as usize];
                    let body =
                        format!("{{\"author_id\":\"{author}\",\"content\":\"message {i}\"}}");
                    let req = hyper::Request::post(format!("{base}/channels/{channel}/messages"))
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                        .expect("request");
                    let resp = client.request(req).await.expect("post");
                    assert!(resp.status().is_success(), "{}", resp.status());
                    i += workers;
                }
            })
        })
        .collect();
    for p in posters {
        p.await?;
    }
    let posted = t.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(120);
    while received.load(Ordering::Relaxed) < message_count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    let got = received.load(Ordering::Relaxed);
    let cpu_used = cpu_secs() - cpu;
    println!(
        "{message_count} messages posted through the control API by {workers} clients in {posted:.2} s; {got} MESSAGE_CREATE received over the shard connections after {secs:.2} s = {:.0} events/s end to end; {cpu_used:.1} CPU s = {:.0} per CPU s; load average {}",
        got as f64 / secs,
        got as f64 / cpu_used.max(0.01),
        loadavg()
    );

    // The firehose: generated MESSAGE_CREATEs streamed on every shard connection, as fast
    // as the simulator makes and writes them.
    if firehose_count > 0 {
        let before = received.load(Ordering::Relaxed);
        let cpu = cpu_secs();
        let t = Instant::now();
        let body = format!(
            "{{\"events_per_second\":10000000,\"count\":{firehose_count},\"kind\":\"message\",\"wait\":true}}"
        );
        let req = hyper::Request::post(format!("{}/firehose", sim.control_url()))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))?;
        let resp = client.request(req).await?;
        let status = resp.status();
        let report: Value = serde_json::from_slice(
            &http_body_util::BodyExt::collect(resp.into_body())
                .await?
                .to_bytes(),
        )?;
        assert!(status.is_success(), "{status} {report}");
        let generated_secs = t.elapsed().as_secs_f64();
        let sent = report["sent"].as_u64().unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(300);
        while received.load(Ordering::Relaxed) - before < sent && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let secs = t.elapsed().as_secs_f64();
        let got = received.load(Ordering::Relaxed) - before;
        let cpu_used = cpu_secs() - cpu;
        println!(
            "firehose: {firehose_count} MESSAGE_CREATE asked, {sent} sent, {} dropped ({}), generated in {generated_secs:.2} s; {got} received over {shards} shard connections after {secs:.2} s = {:.0} events/s end to end; {cpu_used:.1} CPU s (simulator and clients) = {:.0} per CPU s; load average {}",
            report["dropped"],
            report["dropped_by_reason"],
            got as f64 / secs,
            got as f64 / cpu_used.max(0.01),
            loadavg()
        );
    }
    println!("peak RSS: {} MiB", peak_rss_kib() / 1024);

    sim.shutdown().await;
    Ok(())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
