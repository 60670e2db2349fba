//! Two `kyuta-worker` processes sharing Redis (and FerretDB) run 8 shards of the simulator:
//! identifies stay within the bucket rule, every guild reaches exactly one worker, a SIGTERM +
//! restart resumes with no new identify and no lost event, and stale saved sessions recover by
//! identifying.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use kyuta_crds::contract::redis_keys;
use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::worker::{
    GuildCast, SimControl, WorkerProcess, metric_samples, shard_of, sim_worker_env,
};
use kyuta_tests::{
    mongo_client, mongo_uri, redis_cluster_url, redis_conn, redis_forget_keys, redis_url,
    unique_name,
};
use serde_json::{Value, json};

const TOKEN: &str = "fleet-test-token-6f1d2c";
const WINDOW_MS: u64 = 2000;
const MAX_CONCURRENCY: u32 = 2;
const READY: Duration = Duration::from_secs(90);

async fn sim(shards: u32, guilds: u64) -> Sim {
    Sim::start(SimConfig {
        token: TOKEN.into(),
        guilds,
        members_per_guild: 6,
        recommended_shards: shards,
        max_concurrency: MAX_CONCURRENCY,
        identify_window: Duration::from_millis(WINDOW_MS),
        heartbeat_interval: Duration::from_millis(1000),
        // Routes without a limit of their own (GET /users/@me, /applications/@me, command
        // registration, member reads; 5 per window by default) get 50: the workers of one test
        // call them more often than one bot at rest would. The routes Discord limits on their
        // own (messages, bans, member edits, DMs) keep their real limits.
        route_limit: 50,
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator")
}

/// Environment of a worker of `cluster` against `sim`, sharing Redis and a FerretDB database.
fn fleet_env(
    sim: &Sim,
    dir: &Path,
    redis: &str,
    cluster: &str,
    database: &str,
    ordinal: Option<u32>,
) -> BTreeMap<String, String> {
    let mut env = sim_worker_env(sim, TOKEN, dir);
    env.insert("REDIS_URL".into(), redis.into());
    env.insert("MONGO_URI".into(), mongo_uri());
    env.insert("KYUTA_MONGO_DATABASE".into(), database.into());
    env.insert("KYUTA_CLUSTER".into(), cluster.into());
    env.insert("KYUTA_IDENTIFY_WINDOW_MS".into(), WINDOW_MS.to_string());
    env.insert(
        "KYUTA_LOG_LEVEL".into(),
        "kyuta_worker=debug,twilight_gateway=debug,twilight_http=debug,info".into(),
    );
    if let Some(ordinal) = ordinal {
        env.insert("KYUTA_SHARDS_PER_POD".into(), "4".into());
        env.insert("KYUTA_POD_ORDINAL".into(), ordinal.to_string());
    }
    env
}

/// Accepted identifies as (shard, unix ms).
fn identifies(stats: &Value) -> Vec<(u32, u64)> {
    stats["identifies"]
        .as_array()
        .expect("identifies in the stats")
        .iter()
        .map(|r| {
            (
                r["shard"][0].as_u64().unwrap() as u32,
                r["at_ms"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Asserts Discord's bucket rule over the simulator's identify log: within a bucket
/// (`shard % max_concurrency`) consecutive identifies are a window apart (less the
/// simulator's own tolerance for network jitter, a tenth of the window), and none was refused.
fn assert_bucket_rule(stats: &Value) {
    assert_eq!(
        stats["identifies_refused"],
        json!(0),
        "identifies refused by the simulator: {}; accepted: {}",
        stats["refused_identifies"],
        stats["identifies"]
    );
    let tolerance = WINDOW_MS / 10;
    let mut by_bucket: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (shard, at) in identifies(stats) {
        by_bucket
            .entry(shard % MAX_CONCURRENCY)
            .or_default()
            .push(at);
    }
    for (bucket, mut times) in by_bucket {
        times.sort_unstable();
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] + tolerance >= WINDOW_MS,
                "bucket {bucket}: identifies {} ms apart (window {WINDOW_MS} ms): {times:?}",
                pair[1] - pair[0]
            );
        }
    }
}

/// `kyuta_shard_guilds` of a worker, by shard.
async fn guilds_by_shard(w: &WorkerProcess) -> BTreeMap<u32, u64> {
    metric_samples(&w.metrics().await, "kyuta_shard_guilds")
        .into_iter()
        .map(|(l, v)| (l["shard"].parse().unwrap(), v as u64))
        .collect()
}

/// `kyuta_gateway_events_total` of one event type, by shard.
async fn events_by_shard(w: &WorkerProcess, event: &str) -> BTreeMap<u32, u64> {
    metric_samples(&w.metrics().await, "kyuta_gateway_events_total")
        .into_iter()
        .filter(|(l, _)| l["event"] == event)
        .map(|(l, v)| (l["shard"].parse().unwrap(), v as u64))
        .collect()
}

fn assert_no_token(w: &WorkerProcess) {
    let logs = w.logs();
    assert!(!logs.is_empty(), "worker {} logged nothing", w.name);
    assert!(
        !logs.contains(TOKEN),
        "the token appears in the output of worker {}",
        w.name
    );
}

async fn cleanup(redis: &str, cluster: &str, database: &str) {
    redis_forget_keys(&mut redis_conn(redis).await, cluster).await;
    let _ = mongo_client().await.database(database).drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_split_eight_shards_and_a_restart_resumes_without_identifying() {
    split_and_restart(&redis_url(), unique_name("fleet")).await;
}

/// A cluster name whose keys live on another node than `url`'s, so a worker that talked to
/// the seed node alone (not as a cluster client) would get MOVED for every key.
async fn cluster_name_away_from(url: &str) -> String {
    let mut seed = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("Redis Cluster node {url}: {e}; start it with tests/env/up"));
    loop {
        let name = unique_name("fleet");
        let probe = format!("{}probe", redis_keys::cluster_prefix(&name));
        let set: redis::RedisResult<()> = redis::cmd("SET")
            .arg(&probe)
            .arg(1)
            .query_async(&mut seed)
            .await;
        match set {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::Moved) => {
                return name;
            }
            Err(e) => panic!("probing {url}: {e}"),
            Ok(()) => {
                let _: i64 = redis::cmd("DEL")
                    .arg(&probe)
                    .query_async(&mut seed)
                    .await
                    .unwrap();
            }
        }
    }
}

/// The same fleet on a three-master Redis Cluster: identify locks and budget, leases and
/// hand-offs, saved sessions, the generation gate and the load all work across its nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_two_workers_split_eight_shards_and_a_restart_resumes() {
    let url = redis_cluster_url();
    assert!(
        redis_conn(&url).await.is_cluster(),
        "REDIS_CLUSTER_URL ({url}) is not a Redis Cluster; tests/env/up starts one"
    );
    let cluster = cluster_name_away_from(&url).await;
    split_and_restart(&url, cluster).await;
}

async fn split_and_restart(redis_url: &str, cluster: String) {
    const TOTAL: u32 = 8;
    const GUILDS: u64 = 48;
    let sim = sim(TOTAL, GUILDS).await;
    let control = SimControl::new(sim.addr());
    let database = unique_name("fleet").replace('-', "_");
    let dir = tempfile::tempdir().unwrap();
    let env_a = fleet_env(&sim, dir.path(), redis_url, &cluster, &database, Some(0));
    let env_b = fleet_env(&sim, dir.path(), redis_url, &cluster, &database, Some(1));

    let mut a = WorkerProcess::spawn("a", dir.path(), &env_a);
    let mut b = WorkerProcess::spawn("b", dir.path(), &env_b);
    a.wait_ready(READY).await;
    b.wait_ready(READY).await;

    // Identifies: one per shard, paced per bucket across both processes.
    let stats = control.stats().await;
    let ids = identifies(&stats);
    let shards: BTreeSet<u32> = ids.iter().map(|(s, _)| *s).collect();
    assert_eq!(ids.len(), TOTAL as usize, "one identify per shard: {ids:?}");
    assert_eq!(shards, (0..TOTAL).collect(), "{ids:?}");
    assert_bucket_rule(&stats);

    // Every guild delivered once, to the worker owning its shard. GUILD_CREATEs stream after
    // READY, so /ready can come before the last of them.
    let end = std::time::Instant::now() + Duration::from_secs(20);
    let mut stats = stats;
    while stats["guilds_delivered"] != json!(GUILDS) && std::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stats = control.stats().await;
    }
    assert_eq!(stats["guilds_delivered"], json!(GUILDS), "{stats}");
    assert_eq!(
        stats["guilds_delivered_more_than_once"],
        json!(0),
        "{stats}"
    );
    let mut expected: BTreeMap<u32, u64> = (0..TOTAL).map(|s| (s, 0)).collect();
    for n in 0..GUILDS {
        *expected
            .get_mut(&shard_of(sim.world().guild_id(n), TOTAL))
            .unwrap() += 1;
    }
    let (want_a, want_b): (BTreeMap<u32, u64>, BTreeMap<u32, u64>) = (
        expected.range(0..4).map(|(k, v)| (*k, *v)).collect(),
        expected.range(4..8).map(|(k, v)| (*k, *v)).collect(),
    );
    let mut ga = guilds_by_shard(&a).await;
    let mut gb = guilds_by_shard(&b).await;
    while (ga != want_a || gb != want_b) && std::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ga = guilds_by_shard(&a).await;
        gb = guilds_by_shard(&b).await;
    }
    assert_eq!(ga, want_a, "worker a");
    assert_eq!(gb, want_b, "worker b");

    // Worker b stops on SIGTERM, saving its four sessions in Redis.
    b.sigterm();
    let status = b.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "worker b exited with {status}");
    let mut redis = redis_conn(redis_url).await;
    for shard in 4..TOTAL {
        let key = redis_keys::session(&cluster, TOTAL, shard);
        let saved: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(
            saved.is_some(),
            "no saved session at {key}; logs:\n{}",
            b.logs()
        );
    }

    // While b is down, on each of its shards a member joins and another runs k!ping.
    let mut pings = Vec::new();
    for shard in 4..TOTAL {
        let guild = (0..GUILDS)
            .map(|n| sim.world().guild_id(n))
            .find(|g| shard_of(*g, TOTAL) == shard)
            .unwrap_or_else(|| panic!("no guild on shard {shard}"));
        let cast = GuildCast::of(&sim, guild);
        control
            .post(
                &format!("/guilds/{guild}/members"),
                json!({"username": format!("late_joiner_{shard}")}),
            )
            .await;
        let msg = control
            .post_message(cast.general, cast.members[0], "k!ping")
            .await;
        pings.push((cast.general, msg["id"].as_str().unwrap().to_owned()));
    }

    // Restarted, b resumes all four sessions: no new identify, the missed events replayed.
    let mut b = WorkerProcess::spawn("b", dir.path(), &env_b);
    b.wait_ready(READY).await;
    let stats = control.stats().await;
    assert_eq!(
        identifies(&stats).len(),
        TOTAL as usize,
        "the restart identified again: {:?}",
        identifies(&stats)
    );
    for shard in 4..TOTAL {
        assert_eq!(
            stats["resumes_per_shard"][shard.to_string()],
            json!(1),
            "shard {shard}: {}",
            stats["resumes_per_shard"]
        );
    }
    for (channel, id) in &pings {
        let reply = control
            .wait_reply(*channel, id, Duration::from_secs(20))
            .await;
        assert!(
            kyuta_tests::worker::shown_text(&reply).contains("Pong!"),
            "{reply}"
        );
    }
    let joins = events_by_shard(&b, "GUILD_MEMBER_ADD").await;
    assert_eq!(
        joins,
        (4..TOTAL).map(|s| (s, 1)).collect(),
        "each shard got its missed GUILD_MEMBER_ADD exactly once"
    );
    // a kept its sessions throughout.
    a.wait_ready(Duration::from_secs(5)).await;
    assert_eq!(
        guilds_by_shard(&b).await,
        gb,
        "b's shards still hold their guilds"
    );

    for w in [&a, &b] {
        assert_no_token(w);
    }
    a.sigterm();
    b.sigterm();
    assert!(a.wait_exit(Duration::from_secs(30)).await.success());
    assert!(b.wait_exit(Duration::from_secs(30)).await.success());
    cleanup(redis_url, &cluster, &database).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_saved_sessions_recover_by_identifying() {
    const TOTAL: u32 = 4;
    let sim = sim(TOTAL, 16).await;
    let control = SimControl::new(sim.addr());
    let cluster = unique_name("stale");
    let database = unique_name("stale").replace('-', "_");
    let dir = tempfile::tempdir().unwrap();
    let env = fleet_env(&sim, dir.path(), &redis_url(), &cluster, &database, None);

    let mut w = WorkerProcess::spawn("w", dir.path(), &env);
    w.wait_ready(READY).await;
    assert_eq!(identifies(&control.stats().await).len(), TOTAL as usize);
    w.sigterm();
    assert!(w.wait_exit(Duration::from_secs(30)).await.success());

    // Shard 0: a session the gateway never knew; shard 1: a sequence ahead of the session
    // (close 4007); shard 2: untouched (resumes); shard 3: a session invalidated in the
    // simulator since (sessions expire there after `session_ttl`; an unknown id is the same).
    let mut redis = redis_conn(&redis_url()).await;
    for shard in [0, 1, 3] {
        let key = redis_keys::session(&cluster, TOTAL, shard);
        let raw: String = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap_or_else(|e| panic!("saved session {key}: {e}; logs:\n{}", w.logs()));
        let mut s: Value = serde_json::from_str(&raw).unwrap();
        if shard == 1 {
            s["sequence"] = json!(s["sequence"].as_u64().unwrap() + 1_000);
        } else {
            s["session_id"] = json!(format!("gone-{shard}"));
        }
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(s.to_string())
            .arg("EX")
            .arg(60)
            .query_async(&mut redis)
            .await
            .unwrap();
    }

    let mut w = WorkerProcess::spawn("w", dir.path(), &env);
    w.wait_ready(READY).await;
    let stats = control.stats().await;
    let ids = identifies(&stats);
    let new: Vec<u32> = ids[TOTAL as usize..].iter().map(|(s, _)| *s).collect();
    assert_eq!(
        new.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([0, 1, 3]),
        "exactly the stale shards identified again: {ids:?}"
    );
    assert_eq!(new.len(), 3, "{ids:?}");
    assert_eq!(stats["resumes_per_shard"], json!({"2": 1}), "{stats}");
    assert_bucket_rule(&stats);
    assert_no_token(&w);
    w.sigterm();
    assert!(w.wait_exit(Duration::from_secs(30)).await.success());
    cleanup(&redis_url(), &cluster, &database).await;
    sim.shutdown().await;
}
