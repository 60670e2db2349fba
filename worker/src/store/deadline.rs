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
    ActionKind, Case, CaseFilter, CaseOutcome, CasePage, CounterBucket, DueScope, GuildConfig,
    GuildField, NewCase, NewSchedule, Schedule, ScheduleId, ScheduleKind, ScheduleOutcome, Store,
    StoreError, Timestamp,
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

#[async_trait]
impl Store for Deadline {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> Result<Duration, StoreError> {
        self.run("a ping", self.inner.ping()).await
    }

    async fn guild_config(&self, guild_id: u64) -> Result<GuildConfig, StoreError> {
        self.run("a settings read", self.inner.guild_config(guild_id))
            .await
    }

    async fn put_guild_config(&self, config: &GuildConfig) -> Result<(), StoreError> {
        self.run("a settings write", self.inner.put_guild_config(config))
            .await
    }

    async fn put_guild_fields(
        &self,
        config: &GuildConfig,
        fields: &[GuildField],
    ) -> Result<(), StoreError> {
        self.run(
            "a settings write",
            self.inner.put_guild_fields(config, fields),
        )
        .await
    }

    async fn insert_case(&self, case: NewCase) -> Result<(Case, bool), StoreError> {
        self.run("a case insert", self.inner.insert_case(case))
            .await
    }

    async fn get_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError> {
        self.run("a case read", self.inner.get_case(guild_id, number))
            .await
    }

    async fn case_by_key(
        &self,
        guild_id: u64,
        idempotency_key: &str,
    ) -> Result<Option<Case>, StoreError> {
        self.run(
            "a case lookup",
            self.inner.case_by_key(guild_id, idempotency_key),
        )
        .await
    }

    async fn set_case_outcome(
        &self,
        guild_id: u64,
        number: u64,
        outcome: CaseOutcome,
    ) -> Result<Case, StoreError> {
        self.run(
            "an outcome write",
            self.inner.set_case_outcome(guild_id, number, outcome),
        )
        .await
    }

    async fn edit_case_reason(
        &self,
        guild_id: u64,
        number: u64,
        reason: Option<String>,
        editor_id: u64,
    ) -> Result<Case, StoreError> {
        self.run(
            "a reason edit",
            self.inner
                .edit_case_reason(guild_id, number, reason, editor_id),
        )
        .await
    }

    async fn list_cases(
        &self,
        guild_id: u64,
        filter: &CaseFilter,
        page: u32,
        per_page: u32,
    ) -> Result<CasePage, StoreError> {
        self.run(
            "a case list",
            self.inner.list_cases(guild_id, filter, page, per_page),
        )
        .await
    }

    async fn count_cases(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ActionKind,
        since: Timestamp,
    ) -> Result<u64, StoreError> {
        self.run(
            "a case count",
            self.inner.count_cases(guild_id, user_id, kind, since),
        )
        .await
    }

    async fn put_schedule(&self, schedule: NewSchedule) -> Result<Schedule, StoreError> {
        self.run("a schedule write", self.inner.put_schedule(schedule))
            .await
    }

    async fn get_schedule(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<Option<Schedule>, StoreError> {
        self.run(
            "a schedule read",
            self.inner.get_schedule(guild_id, user_id, kind),
        )
        .await
    }

    async fn cancel_schedules(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<u64, StoreError> {
        self.run(
            "a schedule cancel",
            self.inner.cancel_schedules(guild_id, user_id, kind),
        )
        .await
    }

    async fn due_schedules(
        &self,
        now: Timestamp,
        scope: &DueScope,
        limit: usize,
    ) -> Result<Vec<Schedule>, StoreError> {
        self.run(
            "a due-schedule query",
            self.inner.due_schedules(now, scope, limit),
        )
        .await
    }

    async fn claim_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        self.run(
            "a schedule claim",
            self.inner.claim_schedule(id, owner, lease),
        )
        .await
    }

    async fn complete_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        outcome: ScheduleOutcome,
    ) -> Result<bool, StoreError> {
        self.run(
            "a schedule completion",
            self.inner.complete_schedule(id, owner, outcome),
        )
        .await
    }

    async fn incr_counter(
        &self,
        guild_id: u64,
        metric: &str,
        hour: u64,
        by: u64,
    ) -> Result<u64, StoreError> {
        self.run(
            "a counter write",
            self.inner.incr_counter(guild_id, metric, hour, by),
        )
        .await
    }

    async fn counters(
        &self,
        guild_id: u64,
        metric: &str,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<CounterBucket>, StoreError> {
        self.run(
            "a counter read",
            self.inner.counters(guild_id, metric, from_hour, to_hour),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreErrorKind;

    /// A store whose every operation waits forever, as one behind a stalled server does.
    #[derive(Debug)]
    struct Stalled;

    #[async_trait]
    impl Store for Stalled {
        fn backend(&self) -> &'static str {
            "stalled"
        }
        async fn ping(&self) -> Result<Duration, StoreError> {
            std::future::pending().await
        }
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
