//! The case store under faults: FerretDB (MongoDB wire protocol) slows down, then goes away
//! for 30 s while tempbans expire and moderators keep acting, then comes back with its data.
//!
//! What must hold, besides the checker's invariants:
//! - every moderation interaction is answered exactly once, and its answer tells the truth:
//!   an answer that says nothing was changed comes with no action on Discord, and an action
//!   that reached Discord is applied once;
//! - no case is lost: every action applied on Discord has its case, recorded as applied, once
//!   the store is back;
//! - every tempban that expired during the outage is lifted exactly once, soon after the store
//!   is back, and has its unban case.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kyuta_tests::worker::{GuildCast, SimControl, shard_of, shown_text};
use kyuta_worker::store::{CaseFilter, CaseKind, CaseOutcome, MongoOptions, MongoStore, Store};
use serde_json::{Value, json};

use crate::checker::{Checker, Row};
use crate::fleet::{Fleet, FleetSpec};
use crate::proxy::Mode;
use crate::{PING_EVERY, profile};

/// Discord's audit-log action types the scenario counts.
const MEMBER_BAN_ADD: u64 = 22;
const MEMBER_BAN_REMOVE: u64 = 23;
const MEMBER_UPDATE: u64 = 24;

/// One moderation interaction the scenario sent.
struct Sent {
    id: String,
    guild: u64,
    target: u64,
    kind: CaseKind,
    /// Sent while the store was down.
    during_outage: bool,
}

/// The guilds the scenario acts in: one on each pod.
fn guilds(fleet: &Fleet) -> Vec<GuildCast> {
    let mut by_shard: BTreeMap<u32, GuildCast> = BTreeMap::new();
    for n in 0..fleet.spec.guilds {
        let g = fleet.sim.world().guild_id(n);
        let shard = shard_of(g, fleet.spec.shards);
        if shard % fleet.spec.per_pod == 0 && !by_shard.contains_key(&shard) {
            by_shard.insert(shard, GuildCast::of(&fleet.sim, g));
        }
    }
    by_shard.into_values().collect()
}

/// The interaction's final answer: the edited original after a defer, the response otherwise
/// (waits for the edit at most `limit`).
async fn final_answer(control: &SimControl, id: &str, limit: Duration) -> (u64, String) {
    let end = Instant::now() + limit;
    loop {
        let it = control.get(&format!("/interactions/{id}")).await;
        let callbacks = it["callbacks"].as_u64().unwrap_or(0);
        let deferred = it["response"]["type"] == json!(5);
        if !it["original"].is_null() {
            return (callbacks, shown_text(&it["original"]));
        }
        if it["acknowledged"] == json!(true) && !deferred && !it["response"].is_null() {
            return (callbacks, shown_text(&it["response"]));
        }
        if Instant::now() >= end {
            return (callbacks, format!("no answer: {it}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many audit-log entries of `action` name `target` in `guild`.
async fn audit_count(control: &SimControl, guild: u64, target: u64, action: u64) -> usize {
    let log = control.get(&format!("/guilds/{guild}/audit-log")).await;
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["action_type"].as_u64() == Some(action)
                && e["target_id"].as_str() == Some(target.to_string().as_str())
        })
        .count()
}

fn action_type(kind: CaseKind) -> u64 {
    match kind {
        CaseKind::Ban | CaseKind::Tempban => MEMBER_BAN_ADD,
        CaseKind::Unban => MEMBER_BAN_REMOVE,
        _ => MEMBER_UPDATE,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_down_30s() {
    let name = "mongodb_down_30s";
    let spec = FleetSpec {
        shards: 4,
        per_pod: 2,
        guilds: 40,
        mongo: true,
    };
    let mut fleet = Fleet::start(name, spec).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    let control = SimControl::new(fleet.sim.addr());
    let casts = guilds(&fleet);
    assert_eq!(casts.len(), 2, "one guild on each pod");
    let mut sent: Vec<Sent> = Vec::new();
    let mut targets: Vec<Vec<u64>> = casts.iter().map(|c| c.members.clone()).collect();
    let next_target =
        |targets: &mut Vec<Vec<u64>>, i: usize| targets[i].pop().expect("enough members to act on");
    let slash = |c: &GuildCast, cmd: &'static str, options: Value| {
        let (g, ch, owner) = (c.guild, c.general, c.owner);
        async move { control.slash(g, ch, owner, cmd, options).await }
    };

    // Tempbans that expire while the store is down.
    let tempban_secs = 12;
    let mut tempbanned = Vec::new();
    for (i, c) in casts.iter().enumerate() {
        for _ in 0..2 {
            let target = next_target(&mut targets, i);
            let id = slash(
                c,
                "ban",
                json!({"user": target.to_string(), "duration": format!("{tempban_secs}s")}),
            )
            .await;
            sent.push(Sent {
                id,
                guild: c.guild,
                target,
                kind: CaseKind::Tempban,
                during_outage: false,
            });
            tempbanned.push((c.guild, target));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The store slows down (300 ms per exchange), and goes away while actions are in flight.
    for pod in &fleet.pods {
        if let Some(p) = &pod.mongo_proxy {
            p.set(Mode::Delay(Duration::from_millis(300)));
        }
    }
    let outage = profile().scale(Duration::from_secs(30));
    let mut killed_at = None;
    let outage_start = Instant::now();
    let mut i = 0usize;
    while outage_start.elapsed() < outage + Duration::from_secs(6) {
        // Actions start every 400 ms and each takes about seven slowed store exchanges, so
        // when the store goes, one is between its Discord call and its outcome's write.
        if killed_at.is_none() && outage_start.elapsed() >= Duration::from_secs(6) {
            fleet
                .ferret
                .as_mut()
                .expect("the fleet has FerretDB")
                .kill()
                .await;
            killed_at = Some(Instant::now());
        }
        let gi = i % casts.len();
        let c = &casts[gi];
        let target = next_target(&mut targets, gi);
        let (cmd, kind, options) = if i % 2 == 0 {
            ("ban", CaseKind::Ban, json!({"user": target.to_string()}))
        } else {
            (
                "timeout",
                CaseKind::Timeout,
                json!({"user": target.to_string(), "duration": "10m"}),
            )
        };
        let id = slash(c, cmd, options).await;
        sent.push(Sent {
            id,
            guild: c.guild,
            target,
            kind,
            during_outage: killed_at.is_some(),
        });
        i += 1;
        let pause = if killed_at.is_none() { 400 } else { 4_000 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if targets.iter().any(|t| t.len() < 2) {
            break;
        }
    }
    let remaining = outage.saturating_sub(killed_at.map_or(Duration::ZERO, |k| k.elapsed()));
    tokio::time::sleep(remaining).await;
    let ferret = fleet.ferret.as_mut().expect("the fleet has FerretDB");
    ferret.start_again().await;
    let back_at = Instant::now();
    for pod in &fleet.pods {
        if let Some(p) = &pod.mongo_proxy {
            p.set(Mode::Pass);
        }
    }

    // After the outage: every tempban lifted once, within 30 s of the store answering.
    let mut lifted_after = None;
    while back_at.elapsed() < Duration::from_secs(40) {
        let mut all = true;
        for (g, u) in &tempbanned {
            all &= audit_count(&control, *g, *u, MEMBER_BAN_REMOVE).await >= 1;
        }
        if all {
            lifted_after = Some(back_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // One action after the outage, per guild: the bot acts normally again.
    for (gi, c) in casts.iter().enumerate() {
        let target = next_target(&mut targets, gi);
        let id = slash(c, "ban", json!({"user": target.to_string()})).await;
        sent.push(Sent {
            id,
            guild: c.guild,
            target,
            kind: CaseKind::Ban,
            during_outage: false,
        });
    }
    // Let in-doubt outcomes be recorded.
    tokio::time::sleep(Duration::from_secs(10)).await;

    let mut row = checker.finish(name, &fleet).await;
    let ferret = fleet.ferret.as_ref().expect("the fleet has FerretDB");
    let store = MongoStore::connect(MongoOptions::new(ferret.uri()))
        .await
        .expect("connect to the scenario's FerretDB");
    judge(&mut row, &control, &store, &sent, &tempbanned, lifted_after).await;
    fleet.stop().await;
    row.report();
}

/// Turns what the scenario sent and what Discord and the store hold into checks.
async fn judge(
    row: &mut Row,
    control: &SimControl,
    store: &MongoStore,
    sent: &[Sent],
    tempbanned: &[(u64, u64)],
    lifted_after: Option<Duration>,
) {
    let (mut unanswered, mut twice, mut lies, mut applied_twice, mut lost_cases) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut applied, mut refused) = (0, 0);
    for s in sent {
        let (callbacks, text) = final_answer(control, &s.id, Duration::from_secs(20)).await;
        if callbacks == 0 || text.starts_with("no answer") {
            unanswered.push(format!("{} {}: {text}", s.kind, s.target));
            continue;
        }
        if callbacks > 1 {
            twice.push(format!("{} {}", s.kind, s.target));
        }
        let on_discord = audit_count(control, s.guild, s.target, action_type(s.kind)).await;
        let says_nothing_changed = text.contains("nothing was changed");
        if on_discord > 1 {
            applied_twice.push(format!("{} {}: {on_discord} times", s.kind, s.target));
        }
        match (says_nothing_changed, on_discord > 0) {
            (true, false) => refused += 1,
            (false, true) => applied += 1,
            (true, true) => lies.push(format!(
                "{} {}: answered {text:?} but Discord has it",
                s.kind, s.target
            )),
            (false, false) => lies.push(format!(
                "{} {}: answered {text:?} but Discord does not have it",
                s.kind, s.target
            )),
        }
        if on_discord == 0 {
            continue;
        }
        // Whatever the answer said, an action Discord has must have its case.
        let filter = CaseFilter {
            user_id: Some(s.target),
            kind: Some(s.kind),
            ..CaseFilter::default()
        };
        let cases = store
            .list_cases(s.guild, &filter, 0, 10)
            .await
            .expect("list cases after the outage");
        let recorded: Vec<_> = cases
            .cases
            .iter()
            .filter(|c| c.outcome == CaseOutcome::Applied)
            .collect();
        if recorded.len() != 1 {
            lost_cases.push(format!(
                "{} {} (during outage: {}): {} applied cases, outcomes {:?}",
                s.kind,
                s.target,
                s.during_outage,
                recorded.len(),
                cases.cases.iter().map(|c| &c.outcome).collect::<Vec<_>>()
            ));
        }
    }
    let mut expiry_problems = Vec::new();
    for (g, u) in tempbanned {
        let n = audit_count(control, *g, *u, MEMBER_BAN_REMOVE).await;
        if n != 1 {
            expiry_problems.push(format!("{u}: lifted {n} times"));
        }
        let filter = CaseFilter {
            user_id: Some(*u),
            kind: Some(CaseKind::Unban),
            ..CaseFilter::default()
        };
        let cases = store
            .list_cases(*g, &filter, 0, 10)
            .await
            .expect("list unban cases");
        let ok = cases.cases.len() == 1 && cases.cases[0].outcome == CaseOutcome::Applied;
        if !ok {
            expiry_problems.push(format!(
                "{u}: unban cases {:?}",
                cases.cases.iter().map(|c| &c.outcome).collect::<Vec<_>>()
            ));
        }
    }
    row.figure("moderation_actions", json!(sent.len()));
    row.figure("applied", json!(applied));
    row.figure("refused_store_down", json!(refused));
    row.figure(
        "tempbans_lifted_after_s",
        lifted_after.map_or(Value::Null, |d| {
            json!((d.as_secs_f64() * 10.0).round() / 10.0)
        }),
    );
    row.check(
        "moderation_answered_once",
        unanswered.is_empty() && twice.is_empty(),
        format!("unanswered {unanswered:?}; answered twice {twice:?}"),
    );
    row.check(
        "answers_tell_the_truth",
        lies.is_empty(),
        format!("{applied} applied, {refused} refused while the store was down; {lies:?}"),
    );
    row.check(
        "applied_once",
        applied_twice.is_empty(),
        format!("{applied_twice:?}"),
    );
    row.check(
        "no_case_lost",
        lost_cases.is_empty(),
        format!("{lost_cases:?}"),
    );
    row.check(
        "tempbans_lifted_once",
        expiry_problems.is_empty() && lifted_after.is_some_and(|d| d <= Duration::from_secs(30)),
        format!("lifted after {lifted_after:?}; {expiry_problems:?}"),
    );
}
