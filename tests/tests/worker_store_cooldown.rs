//! Cooldown stores: the in-process one and the Redis one (on the test environment's Redis).

use std::sync::Arc;
use std::time::Duration;

use kyuta_worker::cache::{CooldownError, CooldownStore, InProcessCooldowns, RedisCooldowns};

fn cluster(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("cdtest-{test}-{}-{nanos}", std::process::id())
}

async fn contract(a: Arc<dyn CooldownStore>, b: Arc<dyn CooldownStore>) {
    let period = Duration::from_millis(600);
    assert_eq!(
        a.try_start("ban", 1, period).await.unwrap(),
        None,
        "first use runs"
    );
    let left = b
        .try_start("ban", 1, period)
        .await
        .unwrap()
        .expect("on cooldown");
    assert!(left > Duration::ZERO && left <= period, "{left:?}");
    assert_eq!(
        a.try_start("ban", 2, period).await.unwrap(),
        None,
        "per user"
    );
    assert_eq!(
        a.try_start("kick", 1, period).await.unwrap(),
        None,
        "per command"
    );
    tokio::time::sleep(period + Duration::from_millis(100)).await;
    assert_eq!(
        b.try_start("ban", 1, period).await.unwrap(),
        None,
        "expired"
    );

    // Many concurrent invocations: exactly one starts the cooldown.
    let mut handles = Vec::new();
    for i in 0..30 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            s.try_start("warn", 7, Duration::from_secs(30)).await
        }));
    }
    let mut started = 0;
    for h in handles {
        if h.await.unwrap().unwrap().is_none() {
            started += 1;
        }
    }
    assert_eq!(started, 1);

    let err = a.try_start("ban", 1, Duration::ZERO).await.unwrap_err();
    assert!(matches!(err, CooldownError::InvalidPeriod(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_process_cooldowns() {
    let s: Arc<dyn CooldownStore> = Arc::new(InProcessCooldowns::new());
    contract(s.clone(), s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cooldowns_shared_by_two_pods() {
    let url = kyuta_tests::redis_url();
    let cluster = cluster("shared");
    let a = RedisCooldowns::connect(&url, cluster.clone())
        .await
        .unwrap();
    let b = RedisCooldowns::connect(&url, cluster.clone())
        .await
        .unwrap();
    contract(Arc::new(a), Arc::new(b)).await;
    // The key layout is the contract's.
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = kyuta_crds::contract::redis_keys::cooldown(&cluster, "warn", 7);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 30_000, "ttl {ttl}");
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_down_is_an_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let start = std::time::Instant::now();
    let err = RedisCooldowns::connect(&format!("redis://127.0.0.1:{port}"), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, CooldownError::Unavailable(_)), "{err}");
    assert_eq!(err.metric_label(), "unavailable");
    assert!(start.elapsed() < Duration::from_secs(10));
}
