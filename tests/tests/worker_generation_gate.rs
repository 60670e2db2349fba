//! The worker's generation gate against the real Redis: two generations see the same events,
//! the active generation switches in the middle, and every event is handled exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kyuta_crds::contract::redis_keys;
use kyuta_redis::Conn;
use kyuta_tests::{redis_connection, redis_url, unique_name};
use kyuta_worker::gateway::generation::{Admission, EventId, GenerationGate};
use kyuta_worker::telemetry::Metrics;

async fn manager(url: &str) -> Conn {
    kyuta_redis::connect(url, &kyuta_redis::Options::default())
        .await
        .unwrap_or_else(|e| panic!("Redis at {url}: {e}. Start it with `tests/env/up`."))
}

async fn set_active(cluster: &str, generation: u32) {
    let mut con = redis_connection().await;
    let _: () = redis::cmd("SET")
        .arg(redis_keys::active_generation(cluster))
        .arg(generation)
        .query_async(&mut con)
        .await
        .unwrap();
}

async fn delete_cluster(cluster: &str) {
    let mut con = redis_connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("kyuta:{{{cluster}}}:*"))
        .query_async(&mut con)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut con)
            .await
            .unwrap();
    }
}

fn count(metrics: &Metrics, outcome: &str) -> u64 {
    let text = metrics.render();
    let prefix = format!("kyuta_generation_gate_events_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Both generations receive every event (as the pods of both do during a reshard); the
/// operator switches the active generation from 1 to 2 while events arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_in_the_middle_handles_each_event_exactly_once() {
    let cluster = unique_name("gate");
    let url = redis_url();
    set_active(&cluster, 1).await;
    let metrics = [Arc::new(Metrics::new()), Arc::new(Metrics::new())];
    let gates = [
        Arc::new(
            GenerationGate::new(Some(manager(&url).await), &cluster, Some(1))
                .with_metrics(Arc::clone(&metrics[0])),
        ),
        Arc::new(
            GenerationGate::new(Some(manager(&url).await), &cluster, Some(2))
                .with_metrics(Arc::clone(&metrics[1])),
        ),
    ];
    assert!(gates.iter().all(|g| g.is_enabled()));

    const EVENTS: u64 = 300;
    const SWITCH_AT: u64 = 120;
    let base = 1_300_000_000_000_000_000u64;
    let start = Instant::now();
    let mut switched_at = None;
    let mut issued = Vec::new();
    let mut tasks = Vec::new();
    for n in 0..EVENTS {
        if n == SWITCH_AT {
            set_active(&cluster, 2).await;
            switched_at = Some(start.elapsed());
        }
        let id = if n % 2 == 0 {
            EventId::Interaction(base + n)
        } else {
            EventId::Message(base + n)
        };
        issued.push((n, start.elapsed()));
        for (g, gate) in gates.iter().enumerate() {
            let gate = Arc::clone(gate);
            tasks.push(tokio::spawn(async move { (n, g, gate.admit(id).await) }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let switched_at = switched_at.unwrap();
    let mut handled: HashMap<u64, Vec<(usize, Admission)>> = HashMap::new();
    for t in tasks {
        let (n, g, verdict) = t.await.unwrap();
        handled.entry(n).or_default().push((g, verdict));
    }
    let mut by = [0u64; 2];
    for (n, at) in &issued {
        let verdicts = &handled[n];
        let handlers: Vec<usize> = verdicts
            .iter()
            .filter(|(_, v)| v.handles())
            .map(|(g, _)| *g)
            .collect();
        assert_eq!(handlers.len(), 1, "event {n}: {verdicts:?}");
        assert!(
            verdicts
                .iter()
                .all(|(_, v)| *v != Admission::HandleUnchecked),
            "event {n}: Redis was up: {verdicts:?}"
        );
        by[handlers[0]] += 1;
        if *n < SWITCH_AT {
            assert_eq!(handlers, [0], "event {n} before the switch: {verdicts:?}");
        }
        if *at > switched_at + Duration::from_millis(1200) {
            assert_eq!(
                handlers,
                [1],
                "event {n} well after the switch: {verdicts:?}"
            );
        }
    }
    println!(
        "handled by generation 1: {}, by generation 2: {}",
        by[0], by[1]
    );
    assert_eq!(by[0] + by[1], EVENTS);
    assert!(by[0] >= SWITCH_AT && by[1] > 0);

    // The metrics say the same.
    assert_eq!(count(&metrics[0], "handled"), by[0]);
    assert_eq!(count(&metrics[1], "handled"), by[1]);
    let dropped: u64 = (0..2)
        .map(|g| {
            count(&metrics[g], "other_generation")
                + count(&metrics[g], "duplicate")
                + count(&metrics[g], "redis_unavailable")
        })
        .sum();
    assert_eq!(dropped, EVENTS, "every event was dropped once, by one side");
    assert_eq!(count(&metrics[0], "redis_unavailable"), 0);
    assert!(count(&metrics[1], "other_generation") >= SWITCH_AT);

    // A replay (after a RESUME) of an event already handled is a duplicate on either side.
    for gate in &gates {
        assert!(
            !gate
                .admit(EventId::Interaction(base + EVENTS - 2))
                .await
                .handles()
        );
    }
    delete_cluster(&cluster).await;
}

/// No active generation named (the operator has not written the key): every generation
/// handles, deduplicated by the claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_active_generation_every_generation_handles_once() {
    let cluster = unique_name("gate");
    let url = redis_url();
    let gates = [
        Arc::new(GenerationGate::new(
            Some(manager(&url).await),
            &cluster,
            Some(4),
        )),
        Arc::new(GenerationGate::new(
            Some(manager(&url).await),
            &cluster,
            Some(5),
        )),
    ];
    let mut tasks = Vec::new();
    for id in 0..200u64 {
        for (g, gate) in gates.iter().enumerate() {
            let gate = Arc::clone(gate);
            tasks.push(tokio::spawn(async move {
                (id, g, gate.admit(EventId::Message(900_000 + id)).await)
            }));
        }
    }
    let mut handled: HashMap<u64, Vec<usize>> = HashMap::new();
    for t in tasks {
        let (id, g, verdict) = t.await.unwrap();
        assert!(
            matches!(verdict, Admission::Handle | Admission::Duplicate),
            "{id}: {verdict:?}"
        );
        if verdict.handles() {
            handled.entry(id).or_default().push(g);
        }
    }
    assert_eq!(handled.len(), 200);
    assert!(handled.values().all(|h| h.len() == 1), "{handled:?}");

    // Member joins: the same join is one event; a re-join later is another.
    let join = |at| EventId::MemberJoin {
        guild_id: 1,
        user_id: 2,
        joined_at_micros: at,
    };
    assert_eq!(gates[0].admit(join(10)).await, Admission::Handle);
    assert_eq!(gates[1].admit(join(10)).await, Admission::Duplicate);
    assert_eq!(gates[1].admit(join(20)).await, Admission::Handle);
    delete_cluster(&cluster).await;
}

/// A generation that is not active drops events; when Redis stops answering, events are
/// handled anyway (availability over dedupe) and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_handles_and_counts() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = tokio::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server runs (apt-get install -y redis-server; tests/env/up checks it)");
    let url = format!("redis://127.0.0.1:{port}");
    let client = redis::Client::open(url.as_str()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let conn = loop {
        match client.get_connection_manager().await {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("private redis-server on {port}: {e}"),
        }
    };
    let mut admin = conn.clone();
    let _: () = redis::cmd("SET")
        .arg(redis_keys::active_generation("down"))
        .arg(1)
        .query_async(&mut admin)
        .await
        .unwrap();
    let metrics = Arc::new(Metrics::new());
    let gate =
        GenerationGate::new(Some(conn.into()), "down", Some(2)).with_metrics(Arc::clone(&metrics));
    assert_eq!(
        gate.admit(EventId::Interaction(1)).await,
        Admission::OtherGeneration(1)
    );

    server.kill().await.unwrap();
    let _ = server.wait().await;
    for id in 2..5 {
        assert_eq!(
            gate.admit(EventId::Interaction(id)).await,
            Admission::HandleUnchecked
        );
    }
    assert_eq!(count(&metrics, "redis_unavailable"), 3);
    assert_eq!(count(&metrics, "other_generation"), 1);
}

/// A fleet not run by the operator (no generation configured) still claims every event, so
/// the replay after a RESUME from a session checkpoint is dropped, not handled twice; and
/// the active-generation key is never read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_generation_replays_are_dropped() {
    let cluster = unique_name("gate-nogen");
    let url = redis_url();
    // Another generation named active must not matter: there is no generation to check.
    set_active(&cluster, 7).await;
    let metrics = Arc::new(Metrics::new());
    let killed = GenerationGate::new(Some(manager(&url).await), &cluster, None)
        .with_metrics(Arc::clone(&metrics));
    let next = GenerationGate::new(Some(manager(&url).await), &cluster, None)
        .with_metrics(Arc::clone(&metrics));
    assert!(killed.is_enabled());
    let base = 1_400_000_000_000_000_000u64;
    for n in 0..20 {
        assert_eq!(
            killed.admit(EventId::Message(base + n)).await,
            Admission::Handle
        );
    }
    // The next process resumes from a checkpoint taken after event 9: 10..20 are replayed,
    // then new events follow.
    for n in 10..30 {
        let want = if n < 20 {
            Admission::Duplicate
        } else {
            Admission::Handle
        };
        assert_eq!(
            next.admit(EventId::Message(base + n)).await,
            want,
            "event {n}"
        );
    }
    assert_eq!(count(&metrics, "duplicate"), 10);
    assert_eq!(count(&metrics, "handled"), 30);
    delete_cluster(&cluster).await;
}

/// Claims made together share Redis round trips (one pipeline per batch, not one command per
/// event), and each still gets its own verdict: in a burst of 512 events of which every
/// other one was claimed before, exactly the new ones are handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_made_together_share_round_trips_and_keep_their_verdicts() {
    let cluster = unique_name("gate-pipe");
    let url = redis_url();
    set_active(&cluster, 1).await;
    let gate = Arc::new(GenerationGate::new(
        Some(manager(&url).await),
        &cluster,
        Some(1),
    ));
    let base = 1_500_000_000_000_000_000u64;
    // Every even event was handled before (a replay after RESUME).
    for n in (0..512).step_by(2) {
        assert_eq!(
            gate.admit(EventId::Message(base + n)).await,
            Admission::Handle
        );
    }
    let before = gate.claim_round_trips();
    let burst: Vec<_> = (0..512)
        .map(|n| {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { (n, gate.admit(EventId::Message(base + n)).await) })
        })
        .collect();
    for t in burst {
        let (n, verdict) = t.await.unwrap();
        let want = if n % 2 == 0 {
            Admission::Duplicate
        } else {
            Admission::Handle
        };
        assert_eq!(verdict, want, "event {n}");
    }
    let trips = gate.claim_round_trips() - before;
    assert!(
        trips < 64,
        "512 claims made together took {trips} round trips: they are not pipelined"
    );
    delete_cluster(&cluster).await;
}
