//! What people do in a guild, through the control API, and the events Discord sends for it.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::*;
use common::*;
use serde_json::json;

#[tokio::test]
async fn a_member_who_leaves_raises_guild_member_remove_and_no_audit_entry() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let user = plain_member(&sim, &g).await;
    let path = format!("/guilds/{}/members/{user}", gid(&g));
    let r = ctl(&sim, "DELETE", &path, None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("GUILD_MEMBER_REMOVE").await;
    assert_eq!(ev["d"]["guild_id"], gid(&g));
    assert_eq!(ev["d"]["user"]["id"], user.as_str());
    // Gone for REST too (10007), and nobody acted on them: no audit-log entry.
    let r = api(&sim, "GET", &path, None).await;
    assert_eq!(code(&r), 10007, "{}", r.body);
    let audit = ctl(&sim, "GET", &format!("/guilds/{}/audit-log", gid(&g)), None).await;
    assert_eq!(
        audit.body.as_array().map(Vec::len),
        Some(0),
        "{}",
        audit.body
    );
    // Leaving twice: not a member any more; the owner cannot leave.
    assert_eq!(ctl(&sim, "DELETE", &path, None).await.status, 404);
    let owner = g["owner_id"].as_str().unwrap();
    let r = ctl(
        &sim,
        "DELETE",
        &format!("/guilds/{}/members/{owner}", gid(&g)),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_moderator_bans_kicks_times_out_and_unbans_through_the_control_api() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let moderator = member_with_role(&sim, &g, "Moderator").await;
    let targets = plain_members(&sim, &g, 3).await;
    let gid = gid(&g);
    // Someone without BAN_MEMBERS cannot; nor can a moderator act on a higher member.
    let r = ctl(
        &sim,
        "POST",
        &format!("/guilds/{gid}/bans/{}", targets[0]),
        Some(&json!({"moderator_id": targets[1]})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains("BAN_MEMBERS"));
    let owner = g["owner_id"].as_str().unwrap();
    let r = ctl(
        &sim,
        "POST",
        &format!("/guilds/{gid}/bans/{owner}"),
        Some(&json!({"moderator_id": moderator})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    let r = ctl(
        &sim,
        "POST",
        &format!("/guilds/{gid}/bans/{}", targets[0]),
        Some(&json!({"moderator_id": moderator, "reason": "spam"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ban = gw.dispatch("GUILD_BAN_ADD").await;
    assert_eq!(ban["d"]["user"]["id"], targets[0].as_str());
    let audit = gw.dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE").await;
    assert_eq!(audit["d"]["action_type"], 22);
    assert_eq!(audit["d"]["user_id"], moderator.as_str());
    assert_eq!(audit["d"]["target_id"], targets[0].as_str());
    assert_eq!(audit["d"]["reason"], "spam");

    let r = ctl(
        &sim,
        "POST",
        &format!("/guilds/{gid}/members/{}/kick", targets[1]),
        Some(&json!({"moderator_id": moderator})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let audit = gw.dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE").await;
    assert_eq!(audit["d"]["action_type"], 20);
    assert_eq!(audit["d"]["user_id"], moderator.as_str());

    let until = kyuta_sim::util::iso(kyuta_sim::util::now_ms() + 3_600_000);
    let path = format!("/guilds/{gid}/members/{}", targets[2]);
    let body = json!({"moderator_id": moderator, "communication_disabled_until": until});
    let r = ctl(&sim, "PATCH", &path, Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let audit = gw.dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE").await;
    assert_eq!(audit["d"]["action_type"], 24);
    assert_eq!(
        audit["d"]["changes"][0]["key"],
        "communication_disabled_until"
    );
    let body = json!({"moderator_id": moderator, "communication_disabled_until": null});
    assert_eq!(ctl(&sim, "PATCH", &path, Some(&body)).await.status, 200);

    // The bot without VIEW_AUDIT_LOG gets GUILD_BAN_REMOVE but no audit event.
    set_role_permissions(&sim, &g, "Kyuta", (1 << 1) | (1 << 2) | (1 << 40)).await;
    let r = ctl(
        &sim,
        "DELETE",
        &format!("/guilds/{gid}/bans/{}", targets[0]),
        Some(&json!({"moderator_id": moderator, "reason": "appeal"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    gw.dispatch("GUILD_BAN_REMOVE").await;
    let r = ctl(
        &sim,
        "POST",
        &format!("/guilds/{gid}/members"),
        Some(&json!({"username": "marker"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    loop {
        let p = gw.payload().await;
        assert_ne!(p["t"], "GUILD_AUDIT_LOG_ENTRY_CREATE", "{p}");
        if p["t"] == "GUILD_MEMBER_ADD" {
            break;
        }
    }
    // Every entry names its moderator and is valid against Discord's spec.
    set_role_permissions(&sim, &g, "Kyuta", 1 << 7).await;
    let r = api(&sim, "GET", &format!("/guilds/{gid}/audit-logs"), None).await;
    let entries = r.body["audit_log_entries"].as_array().unwrap();
    let unban = entries.iter().find(|e| e["action_type"] == 23).unwrap();
    assert_eq!(unban["user_id"], moderator.as_str());
    assert_eq!(unban["reason"], "appeal");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_moderator_gives_and_takes_roles_the_bots_own_included() {
    const MANAGE_CHANNELS: u64 = 1 << 4;
    const MANAGE_ROLES: u64 = 1 << 28;
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let gid = gid(&g).to_owned();
    let (mut gw, ready) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let bot = ready["d"]["user"]["id"].as_str().unwrap().to_owned();
    let admin = member_with_role(&sim, &g, "Admin").await;
    let moderator = member_with_role(&sim, &g, "Moderator").await;
    let plain = plain_member(&sim, &g).await;
    let member_role = role_id(&g, "Member");
    // The owner lets the Member role manage channels; the bot does not have it yet.
    set_role_permissions(&sim, &g, "Member", MANAGE_CHANNELS).await;
    let perms_of = |user: String| {
        let sim = &sim;
        let gid = gid.clone();
        async move {
            let m = ctl(sim, "GET", &format!("/guilds/{gid}/members/{user}"), None).await;
            m.body["permissions"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        }
    };
    assert_eq!(perms_of(bot.clone()).await & MANAGE_CHANNELS, 0);
    let path = |user: &str, role: &str| format!("/guilds/{gid}/members/{user}/roles/{role}");
    let by = |m: &str| json!({"moderator_id": m, "reason": "needs it"});

    // An admin gives the bot the role: GUILD_MEMBER_UPDATE, audit 25 by the admin, and the
    // bot's permissions grow.
    let r = ctl(&sim, "PUT", &path(&bot, &member_role), Some(&by(&admin))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("GUILD_MEMBER_UPDATE").await;
    assert_eq!(ev["d"]["user"]["id"], bot.as_str());
    assert!(
        ev["d"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!(member_role)),
        "{ev}"
    );
    assert_ne!(perms_of(bot.clone()).await & MANAGE_CHANNELS, 0);
    // And takes it away again: the bot loses what the role gave it.
    let r = ctl(&sim, "DELETE", &path(&bot, &member_role), Some(&by(&admin))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("GUILD_MEMBER_UPDATE").await;
    assert!(
        !ev["d"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!(member_role)),
        "{ev}"
    );
    assert_eq!(perms_of(bot.clone()).await & MANAGE_CHANNELS, 0);
    let audit = ctl(&sim, "GET", &format!("/guilds/{gid}/audit-log"), None).await;
    let entries: Vec<_> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action_type"] == 25)
        .collect();
    assert_eq!(entries.len(), 2, "{}", audit.body);
    for e in &entries {
        assert_eq!(e["user_id"], admin.as_str(), "{e}");
        assert_eq!(e["target_id"], bot.as_str(), "{e}");
        assert_eq!(e["reason"], "needs it", "{e}");
    }
    let keys: Vec<&str> = entries
        .iter()
        .map(|e| e["changes"][0]["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"$add") && keys.contains(&"$remove"),
        "{keys:?}"
    );

    // Refused as Discord refuses them: the bot's managed role, @everyone, a moderator
    // without MANAGE_ROLES, and a role at or above the moderator's highest.
    let managed = role_id(&g, "Kyuta");
    let r = ctl(&sim, "DELETE", &path(&bot, &managed), Some(&by(&admin))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = ctl(&sim, "PUT", &path(&plain, &gid), Some(&by(&admin))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = ctl(
        &sim,
        "PUT",
        &path(&plain, &member_role),
        Some(&by(&moderator)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("MANAGE_ROLES"),
        "{}",
        r.body
    );
    set_role_permissions(&sim, &g, "Moderator", MANAGE_ROLES).await;
    let admin_role = role_id(&g, "Admin");
    let r = ctl(
        &sim,
        "PUT",
        &path(&plain, &admin_role),
        Some(&by(&moderator)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Below their own highest role they may.
    let r = ctl(
        &sim,
        "PUT",
        &path(&plain, &member_role),
        Some(&by(&moderator)),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_moderator_edits_a_channels_overwrites_and_the_bot_feels_it() {
    const SEND_MESSAGES: u64 = 1 << 11;
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let gid = gid(&g).to_owned();
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let admin = member_with_role(&sim, &g, "Admin").await;
    let plain = plain_member(&sim, &g).await;
    let general = channel_id(&g, "general");
    let bot_role = role_id(&g, "Kyuta");
    let path = format!("/channels/{general}/permissions/{bot_role}");
    let messages = format!("/channels/{general}/messages");
    let hello = json!({"content": "hello"});
    let post = || api(&sim, "POST", &messages, Some(&hello));
    assert_eq!(post().await.status, 200);

    // Someone without MANAGE_ROLES cannot.
    let deny = json!({"moderator_id": plain, "type": 0, "deny": SEND_MESSAGES.to_string()});
    let r = ctl(&sim, "PUT", &path, Some(&deny)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("MANAGE_ROLES"),
        "{}",
        r.body
    );

    // An admin denies the bot's role SEND_MESSAGES in #general: CHANNEL_UPDATE with the
    // overwrite, audit entry 13 by the admin, and the bot's next message is refused.
    let deny = json!({"moderator_id": admin, "type": 0, "deny": SEND_MESSAGES.to_string(),
        "reason": "quiet"});
    let r = ctl(&sim, "PUT", &path, Some(&deny)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("CHANNEL_UPDATE").await;
    let deny_bits = SEND_MESSAGES.to_string();
    assert_eq!(ev["d"]["id"], general.as_str());
    assert!(
        ev["d"]["permission_overwrites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == bot_role.as_str() && o["deny"] == deny_bits.as_str()),
        "{ev}"
    );
    let r = post().await;
    assert_eq!((r.status, code(&r)), (403, 50013), "{}", r.body);

    // The admin removes it again: audit entry 15, and the bot may post.
    let r = ctl(&sim, "DELETE", &path, Some(&json!({"moderator_id": admin}))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    gw.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(post().await.status, 200);
    let audit = ctl(&sim, "GET", &format!("/guilds/{gid}/audit-log"), None).await;
    let by_admin: Vec<_> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["user_id"] == admin.as_str())
        .map(|e| e["action_type"].as_u64().unwrap())
        .collect();
    assert!(
        by_admin.contains(&13) && by_admin.contains(&15),
        "{}",
        audit.body
    );
    let created = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action_type"] == 13)
        .unwrap();
    assert_eq!(created["target_id"], general.as_str());
    assert_eq!(created["reason"], "quiet");
    assert_eq!(created["options"]["id"], bot_role.as_str());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_owner_moves_roles_and_the_bots_reach_follows() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let gid = gid(&g).to_owned();
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let admin = member_with_role(&sim, &g, "Admin").await;
    let kyuta = role_id(&g, "Kyuta");
    let admin_role = role_id(&g, "Admin");
    let admin_path = format!("/guilds/{gid}/members/{admin}");
    let kick = || api(&sim, "DELETE", &admin_path, None);
    // Admin (4) is above Kyuta (3): the bot cannot kick an admin.
    let r = kick().await;
    assert_eq!((r.status, code(&r)), (403, 50013), "{}", r.body);

    // Bad moves are refused whole.
    for body in [
        json!([]),
        json!([{"id": gid, "position": 2}]),
        json!([{"id": kyuta, "position": 0}]),
        json!([{"id": "1", "position": 1}]),
    ] {
        let r = ctl(&sim, "PATCH", &format!("/guilds/{gid}/roles"), Some(&body)).await;
        assert!(
            matches!(r.status, 400 | 404),
            "{body}: {} {}",
            r.status,
            r.body
        );
    }

    // The owner moves Kyuta to the top: Kyuta 4, Admin 3, each with GUILD_ROLE_UPDATE.
    let r = ctl(
        &sim,
        "PATCH",
        &format!("/guilds/{gid}/roles"),
        Some(&json!([{"id": kyuta, "position": 10}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let position = |roles: &serde_json::Value, id: &str| {
        roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["position"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(position(&r.body, &kyuta), 4, "{}", r.body);
    assert_eq!(position(&r.body, &admin_role), 3, "{}", r.body);
    assert_eq!(position(&r.body, &gid), 0, "{}", r.body);
    let mut updated = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let ev = gw.dispatch("GUILD_ROLE_UPDATE").await;
        updated.insert(
            ev["d"]["role"]["id"].as_str().unwrap().to_owned(),
            ev["d"]["role"]["position"].as_i64().unwrap(),
        );
    }
    assert_eq!(updated.get(&kyuta), Some(&4), "{updated:?}");
    assert_eq!(updated.get(&admin_role), Some(&3), "{updated:?}");
    // Now the bot outranks the admin.
    let r = kick().await;
    assert_eq!(r.status, 204, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn members_react_and_take_reactions_back() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let gid = gid(&g).to_owned();
    let intents = INTENTS | (1 << 10);
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], intents).await;
    let people = plain_members(&sim, &g, 3).await;
    let moderator = member_with_role(&sim, &g, "Moderator").await;
    let general = channel_id(&g, "general");
    let r = ctl(
        &sim,
        "POST",
        &format!("/channels/{general}/messages"),
        Some(&json!({"author_id": people[0], "content": "vote"})),
    )
    .await;
    assert!(r.status < 300, "{}", r.body);
    let mid = r.body["id"].as_str().unwrap().to_owned();
    let path = |emoji: &str| format!("/channels/{general}/messages/{mid}/reactions/{emoji}");
    let by = |u: &str| json!({"user_id": u});
    let thumbs = "%F0%9F%91%8D";

    let r = ctl(&sim, "PUT", &path(thumbs), Some(&by(&people[1]))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("MESSAGE_REACTION_ADD").await;
    assert_eq!(ev["d"]["user_id"], people[1].as_str());
    assert_eq!(ev["d"]["message_id"], mid.as_str());
    assert_eq!(ev["d"]["guild_id"], gid.as_str());
    assert_eq!(ev["d"]["emoji"], json!({"id": null, "name": "👍"}));
    assert_eq!(ev["d"]["message_author_id"], people[0].as_str());
    assert_eq!(ev["d"]["member"]["user"]["id"], people[1].as_str());
    // The same reaction again changes nothing; a second user and a custom emoji add up.
    let r = ctl(&sim, "PUT", &path(thumbs), Some(&by(&people[1]))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    ctl(&sim, "PUT", &path(thumbs), Some(&by(&people[2]))).await;
    ctl(
        &sim,
        "PUT",
        &path("blob:123456789012345678"),
        Some(&by(&people[2])),
    )
    .await;
    let ev = gw.dispatch("MESSAGE_REACTION_ADD").await;
    assert_eq!(
        ev["d"]["user_id"],
        people[2].as_str(),
        "no event for the repeat"
    );
    let ev = gw.dispatch("MESSAGE_REACTION_ADD").await;
    assert_eq!(
        ev["d"]["emoji"],
        json!({"id": "123456789012345678", "name": "blob"})
    );
    // REST reads the counts.
    let m = api(
        &sim,
        "GET",
        &format!("/channels/{general}/messages/{mid}"),
        None,
    )
    .await;
    assert_eq!(m.status, 200, "{}", m.body);
    let reactions = m.body["reactions"].as_array().unwrap().clone();
    let count = |name: &str| {
        reactions
            .iter()
            .find(|r| r["emoji"]["name"] == name)
            .map(|r| r["count"].as_u64().unwrap())
    };
    assert_eq!(count("👍"), Some(2), "{reactions:?}");
    assert_eq!(count("blob"), Some(1), "{reactions:?}");
    assert!(reactions.iter().all(|r| r["me"] == false));

    // Taking one back: MESSAGE_REACTION_REMOVE, and the count drops.
    let r = ctl(&sim, "DELETE", &path(thumbs), Some(&by(&people[1]))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = gw.dispatch("MESSAGE_REACTION_REMOVE").await;
    assert_eq!(ev["d"]["user_id"], people[1].as_str());
    assert_eq!(ev["d"]["emoji"]["name"], "👍");
    let m = api(
        &sim,
        "GET",
        &format!("/channels/{general}/messages/{mid}"),
        None,
    )
    .await;
    let thumbs_count = m.body["reactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["emoji"]["name"] == "👍")
        .map(|r| r["count"].clone());
    assert_eq!(thumbs_count, Some(json!(1)), "{}", m.body);

    // A member in a timeout cannot react; nor can anyone with a bad emoji or on no message.
    let until = kyuta_sim::util::iso(kyuta_sim::util::now_ms() + 3_600_000);
    let r = ctl(
        &sim,
        "PATCH",
        &format!("/guilds/{gid}/members/{}", people[0]),
        Some(&json!({"moderator_id": moderator, "communication_disabled_until": until})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = ctl(&sim, "PUT", &path(thumbs), Some(&by(&people[0]))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = ctl(&sim, "PUT", &path("blob:x"), Some(&by(&people[1]))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = ctl(
        &sim,
        "PUT",
        &format!("/channels/{general}/messages/1/reactions/{thumbs}"),
        Some(&by(&people[1])),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    sim.shutdown().await;
}
