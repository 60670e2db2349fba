//! Case hygiene against the simulator: a removed warn no longer counts towards escalation;
//! notes; hidden cases left out of `/cases` but still listed on request; deleting a case
//! needs Manage Server, keeps it with who and why, and is posted in the mod log;
//! `/warnings clear` removes every warn.

mod moderation_support;

use moderation_support::{Harness, StoreKind, text};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_warns_stop_counting_and_every_change_is_kept() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.set_modlog().await;
    h.slash(
        c.admin,
        "escalation add",
        json!({"warns": 3, "within": "1d", "action": "timeout", "duration": "1h"}),
    )
    .await
    .expect("add a rule");
    let warn = async |reason: &str| {
        text(
            &h.slash(
                c.moderator,
                "warn",
                json!({"user": c.member.to_string(), "reason": reason}),
            )
            .await
            .unwrap(),
        )
    };
    warn("one").await;
    warn("two").await;
    // #2 was a mistake: removed, it stops counting.
    let t = text(
        &h.slash(
            c.moderator,
            "warnings remove",
            json!({"case": 2, "reason": "wrong member"}),
        )
        .await
        .unwrap(),
    );
    assert!(t.contains("Removed warn #2"), "{t}");
    let t = warn("three").await;
    assert!(!t.contains("Escalation"), "two warns count, not three: {t}");
    assert_eq!(h.timed_out_until(c.member), None);
    let t = warn("four").await;
    assert!(t.contains("Escalation: Timed out"), "{t}");

    // The removed warn is kept, with who removed it and why.
    let t = text(
        &h.slash(c.moderator, "case show", json!({"number": 2}))
            .await
            .unwrap(),
    );
    assert!(t.contains("Deleted") && t.contains("wrong member"), "{t}");
    assert!(t.contains("deleted by"), "the history: {t}");
    let t = text(
        &h.prefix(c.moderator, &format!("warnings <@{}>", c.member))
            .await
            .unwrap(),
    );
    assert!(t.contains("Warns (3 total)"), "{t}");
    assert!(!t.contains("**#2**"), "{t}");

    // A note: a case, nothing done to the member.
    let t = text(
        &h.slash(
            c.moderator,
            "note",
            json!({"user": c.member.to_string(), "text": "asked about the rules"}),
        )
        .await
        .unwrap(),
    );
    assert!(t.contains("Noted on") && t.contains("case #"), "{t}");
    let note = h
        .worker
        .store
        .list_cases(c.guild, &kyuta_worker::store::CaseFilter::default(), 0, 1)
        .await
        .unwrap()
        .cases
        .remove(0);
    assert_eq!(note.kind, kyuta_worker::store::ActionKind::Note);
    let t = h
        .slash(c.moderator, "warnings remove", json!({"case": note.number}))
        .await
        .unwrap_err()
        .to_string();
    assert!(t.contains("not a warn"), "{t}");

    // Hidden: out of /cases, listed on request, still shown by /case (prefix: k!case 1).
    h.slash(c.moderator, "case hide", json!({"number": 1}))
        .await
        .unwrap();
    let listed = |hidden: bool| {
        let h = &h;
        async move {
            text(
                &h.slash(
                    c.moderator,
                    "cases",
                    json!({"user": c.member.to_string(), "hidden": hidden}),
                )
                .await
                .unwrap(),
            )
        }
    };
    let t = listed(false).await;
    assert!(!t.contains("**#1**"), "{t}");
    let t = listed(true).await;
    assert!(t.contains("**#1** Warn (hidden)"), "{t}");
    let t = text(&h.prefix(c.moderator, "case 1").await.unwrap());
    assert!(t.contains("Case #1 · Warn") && t.contains("Hidden"), "{t}");

    // Deleting needs Manage Server; the mod log is told.
    let e = h
        .slash(c.moderator, "case delete", json!({"number": 3}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("manage server"), "{e}");
    let t = text(
        &h.slash(
            c.admin,
            "case delete",
            json!({"number": 3, "reason": "duplicate"}),
        )
        .await
        .unwrap(),
    );
    assert!(t.contains("Deleted case #3"), "{t}");
    let posts = h.modlog_posts("deleted", 2).await;
    assert!(
        posts
            .iter()
            .any(|p| p.contains("Case #3 deleted") && p.contains("duplicate")),
        "{posts:?}"
    );

    // Clear: every warn that still counts (the hidden one too).
    let t = text(
        &h.slash(
            c.admin,
            "warnings clear",
            json!({"user": c.member.to_string()}),
        )
        .await
        .unwrap(),
    );
    assert!(t.contains("Cleared 2 warns"), "#1 (hidden) and #4: {t}");
    let t = text(
        &h.prefix(c.moderator, &format!("warnings <@{}>", c.member))
            .await
            .unwrap(),
    );
    assert!(t.contains("No cases match"), "{t}");
    h.shutdown().await;
}
