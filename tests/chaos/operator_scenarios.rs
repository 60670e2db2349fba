//! Scenarios of the operator's fleet (`kube_fleet.rs`): rolls of `shardsPerPod`, reshards
//! under faults of the operator itself, and a generation that never becomes Ready. Each needs
//! the test environment's kube-apiserver (`tests/env/up`).

use std::time::{Duration, Instant};

use kyuta_crds::cluster::Phase;
use kyuta_tests::kubelet::CrashLoop;
use serde_json::json;

use crate::checker::{Checker, Row};
use crate::kube_fleet::{CLUSTER, KubeFleet, KubeSpec};
use crate::proxy::Mode;
use crate::{PING_EVERY, profile};

fn spec(shards: u32, per_pod: u32) -> KubeSpec {
    KubeSpec {
        shards,
        per_pod,
        guilds: 80,
        max_shards: 8,
        reshard_deadline_secs: 600,
        crash_loop: None,
    }
}

/// The longest a shard may wait in a roll to fewer pods: one pod's restart (SIGTERM, exit,
/// start, RESUME) on a loaded machine, far below one roll step (≈ 6 s with the readiness probe).
const SCALE_DOWN_GAP_LIMIT: Duration = Duration::from_secs(4);

fn secs(d: Duration) -> serde_json::Value {
    json!((d.as_secs_f64() * 10.0).round() / 10.0)
}

/// Waits until generation `generation` runs `pods` pods of `per_pod` shards, rolled out,
/// every shard Ready, and the stand-in runs exactly those pods. Returns how long it took.
async fn wait_layout(
    fleet: &KubeFleet,
    generation: u32,
    pods: u32,
    per_pod: u32,
    limit: Duration,
) -> Duration {
    let t0 = Instant::now();
    let sts = format!("{CLUSTER}-g{generation}");
    fleet
        .status_where(
            &format!("generation {generation}: {pods} pods of {per_pod} shards, all Ready"),
            limit,
            |s| {
                s.generation == generation
                    && s.replicas == pods
                    && s.shards_per_pod == per_pod
                    && s.ready_shards == s.shards
                    && s.phase == Phase::Running
            },
        )
        .await;
    loop {
        let rolled = fleet.sets().get(&sts).await.ok().is_some_and(|s| {
            let st = s.status.clone().unwrap_or_default();
            st.observed_generation == s.metadata.generation
                && st.replicas == pods as i32
                && st.updated_replicas == Some(pods as i32)
                && st.ready_replicas == Some(pods as i32)
        });
        let running = fleet.kubelet.pods();
        let only_new = running.len() as u32 == pods
            && running
                .iter()
                .all(|p| p.generation == generation && p.range.len() as u32 <= per_pod);
        if rolled && only_new {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{sts} not rolled out to {pods} pods of {per_pod} within {limit:?}; running: {:?}",
            running.iter().map(|p| &p.name).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks the longest time a shard went without a session in a roll to fewer pods
/// (`(gap, shard)` from [`Checker::longest_gap_in`]) against [`SCALE_DOWN_GAP_LIMIT`], and
/// records it as `scale_down_longest_gap_s`.
fn check_scale_down_gap(row: &mut Row, roll: &str, (gap, shard): (Duration, Option<u32>)) {
    row.figure("scale_down_longest_gap_s", secs(gap));
    row.check(
        "scale_down_gap_one_step",
        gap <= SCALE_DOWN_GAP_LIMIT,
        format!(
            "longest gap in the {roll} {:.1}s (shard {shard:?}; limit {:.0}s, one pod's restart)",
            gap.as_secs_f64(),
            SCALE_DOWN_GAP_LIMIT.as_secs_f64()
        ),
    );
}

/// Checks that no worker process exited on its own.
fn check_no_worker_crashed(row: &mut Row, fleet: &KubeFleet) {
    let crashes = fleet.kubelet.crashes();
    row.check(
        "no_worker_crashed",
        crashes.is_empty(),
        format!("worker processes that exited on their own: {crashes:?}"),
    );
}

/// Checks that the simulator saw exactly one identify per shard of each total: every move
/// of a shard (a roll, a hand-off) was a RESUME.
fn check_identifies(row: &mut Row, fleet: &KubeFleet, name: &str, totals: &[u32]) {
    let seen: Vec<(u32, usize)> = totals
        .iter()
        .map(|t| (*t, fleet.identifies_of(*t)))
        .collect();
    row.check(
        name,
        seen.iter().all(|(t, n)| *n == *t as usize),
        format!("identifies per shard total (want one per shard): {seen:?}"),
    );
}

/// 8 shards, one per pod; then two per pod (8 → 4 pods), reverted in the middle of that roll;
/// then 8 → 4 pods to the end, and back to 8. The operator replaces the pods one at a time
/// (lowest ordinal first when shards per pod grow, the condemned pods last). Every shard must
/// move by RESUME, no shard may go without a session for longer than 15 s, and in the 8 → 4
/// roll no shard may wait longer than one pod's restart (`scale_down_gap_one_step`): with the
/// StatefulSet controller's own order, shards of the condemned pods waited for several roll
/// steps, a wait that grows with the fleet until it outlasts the session TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_scale_down_and_back() {
    let name = "operator_scale_8_4_8";
    let fleet = KubeFleet::start(name, spec(8, 1)).await;
    let checker = Checker::start_on(fleet.target(), Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let limit = Duration::from_secs(180);

    // 1. 8 → 4 pods, reverted once a pod of the new layout runs.
    fleet.apply(8, 2).await;
    let t0 = Instant::now();
    let mut reverted_after = None;
    while t0.elapsed() < Duration::from_secs(60) {
        if fleet.kubelet.pods().iter().any(|p| p.range.len() == 2) {
            reverted_after = Some(t0.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fleet.apply(8, 1).await;
    let revert = wait_layout(&fleet, 1, 8, 1, limit).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // 2. 8 → 4 pods.
    fleet.apply(8, 2).await;
    let down_from = Instant::now();
    let down = wait_layout(&fleet, 1, 4, 2, limit).await;
    let (down_gap, down_gap_shard) = checker.longest_gap_in(down_from, Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    // 3. 4 → 8 pods.
    fleet.apply(8, 1).await;
    let up = wait_layout(&fleet, 1, 8, 1, limit).await;
    tokio::time::sleep(profile().scale(Duration::from_secs(5))).await;

    let mut row = checker.finish_with(name, &fleet.logs()).await;
    row.figure("revert_roll_s", secs(revert));
    row.figure("scale_down_roll_s", secs(down));
    row.figure("scale_up_roll_s", secs(up));
    check_scale_down_gap(&mut row, "8 → 4 roll", (down_gap, down_gap_shard));
    row.check(
        "reverted_mid_roll",
        reverted_after.is_some(),
        format!("a pod of 2 shards ran {reverted_after:?} after the change, then the change was reverted"),
    );
    check_identifies(&mut row, &fleet, "moves_resume", &[8]);
    check_no_worker_crashed(&mut row, &fleet);
    fleet.stop().await;
    row.report();
}

/// Autoscaling moves the pod count both ways: 8 shards at most 2 per pod (4 to 8 pods), a
/// target of 2 events/s per pod (8 pods even when a loaded machine delivers half the
/// firehose). The simulator's firehose sends 48 messages/s across the
/// shards: the operator scales 4 → 8 pods. The firehose stops: once the published load has
/// fallen (a one-minute window), it scales 8 → 4. Both rolls go through the operator's roll:
/// every shard moves by RESUME, and in the scale-down no shard waits longer than one pod's
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_autoscales_down_and_up() {
    let name = "operator_autoscale_4_8_4";
    let fleet = KubeFleet::start(name, spec(8, 2)).await;
    let autoscaling = json!({
        "enabled": true,
        "targetEventsPerSecondPerPod": 2,
        "cooldownSeconds": 0
    });
    fleet.apply_with(8, 2, autoscaling).await;
    let checker = Checker::start_on(fleet.target(), Some(PING_EVERY));
    // Bounds, not targets (the figures are reported): a scale-down waits for the published
    // load to fall (a window of 60–75 s, published every 15 s) and then rolls four pods;
    // on an idle machine it takes about 145 s, and a loaded 2-core machine has taken over
    // 220 s.
    let limit = Duration::from_secs(480);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let control = kyuta_tests::worker::SimControl::new(fleet.sim.addr());
    let run = control
        .post(
            "/firehose",
            json!({"events_per_second": 48, "duration_ms": 600_000, "kind": "message"}),
        )
        .await;
    let up = wait_layout(&fleet, 1, 8, 1, limit).await;
    control
        .delete(&format!("/firehose/{}", run["id"].as_u64().unwrap_or(0)))
        .await;
    let down_from = Instant::now();
    let down = wait_layout(&fleet, 1, 4, 2, limit).await;
    let (down_gap, down_gap_shard) = checker.longest_gap_in(down_from, Instant::now());
    tokio::time::sleep(profile().scale(Duration::from_secs(5))).await;

    let mut row = checker.finish_with(name, &fleet.logs()).await;
    row.figure("scale_up_after_load_s", secs(up));
    row.figure("scale_down_after_load_s", secs(down));
    check_scale_down_gap(
        &mut row,
        "autoscaled 8 → 4 roll",
        (down_gap, down_gap_shard),
    );
    check_identifies(&mut row, &fleet, "moves_resume", &[8]);
    check_no_worker_crashed(&mut row, &fleet);
    fleet.stop().await;
    row.report();
}

/// Generation 1 (4 shards, 2 pods) serves; the spec asks for 8 shards. While generation 2
/// comes up and becomes Ready, the operator's link to Redis is blackholed (20 s): it must not
/// switch (Redis cannot be told), nor retire generation 1. Once Redis answers again it
/// switches and retires generation 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_reshard_cut_off_from_redis() {
    let name = "operator_reshard_no_redis";
    let fleet = KubeFleet::start(name, spec(4, 2)).await;
    let checker = Checker::start_on(fleet.target(), Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(2)).await;
    fleet.apply(8, 2).await;
    // Cut the operator off as soon as generation 2 has a Ready pod: it becomes Ready (and
    // the switch falls due) while the operator cannot reach Redis.
    let t0 = Instant::now();
    let g2 = format!("{CLUSTER}-g2");
    loop {
        let ready = fleet
            .sets()
            .get(&g2)
            .await
            .ok()
            .and_then(|s| s.status?.ready_replicas)
            .unwrap_or(0);
        if ready >= 1 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "{g2} has no Ready pod within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fleet.operator_redis.set(Mode::Blackhole);
    let cut = Instant::now();
    let mut switched_while_cut = Vec::new();
    let mut g2_ready_during_cut = false;
    let mut degraded_seen = false;
    while cut.elapsed() < profile().scale(Duration::from_secs(20)) {
        let status = fleet.status().await.unwrap_or_default();
        if status.generation != 1 || fleet.active_generation() != 1 {
            switched_while_cut.push(format!(
                "status generation {}, Redis names {}",
                status.generation,
                fleet.active_generation()
            ));
        }
        degraded_seen |= status
            .conditions
            .iter()
            .any(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == "RedisUnavailable");
        g2_ready_during_cut |= fleet
            .sets()
            .get(&g2)
            .await
            .ok()
            .and_then(|s| s.status?.ready_replicas)
            == Some(4);
        let g1_kept = fleet
            .sets()
            .get_opt(&format!("{CLUSTER}-g1"))
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.metadata.deletion_timestamp.is_none());
        if !g1_kept {
            switched_while_cut.push("generation 1 retired".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    fleet.operator_redis.cut();
    fleet.operator_redis.set(Mode::Pass);
    let back = Instant::now();
    fleet
        .status_where(
            "generation 2 (8 shards) active after Redis is back",
            Duration::from_secs(90),
            |s| s.generation == 2 && s.shards == 8 && s.ready_shards == 8,
        )
        .await;
    let switched_after = back.elapsed();
    wait_generation_1_retired(&fleet).await;
    tokio::time::sleep(profile().scale(Duration::from_secs(5))).await;
    let mut row = checker.finish_with(name, &fleet.logs()).await;
    row.figure("switched_after_redis_s", secs(switched_after));
    row.check(
        "no_switch_without_redis",
        switched_while_cut.is_empty() && g2_ready_during_cut,
        format!(
            "generation 2 all Ready while cut off: {g2_ready_during_cut}; \
             switches or retirements while cut off: {switched_while_cut:?}"
        ),
    );
    row.check(
        "degraded_while_cut",
        degraded_seen,
        format!("condition Degraded=True RedisUnavailable seen: {degraded_seen}"),
    );
    row.check(
        "switched_when_back",
        fleet.active_generation() == 2,
        format!(
            "Redis names generation {} {switched_after:?} after it answered the operator again",
            fleet.active_generation()
        ),
    );
    check_identifies(&mut row, &fleet, "one_identify_per_shard", &[4, 8]);
    fleet.stop().await;
    row.report();
}

/// The operator is SIGKILLed while generation 2 (8 shards) comes up beside generation 1 (4),
/// and started again 5 s later: the reshard goes on from what the cluster holds (no third
/// generation, no identify spent twice) and ends with the switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_restarts_mid_reshard() {
    let name = "operator_restart_mid_reshard";
    let mut fleet = KubeFleet::start(name, spec(4, 2)).await;
    let checker = Checker::start_on(fleet.target(), Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(2)).await;
    fleet.apply(8, 2).await;
    let t0 = Instant::now();
    let g2 = format!("{CLUSTER}-g2");
    while fleet.sets().get_opt(&g2).await.ok().flatten().is_none()
        || !fleet.kubelet.pods().iter().any(|p| p.generation == 2)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{g2} has no running pod within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fleet.operator.kill().await;
    let killed_at_pods = fleet
        .kubelet
        .pods()
        .iter()
        .filter(|p| p.generation == 2)
        .count();
    tokio::time::sleep(Duration::from_secs(5)).await;
    fleet.operator.start();
    fleet
        .status_where(
            "generation 2 (8 shards) active after the restart",
            Duration::from_secs(120),
            |s| s.generation == 2 && s.shards == 8 && s.ready_shards == 8,
        )
        .await;
    wait_generation_1_retired(&fleet).await;
    tokio::time::sleep(profile().scale(Duration::from_secs(5))).await;
    let mut row = checker.finish_with(name, &fleet.logs()).await;
    let sets: Vec<String> = fleet
        .sets()
        .list(&Default::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|s| s.metadata.name)
                .collect()
        })
        .unwrap_or_default();
    row.figure("g2_pods_at_kill", json!(killed_at_pods));
    row.check(
        "reshard_went_on",
        sets == [g2.clone()] && fleet.active_generation() == 2,
        format!(
            "StatefulSets after: {sets:?}; Redis names generation {}",
            fleet.active_generation()
        ),
    );
    check_identifies(&mut row, &fleet, "one_identify_per_shard", &[4, 8]);
    fleet.stop().await;
    row.report();
}

/// Generation 2 (8 shards) can never become Ready: every one of its containers is killed 3 s
/// after it starts (a crash loop; each start identifies again). The operator must give the
/// reshard up at its deadline (here 15 s + the identify time of 8 shards), say so in
/// `status.failedReshard`, scale generation 2 to 0 so identifies stop being spent on it, and
/// keep generation 1 serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_gives_up_a_generation_that_never_becomes_ready() {
    let name = "operator_never_ready";
    let mut s = spec(4, 2);
    s.reshard_deadline_secs = 15;
    s.crash_loop = Some(CrashLoop {
        pod_prefix: format!("{CLUSTER}-g2-"),
        after: Duration::from_secs(3),
    });
    let fleet = KubeFleet::start(name, s).await;
    let checker = Checker::start_on(fleet.target(), Some(PING_EVERY));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = Instant::now();
    fleet.apply(8, 2).await;
    let status = fleet
        .status_where(
            "the reshard given up (status.failedReshard)",
            Duration::from_secs(120),
            |s| s.failed_reshard.is_some(),
        )
        .await;
    let gave_up_after = asked.elapsed();
    let t0 = Instant::now();
    while fleet.kubelet.pods().iter().any(|p| p.generation == 2) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "generation 2 still runs pods 60 s after the reshard was given up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let spent_at_stop = fleet.identifies_of(8);
    tokio::time::sleep(profile().scale(Duration::from_secs(15))).await;
    let spent_after = fleet.identifies_of(8);
    let after = fleet.status().await.unwrap_or_default();
    let g2_replicas = fleet
        .sets()
        .get_opt(&format!("{CLUSTER}-g2"))
        .await
        .ok()
        .flatten()
        .and_then(|s| s.spec?.replicas);
    let mut row = checker.finish_with(name, &fleet.logs()).await;
    row.figure("gave_up_after_s", secs(gave_up_after));
    row.figure("g2_identifies", json!(spent_after));
    row.figure("g2_restarts", json!(fleet.kubelet.crashes().len()));
    let failed = status
        .failed_reshard
        .clone()
        .unwrap_or_else(|| unreachable!());
    row.check(
        "given_up_with_reason",
        failed.generation == 2
            && failed.shards == 8
            && failed.message.contains("not Ready")
            && g2_replicas == Some(0),
        format!(
            "failedReshard: generation {} ({} shards): {}; {CLUSTER}-g2 replicas {g2_replicas:?}",
            failed.generation, failed.shards, failed.message
        ),
    );
    row.check(
        "old_generation_serves",
        after.generation == 1 && after.shards == 4 && after.ready_shards == 4,
        format!(
            "status after: generation {}, {} shards, {} Ready, phase {:?}",
            after.generation, after.shards, after.ready_shards, after.phase
        ),
    );
    row.check(
        "no_identifies_after_give_up",
        spent_after == spent_at_stop && spent_after > 0,
        format!(
            "identifies of the 8-shard generation: {spent_at_stop} when its pods were gone, {spent_after} later"
        ),
    );
    fleet.stop().await;
    row.report();
}

/// Waits (at most 90 s) until generation 1's StatefulSet and pods are gone.
async fn wait_generation_1_retired(fleet: &KubeFleet) {
    let t1 = Instant::now();
    while fleet
        .sets()
        .get_opt(&format!("{CLUSTER}-g1"))
        .await
        .ok()
        .flatten()
        .is_some()
        || fleet.kubelet.pods().iter().any(|p| p.generation == 1)
    {
        assert!(
            t1.elapsed() < Duration::from_secs(90),
            "generation 1 not retired within 90 s of the switch"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
