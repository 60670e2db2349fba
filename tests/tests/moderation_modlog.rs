//! Mod-log embeds as posted in the simulator's channel, and the DM before an action.

mod moderation_support;

use moderation_support::{Harness, StoreKind, text};
use serde_json::{Value, json};

fn field<'a>(embed: &'a Value, name: &str) -> Option<&'a str> {
    embed["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["value"].as_str())
}

#[tokio::test]
async fn embeds_carry_the_case() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    // Nothing is posted before a channel is set.
    h.prefix(c.moderator, &format!("warn {} early", c.plain))
        .await
        .unwrap();
    assert!(h.messages(c.mod_log).await.is_empty());
    h.set_modlog().await;
    h.slash(
        c.moderator,
        "ban",
        json!({"user": c.member.to_string(), "duration": "1d", "reason": "spam links"}),
    )
    .await
    .unwrap();
    h.prefix(c.moderator, &format!("kick {}", c.member2))
        .await
        .unwrap();
    let log = h.messages(c.mod_log).await;
    assert_eq!(log.len(), 2, "{log:?}");
    for m in &log {
        assert_eq!(m["author"]["id"], c.bot.to_string());
    }
    let ban = &log[0]["embeds"][0];
    assert_eq!(ban["title"], "Case #2 · Tempban");
    assert_eq!(ban["color"], 0xE6_7E_22);
    assert_eq!(
        field(ban, "User"),
        Some(format!("<@{0}> (`{0}`)", c.member).as_str())
    );
    assert_eq!(
        field(ban, "Moderator"),
        Some(format!("<@{0}> (`{0}`)", c.moderator).as_str())
    );
    assert_eq!(field(ban, "Reason"), Some("spam links"));
    assert!(field(ban, "Duration").unwrap().starts_with("1d (ends <t:"));
    assert_eq!(ban["footer"]["text"], format!("User ID: {}", c.member));
    assert!(ban["timestamp"].as_str().is_some());
    let kick = &log[1]["embeds"][0];
    assert_eq!(kick["title"], "Case #3 · Kick");
    assert_eq!(kick["color"], 0xF1_C4_0F);
    assert_eq!(field(kick, "Reason"), Some("No reason given"));
    assert_eq!(field(kick, "Duration"), None);

    // A failed action is posted with its outcome.
    let e = h
        .prefix(c.moderator, &format!("unban {}", c.plain))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Case #4 records the failure"), "{e}");
    let log = h.messages(c.mod_log).await;
    let failed = &log[2]["embeds"][0];
    assert_eq!(failed["title"], "Case #4 · Unban");
    assert!(field(failed, "Outcome").unwrap().starts_with("Failed: "));

    // /reason re-posts the case with the new reason.
    h.prefix(c.moderator, "reason 2 scam links").await.unwrap();
    let log = h.messages(c.mod_log).await;
    let edited = &log[3]["embeds"][0];
    assert_eq!(edited["title"], "Case #2 · Tempban");
    assert_eq!(field(edited, "Reason"), Some("scam links"));
    h.shutdown().await;
}

#[tokio::test]
async fn a_failed_dm_never_blocks_the_action() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.prefix(c.admin, "moddm on").await.unwrap();
    // DMs open: the reply does not mention a failure.
    let t = text(
        &h.prefix(c.moderator, &format!("warn {} hi", c.member))
            .await
            .unwrap(),
    );
    assert!(!t.contains("DM"), "{t}");
    // DMs closed: the action goes ahead and the reply says the DM failed.
    let (status, body) = moderation_support::http(
        &h.sim,
        "POST",
        &format!("/_sim/users/{}/dms", c.member2),
        Some(json!({"closed": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let t = text(
        &h.prefix(c.moderator, &format!("kick {} bye", c.member2))
            .await
            .unwrap(),
    );
    assert!(t.contains("Kicked"), "{t}");
    assert!(t.contains("The DM to the user failed"), "{t}");
    assert!(!h.is_member(c.member2));
    h.shutdown().await;
}
