//! Channel edits: permission overwrites (`PUT`/`DELETE channels/{id}/permissions/{id}`),
//! `PATCH channels/{id}` (name, topic, slowmode, the overwrite list), who may set which bits,
//! their events, audit entries and rate limits. Every response of `api()` is checked against
//! Discord's OpenAPI spec.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::*;
use common::*;
use kyuta_sim::SimConfig;
use serde_json::{Value, json};

/// Permission bits used here (Discord's numbering).
const ADMINISTRATOR: u64 = 1 << 3;
const MANAGE_CHANNELS: u64 = 1 << 4;
const MANAGE_GUILD: u64 = 1 << 5;
const ADD_REACTIONS: u64 = 1 << 6;
const VIEW_CHANNEL: u64 = 1 << 10;
const SEND_MESSAGES: u64 = 1 << 11;
const MANAGE_MESSAGES: u64 = 1 << 13;
const MANAGE_ROLES: u64 = 1 << 28;
/// The generated bot role's permissions (see sim/README.md).
const BOT: u64 = (1 << 1)
    | (1 << 2)
    | (1 << 7)
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | MANAGE_MESSAGES
    | (1 << 14)
    | (1 << 16)
    | (1 << 27)
    | MANAGE_ROLES
    | (1 << 34)
    | (1 << 40);

/// A simulator whose default route bucket is raised (100 per second instead of 5): these
/// tests read the channel and the audit log after every change, faster than the default
/// bucket of `GET` routes allows. The limits of the routes under test stay Discord's.
async fn channels_sim(guilds: u64) -> kyuta_sim::Sim {
    sim_with(SimConfig {
        guilds,
        route_limit: 100,
        ..fast()
    })
    .await
}

/// The channel as `GET /channels/{id}` answers it.
async fn channel(sim: &kyuta_sim::Sim, cid: &str) -> Value {
    let r = api(sim, "GET", &format!("/channels/{cid}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// The audit-log entries of `action_type`, newest first.
async fn audit(sim: &kyuta_sim::Sim, gid: &str, action_type: u32) -> Vec<Value> {
    let r = api(
        sim,
        "GET",
        &format!("/guilds/{gid}/audit-logs?action_type={action_type}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["audit_log_entries"].as_array().unwrap().clone()
}

/// The overwrite of `id` on a channel object, if any.
fn overwrite<'a>(c: &'a Value, id: &str) -> Option<&'a Value> {
    c["permission_overwrites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
}

/// The first field error code at `path` (dot-separated) of a 50035.
fn field_error(r: &Resp, path: &str) -> String {
    let mut node = &r.body["errors"];
    for k in path.split('.') {
        node = &node[k];
    }
    node["_errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error at {path}: {}", r.body))
        .to_owned()
}

async fn put_overwrite(sim: &kyuta_sim::Sim, cid: &str, id: &str, body: Value) -> Resp {
    api(
        sim,
        "PUT",
        &format!("/channels/{cid}/permissions/{id}"),
        Some(&body),
    )
    .await
}

async fn patch(sim: &kyuta_sim::Sim, cid: &str, body: Value) -> Resp {
    api(sim, "PATCH", &format!("/channels/{cid}"), Some(&body)).await
}

#[tokio::test]
async fn a_permission_overwrite_is_set_dispatched_shown_and_logged() {
    let sim = channels_sim(1).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let g = guild0(&sim).await;
    let gid = gid(&g);
    let general = channel_id(&g, "general");
    // Lock #general: @everyone may no longer send.
    let r = api_with_reason(
        &sim,
        "PUT",
        &format!("/channels/{general}/permissions/{gid}"),
        Some(&json!({"type": 0, "deny": SEND_MESSAGES.to_string()})),
        "lockdown%20%E2%9C%85",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.raw.is_empty());
    let ev = gw.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(ev["d"]["id"], general.as_str());
    assert_eq!(ev["d"]["guild_id"], gid);
    let o = overwrite(&ev["d"], gid).expect("the overwrite in CHANNEL_UPDATE");
    assert_eq!(
        o,
        &json!({"id": gid, "type": 0, "allow": "0", "deny": SEND_MESSAGES.to_string()})
    );
    let c = channel(&sim, &general).await;
    assert_eq!(overwrite(&c, gid), Some(o));
    let listed = api(&sim, "GET", &format!("/guilds/{gid}/channels"), None).await;
    let listed = listed.body.as_array().unwrap();
    let c = listed.iter().find(|c| c["id"] == general.as_str()).unwrap();
    assert_eq!(overwrite(c, gid), Some(o));
    // Audit entry 13 CHANNEL_OVERWRITE_CREATE, as Discord writes it.
    let created = audit(&sim, gid, 13).await;
    assert_eq!(created.len(), 1);
    let en = &created[0];
    assert_eq!(en["user_id"], sim.bot_id().to_string());
    assert_eq!(en["target_id"], general.as_str());
    assert_eq!(en["reason"], "lockdown ✅");
    assert_eq!(
        en["options"],
        json!({"id": gid, "type": "0", "role_name": "@everyone"})
    );
    let keys: Vec<&str> = en["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["id", "type", "allow", "deny"]);
    // The same overwrite again changes nothing: 204, no event, no entry.
    let r = put_overwrite(
        &sim,
        &general,
        gid,
        json!({"type": 0, "deny": SEND_MESSAGES.to_string(), "allow": null}),
    )
    .await;
    assert_eq!(r.status, 204);
    // Changing it: entry 14 with the changed bits only; integers are taken too.
    let r = put_overwrite(
        &sim,
        &general,
        gid,
        json!({"type": 0, "deny": SEND_MESSAGES | ADD_REACTIONS}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(
        overwrite(&ev["d"], gid).unwrap()["deny"],
        (SEND_MESSAGES | ADD_REACTIONS).to_string()
    );
    assert_eq!(
        audit(&sim, gid, 13).await.len(),
        1,
        "no entry for the repeat"
    );
    let updated = audit(&sim, gid, 14).await;
    assert_eq!(updated.len(), 1);
    assert_eq!(
        updated[0]["changes"],
        json!([{"key": "deny", "old_value": SEND_MESSAGES.to_string(), "new_value": (SEND_MESSAGES | ADD_REACTIONS).to_string()}])
    );
    assert!(updated[0].get("reason").is_none());
    // A member overwrite: type 1, options without a role name.
    let member = plain_member(&sim, &g).await;
    let r = put_overwrite(
        &sim,
        &general,
        &member,
        json!({"type": 1, "allow": SEND_MESSAGES.to_string()}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(overwrite(&ev["d"], &member).unwrap()["type"], 1);
    assert_eq!(
        audit(&sim, gid, 13).await[0]["options"],
        json!({"id": member, "type": "1"})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn removing_an_overwrite_dispatches_and_logs_once() {
    let sim = channels_sim(1).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let g = guild0(&sim).await;
    let gid = gid(&g);
    let mod_log = channel_id(&g, "mod-log");
    // #mod-log is generated with an @everyone overwrite denying SEND_MESSAGES.
    assert!(overwrite(&channel(&sim, &mod_log).await, gid).is_some());
    let r = api_with_reason(
        &sim,
        "DELETE",
        &format!("/channels/{mod_log}/permissions/{gid}"),
        None,
        "unlock",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("CHANNEL_UPDATE").await;
    assert!(overwrite(&ev["d"], gid).is_none());
    assert!(overwrite(&channel(&sim, &mod_log).await, gid).is_none());
    let removed = audit(&sim, gid, 15).await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["reason"], "unlock");
    assert_eq!(removed[0]["target_id"], mod_log.as_str());
    assert_eq!(
        removed[0]["options"],
        json!({"id": gid, "type": "0", "role_name": "@everyone"})
    );
    assert_eq!(
        removed[0]["changes"][3],
        json!({"key": "deny", "old_value": SEND_MESSAGES.to_string()})
    );
    // Again: no such overwrite any more. 204, nothing happens.
    let r = api(
        &sim,
        "DELETE",
        &format!("/channels/{mod_log}/permissions/{gid}"),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(audit(&sim, gid, 15).await.len(), 1);
    // Up to the bot's next message only the first removal's audit event arrives: no second
    // CHANNEL_UPDATE.
    let r = api(
        &sim,
        "POST",
        &format!("/channels/{mod_log}/messages"),
        Some(&json!({"content": "unlocked"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut between = Vec::new();
    loop {
        let p = gw.payload().await;
        if p["t"] == "MESSAGE_CREATE" {
            break;
        }
        between.push(p["t"].as_str().unwrap_or("").to_owned());
    }
    assert_eq!(between, ["GUILD_AUDIT_LOG_ENTRY_CREATE"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn overwrite_targets_must_be_a_role_or_member_of_the_type_given() {
    let sim = channels_sim(1).await;
    let g = guild0(&sim).await;
    let gid = gid(&g);
    let general = channel_id(&g, "general");
    let member = plain_member(&sim, &g).await;
    let role = role_id(&g, "Member");
    // A member as a role, a role as a member, an id of nothing: 404 10009 Unknown Overwrite.
    for (id, kind) in [
        (member.as_str(), 0),
        (role.as_str(), 1),
        ("1234567890123", 0),
        ("1234567890123", 1),
    ] {
        let r = put_overwrite(&sim, &general, id, json!({"type": kind})).await;
        assert_eq!((r.status, code(&r)), (404, 10009), "{id} as {kind}");
        assert_eq!(r.body["message"], "Unknown Overwrite");
    }
    // Bad bodies: 400 50035 with every field error.
    let r = put_overwrite(&sim, &general, gid, json!({"allow": "lots", "deny": []})).await;
    assert_eq!((r.status, code(&r)), (400, 50035), "{}", r.body);
    assert_eq!(field_error(&r, "type"), "BASE_TYPE_REQUIRED");
    assert_eq!(field_error(&r, "allow"), "NUMBER_TYPE_COERCE");
    assert_eq!(field_error(&r, "deny"), "NUMBER_TYPE_COERCE");
    let r = put_overwrite(&sim, &general, gid, json!({"type": 2})).await;
    assert_eq!(field_error(&r, "type"), "BASE_TYPE_CHOICES");
    let r = put_overwrite(&sim, &general, gid, json!({"type": "role"})).await;
    assert_eq!(field_error(&r, "type"), "BASE_TYPE_CHOICES");
    // An unknown channel, a channel the bot cannot see, a bad path id.
    let r = put_overwrite(&sim, "1234567890123", gid, json!({"type": 0})).await;
    assert_eq!((r.status, code(&r)), (404, 10003));
    let staff = channel_id(&g, "staff");
    let r = put_overwrite(&sim, &staff, gid, json!({"type": 0})).await;
    assert_eq!((r.status, code(&r)), (403, 50001));
    let r = api(
        &sim,
        "DELETE",
        &format!("/channels/{staff}/permissions/{gid}"),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50001));
    let r = put_overwrite(&sim, &general, "everyone", json!({"type": 0})).await;
    assert_eq!((r.status, code(&r)), (400, 50035));
    sim.shutdown().await;
}

#[tokio::test]
async fn overwrites_need_manage_roles_in_the_channel() {
    let sim = channels_sim(1).await;
    let g = guild0(&sim).await;
    let gid = gid(&g);
    let general = channel_id(&g, "general");
    let off_topic = channel_id(&g, "off-topic");
    let bot_role = role_id(&g, "Kyuta");
    // An admin denies the bot's role MANAGE_ROLES in #off-topic only (the bot, as an
    // administrator for a moment, sets that overwrite).
    set_role_permissions(&sim, &g, "Kyuta", BOT | ADMINISTRATOR).await;
    let r = put_overwrite(
        &sim,
        &off_topic,
        &bot_role,
        json!({"type": 0, "deny": MANAGE_ROLES.to_string()}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    set_role_permissions(&sim, &g, "Kyuta", BOT).await;
    let deny = json!({"type": 0, "deny": SEND_MESSAGES.to_string()});
    let r = put_overwrite(&sim, &off_topic, gid, deny.clone()).await;
    assert_eq!((r.status, code(&r)), (403, 50013), "{}", r.body);
    let r = api(
        &sim,
        "DELETE",
        &format!("/channels/{off_topic}/permissions/{bot_role}"),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    // Elsewhere the guild-level MANAGE_ROLES still counts.
    let r = put_overwrite(&sim, &general, gid, deny.clone()).await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Without MANAGE_ROLES at all: 50013 everywhere, for setting and removing.
    set_role_permissions(&sim, &g, "Kyuta", BOT & !MANAGE_ROLES).await;
    let r = put_overwrite(&sim, &general, gid, deny).await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    let r = api(
        &sim,
        "DELETE",
        &format!("/channels/{general}/permissions/{gid}"),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_bot_cannot_allow_or_deny_a_permission_it_does_not_have() {
    let sim = channels_sim(1).await;
    let g = guild0(&sim).await;
    let gid = gid(&g);
    let general = channel_id(&g, "general");
    let bot_role = role_id(&g, "Kyuta");
    // The bot's role lacks MANAGE_CHANNELS and MANAGE_GUILD; MANAGE_ROLES itself needs an
    // administrator (or a MANAGE_ROLES overwrite) even though the bot holds it.
    for body in [
        json!({"type": 0, "allow": MANAGE_CHANNELS.to_string()}),
        json!({"type": 0, "deny": (SEND_MESSAGES | MANAGE_GUILD).to_string()}),
        json!({"type": 0, "deny": MANAGE_ROLES.to_string()}),
    ] {
        let r = put_overwrite(&sim, &general, gid, body.clone()).await;
        assert_eq!((r.status, code(&r)), (403, 50013), "{body}");
    }
    assert!(overwrite(&channel(&sim, &general).await, gid).is_none());
    // What it holds it may set.
    let r = put_overwrite(
        &sim,
        &general,
        gid,
        json!({"type": 0, "deny": (SEND_MESSAGES | MANAGE_MESSAGES).to_string()}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // An administrator may set anything: here a MANAGE_ROLES overwrite for its own role.
    set_role_permissions(&sim, &g, "Kyuta", BOT | ADMINISTRATOR).await;
    let r = put_overwrite(
        &sim,
        &general,
        &bot_role,
        json!({"type": 0, "allow": MANAGE_ROLES.to_string()}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Back to its own bits, the MANAGE_ROLES overwrite in the channel lifts the rule there.
    set_role_permissions(&sim, &g, "Kyuta", BOT).await;
    let r = put_overwrite(
        &sim,
        &general,
        gid,
        json!({"type": 0, "allow": MANAGE_CHANNELS.to_string()}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // …and only there.
    let off_topic = channel_id(&g, "off-topic");
    let r = put_overwrite(
        &sim,
        &off_topic,
        gid,
        json!({"type": 0, "allow": MANAGE_CHANNELS.to_string()}),
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    sim.shutdown().await;
}

#[tokio::test]
async fn slowmode_is_set_with_patch_dispatched_logged_and_in_later_guild_creates() {
    let sim = channels_sim(2).await;
    // A first session streams both untouched guilds (their GUILD_CREATEs get cached).
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    for _ in 0..2 {
        gw.dispatch("GUILD_CREATE").await;
    }
    let g = guild0(&sim).await;
    let gid = gid(&g);
    let general = channel_id(&g, "general");
    set_role_permissions(&sim, &g, "Kyuta", BOT | MANAGE_CHANNELS).await;
    let r = api_with_reason(
        &sim,
        "PATCH",
        &format!("/channels/{general}"),
        Some(&json!({"rate_limit_per_user": 30})),
        "slow%20down",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["rate_limit_per_user"], 30);
    assert_eq!(r.body["id"], general.as_str());
    let ev = gw.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(ev["d"], r.body);
    assert_eq!(channel(&sim, &general).await["rate_limit_per_user"], 30);
    let en = audit(&sim, gid, 11).await;
    assert_eq!(en.len(), 1);
    assert_eq!(en[0]["target_id"], general.as_str());
    assert_eq!(en[0]["reason"], "slow down");
    assert_eq!(
        en[0]["changes"],
        json!([{"key": "rate_limit_per_user", "old_value": 0, "new_value": 30}])
    );
    // The same value again: 200, no entry. The longest slowmode, then off (null: 0).
    assert_eq!(
        patch(&sim, &general, json!({"rate_limit_per_user": 30}))
            .await
            .status,
        200
    );
    assert_eq!(audit(&sim, gid, 11).await.len(), 1);
    let r = patch(&sim, &general, json!({"rate_limit_per_user": 21600})).await;
    assert_eq!(r.body["rate_limit_per_user"], 21600);
    // A new session's GUILD_CREATE shows the changed channel; the untouched guild's
    // (cached) one is unchanged. (Past the 200 ms identify window of the test config.)
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let (mut gw2, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    for _ in 0..2 {
        let gc = gw2.dispatch("GUILD_CREATE").await;
        let slow: Vec<(String, u64)> = gc["d"]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| {
                Some((
                    c["name"].as_str()?.to_owned(),
                    c["rate_limit_per_user"].as_u64()?,
                ))
            })
            .filter(|(_, s)| *s > 0)
            .collect();
        if gc["d"]["id"] == gid {
            assert_eq!(slow, [("general".to_owned(), 21600)]);
        } else {
            assert!(slow.is_empty(), "{slow:?}");
        }
    }
    let r = patch(&sim, &general, json!({"rate_limit_per_user": null})).await;
    assert_eq!(r.body["rate_limit_per_user"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_channel_edit_needs_manage_channels_and_a_valid_body() {
    let sim = channels_sim(1).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    // The generated bot role lacks MANAGE_CHANNELS.
    let r = patch(&sim, &general, json!({"rate_limit_per_user": 10})).await;
    assert_eq!((r.status, code(&r)), (403, 50013), "{}", r.body);
    set_role_permissions(&sim, &g, "Kyuta", BOT | MANAGE_CHANNELS).await;
    let r = patch(&sim, &general, json!({"rate_limit_per_user": 21601})).await;
    assert_eq!((r.status, code(&r)), (400, 50035), "{}", r.body);
    assert_eq!(r.body["message"], "Invalid Form Body");
    assert_eq!(field_error(&r, "rate_limit_per_user"), "NUMBER_TYPE_MAX");
    assert_eq!(
        r.body["errors"]["rate_limit_per_user"]["_errors"][0]["message"],
        "int value should be less than or equal to 21600."
    );
    let r = patch(&sim, &general, json!({"rate_limit_per_user": -1})).await;
    assert_eq!(field_error(&r, "rate_limit_per_user"), "NUMBER_TYPE_MIN");
    // Every invalid field at once.
    let r = patch(
        &sim,
        &general,
        json!({"rate_limit_per_user": "soon", "name": "", "topic": "t".repeat(1025),
               "permission_overwrites": [{"type": 0}, {"id": "x", "type": 1, "allow": "?"}]}),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50035), "{}", r.body);
    assert_eq!(field_error(&r, "rate_limit_per_user"), "NUMBER_TYPE_COERCE");
    assert_eq!(field_error(&r, "name"), "BASE_TYPE_BAD_LENGTH");
    assert_eq!(field_error(&r, "topic"), "BASE_TYPE_MAX_LENGTH");
    assert_eq!(
        field_error(&r, "permission_overwrites.0.id"),
        "BASE_TYPE_REQUIRED"
    );
    assert_eq!(
        field_error(&r, "permission_overwrites.1.id"),
        "NUMBER_TYPE_COERCE"
    );
    assert_eq!(
        field_error(&r, "permission_overwrites.1.allow"),
        "NUMBER_TYPE_COERCE"
    );
    let r = patch(&sim, &general, json!({"permission_overwrites": {}})).await;
    assert_eq!(field_error(&r, "permission_overwrites"), "BASE_TYPE_ARRAY");
    // Nothing was changed by the refused edits.
    let c = channel(&sim, &general).await;
    assert_eq!(c["rate_limit_per_user"], 0);
    assert_eq!(c["name"], "general");
    // Overwrites in a PATCH need MANAGE_ROLES as well.
    set_role_permissions(&sim, &g, "Kyuta", (BOT | MANAGE_CHANNELS) & !MANAGE_ROLES).await;
    let r = patch(&sim, &general, json!({"permission_overwrites": []})).await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    // A DM cannot be edited this way.
    let user = plain_member(&sim, &g).await;
    let dm = api(
        &sim,
        "POST",
        "/users/@me/channels",
        Some(&json!({"recipient_id": user})),
    )
    .await;
    let dm = dm.body["id"].as_str().unwrap().to_owned();
    let r = patch(&sim, &dm, json!({"name": "x"})).await;
    assert_eq!((r.status, code(&r)), (403, 50003));
    sim.shutdown().await;
}

#[tokio::test]
async fn patch_renames_sets_the_topic_and_replaces_the_overwrites() {
    let sim = channels_sim(1).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let g = guild0(&sim).await;
    let gid = gid(&g);
    let mod_log = channel_id(&g, "mod-log");
    let bot_role = role_id(&g, "Kyuta");
    let member = plain_member(&sim, &g).await;
    set_role_permissions(&sim, &g, "Kyuta", BOT | MANAGE_CHANNELS).await;
    // #mod-log has @everyone deny SEND and Kyuta allow SEND|VIEW; the new list changes
    // @everyone's, drops Kyuta's and adds one for a member.
    let r = patch(
        &sim,
        &mod_log,
        json!({
            "name": "mod-log-archive",
            "topic": "what the bot did",
            "permission_overwrites": [
                {"id": gid, "type": 0, "deny": (SEND_MESSAGES | ADD_REACTIONS).to_string()},
                {"id": member, "type": 1, "allow": VIEW_CHANNEL}
            ]
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "mod-log-archive");
    assert_eq!(r.body["topic"], "what the bot did");
    assert_eq!(
        r.body["permission_overwrites"],
        json!([
            {"id": gid, "type": 0, "allow": "0", "deny": (SEND_MESSAGES | ADD_REACTIONS).to_string()},
            {"id": member, "type": 1, "allow": VIEW_CHANNEL.to_string(), "deny": "0"}
        ])
    );
    let ev = gw.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(ev["d"], r.body);
    assert_eq!(channel(&sim, &mod_log).await, r.body);
    let en = audit(&sim, gid, 11).await;
    assert_eq!(
        en[0]["changes"],
        json!([
            {"key": "name", "old_value": "mod-log", "new_value": "mod-log-archive"},
            {"key": "topic", "old_value": null, "new_value": "what the bot did"}
        ])
    );
    assert_eq!(
        audit(&sim, gid, 13).await[0]["options"]["id"],
        member.as_str()
    );
    assert_eq!(audit(&sim, gid, 14).await[0]["options"]["id"], gid);
    let removed = audit(&sim, gid, 15).await;
    assert_eq!(removed[0]["options"]["id"], bot_role.as_str());
    assert_eq!(removed[0]["options"]["role_name"], "Kyuta");
    // Targets are checked as for PUT; an empty topic clears it.
    let r = patch(
        &sim,
        &mod_log,
        json!({"permission_overwrites": [{"id": member, "type": 0}]}),
    )
    .await;
    assert_eq!((r.status, code(&r)), (404, 10009));
    let r = patch(&sim, &mod_log, json!({"topic": ""})).await;
    assert_eq!(r.body["topic"], Value::Null);
    sim.shutdown().await;
}

#[tokio::test]
async fn name_and_topic_changes_are_limited_to_two_per_ten_minutes_per_channel() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    let off_topic = channel_id(&g, "off-topic");
    set_role_permissions(&sim, &g, "Kyuta", BOT | MANAGE_CHANNELS).await;
    for name in ["one", "two"] {
        let r = patch(&sim, &general, json!({"name": name})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers["x-ratelimit-limit"], "10");
    }
    // The third (a topic counts as well): 429 with a wait of about ten minutes, which the
    // bucket's headers do not show.
    let r = patch(&sim, &general, json!({"topic": "three"})).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["global"], false);
    let wait = r.body["retry_after"].as_f64().unwrap();
    assert!((590.0..=600.0).contains(&wait), "{wait}");
    assert_ne!(r.headers["x-ratelimit-remaining"], "0");
    assert!(
        r.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 590
    );
    let c = api(&sim, "GET", &format!("/channels/{general}"), None).await;
    assert_eq!(c.body["name"], "two");
    assert_eq!(c.body["topic"], Value::Null);
    // Other edits of the channel, and renames of other channels, still go through.
    let r = patch(&sim, &general, json!({"rate_limit_per_user": 5})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = patch(&sim, &general, json!({"name": "two"})).await;
    assert_eq!(r.status, 200, "the same name is no change");
    let r = patch(&sim, &off_topic, json!({"name": "chat"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let stats = sim.stats();
    assert_eq!(
        stats.stats.rest_429s.get("PATCH /channels/{channel}"),
        Some(&1)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn overwrite_routes_share_one_bucket_per_channel() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let gid = gid(&g);
    let general = channel_id(&g, "general");
    let off_topic = channel_id(&g, "off-topic");
    let deny = json!({"type": 0, "deny": SEND_MESSAGES.to_string()});
    let set = put_overwrite(&sim, &general, gid, deny.clone()).await;
    let unset = api(
        &sim,
        "DELETE",
        &format!("/channels/{general}/permissions/{gid}"),
        None,
    )
    .await;
    assert_eq!((set.status, unset.status), (204, 204));
    assert_eq!(set.headers["x-ratelimit-limit"], "10");
    assert_eq!(
        set.headers["x-ratelimit-bucket"],
        unset.headers["x-ratelimit-bucket"]
    );
    assert_eq!(unset.headers["x-ratelimit-remaining"], "8");
    for _ in 0..8 {
        let r = put_overwrite(&sim, &general, gid, deny.clone()).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let r = put_overwrite(&sim, &general, gid, deny.clone()).await;
    assert_eq!(r.status, 429, "{}", r.body);
    // Another channel has its own.
    let r = put_overwrite(&sim, &off_topic, gid, deny).await;
    assert_eq!(r.status, 204, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_bot_posts_where_it_may_and_slowmode_does_not_hold_it_back() {
    let sim = channels_sim(1).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    // Slowmode on, and the bot without MANAGE_MESSAGES: bots are exempt all the same.
    set_role_permissions(
        &sim,
        &g,
        "Kyuta",
        (BOT | MANAGE_CHANNELS) & !MANAGE_MESSAGES,
    )
    .await;
    let r = patch(&sim, &general, json!({"rate_limit_per_user": 600})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for n in 0..2 {
        let r = api(
            &sim,
            "POST",
            &format!("/channels/{general}/messages"),
            Some(&json!({"content": format!("post {n}")})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The bot's own lockdown overwrite (its role denied SEND_MESSAGES) keeps it out: 50013.
    let bot_role = role_id(&g, "Kyuta");
    let r = put_overwrite(
        &sim,
        &general,
        &bot_role,
        json!({"type": 0, "deny": SEND_MESSAGES.to_string()}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = api(
        &sim,
        "POST",
        &format!("/channels/{general}/messages"),
        Some(&json!({"content": "locked"})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50013), "{}", r.body);
    sim.shutdown().await;
}
