//! Domain types shared by every [`Store`](crate::store::Store) implementation, one module per
//! concern: [`config`] (guild settings), [`cases`], [`schedules`] and [`counters`]
//! (analytics buckets); [`Timestamp`] is here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

mod cases;
mod config;
mod counters;
mod schedules;

pub use cases::*;
pub use config::*;
pub use counters::*;
pub use schedules::*;

/// A point in time: milliseconds since the Unix epoch (UTC).
///
/// Stored as a plain integer in both stores, so it sorts and compares in queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current wall-clock time.
    #[must_use]
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self(ms)
    }

    /// A timestamp from milliseconds since the Unix epoch.
    #[must_use]
    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down).
    #[must_use]
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The hour bucket (hours since the Unix epoch) this timestamp falls in, as used by the
    /// analytics counters.
    #[must_use]
    pub const fn hour(self) -> u64 {
        let h = self.0.div_euclid(3_600_000);
        if h < 0 { 0 } else { h as u64 }
    }

    /// This timestamp moved `d` later (saturating).
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// This timestamp moved `d` earlier (saturating).
    #[must_use]
    pub fn minus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(ms))
    }

    /// The time from `earlier` to `self`, zero when `earlier` is later.
    #[must_use]
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}
