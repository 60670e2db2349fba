//! Escalation: N warns within T apply their action automatically, as a case of their own
//! (moderator = the bot) that references the warns.

mod moderation_support;

use kyuta_worker::store::{ActionKind, CaseOutcome};
use moderation_support::{Harness, StoreKind, text};
use serde_json::json;

#[tokio::test]
async fn three_warns_within_a_day_time_out() {
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
    h.prefix(c.admin, "escalation add 5 1w ban")
        .await
        .expect("prefix add");
    let t = text(&h.prefix(c.admin, "escalation list").await.unwrap());
    assert!(t.contains("1. 3 warns within 1d → timeout 1h"), "{t}");
    assert!(t.contains("2. 5 warns within 1w → ban"), "{t}");

    for (i, reason) in ["one", "two"].iter().enumerate() {
        let r = h
            .slash(
                c.moderator,
                "warn",
                json!({"user": c.member.to_string(), "reason": reason}),
            )
            .await
            .unwrap();
        assert!(
            !text(&r).contains("Escalation"),
            "warn {}: {}",
            i + 1,
            text(&r)
        );
    }
    assert_eq!(h.timed_out_until(c.member), None);
    let r = h
        .prefix(c.moderator, &format!("warn {} three", c.member))
        .await
        .unwrap();
    let t = text(&r);
    assert!(t.contains("Escalation: Timed out"), "{t}");
    assert!(t.contains("case #4"), "{t}");
    assert!(
        h.timed_out_until(c.member).is_some(),
        "the escalation timed them out"
    );

    let esc = h.worker.store.get_case(c.guild, 4).await.unwrap().unwrap();
    assert_eq!(esc.kind, ActionKind::Timeout);
    assert_eq!(esc.moderator_id, c.bot);
    assert_eq!(esc.references, vec![1, 2, 3]);
    assert_eq!(esc.duration_secs, Some(3600));
    assert_eq!(esc.outcome, CaseOutcome::Applied);
    assert_eq!(esc.reason.as_deref(), Some("Escalation: 3 warns within 1d"));

    // The fourth warn does not fire the 3-warn rule again.
    let t = text(
        &h.prefix(c.moderator, &format!("warn {} four", c.member))
            .await
            .unwrap(),
    );
    assert!(!t.contains("Escalation"), "{t}");
    // The mod log shows the escalation with its references.
    let log = h.messages(c.mod_log).await;
    let esc_embed = log
        .iter()
        .flat_map(|m| m["embeds"].as_array().cloned().unwrap_or_default())
        .find(|e| e["title"] == "Case #4 · Timeout")
        .expect("the escalation is in the mod log");
    let refs = esc_embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "References")
        .unwrap();
    assert_eq!(refs["value"], "#1, #2, #3");

    // Removing rules.
    h.prefix(c.admin, "escalation remove 1").await.unwrap();
    let t = text(&h.prefix(c.admin, "escalation list").await.unwrap());
    assert!(t.starts_with("1. 5 warns within 1w → ban"), "{t}");
    h.shutdown().await;
}

#[tokio::test]
async fn two_warns_kick_and_a_refused_escalation_is_reported() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.prefix(c.admin, "escalation add 2 1h kick").await.unwrap();
    h.prefix(c.moderator, &format!("warn {} a", c.member))
        .await
        .unwrap();
    let t = text(
        &h.prefix(c.moderator, &format!("warn {} b", c.member))
            .await
            .unwrap(),
    );
    assert!(t.contains("Escalation: Kicked"), "{t}");
    assert!(!h.is_member(c.member));
    let esc = h.worker.store.get_case(c.guild, 3).await.unwrap().unwrap();
    assert_eq!(
        (esc.kind, esc.references.clone()),
        (ActionKind::Kick, vec![1, 2])
    );

    // The owner warns an Admin twice: the bot is below the Admin role, so the escalation is
    // refused by the hierarchy rules and the reply says why; the warns stand.
    h.prefix(c.owner, &format!("warn {} a", c.admin))
        .await
        .unwrap();
    let t = text(
        &h.prefix(c.owner, &format!("warn {} b", c.admin))
            .await
            .unwrap(),
    );
    assert!(
        t.contains("Escalation could not run: my highest role"),
        "{t}"
    );
    assert!(h.is_member(c.admin));
    h.shutdown().await;
}
