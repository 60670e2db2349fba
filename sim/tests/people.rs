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
