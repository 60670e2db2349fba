//! Per-shard load (guilds, events per minute) published to Redis for the operator at
//! `redis_keys::shard_load` with the fields of `contract::load_fields`, and the close code of
//! a shard closed for good (or waiting out its back-off).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use kyuta_crds::contract::{fatal_fields, load_fields, redis_keys};
use tokio_util::sync::CancellationToken;

use crate::shards::status::{ShardPhase, ShardStatus};

/// Events per minute from samples of a shard's event counter.
#[derive(Debug, Default)]
pub struct RateWindow {
    samples: VecDeque<(Instant, u64)>,
}

impl RateWindow {
    /// Adds a sample of the running total and returns the events of the last minute (scaled
    /// up when less than a minute of samples exists).
    pub fn sample(&mut self, now: Instant, total: u64) -> u64 {
        self.samples.push_back((now, total));
        while self.samples.len() > 2
            && now.duration_since(self.samples[1].0) >= Duration::from_secs(60)
        {
            self.samples.pop_front();
        }
        let (t0, c0) = self.samples[0];
        let span = now.duration_since(t0).as_secs_f64();
        if span < 1.0 {
            return 0;
        }
        let per_sec = total.saturating_sub(c0) as f64 / span;
        (per_sec * 60.0).round() as u64
    }
}

/// Whether this process publishes the load of a shard in `phase`: not when another process
/// holds it, or may (handed over, or waiting for its lease).
#[must_use]
pub fn publishes(phase: ShardPhase) -> bool {
    !matches!(phase, ShardPhase::HandedOff | ShardPhase::WaitingForLease)
}

/// Publishes the load of every shard this process runs every `REFRESH_SECS` until `stop`.
pub async fn publish_loop(
    conn: kyuta_redis::Conn,
    cluster: String,
    status: Arc<ShardStatus>,
    stop: CancellationToken,
) {
    let mut windows: BTreeMap<u32, RateWindow> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(load_fields::REFRESH_SECS));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut pipe = redis::pipe();
        for (shard, info) in status.all() {
            if !publishes(info.phase) {
                // Another process runs it (a roll, a hand-off): its figures are that
                // process's to publish, and a stale count from here would read as less load.
                windows.remove(&shard);
                continue;
            }
            let epm = windows.entry(shard).or_default().sample(now, info.events);
            let key = redis_keys::shard_load(&cluster, status.shard_total(), shard);
            pipe.hset_multiple(
                &key,
                &[
                    (load_fields::GUILDS, info.guilds),
                    (load_fields::EVENTS_PER_MINUTE, epm),
                    (load_fields::UPDATED_AT, unix),
                ],
            )
            .ignore();
            match info.close_code {
                // Kept as long as the fatal-close record (the shard waits out its back-off).
                Some(code) => pipe
                    .hset(&key, load_fields::CLOSE_CODE, code)
                    .ignore()
                    .expire(&key, fatal_fields::REMEMBER_SECS as i64)
                    .ignore(),
                None => pipe
                    .hdel(&key, load_fields::CLOSE_CODE)
                    .ignore()
                    .expire(&key, load_fields::STALE_AFTER_SECS as i64)
                    .ignore(),
            };
        }
        let mut c = conn.clone();
        if let Err(e) = pipe.query_async::<()>(&mut c).await {
            tracing::warn!(error = %e, "could not publish shard load");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shards_held_here_are_published() {
        for (phase, want) in [
            (ShardPhase::Active, true),
            (ShardPhase::Connecting, true),
            (ShardPhase::Identifying, true),
            (ShardPhase::Resuming, true),
            (ShardPhase::Closed, true),
            (ShardPhase::FatallyClosed, true),
            (ShardPhase::HandedOff, false),
            (ShardPhase::WaitingForLease, false),
        ] {
            assert_eq!(publishes(phase), want, "{phase:?}");
        }
    }

    #[test]
    fn events_per_minute() {
        let t = Instant::now();
        let mut w = RateWindow::default();
        assert_eq!(w.sample(t, 0), 0);
        assert_eq!(w.sample(t + Duration::from_secs(15), 30), 120);
        assert_eq!(w.sample(t + Duration::from_secs(60), 120), 120);
        // old samples fall out of the window
        assert_eq!(w.sample(t + Duration::from_secs(120), 120), 0);
    }
}
