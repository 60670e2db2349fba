//! The invariant checker: samples the simulator's control API and every pod's `/ready`
//! every [`SAMPLE_EVERY`] while a scenario runs, injects `/ping` interactions, and at the end
//! turns what it saw into the scenario's row: each invariant held or violated, and figures.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kyuta_tests::worker::SimControl;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fleet::{Fleet, MAX_CONCURRENCY, SESSION_STARTS, WINDOW_MS};

/// How often the checker samples.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// Longest a shard may go without a connected session.
pub const MAX_GAP: Duration = Duration::from_secs(15);
/// A connected session whose last heartbeat is older than this is not heartbeating (the
/// simulator's interval is 1 s).
const HEARTBEAT_STALE_MS: u64 = 3_500;
/// How long a pod may say Ready while a shard of its range is unserved before it counts:
/// the pod learns of a dropped connection a moment after the simulator does.
const READY_SKEW: Duration = Duration::from_millis(1_500);
/// How long two connected sessions of one shard may overlap before it counts.
const DOUBLE_SKEW: Duration = Duration::from_millis(500);

/// One pod the checker asks `/ready`.
#[derive(Debug, Clone)]
pub struct PodProbe {
    /// The pod's name.
    pub name: String,
    /// Its `/ready`.
    pub health: SocketAddr,
    /// The shards it owns.
    pub range: std::ops::Range<u32>,
    /// The shard total of its generation.
    pub total: u32,
}

/// What the checker watches: the simulator, where to send `/ping`, the shard total of the
/// generation that serves (it may change during a scenario: a reshard), and the pods (they
/// may change too: a roll).
pub struct Target {
    /// The simulator's control API.
    pub control: SimControl,
    /// Guild, channel and member to run `/ping` as, in turn.
    pub pings: Vec<(u64, u64, u64)>,
    /// The shard total of the serving generation, as last known.
    pub total: Arc<AtomicU32>,
    /// The pods running now.
    pub pods: Arc<dyn Fn() -> Vec<PodProbe> + Send + Sync>,
    /// The simulator's identify window (ms), for the bucket rule.
    pub window_ms: u64,
}

/// A guild of each shard of `shards` in the simulated world of `guilds` guilds, with its
/// general channel and its owner (who runs `/ping`).
pub fn ping_targets(sim: &kyuta_sim::Sim, guilds: u64, shards: u32) -> Vec<(u64, u64, u64)> {
    let mut by_shard: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
    for n in 0..guilds {
        let g = sim.world().guild_id(n);
        let shard = kyuta_tests::worker::shard_of(g, shards);
        if by_shard.contains_key(&shard) {
            continue;
        }
        let cast = kyuta_tests::worker::GuildCast::of(sim, g);
        by_shard.insert(shard, (g, cast.general, cast.owner));
        if by_shard.len() as u32 == shards {
            break;
        }
    }
    by_shard.into_values().collect()
}

#[derive(Default)]
struct Seen {
    samples: u64,
    /// Per shard: when it last had no connected session (since), and the longest gap.
    gap_since: BTreeMap<u32, Instant>,
    longest_gap: BTreeMap<u32, Duration>,
    /// Every gap that ended: shard, from, to.
    gaps: Vec<(u32, Instant, Instant)>,
    /// Per shard: since when it has had two or more connected sessions.
    double_since: BTreeMap<u32, Instant>,
    doubles: Vec<String>,
    /// Per (pod, shard): since when the pod says Ready while the shard is unserved.
    ready_lie_since: HashMap<(String, u32), Instant>,
    ready_lies: Vec<String>,
    /// Shards served at the last sample.
    served: BTreeMap<u32, bool>,
    /// Interactions sent: id, shard, whether the shard was served when sent, when.
    interactions: Vec<(String, u32, bool, Instant)>,
    /// Per shard: when it lost a session (no connected session left, or the session ended
    /// and another took its place: events in flight went with it).
    gap_starts: BTreeMap<u32, Vec<Instant>>,
    /// Per shard: the connected session ids at the last sample.
    session_ids: BTreeMap<u32, Vec<String>>,
}

/// A running checker (see the module docs).
pub struct Checker {
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    control: SimControl,
    started: Instant,
    total: Arc<AtomicU32>,
    window_ms: u64,
    max_gap: Duration,
    injected_429s: u64,
}

impl Checker {
    /// Starts sampling `fleet`, and (when `ping_every` is set) sends `/ping` in a guild of a
    /// shard chosen in turn at that pace.
    pub fn start(fleet: &Fleet, ping_every: Option<Duration>) -> Self {
        let shards = fleet.spec.shards;
        let per_pod = fleet.spec.per_pod;
        let probes: Vec<PodProbe> = fleet
            .pods
            .iter()
            .map(|p| PodProbe {
                name: p.name.clone(),
                health: p.proc().health_addr,
                range: p.range(per_pod, shards),
                total: shards,
            })
            .collect();
        Self::start_on(
            Target {
                control: SimControl::new(fleet.sim.addr()),
                pings: ping_targets(&fleet.sim, fleet.spec.guilds, shards),
                total: Arc::new(AtomicU32::new(shards)),
                pods: Arc::new(move || probes.clone()),
                window_ms: WINDOW_MS,
            },
            ping_every,
        )
    }

    /// Starts sampling `target` (see [`Checker::start`]).
    pub fn start_on(target: Target, ping_every: Option<Duration>) -> Self {
        let control = target.control;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = CancellationToken::new();
        let mut tasks = vec![tokio::spawn(sample_loop(
            control,
            Arc::clone(&target.total),
            Arc::clone(&target.pods),
            Arc::clone(&seen),
            stop.clone(),
        ))];
        if let Some(every) = ping_every {
            tasks.push(tokio::spawn(ping_loop(
                control,
                target.pings,
                Arc::clone(&target.total),
                every,
                Arc::clone(&seen),
                stop.clone(),
            )));
        }
        Self {
            seen,
            stop,
            tasks,
            control,
            started: Instant::now(),
            total: target.total,
            window_ms: target.window_ms,
            max_gap: MAX_GAP,
            injected_429s: 0,
        }
    }

    /// The longest time a shard had no connected session within `from..to`, and that shard.
    pub fn longest_gap_in(&self, from: Instant, to: Instant) -> (Duration, Option<u32>) {
        let seen = self.seen.lock().unwrap();
        let open = seen
            .gap_since
            .iter()
            .map(|(shard, since)| (*shard, *since, to));
        seen.gaps
            .iter()
            .copied()
            .chain(open)
            .filter(|(_, start, end)| *start < to && *end > from)
            .map(|(shard, start, end)| (end.min(to) - start.max(from), Some(shard)))
            .max()
            .unwrap_or_default()
    }

    /// Allows a longer gap than [`MAX_GAP`] (a scenario whose fault must stop shards).
    #[must_use]
    pub fn allow_gap(mut self, gap: Duration) -> Self {
        self.max_gap = gap;
        self
    }

    /// Counts `n` 429s the scenario injected itself: they are not the bot's, so the 1 % rule
    /// applies to the others.
    pub fn injected_429s(&mut self, n: u64) {
        self.injected_429s += n;
    }

    /// Whether every shard has a connected session right now (as last sampled).
    #[must_use]
    pub fn all_served(&self) -> bool {
        let seen = self.seen.lock().unwrap();
        seen.served.len() as u32 == self.total.load(Ordering::Relaxed)
            && seen.served.values().all(|s| *s)
    }

    /// Waits until every shard has a connected session (at most `limit`); returns how long
    /// it took, `None` when it did not happen.
    pub async fn wait_all_served(&self, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if self.all_served() {
                return Some(t0.elapsed());
            }
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
        None
    }

    /// Stops sampling and judges: the row for the table.
    pub async fn finish(self, scenario: &str, fleet: &Fleet) -> Row {
        self.finish_with(scenario, &fleet.logs()).await
    }

    /// [`Checker::finish`] for any fleet: `logs` are every process's logs (for the token).
    pub async fn finish_with(self, scenario: &str, logs: &str) -> Row {
        self.stop.cancel();
        let mut crashed = Vec::new();
        for t in self.tasks {
            if let Err(e) = t.await {
                crashed.push(e.to_string());
            }
        }
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        let stats = self.control.stats().await;
        let mut row = Row::new(scenario, self.started.elapsed());
        // The checker itself: it sampled all along (at least half the planned samples).
        let planned = self.started.elapsed().as_millis() / SAMPLE_EVERY.as_millis();
        row.check(
            "checker_sampled",
            crashed.is_empty() && u128::from(seen.samples) * 2 >= planned,
            format!(
                "{} samples of {planned} planned; crashed: {crashed:?}",
                seen.samples
            ),
        );

        // 1. One session per shard, no long gap.
        let mut longest = seen.longest_gap.clone();
        for (shard, since) in &seen.gap_since {
            let d = since.elapsed();
            let e = longest.entry(*shard).or_default();
            *e = (*e).max(d);
        }
        let worst = longest.values().copied().max().unwrap_or_default();
        row.figure(
            "longest_gap_s",
            json!((worst.as_secs_f64() * 10.0).round() / 10.0),
        );
        row.check(
            "one_session_per_shard",
            seen.doubles.is_empty() && worst <= self.max_gap,
            format!(
                "longest gap {:.1}s (limit {}s){}",
                worst.as_secs_f64(),
                self.max_gap.as_secs(),
                if seen.doubles.is_empty() {
                    String::new()
                } else {
                    format!("; two sessions: {:?}", seen.doubles)
                }
            ),
        );
        // 2. Ready means served.
        row.check(
            "ready_means_serving",
            seen.ready_lies.is_empty(),
            format!("{:?}", seen.ready_lies),
        );
        // 3. Every interaction answered exactly once.
        let (mut answered, mut lost_served, mut lost_unserved, mut twice) = (0, 0, 0, 0);
        let mut in_flight = 0;
        for (id, shard, served, sent) in &seen.interactions {
            let it = self.control.get(&format!("/interactions/{id}")).await;
            let callbacks = it["callbacks"].as_u64().unwrap_or(0);
            let ok = it["acknowledged"] == json!(true);
            // Its shard lost its session before the 3 s answer deadline (the process that
            // received it was killed): the event is gone with that process.
            let dropped_with_session = seen.gap_starts.get(shard).is_some_and(|starts| {
                starts
                    .iter()
                    .any(|g| *g >= *sent && g.duration_since(*sent) <= Duration::from_secs(3))
            });
            match (ok, callbacks) {
                (true, 1) => answered += 1,
                (true, _) => twice += 1,
                (false, _) if *served && dropped_with_session => in_flight += 1,
                (false, _) if *served => lost_served += 1,
                (false, _) => lost_unserved += 1,
            }
        }
        row.figure("interactions", json!(seen.interactions.len()));
        row.figure("lost", json!(lost_served + lost_unserved + in_flight));
        row.figure("duplicated", json!(twice));
        row.check(
            "interactions_exactly_once",
            lost_served == 0 && twice == 0,
            format!(
                "{answered} answered once, {lost_served} lost while their shard stayed connected, \
                 {lost_unserved} sent while it had no session (Discord drops those too), \
                 {in_flight} in flight when their shard's session was lost, {twice} answered twice"
            ),
        );
        // 4. Identifies: budget, bucket rule, no fatal closes.
        let identifies: Vec<(u32, u64)> = stats["identifies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["shard"][0].as_u64().unwrap_or(0) as u32,
                    r["at_ms"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        row.figure("identifies", json!(identifies.len()));
        let mut problems = Vec::new();
        if identifies.len() as u32 > SESSION_STARTS {
            problems.push(format!(
                "{} identifies > {SESSION_STARTS}",
                identifies.len()
            ));
        }
        if stats["identifies_refused"].as_u64().unwrap_or(0) > 0 {
            problems.push(format!("refused: {}", stats["refused_identifies"]));
        }
        let mut by_bucket: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for (shard, at) in &identifies {
            by_bucket
                .entry(shard % MAX_CONCURRENCY)
                .or_default()
                .push(*at);
        }
        for (bucket, mut times) in by_bucket {
            times.sort_unstable();
            for w in times.windows(2) {
                if w[1] - w[0] + self.window_ms / 10 < self.window_ms {
                    problems.push(format!(
                        "bucket {bucket}: identifies {} ms apart",
                        w[1] - w[0]
                    ));
                }
            }
        }
        for code in ["4008", "4010", "4011", "4004"] {
            if let Some(n) = stats["closes"][code].as_u64().filter(|n| *n > 0) {
                problems.push(format!("{n} closes with {code}"));
            }
        }
        row.check("identify_rules", problems.is_empty(), problems.join("; "));
        // 5. REST: 429s at most 1 %, invalid requests far below Discord's limit.
        let sum = |v: &Value| -> u64 {
            v.as_object()
                .map(|o| o.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0)
        };
        let requests = sum(&stats["rest_requests"]);
        let r429 = sum(&stats["rest_429s"]).saturating_sub(self.injected_429s);
        let invalid = stats["invalid_requests"].as_u64().unwrap_or(0);
        row.figure("rest_requests", json!(requests));
        row.figure("rest_429s", json!(r429));
        row.check(
            "rest_limits",
            r429 * 100 <= requests.max(1) && invalid < 1_000,
            format!(
                "{r429} 429s of {requests} requests ({} more injected), {invalid} invalid requests",
                self.injected_429s
            ),
        );
        // Secrets.
        row.check(
            "token_never_logged",
            !logs.contains(crate::fleet::TOKEN),
            if logs.contains(crate::fleet::TOKEN) {
                "the token appears in a pod's logs".to_owned()
            } else {
                "absent from every pod's logs".to_owned()
            },
        );
        row.figure("samples", json!(seen.samples));
        row
    }
}

async fn sample_loop(
    control: SimControl,
    total: Arc<AtomicU32>,
    pods: Arc<dyn Fn() -> Vec<PodProbe> + Send + Sync>,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !stop.is_cancelled() {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let shards = total.load(Ordering::Relaxed);
        let probes = pods();
        let stats = control.stats().await;
        let now = Instant::now();
        // Per (shard total, shard): connected sessions, and whether one heartbeats.
        let mut connected: BTreeMap<(u32, u32), (u32, bool)> = BTreeMap::new();
        let mut ids: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for s in stats["sessions"].as_array().into_iter().flatten() {
            if s["connected"] != json!(true) {
                continue;
            }
            let of = s["shard"][1].as_u64().unwrap_or(0) as u32;
            let shard = s["shard"][0].as_u64().unwrap_or(0) as u32;
            let beating = s["heartbeat_age_ms"]
                .as_u64()
                .is_some_and(|a| a <= HEARTBEAT_STALE_MS);
            let e = connected.entry((of, shard)).or_insert((0, false));
            e.0 += 1;
            e.1 |= beating;
            if of == shards {
                ids.entry(shard)
                    .or_default()
                    .push(s["session_id"].as_str().unwrap_or_default().to_owned());
            }
        }
        // Per pod: Ready, and the shards it says it handed over (another process runs them,
        // so they are that process's to serve).
        let mut ready = Vec::new();
        for p in &probes {
            let answer = probe_ready(p.health).await;
            let (ok, handed) = match answer {
                Some((200, body)) => (true, handed_over(&body)),
                _ => (false, Vec::new()),
            };
            ready.push((ok, handed));
        }
        let mut seen = seen.lock().unwrap();
        seen.samples += 1;
        for (shard, now_ids) in &ids {
            let ended = seen
                .session_ids
                .get(shard)
                .is_some_and(|before| before.iter().any(|b| !now_ids.contains(b)));
            if ended {
                seen.gap_starts.entry(*shard).or_default().push(now);
            }
        }
        seen.session_ids = ids;
        seen.served.retain(|shard, _| *shard < shards);
        for shard in 0..shards {
            let (n, _) = connected
                .get(&(shards, shard))
                .copied()
                .unwrap_or((0, false));
            seen.served.insert(shard, n >= 1);
            if n == 0 {
                if let std::collections::btree_map::Entry::Vacant(e) = seen.gap_since.entry(shard) {
                    e.insert(now);
                    seen.gap_starts.entry(shard).or_default().push(now);
                }
            } else if let Some(since) = seen.gap_since.remove(&shard) {
                seen.gaps.push((shard, since, now));
                let d = now - since;
                let e = seen.longest_gap.entry(shard).or_default();
                *e = (*e).max(d);
            }
            if n >= 2 {
                let since = *seen.double_since.entry(shard).or_insert(now);
                if now - since >= DOUBLE_SKEW
                    && !seen
                        .doubles
                        .iter()
                        .any(|d| d.starts_with(&format!("shard {shard}:")))
                {
                    seen.doubles
                        .push(format!("shard {shard}: {n} connected sessions"));
                }
            } else {
                seen.double_since.remove(&shard);
            }
        }
        // Shards of a serving generation that are gone (a shrink): no gap to track.
        seen.gap_since.retain(|shard, _| *shard < shards);
        // Ready means serving, for each pod in its own generation.
        for (p, (ok, handed)) in probes.iter().zip(&ready) {
            for shard in p.range.clone() {
                if handed.contains(&shard) {
                    continue;
                }
                let (n, beating) = connected
                    .get(&(p.total, shard))
                    .copied()
                    .unwrap_or((0, false));
                let served = n >= 1 && beating;
                let key = (p.name.clone(), shard);
                if *ok && !served {
                    let since = *seen.ready_lie_since.entry(key).or_insert(now);
                    if now - since >= READY_SKEW {
                        let msg = format!("{} Ready while shard {shard} is not served", p.name);
                        if !seen.ready_lies.contains(&msg) {
                            seen.ready_lies.push(msg);
                        }
                    }
                } else {
                    seen.ready_lie_since.remove(&key);
                }
            }
        }
    }
}

/// `GET /ready` on a pod that may be dead or stopped: the status and body, or `None` when
/// it does not answer within 300 ms (never panics).
async fn probe_ready(addr: SocketAddr) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::time::timeout(Duration::from_millis(300), async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /ready HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.ok()?;
        let text = String::from_utf8_lossy(&raw);
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        Some((status, body))
    })
    .await
    .ok()
    .flatten()
}

/// The shards a `/ready` 200 body says were handed over.
fn handed_over(body: &str) -> Vec<u32> {
    body.lines()
        .find_map(|l| l.strip_prefix("handed over (run by another process): "))
        .map(|ids| {
            ids.split(", ")
                .filter_map(|i| i.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

async fn ping_loop(
    control: SimControl,
    targets: Vec<(u64, u64, u64)>,
    total: Arc<AtomicU32>,
    every: Duration,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
) {
    let mut i = 0usize;
    // Bounded: one interaction per tick until stopped, and at most 10 000.
    while !stop.is_cancelled() && i < 10_000 && !targets.is_empty() {
        let (guild, channel, user) = targets[i % targets.len()];
        i += 1;
        let shard = kyuta_tests::worker::shard_of(guild, total.load(Ordering::Relaxed));
        let served = seen
            .lock()
            .unwrap()
            .served
            .get(&shard)
            .copied()
            .unwrap_or(false);
        // When it was sent: before the request, less a sample (the `served` it was sent
        // with is up to a sample old), so a session that ended as it went counts as in flight.
        let sent = Instant::now()
            .checked_sub(SAMPLE_EVERY)
            .unwrap_or_else(Instant::now);
        let id = control.slash(guild, channel, user, "ping", json!({})).await;
        seen.lock()
            .unwrap()
            .interactions
            .push((id, shard, served, sent));
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    // Give the last ones time to be answered.
    tokio::time::sleep(Duration::from_secs(4)).await;
}

/// One scenario's line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// Invariant → (held, detail).
    pub checks: BTreeMap<String, (bool, String)>,
    /// Figures.
    pub figures: BTreeMap<String, Value>,
}

impl Row {
    fn new(scenario: &str, took: Duration) -> Self {
        let mut r = Self {
            scenario: scenario.to_owned(),
            checks: BTreeMap::new(),
            figures: BTreeMap::new(),
        };
        r.figure("seconds", json!(took.as_secs()));
        r
    }

    /// Records an invariant.
    pub fn check(&mut self, name: &str, held: bool, detail: String) {
        self.checks.insert(name.to_owned(), (held, detail));
    }

    /// Records a figure.
    pub fn figure(&mut self, name: &str, value: Value) {
        self.figures.insert(name.to_owned(), value);
    }

    /// The invariants every scenario checks, in table order.
    pub const COMMON: [&'static str; 6] = [
        "one_session_per_shard",
        "ready_means_serving",
        "interactions_exactly_once",
        "identify_rules",
        "rest_limits",
        "token_never_logged",
    ];

    /// The row as a line of the Markdown table (see `tests/chaos/run`).
    #[must_use]
    pub fn markdown(&self) -> String {
        let mark = |name: &str| match self.checks.get(name) {
            Some((true, _)) => "held".to_owned(),
            Some((false, _)) => "**violated**".to_owned(),
            None => "–".to_owned(),
        };
        let common: Vec<String> = Self::COMMON.iter().map(|c| mark(c)).collect();
        let extra: Vec<String> = self
            .checks
            .iter()
            .filter(|(k, _)| !Self::COMMON.contains(&k.as_str()))
            .map(|(k, (held, _))| format!("{k}: {}", if *held { "held" } else { "**violated**" }))
            .collect();
        let f = |k: &str| {
            self.figures
                .get(k)
                .map_or("–".to_owned(), ToString::to_string)
        };
        format!(
            "| {} | {} | {} | {} s | {}/{}/{} | {} | {}/{} | {} |",
            self.scenario,
            common.join(" | "),
            if extra.is_empty() {
                "–".to_owned()
            } else {
                extra.join("; ")
            },
            f("longest_gap_s"),
            f("interactions"),
            f("lost"),
            f("duplicated"),
            f("identifies"),
            f("rest_429s"),
            f("rest_requests"),
            f("seconds"),
        )
    }

    /// Appends the row to `target/chaos/results.jsonl` (the table `tests/chaos/run` prints),
    /// then fails the test when an invariant was violated.
    pub fn report(&self) {
        let line = json!({
            "scenario": self.scenario,
            "profile": crate::profile().name(),
            "checks": self.checks.iter().map(|(k, (held, d))| (k.clone(), json!({"held": held, "detail": d}))).collect::<serde_json::Map<_, _>>(),
            "figures": self.figures,
        });
        let dir = kyuta_tests::workspace_root().join("target/chaos");
        std::fs::create_dir_all(&dir).expect("target/chaos");
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("results.jsonl"))
            .expect("open results.jsonl");
        writeln!(f, "{line}").expect("write results.jsonl");
        let mut t = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("table.md"))
            .expect("open table.md");
        writeln!(t, "{}", self.markdown()).expect("write table.md");
        let violated: Vec<String> = self
            .checks
            .iter()
            .filter(|(_, (held, _))| !held)
            .map(|(k, (_, d))| format!("{k}: {d}"))
            .collect();
        eprintln!("{}: {}", self.scenario, line);
        assert!(
            violated.is_empty(),
            "{}: invariants violated:\n  {}",
            self.scenario,
            violated.join("\n  ")
        );
    }
}
