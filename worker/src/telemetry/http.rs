//! `/metrics` on the metrics port; `/health` (liveness) and `/ready` (readiness) on the health
//! port.

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Metrics;
use crate::shards::{
    close::explain,
    status::{ShardPhase, ShardStatus},
};

async fn render_metrics(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.render(),
    )
}

/// Liveness: fails when a shard was closed for good (the process cannot serve its range and
/// cannot recover alone; it also exits).
async fn health(State(s): State<Arc<ShardStatus>>) -> impl IntoResponse {
    let fatal: Vec<String> = s
        .all()
        .into_iter()
        .filter(|(_, i)| i.phase == ShardPhase::FatallyClosed)
        .map(|(id, i)| {
            format!(
                "closed for good by the gateway: shard {id} (close code {}): {}",
                i.close_code
                    .map_or_else(|| "none".into(), |c| c.to_string()),
                explain(i.close_code.filter(|c| *c != 0))
            )
        })
        .collect();
    if !fatal.is_empty() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", fatal.join("\n")),
        );
    }
    (StatusCode::OK, "ok\n".to_owned())
}

/// Readiness: every shard of the range READY/RESUMED with an acknowledged heartbeat (or
/// handed over to the process holding its lease); otherwise the body says which and why.
async fn ready(State(s): State<Arc<ShardStatus>>) -> impl IntoResponse {
    if s.is_ready() {
        let handed = s.list_in(ShardPhase::HandedOff);
        if handed.is_empty() {
            return (StatusCode::OK, "ready\n".to_owned());
        }
        return (
            StatusCode::OK,
            format!("ready\nhanded over (run by another process): {handed}\n"),
        );
    }
    let waiting: Vec<String> = s
        .not_ready()
        .into_iter()
        .map(|(id, phase, acked)| {
            let mut line = format!("shard {id}: {phase:?}, heartbeat acked: {acked}");
            if let Some(code) = s.get(id).and_then(|i| i.close_code) {
                line.push_str(&format!(
                    ", last closed for good with {code}: {}",
                    explain(Some(code))
                ));
            }
            line
        })
        .collect();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready\n{}\n", waiting.join("\n")),
    )
}

/// Binds `addr` and serves `/metrics` until `stop`. Returns the bound address.
pub async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(metrics);
    serve(addr, app, stop).await
}

/// Binds `addr` and serves `/health` and `/ready` until `stop`. Returns the bound address.
pub async fn serve_health(
    addr: SocketAddr,
    status: Arc<ShardStatus>,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(status);
    serve(addr, app, stop).await
}

async fn serve(
    addr: SocketAddr,
    app: Router,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        let res = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, %local, "HTTP server stopped");
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: impl IntoResponse) -> (StatusCode, String) {
        let r = r.into_response();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_fails_naming_the_close_and_its_fix() {
        let s = Arc::new(ShardStatus::new(2, [0, 1]));
        assert_eq!(
            body(health(State(Arc::clone(&s))).await).await.0,
            StatusCode::OK
        );
        s.update(1, |i| {
            i.phase = ShardPhase::FatallyClosed;
            i.close_code = Some(4014);
        });
        let (status, text) = body(health(State(Arc::clone(&s))).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("shard 1 (close code 4014)"), "{text}");
        assert!(text.contains("Server Members intents"), "{text}");
        // Backing off after a close: alive, not ready, and /ready says why.
        s.update(1, |i| i.phase = ShardPhase::BackingOff);
        assert_eq!(
            body(health(State(Arc::clone(&s))).await).await.0,
            StatusCode::OK
        );
        let (status, text) = body(ready(State(s)).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            text.contains("shard 1: BackingOff") && text.contains("closed for good with 4014"),
            "{text}"
        );
    }
}
