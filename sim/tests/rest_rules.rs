//! One test per REST rule, named after the rule. Every response of `api()` is also checked
//! against Discord's OpenAPI spec.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::*;
use common::*;
use kyuta_sim::SimConfig;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn requests_without_the_bot_token_get_401() {
    let sim = sim(1).await;
    let r = api_with(&sim, "GET", "/users/@me", None, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "401: Unauthorized");
    let r = api_with(
        &sim,
        "GET",
        "/users/@me",
        None,
        &[("authorization", "Bot nope")],
    )
    .await;
    assert_eq!(r.status, 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn responses_carry_rate_limit_headers_with_scope() {
    let sim = sim(1).await;
    let r = api(&sim, "GET", "/users/@me", None).await;
    assert_eq!(r.status, 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
        "x-ratelimit-scope",
    ] {
        assert!(r.headers.contains_key(h), "{h} missing");
    }
    assert_eq!(r.headers["x-ratelimit-scope"], "user");
    sim.shutdown().await;
}

#[tokio::test]
async fn exhausted_route_bucket_gives_429_with_retry_after() {
    let sim = sim_with(SimConfig {
        route_limit: 2,
        route_window: Duration::from_secs(2),
        ..fast()
    })
    .await;
    let g = guild0(&sim).await;
    let path = format!("/guilds/{}", g["id"].as_str().unwrap());
    assert_eq!(
        api(&sim, "GET", &path, None).await.headers["x-ratelimit-remaining"],
        "1"
    );
    assert_eq!(
        api(&sim, "GET", &path, None).await.headers["x-ratelimit-remaining"],
        "0"
    );
    let r = api(&sim, "GET", &path, None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["global"], false);
    assert!(r.body["retry_after"].as_f64().unwrap() > 0.0);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(r.headers["x-ratelimit-scope"], "user");
    // Another major parameter is another bucket.
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    assert_eq!(sim.stats().stats.rest_429s["GET /guilds/{guild}"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn global_limit_per_second_gives_a_global_429() {
    let sim = sim_with(SimConfig {
        global_rate_limit: 3,
        // The route's own bucket (5 per window by default) must not answer first: this test
        // is about the global limit.
        route_limit: 100,
        ..fast()
    })
    .await;
    // Align to the start of a second so the burst falls in one window.
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    if ms > 700 {
        tokio::time::sleep(Duration::from_millis(u64::from(1000 - ms) + 10)).await;
    }
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(api(&sim, "GET", "/users/@me", None).await);
    }
    let limited = statuses
        .iter()
        .find(|r| r.status == 429)
        .expect("a global 429");
    assert_eq!(limited.body["global"], true);
    assert_eq!(limited.headers["x-ratelimit-global"], "true");
    assert_eq!(limited.headers["x-ratelimit-scope"], "global");
    sim.shutdown().await;
}

#[tokio::test]
async fn interaction_endpoints_are_exempt_from_the_global_limit() {
    let sim = sim_with(SimConfig {
        global_rate_limit: 1,
        // The route's own bucket (5 per window by default) must not answer first: this test
        // is about the global limit.
        route_limit: 100,
        ..fast()
    })
    .await;
    register(&sim).await;
    let g = guild0(&sim).await;
    let target = plain_member(&sim, &g).await;
    let mut ok = 0;
    for _ in 0..4 {
        let it = interact(&sim, &g, "ban", json!({"user": target})).await;
        assert_eq!(it.status, 201, "{}", it.body);
        let r = callback(&sim, &it, "", &json!({"type": 5})).await;
        if r.status == 204 {
            ok += 1;
        }
    }
    assert_eq!(ok, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn too_many_invalid_requests_get_every_request_refused() {
    let sim = sim_with(SimConfig {
        invalid_request_limit: 3,
        ..fast()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            api_with(&sim, "GET", "/users/@me", None, &[]).await.status,
            401
        );
    }
    // Cloudflare bans the client: 429 with its own body (error 1015) and no rate-limit
    // headers, for every request, authorized or not (not in Discord's spec: read raw).
    let url = format!("{}/api/v10/users/@me", sim.api_url());
    let auth = format!("Bot {TOKEN}");
    let r = http("GET", &url, None, &[("authorization", auth.as_str())]).await;
    assert_eq!(r.status, 429);
    assert_eq!(&r.raw[..], b"error code: 1015");
    assert!(!r.headers.contains_key("x-ratelimit-limit"));
    assert!(!r.headers.contains_key("retry-after"));
    assert_eq!(sim.stats().stats.invalid_requests, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn ban_raises_ban_add_and_member_remove_on_the_owning_shard_and_records_the_reason() {
    let sim = sim(6).await;
    let mut shards = Vec::new();
    for s in 0..2 {
        shards.push(Gw::ready(&sim, None, [s, 2], INTENTS).await.0);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let g = guild0(&sim).await;
    let gid: u64 = g["id"].as_str().unwrap().parse().unwrap();
    let owner = ((gid >> 22) % 2) as usize;
    let target = plain_member(&sim, &g).await;
    let auth = format!("Bot {TOKEN}");
    let r = api_with(
        &sim,
        "PUT",
        &format!("/guilds/{gid}/bans/{target}"),
        Some(&json!({"delete_message_seconds": 3600})),
        &[
            ("authorization", auth.as_str()),
            ("x-audit-log-reason", "spam%20and%20%E2%9C%85"),
        ],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let removed = shards[owner].dispatch("GUILD_MEMBER_REMOVE").await;
    assert_eq!(removed["d"]["user"]["id"], target);
    let ban = shards[owner].dispatch("GUILD_BAN_ADD").await;
    assert_eq!(ban["d"]["guild_id"], gid.to_string());
    let audit = shards[owner].dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE").await;
    assert_eq!(audit["d"]["action_type"], 22);
    assert_eq!(audit["d"]["reason"], "spam and ✅");
    // Nothing on the other shard.
    let other = &mut shards[1 - owner];
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            let p = other.payload().await;
            if p["t"] == "GUILD_BAN_ADD" {
                return p;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "the other shard got the ban");
    let bans = ctl(&sim, "GET", &format!("/guilds/{gid}/bans"), None)
        .await
        .body;
    assert_eq!(bans[0]["reason"], "spam and ✅");
    let listed = api(&sim, "GET", &format!("/guilds/{gid}/bans"), None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let one = api(&sim, "GET", &format!("/guilds/{gid}/bans/{target}"), None).await;
    assert_eq!(one.status, 200);
    let log = api(&sim, "GET", &format!("/guilds/{gid}/audit-logs"), None).await;
    assert_eq!(log.body["audit_log_entries"][0]["action_type"], 22);
    sim.shutdown().await;
}

#[tokio::test]
async fn acting_on_the_owner_an_admin_or_a_peer_above_the_bot_is_50013() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let gid = g["id"].as_str().unwrap();
    let owner = g["owner_id"].as_str().unwrap();
    let admin = member_with_role(&sim, &g, "Admin").await;
    for target in [owner, admin.as_str()] {
        let r = api(
            &sim,
            "PUT",
            &format!("/guilds/{gid}/bans/{target}"),
            Some(&json!({})),
        )
        .await;
        assert_eq!((r.status, code(&r)), (403, 50013));
        let r = api(
            &sim,
            "DELETE",
            &format!("/guilds/{gid}/members/{target}"),
            None,
        )
        .await;
        assert_eq!((r.status, code(&r)), (403, 50013));
    }
    // A Moderator sits below the bot: kick works.
    let m = member_with_role(&sim, &g, "Moderator").await;
    let r = api(&sim, "DELETE", &format!("/guilds/{gid}/members/{m}"), None).await;
    assert_eq!(r.status, 204);
    // Roles at or above the bot's own cannot be given.
    let plain = plain_member(&sim, &g).await;
    let r = api(
        &sim,
        "PUT",
        &format!(
            "/guilds/{gid}/members/{plain}/roles/{}",
            role_id(&g, "Admin")
        ),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    let r = api(
        &sim,
        "PUT",
        &format!(
            "/guilds/{gid}/members/{plain}/roles/{}",
            role_id(&g, "Member")
        ),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_guild_member_user_and_ban_have_their_codes() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let gid = g["id"].as_str().unwrap();
    let r = api(&sim, "GET", "/guilds/123456789012345678", None).await;
    assert_eq!((r.status, code(&r)), (404, 10004));
    let r = api(
        &sim,
        "GET",
        &format!("/guilds/{gid}/members/123456789012345678"),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (404, 10007));
    let r = api(
        &sim,
        "PUT",
        &format!("/guilds/{gid}/bans/123456789012345678"),
        Some(&json!({})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (404, 10013));
    let plain = plain_member(&sim, &g).await;
    let r = api(&sim, "DELETE", &format!("/guilds/{gid}/bans/{plain}"), None).await;
    assert_eq!((r.status, code(&r)), (404, 10026));
    let r = api(&sim, "GET", "/channels/123456789012345678", None).await;
    assert_eq!((r.status, code(&r)), (404, 10003));
    sim.shutdown().await;
}

#[tokio::test]
async fn timeouts_longer_than_28_days_are_50035_with_an_errors_tree() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let gid = g["id"].as_str().unwrap();
    let plain = plain_member(&sim, &g).await;
    let too_long = kyuta_sim::util::iso(kyuta_sim::util::now_ms() + 29 * 86_400_000);
    let r = api(
        &sim,
        "PATCH",
        &format!("/guilds/{gid}/members/{plain}"),
        Some(&json!({"communication_disabled_until": too_long})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50035));
    assert!(r.body["errors"]["communication_disabled_until"]["_errors"][0]["code"].is_string());
    let ok = kyuta_sim::util::iso(kyuta_sim::util::now_ms() + 27 * 86_400_000);
    let r = api(
        &sim,
        "PATCH",
        &format!("/guilds/{gid}/members/{plain}"),
        Some(&json!({"communication_disabled_until": ok})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["communication_disabled_until"].is_string());
    let m = ctl(&sim, "GET", &format!("/guilds/{gid}/members/{plain}"), None)
        .await
        .body;
    assert_eq!(m["timed_out"], true);
    sim.shutdown().await;
}

#[tokio::test]
async fn timing_out_an_administrator_is_50013() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let admin = member_with_role(&sim, &g, "Admin").await;
    let until = kyuta_sim::util::iso(kyuta_sim::util::now_ms() + 3_600_000);
    let r = api(
        &sim,
        "PATCH",
        &format!("/guilds/{}/members/{admin}", g["id"].as_str().unwrap()),
        Some(&json!({"communication_disabled_until": until})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    sim.shutdown().await;
}

#[tokio::test]
async fn audit_log_reasons_over_512_characters_are_refused() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let plain = plain_member(&sim, &g).await;
    let long = "a".repeat(513);
    let auth = format!("Bot {TOKEN}");
    let r = api_with(
        &sim,
        "DELETE",
        &format!("/guilds/{}/members/{plain}", g["id"].as_str().unwrap()),
        None,
        &[
            ("authorization", auth.as_str()),
            ("x-audit-log-reason", long.as_str()),
        ],
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50035));
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_message_seconds_over_604800_is_50035() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let plain = plain_member(&sim, &g).await;
    let r = api(
        &sim,
        "PUT",
        &format!("/guilds/{}/bans/{plain}", g["id"].as_str().unwrap()),
        Some(&json!({"delete_message_seconds": 604_801})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50035));
    assert!(r.body["errors"]["delete_message_seconds"].is_object());
    sim.shutdown().await;
}

#[tokio::test]
async fn posting_where_the_bot_cannot_see_is_50001_and_empty_messages_50006() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let r = api(
        &sim,
        "POST",
        &format!("/channels/{}/messages", channel_id(&g, "staff")),
        Some(&json!({"content": "x"})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (403, 50001));
    let r = api(
        &sim,
        "POST",
        &format!("/channels/{}/messages", channel_id(&g, "general")),
        Some(&json!({"content": ""})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50006));
    let r = api(
        &sim,
        "POST",
        &format!("/channels/{}/messages", channel_id(&g, "general")),
        Some(&json!({"content": "x".repeat(2001)})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50035));
    let r = api(
        &sim,
        "POST",
        &format!("/channels/{}/messages", channel_id(&g, "mod-log")),
        Some(&json!({"content": "case 1", "embeds": [{"title": "Ban"}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let msgs = ctl(
        &sim,
        "GET",
        &format!("/channels/{}/messages", channel_id(&g, "mod-log")),
        None,
    )
    .await
    .body;
    assert_eq!(msgs[0]["content"], "case 1");
    sim.shutdown().await;
}

#[tokio::test]
async fn interaction_response_after_the_ack_deadline_is_10062() {
    let sim = sim_with(SimConfig {
        interaction_ack_deadline: Duration::from_millis(200),
        ..fast()
    })
    .await;
    let (_, it) = ban_interaction(&sim, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = callback(
        &sim,
        &it,
        "",
        &json!({"type": 4, "data": {"content": "late"}}),
    )
    .await;
    assert_eq!((r.status, code(&r)), (404, 10062));
    sim.shutdown().await;
}

#[tokio::test]
async fn second_interaction_response_is_40060() {
    let sim = sim(1).await;
    let (_, it) = ban_interaction(&sim, None).await;
    assert_eq!(
        callback(&sim, &it, "", &json!({"type": 5})).await.status,
        204
    );
    let r = callback(
        &sim,
        &it,
        "",
        &json!({"type": 4, "data": {"content": "again"}}),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 40060));
    sim.shutdown().await;
}

#[tokio::test]
async fn deferred_response_then_edit_original_and_followup() {
    let sim = sim(1).await;
    let (_, it) = ban_interaction(&sim, Some("spam")).await;
    let (id, token) = id_token(&it);
    assert_eq!(it.body["payload"]["data"]["options"][1]["value"], "spam");
    let r = callback(&sim, &it, "?with_response=true", &json!({"type": 5})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let app = sim.bot_id();
    let r = api_with(
        &sim,
        "PATCH",
        &format!("/webhooks/{app}/{token}/messages/@original"),
        Some(&json!({"content": "banned"})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api_with(
        &sim,
        "GET",
        &format!("/webhooks/{app}/{token}/messages/@original"),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["content"], "banned");
    let r = api_with(
        &sim,
        "POST",
        &format!("/webhooks/{app}/{token}"),
        Some(&json!({"content": "more", "flags": 64})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let res = ctl(&sim, "GET", &format!("/interactions/{id}"), None)
        .await
        .body;
    assert_eq!(res["acknowledged"], true);
    assert_eq!(res["response"]["type"], 5);
    assert_eq!(res["original"]["content"], "banned");
    assert_eq!(res["followups"][0]["content"], "more");
    let r = api_with(
        &sim,
        "DELETE",
        &format!("/webhooks/{app}/{token}/messages/@original"),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 204);
    sim.shutdown().await;
}

#[tokio::test]
async fn interaction_tokens_expire_after_their_life() {
    let sim = sim_with(SimConfig {
        interaction_token_ttl: Duration::from_millis(300),
        ..fast()
    })
    .await;
    let (_, it) = ban_interaction(&sim, None).await;
    let (_, token) = id_token(&it);
    assert_eq!(
        callback(&sim, &it, "", &json!({"type": 5})).await.status,
        204
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = api_with(
        &sim,
        "PATCH",
        &format!("/webhooks/{}/{token}/messages/@original", sim.bot_id()),
        Some(&json!({"content": "x"})),
        &[],
    )
    .await;
    assert_eq!((r.status, code(&r)), (401, 50027));
    sim.shutdown().await;
}

#[tokio::test]
async fn control_interactions_are_typed_by_the_registered_commands() {
    let sim = sim(1).await;
    register(&sim).await;
    let g = guild0(&sim).await;
    assert_eq!(interact(&sim, &g, "nope", json!({})).await.status, 400);
    let target = plain_member(&sim, &g).await;
    assert_eq!(
        interact(&sim, &g, "ban", json!({"user": target, "bogus": 1}))
            .await
            .status,
        400
    );
    assert_eq!(
        interact(&sim, &g, "ban", json!({})).await.status,
        400,
        "required option missing"
    );
    assert_eq!(
        interact(&sim, &g, "automod rule add", json!({"threshold": "x"}))
            .await
            .status,
        400
    );
    assert_eq!(
        interact(
            &sim,
            &g,
            "automod rule add",
            json!({"threshold": "3", "kind": "other"})
        )
        .await
        .status,
        400
    );
    let ok = interact(
        &sim,
        &g,
        "automod rule add",
        json!({"threshold": "3", "kind": "spam"}),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let opts = &ok.body["payload"]["data"]["options"];
    assert_eq!(opts[0]["type"], 2);
    assert_eq!(opts[0]["options"][0]["name"], "add");
    assert_eq!(opts[0]["options"][0]["options"][0]["value"], 3);
    let ok = interact(&sim, &g, "automod enable", json!({})).await;
    assert_eq!(ok.status, 201);
    let ban = interact(&sim, &g, "ban", json!({"user": target})).await;
    let p = &ban.body["payload"];
    assert!(p["data"]["resolved"]["users"][&target].is_object());
    assert!(p["data"]["resolved"]["members"][&target]["permissions"].is_string());
    assert!(p["app_permissions"].is_string());
    assert!(p["member"]["permissions"].is_string());
    assert_eq!(p["locale"], "en-US", "the default client language");

    // The user's client language, one of Discord's locales.
    let user = ban.body["payload"]["member"]["user"]["id"].clone();
    let with_locale = |locale: Value| {
        json!({
            "guild_id": g["id"], "channel_id": channel_id(&g, "general"), "user_id": user,
            "name": "ban", "options": {"user": target}, "locale": locale
        })
    };
    let de = ctl(
        &sim,
        "POST",
        "/interactions",
        Some(&with_locale(json!("de"))),
    )
    .await;
    assert_eq!(de.status, 201, "{}", de.body);
    assert_eq!(de.body["payload"]["locale"], "de");
    for bad in [json!("xx"), json!("de-DE"), json!(3)] {
        let r = ctl(
            &sim,
            "POST",
            "/interactions",
            Some(&with_locale(bad.clone())),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn bulk_overwrite_validates_command_names() {
    let sim = sim(1).await;
    let r = api(
        &sim,
        "PUT",
        &format!("/applications/{}/commands", sim.bot_id()),
        Some(&json!([{"name": "Bad Name", "description": "x"}])),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 50035));
    assert!(r.body["errors"]["0"]["name"]["_errors"].is_array());
    let g = guild0(&sim).await;
    let r = api(
        &sim,
        "PUT",
        &format!(
            "/applications/{}/guilds/{}/commands",
            sim.bot_id(),
            g["id"].as_str().unwrap()
        ),
        Some(&json!([{"name": "warn", "description": "Warn"}])),
    )
    .await;
    assert_eq!(r.status, 200);
    let list = api(
        &sim,
        "GET",
        &format!(
            "/applications/{}/guilds/{}/commands",
            sim.bot_id(),
            g["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(list.body[0]["name"], "warn");
    sim.shutdown().await;
}

#[tokio::test]
async fn route_faults_answer_429_5xx_or_lag() {
    let sim = sim(1).await;
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "route", "route": "GET /users/@me", "status": 503, "count": 1})),
    )
    .await;
    // Discord's spec documents no 5xx bodies: read it without the spec check.
    let url = format!("{}/api/v10/users/@me", sim.api_url());
    let auth = format!("Bot {TOKEN}");
    assert_eq!(
        http("GET", &url, None, &[("authorization", auth.as_str())])
            .await
            .status,
        503
    );
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    ctl(&sim, "POST", "/faults", Some(&json!({"kind": "route", "route": "GET /users/@me", "status": 429, "ms": 500, "count": 1}))).await;
    let r = api(&sim, "GET", "/users/@me", None).await;
    assert_eq!(r.status, 429);
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "route", "route": "*", "status": "lag", "ms": 300, "count": 1})),
    )
    .await;
    let t = std::time::Instant::now();
    assert_eq!(api(&sim, "GET", "/gateway/bot", None).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    sim.shutdown().await;
}

#[tokio::test]
async fn member_join_and_user_messages_reach_the_bot() {
    let sim = sim(1).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let g = guild0(&sim).await;
    let gid = g["id"].as_str().unwrap();
    let j = ctl(
        &sim,
        "POST",
        &format!("/guilds/{gid}/members"),
        Some(&json!({"username": "fresh", "created_at": "2026-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(j.status, 201, "{}", j.body);
    let uid = j.body["user"]["id"].as_str().unwrap().to_owned();
    let ev = gw.dispatch("GUILD_MEMBER_ADD").await;
    assert_eq!(ev["d"]["user"]["username"], "fresh");
    let created = kyuta_sim::util::snowflake_ms(uid.parse().unwrap());
    assert_eq!(
        kyuta_sim::util::iso(created),
        "2026-01-01T00:00:00.000000+00:00"
    );
    let m = ctl(
        &sim,
        "POST",
        &format!("/channels/{}/messages", channel_id(&g, "general")),
        Some(&json!({"author_id": uid, "content": "buy cheap stuff"})),
    )
    .await;
    assert_eq!(m.status, 201);
    let ev = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(ev["d"]["content"], "buy cheap stuff");
    assert_eq!(ev["d"]["guild_id"], gid);
    assert!(ev["d"]["member"].is_object());
    // The bot deletes it.
    let r = api(
        &sim,
        "DELETE",
        &format!(
            "/channels/{}/messages/{}",
            channel_id(&g, "general"),
            m.body["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    gw.dispatch("MESSAGE_DELETE").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn message_content_is_blank_without_the_message_content_intent() {
    let sim = sim(1).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS & !(1 << 15)).await;
    let g = guild0(&sim).await;
    let author = plain_member(&sim, &g).await;
    ctl(
        &sim,
        "POST",
        &format!("/channels/{}/messages", channel_id(&g, "general")),
        Some(&json!({"author_id": author, "content": "secret"})),
    )
    .await;
    let ev = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(ev["d"]["content"], "");
    sim.shutdown().await;
}

/// A simulator whose route buckets do not get in the way of many calls on one route.
async fn roomy(guilds: u64) -> kyuta_sim::Sim {
    sim_with(SimConfig {
        guilds,
        route_limit: 1000,
        ..fast()
    })
    .await
}

#[tokio::test]
async fn single_commands_are_created_read_edited_and_deleted_globally_and_per_guild() {
    let sim = roomy(1).await;
    let g = guild0(&sim).await;
    let app = sim.bot_id();
    for base in [
        format!("/applications/{app}/commands"),
        format!("/applications/{app}/guilds/{}/commands", gid(&g)),
    ] {
        let def = json!({"name": "warn", "description": "Warn", "options": [
            {"type": 6, "name": "user", "description": "who", "required": true}
        ]});
        let r = api(&sim, "POST", &base, Some(&def)).await;
        assert_eq!(r.status, 201, "{base}: {}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let version = r.body["version"].clone();
        // Same name and type again: overwritten in place, 200, same id.
        let r = api(&sim, "POST", &base, Some(&def)).await;
        assert_eq!((r.status, r.body["id"].as_str()), (200, Some(id.as_str())));
        let other = api(
            &sim,
            "POST",
            &base,
            Some(&json!({"name": "note", "description": "Note"})),
        )
        .await;
        assert_eq!(other.status, 201);
        let one = format!("{base}/{id}");
        let r = api(&sim, "GET", &one, None).await;
        assert_eq!((r.status, &r.body["name"]), (200, &json!("warn")));
        let r = api(
            &sim,
            "PATCH",
            &one,
            Some(&json!({"description": "Warn a member"})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["id"], id.as_str());
        assert_eq!(r.body["description"], "Warn a member");
        assert_eq!(
            r.body["options"][0]["name"], "user",
            "untouched fields stay"
        );
        assert_ne!(r.body["version"], version);
        // Renaming onto another command's name, or to an invalid name, is 50035.
        for bad in [json!({"name": "note"}), json!({"name": "Bad Name"})] {
            let r = api(&sim, "PATCH", &one, Some(&bad)).await;
            assert_eq!((r.status, code(&r)), (400, 50035), "{bad}");
            assert!(r.body["errors"]["name"]["_errors"].is_array());
        }
        let r = api(&sim, "PATCH", &one, Some(&json!({"name": "caution"}))).await;
        assert_eq!((r.status, &r.body["name"]), (200, &json!("caution")));
        let list = api(&sim, "GET", &base, None).await.body;
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert_eq!(api(&sim, "DELETE", &one, None).await.status, 204);
        for method in ["GET", "DELETE"] {
            let r = api(&sim, method, &one, None).await;
            assert_eq!((r.status, code(&r)), (404, 10063), "{method}");
        }
        let r = api(
            &sim,
            "POST",
            &base,
            Some(&json!({"name": "Nope!", "description": "x"})),
        )
        .await;
        assert_eq!((r.status, code(&r)), (400, 50035));
        assert!(r.body["errors"]["name"]["_errors"].is_array());
    }
    // A created guild command is runnable and typed by its definition.
    let r = interact(&sim, &g, "note", json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api(
        &sim,
        "GET",
        &format!("/applications/{app}/guilds/123456789012345678/commands/1"),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (404, 10004));
    sim.shutdown().await;
}

#[tokio::test]
async fn commands_beyond_the_per_type_limit_are_30032() {
    let sim = roomy(1).await;
    let base = format!("/applications/{}/commands", sim.bot_id());
    for i in 0..15 {
        let r = api(
            &sim,
            "POST",
            &base,
            Some(&json!({"type": 2, "name": format!("User action {i}")})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = api(
        &sim,
        "POST",
        &base,
        Some(&json!({"type": 2, "name": "One too many"})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, 30032));
    // Other types have their own count.
    let r = api(
        &sim,
        "POST",
        &base,
        Some(&json!({"name": "ping", "description": "Ping"})),
    )
    .await;
    assert_eq!(r.status, 201);
    sim.shutdown().await;
}

/// The bot's role in guild 0 with MANAGE_GUILD added, which a bulk ban needs.
async fn grant_manage_guild(sim: &kyuta_sim::Sim, g: &serde_json::Value) {
    let kyuta = g["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Kyuta")
        .unwrap()["permissions"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    set_role_permissions(
        sim,
        g,
        "Kyuta",
        kyuta | kyuta_sim::world::perms::MANAGE_GUILD,
    )
    .await;
}

/// A simulator whose guild 0 lets the bot bulk ban: (simulator, guild 0, its bulk-ban path).
async fn bulk_ban_ready() -> (kyuta_sim::Sim, serde_json::Value, String) {
    let sim = roomy(1).await;
    let g = guild0(&sim).await;
    grant_manage_guild(&sim, &g).await;
    let path = format!("/guilds/{}/bulk-ban", gid(&g));
    (sim, g, path)
}

#[tokio::test]
async fn bulk_ban_needs_ban_members_and_manage_guild() {
    let sim = roomy(1).await;
    let g = guild0(&sim).await;
    let path = format!("/guilds/{}/bulk-ban", gid(&g));
    let body = json!({"user_ids": [plain_member(&sim, &g).await]});
    let r = api(&sim, "POST", &path, Some(&body)).await;
    assert_eq!((r.status, code(&r)), (403, 50013));
    grant_manage_guild(&sim, &g).await;
    let r = api(&sim, "POST", &path, Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api(
        &sim,
        "POST",
        "/guilds/123456789012345678/bulk-ban",
        Some(&body),
    )
    .await;
    assert_eq!((r.status, code(&r)), (404, 10004));
    sim.shutdown().await;
}

#[tokio::test]
async fn bulk_ban_bans_each_user_it_can_and_lists_the_others_as_failed() {
    let sim = roomy(1).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let g = guild0(&sim).await;
    grant_manage_guild(&sim, &g).await;
    let role = gw.dispatch("GUILD_ROLE_UPDATE").await;
    assert_eq!(role["d"]["role"]["name"], "Kyuta");
    let plain = plain_members(&sim, &g, 4).await;
    assert_eq!(plain.len(), 4);
    // One of them is banned already.
    let r = api(
        &sim,
        "PUT",
        &format!("/guilds/{}/bans/{}", gid(&g), plain[3]),
        Some(&json!({})),
    )
    .await;
    assert_eq!(r.status, 204);
    gw.dispatch("GUILD_BAN_ADD").await;
    let admin = member_with_role(&sim, &g, "Admin").await;
    let bot = sim.bot_id().to_string();
    let ids = json!([plain[0], plain[1], plain[2], plain[3], admin, bot]);
    let r = api_with_reason(
        &sim,
        "POST",
        &format!("/guilds/{}/bulk-ban", gid(&g)),
        Some(&json!({"user_ids": ids, "delete_message_seconds": 3600})),
        "raid%20wave",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["banned_users"], json!(plain[..3]));
    // The bot itself is in neither list.
    assert_eq!(r.body["failed_users"], json!([plain[3], admin]));
    for user in &plain[..3] {
        let ban = gw.dispatch("GUILD_BAN_ADD").await;
        assert_eq!(&ban["d"]["user"]["id"], user);
    }
    let bans = ctl(&sim, "GET", &format!("/guilds/{}/bans", gid(&g)), None)
        .await
        .body;
    assert_eq!(bans.as_array().unwrap().len(), 4);
    let log = ctl(&sim, "GET", &format!("/guilds/{}/audit-log", gid(&g)), None)
        .await
        .body;
    let reasons = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action_type"] == 22 && e["reason"] == "raid wave")
        .count();
    assert_eq!(reasons, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn bulk_ban_that_bans_nobody_is_500000() {
    let (sim, g, path) = bulk_ban_ready().await;
    let admin = member_with_role(&sim, &g, "Admin").await;
    let ids = json!([g["owner_id"], admin]);
    let r = api(&sim, "POST", &path, Some(&json!({"user_ids": ids}))).await;
    assert_eq!((r.status, code(&r)), (403, 500_000));
    assert_eq!(r.body["message"], "Failed to ban users");
    // Only the bot itself: nothing to ban, nothing failed.
    let r = api(
        &sim,
        "POST",
        &path,
        Some(&json!({"user_ids": [sim.bot_id().to_string()]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"banned_users": [], "failed_users": []}));
    sim.shutdown().await;
}

#[tokio::test]
async fn bulk_ban_body_is_validated_with_50035() {
    let (sim, g, path) = bulk_ban_ready().await;
    let plain = plain_member(&sim, &g).await;
    let too_many: Vec<String> = (0..201u64).map(|i| (1_000_000 + i).to_string()).collect();
    for (body, field) in [
        (json!({}), "user_ids"),
        (json!({"user_ids": too_many}), "user_ids"),
        (json!({"user_ids": ["nope"]}), "user_ids"),
        (json!({"user_ids": [plain, plain]}), "user_ids"),
        (
            json!({"user_ids": [plain], "delete_message_seconds": 604_801}),
            "delete_message_seconds",
        ),
    ] {
        let r = api(&sim, "POST", &path, Some(&body)).await;
        assert_eq!((r.status, code(&r)), (400, 50035), "{body}");
        assert!(r.body["errors"][field].is_object(), "{}", r.body);
    }
    sim.shutdown().await;
}

/// The bot answers `/ban` with a message carrying a confirm button and a reason select
/// (ephemeral when `flags` is 64): the interaction and the message.
async fn message_with_components(
    sim: &kyuta_sim::Sim,
    flags: u64,
) -> (serde_json::Value, serde_json::Value) {
    let (g, it) = ban_interaction(sim, None).await;
    let body = json!({"type": 4, "data": {"content": "Ban them?", "flags": flags, "components": [
        {"type": 1, "components": [
            {"type": 2, "style": 4, "label": "Ban", "custom_id": "ban:confirm"},
            {"type": 2, "style": 2, "label": "Off", "custom_id": "ban:off", "disabled": true}
        ]},
        {"type": 1, "components": [
            {"type": 3, "custom_id": "ban:reason", "max_values": 2, "options": [
                {"label": "Spam", "value": "spam"},
                {"label": "Raid", "value": "raid"},
                {"label": "Scam", "value": "scam"}
            ]}
        ]}
    ]}});
    let r = callback(sim, &it, "?with_response=true", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let msg = r.body["resource"]["message"].clone();
    assert_eq!(
        msg["components"][0]["components"][0]["custom_id"],
        "ban:confirm"
    );
    (g, msg)
}

/// A Moderator of guild 0 uses the component `custom_id` of `msg` (control API).
async fn use_component(
    sim: &kyuta_sim::Sim,
    g: &serde_json::Value,
    msg: &serde_json::Value,
    custom_id: &str,
    values: Option<serde_json::Value>,
) -> common::Resp {
    let user = member_with_role(sim, g, "Moderator").await;
    let mut req = json!({
        "guild_id": gid(g), "channel_id": msg["channel_id"], "user_id": user,
        "message_id": msg["id"], "custom_id": custom_id,
    });
    if let Some(v) = values {
        req["values"] = v;
    }
    ctl(sim, "POST", "/interactions/component", Some(&req)).await
}

#[tokio::test]
async fn component_interaction_is_dispatched_and_update_message_edits_its_message() {
    let sim = roomy(1).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let (g, msg) = message_with_components(&sim, 0).await;
    let click = use_component(&sim, &g, &msg, "ban:confirm", None).await;
    assert_eq!(click.status, 201, "{}", click.body);
    // INTERACTION_CREATE type 3, read by twilight-model as a component interaction.
    let ev = loop {
        let ev = gw.dispatch("INTERACTION_CREATE").await;
        if ev["d"]["type"] == 3 {
            break ev;
        }
    };
    assert_eq!(ev["d"]["data"]["custom_id"], "ban:confirm");
    assert_eq!(ev["d"]["data"]["component_type"], 2);
    assert_eq!(ev["d"]["message"]["id"], msg["id"]);
    // 7: the message the button sits on is updated (MESSAGE_UPDATE), not a new one.
    let r = callback(
        &sim,
        &click,
        "?with_response=true",
        &json!({"type": 7, "data": {"content": "Banned.", "components": []}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["interaction"]["type"], 3);
    assert_eq!(r.body["resource"]["message"]["id"], msg["id"]);
    let up = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(up["d"]["id"], msg["id"]);
    assert_eq!(up["d"]["content"], "Banned.");
    let stored = ctl(
        &sim,
        "GET",
        &format!("/channels/{}/messages", msg["channel_id"].as_str().unwrap()),
        None,
    )
    .await
    .body;
    let stored = stored
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == msg["id"])
        .unwrap();
    assert_eq!(stored["content"], "Banned.");
    assert_eq!(stored["components"], json!([]));
    // Answered once only.
    let again = callback(&sim, &click, "", &json!({"type": 6})).await;
    assert_eq!((again.status, code(&again)), (400, 40060));
    // The buttons are gone now.
    let gone = use_component(&sim, &g, &msg, "ban:confirm", None).await;
    assert_eq!(gone.status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn deferred_update_then_edit_original_changes_the_components_message() {
    let sim = roomy(1).await;
    // An ephemeral message: it lives only with its interaction, and its update too.
    let (g, msg) = message_with_components(&sim, 64).await;
    let pick = use_component(&sim, &g, &msg, "ban:reason", Some(json!(["spam", "raid"]))).await;
    assert_eq!(pick.status, 201, "{}", pick.body);
    let data = &pick.body["payload"]["data"];
    assert_eq!(data["component_type"], 3);
    assert_eq!(data["values"], json!(["spam", "raid"]));
    assert_eq!(
        callback(&sim, &pick, "", &json!({"type": 6})).await.status,
        204
    );
    let (_, token) = id_token(&pick);
    let original = format!("/webhooks/{}/{token}/messages/@original", sim.bot_id());
    let r = api_with(&sim, "GET", &original, None, &[]).await;
    assert_eq!((r.status, &r.body["id"]), (200, &msg["id"]));
    let r = api_with(
        &sim,
        "PATCH",
        &original,
        Some(&json!({"content": "Reason: spam, raid", "components": []})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], msg["id"]);
    let res = ctl(
        &sim,
        "GET",
        &format!("/interactions/{}", pick.body["id"].as_str().unwrap()),
        None,
    )
    .await
    .body;
    assert_eq!(res["response"]["type"], 6);
    assert_eq!(res["original"]["content"], "Reason: spam, raid");
    sim.shutdown().await;
}

#[tokio::test]
async fn component_interactions_are_refused_for_unknown_disabled_or_bad_values() {
    let sim = roomy(1).await;
    let (g, msg) = message_with_components(&sim, 0).await;
    for (custom_id, values) in [
        ("ban:nope", None),
        ("ban:off", None),
        ("ban:confirm", Some(json!(["x"]))),
        ("ban:reason", Some(json!(["other"]))),
        ("ban:reason", Some(json!(["spam", "raid", "scam"]))),
        ("ban:reason", None),
    ] {
        let r = use_component(&sim, &g, &msg, custom_id, values.clone()).await;
        assert_eq!(r.status, 400, "{custom_id} {values:?}: {}", r.body);
    }
    // Not the bot's message.
    let author = plain_member(&sim, &g).await;
    let posted = ctl(
        &sim,
        "POST",
        &format!("/channels/{}/messages", msg["channel_id"].as_str().unwrap()),
        Some(&json!({"author_id": author, "content": "hi"})),
    )
    .await;
    let r = use_component(&sim, &g, &posted.body, "ban:confirm", None).await;
    assert_eq!(r.status, 400);
    // Update-message answers are for component interactions only.
    let (_, it) = ban_interaction(&sim, None).await;
    let r = callback(&sim, &it, "", &json!({"type": 7, "data": {"content": "x"}})).await;
    assert_eq!((r.status, code(&r)), (400, 50035));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_application_carries_every_field_the_spec_requires() {
    let sim = sim(1).await;
    let r = api(&sim, "GET", "/applications/@me", None).await;
    assert_eq!(r.status, 200);
    for k in [
        "id",
        "name",
        "icon",
        "description",
        "type",
        "verify_key",
        "flags",
        "flags_new",
        "redirect_uris",
        "interactions_endpoint_url",
        "role_connections_verification_url",
        "owner",
        "approximate_guild_count",
        "approximate_user_install_count",
        "approximate_user_authorization_count",
        "explicit_content_filter",
        "team",
        "eligible_oauth2_scopes",
    ] {
        assert!(r.body.get(k).is_some(), "{k} missing: {}", r.body);
    }
    assert_eq!(r.body["flags_new"], r.body["flags"].to_string());
    sim.shutdown().await;
}

/// Posts `n` messages of a plain member in #general; their ids, oldest first.
async fn posted(sim: &kyuta_sim::Sim, g: &Value, n: usize) -> Vec<u64> {
    let author = plain_member(sim, g).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let m = ctl(
            sim,
            "POST",
            &format!("/channels/{}/messages", channel_id(g, "general")),
            Some(&json!({"author_id": author, "content": format!("m{i}")})),
        )
        .await;
        assert_eq!(m.status, 201);
        ids.push(m.body["id"].as_str().unwrap().parse().unwrap());
    }
    ids
}

fn ids_of(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn message_list_anchors_are_exclusive_snowflakes_and_after_starts_at_the_anchor() {
    let sim = roomy(1).await;
    let g = guild0(&sim).await;
    let ids = posted(&sim, &g, 10).await;
    let path = format!("/channels/{}/messages", channel_id(&g, "general"));
    let r = api(
        &sim,
        "GET",
        &format!("{path}?before={}&after={}", ids[9], ids[0]),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], 50035);
    let r = api(&sim, "GET", &format!("{path}?before=abc"), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], 50035);
    // `after` gives the messages right after the anchor, newest first.
    let r = api(
        &sim,
        "GET",
        &format!("{path}?after={}&limit=3", ids[0]),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(ids_of(&r.body), vec![ids[3], ids[2], ids[1]]);
    // `around` centres on the anchor.
    let r = api(
        &sim,
        "GET",
        &format!("{path}?around={}&limit=4", ids[5]),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(ids_of(&r.body), vec![ids[7], ids[6], ids[5], ids[4]]);
    // Default 50, newest first; `before` pages backwards.
    let r = api(&sim, "GET", &format!("{path}?before={}", ids[5]), None).await;
    let got = ids_of(&r.body);
    assert!(got.starts_with(&[ids[4], ids[3], ids[2], ids[1], ids[0]]));
    assert!(got.windows(2).all(|w| w[0] > w[1]));
    sim.shutdown().await;
}

#[tokio::test]
async fn bulk_delete_ids_are_distinct_snowflakes() {
    let sim = roomy(1).await;
    let g = guild0(&sim).await;
    let ids = posted(&sim, &g, 3).await;
    let path = format!(
        "/channels/{}/messages/bulk-delete",
        channel_id(&g, "general")
    );
    let s = |i: usize| ids[i].to_string();
    let r = api(
        &sim,
        "POST",
        &path,
        Some(&json!({"messages": ["abc", s(0), s(1)]})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], 50035);
    let r = api(
        &sim,
        "POST",
        &path,
        Some(&json!({"messages": [s(0), s(0), s(1)]})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], 50035);
    // Nothing was deleted; a valid request deletes, ignoring an unknown id.
    let list = format!("/channels/{}/messages", channel_id(&g, "general"));
    assert!(ids_of(&api(&sim, "GET", &list, None).await.body).contains(&ids[0]));
    let r = api(
        &sim,
        "POST",
        &path,
        Some(&json!({"messages": [s(0), s(1), (ids[2] + 1).to_string()]})),
    )
    .await;
    assert_eq!(r.status, 204);
    let left = ids_of(&api(&sim, "GET", &list, None).await.body);
    assert!(left.contains(&ids[2]) && !left.contains(&ids[0]) && !left.contains(&ids[1]));
    sim.shutdown().await;
}
