//! Table tests of the pure decisions.

use std::collections::BTreeMap;

use kyuta_crds::cluster::{
    GatewayInfo, KyutaClusterSpec, Phase, SessionStartLimit, ShardCount, StorageMode,
};
use kyuta_operator::decide::{
    Action, Current, FailedReshard, GenerationPlan, GenerationState, Load, Refusal, StoreActive,
    after_store_write, desired_state, reshard_deadline_from, reshard_deadline_secs, shard_total,
};
use rstest::rstest;

fn spec() -> KyutaClusterSpec {
    serde_json::from_value(serde_json::json!({
        "tokenSecretRef": {"name": "bot", "key": "token"},
        "worker": {"image": "kyuta-worker:dev"},
        "redis": {"url": "redis://redis:6379"},
        "mongodb": {"url": "mongodb://mongodb:27017/kyuta"}
    }))
    .unwrap()
}

fn without_redis() -> KyutaClusterSpec {
    let mut s = spec();
    s.redis = None;
    s
}

fn gw(recommended: u32, remaining: u32) -> GatewayInfo {
    GatewayInfo {
        recommended_shards: recommended,
        url: Some("wss://gateway.discord.gg".into()),
        session_start_limit: SessionStartLimit {
            total: 1000,
            remaining,
            reset_after_ms: 3_600_000,
            max_concurrency: 1,
        },
    }
}

/// Complete load: every shard of the active generation published `n` guilds in all.
fn guilds(n: u64) -> Load {
    Load {
        guilds: Some(n),
        events_per_second: None,
        fresh_shards: 1000,
        shards: 1000,
        closed: None,
    }
}

fn running(generation: u32, shard_total: u32, spp: u32) -> GenerationState {
    let replicas = shard_total.div_ceil(spp);
    GenerationState {
        generation,
        shard_total,
        shards_per_pod: spp,
        replicas,
        ready_replicas: replicas,
        rolled_out: true,
        created_at: None,
    }
}

fn current(gens: &[GenerationState], active: Option<u32>) -> Current {
    Current {
        generations: gens.to_vec(),
        active,
        last_generation: gens.iter().map(|g| g.generation).max().unwrap_or(0),
        last_scale: None,
        now: 1_000_000,
        phase: if active.is_some() {
            Phase::Running
        } else {
            Phase::Pending
        },
        store: StoreActive::Names(active),
        shrink: None,
        unready_pods: BTreeMap::new(),
        failed: None,
        spec_generation: Some(1),
        reshard_deadline_base: None,
    }
}

#[rstest]
#[case::zero_guilds_uses_recommendation(1, 0, 1000, 1, None, 1, 1)]
#[case::zero_guilds_min_wins(1, 0, 1000, 4, None, 1, 4)]
#[case::exactly_2500_per_shard(1, 2500 * 8, 2500, 1, None, 1, 8)]
#[case::one_over_2500_per_shard(1, 2500 * 8 + 1, 2500, 1, None, 1, 9)]
#[case::recommendation_beats_guilds(12, 10, 1000, 1, None, 1, 12)]
#[case::guilds_beat_recommendation(2, 5_001, 1000, 1, None, 1, 6)]
#[case::multiple_of_16_rounds_up(17, 0, 1000, 1, None, 16, 32)]
#[case::multiple_of_16_exact(32, 0, 1000, 1, None, 16, 32)]
#[case::clamped_to_max(40, 0, 1000, 1, Some(24), 1, 24)]
#[case::clamped_then_multiple(40, 0, 1000, 1, Some(32), 16, 32)]
#[case::min_rounded_to_multiple(1, 0, 1000, 3, None, 16, 16)]
fn auto_shard_total(
    #[case] recommended: u32,
    #[case] guild_count: u64,
    #[case] per_shard: u32,
    #[case] min: u32,
    #[case] max: Option<u32>,
    #[case] multiple: u32,
    #[case] expected: u32,
) {
    let mut s = spec();
    s.shards.guilds_per_shard = per_shard;
    s.shards.min = min;
    s.shards.max = max;
    s.shards.multiple = multiple;
    let (total, why) = shard_total(&s, Some(&gw(recommended, 1000)), &guilds(guild_count)).unwrap();
    assert_eq!(total, expected, "{why}");
    assert!(why.ends_with(&format!("→ {expected} shards")), "{why}");
}

#[test]
fn auto_without_gateway_info_waits() {
    let d = desired_state(&spec(), None, &Load::default(), &current(&[], None));
    assert_eq!(d.action, Action::Wait);
    assert_eq!(d.phase, Phase::Pending);
    assert!(d.active.is_none());
}

#[test]
fn fixed_count_ignores_recommendation() {
    let mut s = spec();
    s.shards.count = ShardCount::Fixed(6);
    let (total, _) = shard_total(&s, Some(&gw(100, 1000)), &guilds(0)).unwrap();
    assert_eq!(total, 6);
}

#[rstest]
#[case::six_by_two(6, 2, 3, 2)]
#[case::six_by_four(6, 4, 2, 4)]
#[case::one_by_many(1, 8, 1, 1)]
#[case::sixteen_by_five(16, 5, 4, 5)]
fn first_generation(
    #[case] recommended: u32,
    #[case] spp: u32,
    #[case] pods: u32,
    #[case] effective_spp: u32,
) {
    let mut s = spec();
    s.shards_per_pod = spp;
    let d = desired_state(
        &s,
        Some(&gw(recommended, 1000)),
        &guilds(0),
        &current(&[], None),
    );
    assert_eq!(d.action, Action::Start, "{}", d.message);
    assert_eq!(d.phase, Phase::Starting);
    assert_eq!(
        d.active,
        Some(GenerationPlan {
            generation: 1,
            shard_total: recommended,
            shards_per_pod: effective_spp,
            replicas: pods
        })
    );
}

#[test]
fn first_generation_refused_when_budget_too_low() {
    let d = desired_state(&spec(), Some(&gw(6, 5)), &guilds(0), &current(&[], None));
    assert_eq!(d.action, Action::Refuse);
    assert_eq!(d.phase, Phase::Degraded);
    assert_eq!(d.refusal, Some(Refusal::IdentifyBudget));
    assert!(d.active.is_none() && d.next.is_none(), "no partial start");
    assert!(d.message.contains("5 of 1000"), "{}", d.message);
}

#[test]
fn generation_numbers_are_never_reused() {
    let mut c = current(&[], None);
    c.last_generation = 7;
    let d = desired_state(&spec(), Some(&gw(2, 1000)), &guilds(0), &c);
    assert_eq!(d.active.unwrap().generation, 8);
}

#[test]
fn steady_state_holds() {
    let mut s = spec();
    s.shards_per_pod = 2;
    let g = running(3, 6, 2);
    let d = desired_state(
        &s,
        Some(&gw(6, 1000)),
        &guilds(100),
        &current(&[g], Some(3)),
    );
    assert_eq!(d.action, Action::Hold);
    assert_eq!(d.phase, Phase::Running);
    assert_eq!(d.active.unwrap().generation, 3);
    assert!(d.retire.is_empty() && d.next.is_none());
}

#[test]
fn changing_shards_per_pod_keeps_the_shard_total() {
    let mut s = spec();
    s.shards_per_pod = 3;
    let g = running(3, 6, 2);
    let d = desired_state(
        &s,
        Some(&gw(6, 1000)),
        &guilds(100),
        &current(&[g], Some(3)),
    );
    assert_eq!(d.action, Action::Scale);
    assert_eq!(d.phase, Phase::Scaling);
    let plan = d.active.unwrap();
    assert_eq!(
        (plan.generation, plan.shard_total, plan.replicas),
        (3, 6, 2)
    );
    assert!(d.next.is_none(), "no new generation, no identifies");
}

#[test]
fn budget_is_not_needed_to_change_shards_per_pod() {
    let mut s = spec();
    s.shards_per_pod = 1;
    let g = running(1, 6, 2);
    let d = desired_state(&s, Some(&gw(6, 0)), &guilds(0), &current(&[g], Some(1)));
    assert_eq!(d.action, Action::Scale);
    assert_eq!(d.active.unwrap().replicas, 6);
}

#[test]
fn reshard_starts_next_generation_beside_the_active_one() {
    let g = running(1, 4, 1);
    let d = desired_state(
        &spec(),
        Some(&gw(8, 1000)),
        &guilds(0),
        &current(&[g], Some(1)),
    );
    assert_eq!(d.action, Action::Reshard);
    assert_eq!(d.phase, Phase::Resharding);
    assert_eq!(
        d.active.unwrap().generation,
        1,
        "the old generation keeps serving"
    );
    let next = d.next.unwrap();
    assert_eq!(
        (next.generation, next.shard_total, next.replicas),
        (2, 8, 8)
    );
    assert!(d.retire.is_empty());
}

#[test]
fn reshard_waits_until_every_new_pod_is_ready() {
    let old = running(1, 4, 1);
    let mut new = running(2, 8, 1);
    new.ready_replicas = 7;
    let d = desired_state(
        &spec(),
        Some(&gw(8, 1000)),
        &guilds(0),
        &current(&[old, new], Some(1)),
    );
    assert_eq!(d.action, Action::Reshard);
    assert_eq!(d.active.unwrap().generation, 1);
    assert_eq!(d.next.unwrap().generation, 2);
    assert!(d.message.contains("7/8"), "{}", d.message);
}

#[rstest]
// Redis still names generation 1: it is retired by a later reconcile, once Redis names 2.
#[case::redis_names_the_old_generation(StoreActive::Names(Some(1)), vec![])]
// The SET of an earlier reconcile went through but its status was not written.
#[case::redis_already_names_the_new_one(StoreActive::Names(Some(2)), vec![1])]
// No Redis, no generation gate: the old generation goes at once.
#[case::no_redis(StoreActive::NoStore, vec![1])]
fn reshard_switches_once_ready(#[case] store: StoreActive, #[case] retire: Vec<u32>) {
    let old = running(1, 4, 1);
    let new = running(2, 8, 1);
    let mut c = current(&[old, new], Some(1));
    c.store = store;
    // The budget no longer matters: generation 2 already identified.
    let d = desired_state(&spec(), Some(&gw(8, 0)), &guilds(0), &c);
    assert_eq!(d.action, Action::Switch);
    assert_eq!(d.phase, Phase::Running);
    assert_eq!(d.active.unwrap().generation, 2);
    assert_eq!(d.switch_from.unwrap().generation, 1);
    assert_eq!(d.retire, retire, "{}", d.message);
}

#[test]
fn no_switch_while_redis_cannot_be_read() {
    let old = running(1, 4, 1);
    let new = running(2, 8, 1);
    let mut c = current(&[old, new], Some(1));
    c.store = StoreActive::Unknown;
    let d = desired_state(&spec(), Some(&gw(8, 0)), &guilds(0), &c);
    assert_eq!(d.action, Action::Reshard, "{}", d.message);
    assert_eq!(
        d.active.unwrap().generation,
        1,
        "generation 1 keeps answering"
    );
    assert_eq!(d.next.unwrap().generation, 2);
    assert!(d.retire.is_empty());
    assert!(d.message.contains("Redis cannot be read"), "{}", d.message);
}

#[test]
fn a_failed_set_does_not_record_the_switch() {
    let old = running(1, 4, 1);
    let new = running(2, 8, 1);
    let d = desired_state(
        &spec(),
        Some(&gw(8, 0)),
        &guilds(0),
        &current(&[old, new], Some(1)),
    );
    assert_eq!(d.action, Action::Switch);
    let ok = after_store_write(d.clone(), Ok(()));
    assert_eq!(ok, d);
    let failed = after_store_write(d, Err("NOPERM"));
    assert_eq!(failed.action, Action::Reshard);
    assert_eq!(failed.phase, Phase::Resharding);
    assert_eq!(
        failed.active.unwrap().generation,
        1,
        "the status keeps naming generation 1"
    );
    assert_eq!(failed.next.unwrap().generation, 2);
    assert!(failed.retire.is_empty(), "nothing is retired");
    assert!(failed.message.contains("NOPERM"), "{}", failed.message);
}

#[rstest]
// The status names 2 (an earlier switch was recorded), Redis still names 1.
#[case::redis_names_the_old_generation(StoreActive::Names(Some(1)), vec![])]
#[case::redis_names_the_active_one(StoreActive::Names(Some(2)), vec![1])]
#[case::redis_cannot_be_read(StoreActive::Unknown, vec![])]
#[case::no_redis(StoreActive::NoStore, vec![1])]
fn the_generation_redis_names_is_never_retired(
    #[case] store: StoreActive,
    #[case] retire: Vec<u32>,
) {
    let old = running(1, 4, 1);
    let new = running(2, 8, 1);
    let mut c = current(&[old, new], Some(2));
    c.store = store;
    let d = desired_state(&spec(), Some(&gw(8, 1000)), &guilds(0), &c);
    assert_eq!(d.action, Action::Hold, "{}", d.message);
    assert_eq!(d.active.unwrap().generation, 2);
    assert_eq!(d.retire, retire, "{}", d.message);
}

#[test]
fn reshard_refused_when_budget_too_low() {
    let g = running(1, 4, 1);
    let d = desired_state(
        &spec(),
        Some(&gw(8, 7)),
        &guilds(0),
        &current(&[g], Some(1)),
    );
    assert_eq!(d.action, Action::Refuse);
    assert_eq!(d.phase, Phase::Degraded);
    assert_eq!(d.refusal, Some(Refusal::IdentifyBudget));
    assert!(d.next.is_none(), "no partial start");
    assert_eq!(
        d.active.unwrap().shard_total,
        4,
        "the running generation is kept"
    );
}

#[test]
fn budget_exactly_enough_is_accepted() {
    let g = running(1, 4, 1);
    let d = desired_state(
        &spec(),
        Some(&gw(8, 8)),
        &guilds(0),
        &current(&[g], Some(1)),
    );
    assert_eq!(d.action, Action::Reshard);
}

#[test]
fn abandoned_reshard_is_retired_when_the_target_changes_back() {
    let old = running(1, 4, 1);
    let mut new = running(2, 8, 1);
    new.ready_replicas = 3;
    let d = desired_state(
        &spec(),
        Some(&gw(4, 1000)),
        &guilds(0),
        &current(&[old, new], Some(1)),
    );
    assert_eq!(d.action, Action::Hold);
    assert_eq!(d.retire, vec![2]);
    assert_eq!(d.active.unwrap().generation, 1);
}

#[test]
fn unknown_gateway_keeps_running_generation() {
    let mut s = spec();
    s.shards_per_pod = 2;
    let g = running(1, 4, 2);
    let d = desired_state(&s, None, &guilds(0), &current(&[g], Some(1)));
    assert_eq!(d.action, Action::Hold);
    assert_eq!(d.active.unwrap().shard_total, 4);
    assert!(d.retire.is_empty());
}

fn autoscaled(target: u32, cooldown: u32) -> KyutaClusterSpec {
    let mut s = spec();
    s.shards.count = ShardCount::Fixed(8);
    s.shards_per_pod = 8;
    s.autoscaling.enabled = true;
    s.autoscaling.target_events_per_second_per_pod = target;
    s.autoscaling.cooldown_seconds = cooldown;
    s
}

fn eps(e: f64) -> Load {
    Load {
        guilds: Some(0),
        events_per_second: Some(e),
        fresh_shards: 8,
        shards: 8,
        closed: None,
    }
}

#[rstest]
#[case::within_tolerance_above(2, 215.0, 2)]
#[case::within_tolerance_below(2, 185.0, 2)]
#[case::scale_up(2, 400.0, 4)]
#[case::scale_up_uneven(2, 300.0, 3)] // 3 pods → 3 shards per pod → 3 pods
#[case::scale_up_rounds_to_capacity(2, 500.0, 8)] // 5 pods wanted: 2 shards per pod give only 4 → 1 per pod
#[case::six_wanted_of_eight_shards(4, 600.0, 8)] // never fewer pods than the load calls for
#[case::three_wanted_keep_three(8, 300.0, 3)] // 3 shards per pod → 3 pods
#[case::scale_down(4, 150.0, 2)]
#[case::scale_down_to_one(4, 50.0, 1)]
#[case::capped_at_one_shard_per_pod(2, 100_000.0, 8)]
fn autoscaling(#[case] pods_now: u32, #[case] load: f64, #[case] pods_after: u32) {
    let s = autoscaled(100, 300);
    let g = running(1, 8, 8u32.div_ceil(pods_now));
    let d = desired_state(&s, Some(&gw(1, 1000)), &eps(load), &current(&[g], Some(1)));
    let plan = d.active.unwrap();
    assert_eq!(plan.replicas, pods_after, "{}", d.message);
    assert_eq!(plan.shard_total, 8);
    assert_eq!(d.scaled, pods_after != g.replicas);
}

#[test]
fn autoscaling_respects_cooldown() {
    let s = autoscaled(100, 300);
    let g = running(1, 8, 4);
    let mut c = current(&[g], Some(1));
    c.last_scale = Some(c.now - 299);
    let d = desired_state(&s, Some(&gw(1, 1000)), &eps(800.0), &c);
    assert_eq!(d.active.unwrap().replicas, 2, "{}", d.message);
    assert!(d.message.contains("cooldown"), "{}", d.message);
    c.last_scale = Some(c.now - 300);
    let d = desired_state(&s, Some(&gw(1, 1000)), &eps(800.0), &c);
    assert_eq!(d.active.unwrap().replicas, 8);
}

#[test]
fn flapping_load_does_not_flap_pods() {
    // Load swings between 0.5× and 1.5× the capacity of 4 pods every 30 s for an hour; the
    // cooldown of 300 s bounds the changes to one per cooldown window.
    let s = autoscaled(100, 300);
    let mut g = running(1, 8, 2);
    let mut c = current(&[g], Some(1));
    let mut changes = 0;
    for step in 0..120 {
        c.now = 1_000_000 + step * 30;
        c.generations = vec![g];
        let load = if step % 2 == 0 { 200.0 } else { 600.0 };
        let d = desired_state(&s, Some(&gw(1, 1000)), &eps(load), &c);
        let plan = d.active.unwrap();
        if plan.replicas != g.replicas {
            changes += 1;
            assert!(d.scaled);
            c.last_scale = Some(c.now);
            g = running(1, 8, plan.shards_per_pod);
        }
    }
    assert!(changes <= 12, "{changes} changes in an hour");
    // Load that wobbles within the tolerance never changes anything.
    let g = running(1, 8, 2);
    let mut c = current(&[g], Some(1));
    for step in 0..120 {
        c.now = 1_000_000 + step * 30;
        let load = if step % 2 == 0 { 370.0 } else { 430.0 };
        let d = desired_state(&s, Some(&gw(1, 1000)), &eps(load), &c);
        assert_eq!(d.active.unwrap().replicas, 4, "{}", d.message);
        assert!(!d.scaled);
    }
}

#[test]
fn autoscaling_without_load_keeps_pods() {
    let s = autoscaled(100, 0);
    let g = running(1, 8, 4);
    let d = desired_state(
        &s,
        Some(&gw(1, 1000)),
        &Load::default(),
        &current(&[g], Some(1)),
    );
    assert_eq!(d.active.unwrap().replicas, 2);
    assert!(!d.scaled);
}

#[test]
fn autoscaling_respects_pod_bounds() {
    let mut s = autoscaled(100, 0);
    s.autoscaling.max_pods = Some(3);
    let g = running(1, 8, 4);
    let d = desired_state(
        &s,
        Some(&gw(1, 1000)),
        &eps(10_000.0),
        &current(&[g], Some(1)),
    );
    let plan = d.active.unwrap();
    // 3 pods wanted → 3 shards per pod → 3 pods.
    assert_eq!(plan.replicas, 3);
    s.autoscaling.max_pods = None;
    s.autoscaling.min_pods = Some(4);
    let d = desired_state(&s, Some(&gw(1, 1000)), &eps(1.0), &current(&[g], Some(1)));
    assert_eq!(d.active.unwrap().replicas, 4);
}

#[rstest]
#[case::status_not_yet_written(Phase::Pending, false, Phase::Starting)]
#[case::pods_still_being_created(Phase::Starting, false, Phase::Starting)]
#[case::rollout_after_running(Phase::Running, false, Phase::Scaling)]
#[case::rollout_after_scaling(Phase::Scaling, false, Phase::Scaling)]
#[case::pod_lost_after_running(Phase::Running, true, Phase::Starting)]
fn a_generation_coming_up_is_starting_and_a_rollout_is_scaling(
    #[case] before: Phase,
    #[case] rolled_out: bool,
    #[case] expected: Phase,
) {
    let mut g = running(1, 6, 2);
    g.ready_replicas = 1;
    g.rolled_out = rolled_out;
    let mut c = current(&[g], Some(1));
    c.phase = before;
    let mut s = spec();
    s.shards_per_pod = 2;
    let d = desired_state(&s, Some(&gw(6, 1000)), &guilds(100), &c);
    assert_eq!(d.action, Action::Hold);
    assert_eq!(d.phase, expected, "{}", d.message);
}

fn partial(guild_count: u64, fresh: u32, of: u32) -> Load {
    Load {
        guilds: Some(guild_count),
        events_per_second: Some(0.0),
        fresh_shards: fresh,
        shards: of,
        closed: None,
    }
}

#[rstest]
// Redis failed or nothing was published: unknown, not zero guilds.
#[case::load_unknown(Load::unknown(), true)]
// Shards still starting (or stale) left out of the sum: a lower bound only.
#[case::some_shards_stale(partial(100, 3, 8), true)]
#[case::complete_but_pods_not_ready(partial(100, 8, 8), false)]
fn incomplete_load_never_shrinks(#[case] load: Load, #[case] all_ready: bool) {
    // Discord recommends 2 and the generation runs 8 (it grew for guilds).
    let mut g = running(1, 8, 1);
    if !all_ready {
        g.ready_replicas = 7;
    }
    let mut c = current(&[g], Some(1));
    c.now += 30 * 86_400;
    let d = desired_state(&spec(), Some(&gw(2, 1000)), &load, &c);
    assert!(
        matches!(d.action, Action::Hold),
        "{:?}: {}",
        d.action,
        d.message
    );
    assert_eq!(d.active.unwrap().shard_total, 8);
    assert!(d.next.is_none(), "{}", d.message);
    assert!(d.shrink.is_none(), "no shrink is being timed");
}

#[test]
fn incomplete_load_still_grows() {
    // Only 1 of 2 shards published, and already 5000 guilds: at least 5 shards are needed.
    let g = running(1, 2, 1);
    let d = desired_state(
        &spec(),
        Some(&gw(2, 1000)),
        &partial(5000, 1, 2),
        &current(&[g], Some(1)),
    );
    assert_eq!(d.action, Action::Reshard, "{}", d.message);
    assert_eq!(d.next.unwrap().shard_total, 5);
}

#[test]
fn incomplete_load_does_not_cancel_a_reshard_in_progress() {
    let old = running(1, 4, 1);
    let mut new = running(2, 8, 1);
    new.ready_replicas = 3;
    let d = desired_state(
        &spec(),
        Some(&gw(4, 1000)),
        &partial(7000, 2, 4),
        &current(&[old, new], Some(1)),
    );
    assert_eq!(d.action, Action::Reshard, "{}", d.message);
    assert_eq!(d.next.unwrap().generation, 2);
    assert!(d.retire.is_empty());
}

#[rstest]
// 10 shards at 1000 guilds each. 9000 guilds would fit 9, but not 9000 + 10 %.
#[case::inside_the_margin(9_000, None)]
#[case::just_inside_the_margin(8_200, None)]
#[case::below_the_margin(8_100, Some(9))]
#[case::far_below(2_000, Some(3))]
fn shrinking_needs_a_margin(#[case] guild_count: u64, #[case] wanted: Option<u32>) {
    let g = running(1, 10, 1);
    let d = desired_state(
        &spec(),
        Some(&gw(1, 1000)),
        &guilds(guild_count),
        &current(&[g], Some(1)),
    );
    assert_eq!(d.action, Action::Hold, "{}", d.message);
    assert_eq!(d.active.unwrap().shard_total, 10);
    assert_eq!(d.shrink.map(|w| w.shards), wanted, "{}", d.message);
}

/// Runs `steps` reconciles `every` seconds apart, feeding the hysteresis state back and
/// making each reshard's new generation serve at once. Returns the serving shard total after
/// each step.
fn run_fleet(
    s: &KyutaClusterSpec,
    start_total: u32,
    steps: i64,
    every: i64,
    load_at: impl Fn(i64) -> Load,
) -> Vec<u32> {
    let mut gen_no = 1;
    let mut g = running(gen_no, start_total, 1);
    let mut c = current(&[g], Some(gen_no));
    let mut totals = vec![];
    for step in 0..steps {
        c.now = 1_000_000 + step * every;
        c.generations = vec![g];
        c.active = Some(gen_no);
        c.store = StoreActive::Names(Some(gen_no));
        let d = desired_state(s, Some(&gw(1, 100_000)), &load_at(step), &c);
        c.shrink = d.shrink;
        if let Some(next) = d.next {
            gen_no = next.generation;
            g = running(gen_no, next.shard_total, 1);
            c.last_generation = gen_no;
        }
        totals.push(g.shard_total);
    }
    totals
}

#[test]
fn shrinking_waits_for_the_hold_period() {
    let hold = kyuta_operator::decide::SHARD_SHRINK_HOLD_SECS;
    // 10 shards, guilds drop to 5000 (6 shards with the margin) and stay there.
    let totals = run_fleet(&spec(), 10, hold / 60 + 2, 60, |_| guilds(5_000));
    let shrunk_at = totals.iter().position(|t| *t != 10).unwrap();
    assert_eq!(shrunk_at as i64, hold / 60, "{totals:?}");
    assert_eq!(totals[shrunk_at], 6);
}

#[test]
fn a_break_in_the_wanted_shrink_restarts_the_hold() {
    let hold = kyuta_operator::decide::SHARD_SHRINK_HOLD_SECS;
    let steps = hold / 60;
    // Halfway the load is unknown for one reconcile: the clock starts over.
    let totals = run_fleet(&spec(), 10, steps + 2, 60, |step| {
        if step == steps / 2 {
            Load::unknown()
        } else {
            guilds(5_000)
        }
    });
    assert!(totals.iter().all(|t| *t == 10), "{totals:?}");
    // A moment where the serving total is needed again also starts the clock over.
    let totals = run_fleet(&spec(), 10, steps + 2, 60, |step| {
        if step == steps / 2 {
            guilds(9_800)
        } else {
            guilds(5_000)
        }
    });
    assert!(totals.iter().all(|t| *t == 10), "{totals:?}");
}

#[test]
fn a_shrink_goes_to_the_largest_total_wanted_during_the_hold() {
    let hold = kyuta_operator::decide::SHARD_SHRINK_HOLD_SECS;
    // Mostly 2000 guilds (3 shards), but 7000 (8 shards) for a while.
    let totals = run_fleet(&spec(), 10, hold / 60 + 2, 60, |step| {
        if (100..110).contains(&step) {
            guilds(7_000)
        } else {
            guilds(2_000)
        }
    });
    assert_eq!(*totals.last().unwrap(), 8, "{totals:?}");
}

#[test]
fn guilds_swinging_around_a_boundary_do_not_flap_the_shard_total() {
    // Around 10 000 guilds (the 10/11 shard boundary) for a day: one grow, no shrink.
    let totals = run_fleet(&spec(), 10, 24 * 60, 60, |step| {
        guilds(if step % 2 == 0 { 9_900 } else { 10_100 })
    });
    let changes = totals.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(changes, 1, "{totals:?}");
    assert_eq!(*totals.last().unwrap(), 11);
}

#[rstest]
// A fixed count is what the user asked for: followed at once.
#[case::fixed_count_lowered(Some(4), None, None, 4)]
// The serving total is above the new max: followed at once.
#[case::max_lowered(None, Some(4), None, 4)]
// The serving total is not a multiple of the new multiple: followed at once.
#[case::multiple_changed(None, None, Some(4), 4)]
fn a_total_the_spec_forbids_changes_at_once(
    #[case] count: Option<u32>,
    #[case] max: Option<u32>,
    #[case] multiple: Option<u32>,
    #[case] expected: u32,
) {
    let mut s = spec();
    if let Some(n) = count {
        s.shards.count = ShardCount::Fixed(n);
    }
    s.shards.max = max;
    if let Some(m) = multiple {
        s.shards.multiple = m;
    }
    let g = running(1, 10, 1);
    let d = desired_state(
        &s,
        Some(&gw(1, 1000)),
        &guilds(3_500),
        &current(&[g], Some(1)),
    );
    assert_eq!(d.action, Action::Reshard, "{}", d.message);
    assert_eq!(d.next.unwrap().shard_total, expected);
}

#[test]
fn incomplete_load_does_not_lower_the_pod_count() {
    let s = autoscaled(100, 0);
    let g = running(1, 8, 2);
    let mut load = eps(50.0);
    load.fresh_shards = 5;
    let d = desired_state(&s, Some(&gw(1, 1000)), &load, &current(&[g], Some(1)));
    assert_eq!(d.active.unwrap().replicas, 4, "{}", d.message);
    assert!(!d.scaled);
    let mut load = eps(800.0);
    load.fresh_shards = 5;
    let d = desired_state(&s, Some(&gw(1, 1000)), &load, &current(&[g], Some(1)));
    assert_eq!(d.active.unwrap().replicas, 8, "grows on a partial sum");
}

#[rstest]
// 100 000 guilds need ⌈100 000 / 2500⌉ = 40 shards.
#[case::fixed_below(Some(32), None, 1, 100_000, Some(40))]
#[case::fixed_exactly_enough(Some(40), None, 1, 100_000, None)]
// 100 001 guilds need 41, rounded up to the multiple of 16: 48.
#[case::fixed_below_the_multiple(Some(32), None, 16, 100_001, Some(48))]
#[case::fixed_at_the_multiple(Some(48), None, 16, 100_001, None)]
// `max` holds an auto total below what the guilds need.
#[case::auto_max_too_low(None, Some(32), 1, 100_000, Some(40))]
#[case::auto_max_enough(None, Some(40), 1, 100_000, None)]
fn a_shard_total_below_what_the_guilds_need_is_refused(
    #[case] count: Option<u32>,
    #[case] max: Option<u32>,
    #[case] multiple: u32,
    #[case] guild_count: u64,
    #[case] needed: Option<u32>,
) {
    let mut s = spec();
    if let Some(n) = count {
        s.shards.count = ShardCount::Fixed(n);
    }
    s.shards.max = max;
    s.shards.multiple = multiple;
    s.shards.guilds_per_shard = 2500;
    let g = running(1, 64, 1);
    let d = desired_state(
        &s,
        Some(&gw(1, 1000)),
        &guilds(guild_count),
        &current(&[g], Some(1)),
    );
    match needed {
        Some(needed) => {
            assert_eq!(d.action, Action::RefuseSpec, "{}", d.message);
            assert_eq!(d.phase, Phase::Degraded);
            let Some(Refusal::TooFewShards { needed: n, .. }) = d.refusal else {
                panic!("{:?}", d.refusal);
            };
            assert_eq!(n, needed);
            assert_eq!(d.refusal.unwrap().reason(), "ShardCountTooLow");
            assert!(!d.refusal.unwrap().applies(), "nothing is rolled out");
            assert!(d.next.is_none() && d.retire.is_empty());
            assert_eq!(
                d.active.unwrap().shard_total,
                64,
                "the running generation stays"
            );
            assert!(
                d.message.contains(&format!("at least {needed} shards")),
                "{}",
                d.message
            );
            assert!(d.message.contains("4011"), "{}", d.message);
        }
        None => {
            assert!(d.refusal.is_none(), "{}", d.message);
            assert_eq!(d.action, Action::Reshard, "{}", d.message);
        }
    }
}

#[test]
fn a_fixed_count_below_the_guilds_is_refused_before_anything_starts() {
    // The first generation: no load yet, so nothing to check against: it starts.
    let mut s = spec();
    s.shards.count = ShardCount::Fixed(2);
    let d = desired_state(
        &s,
        Some(&gw(1, 1000)),
        &Load::unknown(),
        &current(&[], None),
    );
    assert_eq!(d.action, Action::Start);
    // Even a partial guild count is a lower bound: 1 of 2 shards already reports 6000 guilds.
    let g = running(1, 2, 1);
    s.shards.count = ShardCount::Fixed(2);
    let d = desired_state(
        &s,
        Some(&gw(1, 1000)),
        &partial(6_000, 1, 2),
        &current(&[g], Some(1)),
    );
    assert_eq!(d.action, Action::RefuseSpec, "{}", d.message);
}

#[test]
fn every_total_is_a_multiple_and_enough_for_the_guilds() {
    let hold = kyuta_operator::decide::SHARD_SHRINK_HOLD_SECS;
    for multiple in [1u32, 3, 4, 16] {
        for serving in [multiple, multiple * 2, multiple * 5] {
            for guild_count in [0u64, 1, 2_499, 2_501, 9_999, 40_000, 77_777] {
                for recommended in [1u32, 5, 17, 33] {
                    for min in [1u32, 2, 7] {
                        for max in [None, Some(multiple * 4), Some(multiple * 64)] {
                            if max.is_some_and(|m| m < min) {
                                continue; // the API server refuses max < min
                            }
                            let mut s = spec();
                            s.shards.multiple = multiple;
                            s.shards.min = min;
                            s.shards.max = max;
                            let g = running(1, serving, 1);
                            let mut c = current(&[g], Some(1));
                            c.shrink = Some(kyuta_operator::decide::ShrinkWanted {
                                shards: 1,
                                since: c.now - hold,
                            });
                            let d = desired_state(
                                &s,
                                Some(&gw(recommended, 100_000)),
                                &guilds(guild_count),
                                &c,
                            );
                            let case = format!(
                                "multiple {multiple}, serving {serving}, {guild_count} guilds, recommended {recommended}, min {min}, max {max:?}: {}",
                                d.message
                            );
                            let needed = guild_count.div_ceil(2500) as u32;
                            if d.refusal.is_some() {
                                assert!(max.unwrap() < needed, "{case}");
                                continue;
                            }
                            for plan in d.active.iter().chain(d.next.iter()) {
                                if plan.generation == 1 {
                                    continue;
                                }
                                assert_eq!(plan.shard_total % multiple, 0, "{case}");
                                assert!(plan.shard_total >= needed, "{case}");
                                assert!(plan.shard_total >= min, "{case}");
                            }
                            if let Some(t) = d.target_shards {
                                assert_eq!(t % multiple, 0, "{case}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[rstest]
#[case::six_shards_in_three_pods(6, 2, Some(3))]
#[case::six_shards_in_one_pod(6, 6, None)]
#[case::one_shard(1, 1, None)]
fn more_than_one_pod_without_redis_is_refused(
    #[case] recommended: u32,
    #[case] spp: u32,
    #[case] refused_pods: Option<u32>,
) {
    let mut s = without_redis();
    s.shards_per_pod = spp;
    let mut c = current(&[], None);
    c.store = StoreActive::NoStore;
    let d = desired_state(&s, Some(&gw(recommended, 1000)), &Load::unknown(), &c);
    match refused_pods {
        Some(pods) => {
            assert_eq!(d.action, Action::RefuseSpec, "{}", d.message);
            assert_eq!(d.phase, Phase::Degraded);
            assert_eq!(d.refusal, Some(Refusal::NoRedis { pods }));
            assert_eq!(d.refusal.unwrap().reason(), "RedisRequired");
            assert!(!d.refusal.unwrap().applies(), "nothing is rolled out");
            assert!(d.active.is_none() && d.next.is_none());
            assert!(d.message.contains("identify"), "{}", d.message);
        }
        None => {
            assert_eq!(d.action, Action::Start, "{}", d.message);
            assert_eq!(d.active.unwrap().replicas, 1);
        }
    }
}

#[rstest]
#[case::three_pods_without_mongodb(2, None, Some(3))]
#[case::three_pods_on_ephemeral_storage(2, Some(StorageMode::Ephemeral), None)]
#[case::one_pod_without_mongodb(6, None, None)]
fn more_than_one_pod_without_mongodb_needs_ephemeral_storage(
    #[case] spp: u32,
    #[case] storage: Option<StorageMode>,
    #[case] refused_pods: Option<u32>,
) {
    let mut s = spec();
    s.mongodb = None;
    s.storage = storage;
    s.shards_per_pod = spp;
    let d = desired_state(
        &s,
        Some(&gw(6, 1000)),
        &Load::unknown(),
        &current(&[], None),
    );
    match refused_pods {
        Some(pods) => {
            assert_eq!(d.action, Action::RefuseSpec, "{}", d.message);
            assert_eq!(d.phase, Phase::Degraded);
            assert_eq!(d.refusal, Some(Refusal::NoMongoDB { pods }));
            assert_eq!(d.refusal.unwrap().reason(), "MongoDBRequired");
            assert!(!d.refusal.unwrap().applies(), "nothing is rolled out");
            assert!(d.active.is_none() && d.next.is_none());
            assert!(
                d.message.contains("spec.mongodb") && d.message.contains("storage: Ephemeral"),
                "{}",
                d.message
            );
        }
        None => {
            assert_eq!(d.action, Action::Start, "{}", d.message);
            assert!(d.refusal.is_none(), "{}", d.message);
        }
    }
}

#[test]
fn a_running_fleet_without_redis_is_not_split_into_pods() {
    // One pod runs all 6 shards without Redis; asking for 2 shards per pod is refused and
    // the running generation is left as it is.
    let mut s = without_redis();
    s.shards_per_pod = 2;
    let g = running(1, 6, 6);
    let mut c = current(&[g], Some(1));
    c.store = StoreActive::NoStore;
    let d = desired_state(&s, Some(&gw(6, 1000)), &Load::unknown(), &c);
    assert_eq!(d.action, Action::RefuseSpec, "{}", d.message);
    assert_eq!(d.refusal, Some(Refusal::NoRedis { pods: 3 }));
    assert_eq!(
        d.active,
        Some(GenerationPlan {
            generation: 1,
            shard_total: 6,
            shards_per_pod: 6,
            replicas: 1
        })
    );
    assert!(d.next.is_none() && d.retire.is_empty());
}

#[test]
fn reshard_deadline() {
    // 600 s, plus 5 s per identify round.
    assert_eq!(reshard_deadline_secs(8, 1), 640);
    assert_eq!(reshard_deadline_secs(1000, 16), 600 + 63 * 5);
    assert_eq!(reshard_deadline_secs(1, 0), 605);
}

/// Generation 1 (4 shards) serves; generation 2 (8 shards) has 5 of 8 pods Ready and was
/// created `age` seconds ago.
fn reshard_for(age: i64) -> Current {
    let old = running(1, 4, 1);
    let mut new = running(2, 8, 1);
    new.ready_replicas = 5;
    let mut c = current(&[old, new], Some(1));
    c.generations[1].created_at = Some(c.now - age);
    c.unready_pods.insert(
        2,
        vec!["kc-g2-1".into(), "kc-g2-4".into(), "kc-g2-6".into()],
    );
    c
}

#[test]
fn the_fixed_part_of_the_reshard_deadline_can_be_set() {
    assert_eq!(reshard_deadline_from(30, 8, 2), 30 + 4 * 5);
    let mut c = reshard_for(49);
    c.reshard_deadline_base = Some(30);
    let d = desired_state(&spec(), Some(&gw(8, 1000)), &guilds(0), &c);
    assert_eq!(d.action, Action::Reshard, "{}", d.message);
    let mut c = reshard_for(70);
    c.reshard_deadline_base = Some(30);
    let d = desired_state(&spec(), Some(&gw(8, 1000)), &guilds(0), &c);
    assert_eq!(d.action, Action::ReshardTimedOut, "{}", d.message);
}

#[test]
fn a_reshard_that_misses_its_deadline_is_given_up() {
    let d = desired_state(&spec(), Some(&gw(8, 1000)), &guilds(0), &reshard_for(639));
    assert_eq!(d.action, Action::Reshard, "{}", d.message);
    let d = desired_state(&spec(), Some(&gw(8, 1000)), &guilds(0), &reshard_for(640));
    assert_eq!(d.action, Action::ReshardTimedOut, "{}", d.message);
    assert_eq!(d.phase, Phase::Degraded);
    assert_eq!(
        d.active.unwrap().generation,
        1,
        "the old generation stays active"
    );
    assert!(d.next.is_none());
    assert!(
        d.retire.is_empty(),
        "the failed generation is kept at 0 pods"
    );
    assert_eq!(
        d.stopped,
        Some(GenerationPlan {
            generation: 2,
            shard_total: 8,
            shards_per_pod: 1,
            replicas: 0
        })
    );
    let failed = d.failed.unwrap();
    assert_eq!((failed.generation, failed.shards), (2, 8));
    assert_eq!(failed.spec_generation, Some(1));
    for part in ["640s", "kc-g2-1, kc-g2-4, kc-g2-6", "spec changes"] {
        assert!(failed.message.contains(part), "{part}: {}", failed.message);
    }
}

fn given_up(mut c: Current, spec_generation: i64) -> Current {
    c.generations[1].replicas = 0;
    c.generations[1].ready_replicas = 0;
    c.failed = Some(FailedReshard {
        generation: 2,
        shards: 8,
        spec_generation: Some(1),
        message: "resharding 4 → 8 given up".into(),
        at: c.now - 60,
    });
    c.spec_generation = Some(spec_generation);
    c
}

#[test]
fn a_given_up_reshard_is_not_retried_while_the_spec_is_unchanged() {
    let c = given_up(reshard_for(10_000), 1);
    // Discord still recommends 8 shards, the budget is full.
    let d = desired_state(&spec(), Some(&gw(8, 1000)), &guilds(0), &c);
    assert_eq!(d.action, Action::ReshardTimedOut, "{}", d.message);
    assert_eq!(d.phase, Phase::Degraded);
    assert_eq!(d.active.unwrap().generation, 1);
    assert!(d.next.is_none(), "no new identifies");
    assert_eq!(d.stopped.unwrap().replicas, 0);
    assert!(d.retire.is_empty());
    assert_eq!(d.failed, c.failed, "the status keeps saying why");
}

#[test]
fn a_given_up_reshard_is_retried_with_a_new_generation_when_the_spec_changes() {
    let c = given_up(reshard_for(10_000), 2);
    let d = desired_state(&spec(), Some(&gw(8, 1000)), &guilds(0), &c);
    assert_eq!(d.action, Action::Reshard, "{}", d.message);
    let next = d.next.unwrap();
    assert_eq!((next.generation, next.shard_total), (3, 8));
    assert_eq!(d.retire, vec![2], "the generation given up goes");
    assert!(d.failed.is_none() && d.stopped.is_none());
    // A spec change that makes the reshard unnecessary clears it too.
    let d = desired_state(&spec(), Some(&gw(4, 1000)), &guilds(0), &c);
    assert_eq!(d.action, Action::Hold, "{}", d.message);
    assert_eq!(d.retire, vec![2]);
    assert!(d.failed.is_none());
}
