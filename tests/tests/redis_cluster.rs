//! Redis Cluster: the connection finds the cluster from one seed node, the scripts that touch
//! several keys run (their keys share the KyutaCluster's hash tag), and the operator's
//! cleanup finds every key of a deleted cluster on the node that holds it. The worker fleet
//! on the cluster is `worker_fleet::on_a_redis_cluster_…`.

use std::sync::Arc;

use kyuta_crds::contract::redis_keys;
use kyuta_tests::{redis_cluster_url, redis_conn, unique_name};
use kyuta_worker::automod::counters::{CounterKey, CounterOp, Subject};
use kyuta_worker::automod::{Counters, LocalCounters, RedisCounters};

/// The keys of `cluster` the node at `url` holds, scanned through a plain (non-cluster)
/// connection to that node.
async fn keys_on_node(url: &str, cluster: &str) -> Vec<String> {
    let mut node = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("Redis Cluster node {url}: {e}; start it with tests/env/up"));
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", redis_keys::cluster_prefix(cluster)))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut node)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// The three masters' URLs, from the seed's `CLUSTER NODES`.
async fn masters(seed: &str) -> Vec<String> {
    let mut node = redis::Client::open(seed)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("Redis Cluster node {seed}: {e}; start it with tests/env/up"));
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut node)
        .await
        .unwrap();
    nodes
        .lines()
        .filter(|l| l.contains("master"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|addr| format!("redis://{}", addr.split('@').next().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_and_cleanup_work_across_the_cluster_nodes() {
    let seed = redis_cluster_url();
    let mut conn = redis_conn(&seed).await;
    assert!(conn.is_cluster(), "{seed} is not a Redis Cluster");
    let nodes = masters(&seed).await;
    assert_eq!(nodes.len(), 3, "{nodes:?}");

    // Several bots: their keys spread over the nodes, each bot's keys on one node.
    let bots: Vec<String> = (0..12).map(|_| unique_name("cluster")).collect();
    let key = |guild, subject| CounterKey {
        guild_id: guild,
        rule: Arc::from("r"),
        subject,
    };
    for bot in &bots {
        let counters = RedisCounters::new(conn.clone(), bot);
        let local = LocalCounters::new();
        // One script run touches a window, a latch and its latch key, and a once-marker.
        let ops = vec![
            CounterOp::Window {
                key: key(5, Subject::User(7)),
                window_ms: 1000,
                weight: 1,
                event: 1,
            },
            CounterOp::Latch {
                key: key(5, Subject::Joins),
                window_ms: 1000,
                event: 2,
                threshold: 1,
                latch: key(5, Subject::Raid),
                hold_ms: 5000,
            },
            CounterOp::Once {
                key: key(5, Subject::Punished(7)),
                ttl_ms: 1000,
            },
        ];
        let now = 1_700_000_000_000;
        assert_eq!(
            counters
                .apply(&ops, now)
                .await
                .expect("the script runs on the cluster"),
            local.apply(&ops, now).await.unwrap(),
            "{bot}"
        );
    }
    let mut holders = std::collections::BTreeSet::new();
    for bot in &bots {
        let mut on = Vec::new();
        for node in &nodes {
            if !keys_on_node(node, bot).await.is_empty() {
                on.push(node.clone());
            }
        }
        assert_eq!(on.len(), 1, "{bot}'s keys are on one node: {on:?}");
        holders.insert(on.remove(0));
    }
    assert!(
        holders.len() > 1,
        "twelve bots' keys all landed on one node: {holders:?}"
    );

    // The operator's cleanup of a deleted cluster finds its keys wherever they are.
    for bot in &bots {
        let deleted = kyuta_operator::state::delete_cluster_keys(&mut conn, bot)
            .await
            .expect("cleanup on the cluster");
        assert!(deleted >= 3, "{bot}: {deleted} keys deleted");
        for node in &nodes {
            assert!(keys_on_node(node, bot).await.is_empty(), "{bot} on {node}");
        }
    }
}
