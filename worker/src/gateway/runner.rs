//! One task per shard: take the shard's lease ([`super::ownership`]), connect (resuming a
//! saved session when there is one), feed events to the sink, keep the status and metrics
//! current, and on shutdown or hand-off close with a resumable code, save the session and
//! release the lease. A shard whose lease ends for any other reason (not renewable, lost
//! to Redis) is stopped and taken again, resuming the session it kept; a shard handed
//! over is watched and taken back if nobody takes it. The task ends only on shutdown or
//! when the gateway closes the shard for good.

use std::{collections::HashSet, sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, EventTypeFlags, Intents, Session, Shard, ShardId, ShardState,
    StreamExt as _,
};
use twilight_model::gateway::event::Event;

use super::{
    EventSink,
    fatal::FatalRecords,
    ownership::{AcquireMode, Acquired, LeaseEnd, ShardLeases, Watched},
    queue::IdentifyQueue,
    session::{SavedSession, SessionStore, now_ms},
};
use crate::{
    config::Token,
    shards::{
        close::explain,
        status::{ShardPhase, ShardStatus},
    },
    telemetry::{
        Metrics,
        metrics::{EventLabels, ShardLabels, shard_state},
    },
};

/// After READY, how long until the first presence update with counted guilds (the count
/// refreshes every `load_fields::REFRESH_SECS`).
const PRESENCE_AFTER_READY: Duration =
    Duration::from_secs(kyuta_crds::contract::load_fields::REFRESH_SECS + 5);

/// How often a connected shard saves its session (a checkpoint), so that the next process
/// of a pod that was killed without warning (SIGKILL, OOM, a lost node) RESUMEs instead of
/// identifying; Discord replays what came after the checkpoint, and the generation gate drops
/// the replayed events this process already handled. One write per shard per period.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// What every shard of this process shares.
#[derive(Clone)]
pub struct ShardDeps {
    /// Bot token.
    pub token: Token,
    /// Gateway URL (Discord's from `/gateway/bot`, or the override).
    pub gateway_url: String,
    /// The intents to identify with (`crate::intents`).
    pub intents: Intents,
    /// Total shards of the generation.
    pub shard_total: u32,
    /// Identify pacing.
    pub queue: IdentifyQueue,
    /// Saved sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Shard leases (one process per shard; hand-off by RESUME).
    pub leases: ShardLeases,
    /// Status for readiness and /ping.
    pub status: Arc<ShardStatus>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where events go.
    pub sink: Arc<dyn EventSink>,
    /// Presence shown when identifying and rotated while connected.
    pub presence: Arc<crate::presence::Presence>,
    /// How long to wait for the gateway to acknowledge our close on shutdown.
    pub close_timeout: Duration,
    /// Fatal closes of the shards: the back-off before identifying a shard whose last session
    /// ended for good.
    pub fatal: FatalRecords,
}

impl std::fmt::Debug for ShardDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardDeps")
            .field("gateway_url", &self.gateway_url)
            .field("shard_total", &self.shard_total)
            .finish_non_exhaustive()
    }
}

/// How a shard task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardExit {
    /// Closed on shutdown; the session was saved (or there was none to save).
    Closed {
        /// Whether a session was saved.
        saved: bool,
    },
    /// The gateway closed the shard for good (bad token, bad intents, …).
    Fatal(Option<u16>),
}

fn set_state(deps: &ShardDeps, shard: u32, phase: ShardPhase) {
    let code = match phase {
        ShardPhase::Connecting
        | ShardPhase::Closed
        | ShardPhase::WaitingForLease
        | ShardPhase::HandedOff
        | ShardPhase::BackingOff => shard_state::DISCONNECTED,
        ShardPhase::Identifying => shard_state::IDENTIFYING,
        ShardPhase::Resuming => shard_state::RESUMING,
        ShardPhase::Active => shard_state::ACTIVE,
        ShardPhase::FatallyClosed => shard_state::FATALLY_CLOSED,
    };
    deps.metrics
        .shard_state
        .get_or_create(&ShardLabels { shard })
        .set(code);
    deps.status.update(shard, |s| {
        s.phase = phase;
        if phase != ShardPhase::Active {
            s.heartbeat_acked = false;
        }
        if phase == ShardPhase::Active && s.active_since.is_none() {
            s.active_since = Some(std::time::Instant::now());
        }
    });
}

/// Runs shard `id` until `shutdown` fires (then closes resumably and saves the session) or the
/// gateway closes it for good. Lease ends and hand-offs do not end the task: the shard is
/// taken again when it is this process's to run.
pub async fn run_shard(id: u32, deps: ShardDeps, shutdown: CancellationToken) -> ShardExit {
    set_state(&deps, id, ShardPhase::Connecting);
    if back_off(id, &deps, &shutdown).await.is_err() {
        set_state(&deps, id, ShardPhase::Closed);
        return ShardExit::Closed { saved: false };
    }
    // A session the store could not take when the shard stopped (Redis down): resumed from
    // memory when the store has none.
    let mut kept: Option<SavedSession> = None;
    let mut mode = AcquireMode::Ask;
    loop {
        // Cancelled on shutdown, and when the lease ends.
        let stop = shutdown.child_token();
        let lease = match deps.leases.acquire(id, mode, stop.clone(), &shutdown).await {
            Acquired::Held(lease) => lease,
            Acquired::Cancelled => {
                set_state(&deps, id, ShardPhase::Closed);
                return ShardExit::Closed { saved: false };
            }
            Acquired::HeldElsewhere => {
                set_state(&deps, id, ShardPhase::HandedOff);
                match watch(id, &deps, &shutdown).await {
                    Watched::Cancelled => {
                        set_state(&deps, id, ShardPhase::Closed);
                        return ShardExit::Closed { saved: false };
                    }
                    Watched::Orphaned => {
                        mode = AcquireMode::Retake;
                        continue;
                    }
                }
            }
        };
        let saved = match deps.sessions.take(id).await {
            Ok(Some(s)) => Some(s),
            Ok(None) => kept.take(),
            Err(e) => {
                tracing::warn!(shard = id, error = %e, "could not read the saved session");
                kept.take()
            }
        };
        let (ended, session) = run_session(id, &deps, saved, &stop).await;
        let saved = match session {
            Some(s) => match deps.sessions.save(id, s.clone()).await {
                Ok(()) => {
                    tracing::info!(
                        shard = id,
                        sequence = s.sequence,
                        "session saved for resume"
                    );
                    kept = None;
                    true
                }
                Err(e) => {
                    tracing::warn!(shard = id, error = %e, "could not save the session; keeping it in memory");
                    kept = Some(s);
                    false
                }
            },
            None => false,
        };
        let why = lease.end();
        // Only now may the next owner take the shard: its session is saved.
        lease.release().await;
        if let SessionEnd::Fatal(code) = ended {
            match deps.fatal.record(id, code, now_ms()).await {
                Ok(Some(strikes)) => tracing::info!(
                    shard = id,
                    strikes,
                    next_wait_secs = super::fatal::backoff(strikes).as_secs(),
                    "fatal close recorded: the next process waits before identifying this shard"
                ),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(shard = id, error = %e, "could not record the fatal close")
                }
            }
            return ShardExit::Fatal(code);
        }
        match why {
            _ if shutdown.is_cancelled() => {
                set_state(&deps, id, ShardPhase::Closed);
                return ShardExit::Closed { saved };
            }
            Some(LeaseEnd::HandOff | LeaseEnd::TakenElsewhere) => {
                tracing::info!(shard = id, saved, "shard handed over");
                set_state(&deps, id, ShardPhase::HandedOff);
                match watch(id, &deps, &shutdown).await {
                    Watched::Cancelled => {
                        set_state(&deps, id, ShardPhase::Closed);
                        return ShardExit::Closed { saved };
                    }
                    Watched::Orphaned => mode = AcquireMode::Retake,
                }
            }
            Some(LeaseEnd::Fenced) | None => {
                // The lease could not be renewed (or the connection ended by itself): take
                // it again, resuming the session.
                set_state(&deps, id, ShardPhase::WaitingForLease);
                mode = AcquireMode::Retake;
            }
        }
    }
}

/// Waits out the back-off of a shard whose last session ended with a fatal close (recorded
/// by this process or the one before); `Err` when `shutdown` fires first. A record that
/// cannot be read is no reason to wait.
async fn back_off(id: u32, deps: &ShardDeps, shutdown: &CancellationToken) -> Result<(), ()> {
    let record = match deps.fatal.last(id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(shard = id, error = %e, "could not read the shard's last fatal close");
            None
        }
    };
    let Some(record) = record else {
        return Ok(());
    };
    deps.status.update(id, |s| s.close_code = Some(record.code));
    let Some(wait) = record.wait_left(now_ms()) else {
        return Ok(());
    };
    tracing::error!(
        shard = id,
        code = record.code,
        strikes = record.strikes,
        wait_secs = wait.as_secs(),
        "the shard's last session was closed for good ({}); waiting before identifying it again",
        explain(Some(record.code))
    );
    set_state(deps, id, ShardPhase::BackingOff);
    tokio::select! {
        () = shutdown.cancelled() => Err(()),
        () = tokio::time::sleep(wait) => {
            set_state(deps, id, ShardPhase::Connecting);
            Ok(())
        }
    }
}

/// Follows a handed-off shard until it is orphaned or shutdown fires; the status says
/// whether another process holds it.
async fn watch(id: u32, deps: &ShardDeps, shutdown: &CancellationToken) -> Watched {
    deps.leases
        .watch(id, shutdown, |elsewhere| {
            set_state(
                deps,
                id,
                if elsewhere {
                    ShardPhase::HandedOff
                } else {
                    ShardPhase::WaitingForLease
                },
            );
        })
        .await
}

/// How one connection of a shard ended.
enum SessionEnd {
    /// `stop` fired (shutdown or lease end), or the gateway stream ended.
    Stopped,
    /// The gateway closed the shard for good.
    Fatal(Option<u16>),
}

/// Runs one gateway connection of shard `id` (resuming `saved` when given) until `stop`
/// fires or the gateway closes it for good. Returns the session to save.
async fn run_session(
    id: u32,
    deps: &ShardDeps,
    saved: Option<SavedSession>,
    stop: &CancellationToken,
) -> (SessionEnd, Option<SavedSession>) {
    let mut builder = ConfigBuilder::new(deps.token.expose().to_owned(), deps.intents)
        .queue(deps.queue.clone())
        .proxy_url(deps.gateway_url.clone());
    builder = builder.presence(deps.presence.payload(
        id,
        deps.shard_total,
        crate::presence::unix_now(),
    ));
    if let Some(s) = &saved {
        tracing::info!(
            shard = id,
            sequence = s.sequence,
            "resuming a saved session"
        );
        builder = builder.session(Session::new(s.sequence, s.session_id.clone()));
        if let Some(url) = &s.resume_url {
            builder = builder.resume_url(url.clone());
        }
    }
    let mut shard = Shard::with_config(ShardId::new(id, deps.shard_total), builder.build());
    set_state(deps, id, ShardPhase::Connecting);

    let mut guilds: HashSet<u64> = saved
        .as_ref()
        .map(|s| s.guilds.iter().copied().collect())
        .unwrap_or_default();
    let mut closing = false;
    let close_deadline = tokio::time::sleep(Duration::from_secs(3600 * 24 * 365));
    tokio::pin!(close_deadline);
    let rotation = deps.presence.rotation();
    let mut presence_tick = tokio::time::interval(rotation.unwrap_or(Duration::from_secs(3600)));
    presence_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    presence_tick.reset();
    let mut checkpoint_tick = tokio::time::interval(CHECKPOINT_EVERY);
    checkpoint_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    checkpoint_tick.reset();
    // At most one checkpoint write at a time, off the event loop (Redis may be slow).
    let mut checkpoint: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let item = tokio::select! {
            _ = checkpoint_tick.tick(), if !closing => {
                if shard.state() == ShardState::Active
                    && checkpoint.as_ref().is_none_or(tokio::task::JoinHandle::is_finished)
                    && let Some(session) = snapshot(&shard, &guilds)
                {
                    let store = deps.sessions.clone();
                    checkpoint = Some(tokio::spawn(async move {
                        if let Err(e) = store.save(id, session).await {
                            tracing::debug!(shard = id, error = %e, "session checkpoint not saved");
                        }
                    }));
                }
                continue;
            }
            _ = presence_tick.tick(), if rotation.is_some() && !closing => {
                // Queued behind the shard's send limiter (120 per minute, heartbeats first).
                if shard.state() == ShardState::Active {
                    shard.command(&deps.presence.command(
                        id,
                        deps.shard_total,
                        crate::presence::unix_now(),
                    ));
                }
                continue;
            }
            () = stop.cancelled(), if !closing => {
                closing = true;
                // No longer served from here: readiness stops counting it at once, not
                // when the close, the save and the release are done.
                set_state(deps, id, ShardPhase::Closed);
                shard.close(CloseFrame::RESUME);
                close_deadline.as_mut().reset(tokio::time::Instant::now() + deps.close_timeout);
                continue;
            }
            () = &mut close_deadline, if closing => {
                tracing::warn!(shard = id, "the gateway did not acknowledge the close in time");
                break;
            }
            item = shard.next_event(EventTypeFlags::all()) => item,
        };
        let event = match item {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                tracing::warn!(shard = id, error = %e, "gateway receive error");
                continue;
            }
        };
        if closing && matches!(event, Event::GatewayHello(_)) {
            // The connection ended without the gateway echoing our close frame, and the shard
            // reconnected on its own. Stop before it resumes: the session stays where it was
            // saved, and events after it go to the next owner, not to this stopping process.
            break;
        }
        if let Some(name) = event.kind().name() {
            deps.metrics
                .events
                .get_or_create(&EventLabels {
                    shard: id,
                    event: name.to_owned(),
                })
                .inc();
            deps.status.update(id, |s| s.events += 1);
        }
        match &event {
            Event::GatewayHello(_) => {
                let phase = if shard.session().is_some() {
                    ShardPhase::Resuming
                } else {
                    ShardPhase::Identifying
                };
                set_state(deps, id, phase);
            }
            Event::Ready(ready) => {
                guilds = ready.guilds.iter().map(|g| g.id.get()).collect();
                tracing::info!(
                    shard = id,
                    guilds = guilds.len(),
                    "shard ready (new session)"
                );
                set_state(deps, id, ShardPhase::Active);
                // A new session: checkpoint it now, not a period from now.
                checkpoint_tick.reset_immediately();
                if deps.status.get(id).is_some_and(|s| s.close_code.is_some()) {
                    deps.status.update(id, |s| s.close_code = None);
                    let fatal = deps.fatal.clone();
                    tokio::spawn(async move {
                        if let Err(e) = fatal.clear(id).await {
                            tracing::warn!(shard = id, error = %e, "could not clear the fatal close record");
                        }
                    });
                }
                if rotation.is_some() && deps.presence.needs_guild_count() {
                    // Identified with the figures known then; show the counted guilds soon.
                    presence_tick.reset_after(PRESENCE_AFTER_READY);
                }
            }
            Event::Resumed => {
                tracing::info!(shard = id, "shard resumed");
                deps.metrics
                    .resumes
                    .get_or_create(&ShardLabels { shard: id })
                    .inc();
                set_state(deps, id, ShardPhase::Active);
                // The saved session was taken (removed) to resume it: save it again now.
                checkpoint_tick.reset_immediately();
            }
            Event::GatewayHeartbeatAck => {
                let latency = shard.latency().average();
                if let Some(l) = latency {
                    deps.metrics
                        .shard_latency
                        .get_or_create(&ShardLabels { shard: id })
                        .set(l.as_secs_f64());
                }
                deps.status.update(id, |s| {
                    s.heartbeat_acked = true;
                    s.latency = latency.or(s.latency);
                });
            }
            Event::GuildCreate(g) => {
                guilds.insert(g.id().get());
            }
            Event::GuildDelete(g) if !g.unavailable.unwrap_or(false) => {
                guilds.remove(&g.id.get());
            }
            Event::GatewayInvalidateSession(resumable) => {
                tracing::info!(shard = id, resumable, "session invalidated");
                set_state(deps, id, ShardPhase::Connecting);
            }
            Event::GatewayReconnect => {
                set_state(deps, id, ShardPhase::Connecting);
            }
            Event::GatewayClose(frame) => {
                if closing {
                    break;
                }
                let code = frame.as_ref().map(|f| f.code);
                if shard.state() == ShardState::FatallyClosed {
                    tracing::error!(
                        shard = id,
                        ?code,
                        "the gateway closed the shard for good: {}",
                        explain(code)
                    );
                    deps.status
                        .update(id, |s| s.close_code = Some(code.unwrap_or(0)));
                    set_state(deps, id, ShardPhase::FatallyClosed);
                    return (SessionEnd::Fatal(code), None);
                }
                if matches!(code, Some(4007 | 4009)) && shard.session().is_some() {
                    // Invalid sequence / session timed out: Discord says to start a new
                    // session, but the shard would resume the same one again, forever.
                    tracing::info!(shard = id, ?code, "session cannot be resumed; identifying");
                    shard = Shard::with_config(shard.id(), shard.config().clone());
                } else {
                    tracing::info!(shard = id, ?code, "gateway connection closed; reconnecting");
                }
                set_state(deps, id, ShardPhase::Connecting);
            }
            _ => {}
        }
        let count = guilds.len() as u64;
        deps.status.update(id, |s| s.guilds = count);
        deps.metrics
            .shard_guilds
            .get_or_create(&ShardLabels { shard: id })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
        deps.sink.handle(id, event);
    }

    // A checkpoint still being written must not land after the final save.
    if let Some(pending) = checkpoint {
        let _ = pending.await;
    }
    (SessionEnd::Stopped, snapshot(&shard, &guilds))
}

/// The shard's session as it stands, to save.
fn snapshot(shard: &Shard<IdentifyQueue>, guilds: &HashSet<u64>) -> Option<SavedSession> {
    shard.session().map(|session| SavedSession {
        session_id: session.id().to_owned(),
        sequence: session.sequence(),
        resume_url: shard.resume_url().map(ToOwned::to_owned),
        saved_at_ms: now_ms(),
        guilds: guilds.iter().copied().collect(),
    })
}
