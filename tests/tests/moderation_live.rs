//! Moderation through the running worker: the simulator delivers the commands over the
//! gateway (INTERACTION_CREATE and MESSAGE_CREATE), the worker's own dispatcher, permission
//! checks and scheduler act. The "done when": `/ban` with duration `5s` bans, posts
//! case #1 in the mod-log channel, and 5 s later the user is unbanned once — here with the
//! worker process restarted in between.

mod moderation_support;

use std::time::{Duration, Instant};

use moderation_support::{Harness, StoreKind, message_text, reply_text, wait_until};
use serde_json::json;

const BAN_REMOVE: u64 = 23;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tempban_through_the_gateway_is_lifted_once_after_a_worker_restart() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let store = StoreKind::embedded();
    let worker = h.start_live(&store).await;

    let id = h
        .send_slash(c.admin, "modlog", json!({"channel": c.mod_log.to_string()}))
        .await;
    let a = h.answer(id).await;
    assert!(reply_text(&a).contains(&c.mod_log.to_string()), "{a}");

    let banned_at = Instant::now();
    let id = h
        .send_slash(
            c.moderator,
            "ban",
            json!({"user": c.member.to_string(), "duration": "5s", "reason": "cool down"}),
        )
        .await;
    let a = h.answer(id).await;
    assert!(reply_text(&a).contains("case #1"), "{}", reply_text(&a));
    assert!(h.is_banned(c.member));
    let log = h.messages(c.mod_log).await;
    assert!(
        log.iter()
            .any(|m| message_text(m).contains("Case #1 · Tempban")),
        "mod log: {log:?}"
    );

    // The worker stops (sessions saved, in-flight work drained) and a new process starts on
    // the same store before the expiry.
    let report = worker.shutdown().await;
    assert_eq!(report.commands_abandoned, 0);
    let worker = h.start_live(&store).await;

    let lifted = wait_until(Duration::from_secs(20), async || !h.is_banned(c.member)).await;
    assert!(lifted, "the tempban was not lifted within 20 s");
    assert!(
        banned_at.elapsed() >= Duration::from_millis(4500),
        "lifted before its 5 s were up"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.audit_of(BAN_REMOVE, c.member).await.len(),
        1,
        "exactly one unban"
    );
    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_moderation_uses_the_cached_permissions() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let worker = h.start_live(&StoreKind::embedded()).await;

    // A moderator warns by prefix: permissions come from the guild cache (roles from
    // GUILD_CREATE), the reply lands in the channel.
    h.post(
        c.moderator,
        &format!("k!warn <@{}> stop spamming", c.member),
    )
    .await;
    // A member without BAN_MEMBERS is refused, and nothing is banned.
    h.post(c.plain, &format!("k!ban <@{}> no reason", c.member2))
        .await;
    let texts = h.bot_replies(2).await;
    assert!(
        texts.iter().any(|t| t.contains("case #1")),
        "the warn: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("ban members permission")),
        "the refusal: {texts:?}"
    );
    assert!(!h.is_banned(c.member2));
    // The guild, its roles and the members came from the gateway-fed cache: the warn read
    // nothing about the guild over REST.
    let rest = h.sim.stats().stats.rest_requests;
    let reads: u64 = rest
        .iter()
        .filter(|(route, _)| route.starts_with("GET /guilds/"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(reads, 0, "guild reads over REST: {rest:?}");
    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_resume_permissions_come_from_one_guild_read() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let dir = tempfile::tempdir().unwrap();
    let mut config = h.live_config(&StoreKind::embedded());
    config.session_file = dir.path().join("sessions.json");
    let worker = h.start_live_with(config.clone()).await;
    worker.shutdown().await;
    // The next process resumes: Discord sends no GUILD_CREATE, so its guild cache is empty.
    let worker = h.start_live_with(config).await;
    assert!(h.sim.stats().stats.resumes >= 1, "the shard did not resume");

    h.post(
        c.moderator,
        &format!("k!warn <@{}> after a restart", c.member),
    )
    .await;
    let texts = h.bot_replies(1).await;
    assert!(texts.iter().any(|t| t.contains("case #1")), "{texts:?}");
    let reads = h
        .sim
        .stats()
        .stats
        .rest_requests
        .iter()
        .filter(|(route, _)| route.as_str() == "GET /guilds/{guild}")
        .map(|(_, n)| *n)
        .sum::<u64>();
    assert_eq!(reads, 1, "the guild is read once to refill the cache");
    worker.shutdown().await;
    h.shutdown().await;
}
