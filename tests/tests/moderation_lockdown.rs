//! `/lockdown`, `/unlock` and `/slowmode` against the simulator: a locked channel refuses
//! members' messages, and unlocking puts its `@everyone` overwrite back exactly (removed when
//! there was none); the whole server locks and unlocks; slowmode holds members to one message
//! per interval; refusals say what is missing; raid mode locks the server once, as a case and
//! in the mod log, and `/unlock server:true` lifts it.

mod moderation_support;

use std::time::Duration;

use kyuta_worker::store::{ActionKind, CaseFilter, CaseOutcome};
use moderation_support::{Harness, StoreKind, http, text, wait_until};
use serde_json::{Value, json};
use twilight_model::channel::permission_overwrite::PermissionOverwriteType;
use twilight_model::id::Id;

const SEND_MESSAGES: u64 = 1 << 11;
const EMBED_LINKS: u64 = 1 << 14;
const ADD_REACTIONS: u64 = 1 << 6;
const MANAGE_CHANNELS: u64 = 1 << 4;

/// The `@everyone` overwrite of `channel` as (allow, deny), read over REST.
async fn everyone(h: &Harness, channel: u64) -> Option<(u64, u64)> {
    let c = read_channel(h, channel)
        .await
        .expect("the bot sees the channel");
    c.permission_overwrites
        .unwrap_or_default()
        .into_iter()
        .find(|o| o.id.get() == h.cast.guild && o.kind == PermissionOverwriteType::Role)
        .map(|o| (o.allow.bits(), o.deny.bits()))
}

/// A member posts in `channel` through Discord's client; returns the control API's status.
async fn member_posts(h: &Harness, user: u64, channel: u64, content: &str) -> (u16, Value) {
    http(
        &h.sim,
        "POST",
        &format!("/_sim/channels/{channel}/messages"),
        Some(json!({"author_id": user.to_string(), "content": content})),
    )
    .await
}

async fn read_channel(h: &Harness, channel: u64) -> Option<twilight_model::channel::Channel> {
    let r = h
        .worker
        .services
        .rest
        .client()
        .channel(Id::new(channel))
        .await
        .ok()?;
    r.model().await.ok()
}

/// The text channels: those the bot can see, and those it cannot.
async fn text_channels(h: &Harness) -> (Vec<u64>, Vec<u64>) {
    let (_, g) = http(
        &h.sim,
        "GET",
        &format!("/_sim/guilds/{}", h.cast.guild),
        None,
    )
    .await;
    let (mut seen, mut hidden) = (Vec::new(), Vec::new());
    for c in g["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == 0)
    {
        let id: u64 = c["id"].as_str().unwrap().parse().unwrap();
        if read_channel(h, id).await.is_some() {
            seen.push(id);
        } else {
            hidden.push(id);
        }
    }
    (seen, hidden)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockdown_is_lifted_exactly_as_the_channel_was() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    // #general already has an @everyone overwrite of its own: reactions allowed, links denied.
    let put = h
        .worker
        .services
        .rest
        .client()
        .update_channel_permission(
            Id::new(c.general),
            &twilight_model::http::permission_overwrite::PermissionOverwrite {
                allow: Some(twilight_model::guild::Permissions::from_bits_truncate(
                    ADD_REACTIONS,
                )),
                deny: Some(twilight_model::guild::Permissions::from_bits_truncate(
                    EMBED_LINKS,
                )),
                id: Id::new(c.guild),
                kind: twilight_model::http::permission_overwrite::PermissionOverwriteType::Role,
            },
        )
        .await;
    assert!(put.is_ok(), "{put:?}");
    let before = everyone(&h, c.general).await;
    assert_eq!(before, Some((ADD_REACTIONS, EMBED_LINKS)));
    assert_eq!(member_posts(&h, c.member, c.general, "hello").await.0, 201);

    // Manage Channels is needed.
    let e = h
        .slash(c.moderator, "lockdown", json!({}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("manage channels"), "{e}");
    let t = text(
        &h.slash(c.admin, "lockdown", json!({"reason": "raid"}))
            .await
            .unwrap(),
    );
    assert!(t.contains(&format!("Locked <#{}>", c.general)), "{t}");
    let (allow, deny) = everyone(&h, c.general).await.unwrap();
    assert_eq!(allow, ADD_REACTIONS, "the rest of the overwrite stays");
    assert_eq!(
        deny & (SEND_MESSAGES | EMBED_LINKS),
        SEND_MESSAGES | EMBED_LINKS
    );
    let (status, body) = member_posts(&h, c.member, c.general, "still here?").await;
    assert_eq!(status, 403, "a locked channel refuses members: {body}");
    assert!(body.to_string().contains("50013"), "{body}");
    // Again: already locked, nothing changes.
    let t = text(&h.prefix(c.admin, "lockdown").await.unwrap());
    assert!(t.contains("Already locked"), "{t}");

    let t = text(&h.slash(c.admin, "unlock", json!({})).await.unwrap());
    assert!(t.contains(&format!("Unlocked <#{}>", c.general)), "{t}");
    assert_eq!(everyone(&h, c.general).await, before, "exactly as it was");
    assert_eq!(member_posts(&h, c.member, c.general, "back").await.0, 201);
    let e = h
        .slash(c.admin, "unlock", json!({}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("Not locked"), "{e}");

    // The whole server; a channel without an @everyone overwrite gets none back.
    let (channels, unseen) = text_channels(&h).await;
    let previous: Vec<Option<(u64, u64)>> = {
        let mut v = Vec::new();
        for ch in &channels {
            v.push(everyone(&h, *ch).await);
        }
        v
    };
    assert!(previous.iter().any(Option::is_none), "{previous:?}");
    let t = text(
        &h.prefix(c.admin, "lockdown server:yes raid wave")
            .await
            .unwrap(),
    );
    assert!(t.starts_with("Locked"), "{t}");
    for ch in &unseen {
        assert!(
            t.contains(&format!(
                "Could not lock <#{ch}>: I cannot see that channel"
            )),
            "{t}"
        );
    }
    for ch in &channels {
        let (_, deny) = everyone(&h, *ch).await.unwrap();
        assert_eq!(deny & SEND_MESSAGES, SEND_MESSAGES, "channel {ch} locked");
    }
    let t = text(&h.prefix(c.admin, "unlock server:yes").await.unwrap());
    assert!(t.starts_with("Unlocked"), "{t}");
    for (ch, before) in channels.iter().zip(&previous) {
        assert_eq!(&everyone(&h, *ch).await, before, "channel {ch} restored");
    }
    let stored = h.worker.store.guild_config(c.guild).await.unwrap();
    assert!(stored.lockdowns.is_empty(), "{:?}", stored.lockdowns);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowmode_holds_members_to_one_message_per_interval() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    // Without Manage Channels the bot is refused, and says so.
    let e = h
        .slash(c.admin, "slowmode", json!({"duration": "10s"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("Manage Channels"), "{e}");
    h.grant_bot(MANAGE_CHANNELS).await;

    let t = text(
        &h.slash(c.admin, "slowmode", json!({"duration": "10s"}))
            .await
            .unwrap(),
    );
    assert!(t.contains("every 10s"), "{t}");
    assert_eq!(member_posts(&h, c.member, c.general, "one").await.0, 201);
    let (status, body) = member_posts(&h, c.member, c.general, "two").await;
    assert_eq!(status, 429, "{body}");
    assert!(body.to_string().contains("20016"), "{body}");
    let e = h
        .prefix(c.admin, "slowmode 7h")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("at most 6h"), "{e}");
    let t = text(&h.prefix(c.admin, "slowmode off").await.unwrap());
    assert!(t.contains("off"), "{t}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(member_posts(&h, c.member, c.general, "three").await.0, 201);
    h.shutdown().await;
}

/// The answer's text: the deferred original's content, else the first reply's.
/// The answer's text: its content, then each embed's description.
fn answer_text(a: &Value) -> String {
    let message = if a["original"].is_object() {
        &a["original"]
    } else {
        a
    };
    let mut text = message["content"].as_str().unwrap_or_default().to_owned();
    for embed in message["embeds"].as_array().into_iter().flatten() {
        text.push('\n');
        text.push_str(embed["description"].as_str().unwrap_or_default());
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raid_mode_locks_the_server_once_and_unlock_lifts_it() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (_worker, cases) = h.start_live_on_mongo().await;
    for (user, name, options, expect) in [
        (
            c.admin,
            "modlog",
            json!({"channel": c.mod_log.to_string()}),
            "Cases will be posted",
        ),
        (c.owner, "automod preset", json!({"name": "standard"}), "✅"),
        (
            c.owner,
            "automod set",
            json!({"rule": "raid", "setting": "actions", "value": "lockdown, alert"}),
            "✅",
        ),
    ] {
        let a = h.slash_answer(user, name, options).await;
        assert!(answer_text(&a).contains(expect), "{name}: {a}");
    }
    // Only raid mode can lock the server.
    let a = h
        .slash_answer(
            c.owner,
            "automod set",
            json!({"rule": "invites", "setting": "actions", "value": "delete, lockdown"}),
        )
        .await;
    assert!(answer_text(&a).contains("only a join_rate rule"), "{a}");

    let (channels, _) = text_channels(&h).await;
    let before: Vec<Option<(u64, u64)>> = {
        let mut v = Vec::new();
        for ch in &channels {
            v.push(everyone(&h, *ch).await);
        }
        v
    };
    // A join burst: the standard raid rule trips at 10 joins in 10 s.
    for i in 0..14 {
        let (status, body) = http(
            &h.sim,
            "POST",
            &format!("/_sim/guilds/{}/members", c.guild),
            Some(json!({"username": format!("raider{i}")})),
        )
        .await;
        assert!(status == 200 || status == 201, "join {i}: {status} {body}");
    }
    let locked = wait_until(Duration::from_secs(15), async || {
        let mut all = true;
        for ch in &channels {
            all &= everyone(&h, *ch)
                .await
                .is_some_and(|(_, deny)| deny & SEND_MESSAGES != 0);
        }
        all
    })
    .await;
    assert!(locked, "raid mode did not lock every channel");
    let (status, body) = member_posts(&h, c.member, c.general, "anyone?").await;
    assert_eq!(status, 403, "{body}");

    // One lockdown case, applied, by the bot; posted in the mod log with how to lift it.
    let lockdowns = |page: &kyuta_worker::store::CasePage| {
        page.cases
            .iter()
            .filter(|x| x.kind == ActionKind::Lockdown)
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut found = Vec::new();
    let recorded = wait_until(Duration::from_secs(10), async || {
        let page = cases
            .list_cases(c.guild, &CaseFilter::default(), 0, 100)
            .await
            .unwrap();
        found = lockdowns(&page);
        found
            .first()
            .is_some_and(|x| x.outcome == CaseOutcome::Applied)
    })
    .await;
    assert!(recorded, "{found:?}");
    assert_eq!(found.len(), 1, "raid mode locks once: {found:?}");
    assert_eq!(found[0].moderator_id, c.bot);
    let posted = wait_until(Duration::from_secs(10), async || {
        h.messages(c.mod_log).await.iter().any(|m| {
            m["embeds"][0]["title"] == "Lockdown"
                && m["embeds"][0]["description"]
                    .as_str()
                    .unwrap_or("")
                    .contains("/unlock server:true")
        })
    })
    .await;
    assert!(posted, "no lockdown post in the mod log");

    let a = h
        .slash_answer(c.admin, "unlock", json!({"server": true}))
        .await;
    assert!(answer_text(&a).starts_with("Unlocked"), "{a}");
    for (ch, was) in channels.iter().zip(&before) {
        assert_eq!(&everyone(&h, *ch).await, was, "channel {ch} restored");
    }
    assert_eq!(member_posts(&h, c.member, c.general, "back").await.0, 201);
    h.shutdown().await;
}
