//! The firehose: generated dispatches (MESSAGE_CREATE, MESSAGE_REACTION_ADD, TYPING_START,
//! PRESENCE_UPDATE) streamed at a set rate on the shards' connections, to load a bot without
//! the cost of one control call per event. `POST /_sim/firehose` starts a run,
//! `GET /_sim/firehose/{id}` reports it, `DELETE /_sim/firehose/{id}` stops it.

use crate::frames::{write_member_partial, write_user};
use crate::intents;
use crate::state::Shared;
use crate::util::{hash3, iso, next_snowflake, now_ms, snowflake_ms};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub(crate) mod plan;

pub use plan::{Kind, MAX_COUNT, MAX_RATE, Plan, Spread};
pub(crate) use plan::{Run, report};

/// Frames a connection may have queued before the firehose drops events for it (a client
/// that does not read; Discord would end such a connection).
pub const BACKLOG_LIMIT: usize = 100_000;
/// Generated authors per guild (the first plain members).
const AUTHORS: usize = 4;
/// Guild templates kept per run.
const TEMPLATE_CACHE: usize = 20_000;
/// Generator tick.
const TICK: Duration = Duration::from_millis(2);

/// Starts a run in the background; returns its id and counters.
pub(crate) fn start(sh: &Arc<Shared>, plan: Plan) -> (u64, Arc<Run>) {
    let run = Arc::new(Run::default());
    let id = sh.lock().firehoses.add(plan.clone(), run.clone());
    let (sh, r) = (sh.clone(), run.clone());
    tokio::spawn(async move { drive(sh, plan, r).await });
    (id, run)
}

/// What the generator needs of one guild: ids and a few pre-serialized authors.
struct Template {
    guild_id: u64,
    channel_id: u64,
    /// `(user id, user JSON, member JSON without user)`.
    authors: Vec<(u64, String, String)>,
}

/// The firehose's template of guild `g`: its `#general` (or second channel) and up to
/// [`AUTHORS`] human authors, serialized once.
fn build_template(g: &crate::world::Guild) -> Option<Template> {
    let channel_id = g
        .channels
        .iter()
        .find(|c| c.name == "general")
        .or(g.channels.get(1))?
        .id;
    let authors: Vec<_> = g
        .members
        .values()
        .filter(|m| !m.user.bot)
        .take(AUTHORS)
        .map(|m| {
            let (mut u, mut p) = (Vec::new(), Vec::new());
            write_user(&mut u, &m.user);
            write_member_partial(&mut p, m);
            (
                m.user.id,
                String::from_utf8(u).unwrap_or_default(),
                String::from_utf8(p).unwrap_or_default(),
            )
        })
        .collect();
    (!authors.is_empty()).then_some(Template {
        guild_id: g.id,
        channel_id,
        authors,
    })
}

fn template(sh: &Shared, n: u64) -> Option<Template> {
    {
        let st = sh.lock();
        if let Some(g) = st.guilds.get(&n) {
            return build_template(g);
        }
    }
    build_template(&sh.world.generate(n))
}

/// Writes one event's `d`.
fn payload(out: &mut Vec<u8>, kind: Kind, t: &Template, k: u64, content: bool) {
    let (uid, user, member) = &t.authors[(k % t.authors.len() as u64) as usize];
    match kind {
        Kind::Message => {
            let id = next_snowflake();
            let _ = write!(
                out,
                "{{\"id\":\"{id}\",\"channel_id\":\"{}\",\"guild_id\":\"{}\",\"author\":{user},\"member\":{member},\"content\":\"",
                t.channel_id, t.guild_id,
            );
            if content {
                let _ = write!(out, "firehose message {k}");
            }
            let _ = write!(
                out,
                "\",\"timestamp\":\"{}\",\"edited_timestamp\":null,\"tts\":false,\"mention_everyone\":false,\"mentions\":[],\"mention_roles\":[],\"attachments\":[],\"embeds\":[],\"components\":[],\"pinned\":false,\"type\":0,\"flags\":0}}",
                iso(snowflake_ms(id)),
            );
        }
        Kind::Reaction => {
            let _ = write!(
                out,
                "{{\"user_id\":\"{uid}\",\"channel_id\":\"{}\",\"message_id\":\"{}\",\"guild_id\":\"{}\",\"member\":{{\"user\":{user},{}}},\"emoji\":{{\"id\":null,\"name\":\"👍\"}},\"burst\":false,\"type\":0}}",
                t.channel_id,
                next_snowflake(),
                t.guild_id,
                &member[1..member.len() - 1],
            );
        }
        Kind::Typing => {
            let _ = write!(
                out,
                "{{\"channel_id\":\"{}\",\"guild_id\":\"{}\",\"user_id\":\"{uid}\",\"timestamp\":{},\"member\":{{\"user\":{user},{}}}}}",
                t.channel_id,
                t.guild_id,
                now_ms() / 1000,
                &member[1..member.len() - 1],
            );
        }
        Kind::Presence => {
            let status = ["online", "idle", "dnd"][(k % 3) as usize];
            let _ = write!(
                out,
                "{{\"user\":{{\"id\":\"{uid}\"}},\"guild_id\":\"{}\",\"status\":\"{status}\",\"activities\":[],\"client_status\":{{\"desktop\":\"{status}\"}}}}",
                t.guild_id,
            );
        }
    }
}

/// One target shard of a tick: its session, and its guilds.
struct Target {
    session: Option<(String, u64)>,
    guilds: Arc<Vec<Vec<u32>>>,
    shard: u32,
}

async fn drive(sh: Arc<Shared>, plan: Plan, run: Arc<Run>) {
    let started = Instant::now();
    let mut templates: HashMap<u64, Option<Arc<Template>>> = HashMap::new();
    let mut done = 0u64;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let per_tick_cap = (plan.events_per_second / 20).max(1);
    let mut buf = Vec::with_capacity(2048);
    let mut buf_plain = Vec::with_capacity(2048);
    while done < plan.count && !run.stop.load(Ordering::Relaxed) && !sh.shutdown.is_cancelled() {
        tick.tick().await;
        let elapsed = started.elapsed();
        let due = ((u128::from(plan.events_per_second) * elapsed.as_micros() / 1_000_000) as u64)
            .min(plan.count);
        let batch = due.saturating_sub(done).min(per_tick_cap);
        if batch == 0 {
            continue;
        }
        // The target shards and their sessions, once per tick.
        let targets: Vec<Target> = {
            let st = sh.lock();
            let mut ready: HashMap<u32, (String, u64, u32)> = HashMap::new();
            for s in st.sessions.values() {
                if s.ready && s.conn.is_some() {
                    ready.insert(s.shard[0], (s.id.clone(), s.intents, s.shard[1]));
                }
            }
            let ids: Vec<u32> = match &plan.shards {
                Some(ids) => ids.clone(),
                None => {
                    let mut v: Vec<u32> = ready.keys().copied().collect();
                    v.sort_unstable();
                    v
                }
            };
            drop(st);
            ids.into_iter()
                .map(|shard| {
                    let (session, total) = match ready.get(&shard) {
                        Some((sid, int, total)) => (Some((sid.clone(), *int)), *total),
                        None => (None, sh.cfg.recommended_shards),
                    };
                    Target {
                        session,
                        guilds: sh.shard_index.get(&sh.world, total),
                        shard,
                    }
                })
                .collect()
        };
        if targets.is_empty() {
            run.generated.fetch_add(batch, Ordering::Relaxed);
            run.dropped_no_session.fetch_add(batch, Ordering::Relaxed);
            done += batch;
            run.elapsed_ms
                .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            continue;
        }
        // Pick guilds and build the payloads outside the lock.
        let mut events: Vec<(usize, Arc<str>)> = Vec::with_capacity(batch as usize);
        for k in done..done + batch {
            let ti = (k % targets.len() as u64) as usize;
            let t = &targets[ti];
            let Some((_, session_intents)) = &t.session else {
                events.push((ti, Arc::from("")));
                continue;
            };
            let guilds = t
                .guilds
                .get(t.shard as usize)
                .map_or(&[][..], Vec::as_slice);
            if guilds.is_empty() || session_intents & plan.kind.intent() == 0 {
                events.push((ti, Arc::from("")));
                continue;
            }
            let r = hash3(0xF1DE, k, 7);
            let gi = match plan.spread {
                Spread::Hot { share } if (r % 1_000_000) as f64 / 1e6 < share => 0,
                _ => (hash3(0xF1DE, k, 8) % guilds.len() as u64) as usize,
            };
            let n = u64::from(guilds[gi]);
            if templates.len() >= TEMPLATE_CACHE {
                templates.clear();
            }
            let tpl = templates
                .entry(n)
                .or_insert_with(|| template(&sh, n).map(Arc::new))
                .clone();
            let Some(tpl) = tpl else {
                events.push((ti, Arc::from("")));
                continue;
            };
            let content =
                plan.kind != Kind::Message || session_intents & intents::MESSAGE_CONTENT != 0;
            let out = if content { &mut buf } else { &mut buf_plain };
            out.clear();
            payload(out, plan.kind, &tpl, k, content);
            events.push((ti, Arc::from(std::str::from_utf8(out).unwrap_or(""))));
        }
        // Push them, one lock for the batch.
        {
            let mut st = sh.lock();
            for (ti, d) in &events {
                let t = &targets[*ti];
                let Some((sid, session_intents)) = &t.session else {
                    run.dropped_no_session.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                if session_intents & plan.kind.intent() == 0 {
                    run.dropped_intents.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if d.is_empty() {
                    run.dropped_no_session.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let backlog = st
                    .sessions
                    .get(sid)
                    .and_then(|s| s.conn.as_ref())
                    .map(|c| c.backlog.load(Ordering::Relaxed));
                match backlog {
                    None => {
                        run.dropped_no_session.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(b) if b >= BACKLOG_LIMIT => {
                        run.dropped_backlog.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(_) => {
                        st.push(sid, plan.kind.event(), d);
                        run.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            st.stats.firehose_sent = st.firehoses.totals().0;
            st.stats.firehose_dropped = st.firehoses.totals().1;
        }
        run.generated.fetch_add(batch, Ordering::Relaxed);
        done += batch;
        run.elapsed_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    run.elapsed_ms
        .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
    run.finished.store(true, Ordering::Relaxed);
    let mut st = sh.lock();
    st.stats.firehose_sent = st.firehoses.totals().0;
    st.stats.firehose_dropped = st.firehoses.totals().1;
}

/// Generates `count` MESSAGE_CREATE payloads of guild `n` as the firehose does, without
/// sending them (for measuring the generator alone). Returns the bytes written.
#[must_use]
pub fn generate_messages(world: &crate::world::World, n: u64, count: u64) -> u64 {
    let Some(t) = build_template(&world.generate(n)) else {
        return 0;
    };
    let mut out = Vec::with_capacity(2048);
    let mut bytes = 0;
    for k in 0..count {
        out.clear();
        payload(&mut out, Kind::Message, &t, k, true);
        let frame = crate::frames::dispatch_frame(
            k + 1,
            "MESSAGE_CREATE",
            std::str::from_utf8(&out).unwrap_or(""),
        );
        bytes += frame.len() as u64;
    }
    bytes
}
