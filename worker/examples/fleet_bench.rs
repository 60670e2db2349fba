//! Worker benchmarks against the simulator (run in release; figures go to the README):
//!
//! ```sh
//! # bring-up of 16 shards, max_concurrency 4, 1 s identify window, vs (⌈S/C⌉−1)·window
//! cargo run --release -p kyuta-worker --example fleet_bench -- bringup 16 4 1000
//! # resident memory of a worker with N idle shards (run with two N; the slope is per shard)
//! cargo run --release -p kyuta-worker --example fleet_bench -- idle 4
//! cargo run --release -p kyuta-worker --example fleet_bench -- idle 64
//! # /ping latency (p50/p99) while members post R messages per second, P pings
//! cargo run --release -p kyuta-worker --example fleet_bench -- ping 500 300
//! ```
//!
//! The simulator runs in a child process (this program with `sim …`), so the resident memory
//! measured is the worker's alone. Everything listens on 127.0.0.1.

use std::{
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use kyuta_worker::config::{Config, ShardCount, Token};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const TOKEN: &str = "bench-token";

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// The simulator, in this process (child mode).
async fn serve_sim(args: &[String]) -> anyhow::Result<()> {
    let n = |i: usize| -> anyhow::Result<u64> {
        args.get(i)
            .context("sim SHARDS CONCURRENCY WINDOW_MS GUILDS MEMBERS")?
            .parse()
            .context("a number")
    };
    let sim = kyuta_sim::Sim::start(kyuta_sim::SimConfig {
        token: TOKEN.into(),
        recommended_shards: n(0)? as u32,
        max_concurrency: n(1)? as u32,
        identify_window: Duration::from_millis(n(2)?),
        guilds: n(3)?,
        members_per_guild: n(4)? as u32,
        heartbeat_interval: Duration::from_millis(250),
        // A benchmark measures the fleet, not Discord's limits: they are lifted.
        route_limit: 10_000,
        route_limit_factor: 2_000,
        global_rate_limit: 100_000,
        ..kyuta_sim::SimConfig::default()
    })
    .await?;
    println!("{}", sim.addr());
    // Until the parent closes stdin.
    let mut line = String::new();
    let _ = BufReader::new(tokio::io::stdin())
        .read_line(&mut line)
        .await;
    sim.shutdown().await;
    Ok(())
}

struct SimChild {
    child: tokio::process::Child,
    addr: SocketAddr,
}

async fn spawn_sim(
    shards: u32,
    concurrency: u32,
    window_ms: u64,
    guilds: u64,
    members: u32,
) -> anyhow::Result<SimChild> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "sim".to_owned(),
            shards.to_string(),
            concurrency.to_string(),
            window_ms.to_string(),
            guilds.to_string(),
            members.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().context("stdout")?);
    let mut line = String::new();
    out.read_line(&mut line).await?;
    let addr = line.trim().parse().context("the simulator's address")?;
    Ok(SimChild { child, addr })
}

fn worker_config(addr: SocketAddr, window_ms: u64, dir: &Path) -> Config {
    let mut c = Config::defaults();
    c.local = false;
    c.discord_token = Some(Token::new(TOKEN));
    c.discord_api_url = Some(format!("http://{addr}"));
    c.discord_gateway_url = Some(format!("ws://{addr}"));
    c.shard_count = ShardCount::Auto;
    c.identify_window_ms = window_ms;
    c.metrics_port = 0;
    c.health_check_port = 0;
    c.bind_address = [127, 0, 0, 1].into();
    c.store_path = dir.join("bench.redb");
    c.session_file = "none".into();
    c.shutdown_grace_secs = 2;
    c
}

async fn wait_ready(h: &kyuta_worker::WorkerHandle, limit: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    while !h.is_ready() {
        if start.elapsed() > limit {
            bail!("not ready within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(start.elapsed())
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let body = body.map(Value::to_string).unwrap_or_default();
    s.write_all(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (_, body) = text.split_once("\r\n\r\n").context("an HTTP answer")?;
    Ok(serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn bringup(shards: u32, concurrency: u32, window_ms: u64) -> anyhow::Result<()> {
    let mut sim = spawn_sim(shards, concurrency, window_ms, u64::from(shards) * 10, 5).await?;
    let dir = tempfile::tempdir()?;
    let start = Instant::now();
    let h = kyuta_worker::start(worker_config(sim.addr, window_ms, dir.path())).await?;
    wait_ready(&h, Duration::from_secs(120)).await?;
    let took = start.elapsed();
    let first_ready = h
        .services
        .shards
        .all()
        .values()
        .filter_map(|s| s.active_since)
        .min()
        .context("a ready shard")?;
    let all_ready = h
        .services
        .shards
        .all()
        .values()
        .filter_map(|s| s.active_since)
        .max()
        .context("a ready shard")?;
    let floor = Duration::from_millis(window_ms) * (shards.div_ceil(concurrency) - 1);
    let stats = http(sim.addr, "GET", "/_sim/stats", None).await?;
    let at: Vec<u64> = stats["identifies"]
        .as_array()
        .context("identify log")?
        .iter()
        .filter_map(|r| r["at_ms"].as_u64())
        .collect();
    let span = at
        .iter()
        .max()
        .zip(at.iter().min())
        .map_or(0, |(a, b)| a - b);
    println!(
        "identifies accepted {}, refused {}; first to last accepted identify {} ms",
        at.len(),
        stats["identifies_refused"],
        span
    );
    if std::env::var_os("FLEET_BENCH_VERBOSE").is_some() {
        println!(
            "accepted: {}\nrefused: {}",
            stats["identifies"], stats["refused_identifies"]
        );
    }
    println!(
        "bring-up: {shards} shards, max_concurrency {concurrency}, window {window_ms} ms: \
         first shard READY {:.3} s after start, last {:.3} s after the first \
         (floor (⌈S/C⌉−1)·window = {:.3} s); every shard READY with a heartbeat ACK \
         (/ready) {:.3} s after start",
        (first_ready - start).as_secs_f64(),
        (all_ready - first_ready).as_secs_f64(),
        floor.as_secs_f64(),
        took.as_secs_f64(),
    );
    h.shutdown().await;
    drop(sim.child.stdin.take());
    let _ = sim.child.wait().await;
    Ok(())
}

async fn idle(shards: u32) -> anyhow::Result<()> {
    let mut sim = spawn_sim(shards, 16, 100, u64::from(shards), 5).await?;
    let dir = tempfile::tempdir()?;
    let before = rss_bytes();
    let h = kyuta_worker::start(worker_config(sim.addr, 100, dir.path())).await?;
    wait_ready(&h, Duration::from_secs(120)).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_bytes();
    println!(
        "idle: {shards} shards ready: RSS {:.1} MiB (before the worker started: {:.1} MiB)",
        mib(after),
        mib(before)
    );
    h.shutdown().await;
    drop(sim.child.stdin.take());
    let _ = sim.child.wait().await;
    Ok(())
}

async fn ping(rate: u32, pings: usize) -> anyhow::Result<()> {
    const MEMBERS: u32 = 300;
    let mut sim = spawn_sim(4, 4, 100, 8, MEMBERS).await?;
    let addr = sim.addr;
    let dir = tempfile::tempdir()?;
    let h = kyuta_worker::start(worker_config(addr, 100, dir.path())).await?;
    wait_ready(&h, Duration::from_secs(60)).await?;
    let bot = http(addr, "GET", "/_sim/health", None).await?["bot_id"]
        .as_str()
        .context("bot id")?
        .to_owned();
    let Value::Array(guilds) = http(addr, "GET", "/_sim/guilds?limit=8&offset=0", None).await?
    else {
        bail!("unexpected /_sim/guilds answer");
    };
    let humans = |g: &Value| -> Vec<String> {
        g["member_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|m| *m != bot)
                    .map(ToOwned::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let channel_named = |g: &Value, name: &str| -> Option<String> {
        g["channels"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == name)?["id"]
            .as_str()
            .map(ToOwned::to_owned)
    };
    let guild = &guilds[0];
    let gid = guild["id"].as_str().context("guild id")?.to_owned();
    let channel = channel_named(guild, "general").context("#general")?;
    let members = humans(guild);
    let channels: Vec<(String, Vec<String>)> = guilds
        .iter()
        .filter_map(|g| Some((channel_named(g, "off-topic")?, humans(g))))
        .collect();

    // Background: members chatting in every guild at `rate` messages per second.
    let stop = tokio_util::sync::CancellationToken::new();
    let bg = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
            let mut n = 0u64;
            while !stop.is_cancelled() {
                tick.tick().await;
                let (c, ms) = &channels[n as usize % channels.len()];
                let m = &ms[(n as usize / channels.len()) % ms.len()];
                let body = json!({"author_id": m, "content": format!("background chatter {n}")});
                let _ = http(
                    addr,
                    "POST",
                    &format!("/_sim/channels/{c}/messages"),
                    Some(&body),
                )
                .await;
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats0 = http(addr, "GET", "/_sim/stats", None).await?;
    let t0 = Instant::now();
    let mut lat = Vec::with_capacity(pings);
    for i in 0..pings {
        let user = &members[i % members.len()];
        let body = json!({"guild_id": gid, "channel_id": channel, "user_id": user, "name": "ping"});
        let sent = Instant::now();
        let created = http(addr, "POST", "/_sim/interactions", Some(&body)).await?;
        let id = created["id"].as_str().context("interaction id")?.to_owned();
        loop {
            let it = http(addr, "GET", &format!("/_sim/interactions/{id}"), None).await?;
            if it["acknowledged"] == json!(true) {
                lat.push(sent.elapsed());
                break;
            }
            if sent.elapsed() > Duration::from_secs(10) {
                bail!("/ping {i} unanswered after 10 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t0.elapsed();
    let stats1 = http(addr, "GET", "/_sim/stats", None).await?;
    stop.cancel();
    let posted = bg.await?;
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    let dispatched =
        stats1["dispatches"].as_u64().unwrap_or(0) - stats0["dispatches"].as_u64().unwrap_or(0);
    println!(
        "/ping: {} pings from {} members while {posted} background messages were posted \
         (target {rate}/s; {:.0} gateway dispatches/s delivered during the pings): \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (POST /_sim/interactions → answer seen, 1 ms polling)",
        lat.len(),
        members.len().min(pings),
        dispatched as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
    h.shutdown().await;
    drop(sim.child.stdin.take());
    let _ = sim.child.wait().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| -> u64 {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("sim") => serve_sim(&args[1..]).await,
        Some("bringup") => bringup(num(1, 16) as u32, num(2, 4) as u32, num(3, 1000)).await,
        Some("idle") => idle(num(1, 16) as u32).await,
        Some("ping") => ping(num(1, 500) as u32, num(2, 300) as usize).await,
        _ => bail!("usage: fleet_bench bringup [S C WINDOW_MS] | idle [S] | ping [RATE PINGS]"),
    }
}
