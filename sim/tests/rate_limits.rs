//! Discord's REST rate limits: per-route buckets with their real sizes, buckets shared across
//! routes, sub-limits, scopes, and the global limit as a sliding second. Responses from `api()`
//! are checked against Discord's OpenAPI spec.

mod common;

use common::world::*;
use common::*;
use kyuta_sim::SimConfig;
use serde_json::json;
use std::time::Duration;

fn header_f64(r: &Resp, name: &str) -> f64 {
    r.headers[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn message_create_allows_5_per_5_seconds_per_channel() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    let off_topic = channel_id(&g, "off-topic");
    let path = format!("/channels/{general}/messages");
    for i in 0..5 {
        let r = api(
            &sim,
            "POST",
            &path,
            Some(&json!({"content": format!("m{i}")})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers["x-ratelimit-limit"], "5");
        assert_eq!(
            r.headers["x-ratelimit-remaining"],
            (4 - i).to_string().as_str()
        );
    }
    let r = api(&sim, "POST", &path, Some(&json!({"content": "sixth"}))).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["global"], false);
    let retry = r.body["retry_after"].as_f64().unwrap();
    assert!(retry > 4.0 && retry <= 5.0, "retry_after {retry}");
    // Still refused a second and a half later: the window is 5 s, not 1 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = api(&sim, "POST", &path, Some(&json!({"content": "later"}))).await;
    assert_eq!(r.status, 429);
    // Another channel is another bucket, with the same hash.
    let other = api(
        &sim,
        "POST",
        &format!("/channels/{off_topic}/messages"),
        Some(&json!({"content": "elsewhere"})),
    )
    .await;
    assert_eq!(other.status, 200);
    assert_eq!(
        other.headers["x-ratelimit-bucket"],
        r.headers["x-ratelimit-bucket"]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_route_bucket_slides_one_slot_free_per_aged_request() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let path = format!("/channels/{}/messages", channel_id(&g, "general"));
    for i in 0..4 {
        assert_eq!(
            api(
                &sim,
                "POST",
                &path,
                Some(&json!({"content": format!("{i}")}))
            )
            .await
            .status,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        api(&sim, "POST", &path, Some(&json!({"content": "5"})))
            .await
            .status,
        200
    );
    let r = api(&sim, "POST", &path, Some(&json!({"content": "6"}))).await;
    assert_eq!(r.status, 429);
    // The first four free their slots about 3 s from now; the fifth only 5 s after it was made.
    let retry = r.body["retry_after"].as_f64().unwrap();
    assert!(retry > 2.5 && retry <= 3.1, "retry_after {retry}");
    tokio::time::sleep(Duration::from_secs_f64(retry + 0.05)).await;
    let r = api(&sim, "POST", &path, Some(&json!({"content": "7"}))).await;
    assert_eq!(r.status, 200, "the oldest request's slot is free again");
    sim.shutdown().await;
}

#[tokio::test]
async fn ban_and_unban_share_one_bucket_per_guild() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let targets = plain_members(&sim, &g, 4).await;
    let mut hashes = Vec::new();
    let mut statuses = Vec::new();
    for t in &targets[..3] {
        let r = api(&sim, "PUT", &format!("/guilds/{}/bans/{t}", gid(&g)), None).await;
        statuses.push(r.status);
        hashes.push(r.headers["x-ratelimit-bucket"].clone());
    }
    for t in &targets[..2] {
        let r = api(
            &sim,
            "DELETE",
            &format!("/guilds/{}/bans/{t}", gid(&g)),
            None,
        )
        .await;
        statuses.push(r.status);
        hashes.push(r.headers["x-ratelimit-bucket"].clone());
    }
    assert_eq!(statuses, [204; 5]);
    assert!(hashes.iter().all(|h| *h == hashes[0]), "{hashes:?}");
    // The sixth request of either route is over the shared limit.
    let r = api(
        &sim,
        "PUT",
        &format!("/guilds/{}/bans/{}", gid(&g), targets[3]),
        None,
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["x-ratelimit-bucket"], hashes[0]);
    sim.shutdown().await;
}

#[tokio::test]
async fn member_edits_allow_10_per_10_seconds_and_role_changes_share_a_fixed_window() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let target = plain_member(&sim, &g).await;
    let path = format!("/guilds/{}/members/{target}", gid(&g));
    let r = api(&sim, "PATCH", &path, Some(&json!({"nick": "n"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["x-ratelimit-limit"], "10");
    assert!((header_f64(&r, "x-ratelimit-reset-after") - 10.0).abs() < 0.01);
    let role = role_id(&g, "Member");
    let add = api(&sim, "PUT", &format!("{path}/roles/{role}"), None).await;
    let remove = api(&sim, "DELETE", &format!("{path}/roles/{role}"), None).await;
    assert_eq!((add.status, remove.status), (204, 204));
    assert_eq!(
        add.headers["x-ratelimit-bucket"],
        remove.headers["x-ratelimit-bucket"]
    );
    assert_eq!(remove.headers["x-ratelimit-remaining"], "8");
    // A fixed window: the reset does not move with each request.
    assert!(header_f64(&remove, "x-ratelimit-reset-after") < 10.0);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_global_limit_counts_any_one_second_not_calendar_seconds() {
    let sim = sim_with(SimConfig {
        global_rate_limit: 3,
        // The route's own bucket (5 per window by default) must not answer first: this test
        // is about the global limit.
        route_limit: 100,
        ..fast()
    })
    .await;
    let subsec = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_millis()
    };
    // Three requests late in one calendar second, the fourth early in the next: a fixed
    // window would let it through.
    let ms = subsec();
    let wait = (1800 - ms) % 1000;
    tokio::time::sleep(Duration::from_millis(u64::from(wait))).await;
    for _ in 0..3 {
        assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    }
    let ms = subsec();
    tokio::time::sleep(Duration::from_millis(u64::from((1000 - ms) + 50))).await;
    let r = api(&sim, "GET", "/users/@me", None).await;
    assert_eq!(r.status, 429, "the fourth request within one second");
    assert_eq!(r.body["global"], true);
    assert_eq!(r.headers["x-ratelimit-scope"], "global");
    let retry = r.body["retry_after"].as_f64().unwrap();
    assert!(retry < 1.0, "retry_after {retry}");
    tokio::time::sleep(Duration::from_secs_f64(retry + 0.05)).await;
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_shared_429_has_scope_shared_and_is_not_an_invalid_request() {
    let sim = sim(1).await;
    ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "route", "route": "GET /users/@me", "status": 429, "scope": "shared", "ms": 700, "count": 1})),
    )
    .await;
    let r = api(&sim, "GET", "/users/@me", None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["x-ratelimit-scope"], "shared");
    assert_eq!(r.body["global"], false);
    assert_eq!(sim.stats().stats.invalid_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn opening_new_dm_channels_too_fast_gets_40003() {
    let sim = sim_with(SimConfig {
        dm_open_limit: 2,
        ..fast()
    })
    .await;
    let g = guild0(&sim).await;
    let users = plain_members(&sim, &g, 3).await;
    for u in &users[..2] {
        let r = api(
            &sim,
            "POST",
            "/users/@me/channels",
            Some(&json!({"recipient_id": u})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = api(
        &sim,
        "POST",
        "/users/@me/channels",
        Some(&json!({"recipient_id": users[2]})),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(code(&r), 40003);
    // The bucket itself still had room: the sub-limit does not show in the headers.
    assert_ne!(r.headers["x-ratelimit-remaining"], "0");
    // A DM channel already open is answered again.
    let again = api(
        &sim,
        "POST",
        "/users/@me/channels",
        Some(&json!({"recipient_id": users[0]})),
    )
    .await;
    assert_eq!(again.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn route_limit_factor_raises_every_listed_limit() {
    // A load test posts far more than one channel takes on Discord; it says so by raising
    // the factor.
    let sim = sim_with(SimConfig {
        route_limit_factor: 4,
        ..fast()
    })
    .await;
    let g = guild0(&sim).await;
    let path = format!("/channels/{}/messages", channel_id(&g, "general"));
    let r = api(&sim, "POST", &path, Some(&json!({"content": "x"}))).await;
    assert_eq!(r.headers["x-ratelimit-limit"], "20");
    sim.shutdown().await;
}
