//! Smoke test: the test environment's Redis answers through the `redis` crate, and its atomic
//! operations (without Lua) behave as the worker relies on.

use kyuta_tests::{redis_connection, unique_name};
use redis::AsyncCommands;

#[tokio::test]
async fn ping_answers_pong() {
    let mut con = redis_connection().await;
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn set_nx_px_takes_a_lock_once() {
    let mut con = redis_connection().await;
    let key = unique_name("kyuta-smoke-lock");
    let first: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg("owner-a")
        .arg("NX")
        .arg("PX")
        .arg(30_000)
        .query_async(&mut con)
        .await
        .unwrap();
    let second: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg("owner-b")
        .arg("NX")
        .arg("PX")
        .arg(30_000)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(first.as_deref(), Some("OK"), "first SET NX takes the lock");
    assert_eq!(second, None, "second SET NX must not take a held lock");
    let owner: String = con.get(&key).await.unwrap();
    assert_eq!(owner, "owner-a");
    let ttl: i64 = con.pttl(&key).await.unwrap();
    assert!(
        ttl > 0 && ttl <= 30_000,
        "lock has its expiry, got {ttl} ms"
    );
    let _: () = con.del(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_incr_loses_no_update() {
    let key = unique_name("kyuta-smoke-counter");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut con = redis_connection().await;
            for _ in 0..50 {
                let _: i64 = con.incr(&key, 1).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut con = redis_connection().await;
    let total: i64 = con.get(&key).await.unwrap();
    assert_eq!(total, 400);
    let _: () = con.del(&key).await.unwrap();
}

#[tokio::test]
async fn multi_exec_applies_all_commands_together() {
    let mut con = redis_connection().await;
    let hash = unique_name("kyuta-smoke-hash");
    let counter = unique_name("kyuta-smoke-n");
    let (n, fields): (i64, i64) = redis::pipe()
        .atomic()
        .incr(&counter, 5)
        .hset(&hash, "shard", 3)
        .ignore()
        .hlen(&hash)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((n, fields), (5, 1));
    let _: () = con.del(&[&hash, &counter]).await.unwrap();
}
