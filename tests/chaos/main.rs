//! The chaos suite: the real fleet (worker processes, the simulator, Redis, FerretDB) under
//! faults, with invariants checked all along. Run it with `tests/chaos/run` (it prints the
//! table); `KYUTA_CHAOS_PROFILE=soak tests/chaos/run` runs the long soak. See
//! `docs/reliability.md`.

#![allow(missing_docs)]

mod checker;
mod fleet;
mod kube_fleet;
mod moderation;
mod operator_scenarios;
mod procs;
mod proxy;

use std::time::Duration;

use checker::Checker;
use fleet::{Fleet, FleetSpec};
use proxy::Mode;

/// How long the scenarios run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Fits CI (`short`, the CI set of scenarios, or `full`, every scenario).
    Short,
    /// The long soak (`KYUTA_CHAOS_PROFILE=soak`).
    Soak,
}

impl Profile {
    /// Its name in the table.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Short => "short",
            Self::Soak => "soak",
        }
    }

    /// `short` stretched for the soak.
    #[must_use]
    pub fn scale(self, short: Duration) -> Duration {
        match self {
            Self::Short => short,
            Self::Soak => short * 10,
        }
    }
}

/// The profile of this run.
#[must_use]
pub fn profile() -> Profile {
    match std::env::var("KYUTA_CHAOS_PROFILE").as_deref() {
        Ok("soak") => Profile::Soak,
        Ok("short" | "full") | Err(_) => Profile::Short,
        Ok(other) => panic!("KYUTA_CHAOS_PROFILE={other}: use short, full or soak"),
    }
}

fn two_pods() -> FleetSpec {
    FleetSpec {
        shards: 4,
        per_pod: 2,
        guilds: 40,
        mongo: false,
    }
}

/// One pod running all 4 shards (the old layout of a roll to 2 per pod).
fn one_pod() -> FleetSpec {
    FleetSpec {
        shards: 4,
        per_pod: 4,
        guilds: 40,
        mongo: false,
    }
}

const PING_EVERY: Duration = Duration::from_millis(500);

/// Checks that each shard identified once, at the start: every later move was a RESUME.
fn check_only_first_identifies(row: &mut checker::Row, name: &str, shards: u32) {
    let identifies = row.figures["identifies"].as_u64().unwrap_or(0);
    row.check(
        name,
        identifies == u64::from(shards),
        format!("{identifies} identifies for {shards} shards: a move must RESUME"),
    );
}

/// Redis stops answering (SIGSTOP) for `secs`, then answers again. Every shard must have a
/// session again within 15 s of Redis answering, and the bot must answer `/ping`.
async fn redis_stall(name: &str, secs: u64) {
    let mut fleet = Fleet::start(name, two_pods()).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(3)).await;
    fleet.redis.stall();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    fleet.redis.resume();
    let back = checker.wait_all_served(Duration::from_secs(30)).await;
    // Observe the fleet after the fault for a while: nothing may fall over late.
    tokio::time::sleep(profile().scale(Duration::from_secs(20))).await;
    let mut row = checker.finish(name, &fleet).await;
    row.figure(
        "reconnected_after_s",
        back.map_or(serde_json::Value::Null, |d| {
            serde_json::json!((d.as_secs_f64() * 10.0).round() / 10.0)
        }),
    );
    row.check(
        "served_within_15s_of_redis",
        back.is_some_and(|d| d <= Duration::from_secs(15)),
        format!("every shard connected again after {back:?}"),
    );
    fleet.wait_ready(Duration::from_secs(15)).await;
    fleet.stop().await;
    row.report();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stalls_15s() {
    redis_stall("redis_stall_15s", 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stalls_60s() {
    redis_stall("redis_stall_60s", 60).await;
}

/// Redis is killed and comes back empty (no persistence): leases, sessions, the identify
/// budget and the REST window are gone at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarts_empty() {
    let name = "redis_restart_empty";
    let mut fleet = Fleet::start(name, two_pods()).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(3)).await;
    fleet.redis.restart_empty().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // A shard whose session Discord ends must identify: the identify budget, gone with
    // Redis's data, has to come back as Discord counts it, not as a process read it at start.
    let control = kyuta_tests::worker::SimControl::new(fleet.sim.addr());
    control
        .fault(serde_json::json!({"kind": "invalidate_session", "resumable": false, "shard": 0}))
        .await;
    tokio::time::sleep(profile().scale(Duration::from_secs(15))).await;
    let mut row = checker.finish(name, &fleet).await;
    let remaining = control.stats().await["session_start_remaining"]
        .as_u64()
        .unwrap_or(0);
    // Every shard's lease is held again.
    let mut conn = fleet.redis.connection().await.expect("Redis answers");
    let mut held = 0;
    for shard in 0..fleet.spec.shards {
        let key =
            kyuta_crds::contract::redis_keys::shard_owner(&fleet.cluster, fleet.spec.shards, shard);
        let v: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("GET the lease");
        held += u32::from(v.is_some());
    }
    let budget: Option<u64> = redis::cmd("GET")
        .arg(kyuta_crds::contract::redis_keys::identify_budget(
            &fleet.cluster,
        ))
        .query_async(&mut conn)
        .await
        .expect("GET the identify budget");
    row.figure("identify_budget_after", serde_json::json!(budget));
    row.check(
        "identify_budget_from_discord",
        budget == Some(remaining),
        format!("budget in Redis {budget:?}, Discord's session starts remaining {remaining}"),
    );
    row.figure("leases_held_after", serde_json::json!(held));
    row.check(
        "leases_taken_again",
        held == fleet.spec.shards,
        format!(
            "{held} of {} leases held after the restart",
            fleet.spec.shards
        ),
    );
    fleet.stop().await;
    row.report();
}

/// One pod cannot reach Redis (its proxy holds every byte) for a while, then its connections
/// are cut and it reconnects; the other pod is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_from_one_pod() {
    let name = "redis_partition_one_pod";
    let mut fleet = Fleet::start(name, two_pods()).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(3)).await;
    fleet.pods[0].redis_proxy.set(Mode::Blackhole);
    tokio::time::sleep(profile().scale(Duration::from_secs(20))).await;
    fleet.pods[0].redis_proxy.cut();
    fleet.pods[0].redis_proxy.set(Mode::Refuse);
    tokio::time::sleep(Duration::from_secs(5)).await;
    fleet.pods[0]
        .redis_proxy
        .set(Mode::Delay(Duration::from_millis(300)));
    tokio::time::sleep(Duration::from_secs(5)).await;
    fleet.pods[0].redis_proxy.set(Mode::Pass);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let row = checker.finish(name, &fleet).await;
    fleet.wait_ready(Duration::from_secs(15)).await;
    fleet.stop().await;
    row.report();
}

/// A pod is SIGKILLed every 5 s for a minute (each in turn) and restarted at once under the
/// same name, as a kubelet does. The killed process saved nothing on its way out: its next
/// process must resume from the sessions checkpointed while it ran (`kills_resume`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_a_pod_every_5s() {
    let name = "sigkill_every_5s";
    let mut fleet = Fleet::start(name, two_pods()).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    let rounds = profile().scale(Duration::from_secs(60)).as_secs() / 5;
    for i in 0..rounds {
        let n = fleet.pods.len();
        let pod = &mut fleet.pods[i as usize % n];
        pod.kill().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        pod.start();
        tokio::time::sleep(Duration::from_millis(4500)).await;
    }
    fleet.wait_ready(Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut row = checker.finish(name, &fleet).await;
    // Each connected shard checkpoints its session: the next process of a killed pod resumes.
    check_only_first_identifies(&mut row, "kills_resume", fleet.spec.shards);
    fleet.stop().await;
    row.report();
}

/// Every pod in turn gets SIGTERM, is started again and must be Ready before the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_rolling_restart() {
    let name = "rolling_restart_sigterm";
    let mut fleet = Fleet::start(name, two_pods()).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    let rounds = if profile() == Profile::Soak { 5 } else { 1 };
    for _ in 0..rounds {
        for i in (0..fleet.pods.len()).rev() {
            let pod = &mut fleet.pods[i];
            pod.terminate().await;
            pod.start();
            pod.process
                .as_mut()
                .expect("started")
                .wait_ready(Duration::from_secs(60))
                .await;
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut row = checker.finish(name, &fleet).await;
    check_only_first_identifies(&mut row, "restarts_resume", fleet.spec.shards);
    fleet.stop().await;
    row.report();
}

/// A roll to a new layout (2 shards per pod instead of 4) that goes wrong twice: the new pod
/// asks for its shards and is killed before it takes them, then a new pod takes them and is
/// terminated (the roll reverted). Each time the old pod must take its shards back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_to_a_requester_that_goes_away() {
    let name = "handoff_to_no_one";
    let mut fleet = Fleet::start(name, one_pod()).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1. The requester dies right after asking.
    let mut newcomer = fleet.new_pod(1, 2).await;
    newcomer.start();
    let asked = newcomer
        .wait_log("asked it to hand the shard over", Duration::from_secs(30))
        .await;
    newcomer.kill().await;
    // The old pod hands the shards over to no one, then must take them back.
    let handed = fleet.pods[0]
        .wait_log("shard handed over", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let back_1 = checker.wait_all_served(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // 2. The requester takes the shards, then is terminated (the roll is reverted).
    let mut newcomer = fleet.new_pod(1, 2).await;
    newcomer.start();
    newcomer
        .process
        .as_mut()
        .expect("started")
        .wait_ready(Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    newcomer.terminate().await;
    let back_2 = checker.wait_all_served(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    fleet.wait_ready(Duration::from_secs(15)).await;

    let mut row = checker.finish(name, &fleet).await;
    row.check(
        "taken_back",
        asked && handed && back_1.is_some() && back_2.is_some(),
        format!("asked: {asked}, handed over: {handed}; served again after the dead requester: {back_1:?}, after the revert: {back_2:?}"),
    );
    check_only_first_identifies(&mut row, "hand_offs_resume", fleet.spec.shards);
    fleet.stop().await;
    row.report();
}

/// Fencing: a pod cut off from Redis (its proxy holds every byte) for longer than the lease
/// lives, while a pod of a new layout asks for two of its shards. The cut-off pod must stop
/// its shards before its leases expire (75 s < 90 s), the new pod takes them only after
/// they expired, and at no moment do two processes run one shard. The cut-off pod's other
/// shards are down from the fence until Redis is back (about 25 s here), by design.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_holder_stops_before_its_lease_expires() {
    let name = "fencing";
    let fleet = Fleet::start(name, one_pod()).await;
    let checker = Checker::start(&fleet, None).allow_gap(Duration::from_secs(40));
    tokio::time::sleep(Duration::from_secs(2)).await;
    fleet.pods[0].redis_proxy.set(Mode::Blackhole);
    let cut_at = std::time::Instant::now();
    let mut newcomer = fleet.new_pod(1, 2).await;
    newcomer.start();
    let fenced = fleet.pods[0]
        .wait_log(
            "stopping the shard before it can expire",
            Duration::from_secs(100),
        )
        .await;
    let fenced_after = cut_at.elapsed();
    newcomer
        .process
        .as_mut()
        .expect("started")
        .wait_ready(Duration::from_secs(120))
        .await;
    let taken_after = cut_at.elapsed();
    fleet.pods[0].redis_proxy.cut();
    fleet.pods[0].redis_proxy.set(Mode::Pass);
    let back = checker.wait_all_served(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut row = checker.finish(name, &fleet).await;
    row.figure("fenced_after_s", serde_json::json!(fenced_after.as_secs()));
    row.figure(
        "taken_over_after_s",
        serde_json::json!(taken_after.as_secs()),
    );
    row.check(
        "fenced_before_expiry",
        fenced && fenced_after < Duration::from_secs(90) && taken_after >= Duration::from_secs(88),
        format!(
            "fenced: {fenced} after {fenced_after:?}; the new pod ran shards 2–3 after {taken_after:?}"
        ),
    );
    row.check(
        "all_served_after",
        back.is_some(),
        format!("every shard served {back:?} after Redis was reachable again"),
    );
    newcomer.terminate().await;
    fleet.stop().await;
    row.report();
}

/// Gateway storms: for a while, every second one shard gets one of Discord's disruptions in
/// turn: op 7 (reconnect), op 9 resumable and not, a resumable close (4000), the session timed
/// out (4009), a dropped TCP connection, and heartbeat ACKs stopping for a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_storms() {
    use serde_json::json;
    let name = "gateway_storms";
    let fleet = Fleet::start(name, two_pods()).await;
    let control = kyuta_tests::worker::SimControl::new(fleet.sim.addr());
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let faults = [
        json!({"kind": "reconnect"}),
        json!({"kind": "invalidate_session", "resumable": true}),
        json!({"kind": "close", "code": 4000, "reason": "Unknown error"}),
        json!({"kind": "invalidate_session", "resumable": false}),
        json!({"kind": "drop"}),
        json!({"kind": "close", "code": 4009, "reason": "Session timed out"}),
        json!({"kind": "stop_acks"}),
    ];
    let rounds = profile().scale(Duration::from_secs(28)).as_secs();
    let mut sent = 0;
    for i in 0..rounds {
        let shard = (i % u64::from(fleet.spec.shards)) as u32;
        let mut f = faults[(i as usize) % faults.len()].clone();
        f["shard"] = json!(shard);
        let acks_stopped = f["kind"] == "stop_acks";
        control.fault(f).await;
        sent += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if acks_stopped {
            // Long enough for the client to give up on the zombie connection.
            tokio::time::sleep(Duration::from_secs(3)).await;
            control
                .fault(json!({"kind": "resume_acks", "shard": shard}))
                .await;
        }
    }
    let back = checker.wait_all_served(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut row = checker.finish(name, &fleet).await;
    row.figure("faults", serde_json::json!(sent));
    row.check(
        "all_served_after",
        back.is_some(),
        format!("every shard served {back:?} after the storm"),
    );
    fleet.stop().await;
    row.report();
}
