//! `/prefix` through the running worker, and who sees the case commands: a server changes
//! its prefix (slash and prefix forms), the old one stops answering, setting the default
//! clears it; members without a moderation permission neither see nor run `/case`, `/cases`
//! and `/reason`.

mod moderation_support;

use std::time::Duration;

use moderation_support::{Harness, StoreKind, http, reply_text};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_sets_its_prefix_and_the_old_one_stops_answering() {
    // One store for the live worker and the checks (an embedded file has one owner).
    let store = StoreKind::mongo();
    let h = Harness::start(&store).await;
    let c = h.cast;
    let worker = h.start_live(&store).await;

    h.post(c.admin, "k!prefix ?").await;
    let texts = h.bot_replies(1).await;
    assert!(texts[0].contains("now start with `?`"), "{texts:?}");
    let stored = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(stored.prefix.as_deref(), Some("?"));

    // The new prefix answers; the default no longer does.
    h.post(c.member, "k!ping").await;
    h.post(c.member, "?help").await;
    let texts = h.bot_replies(2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let texts_after = h.bot_replies(2).await;
    assert_eq!(
        texts_after.len(),
        2,
        "only ?help was answered: {texts_after:?}"
    );
    assert!(texts[1].contains("Moderation"), "{texts:?}");

    // Refusals: a member without Manage Server, a prefix with a space, a mention.
    h.post(c.member, "?prefix !").await;
    h.post(c.admin, "?prefix <@1>").await;
    let texts = h.bot_replies(4).await;
    let refusals = &texts[2..];
    assert!(
        refusals.iter().any(|t| t.contains("manage server")),
        "{refusals:?}"
    );
    assert!(
        refusals.iter().any(|t| t.contains("cannot start with")),
        "{refusals:?}"
    );
    let stored = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(
        stored.prefix.as_deref(),
        Some("?"),
        "refusals change nothing"
    );

    // /prefix without a value shows it; with the default it resets.
    let a = h.slash_answer(c.admin, "prefix", json!({})).await;
    assert!(reply_text(&a).contains("start with `?`"), "{a}");
    let a = h
        .slash_answer(c.admin, "prefix", json!({"prefix": "k!"}))
        .await;
    assert!(reply_text(&a).contains("default prefix `k!`"), "{a}");
    let stored = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(stored.prefix, None, "the default is not stored");
    h.post(c.member, "k!ping").await;
    h.bot_replies(5).await;

    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_commands_are_for_moderators_only() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let worker = h.start_live(&StoreKind::embedded()).await;
    // The harness lets everyone run every command (as a server may in its Integrations
    // settings); this server keeps Discord's defaults.
    let (status, body) = http(
        &h.sim,
        "PUT",
        &format!("/_sim/guilds/{}/commands/permissions", c.guild),
        Some(json!({"permissions": []})),
    )
    .await;
    assert_eq!(status, 200, "command permissions: {body}");

    // Discord does not offer the commands to a member without the permission: the
    // simulator refuses the interaction as Discord's client would not send it.
    for (name, options) in [
        ("cases", json!({})),
        ("case show", json!({"number": 1})),
        ("reason", json!({"case": 1, "text": "x"})),
    ] {
        let (status, body) = http(
            &h.sim,
            "POST",
            "/_sim/interactions",
            Some(json!({
                "guild_id": c.guild.to_string(),
                "channel_id": c.general.to_string(),
                "user_id": c.plain.to_string(),
                "name": name,
                "options": options,
            })),
        )
        .await;
        assert_eq!(status, 400, "/{name} offered to a plain member: {body}");
        assert!(
            body.to_string().contains("default_member_permissions"),
            "/{name}: {body}"
        );
    }
    // The prefix form is refused by the worker, naming the permissions of which one is
    // enough.
    h.post(c.plain, "k!cases").await;
    let texts = h.bot_replies(1).await;
    assert!(
        texts[0].contains("kick members, ban members or timeout members"),
        "{texts:?}"
    );
    // A moderator still runs them.
    let a = h.slash_answer(c.moderator, "cases", json!({})).await;
    assert!(
        reply_text(&a).contains("0 total") || reply_text(&a).contains("No cases"),
        "{a}"
    );

    worker.shutdown().await;
    h.shutdown().await;
}
