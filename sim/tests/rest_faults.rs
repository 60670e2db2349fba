//! REST faults as Discord really fails: Cloudflare bans, HTML gateway errors, a token revoked
//! mid-run, connections cut, and requests carried out before the error (so a client must not
//! repeat a non-idempotent request blindly).

mod common;

use common::world::*;
use common::*;
use kyuta_sim::SimConfig;
use serde_json::{Value, json};
use std::time::Duration;

async fn fault(sim: &kyuta_sim::Sim, body: Value) {
    let r = ctl(sim, "POST", "/faults", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn raw(sim: &kyuta_sim::Sim, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let url = format!("{}/api/v10{path}", sim.api_url());
    let auth = format!("Bot {TOKEN}");
    http(method, &url, body, &[("authorization", auth.as_str())]).await
}

async fn posted(sim: &kyuta_sim::Sim, channel: &str) -> Vec<Value> {
    ctl(sim, "GET", &format!("/channels/{channel}/messages"), None)
        .await
        .body
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_cloudflare_ban_answers_1015_without_rate_limit_headers_until_it_lifts() {
    let sim = sim(1).await;
    fault(
        &sim,
        json!({"kind": "cloudflare_ban", "ms": 600, "html": true}),
    )
    .await;
    let r = raw(&sim, "GET", "/users/@me", None).await;
    assert_eq!(r.status, 429);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        r.headers
    );
    let page = String::from_utf8_lossy(&r.raw);
    assert!(page.contains("1015"), "{page}");
    assert!(r.body.is_null(), "not JSON");
    for h in ["x-ratelimit-limit", "x-ratelimit-bucket", "retry-after"] {
        assert!(!r.headers.contains_key(h), "{h} present");
    }
    tokio::time::sleep(Duration::from_millis(650)).await;
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn too_many_invalid_requests_ban_for_the_configured_time() {
    let sim = sim_with(SimConfig {
        invalid_request_limit: 2,
        cloudflare_ban: Duration::from_millis(500),
        ..fast()
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            api_with(&sim, "GET", "/users/@me", None, &[]).await.status,
            401
        );
    }
    let r = raw(&sim, "GET", "/users/@me", None).await;
    assert_eq!((r.status, &r.raw[..]), (429, &b"error code: 1015"[..]));
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn gateway_errors_can_come_as_cloudflare_html() {
    let sim = sim(1).await;
    for status in [502, 504] {
        fault(
            &sim,
            json!({"kind": "route", "route": "GET /users/@me", "status": status, "html": true, "count": 1}),
        )
        .await;
        let r = raw(&sim, "GET", "/users/@me", None).await;
        assert_eq!(r.status, status);
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = String::from_utf8_lossy(&r.raw);
        assert!(page.contains(&format!("<title>{status} ")), "{page}");
        assert!(page.contains("cloudflare"), "{page}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_revoked_token_gets_401_until_restored() {
    let sim = sim(1).await;
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    fault(&sim, json!({"kind": "revoke_token"})).await;
    let r = api(&sim, "GET", "/users/@me", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(code(&r), 0);
    fault(&sim, json!({"kind": "restore_token"})).await;
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_after_apply_fault_posts_the_message_and_answers_502() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    fault(
        &sim,
        json!({"kind": "route", "route": "POST /channels/{channel}/messages", "status": 502, "after_apply": true, "count": 1}),
    )
    .await;
    let r = raw(
        &sim,
        "POST",
        &format!("/channels/{general}/messages"),
        Some(&json!({"content": "sent once"})),
    )
    .await;
    assert_eq!(r.status, 502);
    let msgs = posted(&sim, &general).await;
    assert_eq!(msgs.len(), 1, "the message was posted despite the 502");
    assert_eq!(msgs[0]["content"], "sent once");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hanging_route_never_answers_and_may_still_apply() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    fault(
        &sim,
        json!({"kind": "route", "route": "POST /channels/{channel}/messages", "status": "hang", "after_apply": true, "count": 1}),
    )
    .await;
    let url = format!("{}/api/v10/channels/{general}/messages", sim.api_url());
    let auth = format!("Bot {TOKEN}");
    let body = json!({"content": "hung"});
    let answer = tokio::time::timeout(
        Duration::from_millis(800),
        http(
            "POST",
            &url,
            Some(&body),
            &[("authorization", auth.as_str())],
        ),
    )
    .await;
    assert!(answer.is_err(), "no answer before the client's timeout");
    assert_eq!(posted(&sim, &general).await.len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reset_cuts_the_connection_before_the_response_is_complete() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let sim = sim(1).await;
    fault(
        &sim,
        json!({"kind": "route", "route": "GET /users/@me", "status": "reset", "count": 1}),
    )
    .await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<hyper::body::Bytes>>();
    let req = hyper::Request::get(format!("{}/api/v10/users/@me", sim.api_url()))
        .header("authorization", format!("Bot {TOKEN}"))
        .body(Full::new(hyper::body::Bytes::new()))
        .unwrap();
    let outcome = match client.request(req).await {
        Err(e) => Err(e.to_string()),
        Ok(resp) => resp
            .into_body()
            .collect()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    assert!(outcome.is_err(), "the response was complete");
    assert_eq!(api(&sim, "GET", "/users/@me", None).await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_old_route_fault_requests_still_work() {
    let sim = sim(1).await;
    let r = ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "route", "route": "GET /users/@me", "status": 429, "ms": 500, "count": 1})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["routes"][0]["kind"], "429");
    let r = ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "route", "route": "*", "status": "bogus"})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = ctl(
        &sim,
        "POST",
        "/faults",
        Some(&json!({"kind": "route", "route": "*", "status": 429, "after_apply": true})),
    )
    .await;
    assert_eq!(r.status, 400, "a 429 means Discord did not act");
    sim.shutdown().await;
}

#[tokio::test]
async fn enforce_nonce_returns_the_message_a_failed_post_already_created() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    let path = format!("/channels/{general}/messages");
    fault(
        &sim,
        json!({"kind": "route", "route": "POST /channels/{channel}/messages", "status": 502, "after_apply": true, "count": 1}),
    )
    .await;
    let body = json!({"content": "once", "nonce": "modlog-1", "enforce_nonce": true});
    assert_eq!(raw(&sim, "POST", &path, Some(&body)).await.status, 502);
    // The client repeats the post: Discord answers with the message it already created.
    let again = api(&sim, "POST", &path, Some(&body)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["nonce"], "modlog-1");
    let msgs = posted(&sim, &general).await;
    assert_eq!(msgs.len(), 1, "posted once");
    assert_eq!(msgs[0]["id"], again.body["id"]);
    // Without enforce_nonce the same nonce posts again.
    let plain = json!({"content": "twice", "nonce": "modlog-1"});
    assert_eq!(api(&sim, "POST", &path, Some(&plain)).await.status, 200);
    assert_eq!(posted(&sim, &general).await.len(), 2);
    let long = json!({"content": "x", "nonce": "n".repeat(26)});
    assert_eq!(api(&sim, "POST", &path, Some(&long)).await.status, 400);
    sim.shutdown().await;
}
