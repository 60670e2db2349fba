//! The fleet-wide REST budget against the real Redis: several pods' budgets together never
//! let more than the limit through in any one-second window, across second boundaries too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kyuta_tests::{redis_url, unique_name};
use kyuta_worker::rest::{RedisBudget, RestBudget};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_share_fifty_per_second_in_any_window() {
    let cluster = unique_name("budget");
    let client = redis::Client::open(redis_url()).expect("REDIS_URL");
    let mut budgets = Vec::new();
    for _ in 0..3 {
        let conn = client
            .get_connection_manager()
            .await
            .expect("connect to Redis; start it with tests/env/up");
        budgets.push(Arc::new(RedisBudget::new(conn.into(), &cluster, 50, 3)));
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..180 {
        let b = Arc::clone(&budgets[i % 3]);
        tasks.push(tokio::spawn(async move {
            b.acquire().await.expect("budget");
            Instant::now()
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.push(t.await.unwrap());
    }
    times.sort();
    let mut busiest = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi].duration_since(times[lo]) >= Duration::from_secs(1) {
            lo += 1;
        }
        busiest = busiest.max(hi - lo + 1);
    }
    // Redis's clock orders the log and a grant holds its slot 1.05 s, so the tasks' own
    // clocks, which see each grant a moment after Redis gave it, see at most 50 too.
    let offs: Vec<u128> = times
        .iter()
        .map(|t| t.duration_since(start).as_millis())
        .collect();
    assert!(
        busiest <= 50,
        "{busiest} requests in one second (limit 50): {offs:?}"
    );
    assert!(
        busiest >= 45,
        "the budget should be used: {busiest} in the busiest second"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(2500),
        "180 at 50/s take over 2.5 s, took {:?}",
        start.elapsed()
    );
}
