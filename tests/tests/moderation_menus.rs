//! The context-menu entries, used through the running worker: the simulator sends the
//! entry's INTERACTION_CREATE (a user or a message as the target), the worker answers with
//! a form where the entry needs words, and the form's submission (MODAL_SUBMIT) carries out
//! the action.

mod moderation_support;

use std::time::Duration;

use moderation_support::{Harness, StoreKind, http, reply_text, wait_until};
use serde_json::{Value, json};

/// A user opens the context menu of `target` (a user for `kind` 2, a message for 3) in
/// #general and picks `entry`. Returns the simulator's status and body.
async fn use_entry(h: &Harness, user: u64, kind: u64, entry: &str, target: &str) -> (u16, Value) {
    http(
        &h.sim,
        "POST",
        "/_sim/interactions",
        Some(json!({
            "type": kind,
            "guild_id": h.cast.guild.to_string(),
            "channel_id": h.cast.general.to_string(),
            "user_id": user.to_string(),
            "name": entry,
            "target_id": target,
        })),
    )
    .await
}

fn id_of(body: &Value) -> u64 {
    body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no interaction id in {body}"))
}

/// The interaction once the bot acknowledged it (a form, or an answer).
async fn acknowledged(h: &Harness, id: u64) -> Value {
    let mut last = Value::Null;
    let done = wait_until(Duration::from_secs(10), async || {
        let (_, body) = http(&h.sim, "GET", &format!("/_sim/interactions/{id}"), None).await;
        let ok = body["acknowledged"].as_bool() == Some(true);
        last = body;
        ok
    })
    .await;
    assert!(done, "interaction {id} was not acknowledged: {last}");
    last
}

/// Uses `entry` on `target` and expects a form; returns the opening interaction's id.
async fn open_form(h: &Harness, user: u64, kind: u64, entry: &str, target: &str) -> u64 {
    let (status, body) = use_entry(h, user, kind, entry, target).await;
    assert_eq!(status, 201, "using {entry:?}: {body}");
    let id = id_of(&body);
    let it = acknowledged(h, id).await;
    assert_eq!(
        it["response"]["type"], 9,
        "{entry:?} answers with a form: {it}"
    );
    id
}

/// Submits the form interaction `opened` was answered with.
async fn submit(h: &Harness, opened: u64, text: &str) -> (u16, Value) {
    http(
        &h.sim,
        "POST",
        "/_sim/interactions/modal",
        Some(json!({"interaction_id": opened.to_string(), "values": {"text": text}})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_entries_warn_time_out_ban_note_and_list_cases() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let worker = h.start_live(&StoreKind::embedded()).await;
    let set = h
        .slash_answer(c.admin, "modlog", json!({"channel": c.mod_log.to_string()}))
        .await;
    assert!(reply_text(&set).contains("Cases will be posted"), "{set}");
    let member = c.member.to_string();

    // Timeout 1h runs at once.
    let (status, body) = use_entry(&h, c.moderator, 2, "Timeout 1h", &member).await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    assert!(reply_text(&a).to_lowercase().contains("case #"), "{a}");
    let until = h
        .timed_out_until(c.member)
        .expect("the member is timed out");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let left = until.saturating_sub(now_ms);
    assert!(
        (3_500_000..=3_600_000).contains(&left),
        "an hour's timeout: {left} ms left"
    );

    // Warn asks for the reason; the form's custom id names the entry and the user; the
    // reason field is required, as /warn's reason is.
    let opened = open_form(&h, c.moderator, 2, "Warn", &member).await;
    let it = acknowledged(&h, opened).await;
    let form = &it["response"]["data"];
    assert_eq!(form["custom_id"], format!("menu:u:Warn:{member}"), "{form}");
    assert_eq!(
        form["components"][0]["component"]["required"], true,
        "{form}"
    );
    let (status, body) = submit(&h, opened, "").await;
    assert_eq!(status, 400, "an empty required field is refused: {body}");
    let (status, body) = submit(&h, opened, "posting invite links").await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    assert!(reply_text(&a).to_lowercase().contains("case #"), "{a}");
    h.modlog_posts("posting invite links", 1).await;
    // A form is submitted once.
    let (status, _) = submit(&h, opened, "again").await;
    assert_eq!(status, 400, "a second submission is refused");

    // Note asks for the text; Cases lists them all, privately.
    let opened = open_form(&h, c.moderator, 2, "Note", &member).await;
    let (status, body) = submit(&h, opened, "asked to calm down in voice").await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    assert!(reply_text(&a).to_lowercase().contains("case #"), "{a}");
    let (status, body) = use_entry(&h, c.moderator, 2, "Cases", &member).await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    let shown = reply_text(&a);
    assert!(
        shown.contains("posting invite links") && shown.contains("asked to calm down"),
        "{shown}"
    );
    assert_eq!(a["original"]["flags"].as_u64().unwrap_or(0) & 64, 64, "{a}");

    // Ban's reason is optional: an empty form bans all the same.
    let outsider = c.member2.to_string();
    let opened = open_form(&h, c.moderator, 2, "Ban", &outsider).await;
    let (status, body) = submit(&h, opened, "").await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    assert!(reply_text(&a).to_lowercase().contains("case #"), "{a}");
    assert!(h.is_banned(c.member2));

    // A member without Ban Members is refused by the worker (the server opened every
    // command to everyone in its Integrations settings, so Discord shows it).
    let (status, body) = use_entry(&h, c.plain, 2, "Ban", &member).await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    assert!(reply_text(&a).contains("ban members"), "{a}");
    assert!(!h.is_banned(c.member));
    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_entries_delete_and_warn_and_report() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let worker = h.start_live(&StoreKind::embedded()).await;
    h.slash_answer(c.admin, "modlog", json!({"channel": c.mod_log.to_string()}))
        .await;

    // Report to moderators: any member, from a message; the report reaches the mod log
    // with the message's text and why.
    let rude = h.post(c.member, "you are all idiots").await;
    let rude_id = rude["id"].as_str().unwrap().to_owned();
    let opened = open_form(&h, c.member2, 3, "Report to moderators", &rude_id).await;
    let (status, body) = submit(&h, opened, "insults everyone").await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    assert!(reply_text(&a).contains("Reported"), "{a}");
    assert_eq!(a["original"]["flags"].as_u64().unwrap_or(0) & 64, 64, "{a}");
    let report = h.modlog_posts("Message reported", 1).await;
    assert!(
        report[0].contains("you are all idiots") && report[0].contains("insults everyone"),
        "{report:?}"
    );
    // The reported message stays.
    assert!(
        h.messages(c.general)
            .await
            .iter()
            .any(|m| m["id"].as_str() == Some(rude_id.as_str()))
    );

    // Delete & warn: the message goes, its author is warned with a reason quoting it.
    let spam = h.post(c.member, "free nitro at example.com").await;
    let spam_id = spam["id"].as_str().unwrap().to_owned();
    // Members are refused, before any form.
    let (status, body) = use_entry(&h, c.member2, 3, "Delete & warn", &spam_id).await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    assert_eq!(a["response"]["type"], 4, "{a}");
    assert!(reply_text(&a).contains("manage messages"), "{a}");
    let opened = open_form(&h, c.moderator, 3, "Delete & warn", &spam_id).await;
    let it = acknowledged(&h, opened).await;
    assert_eq!(
        it["response"]["data"]["custom_id"],
        format!("menu:m:Delete & warn:{spam_id}:{}", c.member)
    );
    let (status, body) = submit(&h, opened, "scam link").await;
    assert_eq!(status, 201, "{body}");
    let a = h.answer(id_of(&body)).await;
    assert!(reply_text(&a).contains("Deleted the message"), "{a}");
    let gone = wait_until(Duration::from_secs(5), async || {
        !h.messages(c.general)
            .await
            .iter()
            .any(|m| m["id"].as_str() == Some(spam_id.as_str()))
    })
    .await;
    assert!(gone, "the message was deleted");
    let warn = h.modlog_posts("scam link", 1).await;
    assert!(warn[0].contains("free nitro at example.com"), "{warn:?}");

    // An entry used on a message that is not in the channel is refused by Discord's client.
    let (status, _) = use_entry(&h, c.moderator, 3, "Delete & warn", "123456789012345678").await;
    assert_eq!(status, 400);
    worker.shutdown().await;
    h.shutdown().await;
}
