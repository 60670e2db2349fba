//! Helpers shared by the simulator's tests: start a simulator, make HTTP requests.
#![allow(dead_code)]

pub mod gw;
pub mod spec;
pub mod world;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kyuta_sim::{Sim, SimConfig};
use serde_json::Value;
use std::time::Duration;

pub const TOKEN: &str = "test-token";

/// A simulator with short windows for tests.
pub async fn sim(guilds: u64) -> Sim {
    sim_with(SimConfig { guilds, ..fast() }).await
}

/// Test defaults: short identify window and heartbeat.
pub fn fast() -> SimConfig {
    SimConfig {
        token: TOKEN.into(),
        guilds: 10,
        members_per_guild: 20,
        identify_window: Duration::from_millis(200),
        heartbeat_interval: Duration::from_millis(41_250),
        ..SimConfig::default()
    }
}

pub async fn sim_with(cfg: SimConfig) -> Sim {
    install_crypto();
    Sim::start(cfg).await.expect("simulator starts")
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Value,
    pub raw: Bytes,
}

/// One HTTP request; `auth` adds `Authorization: Bot TOKEN`.
pub async fn http(method: &str, url: &str, body: Option<&Value>, extra: &[(&str, &str)]) -> Resp {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let payload = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Bytes::from(b.to_string())
        }
        None => Bytes::new(),
    };
    let resp = client
        .request(req.body(Full::new(payload)).unwrap())
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let raw = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        raw,
    }
}

/// A Discord REST call with the bot token; the response is checked against Discord's spec.
pub async fn api(sim: &Sim, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bot {TOKEN}");
    api_with(sim, method, path, body, &[("authorization", auth.as_str())]).await
}

/// A Discord REST call with explicit headers; the response is checked against the spec.
pub async fn api_with(
    sim: &Sim,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Resp {
    let url = format!("{}/api/v10{path}", sim.api_url());
    let r = http(method, &url, body, headers).await;
    spec::check(method, path, r.status, &r.headers, &r.raw);
    r
}

/// A control-API call.
pub async fn ctl(sim: &Sim, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let url = format!("{}{path}", sim.control_url());
    http(method, &url, body, &[]).await
}

/// A twilight-http client pointed at the simulator.
pub fn twilight_http(sim: &Sim) -> twilight_http::Client {
    twilight_http::Client::builder()
        .token(TOKEN.to_owned())
        .proxy(sim.addr().to_string(), true)
        .build()
}

/// twilight's TLS stack needs a process-wide rustls provider even for plain ws/http.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
