//! REST middleware: request accounting, the Cloudflare ban, auth, route faults, the global
//! limit, route buckets and Discord's rate-limit headers.

use crate::error::{ApiError, e};
use crate::limits::{Verdict, route_limit};
use crate::state::{RouteFault, Shared};
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
    /// Run the handler (after `lag` ms), add these headers; with `after`, then answer as the
    /// fault says instead.
    Pass {
        headers: HeaderMap,
        lag: u64,
        after: Option<RouteFault>,
    },
    Reject(Response),
    /// Answer as the fault says without running the handler.
    Fault(RouteFault),
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

fn too_many(retry_after: Duration, global: bool, headers: HeaderMap) -> Response {
    too_many_scoped(retry_after, global, headers, None)
}

fn too_many_scoped(
    retry_after: Duration,
    global: bool,
    mut headers: HeaderMap,
    scope: Option<&str>,
) -> Response {
    let secs = retry_after.as_secs_f64();
    let body = json!({"message": "You are being rate limited.", "retry_after": (secs * 1000.0).ceil() / 1000.0, "global": global, "code": 0});
    headers.insert(
        "retry-after",
        HeaderValue::from_str(&(secs.ceil() as u64).max(1).to_string()).expect("ascii"),
    );
    if global {
        headers.insert("x-ratelimit-global", HeaderValue::from_static("true"));
        headers.insert("x-ratelimit-scope", HeaderValue::from_static("global"));
    } else if let Some(s) = scope.and_then(|s| HeaderValue::from_str(s).ok()) {
        headers.insert("x-ratelimit-scope", s);
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

/// Cloudflare's answer to a banned client (error 1015): HTTP 429, no rate-limit headers, and
/// an HTML page or a plain-text line instead of Discord's JSON.
fn cloudflare_1015(html: bool) -> Response {
    let (ct, body) = if html {
        (
            "text/html; charset=UTF-8",
            "<!DOCTYPE html>\n<html><head><title>Access denied | discord.com used Cloudflare to restrict access</title></head>\n<body><div id=\"cf-wrapper\"><h1><span>Error</span> <span>1015</span></h1>\n<h2>You are being rate limited</h2>\n<p>The owner of this website (discord.com) has banned you temporarily from accessing this website.</p></div></body></html>\n",
        )
    } else {
        ("text/plain; charset=UTF-8", "error code: 1015")
    };
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::CONTENT_TYPE, ct)],
        body,
    )
        .into_response()
}

/// A 5xx as Discord sends it (JSON), or as Cloudflare does when Discord's origin is down (HTML).
fn server_error(code: StatusCode, html: bool) -> Response {
    let reason = code.canonical_reason().unwrap_or("Error");
    if html {
        let page = format!(
            "<html>\r\n<head><title>{c} {reason}</title></head>\r\n<body>\r\n<center><h1>{c} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
            c = code.as_u16()
        );
        return (
            code,
            [(axum::http::header::CONTENT_TYPE, "text/html")],
            page,
        )
            .into_response();
    }
    let msg = format!("{}: {reason}", code.as_u16());
    ApiError::new(code, 0, &msg).into_response()
}

/// The answer a fault gives in place of (or after) the handler's.
async fn fault_response(sh: &Shared, f: &RouteFault) -> Response {
    match f.kind.as_str() {
        "hang" => {
            // No answer: the client times out (or the simulator shuts down).
            sh.shutdown.cancelled().await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        "reset" => {
            // The status line goes out, then the body fails: the connection is cut before the
            // response is complete.
            let broken = futures::stream::once(async {
                Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by fault",
                ))
            });
            let mut r = Response::new(axum::body::Body::from_stream(broken));
            *r.status_mut() = StatusCode::OK;
            r
        }
        kind => {
            let code = kind
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            server_error(code, f.html)
        }
    }
}

/// Whether `f` applies to this request.
fn matches(f: &RouteFault, label: &str, template: &str, path: &str) -> bool {
    f.route == "*" || f.route == label || f.route == template || path.starts_with(&f.route)
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
        let st = &mut *st;
        *st.stats.rest_requests.entry(label.clone()).or_default() += 1;
        let now = Instant::now();
        while st
            .invalid_window
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(600))
        {
            st.invalid_window.pop_front();
        }
        if st.cloudflare_ban.is_some_and(|(until, _)| now >= until) {
            st.cloudflare_ban = None;
        }
        if st.cloudflare_ban.is_none()
            && st.invalid_window.len() >= sh.cfg.invalid_request_limit as usize
        {
            // Too many invalid requests: Cloudflare bans the client for a while.
            st.invalid_window.clear();
            st.cloudflare_ban = Some((now + sh.cfg.cloudflare_ban, false));
        }
        if let Some((_, html)) = st.cloudflare_ban {
            *st.stats.rest_429s.entry(label.clone()).or_default() += 1;
            Gate::Reject(cloudflare_1015(html))
        } else if needs_auth && (!authorized || st.token_invalid()) {
            st.count_invalid();
            Gate::Reject(e::unauthorized().into_response())
        } else {
            let mut fault = None;
            for f in &mut st.faults {
                if matches(f, &label, &template, &path) && f.count != Some(0) {
                    if let Some(c) = &mut f.count {
                        *c -= 1;
                    }
                    fault = Some(f.clone());
                    break;
                }
            }
            st.faults.retain(|f| f.count != Some(0));
            let limit = route_limit(&sh.cfg, method.as_str(), &template);
            let bucket_name = if limit.bucket.is_empty() {
                label.as_str()
            } else {
                limit.bucket
            };
            let bucket_id = bucket_hash(bucket_name);
            match fault {
                Some(f) if f.kind == "429" => {
                    let ra = Duration::from_millis(f.ms.unwrap_or(1000));
                    *st.stats.rest_429s.entry(label.clone()).or_default() += 1;
                    let scope = f.scope.as_deref().unwrap_or("user");
                    // Discord: 429s of a shared resource do not count as invalid requests.
                    if scope != "shared" {
                        st.count_invalid();
                    }
                    let global = scope == "global";
                    let headers = if global {
                        HeaderMap::new()
                    } else {
                        rl_headers(limit.limit, 0, ra, &bucket_id, scope)
                    };
                    Gate::Reject(too_many_scoped(ra, global, headers, Some(scope)))
                }
                Some(f) if f.kind != "lag" && !f.after_apply => Gate::Fault(f),
                f => {
                    let lag = f
                        .as_ref()
                        .filter(|f| f.kind == "lag")
                        .and_then(|f| f.ms)
                        .unwrap_or(0);
                    let after = f.filter(|f| f.after_apply);
                    // Global limit (interaction endpoints exempt): at most `global_rate_limit`
                    // requests in any one second.
                    let second = Duration::from_secs(1);
                    let global_wait = if interaction_route {
                        None
                    } else {
                        while st
                            .global_hits
                            .front()
                            .is_some_and(|t| now.duration_since(*t) >= second)
                        {
                            st.global_hits.pop_front();
                        }
                        if st.global_hits.len() >= sh.cfg.global_rate_limit.max(1) as usize {
                            let oldest = *st.global_hits.front().expect("full");
                            Some((oldest + second).saturating_duration_since(now))
                        } else {
                            st.global_hits.push_back(now);
                            None
                        }
                    };
                    if let Some(ra) = global_wait {
                        *st.stats.rest_429s.entry(label.clone()).or_default() += 1;
                        st.count_invalid();
                        Gate::Reject(too_many(ra, true, HeaderMap::new()))
                    } else {
                        let key = format!("{bucket_name} {}", major(&path));
                        let b = st.buckets.entry(key).or_default();
                        match b.hit(limit.limit, limit.window, limit.kind, now) {
                            Verdict::Limited {
                                retry_after,
                                reset_after,
                            } => {
                                *st.stats.rest_429s.entry(label.clone()).or_default() += 1;
                                st.count_invalid();
                                let mut h =
                                    rl_headers(limit.limit, 0, reset_after, &bucket_id, "user");
                                h.insert(
                                    "x-ratelimit-reset-after",
                                    HeaderValue::from_str(&format!(
                                        "{:.3}",
                                        retry_after.as_secs_f64()
                                    ))
                                    .expect("ascii"),
                                );
                                Gate::Reject(too_many(retry_after, false, h))
                            }
                            Verdict::Allowed {
                                remaining,
                                reset_after,
                            } => Gate::Pass {
                                headers: rl_headers(
                                    limit.limit,
                                    remaining,
                                    reset_after,
                                    &bucket_id,
                                    "user",
                                ),
                                lag,
                                after,
                            },
                        }
                    }
                }
            }
        }
    };
    let resp = match gate {
        Gate::Reject(r) => return r,
        Gate::Fault(f) => return fault_response(&sh, &f).await,
        Gate::Pass {
            headers,
            lag,
            after,
        } => {
            if lag > 0 {
                tokio::time::sleep(Duration::from_millis(lag)).await;
            }
            let resp = next.run(req).await;
            if let Some(f) = after {
                // Carried out; the client is told otherwise.
                return fault_response(&sh, &f).await;
            }
            let mut resp = resp;
            resp.headers_mut().extend(headers);
            resp
        }
    };
    if matches!(
        resp.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        sh.lock().count_invalid();
    }
    resp
}
