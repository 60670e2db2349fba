//! Automod counters in the real Redis: the same semantics as the in-process counters, and
//! two workers sharing per-member windows and raid mode across a restart.

use std::sync::Arc;

use kyuta_crds::contract::redis_keys;
use kyuta_worker::automod::counters::{CounterKey, CounterOp, Subject};
use kyuta_worker::automod::{
    Action, AutomodConfig, Counters, Engine, GuildRules, LocalCounters, MemberContext,
    MessageContext, RedisCounters,
};
use serde_json::json;

const BASE_MS: u64 = 1_704_067_200_000;

fn cluster(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("automod-{name}-{}-{nanos}", std::process::id())
}

async fn redis(cluster: &str) -> RedisCounters {
    RedisCounters::connect(&kyuta_tests::redis_url(), cluster)
        .await
        .expect("Redis reachable at REDIS_URL")
}

/// Deletes every key of a test cluster.
async fn cleanup(cluster: &str) {
    let client = redis::Client::open(kyuta_tests::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", redis_keys::cluster_prefix(cluster)))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

fn key(subject: Subject) -> CounterKey {
    CounterKey {
        guild_id: 5,
        rule: Arc::from("r"),
        subject,
    }
}

/// One scripted sequence of operations; Redis and the in-process counters must agree.
fn script() -> Vec<(u64, Vec<CounterOp>)> {
    let w = |event, weight| CounterOp::Window {
        key: key(Subject::User(7)),
        window_ms: 1000,
        weight,
        event,
    };
    let l = |event| CounterOp::Latch {
        key: key(Subject::Joins),
        window_ms: 1000,
        event,
        threshold: 3,
        latch: key(Subject::Raid),
        hold_ms: 5000,
    };
    let o = || CounterOp::Once {
        key: key(Subject::Punished(7)),
        ttl_ms: 1000,
    };
    let t = BASE_MS;
    vec![
        (t, vec![w(1, 1), l(100)]),
        (t + 500, vec![w(2, 3), l(101), o()]),
        (t + 600, vec![w(2, 3), l(101), o()]),
        (t + 700, vec![l(102)]),
        (t + 1000, vec![w(3, 1), l(103)]),
        (t + 1600, vec![w(4, 0), o()]),
        (t + 4000, vec![l(104)]),
        (t + 5800, vec![l(105)]),
    ]
}

#[tokio::test]
async fn redis_counters_agree_with_in_process_counters() {
    let cl = cluster("agree");
    let r = redis(&cl).await;
    let local = LocalCounters::new();
    for (now, ops) in script() {
        let a = local.apply(&ops, now).await.unwrap();
        let b = r.apply(&ops, now).await.unwrap();
        assert_eq!(a, b, "at {now}: {ops:?}");
    }
    // The keys follow the contract's layout.
    let client = redis::Client::open(kyuta_tests::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("kyuta:{{{cl}}}:automod:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    keys.sort();
    assert!(
        keys.contains(&format!("kyuta:{{{cl}}}:automod:5:r:user:7")),
        "{keys:?}"
    );
    assert!(
        keys.contains(&format!("kyuta:{{{cl}}}:automod:5:r:joins")),
        "{keys:?}"
    );
    // Every key expires on its own.
    for k in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0, "{k} has no expiry ({ttl})");
    }
    cleanup(&cl).await;
}

fn id_at(ms: u64, seq: u64) -> u64 {
    kyuta_worker::snowflake::at_ms(BASE_MS + ms, seq)
}

fn rules() -> GuildRules {
    let cfg = json!({"enabled": true, "revision": 1, "rules": [
        {"name": "rate", "kind": {"type": "message_rate", "count": 4, "within_secs": 10},
         "actions": [{"type": "delete"}, {"type": "timeout", "secs": 600}]},
        {"name": "raid", "kind": {"type": "join_rate", "count": 4, "within_secs": 10, "calm_secs": 60},
         "actions": [{"type": "kick"}, {"type": "alert"}]}
    ]});
    GuildRules::compile(&AutomodConfig::from_json(&cfg).unwrap()).unwrap()
}

#[tokio::test]
async fn two_workers_share_windows_and_raid_mode_across_a_restart() {
    let cl = cluster("share");
    let rules = rules();
    let engine = Engine::new();
    let guild = 77;
    let user = 4242;
    let message = |ms, seq| MessageContext::new(guild, 1, id_at(ms, seq), user, "hello");

    // Worker A sees two messages, worker B one (the guild moved during a reshard).
    let a = redis(&cl).await;
    let b = redis(&cl).await;
    assert!(engine.evaluate(&rules, &message(0, 1), &a).await.is_empty());
    assert!(
        engine
            .evaluate(&rules, &message(1000, 2), &a)
            .await
            .is_empty()
    );
    assert!(
        engine
            .evaluate(&rules, &message(2000, 3), &b)
            .await
            .is_empty()
    );
    // A redelivery of message 3 on worker A does not count twice.
    assert!(
        engine
            .evaluate(&rules, &message(2000, 3), &a)
            .await
            .is_empty()
    );
    // Both restart: new processes, new connections, same Redis.
    drop((a, b));
    let a2 = redis(&cl).await;
    let v = engine.evaluate(&rules, &message(3000, 4), &a2).await;
    assert_eq!(
        v.len(),
        1,
        "the fourth message within 10 s fires after the restart"
    );
    assert_eq!(v[0].evidence.count, Some(4));
    assert_eq!(
        v[0].actions,
        [Action::Delete, Action::Timeout { secs: 600 }]
    );
    // The fifth, on another worker, is deleted but the member is not timed out twice.
    let b2 = redis(&cl).await;
    let v = engine.evaluate(&rules, &message(3500, 5), &b2).await;
    assert_eq!(v[0].actions, [Action::Delete]);

    // Raid: joins alternate between the two workers; the fourth starts raid mode.
    let join = |n: u64, ms: u64| MemberContext {
        guild_id: guild,
        user_id: id_at(0, 0) - ((400 * 86_400_000u64) << 22) + n,
        is_bot: false,
        username: "joiner",
        global_name: None,
        nick: None,
        joined_at_ms: BASE_MS + ms,
    };
    let workers = [&a2, &b2];
    let mut started = Vec::new();
    for n in 0..4u64 {
        let v = engine
            .evaluate_join(&rules, &join(n, n * 100), workers[(n % 2) as usize])
            .await;
        started.push(v.first().is_some_and(|v| v.evidence.raid_started));
        assert_eq!(v.is_empty(), n < 3, "join {n}: {v:?}");
    }
    assert_eq!(started, [false, false, false, true]);
    // Raid mode outlives a restart of both workers: a slow joiner 30 s later is still kicked,
    // and nobody is alerted again.
    drop((a2, b2));
    let c = redis(&cl).await;
    let v = engine.evaluate_join(&rules, &join(10, 30_000), &c).await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].actions, [Action::Kick]);
    assert!(!v[0].evidence.raid_started);
    // It calms down 60 s after the last burst.
    assert!(
        engine
            .evaluate_join(&rules, &join(11, 61_000), &c)
            .await
            .is_empty()
    );
    cleanup(&cl).await;
}
