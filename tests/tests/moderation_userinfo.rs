//! `/userinfo` against the simulator: the avatar, the key permissions, a timeout only while
//! it lasts, and the record (cases and warns) for moderators only.

mod moderation_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moderation_support::{Harness, StoreKind, http, text};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_shows_what_lasts_and_the_record_to_moderators() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.slash(
        c.moderator,
        "warn",
        json!({"user": c.member.to_string(), "reason": "spam"}),
    )
    .await
    .expect("warn");

    // A timeout that ends in two seconds.
    let until_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let until = twilight_model::util::Timestamp::from_secs(i64::try_from(until_secs).unwrap())
        .unwrap()
        .iso_8601()
        .to_string();
    let (s, b) = http(
        &h.sim,
        "PATCH",
        &format!("/_sim/guilds/{}/members/{}", c.guild, c.member),
        Some(
            json!({"moderator_id": c.moderator.to_string(), "communication_disabled_until": until}),
        ),
    )
    .await;
    assert!(s < 300, "timeout: {s} {b}");

    let info = text(
        &h.slash(
            c.moderator,
            "userinfo",
            json!({"user": c.member.to_string()}),
        )
        .await
        .unwrap(),
    );
    assert!(info.contains("Timed out until"), "{info}");
    assert!(info.contains("1 case, 1 warn"), "{info}");
    assert!(info.contains("Key permissions"), "{info}");
    let reply = h
        .slash(
            c.moderator,
            "userinfo",
            json!({"user": c.member.to_string()}),
        )
        .await
        .unwrap();
    let thumb = reply.embeds[0].thumbnail.as_ref().expect("an avatar");
    assert!(
        thumb.url.starts_with("https://cdn.discordapp.com/"),
        "{}",
        thumb.url
    );

    // Once it has ended, the timeout is not shown.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let info = text(
        &h.slash(
            c.moderator,
            "userinfo",
            json!({"user": c.member.to_string()}),
        )
        .await
        .unwrap(),
    );
    assert!(!info.contains("Timed out until"), "{info}");

    // A moderator's key permissions; a member does not see anyone's record.
    let info = text(
        &h.slash(
            c.member2,
            "userinfo",
            json!({"user": c.moderator.to_string()}),
        )
        .await
        .unwrap(),
    );
    assert!(
        info.contains("Ban Members, Kick Members, Timeout Members, Manage Messages"),
        "{info}"
    );
    let info = text(
        &h.slash(c.member2, "userinfo", json!({"user": c.member.to_string()}))
            .await
            .unwrap(),
    );
    assert!(!info.contains("warn"), "a member sees no record: {info}");
    let info = text(
        &h.slash(c.member2, "userinfo", json!({"user": c.admin.to_string()}))
            .await
            .unwrap(),
    );
    assert!(info.contains("Administrator (all)"), "{info}");
    h.shutdown().await;
}
