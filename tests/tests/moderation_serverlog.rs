//! The server log (`/serverlog`): set by slash and prefix (never to another server's
//! channel), then, on the running worker, message edits and deletes (one by one and a
//! purge's bulk delete), joins and leaves, nickname, avatar and role changes, and roles and
//! channels renamed, created and deleted are posted in the log channel; a kind turned off is
//! not, and nothing is logged before a channel is set.

mod moderation_support;

use std::time::Duration;

use kyuta_worker::commands::CommandError;
use kyuta_worker::store::ServerLogKind;
use moderation_support::{Harness, StoreKind, http, message_text, text, wait_until};
use serde_json::{Value, json};

fn channel_named(h: &Harness, guild: u64, name: &str) -> u64 {
    h.sim
        .guild(guild)
        .unwrap()
        .channels
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no #{name}"))
        .id
}

fn role_named(h: &Harness, name: &str) -> u64 {
    h.sim
        .guild(h.cast.guild)
        .unwrap()
        .roles
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no role {name}"))
        .id
}

/// The server-log posts (their text) in `channel` containing every one of `needles`, once
/// there are at least `n` (fails after 10 s).
async fn log_posts(h: &Harness, channel: u64, needles: &[&str], n: usize) -> Vec<String> {
    let mut posts = Vec::new();
    let done = wait_until(Duration::from_secs(10), async || {
        posts = matching(h, channel, needles).await;
        posts.len() >= n
    })
    .await;
    let all: Vec<String> = h.messages(channel).await.iter().map(message_text).collect();
    assert!(
        done,
        "{n} server-log posts with {needles:?} expected; the channel has {all:#?}"
    );
    posts
}

async fn matching(h: &Harness, channel: u64, needles: &[&str]) -> Vec<String> {
    h.messages(channel)
        .await
        .iter()
        .map(message_text)
        .filter(|t| needles.iter().all(|n| t.contains(n)))
        .collect()
}

async fn control(h: &Harness, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, body) = http(&h.sim, method, path, body).await;
    assert!(status < 300, "{method} {path}: {status} {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_is_set_by_slash_and_prefix_and_never_to_another_server() {
    let h = Harness::start_with_guilds(&StoreKind::embedded(), 2).await;
    let c = h.cast;
    let logs = channel_named(&h, c.guild, "off-topic");
    let foreign = channel_named(&h, h.sim.world().guild_id(1), "general");
    let voice = channel_named(&h, c.guild, "Voice");

    let r = h
        .slash(
            c.admin,
            "serverlog channel",
            json!({"channel": logs.to_string()}),
        )
        .await
        .expect("set by slash");
    assert!(text(&r).contains(&format!("<#{logs}>")), "{}", text(&r));
    let cfg = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(cfg.server_log.channel_id, Some(logs));
    assert!(cfg.server_log.disabled.is_empty(), "every kind is on");

    h.prefix(c.admin, "serverlog clear").await.expect("clear");
    let cfg = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(cfg.server_log.channel_id, None);

    h.prefix(c.admin, &format!("serverlog channel <#{}>", c.general))
        .await
        .expect("set by prefix");
    let cfg = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(cfg.server_log.channel_id, Some(c.general));

    // Another server's channel, and a voice channel, are refused; nothing changes.
    let e = h
        .prefix(c.admin, &format!("serverlog channel <#{foreign}>"))
        .await
        .expect_err("a channel of another server");
    assert!(
        matches!(e, CommandError::NotInGuild { id, .. } if id == foreign),
        "{e:?}"
    );
    let e = h
        .prefix(c.admin, &format!("serverlog channel {voice}"))
        .await
        .expect_err("a voice channel");
    assert!(e.to_string().contains("not a text channel"), "{e}");
    let cfg = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(cfg.server_log.channel_id, Some(c.general));

    // Kinds switch off and on; a member without Manage Server is refused.
    h.slash(c.admin, "serverlog disable", json!({"kind": "joins"}))
        .await
        .expect("disable");
    h.prefix(c.admin, "serverlog disable edits")
        .await
        .expect("disable by prefix");
    h.prefix(c.admin, "serverlog enable edits")
        .await
        .expect("enable by prefix");
    let cfg = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(cfg.server_log.disabled, vec![ServerLogKind::Joins]);
    let shown = text(&h.prefix(c.admin, "serverlog show").await.unwrap());
    assert!(
        shown.contains("❌ joins") && shown.contains("✅ edits"),
        "{shown}"
    );
    assert!(h.prefix(c.member, "serverlog show").await.is_err());
    assert!(
        h.prefix(c.admin, "serverlog disable bans").await.is_err(),
        "not a kind"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_posted_in_the_server_log() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let logs = channel_named(&h, c.guild, "off-topic");
    let worker = h.start_live(&StoreKind::embedded()).await;
    let g = c.guild;

    // No channel yet: a deleted message is not logged anywhere.
    let early = h.post(c.member, "unlogged early words").await;
    control(
        &h,
        "DELETE",
        &format!(
            "/_sim/channels/{}/messages/{}",
            c.general,
            early["id"].as_str().unwrap()
        ),
        Some(json!({"author_id": c.member.to_string()})),
    )
    .await;

    let a = h
        .slash_answer(
            c.admin,
            "serverlog channel",
            json!({"channel": logs.to_string()}),
        )
        .await;
    assert!(a.to_string().contains("server log"), "{a}");

    // An edit: before (from the cache) and after.
    let m = h.post(c.member, "first draft words").await;
    let mid = m["id"].as_str().unwrap().to_owned();
    control(
        &h,
        "PATCH",
        &format!("/_sim/channels/{}/messages/{mid}", c.general),
        Some(json!({"author_id": c.member.to_string(), "content": "second draft words"})),
    )
    .await;
    log_posts(
        &h,
        logs,
        &["Message edited", "first draft words", "second draft words"],
        1,
    )
    .await;

    // A delete, with what the message said.
    let m = h.post(c.member2, "doomed words here").await;
    control(
        &h,
        "DELETE",
        &format!(
            "/_sim/channels/{}/messages/{}",
            c.general,
            m["id"].as_str().unwrap()
        ),
        Some(json!({"author_id": c.member2.to_string()})),
    )
    .await;
    log_posts(&h, logs, &["Message deleted", "doomed words here"], 1).await;

    // A purge's bulk delete: one post with the count and the cached messages.
    for i in 0..3 {
        h.post(c.member, &format!("bulk line {i}")).await;
    }
    let a = h
        .slash_answer(
            c.admin,
            "purge",
            json!({"count": 3, "user": c.member.to_string()}),
        )
        .await;
    assert!(a.to_string().contains("Deleted"), "{a}");
    let bulk = log_posts(&h, logs, &["Messages deleted in bulk"], 1).await;
    assert!(bulk[0].contains("3 messages deleted"), "{bulk:?}");
    for i in 0..3 {
        assert!(bulk[0].contains(&format!("bulk line {i}")), "{bulk:?}");
    }

    // A join, with the account's age, and a leave with the member's roles.
    let created = chrono_like_days_ago(3);
    let joined = control(
        &h,
        "POST",
        &format!("/_sim/guilds/{g}/members"),
        Some(json!({"username": "fresh_face", "created_at": created})),
    )
    .await;
    let newbie = joined["user"]["id"]
        .as_str()
        .or_else(|| joined["id"].as_str())
        .unwrap_or_else(|| panic!("no user id in {joined}"))
        .to_owned();
    let join = log_posts(&h, logs, &["Member joined", "fresh_face"], 1).await;
    assert!(
        join[0].contains("3 days") && join[0].contains("New account"),
        "{join:?}"
    );
    let member_role = role_named(&h, "Member");
    control(
        &h,
        "DELETE",
        &format!("/_sim/guilds/{g}/members/{}", c.member2),
        None,
    )
    .await;
    let leave = log_posts(&h, logs, &["Member left", &c.member2.to_string()], 1).await;
    assert!(leave[0].contains("Account age"), "{leave:?}");
    assert!(
        leave[0].contains(&format!("<@&{member_role}>")),
        "{leave:?}"
    );

    // A nickname change and a role given.
    control(
        &h,
        "POST",
        &format!("/_sim/guilds/{g}/members/{}/nick", c.member),
        Some(json!({"nick": "Neo"})),
    )
    .await;
    log_posts(&h, logs, &["Member updated", "Nickname after", "Neo"], 1).await;
    control(
        &h,
        "PATCH",
        &format!("/_sim/users/{}", c.member),
        Some(json!({"avatar": "0123456789abcdef0123456789abcdef"})),
    )
    .await;
    log_posts(&h, logs, &["Member updated", "Avatar", "changed"], 1).await;
    // Roles are compared with what the guild cache held before the change: the plain member
    // speaks first, so the cache knows them (as it knows anyone seen in an event).
    h.post(c.plain, "hello there").await;
    h.grant_bot(1 << 28).await;
    worker
        .services
        .rest
        .client()
        .add_guild_member_role(
            twilight_model::id::Id::new(g),
            twilight_model::id::Id::new(c.plain),
            twilight_model::id::Id::new(member_role),
        )
        .await
        .expect("give the plain member the Member role");
    log_posts(
        &h,
        logs,
        &[
            "Member updated",
            "Roles added",
            &format!("<@&{member_role}>"),
        ],
        1,
    )
    .await;

    // A role and a channel renamed.
    control(
        &h,
        "PATCH",
        &format!("/_sim/guilds/{g}/roles/{member_role}"),
        Some(json!({"name": "Regulars"})),
    )
    .await;
    log_posts(&h, logs, &["Role updated", "Member → Regulars"], 1).await;
    control(
        &h,
        "PATCH",
        &format!("/_sim/channels/{}", c.general),
        Some(json!({"name": "lobby"})),
    )
    .await;
    log_posts(&h, logs, &["Channel updated", "general → lobby"], 1).await;

    // A role and a channel created, then deleted.
    let made = control(
        &h,
        "POST",
        &format!("/_sim/guilds/{g}/roles"),
        Some(json!({"name": "Events"})),
    )
    .await;
    let made_role = made["id"].as_str().unwrap().to_owned();
    log_posts(&h, logs, &["Role created", "@Events"], 1).await;
    control(
        &h,
        "DELETE",
        &format!("/_sim/guilds/{g}/roles/{made_role}"),
        None,
    )
    .await;
    log_posts(&h, logs, &["Role deleted", "@Events"], 1).await;
    let made = control(
        &h,
        "POST",
        &format!("/_sim/guilds/{g}/channels"),
        Some(json!({"name": "events-chat"})),
    )
    .await;
    let made_channel = made["id"].as_str().unwrap().to_owned();
    log_posts(&h, logs, &["Channel created", "#events-chat"], 1).await;
    control(
        &h,
        "DELETE",
        &format!("/_sim/channels/{made_channel}"),
        None,
    )
    .await;
    log_posts(&h, logs, &["Channel deleted", "#events-chat"], 1).await;

    // Joins off: a join is not logged (a later leave is, so the join had its chance).
    h.slash_answer(c.admin, "serverlog disable", json!({"kind": "joins"}))
        .await;
    let quiet = control(
        &h,
        "POST",
        &format!("/_sim/guilds/{g}/members"),
        Some(json!({"username": "quiet_one"})),
    )
    .await;
    let quiet_id = quiet["user"]["id"]
        .as_str()
        .or_else(|| quiet["id"].as_str())
        .unwrap()
        .to_owned();
    control(
        &h,
        "DELETE",
        &format!("/_sim/guilds/{g}/members/{quiet_id}"),
        None,
    )
    .await;
    log_posts(&h, logs, &["Member left", "quiet_one"], 1).await;
    assert!(
        matching(&h, logs, &["Member joined", "quiet_one"])
            .await
            .is_empty(),
        "a join was logged with joins off"
    );
    let _ = newbie;

    // Nothing from before the channel was set, and each event once.
    let all: Vec<String> = h.messages(logs).await.iter().map(message_text).collect();
    assert!(
        !all.iter().any(|t| t.contains("unlogged early words")),
        "{all:#?}"
    );
    assert_eq!(
        matching(&h, logs, &["Messages deleted in bulk"])
            .await
            .len(),
        1,
        "the bulk delete is posted once"
    );
    assert_eq!(matching(&h, logs, &["doomed words here"]).await.len(), 1);

    worker.shutdown().await;
    h.shutdown().await;
}

/// An RFC 3339 time `days` days ago.
fn chrono_like_days_ago(days: u64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - days * 86_400
        - 600;
    // Civil date from Unix days (Howard Hinnant's algorithm).
    let z = i64::try_from(secs / 86_400).unwrap() + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_message_content_an_edit_says_content_unavailable() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let logs = channel_named(&h, c.guild, "off-topic");
    let store = StoreKind::embedded();
    let mut config = h.live_config(&store);
    config.privileged_intents = "members".parse().expect("intents");
    let worker = h.start_live_with(config).await;
    h.slash_answer(
        c.admin,
        "serverlog channel",
        json!({"channel": logs.to_string()}),
    )
    .await;
    let m = h.post(c.member, "secret words").await;
    control(
        &h,
        "PATCH",
        &format!(
            "/_sim/channels/{}/messages/{}",
            c.general,
            m["id"].as_str().unwrap()
        ),
        Some(json!({"author_id": c.member.to_string(), "content": "other words"})),
    )
    .await;
    let posts = log_posts(&h, logs, &["Message edited", "content unavailable"], 1).await;
    assert!(
        !posts[0].contains("secret words") && !posts[0].contains("other words"),
        "{posts:?}"
    );
    worker.shutdown().await;
    h.shutdown().await;
}
