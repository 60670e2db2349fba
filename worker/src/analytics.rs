//! Per-guild analytics: hourly counts of messages, member joins, commands and automod
//! actions, kept in the store and shown by `/stats`.
//!
//! Enabled with the `analytics` feature flag (`KYUTA_FEATURES=analytics`; on in `--local`).
//! Counting happens in memory on the hot path (one map update per event); every
//! [`FLUSH_EVERY`] and at shutdown the sums go to the store as one `incr_counter` per
//! (guild, metric, hour). A flush that fails keeps its sums for the next one, so a store
//! outage loses nothing unless it outlasts [`MAX_PENDING`] buckets (then the oldest hours are
//! dropped and the log says how many).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::commands::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, CommandObserver, EmbedBuilder,
    Registry, RegistryError, Reply,
};
use crate::store::{Store, StoreError};

/// How often pending counts are written to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);

/// Most (guild, metric, hour) buckets kept while the store is unavailable.
pub const MAX_PENDING: usize = 200_000;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Messages posted by members (not bots).
    Messages,
    /// Members who joined.
    Joins,
    /// Commands run (slash and prefix).
    Commands,
    /// Actions automod carried out.
    AutomodActions,
}

impl Metric {
    /// Every metric, in display order.
    pub const ALL: [Self; 4] = [
        Self::Messages,
        Self::Joins,
        Self::Commands,
        Self::AutomodActions,
    ];

    /// The name stored (and the counter's key).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Joins => "joins",
            Self::Commands => "commands",
            Self::AutomodActions => "automod_actions",
        }
    }

    /// The label shown to people.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Messages => "Messages",
            Self::Joins => "Joins",
            Self::Commands => "Commands",
            Self::AutomodActions => "Automod actions",
        }
    }
}

type Bucket = (u64, Metric, u64);

/// Counts waiting to be written.
pub struct Analytics {
    enabled: bool,
    clock: Arc<dyn Clock>,
    pending: Mutex<HashMap<Bucket, u64>>,
}

impl std::fmt::Debug for Analytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analytics")
            .field("enabled", &self.enabled)
            .field("pending", &self.pending_len())
            .finish()
    }
}

/// Commands are counted as the dispatcher starts them.
impl CommandObserver for Analytics {
    fn command_started(&self, ctx: &CommandContext) {
        if let Some(g) = ctx.guild_id {
            self.record(g.get(), Metric::Commands);
        }
    }
}

fn hour_of(clock: &dyn Clock) -> u64 {
    clock.unix_millis() / 3_600_000
}

impl Analytics {
    /// Counting on (`enabled`) or off (every call is a no-op).
    #[must_use]
    pub fn new(enabled: bool, clock: Arc<dyn Clock>) -> Self {
        Self {
            enabled,
            clock,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Whether counting is on.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts one event of `metric` in `guild` now.
    pub fn record(&self, guild: u64, metric: Metric) {
        if !self.enabled {
            return;
        }
        let hour = hour_of(&*self.clock);
        let mut pending = self.pending.lock().expect("analytics lock");
        *pending.entry((guild, metric, hour)).or_insert(0) += 1;
    }

    /// Buckets waiting to be written.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.pending.lock().expect("analytics lock").len()
    }

    /// Writes every pending count to `store`. Counts whose write failed stay pending.
    ///
    /// # Errors
    /// The first store error (after trying every bucket).
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let batch: Vec<(Bucket, u64)> = {
            let mut pending = self.pending.lock().expect("analytics lock");
            pending.drain().collect()
        };
        let mut written = 0;
        let mut failed = Vec::new();
        let mut first_error = None;
        for ((guild, metric, hour), n) in batch {
            // After one failure the store is likely down: keep the rest without trying.
            if first_error.is_some() {
                failed.push(((guild, metric, hour), n));
                continue;
            }
            match store.incr_counter(guild, metric.name(), hour, n).await {
                Ok(_) => written += 1,
                Err(e) => {
                    failed.push(((guild, metric, hour), n));
                    first_error = Some(e);
                }
            }
        }
        if !failed.is_empty() {
            let mut pending = self.pending.lock().expect("analytics lock");
            for (b, n) in failed {
                *pending.entry(b).or_insert(0) += n;
            }
            if pending.len() > MAX_PENDING {
                let mut keys: Vec<Bucket> = pending.keys().copied().collect();
                keys.sort_by_key(|(_, _, hour)| *hour);
                let excess = pending.len() - MAX_PENDING;
                for k in keys.into_iter().take(excess) {
                    pending.remove(&k);
                }
                tracing::warn!(
                    dropped = excess,
                    "analytics: store unavailable for long; oldest hourly counts dropped"
                );
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until `stop`, then once more.
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>, stop: CancellationToken) {
        if !self.enabled {
            return;
        }
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                () = stop.cancelled() => true,
                _ = tick.tick() => false,
            };
            if let Err(e) = self.flush(&*store).await {
                tracing::warn!(error = %e, pending = self.pending_len(), "analytics flush failed; kept for the next one");
            }
            if stopping {
                return;
            }
        }
    }
}

/// Totals of one metric over the last day and week, and the busiest hour of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Last 24 hours (the current hour included).
    pub day: u64,
    /// Last 7 days.
    pub week: u64,
    /// Busiest hour of the week: (hour since the epoch, count).
    pub peak: Option<(u64, u64)>,
}

/// Reads the guild's summary of `metric` as of `now_hour`.
///
/// # Errors
/// The store error.
pub async fn summary(
    store: &dyn Store,
    guild: u64,
    metric: Metric,
    now_hour: u64,
) -> Result<Summary, StoreError> {
    let from = now_hour.saturating_sub(7 * 24 - 1);
    let buckets = store.counters(guild, metric.name(), from, now_hour).await?;
    let mut s = Summary::default();
    for b in buckets {
        s.week += b.value;
        if b.hour + 24 > now_hour {
            s.day += b.value;
        }
        if s.peak.is_none_or(|(_, v)| b.value > v) {
            s.peak = Some((b.hour, b.value));
        }
    }
    Ok(s)
}

/// `/stats`: the server's activity over the last day and week.
pub struct Stats {
    analytics: Arc<Analytics>,
}

#[async_trait::async_trait]
impl CommandHandler for Stats {
    async fn run(&self, ctx: &CommandContext, _args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        if !self.analytics.enabled() {
            return Err(CommandError::user(
                "analytics are off on this bot (the operator enables them with the `analytics` feature flag)",
            ));
        }
        // What this pod counted but has not written yet shows up too.
        self.analytics
            .flush(ctx.store())
            .await
            .map_err(CommandError::from)?;
        let now = hour_of(ctx.clock());
        let mut b = EmbedBuilder::new()
            .title("Server activity")
            .description("Last 24 hours · last 7 days");
        for m in Metric::ALL {
            let s = summary(ctx.store(), guild, m, now)
                .await
                .map_err(CommandError::from)?;
            let mut v = format!("{} · {}", s.day, s.week);
            if let Some((hour, n)) = s.peak.filter(|(_, n)| *n > 0) {
                v.push_str(&format!("\npeak {n} at <t:{}:f>", hour * 3600));
            }
            b = b.field(m.label(), v, true);
        }
        Ok(Reply::embed(b.build()))
    }
}

/// Registers `/stats`.
///
/// # Errors
/// A registry error (a duplicate name).
pub fn register(registry: &mut Registry, analytics: Arc<Analytics>) -> Result<(), RegistryError> {
    registry.register(
        CommandDef::new(
            "stats",
            "Server activity: messages, joins, commands, automod actions",
            Stats { analytics },
        )
        .permissions(twilight_model::guild::Permissions::MANAGE_GUILD)
        .cooldown(Duration::from_secs(10))
        .category("Info"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::store::EmbeddedStore;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Debug)]
    struct At(AtomicU64);
    impl Clock for At {
        fn now(&self) -> std::time::SystemTime {
            std::time::UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::Relaxed))
        }
    }

    #[tokio::test]
    async fn counts_reach_the_store_in_hourly_sums() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("s.redb"))
            .await
            .unwrap();
        let clock = Arc::new(At(AtomicU64::new(1_000 * 3_600_000)));
        let a = Analytics::new(true, clock.clone());
        for _ in 0..5 {
            a.record(7, Metric::Messages);
        }
        a.record(7, Metric::Joins);
        clock.0.store(1_001 * 3_600_000 + 5, Ordering::Relaxed);
        a.record(7, Metric::Messages);
        a.record(8, Metric::Messages);
        assert_eq!(a.pending_len(), 4);
        assert_eq!(a.flush(&store).await.unwrap(), 4);
        assert_eq!(a.pending_len(), 0);
        let s = summary(&store, 7, Metric::Messages, 1_001).await.unwrap();
        assert_eq!((s.day, s.week, s.peak), (6, 6, Some((1_000, 5))));
        // A week later the old hours leave the day, then the week.
        let s = summary(&store, 7, Metric::Messages, 1_000 + 24)
            .await
            .unwrap();
        assert_eq!((s.day, s.week), (1, 6));
        let s = summary(&store, 7, Metric::Messages, 1_000 + 7 * 24)
            .await
            .unwrap();
        assert_eq!((s.day, s.week), (0, 1));
        assert_eq!(
            summary(&store, 8, Metric::Joins, 1_001).await.unwrap(),
            Summary::default()
        );
    }

    #[tokio::test]
    async fn disabled_counts_nothing() {
        let a = Analytics::new(false, Arc::new(crate::clock::SystemClock));
        a.record(1, Metric::Commands);
        assert_eq!(a.pending_len(), 0);
    }
}
