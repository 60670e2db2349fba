//! The store contract: one set of tests run against both implementations — the embedded
//! redb store (in a temporary file) and the MongoDB store on the test environment's FerretDB
//! (`MONGO_URI`; each test in its own database so they run in parallel).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kyuta_worker::i18n::Locale;
use kyuta_worker::store::{
    ActionKind, CaseFilter, CaseOutcome, CaseStore, DueScope, EmbeddedStore, EscalationAction,
    EscalationRule, GuildConfig, MongoOptions, MongoStore, NewCase, NewSchedule, ScheduleId,
    ScheduleKind, ScheduleOutcome, ScheduleState, Store, StoreBackend, StoreErrorKind, Timestamp,
};

/// Two handles on the same data: for MongoDB two independent clients (as two pods would
/// have), for the embedded store the same handle twice (a redb file has one owner).
struct Env {
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
    cleanup: Option<MongoStore>,
    _dir: Option<tempfile::TempDir>,
}

impl Env {
    async fn embedded() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = Arc::new(
            EmbeddedStore::open(dir.path().join("kyuta.redb"))
                .await
                .expect("open embedded store"),
        );
        Self {
            a: store.clone(),
            b: store,
            cleanup: None,
            _dir: Some(dir),
        }
    }

    async fn mongo(test: &str) -> Self {
        let uri = kyuta_tests::mongo_uri();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let short: String = test.chars().take(30).collect();
        let db = format!("kst_{short}_{}_{nanos}", std::process::id());
        let opts = MongoOptions::new(uri).database(db);
        let a = MongoStore::connect(opts.clone())
            .await
            .expect("connect to MongoDB (FerretDB)");
        let b = MongoStore::connect(opts)
            .await
            .expect("second client to MongoDB (FerretDB)");
        Self {
            a: Arc::new(a.clone()),
            b: Arc::new(b),
            cleanup: Some(a),
            _dir: None,
        }
    }

    async fn finish(self) {
        if let Some(m) = self.cleanup {
            m.database().drop().await.expect("drop test database");
        }
    }
}

macro_rules! contract {
    (both: [$($name:ident),* $(,)?], embedded_only: [$($e_name:ident),* $(,)?] $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = super::Env::embedded().await;
                    super::$name(&env).await;
                    env.finish().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $e_name() {
                    let env = super::Env::embedded().await;
                    super::$e_name(&env).await;
                    env.finish().await;
                }
            )*
        }
        mod mongodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = super::Env::mongo(stringify!($name)).await;
                    super::$name(&env).await;
                    env.finish().await;
                }
            )*
        }
    };
}

contract!(
    both: [
        ping_answers,
        case_numbers_start_at_one_per_guild,
        concurrent_writers_get_distinct_gap_free_numbers,
        idempotency_key_returns_the_same_case,
        concurrent_same_key_creates_one_case,
        outcome_update,
        missing_case_is_not_found,
        list_filter_and_paging,
        invalid_requests_are_refused,
        warn_count_since,
        schedule_put_replaces_pending,
        schedule_cancel,
        schedule_due_and_scope,
        schedule_expired_lease_is_reclaimable,
        schedule_replaced_while_running,
        guild_config_defaults_and_roundtrip,
        reason_edit_keeps_history,
        schedule_claim_once_under_concurrency,
        schedule_complete_once,
        analytics_buckets,
        schedule_cancel_races_claim,
        outcome_and_reason_edit_race,
        concurrent_edits_of_different_settings_both_survive,
        hidden_and_deleted_cases,
    ],
    embedded_only: [],
);

const G1: u64 = 100_000_000_000_000_001;
const G2: u64 = 100_000_000_000_000_002;
const MOD: u64 = 300_000_000_000_000_001;
const BOT: u64 = 300_000_000_000_000_999;

fn user(n: u64) -> u64 {
    200_000_000_000_000_000 + n
}

fn new_case(guild: u64, key: &str, kind: ActionKind, u: u64) -> NewCase {
    NewCase::new(guild, key, kind, u, MOD)
}

async fn ping_answers(env: &Env) {
    let d = env.a.ping().await.expect("ping");
    assert!(d < Duration::from_secs(30));
}

async fn case_numbers_start_at_one_per_guild(env: &Env) {
    for i in 1..=3u64 {
        let c = env
            .a
            .create_case(new_case(G1, &format!("g1-{i}"), ActionKind::Warn, user(1)))
            .await
            .unwrap();
        assert_eq!(c.number, i);
        assert_eq!(c.guild_id, G1);
    }
    let c = env
        .a
        .create_case(new_case(G2, "g2-1", ActionKind::Ban, user(1)))
        .await
        .unwrap();
    assert_eq!(c.number, 1, "another guild counts from 1");
    let c = env
        .b
        .create_case(new_case(G1, "g1-4", ActionKind::Kick, user(2)))
        .await
        .unwrap();
    assert_eq!(c.number, 4);
    let stored = env.a.get_case(G1, 4).await.unwrap().expect("case 4 stored");
    assert_eq!(stored, c);
    assert_eq!(stored.outcome, CaseOutcome::Pending);
    assert_eq!(stored.kind, ActionKind::Kick);
    assert_eq!(stored.moderator_id, MOD);
}

async fn concurrent_writers_get_distinct_gap_free_numbers(env: &Env) {
    const TASKS: usize = 50;
    let mut handles = Vec::new();
    for i in 0..TASKS {
        let store = if i % 2 == 0 {
            env.a.clone()
        } else {
            env.b.clone()
        };
        handles.push(tokio::spawn(async move {
            store
                .create_case(
                    new_case(
                        G1,
                        &format!("concurrent-{i}"),
                        ActionKind::Ban,
                        user(i as u64),
                    )
                    .reason(format!("task {i}")),
                )
                .await
                .map(|c| c.number)
        }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.unwrap().expect("create_case"));
    }
    numbers.sort_unstable();
    let expected: Vec<u64> = (1..=TASKS as u64).collect();
    assert_eq!(numbers, expected, "numbers are distinct and gap-free");
    let page = env
        .a
        .list_cases(G1, &CaseFilter::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(page.total, TASKS as u64);
}

async fn idempotency_key_returns_the_same_case(env: &Env) {
    let first = env
        .a
        .create_case(new_case(G1, "interaction-1", ActionKind::Ban, user(1)).reason("spam"))
        .await
        .unwrap();
    let again = env
        .b
        .create_case(new_case(G1, "interaction-1", ActionKind::Ban, user(1)).reason("other"))
        .await
        .unwrap();
    assert_eq!(first, again, "same key → the existing case, unchanged");
    let other_guild = env
        .a
        .create_case(new_case(G2, "interaction-1", ActionKind::Ban, user(1)))
        .await
        .unwrap();
    assert_eq!(other_guild.guild_id, G2, "keys are per guild");
    let next = env
        .a
        .create_case(new_case(G1, "interaction-2", ActionKind::Ban, user(1)))
        .await
        .unwrap();
    assert_eq!(next.number, 2);
    let by_key = env.a.case_by_key(G1, "interaction-1").await.unwrap();
    assert_eq!(by_key, Some(first));
    assert_eq!(env.a.case_by_key(G1, "nope").await.unwrap(), None);
}

async fn concurrent_same_key_creates_one_case(env: &Env) {
    let mut handles = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 {
            env.a.clone()
        } else {
            env.b.clone()
        };
        // Same key and same creation time: only the store can tell who created it.
        let new = new_case(G1, "retried", ActionKind::Timeout, user(7))
            .created_at(Timestamp::from_unix_millis(1_700_000_000_000));
        handles.push(tokio::spawn(async move { store.insert_case(new).await }));
    }
    let mut numbers = HashSet::new();
    let mut creators = 0;
    for h in handles {
        let (case, created) = h.await.unwrap().expect("insert_case");
        numbers.insert(case.number);
        creators += usize::from(created);
    }
    assert_eq!(numbers.len(), 1, "one case for one key: {numbers:?}");
    assert_eq!(
        creators, 1,
        "exactly one caller is told it created the case"
    );
    let page = env
        .a
        .list_cases(G1, &CaseFilter::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
}

async fn outcome_update(env: &Env) {
    let c = env
        .a
        .create_case(new_case(G1, "k", ActionKind::Ban, user(1)))
        .await
        .unwrap();
    let failed = CaseOutcome::Failed {
        error: "Missing Permissions (50013)".into(),
    };
    let updated = env
        .b
        .set_case_outcome(G1, c.number, failed.clone())
        .await
        .unwrap();
    assert_eq!(updated.outcome, failed);
    assert_eq!(
        env.a.get_case(G1, c.number).await.unwrap().unwrap().outcome,
        failed
    );
    let applied = env
        .a
        .set_case_outcome(G1, c.number, CaseOutcome::Applied)
        .await
        .unwrap();
    assert_eq!(applied.outcome, CaseOutcome::Applied);
    assert_eq!(applied.reason, c.reason, "other fields untouched");
}

async fn reason_edit_keeps_history(env: &Env) {
    let c = env
        .a
        .create_case(new_case(G1, "k", ActionKind::Warn, user(1)).reason("first"))
        .await
        .unwrap();
    let e1 = env
        .a
        .edit_case_reason(G1, c.number, Some("second".into()), user(90))
        .await
        .unwrap();
    assert_eq!(e1.reason.as_deref(), Some("second"));
    assert_eq!(e1.reason_history.len(), 1);
    assert_eq!(e1.reason_history[0].previous.as_deref(), Some("first"));
    assert_eq!(e1.reason_history[0].editor_id, user(90));
    let e2 = env
        .b
        .edit_case_reason(G1, c.number, None, user(91))
        .await
        .unwrap();
    assert_eq!(e2.reason, None);
    let prev: Vec<_> = e2
        .reason_history
        .iter()
        .map(|h| h.previous.clone())
        .collect();
    assert_eq!(
        prev,
        vec![Some("first".to_owned()), Some("second".to_owned())]
    );
    // Concurrent edits all land in the history.
    let mut handles = Vec::new();
    for i in 0..10 {
        let store = if i % 2 == 0 {
            env.a.clone()
        } else {
            env.b.clone()
        };
        let n = c.number;
        handles.push(tokio::spawn(async move {
            store
                .edit_case_reason(G1, n, Some(format!("edit {i}")), user(i))
                .await
        }));
    }
    for h in handles {
        h.await.unwrap().expect("edit");
    }
    let last = env.a.get_case(G1, c.number).await.unwrap().unwrap();
    assert_eq!(last.reason_history.len(), 12);
    let previous: HashSet<_> = last.reason_history[2..]
        .iter()
        .map(|h| h.previous.clone())
        .collect();
    assert_eq!(
        previous.len(),
        10,
        "each edit saw a distinct previous reason"
    );
}

async fn missing_case_is_not_found(env: &Env) {
    assert_eq!(env.a.get_case(G1, 1).await.unwrap(), None);
    let e = env
        .a
        .set_case_outcome(G1, 42, CaseOutcome::Applied)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound);
    assert_eq!(e.metric_label(), "not_found");
    let e = env
        .a
        .edit_case_reason(G1, 42, Some("x".into()), MOD)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound);
}

async fn list_filter_and_paging(env: &Env) {
    // 1..=12: user(1) warns at odd numbers, user(2) bans at even numbers; moderator BOT on
    // multiples of 3.
    for i in 1..=12u64 {
        let (kind, u) = if i % 2 == 1 {
            (ActionKind::Warn, user(1))
        } else {
            (ActionKind::Ban, user(2))
        };
        let moderator = if i % 3 == 0 { BOT } else { MOD };
        env.a
            .create_case(NewCase::new(G1, format!("k{i}"), kind, u, moderator))
            .await
            .unwrap();
    }
    env.a
        .create_case(new_case(G2, "other", ActionKind::Warn, user(1)))
        .await
        .unwrap();

    let all = env
        .a
        .list_cases(G1, &CaseFilter::default(), 0, 5)
        .await
        .unwrap();
    assert_eq!(all.total, 12);
    let nums: Vec<u64> = all.cases.iter().map(|c| c.number).collect();
    assert_eq!(nums, vec![12, 11, 10, 9, 8], "newest first");
    let p3 = env
        .b
        .list_cases(G1, &CaseFilter::default(), 2, 5)
        .await
        .unwrap();
    let nums: Vec<u64> = p3.cases.iter().map(|c| c.number).collect();
    assert_eq!(nums, vec![2, 1]);
    let beyond = env
        .a
        .list_cases(G1, &CaseFilter::default(), 9, 5)
        .await
        .unwrap();
    assert!(beyond.cases.is_empty());
    assert_eq!(beyond.total, 12);

    let by_user = CaseFilter {
        user_id: Some(user(1)),
        ..CaseFilter::default()
    };
    let p = env.a.list_cases(G1, &by_user, 0, 4).await.unwrap();
    assert_eq!(p.total, 6);
    let nums: Vec<u64> = p.cases.iter().map(|c| c.number).collect();
    assert_eq!(nums, vec![11, 9, 7, 5]);
    let p = env.a.list_cases(G1, &by_user, 1, 4).await.unwrap();
    let nums: Vec<u64> = p.cases.iter().map(|c| c.number).collect();
    assert_eq!(nums, vec![3, 1]);

    let by_mod = CaseFilter {
        moderator_id: Some(BOT),
        ..CaseFilter::default()
    };
    let p = env.a.list_cases(G1, &by_mod, 0, 10).await.unwrap();
    let nums: Vec<u64> = p.cases.iter().map(|c| c.number).collect();
    assert_eq!(nums, vec![12, 9, 6, 3]);

    let bans_by_bot = CaseFilter {
        moderator_id: Some(BOT),
        kind: Some(ActionKind::Ban),
        user_id: Some(user(2)),
        ..CaseFilter::default()
    };
    let p = env.a.list_cases(G1, &bans_by_bot, 0, 10).await.unwrap();
    let nums: Vec<u64> = p.cases.iter().map(|c| c.number).collect();
    assert_eq!(nums, vec![12, 6]);
    assert_eq!(p.total, 2);

    let nobody = CaseFilter {
        user_id: Some(user(99)),
        ..CaseFilter::default()
    };
    let p = env.a.list_cases(G1, &nobody, 0, 10).await.unwrap();
    assert_eq!((p.total, p.cases.len()), (0, 0));
}

async fn invalid_requests_are_refused(env: &Env) {
    let e = env
        .a
        .list_cases(G1, &CaseFilter::default(), 0, 0)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Invalid);
    let e = env
        .a
        .list_cases(G1, &CaseFilter::default(), 0, 101)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Invalid);
    let e = env
        .a
        .create_case(new_case(G1, "", ActionKind::Warn, user(1)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Invalid);
    let e = env
        .a
        .incr_counter(G1, "bad metric!", 1, 1)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Invalid);
    // Nothing was written by the refused create.
    let p = env
        .a
        .list_cases(G1, &CaseFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(p.total, 0);
    let c = env
        .a
        .create_case(new_case(G1, "ok", ActionKind::Warn, user(1)))
        .await
        .unwrap();
    assert_eq!(c.number, 1, "a refused create takes no number");
}

async fn warn_count_since(env: &Env) {
    let now = Timestamp::now();
    let hour = Duration::from_secs(3600);
    // Warns for user(1) at now-3h, now-2h, now-30min, now; a ban at now; a warn for user(2).
    let times = [
        now.minus(hour * 3),
        now.minus(hour * 2),
        now.minus(hour / 2),
        now,
    ];
    for (i, t) in times.iter().enumerate() {
        env.a
            .create_case(new_case(G1, &format!("w{i}"), ActionKind::Warn, user(1)).created_at(*t))
            .await
            .unwrap();
    }
    env.a
        .create_case(new_case(G1, "b", ActionKind::Ban, user(1)).created_at(now))
        .await
        .unwrap();
    env.a
        .create_case(new_case(G1, "w-other", ActionKind::Warn, user(2)).created_at(now))
        .await
        .unwrap();
    env.a
        .create_case(new_case(G2, "w-g2", ActionKind::Warn, user(1)).created_at(now))
        .await
        .unwrap();
    let count = |since| env.b.count_cases(G1, user(1), ActionKind::Warn, since);
    assert_eq!(count(now.minus(hour * 4)).await.unwrap(), 4);
    assert_eq!(
        count(now.minus(hour * 2)).await.unwrap(),
        3,
        "since is inclusive"
    );
    assert_eq!(count(now.minus(hour)).await.unwrap(), 2);
    assert_eq!(count(now.plus(Duration::from_millis(1))).await.unwrap(), 0);
    assert_eq!(
        env.a
            .count_cases(G1, user(1), ActionKind::Ban, now.minus(hour))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        env.a
            .count_cases(G1, user(3), ActionKind::Warn, now.minus(hour * 4))
            .await
            .unwrap(),
        0
    );
}

async fn hidden_and_deleted_cases(env: &Env) {
    use kyuta_worker::store::{CaseChange, CaseChangeKind};
    let now = Timestamp::now();
    for i in 0..3 {
        env.a
            .create_case(new_case(G1, &format!("hw{i}"), ActionKind::Warn, user(1)))
            .await
            .unwrap();
    }
    let change = |kind, reason: Option<&str>| CaseChange {
        kind,
        by: MOD,
        at: now,
        reason: reason.map(str::to_owned),
    };
    let warns = |hidden| CaseFilter {
        user_id: Some(user(1)),
        include_hidden: hidden,
        ..CaseFilter::default()
    };
    // Hidden: not listed by default, listed on request, still counted.
    let c = env
        .a
        .change_case(G1, 2, change(CaseChangeKind::Hidden, None))
        .await
        .unwrap();
    assert!(c.hidden);
    assert_eq!(
        env.b
            .list_cases(G1, &warns(false), 0, 10)
            .await
            .unwrap()
            .total,
        2
    );
    assert_eq!(
        env.b
            .list_cases(G1, &warns(true), 0, 10)
            .await
            .unwrap()
            .total,
        3
    );
    let count = || {
        env.b.count_cases(
            G1,
            user(1),
            ActionKind::Warn,
            now.minus(Duration::from_secs(60)),
        )
    };
    assert_eq!(count().await.unwrap(), 3);
    // Deleted: neither listed nor counted, but kept with who, when and why.
    let c = env
        .b
        .change_case(G1, 3, change(CaseChangeKind::Voided, Some("mistake")))
        .await
        .unwrap();
    let void = c.voided.clone().expect("voided");
    assert_eq!((void.by, void.reason.as_deref()), (MOD, Some("mistake")));
    assert_eq!(
        env.a
            .list_cases(G1, &warns(true), 0, 10)
            .await
            .unwrap()
            .total,
        2
    );
    assert_eq!(count().await.unwrap(), 2);
    let stored = env.a.get_case(G1, 3).await.unwrap().unwrap();
    assert!(stored.voided.is_some());
    // Repeating a change records nothing; concurrent deletes record one.
    let again = env
        .a
        .change_case(G1, 3, change(CaseChangeKind::Voided, Some("twice")))
        .await
        .unwrap();
    assert_eq!(again.voided.unwrap().reason.as_deref(), Some("mistake"));
    assert_eq!(again.changes.len(), 1);
    let (x, y) = tokio::join!(
        env.a
            .change_case(G1, 1, change(CaseChangeKind::Voided, Some("a"))),
        env.b
            .change_case(G1, 1, change(CaseChangeKind::Voided, Some("b"))),
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.voided, y.voided, "one delete wins");
    assert_eq!(
        env.a.get_case(G1, 1).await.unwrap().unwrap().changes.len(),
        1
    );
    // Again on fresh cases, three at a time (a lost update shows up as two recorded deletes).
    for round in 0..6 {
        let case = env
            .a
            .create_case(new_case(
                G1,
                &format!("race{round}"),
                ActionKind::Warn,
                user(4),
            ))
            .await
            .unwrap();
        let n = case.number;
        let (x, y, z) = tokio::join!(
            env.a
                .change_case(G1, n, change(CaseChangeKind::Voided, Some("x"))),
            env.b
                .change_case(G1, n, change(CaseChangeKind::Voided, Some("y"))),
            env.a
                .change_case(G1, n, change(CaseChangeKind::Voided, Some("z"))),
        );
        let (x, y, z) = (x.unwrap(), y.unwrap(), z.unwrap());
        assert!(
            x.voided == y.voided && y.voided == z.voided,
            "round {round}"
        );
        let stored = env.b.get_case(G1, n).await.unwrap().unwrap();
        assert_eq!(
            stored.changes.len(),
            1,
            "round {round}: {:?}",
            stored.changes
        );
        assert_eq!(stored.voided, x.voided);
    }
    assert_eq!(
        env.a
            .count_cases(
                G1,
                user(4),
                ActionKind::Warn,
                now.minus(Duration::from_secs(60))
            )
            .await
            .unwrap(),
        0,
        "deleted cases do not count"
    );
    // Unhide; the audit trail keeps both changes in order.
    let c = env
        .a
        .change_case(G1, 2, change(CaseChangeKind::Unhidden, None))
        .await
        .unwrap();
    assert!(!c.hidden);
    let kinds: Vec<CaseChangeKind> = c.changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [CaseChangeKind::Hidden, CaseChangeKind::Unhidden]);
    let missing = env
        .a
        .change_case(G1, 99, change(CaseChangeKind::Hidden, None))
        .await
        .unwrap_err();
    assert_eq!(
        missing.kind(),
        kyuta_worker::store::StoreErrorKind::NotFound
    );
}

fn sched(guild: u64, u: u64, kind: ScheduleKind, due_at: Timestamp) -> NewSchedule {
    NewSchedule {
        guild_id: guild,
        user_id: u,
        kind,
        due_at,
        case_number: Some(1),
    }
}

async fn schedule_put_replaces_pending(env: &Env) {
    let now = Timestamp::now();
    let first = env
        .a
        .put_schedule(sched(G1, user(1), ScheduleKind::Unban, now))
        .await
        .unwrap();
    assert_eq!(first.state, ScheduleState::Pending);
    assert_eq!(first.id.generation, 1);
    let later = now.plus(Duration::from_secs(3600));
    let second = env
        .b
        .put_schedule(NewSchedule {
            case_number: Some(2),
            ..sched(G1, user(1), ScheduleKind::Unban, later)
        })
        .await
        .unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(second.id.generation, 2);
    let current = env
        .a
        .get_schedule(G1, user(1), ScheduleKind::Unban)
        .await
        .unwrap()
        .expect("slot holds a schedule");
    assert_eq!(current, second);
    assert_eq!(current.case_number, Some(2));
    // Only one pending schedule for the slot, and it is not due yet.
    let due = env.a.due_schedules(now, &DueScope::All, 10).await.unwrap();
    assert!(due.is_empty(), "replaced schedule is gone: {due:?}");
    // The old id can no longer claim.
    assert!(
        !env.a
            .claim_schedule(&first.id, "pod-0", Duration::from_secs(30))
            .await
            .unwrap()
    );
    // Another kind is another slot.
    let renew = env
        .a
        .put_schedule(sched(G1, user(1), ScheduleKind::RenewTimeout, now))
        .await
        .unwrap();
    assert_eq!(renew.id.generation, 1);
    // Ids round-trip through text.
    let parsed: ScheduleId = second.id.to_string().parse().unwrap();
    assert_eq!(parsed, second.id);
}

async fn schedule_cancel(env: &Env) {
    let now = Timestamp::now();
    let s = env
        .a
        .put_schedule(sched(G1, user(1), ScheduleKind::Unban, now))
        .await
        .unwrap();
    assert_eq!(
        env.b
            .cancel_schedules(G1, user(1), ScheduleKind::Unban)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        env.a
            .cancel_schedules(G1, user(1), ScheduleKind::Unban)
            .await
            .unwrap(),
        0,
        "nothing left to cancel"
    );
    assert_eq!(
        env.a
            .cancel_schedules(G2, user(1), ScheduleKind::Unban)
            .await
            .unwrap(),
        0
    );
    let due = env
        .a
        .due_schedules(now.plus(Duration::from_secs(1)), &DueScope::All, 10)
        .await
        .unwrap();
    assert!(due.is_empty());
    assert!(
        !env.a
            .claim_schedule(&s.id, "pod-0", Duration::from_secs(30))
            .await
            .unwrap()
    );
    let got = env
        .a
        .get_schedule(G1, user(1), ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(got.state, ScheduleState::Cancelled { .. }));

    // Cancelling a running schedule stops its completion.
    let s = env
        .a
        .put_schedule(sched(G1, user(2), ScheduleKind::Unban, now))
        .await
        .unwrap();
    assert!(
        env.a
            .claim_schedule(&s.id, "pod-0", Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert_eq!(
        env.b
            .cancel_schedules(G1, user(2), ScheduleKind::Unban)
            .await
            .unwrap(),
        1
    );
    assert!(
        !env.a
            .complete_schedule(&s.id, "pod-0", ScheduleOutcome::Succeeded)
            .await
            .unwrap()
    );
}

async fn schedule_due_and_scope(env: &Env) {
    let now = Timestamp::now();
    let sec = Duration::from_secs(1);
    // Guild ids chosen so that with 2 shards G_EVEN → shard 0 and G_ODD → shard 1.
    let g_even = 2u64 << 22;
    let g_odd = 3u64 << 22;
    env.a
        .put_schedule(sched(
            g_even,
            user(1),
            ScheduleKind::Unban,
            now.minus(sec * 3),
        ))
        .await
        .unwrap();
    env.a
        .put_schedule(sched(
            g_odd,
            user(2),
            ScheduleKind::Unban,
            now.minus(sec * 2),
        ))
        .await
        .unwrap();
    env.a
        .put_schedule(sched(g_even, user(3), ScheduleKind::RenewTimeout, now))
        .await
        .unwrap();
    env.a
        .put_schedule(sched(
            g_even,
            user(4),
            ScheduleKind::Unban,
            now.plus(sec * 60),
        ))
        .await
        .unwrap();
    let due = env.b.due_schedules(now, &DueScope::All, 10).await.unwrap();
    let users: Vec<u64> = due.iter().map(|s| s.id.user_id).collect();
    assert_eq!(
        users,
        vec![user(1), user(2), user(3)],
        "due, earliest first"
    );
    let limited = env.b.due_schedules(now, &DueScope::All, 2).await.unwrap();
    assert_eq!(limited.len(), 2);
    let shard0 = DueScope::Shards {
        total: 2,
        range: 0..1,
    };
    let due = env.a.due_schedules(now, &shard0, 10).await.unwrap();
    let users: Vec<u64> = due.iter().map(|s| s.id.user_id).collect();
    assert_eq!(users, vec![user(1), user(3)]);
    let shard1 = DueScope::Shards {
        total: 2,
        range: 1..2,
    };
    let due = env.a.due_schedules(now, &shard1, 1).await.unwrap();
    let users: Vec<u64> = due.iter().map(|s| s.id.user_id).collect();
    assert_eq!(users, vec![user(2)]);
    // A claimed (running, live lease) schedule is not due.
    let first = env.a.due_schedules(now, &DueScope::All, 1).await.unwrap();
    assert!(
        env.a
            .claim_schedule(&first[0].id, "pod-0", Duration::from_secs(60))
            .await
            .unwrap()
    );
    let due = env.a.due_schedules(now, &DueScope::All, 10).await.unwrap();
    assert_eq!(due.len(), 2);
}

async fn schedule_claim_once_under_concurrency(env: &Env) {
    for round in 0..5 {
        claim_round(env, user(round)).await;
    }
}

async fn claim_round(env: &Env, target: u64) {
    let s = env
        .a
        .put_schedule(sched(G1, target, ScheduleKind::Unban, Timestamp::now()))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 {
            env.a.clone()
        } else {
            env.b.clone()
        };
        let id = s.id;
        handles.push(tokio::spawn(async move {
            store
                .claim_schedule(&id, &format!("pod-{i}"), Duration::from_secs(60))
                .await
                .map(|won| won.then_some(i))
        }));
    }
    let mut winners = Vec::new();
    for h in handles {
        if let Some(i) = h.await.unwrap().expect("claim") {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claimer wins: {winners:?}");
    let got = env
        .a
        .get_schedule(G1, target, ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    match got.state {
        ScheduleState::Running { owner, .. } => assert_eq!(owner, format!("pod-{}", winners[0])),
        other => panic!("expected running, got {other:?}"),
    }
}

async fn schedule_complete_once(env: &Env) {
    let s = env
        .a
        .put_schedule(sched(G1, user(1), ScheduleKind::Unban, Timestamp::now()))
        .await
        .unwrap();
    assert!(
        !env.a
            .complete_schedule(&s.id, "pod-0", ScheduleOutcome::Succeeded)
            .await
            .unwrap(),
        "an unclaimed schedule cannot be completed"
    );
    assert!(
        env.a
            .claim_schedule(&s.id, "pod-0", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !env.b
            .complete_schedule(&s.id, "pod-1", ScheduleOutcome::Succeeded)
            .await
            .unwrap(),
        "only the claimer completes"
    );
    let mut handles = Vec::new();
    for i in 0..10 {
        let store = if i % 2 == 0 {
            env.a.clone()
        } else {
            env.b.clone()
        };
        let id = s.id;
        handles.push(tokio::spawn(async move {
            store
                .complete_schedule(
                    &id,
                    "pod-0",
                    ScheduleOutcome::Skipped {
                        reason: "Unknown Ban (10026)".into(),
                    },
                )
                .await
        }));
    }
    let mut wins = 0;
    for h in handles {
        if h.await.unwrap().expect("complete") {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "completed exactly once");
    let got = env
        .a
        .get_schedule(G1, user(1), ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    match got.state {
        ScheduleState::Done { owner, outcome, .. } => {
            assert_eq!(owner, "pod-0");
            assert_eq!(
                outcome,
                ScheduleOutcome::Skipped {
                    reason: "Unknown Ban (10026)".into()
                }
            );
        }
        other => panic!("expected done, got {other:?}"),
    }
    assert!(
        !env.a
            .claim_schedule(&s.id, "pod-2", Duration::from_secs(60))
            .await
            .unwrap()
    );
    let due = env
        .a
        .due_schedules(
            Timestamp::now().plus(Duration::from_secs(3600)),
            &DueScope::All,
            10,
        )
        .await
        .unwrap();
    assert!(due.is_empty(), "a done schedule is never due again");
}

async fn schedule_expired_lease_is_reclaimable(env: &Env) {
    let s = env
        .a
        .put_schedule(sched(G1, user(1), ScheduleKind::Unban, Timestamp::now()))
        .await
        .unwrap();
    assert!(
        env.a
            .claim_schedule(&s.id, "pod-0", Duration::from_millis(300))
            .await
            .unwrap()
    );
    assert!(
        !env.b
            .claim_schedule(&s.id, "pod-1", Duration::from_secs(60))
            .await
            .unwrap(),
        "live lease blocks others"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let due = env
        .b
        .due_schedules(Timestamp::now(), &DueScope::All, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "a lapsed lease makes it due again");
    assert!(
        env.b
            .claim_schedule(&s.id, "pod-1", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !env.a
            .complete_schedule(&s.id, "pod-0", ScheduleOutcome::Succeeded)
            .await
            .unwrap(),
        "the first claimer lost its claim"
    );
    assert!(
        env.b
            .complete_schedule(&s.id, "pod-1", ScheduleOutcome::Succeeded)
            .await
            .unwrap()
    );
}

async fn schedule_replaced_while_running(env: &Env) {
    let now = Timestamp::now();
    let s = env
        .a
        .put_schedule(sched(G1, user(1), ScheduleKind::Unban, now))
        .await
        .unwrap();
    assert!(
        env.a
            .claim_schedule(&s.id, "pod-0", Duration::from_secs(60))
            .await
            .unwrap()
    );
    let replacement = env
        .b
        .put_schedule(sched(
            G1,
            user(1),
            ScheduleKind::Unban,
            now.plus(Duration::from_secs(600)),
        ))
        .await
        .unwrap();
    assert!(
        !env.a
            .complete_schedule(&s.id, "pod-0", ScheduleOutcome::Succeeded)
            .await
            .unwrap(),
        "a superseded run cannot complete the replacement"
    );
    let got = env
        .a
        .get_schedule(G1, user(1), ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, replacement);
    assert_eq!(got.state, ScheduleState::Pending);
}

async fn analytics_buckets(env: &Env) {
    let h = Timestamp::now().hour();
    assert_eq!(env.a.incr_counter(G1, "commands", h, 1).await.unwrap(), 1);
    assert_eq!(env.b.incr_counter(G1, "commands", h, 4).await.unwrap(), 5);
    env.a.incr_counter(G1, "commands", h - 2, 7).await.unwrap();
    env.a.incr_counter(G1, "commands", h + 1, 1).await.unwrap();
    env.a.incr_counter(G1, "automod.hits", h, 3).await.unwrap();
    env.a.incr_counter(G2, "commands", h, 9).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 {
            env.a.clone()
        } else {
            env.b.clone()
        };
        handles.push(tokio::spawn(async move {
            store.incr_counter(G1, "messages", h, 1).await
        }));
    }
    for j in handles {
        j.await.unwrap().expect("incr");
    }
    let b = env.a.counters(G1, "commands", h - 5, h).await.unwrap();
    let got: Vec<(u64, u64)> = b.iter().map(|b| (b.hour, b.value)).collect();
    assert_eq!(got, vec![(h - 2, 7), (h, 5)]);
    let b = env.a.counters(G1, "messages", h, h).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].value, 20, "concurrent increments are not lost");
    assert!(
        env.a
            .counters(G1, "commands", h + 2, h + 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        env.a
            .counters(G1, "commands", h, h - 1)
            .await
            .unwrap()
            .is_empty()
    );
    let b = env
        .a
        .counters(G2, "commands", 0, u64::from(u32::MAX))
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].value, 9);
}

async fn guild_config_defaults_and_roundtrip(env: &Env) {
    let d = env.a.guild_config(G1).await.unwrap();
    assert_eq!(d, GuildConfig::new(G1));
    assert_eq!(d.locale, Locale::EnUs);
    assert_eq!(d.prefix, None);
    let mut c = GuildConfig::new(G1);
    c.prefix = Some("?".into());
    c.mod_log_channel = Some(400_000_000_000_000_001);
    c.locale = Locale::De;
    c.dm_on_action = false;
    c.escalation = vec![
        EscalationRule {
            warns: 3,
            within_secs: 86_400,
            action: EscalationAction::Timeout { secs: 3600 },
        },
        EscalationRule {
            warns: 5,
            within_secs: 604_800,
            action: EscalationAction::Ban,
        },
    ];
    c.server_log = kyuta_worker::store::ServerLogSettings {
        channel_id: Some(400_000_000_000_000_002),
        disabled: vec![
            kyuta_worker::store::ServerLogKind::Joins,
            kyuta_worker::store::ServerLogKind::Roles,
        ],
    };
    c.automod = serde_json::json!({
        "enabled": true,
        "rules": [{"type": "words", "words": ["a.b", "$x"], "ratio": 0.5, "id": 123456789012345678u64}],
        "thresholds": {"mentions.max": 5},
    });
    env.a.put_guild_config(&c).await.unwrap();
    assert_eq!(env.b.guild_config(G1).await.unwrap(), c);
    c.prefix = None;
    c.automod = serde_json::Value::Null;
    env.b.put_guild_config(&c).await.unwrap();
    assert_eq!(env.a.guild_config(G1).await.unwrap(), c, "put replaces");
    assert_eq!(env.a.guild_config(G2).await.unwrap(), GuildConfig::new(G2));
}

/// Two pods change two different settings of one guild at the same moment (both read the
/// settings before either writes): each change survives the other.
async fn concurrent_edits_of_different_settings_both_survive(env: &Env) {
    use kyuta_worker::cache::GuildConfigs;
    let mut start = GuildConfig::new(G1);
    start.locale = Locale::De;
    start.escalation = vec![EscalationRule {
        warns: 3,
        within_secs: 3600,
        action: EscalationAction::Kick,
    }];
    env.a.put_guild_config(&start).await.unwrap();
    for round in 0..3u64 {
        // Both edits wait here after reading and before writing, so their read-modify-writes
        // overlap every time (a blocking wait: the runtime has threads to spare).
        let both_read = Arc::new(std::sync::Barrier::new(2));
        let channel = 400_000_000_000_000_100 + round;
        let prefix = format!("?{round}");
        let edit = |store: Arc<dyn Store>, change: Box<dyn FnOnce(&mut GuildConfig) + Send>| {
            let both_read = Arc::clone(&both_read);
            tokio::spawn(async move {
                let pod = GuildConfigs::new();
                pod.update(&*store, G1, move |c| {
                    both_read.wait();
                    change(c);
                    Ok::<_, std::convert::Infallible>(())
                })
                .await
                .expect("store answers")
                .expect("edit applies");
            })
        };
        let p = prefix.clone();
        let first = edit(
            env.a.clone(),
            Box::new(move |c: &mut GuildConfig| c.prefix = Some(p)),
        );
        let second = edit(
            env.b.clone(),
            Box::new(move |c: &mut GuildConfig| c.mod_log_channel = Some(channel)),
        );
        tokio::time::timeout(Duration::from_secs(30), async {
            first.await.unwrap();
            second.await.unwrap();
        })
        .await
        .expect("both edits finish");
        let stored = env.a.guild_config(G1).await.unwrap();
        assert_eq!(
            stored.prefix.as_deref(),
            Some(prefix.as_str()),
            "round {round}: prefix lost"
        );
        assert_eq!(
            stored.mod_log_channel,
            Some(channel),
            "round {round}: mod-log channel lost"
        );
        assert_eq!(
            stored.locale,
            Locale::De,
            "round {round}: untouched settings stay"
        );
        assert_eq!(stored.escalation, start.escalation, "round {round}");
    }
}

// --- not part of the shared macro: how each store fails when it cannot be reached --------

#[tokio::test]
async fn mongodb_unreachable_is_unavailable_quickly() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let opts = MongoOptions::new(format!("mongodb://127.0.0.1:{port}/"))
        .server_selection_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_millis(500));
    let start = std::time::Instant::now();
    let err = MongoStore::connect(opts).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert_eq!(err.metric_label(), "unavailable");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn mongodb_lost_server_is_unavailable_and_writes_nothing() {
    // Stopping the shared FerretDB is not an option, so the store talks to it through a TCP
    // proxy that the test then shuts down (listener and every open connection).
    let upstream = kyuta_tests::mongo_uri();
    let upstream_addr = upstream
        .trim_start_matches("mongodb://")
        .split(['/', '?'])
        .next()
        .unwrap()
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let proxy = tokio::spawn(async move {
        // Dropping this set (when the proxy task is aborted) aborts every connection task.
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let addr = upstream_addr.clone();
            conns.spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(addr).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let db = format!("kst_lost_{}", std::process::id());
    let opts = MongoOptions::new(format!("mongodb://127.0.0.1:{port}/"))
        .database(db.clone())
        .server_selection_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_millis(500));
    let store = MongoStore::connect(opts)
        .await
        .expect("connect through proxy");
    let c = store
        .create_case(new_case(G1, "before", ActionKind::Ban, user(1)))
        .await
        .unwrap();
    assert_eq!(c.number, 1);
    proxy.abort();
    let _ = proxy.await;

    let start = std::time::Instant::now();
    let err = store
        .create_case(new_case(G1, "during", ActionKind::Ban, user(1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    let err = store.ping().await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");

    let direct = MongoStore::connect(MongoOptions::new(kyuta_tests::mongo_uri()).database(db))
        .await
        .unwrap();
    assert!(
        direct.case_by_key(G1, "during").await.unwrap().is_none(),
        "a failed create leaves no case"
    );
    let page = direct
        .list_cases(G1, &CaseFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    direct.database().drop().await.unwrap();
}

#[tokio::test]
async fn embedded_file_in_use_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kyuta.redb");
    let first = EmbeddedStore::open(&path).await.unwrap();
    let err = EmbeddedStore::open(&path).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    drop(first);
    // Once closed, data persists across reopen.
    let store = EmbeddedStore::open(&path).await.unwrap();
    let c = store
        .create_case(new_case(G1, "a", ActionKind::Warn, user(1)))
        .await
        .unwrap();
    drop(store);
    let store = EmbeddedStore::open(&path).await.unwrap();
    assert_eq!(store.get_case(G1, c.number).await.unwrap(), Some(c));
    let next = store
        .create_case(new_case(G1, "b", ActionKind::Warn, user(1)))
        .await
        .unwrap();
    assert_eq!(next.number, 2, "the counter survives a restart");
}

async fn schedule_cancel_races_claim(env: &Env) {
    // A cancel (e.g. a permanent ban) racing an expiry run: the run may win (claim and complete
    // before the cancel) or the cancel may win, never both.
    for round in 0..10u64 {
        let target = user(round);
        let s = env
            .a
            .put_schedule(sched(G1, target, ScheduleKind::Unban, Timestamp::now()))
            .await
            .unwrap();
        let runner = {
            let store = env.a.clone();
            tokio::spawn(async move {
                if store
                    .claim_schedule(&s.id, "pod-0", Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    store
                        .complete_schedule(&s.id, "pod-0", ScheduleOutcome::Succeeded)
                        .await
                        .unwrap()
                } else {
                    false
                }
            })
        };
        let canceller = {
            let store = env.b.clone();
            tokio::spawn(async move {
                store
                    .cancel_schedules(G1, target, ScheduleKind::Unban)
                    .await
                    .unwrap()
            })
        };
        let completed = runner.await.unwrap();
        let cancelled = canceller.await.unwrap();
        assert!(
            !(completed && cancelled == 1),
            "round {round}: both completed and cancelled"
        );
        assert!(
            completed || cancelled == 1,
            "round {round}: neither happened"
        );
        let got = env
            .a
            .get_schedule(G1, target, ScheduleKind::Unban)
            .await
            .unwrap()
            .unwrap();
        match got.state {
            ScheduleState::Done { .. } => assert!(completed),
            ScheduleState::Cancelled { .. } => assert_eq!(cancelled, 1),
            other => panic!("round {round}: unexpected final state {other:?}"),
        }
    }
}

async fn outcome_and_reason_edit_race(env: &Env) {
    // Updates of different parts of one case never undo each other.
    for round in 0..10u64 {
        let c = env
            .a
            .create_case(
                new_case(G1, &format!("race-{round}"), ActionKind::Ban, user(round)).reason("r0"),
            )
            .await
            .unwrap();
        let n = c.number;
        let (sa, sb) = (env.a.clone(), env.b.clone());
        let t1 =
            tokio::spawn(async move { sa.set_case_outcome(G1, n, CaseOutcome::Applied).await });
        let t2 =
            tokio::spawn(async move { sb.edit_case_reason(G1, n, Some("r1".into()), MOD).await });
        t1.await.unwrap().unwrap();
        t2.await.unwrap().unwrap();
        let got = env.a.get_case(G1, n).await.unwrap().unwrap();
        assert_eq!(got.outcome, CaseOutcome::Applied, "round {round}");
        assert_eq!(got.reason.as_deref(), Some("r1"), "round {round}");
        assert_eq!(got.reason_history.len(), 1, "round {round}");
    }
}
