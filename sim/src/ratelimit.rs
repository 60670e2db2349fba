//! REST middleware: request accounting, auth, route faults, the global limit, route buckets
//! and Discord's rate-limit headers.

use crate::error::{ApiError, e};
use crate::state::{Bucket, Shared};
use crate::util::{mix, now_ms};
use axum::extract::{MatchedPath, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the middleware decided before running the handler.
enum Gate {
    Pass(Option<HeaderMap>),
    Reject(Response),
    Lag(u64, Option<HeaderMap>),
}

fn bucket_hash(label: &str) -> String {
    let h = label.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{:016x}{:016x}", mix(h), mix(h ^ 1))
}

fn rl_headers(
    limit: u32,
    remaining: u32,
    reset_after: Duration,
    bucket: &str,
    scope: &str,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    let reset_at = (now_ms() as f64 + reset_after.as_secs_f64() * 1000.0) / 1000.0;
    let put = |h: &mut HeaderMap, k: &'static str, v: String| {
        h.insert(k, HeaderValue::from_str(&v).expect("ascii header"));
    };
    put(&mut h, "x-ratelimit-limit", limit.to_string());
    put(&mut h, "x-ratelimit-remaining", remaining.to_string());
    put(&mut h, "x-ratelimit-reset", format!("{reset_at:.3}"));
    put(
        &mut h,
        "x-ratelimit-reset-after",
        format!("{:.3}", reset_after.as_secs_f64()),
    );
    put(&mut h, "x-ratelimit-bucket", bucket.to_owned());
    put(&mut h, "x-ratelimit-scope", scope.to_owned());
    h
}

fn too_many(retry_after: Duration, global: bool, mut headers: HeaderMap) -> Response {
    let secs = retry_after.as_secs_f64();
    let body = json!({"message": "You are being rate limited.", "retry_after": (secs * 1000.0).ceil() / 1000.0, "global": global, "code": 0});
    headers.insert(
        "retry-after",
        HeaderValue::from_str(&(secs.ceil() as u64).max(1).to_string()).expect("ascii"),
    );
    if global {
        headers.insert("x-ratelimit-global", HeaderValue::from_static("true"));
        headers.insert("x-ratelimit-scope", HeaderValue::from_static("global"));
    }
    let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    r.headers_mut().extend(headers);
    r
}

fn major(path: &str) -> String {
    let segs: Vec<&str> = path
        .trim_start_matches("/api/v10")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["channels" | "guilds", id, ..] => (*id).to_owned(),
        ["webhooks", id, token, ..] => format!("{id}/{token}"),
        ["interactions", id, ..] => (*id).to_owned(),
        _ => String::new(),
    }
}

/// The middleware on every `/api/v10` route.
pub(crate) async fn middleware(
    AxState(sh): AxState<Arc<Shared>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let template = matched
        .as_ref()
        .map_or(path.as_str(), MatchedPath::as_str)
        .trim_start_matches("/api/v10")
        .to_owned();
    let label = format!("{method} {template}");
    let interaction_route =
        template.starts_with("/interactions/") || template.starts_with("/webhooks/");
    let needs_auth = !interaction_route && template != "/gateway";
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.strip_prefix("Bot ") == Some(sh.cfg.token.as_str()));

    let gate = {
        let mut st = sh.lock();
        *st.stats.rest_requests.entry(label.clone()).or_default() += 1;
        let now = Instant::now();
        while st
            .invalid_window
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(600))
        {
            st.invalid_window.pop_front();
        }
        let window_secs = st
            .invalid_window
            .front()
            .map_or(600.0, |t| 600.0 - now.duration_since(*t).as_secs_f64());
        if st.invalid_window.len() >= sh.cfg.invalid_request_limit as usize {
            *st.stats.rest_429s.entry(label.clone()).or_default() += 1;
            Gate::Reject(too_many(
                Duration::from_secs_f64(window_secs.max(1.0)),
                true,
                HeaderMap::new(),
            ))
        } else if needs_auth && !authorized {
            st.count_invalid();
            Gate::Reject(e::unauthorized().into_response())
        } else {
            // Route faults.
            let mut fault = None;
            for f in &mut st.faults {
                let hit = f.route == "*"
                    || f.route == label
                    || f.route == template
                    || path.starts_with(&f.route);
                if hit && f.count != Some(0) {
                    if let Some(c) = &mut f.count {
                        *c -= 1;
                    }
                    fault = Some(f.clone());
                    break;
                }
            }
            st.faults.retain(|f| f.count != Some(0));
            let bucket_id = bucket_hash(&label);
            match fault {
                Some(f) if f.kind == "429" => {
                    let ra = Duration::from_millis(f.ms.unwrap_or(1000));
                    *st.stats.rest_429s.entry(label.clone()).or_default() += 1;
                    st.count_invalid();
                    Gate::Reject(too_many(
                        ra,
                        false,
                        rl_headers(sh.cfg.route_limit, 0, ra, &bucket_id, "user"),
                    ))
                }
                Some(f) if f.kind != "lag" => {
                    let code = f
                        .kind
                        .parse::<u16>()
                        .ok()
                        .and_then(|c| StatusCode::from_u16(c).ok())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    let msg = format!(
                        "{}: {}",
                        code.as_u16(),
                        code.canonical_reason().unwrap_or("Error")
                    );
                    Gate::Reject(ApiError::new(code, 0, &msg).into_response())
                }
                f => {
                    let lag = f.and_then(|f| f.ms).unwrap_or(0);
                    // Global limit (interaction endpoints exempt).
                    let sec = now_ms() / 1000;
                    let global_hit = if interaction_route {
                        false
                    } else {
                        if st.global_window.0 != sec {
                            st.global_window = (sec, 0);
                        }
                        st.global_window.1 += 1;
                        st.global_window.1 > sh.cfg.global_rate_limit
                    };
                    if global_hit {
                        *st.stats.rest_429s.entry(label.clone()).or_default() += 1;
                        st.count_invalid();
                        let ra = Duration::from_millis(1000 - now_ms() % 1000);
                        Gate::Reject(too_many(ra, true, HeaderMap::new()))
                    } else {
                        let key = format!("{label} {}", major(&path));
                        let limit = sh.cfg.route_limit;
                        let window = sh.cfg.route_window;
                        let b = st.buckets.entry(key).or_insert(Bucket {
                            remaining: limit,
                            reset_at: now + window,
                        });
                        if now >= b.reset_at {
                            b.remaining = limit;
                            b.reset_at = now + window;
                        }
                        let reset_after = b.reset_at.saturating_duration_since(now);
                        if b.remaining == 0 {
                            *st.stats.rest_429s.entry(label.clone()).or_default() += 1;
                            st.count_invalid();
                            Gate::Reject(too_many(
                                reset_after,
                                false,
                                rl_headers(limit, 0, reset_after, &bucket_id, "user"),
                            ))
                        } else {
                            b.remaining -= 1;
                            let h = rl_headers(limit, b.remaining, reset_after, &bucket_id, "user");
                            if lag > 0 {
                                Gate::Lag(lag, Some(h))
                            } else {
                                Gate::Pass(Some(h))
                            }
                        }
                    }
                }
            }
        }
    };
    let (headers, resp) = match gate {
        Gate::Reject(r) => return r,
        Gate::Pass(h) => (h, next.run(req).await),
        Gate::Lag(ms, h) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (h, next.run(req).await)
        }
    };
    let mut resp = resp;
    if let Some(h) = headers {
        resp.headers_mut().extend(h);
    }
    if matches!(
        resp.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        sh.lock().count_invalid();
    }
    resp
}
