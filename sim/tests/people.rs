//! What people do in a guild, through the control API, and the events Discord sends for it.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::*;
use common::*;

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
