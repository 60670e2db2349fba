//! A deadline on every store operation.
//!
//! The MongoDB driver has no socket timeout: an operation sent to a server that stopped
//! answering (a stalled process, a network partition that drops packets) waits until TCP
//! gives up, many minutes later, and with it the moderator's answer and every expiry of the
//! worker's scheduler. [`Deadline`] wraps any [`Store`] so that an operation that has not
//! finished after its deadline fails with [`StoreErrorKind::Unavailable`](super::StoreErrorKind)
//! like an unreachable server does, and the callers' outage handling takes over.
//!
//! A cut-off operation may have been applied by the server or not, as with any lost answer:
//! every write of the contract is idempotent or guarded by a unique key, so a retry is safe.
//! On MongoDB a cut-off `insert_case` can leave a gap in the case numbers (see
//! [`MongoStore`](super::MongoStore)).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    ActionKind, AnalyticsStore, Case, CaseChange, CaseFilter, CaseOutcome, CasePage, CaseStore,
    ConfigStore, CounterBucket, DueScope, GuildConfig, GuildField, NewCase, NewSchedule, Schedule,
    ScheduleId, ScheduleKind, ScheduleOutcome, ScheduleStore, Store, StoreBackend, StoreError,
    Timestamp,
};

/// The deadline of one operation when none is configured: long enough for an operation of
/// several round trips to a slow server, short enough that an answer still comes.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(8);

/// A [`Store`] whose every operation ends within a deadline.
#[derive(Debug)]
pub struct Deadline {
    inner: Arc<dyn Store>,
    limit: Duration,
}

impl Deadline {
    /// Wraps `inner`: each operation fails as unavailable after `limit`.
    #[must_use]
    pub fn new(inner: Arc<dyn Store>, limit: Duration) -> Self {
        Self { inner, limit }
    }

    async fn run<T>(
        &self,
        what: &'static str,
        op: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.limit, op).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::unavailable(format!(
                "{} store did not answer {what} within {:?}",
                self.inner.backend(),
                self.limit
            ))),
        }
    }
}

/// Implements a store trait for [`Deadline`]: each listed operation is passed to the inner
/// store under the deadline, named by its label in the error ("did not answer <label>").
macro_rules! with_deadline {
    ($trait:ident {
        $( fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ok:ty => $what:literal; )*
    }) => {
        #[async_trait]
        impl $trait for Deadline {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ok, StoreError> {
                    self.run($what, self.inner.$name($($arg),*)).await
                }
            )*
        }
    };
}

#[async_trait]
impl StoreBackend for Deadline {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> Result<Duration, StoreError> {
        self.run("a ping", self.inner.ping()).await
    }
}

with_deadline!(ConfigStore {
    fn guild_config(&self, guild_id: u64) -> GuildConfig => "a settings read";
    fn put_guild_config(&self, config: &GuildConfig) -> () => "a settings write";
    fn put_guild_fields(&self, config: &GuildConfig, fields: &[GuildField]) -> ()
        => "a settings write";
});

// `create_case` is left to its default, which calls `insert_case` (under the deadline).
with_deadline!(CaseStore {
    fn insert_case(&self, case: NewCase) -> (Case, bool) => "a case insert";
    fn get_case(&self, guild_id: u64, number: u64) -> Option<Case> => "a case read";
    fn case_by_key(&self, guild_id: u64, idempotency_key: &str) -> Option<Case>
        => "a case lookup";
    fn set_case_outcome(&self, guild_id: u64, number: u64, outcome: CaseOutcome) -> Case
        => "an outcome write";
    fn edit_case_reason(&self, guild_id: u64, number: u64, reason: Option<String>, editor_id: u64)
        -> Case => "a reason edit";
    fn change_case(&self, guild_id: u64, number: u64, change: CaseChange) -> Case
        => "a case change";
    fn list_cases(&self, guild_id: u64, filter: &CaseFilter, page: u32, per_page: u32)
        -> CasePage => "a case list";
    fn count_cases(&self, guild_id: u64, user_id: u64, kind: ActionKind, since: Timestamp)
        -> u64 => "a case count";
});

with_deadline!(ScheduleStore {
    fn put_schedule(&self, schedule: NewSchedule) -> Schedule => "a schedule write";
    fn get_schedule(&self, guild_id: u64, user_id: u64, kind: ScheduleKind)
        -> Option<Schedule> => "a schedule read";
    fn cancel_schedules(&self, guild_id: u64, user_id: u64, kind: ScheduleKind) -> u64
        => "a schedule cancel";
    fn due_schedules(&self, now: Timestamp, scope: &DueScope, limit: usize) -> Vec<Schedule>
        => "a due-schedule query";
    fn claim_schedule(&self, id: &ScheduleId, owner: &str, lease: Duration) -> bool
        => "a schedule claim";
    fn complete_schedule(&self, id: &ScheduleId, owner: &str, outcome: ScheduleOutcome)
        -> bool => "a schedule completion";
});

with_deadline!(AnalyticsStore {
    fn incr_counter(&self, guild_id: u64, metric: &str, hour: u64, by: u64) -> u64
        => "a counter write";
    fn counters(&self, guild_id: u64, metric: &str, from_hour: u64, to_hour: u64)
        -> Vec<CounterBucket> => "a counter read";
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreErrorKind;

    /// A store whose every operation waits forever, as one behind a stalled server does.
    #[derive(Debug)]
    struct Stalled;

    #[async_trait]
    impl StoreBackend for Stalled {
        fn backend(&self) -> &'static str {
            "stalled"
        }
        async fn ping(&self) -> Result<Duration, StoreError> {
            std::future::pending().await
        }
    }

    #[async_trait]
    impl ConfigStore for Stalled {
        async fn guild_config(&self, _: u64) -> Result<GuildConfig, StoreError> {
            std::future::pending().await
        }
        async fn put_guild_config(&self, _: &GuildConfig) -> Result<(), StoreError> {
            std::future::pending().await
        }
        async fn put_guild_fields(
            &self,
            _: &GuildConfig,
            _: &[GuildField],
        ) -> Result<(), StoreError> {
            std::future::pending().await
        }
    }

    #[async_trait]
    impl CaseStore for Stalled {
        async fn insert_case(&self, _: NewCase) -> Result<(Case, bool), StoreError> {
            std::future::pending().await
        }
        async fn get_case(&self, _: u64, _: u64) -> Result<Option<Case>, StoreError> {
            std::future::pending().await
        }
        async fn case_by_key(&self, _: u64, _: &str) -> Result<Option<Case>, StoreError> {
            std::future::pending().await
        }
        async fn set_case_outcome(
            &self,
            _: u64,
            _: u64,
            _: CaseOutcome,
        ) -> Result<Case, StoreError> {
            std::future::pending().await
        }
        async fn edit_case_reason(
            &self,
            _: u64,
            _: u64,
            _: Option<String>,
            _: u64,
        ) -> Result<Case, StoreError> {
            std::future::pending().await
        }
        async fn change_case(&self, _: u64, _: u64, _: CaseChange) -> Result<Case, StoreError> {
            std::future::pending().await
        }
        async fn list_cases(
            &self,
            _: u64,
            _: &CaseFilter,
            _: u32,
            _: u32,
        ) -> Result<CasePage, StoreError> {
            std::future::pending().await
        }
        async fn count_cases(
            &self,
            _: u64,
            _: u64,
            _: ActionKind,
            _: Timestamp,
        ) -> Result<u64, StoreError> {
            std::future::pending().await
        }
    }

    #[async_trait]
    impl ScheduleStore for Stalled {
        async fn put_schedule(&self, _: NewSchedule) -> Result<Schedule, StoreError> {
            std::future::pending().await
        }
        async fn get_schedule(
            &self,
            _: u64,
            _: u64,
            _: ScheduleKind,
        ) -> Result<Option<Schedule>, StoreError> {
            std::future::pending().await
        }
        async fn cancel_schedules(
            &self,
            _: u64,
            _: u64,
            _: ScheduleKind,
        ) -> Result<u64, StoreError> {
            std::future::pending().await
        }
        async fn due_schedules(
            &self,
            _: Timestamp,
            _: &DueScope,
            _: usize,
        ) -> Result<Vec<Schedule>, StoreError> {
            std::future::pending().await
        }
        async fn claim_schedule(
            &self,
            _: &ScheduleId,
            _: &str,
            _: Duration,
        ) -> Result<bool, StoreError> {
            std::future::pending().await
        }
        async fn complete_schedule(
            &self,
            _: &ScheduleId,
            _: &str,
            _: ScheduleOutcome,
        ) -> Result<bool, StoreError> {
            std::future::pending().await
        }
    }

    #[async_trait]
    impl AnalyticsStore for Stalled {
        async fn incr_counter(&self, _: u64, _: &str, _: u64, _: u64) -> Result<u64, StoreError> {
            std::future::pending().await
        }
        async fn counters(
            &self,
            _: u64,
            _: &str,
            _: u64,
            _: u64,
        ) -> Result<Vec<CounterBucket>, StoreError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_stalled_store_fails_as_unavailable_after_the_deadline() {
        let limit = Duration::from_millis(150);
        let store = Deadline::new(Arc::new(Stalled), limit);
        let started = std::time::Instant::now();
        let err = store.guild_config(1).await.expect_err("times out");
        assert_eq!(err.kind(), StoreErrorKind::Unavailable);
        let took = started.elapsed();
        assert!(took >= limit && took < Duration::from_secs(3), "{took:?}");
        assert!(
            err.to_string().contains("did not answer a settings read"),
            "{err}"
        );
        let err = store.case_by_key(1, "k").await.expect_err("times out");
        assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    }
}
