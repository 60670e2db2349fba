//! Cases created per second on each store: one writer, then 8 concurrent writers in one guild.
//!
//! `cargo bench -p kyuta-worker --bench store` — the embedded store runs in a temporary file;
//! the MongoDB store runs when `MONGO_URI` is set (a fresh database, dropped afterwards).
//! Also: the time `count_cases` (escalation's warn count) and a 25-case `list_cases` page take
//! once a guild holds those cases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kyuta_worker::store::{
    ActionKind, CaseFilter, EmbeddedStore, MongoOptions, MongoStore, NewCase, Store, Timestamp,
};

const GUILD: u64 = 100_000_000_000_000_001;
const SEQUENTIAL: u64 = 1_000;
const TASKS: u64 = 8;
const PER_TASK: u64 = 250;

fn case(n: u64, user: u64) -> NewCase {
    NewCase::new(GUILD, format!("bench-{n}"), ActionKind::Warn, user, 42).reason("benchmark")
}

async fn run(name: &str, store: Arc<dyn Store>) {
    let start = Instant::now();
    for n in 0..SEQUENTIAL {
        store
            .create_case(case(n, n % 50))
            .await
            .expect("create_case");
    }
    let seq = start.elapsed();

    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let n = SEQUENTIAL + t * PER_TASK + i;
                store
                    .create_case(case(n, n % 50))
                    .await
                    .expect("create_case");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let conc = start.elapsed();
    let total = SEQUENTIAL + TASKS * PER_TASK;

    let page = store
        .list_cases(GUILD, &CaseFilter::default(), 0, 100)
        .await
        .expect("list");
    assert_eq!(page.total, total, "every case stored");
    assert_eq!(page.cases[0].number, total, "gap-free numbers");

    let start = Instant::now();
    let reps = 50;
    for _ in 0..reps {
        store
            .count_cases(GUILD, 7, ActionKind::Warn, Timestamp::from_unix_millis(0))
            .await
            .expect("count");
    }
    let count = start.elapsed() / reps;
    let start = Instant::now();
    for p in 0..reps {
        store
            .list_cases(GUILD, &CaseFilter::default(), p % 10, 25)
            .await
            .expect("list");
    }
    let list = start.elapsed() / reps;

    let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{name:9} sequential: {:8.0} cases/s ({SEQUENTIAL} cases in {seq:.2?})",
        rate(SEQUENTIAL, seq)
    );
    println!(
        "{name:9} {TASKS} writers:  {:8.0} cases/s ({} cases in {conc:.2?})",
        rate(TASKS * PER_TASK, conc),
        TASKS * PER_TASK
    );
    println!(
        "{name:9} count_cases (user with {} cases): {count:.2?}; list_cases page of 25: {list:.2?}",
        total / 50
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let embedded = EmbeddedStore::open(dir.path().join("bench.redb"))
        .await
        .expect("open embedded store");
    run("embedded", Arc::new(embedded)).await;

    match std::env::var("MONGO_URI") {
        Ok(uri) if !uri.is_empty() => {
            let db = format!("kyuta_bench_{}", std::process::id());
            let store = MongoStore::connect(MongoOptions::new(uri).database(db))
                .await
                .expect("connect to MONGO_URI");
            run("mongodb", Arc::new(store.clone())).await;
            store.database().drop().await.expect("drop bench database");
        }
        _ => println!("mongodb   not measured: set MONGO_URI to include it"),
    }
}
