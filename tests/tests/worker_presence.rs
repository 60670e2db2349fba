//! Rich presence through the real `kyuta-worker` binary and the simulator's gateway: two
//! workers sharing Redis, one shard each, identify with the configured status and activity and
//! rotate through the list; `{guilds}` shows the guilds of the whole fleet, not one pod's.

use std::time::{Duration, Instant};

use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::worker::{SimControl, WorkerProcess, redis_forget_cluster, sim_worker_env};
use kyuta_tests::{redis_url, unique_name};
use serde_json::Value;

const TOKEN: &str = "presence-test-token-51c2";
const GUILDS: u64 = 7;

/// The activity a recorded presence shows: `(type, text)` (a custom status's text is its
/// `state`).
fn shown(p: &Value) -> Option<(u64, String)> {
    let a = p["presence"]["activities"].get(0)?;
    let kind = a["type"].as_u64()?;
    let text = if kind == 4 { &a["state"] } else { &a["name"] };
    Some((kind, text.as_str()?.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_show_and_rotate_the_configured_presence_with_fleet_figures() {
    let sim = Sim::start(SimConfig {
        token: TOKEN.into(),
        guilds: GUILDS,
        recommended_shards: 2,
        members_per_guild: 5,
        heartbeat_interval: Duration::from_millis(1000),
        identify_window: Duration::from_millis(500),
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator");
    let control = SimControl::new(sim.addr());
    let dir = tempfile::tempdir().unwrap();
    let cluster = unique_name("presence");

    let mut workers = Vec::new();
    for ordinal in 0..2u32 {
        let mut env = sim_worker_env(&sim, TOKEN, dir.path());
        env.insert("REDIS_URL".into(), redis_url());
        env.insert("KYUTA_CLUSTER".into(), cluster.clone());
        env.insert("KYUTA_IDENTIFY_WINDOW_MS".into(), "500".into());
        env.insert("KYUTA_SHARD_COUNT".into(), "2".into());
        env.insert("KYUTA_SHARDS_PER_POD".into(), "1".into());
        env.insert("KYUTA_POD_ORDINAL".into(), ordinal.to_string());
        env.insert(
            "KYUTA_STORE_PATH".into(),
            dir.path()
                .join(format!("kyuta-{ordinal}.redb"))
                .display()
                .to_string(),
        );
        env.insert(
            "KYUTA_PRESENCE".into(),
            "watching:{guilds} servers | custom:shard {shard}/{shards}".into(),
        );
        env.insert("KYUTA_PRESENCE_STATUS".into(), "dnd".into());
        env.insert("KYUTA_PRESENCE_INTERVAL_SECS".into(), "10".into());
        workers.push(WorkerProcess::spawn(
            &format!("w{ordinal}"),
            dir.path(),
            &env,
        ));
    }
    for w in &mut workers {
        w.wait_ready(Duration::from_secs(90)).await;
    }

    // Identified with the status and one of the activities.
    let at_identify = control.get("/presences").await;
    for shard in ["0/2", "1/2"] {
        let p = &at_identify[shard];
        assert_eq!(p["presence"]["status"], "dnd", "{at_identify}");
        assert!(shown(p).is_some(), "{at_identify}");
    }

    // Each shard goes through both activities; the count is the fleet's (7), though each
    // worker holds only its own shard's guilds.
    let want = |shard: u32| {
        [
            (3, format!("{GUILDS} servers")),
            (4, format!("shard {shard}/2")),
        ]
    };
    let mut seen: [Vec<(u64, String)>; 2] = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen
        .iter()
        .enumerate()
        .any(|(i, s)| want(i as u32).iter().any(|w| !s.contains(w)))
    {
        assert!(
            Instant::now() < deadline,
            "presences seen in 90 s: {seen:?}; wanted {:?} and {:?}",
            want(0),
            want(1)
        );
        let p = control.get("/presences").await;
        for (i, s) in seen.iter_mut().enumerate() {
            if let Some(a) = shown(&p[format!("{i}/2")])
                && !s.contains(&a)
            {
                s.push(a);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stats = control.stats().await;
    assert!(
        stats["presence_updates"].as_u64().unwrap_or(0) >= 2,
        "{stats}"
    );

    for mut w in workers {
        assert!(!w.logs().contains(TOKEN));
        w.sigterm();
        let status = w.wait_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "{status}");
    }
    redis_forget_cluster(&cluster).await;
    sim.shutdown().await;
}

/// The fleet's guild count is summed once per refresh for the whole fleet, not once per pod:
/// while the shared figure lives, pods read that one key (a changed shard load shows only
/// after it expires), and then one read sums the loads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_share_one_sum_of_the_fleet_guilds_per_refresh() {
    use kyuta_crds::contract::{load_fields, redis_keys};
    let cluster = unique_name("fleet-guilds");
    let client = redis::Client::open(redis_url().as_str()).unwrap();
    let mut conn: kyuta_redis::Conn = redis::aio::ConnectionManager::new(client)
        .await
        .expect("connect to Redis")
        .into();
    for shard in 0..8u32 {
        let () = redis::cmd("HSET")
            .arg(redis_keys::shard_load(&cluster, 8, shard))
            .arg(load_fields::GUILDS)
            .arg(10 + u64::from(shard))
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let ttl = Duration::from_millis(800);
    let sum = |c: &mut kyuta_redis::Conn| {
        let mut c = c.clone();
        let cluster = cluster.clone();
        async move {
            kyuta_worker::presence::shared_fleet_guilds(&mut c, &cluster, 8, ttl)
                .await
                .expect("Redis answers")
        }
    };
    assert_eq!(sum(&mut conn).await, 108);
    // Shard 0 gains guilds: the shared figure still says 108 until it expires.
    let () = redis::cmd("HSET")
        .arg(redis_keys::shard_load(&cluster, 8, 0))
        .arg(load_fields::GUILDS)
        .arg(110)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(sum(&mut conn).await, 108);
    let cached: Option<u64> = redis::cmd("GET")
        .arg(redis_keys::fleet_guilds(&cluster, 8))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(cached, Some(108));
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert_eq!(sum(&mut conn).await, 208);
    redis_forget_cluster(&cluster).await;
}
