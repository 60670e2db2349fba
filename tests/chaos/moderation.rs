//! Moderation under faults: the case store (FerretDB, MongoDB wire protocol) slows down, goes
//! away or is cut off from one pod while tempbans expire and moderators keep acting; Discord
//! answers the moderation routes and message create with 429s and 5xx, before and after
//! carrying requests out.
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
use kyuta_worker::store::{
    ActionKind, CaseFilter, CaseOutcome, CaseStore, MongoOptions, MongoStore,
};
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
    guild: u64,
    target: u64,
    kind: ActionKind,
    /// Sent while the store was down.
    during_outage: bool,
    /// Its final answer: how long after sending it came, the callbacks, the text shown.
    answer: tokio::task::JoinHandle<Answer>,
}

/// What the bot answered to one interaction.
struct Answer {
    after: Option<Duration>,
    callbacks: u64,
    text: String,
}

/// Follows interaction `id` from the moment it was sent until its final answer (at most
/// [`ANSWER_LIMIT`]).
fn follow(control: SimControl, id: String) -> tokio::task::JoinHandle<Answer> {
    tokio::spawn(async move {
        let sent = Instant::now();
        let (callbacks, text, answered) = final_answer(&control, &id, ANSWER_LIMIT).await;
        Answer {
            after: answered.then(|| sent.elapsed()),
            callbacks,
            text,
        }
    })
}

/// How long the scenario waits for any answer.
const ANSWER_LIMIT: Duration = Duration::from_secs(90);
/// How soon a moderator must see the final answer, store outage or not: the store's
/// operation deadline, the outcome's inline retry, and the Discord calls.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// The guilds the scenario acts in: one on each pod.
fn guilds(fleet: &Fleet) -> Vec<GuildCast> {
    let mut by_shard: BTreeMap<u32, GuildCast> = BTreeMap::new();
    for n in 0..fleet.spec.guilds {
        let g = fleet.sim.world().guild_id(n);
        let shard = shard_of(g, fleet.spec.shards);
        if shard.is_multiple_of(fleet.spec.per_pod) && !by_shard.contains_key(&shard) {
            by_shard.insert(shard, GuildCast::of(&fleet.sim, g));
        }
    }
    by_shard.into_values().collect()
}

/// The interaction's final answer: the edited original after a defer, the response otherwise
/// (waits for the edit at most `limit`), and whether it came.
async fn final_answer(control: &SimControl, id: &str, limit: Duration) -> (u64, String, bool) {
    let end = Instant::now() + limit;
    loop {
        let it = control.get(&format!("/interactions/{id}")).await;
        let callbacks = it["callbacks"].as_u64().unwrap_or(0);
        let deferred = it["response"]["type"] == json!(5);
        // A defer's original is Discord's loading message (no text) until it is edited.
        let original = shown_text(&it["original"]);
        if !it["original"].is_null() && !original.trim().is_empty() {
            return (callbacks, original, true);
        }
        if it["acknowledged"] == json!(true) && !deferred && !it["response"].is_null() {
            return (callbacks, shown_text(&it["response"]), true);
        }
        if Instant::now() >= end {
            return (callbacks, format!("no answer: {it}"), false);
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

fn action_type(kind: ActionKind) -> u64 {
    match kind {
        ActionKind::Ban | ActionKind::Tempban => MEMBER_BAN_ADD,
        ActionKind::Unban => MEMBER_BAN_REMOVE,
        _ => MEMBER_UPDATE,
    }
}

/// The fleet of the store scenarios: two pods, cases in the scenario's FerretDB.
fn mongo_fleet() -> FleetSpec {
    FleetSpec {
        shards: 4,
        per_pod: 2,
        guilds: 40,
        mongo: true,
    }
}

/// The owners of one guild per pod, acting on members of their guild.
struct Moderators {
    control: SimControl,
    casts: Vec<GuildCast>,
    targets: Vec<Vec<u64>>,
    sent: Vec<Sent>,
    tempbanned: Vec<(u64, u64)>,
    acts: usize,
    /// Guilds whose mod log was set to their `#general`.
    modlog: Vec<(u64, u64)>,
}

impl Moderators {
    fn new(fleet: &Fleet) -> Self {
        let casts = guilds(fleet);
        assert_eq!(casts.len(), 2, "one guild on each pod");
        Self {
            control: SimControl::new(fleet.sim.addr()),
            targets: casts.iter().map(|c| c.members.clone()).collect(),
            casts,
            sent: Vec::new(),
            tempbanned: Vec::new(),
            acts: 0,
            modlog: Vec::new(),
        }
    }

    /// Sets every guild's mod log to its `#general`.
    async fn set_modlog(&mut self) {
        for c in &self.casts {
            let options = json!({"channel": c.general.to_string()});
            let id = self
                .control
                .slash(c.guild, c.general, c.owner, "modlog", options)
                .await;
            final_answer(&self.control, &id, Duration::from_secs(10)).await;
            self.modlog.push((c.guild, c.general));
        }
    }

    /// Whether every guild has members left to act on.
    fn has_targets(&self) -> bool {
        self.targets.iter().all(|t| t.len() >= 2)
    }

    async fn send(&mut self, gi: usize, kind: ActionKind, options: Value, during_outage: bool) {
        let c = &self.casts[gi];
        let target = self.targets[gi].pop().expect("enough members to act on");
        let mut options = options;
        options["user"] = json!(target.to_string());
        let cmd = match kind {
            ActionKind::Timeout => "timeout",
            _ => "ban",
        };
        let id = self
            .control
            .slash(c.guild, c.general, c.owner, cmd, options)
            .await;
        if kind == ActionKind::Tempban {
            self.tempbanned.push((c.guild, target));
        }
        self.sent.push(Sent {
            answer: follow(self.control, id),
            guild: c.guild,
            target,
            kind,
            during_outage,
        });
    }

    /// A tempban of `secs` in guild `gi`.
    async fn tempban(&mut self, gi: usize, secs: u64) {
        let options = json!({"duration": format!("{secs}s")});
        self.send(gi, ActionKind::Tempban, options, false).await;
    }

    /// The next action in turn: a ban or a 10-minute timeout, alternating guilds.
    async fn act(&mut self, during_outage: bool) {
        let (i, gi) = (self.acts, self.acts % self.casts.len());
        self.acts += 1;
        if i % 2 == 0 {
            self.send(gi, ActionKind::Ban, json!({}), during_outage)
                .await;
        } else {
            let options = json!({"duration": "10m"});
            self.send(gi, ActionKind::Timeout, options, during_outage)
                .await;
        }
    }

    /// Waits (at most 40 s) until every tempban was lifted; how long it took.
    async fn wait_lifted(&self) -> Option<Duration> {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(40) {
            let mut all = true;
            for (g, u) in &self.tempbanned {
                all &= audit_count(&self.control, *g, *u, MEMBER_BAN_REMOVE).await >= 1;
            }
            if all {
                return Some(t0.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        None
    }

    /// One ban per guild (the bot acts normally again), then time for in-doubt outcomes to
    /// be written; then the checks.
    async fn finish(
        mut self,
        name: &str,
        checker: Checker,
        fleet: Fleet,
        lifted_after: Option<Duration>,
    ) {
        for gi in 0..self.casts.len() {
            self.send(gi, ActionKind::Ban, json!({}), false).await;
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let mut row = checker.finish(name, &fleet).await;
        let ferret = fleet.ferret.as_ref().expect("the fleet has FerretDB");
        let store = MongoStore::connect(MongoOptions::new(ferret.uri()))
            .await
            .expect("connect to the scenario's FerretDB");
        let control = self.control;
        judge(
            &mut row,
            &control,
            &store,
            self.sent,
            &self.tempbanned,
            lifted_after,
        )
        .await;
        judge_modlog(&mut row, &control, &store, &self.modlog).await;
        fleet.stop().await;
        row.report();
    }
}

fn set_mongo_proxies(fleet: &Fleet, mode: Mode) {
    for pod in &fleet.pods {
        if let Some(p) = &pod.mongo_proxy {
            p.set(mode);
        }
    }
}

/// FerretDB slows down, then is killed while actions are in flight, and comes back after
/// 30 s with its data. Tempbans expire during the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_down_30s() {
    let name = "mongodb_down_30s";
    let mut fleet = Fleet::start(name, mongo_fleet()).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    let mut mods = Moderators::new(&fleet);
    for gi in 0..2 {
        mods.tempban(gi, 12).await;
        mods.tempban(gi, 12).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The store slows down (300 ms per exchange). Actions start every 400 ms and each takes
    // about seven slowed exchanges, so when the store goes 6 s later, one is between its
    // Discord call and its outcome's write.
    set_mongo_proxies(&fleet, Mode::Delay(Duration::from_millis(300)));
    let slow = Instant::now();
    while slow.elapsed() < Duration::from_secs(6) && mods.has_targets() {
        mods.act(false).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let ferret = fleet.ferret.as_mut().expect("the fleet has FerretDB");
    ferret.kill().await;
    let outage = profile().scale(Duration::from_secs(30));
    let down = Instant::now();
    while down.elapsed() < outage {
        if mods.has_targets() {
            mods.act(true).await;
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let ferret = fleet.ferret.as_mut().expect("the fleet has FerretDB");
    ferret.start_again().await;
    set_mongo_proxies(&fleet, Mode::Pass);
    let lifted_after = mods.wait_lifted().await;
    mods.finish(name, checker, fleet, lifted_after).await;
}

/// Discord has bad minutes on the routes moderation uses while moderators act and the mod log
/// posts: 429s with `retry_after`, 5xx before a request is carried out, and 502s after it was
/// (the worker cannot tell those apart from the answer alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_storms_on_moderation_routes() {
    let name = "rest_storms_on_moderation_routes";
    let fleet = Fleet::start(name, mongo_fleet()).await;
    let mut checker = Checker::start(&fleet, Some(PING_EVERY));
    let mut mods = Moderators::new(&fleet);
    mods.set_modlog().await;
    mods.tempban(0, 8).await;
    mods.tempban(1, 8).await;
    let ban = "PUT /guilds/{guild}/bans/{user}";
    let unban = "DELETE /guilds/{guild}/bans/{user}";
    let member = "PATCH /guilds/{guild}/members/{user}";
    let message = "POST /channels/{channel}/messages";
    let storm: [(&str, Value); 8] = [
        (ban, json!({"status": 429, "ms": 700, "count": 2})),
        (member, json!({"status": 503, "count": 2})),
        (message, json!({"status": 500, "count": 2})),
        (ban, json!({"status": 502, "after_apply": true, "count": 1})),
        (
            member,
            json!({"status": 502, "after_apply": true, "count": 1}),
        ),
        (
            message,
            json!({"status": 502, "after_apply": true, "count": 1}),
        ),
        (
            unban,
            json!({"status": 502, "after_apply": true, "count": 1}),
        ),
        (member, json!({"status": 429, "ms": 500, "count": 2})),
    ];
    let length = profile().scale(Duration::from_secs(30));
    let t0 = Instant::now();
    let mut i = 0;
    while t0.elapsed() < length {
        let (route, fault) = &storm[i % storm.len()];
        let mut fault = fault.clone();
        fault["kind"] = json!("route");
        fault["route"] = json!(route);
        if fault["status"] == json!(429) {
            checker.injected_429s(fault["count"].as_u64().unwrap_or(1));
        }
        mods.control.fault(fault).await;
        if mods.has_targets() {
            mods.act(true).await;
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    let (status, body) =
        kyuta_tests::worker::http(fleet.sim.addr(), "DELETE", "/_sim/faults", None).await;
    assert_eq!(status, 200, "clear the faults: {body}");
    let lifted_after = mods.wait_lifted().await;
    mods.finish(name, checker, fleet, lifted_after).await;
}

/// One pod's connection to FerretDB drops every packet for 40 s (the server is fine, the
/// other pod reaches it). Without a deadline on store operations, that pod's moderation
/// answers and tempban expiries wait for the whole partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_partitioned_from_one_pod() {
    let name = "mongodb_partitioned_from_one_pod";
    let fleet = Fleet::start(name, mongo_fleet()).await;
    let checker = Checker::start(&fleet, Some(PING_EVERY));
    let mut mods = Moderators::new(&fleet);
    mods.tempban(0, 10).await;
    mods.tempban(1, 10).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let proxy = fleet.pods[0]
        .mongo_proxy
        .as_ref()
        .expect("a FerretDB proxy");
    proxy.set(Mode::Blackhole);
    let partition = profile().scale(Duration::from_secs(40));
    let cut = Instant::now();
    while cut.elapsed() < partition {
        if mods.has_targets() {
            mods.act(true).await;
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    proxy.set(Mode::Pass);
    let lifted_after = mods.wait_lifted().await;
    mods.finish(name, checker, fleet, lifted_after).await;
}

/// Every case of a guild with a mod log is posted there exactly once (`Case #N · Kind`).
async fn judge_modlog(
    row: &mut Row,
    control: &SimControl,
    store: &MongoStore,
    modlog: &[(u64, u64)],
) {
    if modlog.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    let mut cases_n = 0;
    for (guild, channel) in modlog {
        let page = store
            .list_cases(*guild, &CaseFilter::default(), 0, 100)
            .await
            .expect("list the guild's cases");
        let titles: Vec<String> = control
            .messages(*channel)
            .await
            .iter()
            .flat_map(|m| m["embeds"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["title"].as_str().map(str::to_owned))
            .collect();
        for case in page
            .cases
            .iter()
            .filter(|c| c.outcome != CaseOutcome::Pending)
        {
            cases_n += 1;
            let prefix = format!("Case #{} ·", case.number);
            let n = titles.iter().filter(|t| t.starts_with(&prefix)).count();
            if n != 1 {
                problems.push(format!(
                    "guild {guild} case #{} ({}): posted {n} times",
                    case.number, case.kind
                ));
            }
        }
    }
    row.check(
        "modlog_posted_once",
        problems.is_empty(),
        format!("{cases_n} cases; {problems:?}"),
    );
}

/// Turns what the scenario sent and what Discord and the store hold into checks.
async fn judge(
    row: &mut Row,
    control: &SimControl,
    store: &MongoStore,
    sent: Vec<Sent>,
    tempbanned: &[(u64, u64)],
    lifted_after: Option<Duration>,
) {
    let (mut unanswered, mut twice, mut lies, mut applied_twice, mut lost_cases) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut applied, mut refused) = (0, 0);
    let (mut slowest, mut slow) = (Duration::ZERO, Vec::new());
    let actions = sent.len();
    for s in sent {
        let Answer {
            after,
            callbacks,
            text,
        } = s.answer.await.expect("the follower ran");
        let Some(after) = after else {
            unanswered.push(format!("{} {}: {text}", s.kind, s.target));
            continue;
        };
        slowest = slowest.max(after);
        if after > ANSWER_WITHIN {
            slow.push(format!(
                "{} {} after {:.1}s",
                s.kind,
                s.target,
                after.as_secs_f64()
            ));
        }
        if callbacks > 1 {
            twice.push(format!("{} {}", s.kind, s.target));
        }
        let on_discord = audit_count(control, s.guild, s.target, action_type(s.kind)).await;
        // "storage is unavailable … nothing was changed", or "Could not ban …: <why>".
        let says_nothing_changed =
            text.contains("nothing was changed") || text.contains("Could not");
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
            kind: Some(ActionKind::Unban),
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
    row.figure("moderation_actions", json!(actions));
    row.figure(
        "slowest_answer_s",
        json!((slowest.as_secs_f64() * 10.0).round() / 10.0),
    );
    row.check(
        "answered_within_20s",
        slow.is_empty(),
        format!("slowest {:.1}s; {slow:?}", slowest.as_secs_f64()),
    );
    row.figure("applied", json!(applied));
    row.figure("refused", json!(refused));
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
