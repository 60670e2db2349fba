//! What the generation gate costs per gated event (interaction, message, join): the disabled
//! gate (no generation configured) beside the enabled gate on a real Redis, one event at a
//! time, with 64 events in flight (the shard tasks and handlers of a busy pod), and paced at
//! 10 000 events/s with the Redis round trips the claims took.
//!
//! `REDIS_URL=redis://127.0.0.1:16479 cargo bench -p kyuta-worker --bench generation_gate`
//! (`tests/env/up` starts that Redis). The keys live in a cluster namespace of their own and
//! are deleted afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kyuta_worker::gateway::generation::{EventId, GenerationGate};

const SEQUENTIAL: u64 = 5_000;
const IN_FLIGHT: u64 = 64;
const PER_TASK: u64 = 200;

async fn measure(name: &str, gate: Arc<GenerationGate>, first_id: u64) {
    let start = Instant::now();
    for n in 0..SEQUENTIAL {
        let a = gate.admit(EventId::Message(first_id + n)).await;
        assert!(a.handles(), "{a:?}");
    }
    let seq = start.elapsed();

    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..IN_FLIGHT {
        let gate = Arc::clone(&gate);
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let id = first_id + SEQUENTIAL + t * PER_TASK + i;
                let a = gate.admit(EventId::Message(id)).await;
                assert!(a.handles(), "{a:?}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let conc = start.elapsed();

    // Every id again: each is now a duplicate (the gate's answer to a replay).
    let dup = if gate.is_enabled() {
        let start = Instant::now();
        for n in 0..SEQUENTIAL {
            let a = gate.admit(EventId::Message(first_id + n)).await;
            assert!(!a.handles(), "a replayed event must be dropped: {a:?}");
        }
        Some(start.elapsed())
    } else {
        None
    };

    let per = |n: u64, d: Duration| d / u32::try_from(n).unwrap_or(u32::MAX);
    let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{name:9} one at a time: {:9.0} events/s, {:>9.2?} per event",
        rate(SEQUENTIAL, seq),
        per(SEQUENTIAL, seq)
    );
    let n = IN_FLIGHT * PER_TASK;
    println!(
        "{name:9} {IN_FLIGHT} in flight:  {:9.0} events/s ({n} events in {conc:.2?})",
        rate(n, conc)
    );
    if let Some(d) = dup {
        println!(
            "{name:9} replays dropped: {:9.0} events/s, {:>9.2?} per event",
            rate(SEQUENTIAL, d),
            per(SEQUENTIAL, d)
        );
    }
}

const RATE: u64 = 10_000;
const PACED_EVENTS: u64 = 2 * RATE;

/// Starts event `n` of [`PACED_EVENTS`] at its time of a steady [`RATE`] per second, each in a
/// task of its own (as a shard hands events to handlers), and returns the p50 and p99 of how
/// long `handle(n)` took.
async fn pace<F, Fut>(handle: F) -> (Duration, Duration)
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(PACED_EVENTS as usize);
    for n in 0..PACED_EVENTS {
        let due = start + Duration::from_micros(n * 1_000_000 / RATE);
        tokio::time::sleep_until(due.into()).await;
        let event = handle(n);
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            event.await;
            t0.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        latencies.push(t.await.expect("task"));
    }
    latencies.sort();
    let q = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    (q(0.50), q(0.99))
}

/// 10 000 events/s for two seconds through the gate: latency of its verdict and round trips
/// per event.
async fn paced(name: &str, gate: Arc<GenerationGate>, first_id: u64) {
    let trips_before = gate.claim_round_trips();
    let (p50, p99) = pace(|n| {
        let gate = Arc::clone(&gate);
        async move {
            let a = gate.admit(EventId::Message(first_id + n)).await;
            assert!(a.handles(), "{a:?}");
        }
    })
    .await;
    let trips = gate.claim_round_trips() - trips_before;
    println!(
        "{name:9} {RATE} events/s:  p50 {p50:>9.2?}, p99 {p99:>9.2?}, {trips} Redis round trips for {PACED_EVENTS} events ({:.3} per event)",
        trips as f64 / PACED_EVENTS as f64
    );
}

/// The same pace with one `SET NX EX` per event on the shared connection (a claim per round
/// trip, as the gate claimed before its pipeline), for comparison.
async fn paced_one_command_per_event(conn: redis::aio::ConnectionManager, cluster: &str) {
    let (p50, p99) = pace(|n| {
        let mut conn = conn.clone();
        let key = kyuta_crds::contract::redis_keys::dedupe(cluster, 2_000_000 + n);
        async move {
            let won: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(600)
                .query_async(&mut conn)
                .await
                .expect("SET");
            assert!(won.is_some());
        }
    })
    .await;
    println!(
        "per-event {RATE} events/s:  p50 {p50:>9.2?}, p99 {p99:>9.2?}, {PACED_EVENTS} Redis round trips for {PACED_EVENTS} events (1.000 per event)",
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Ok(url) = std::env::var("REDIS_URL") else {
        eprintln!(
            "REDIS_URL is not set. Start Redis with `tests/env/up && source target/testenv/env` \
             (or point REDIS_URL at any Redis 7), then run this bench again."
        );
        std::process::exit(2);
    };
    let client = redis::Client::open(url.as_str()).expect("REDIS_URL parses");
    let conn = redis::aio::ConnectionManager::new(client)
        .await
        .expect("connect to REDIS_URL");
    let cluster = format!("bench-gate-{}", std::process::id());

    measure("disabled", Arc::new(GenerationGate::disabled()), 1).await;
    let gate = Arc::new(GenerationGate::new(
        Some(conn.clone().into()),
        &cluster,
        Some(1),
    ));
    measure("enabled", Arc::clone(&gate), 1).await;
    paced("disabled", Arc::new(GenerationGate::disabled()), 1_000_000).await;
    paced("enabled", gate, 1_000_000).await;
    paced_one_command_per_event(conn.clone(), &cluster).await;

    let mut c = conn;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!(
            "{}*",
            kyuta_crds::contract::redis_keys::cluster_prefix(&cluster)
        ))
        .query_async(&mut c)
        .await
        .expect("list bench keys");
    for chunk in keys.chunks(1000) {
        let _: () = redis::cmd("DEL")
            .arg(chunk)
            .query_async(&mut c)
            .await
            .expect("delete bench keys");
    }
}
