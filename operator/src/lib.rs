#![doc = include_str!("../README.md")]

pub mod act;
pub mod context;
pub mod controller;
pub mod decide;
pub mod error;
pub mod gateway;
pub mod leader;
pub mod metrics;
pub mod observe;
pub mod render;
pub mod report;
pub mod roll;
pub mod state;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use kube::Client;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

pub use error::Error;

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address of `/metrics`, `/healthz` and `/readyz`; `None` serves nothing.
    pub metrics_addr: Option<SocketAddr>,
    /// Watch only this namespace (`None`: all namespaces).
    pub namespace: Option<String>,
    /// Leader election; `None` runs without (a single replica).
    pub leader_election: Option<LeaderElection>,
    /// How long a `GET /gateway/bot` answer is reused.
    pub gateway_refresh: Duration,
    /// How long after a failed `GET /gateway/bot` the next one may be sent.
    pub gateway_retry: Duration,
    /// Name of this replica in Events and the Lease.
    pub identity: String,
    /// The fixed part of the time a new generation gets to become Ready before its reshard is
    /// given up (see [`decide::reshard_deadline_from`]).
    pub reshard_deadline: Duration,
}

/// Where the leader Lease lives.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// How long a holder keeps the Lease without renewing.
    pub lease_duration: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            metrics_addr: None,
            namespace: None,
            leader_election: None,
            gateway_refresh: Duration::from_secs(60),
            gateway_retry: Duration::from_secs(10),
            identity: "kyuta-operator".into(),
            reshard_deadline: Duration::from_secs(
                decide::RESHARD_DEADLINE_BASE_SECS.unsigned_abs(),
            ),
        }
    }
}

/// Runs the operator with the client from the environment (in-cluster or `KUBECONFIG`)
/// until SIGINT/SIGTERM or until leadership is lost.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    };
    run_with_client(client, config, shutdown).await
}

/// Runs the operator with `client` until `shutdown` resolves or leadership is lost (an error:
/// the process should exit and be restarted as a follower).
pub async fn run_with_client(
    client: Client,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = metrics::Metrics::register(&mut registry);
    let registry = Arc::new(registry);
    // Readiness does not wait for the leader Lease: a standby replica is Ready too, so a
    // rollout (`helm upgrade`) can replace replicas one at a time. Who leads is the
    // `kyuta_operator_leader` gauge, and the /readyz body.
    let (leading_tx, leading_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };

    if let Some(addr) = config.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
        let app = http_routes(registry.clone(), leading_rx);
        let stop = stopped(stop_rx.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "metrics server failed");
            }
        });
    }

    let lock = config.leader_election.as_ref().map(|le| {
        leader::LeaseLock::new(
            client.clone(),
            &le.namespace,
            &le.name,
            &config.identity,
            le.lease_duration,
        )
    });
    let (lost_tx, lost_rx) = watch::channel(false);
    if let Some(lock) = &lock {
        tracing::info!(identity = %config.identity, "waiting for the leader Lease");
        tokio::select! {
            () = lock.acquire() => {},
            () = stopped(stop_rx.clone()) => return Ok(()),
        }
        tracing::info!(identity = %config.identity, "leading");
        metrics.leader.set(1);
        let _ = leading_tx.send(true);
        let holder = lock.clone();
        tokio::spawn(async move {
            holder.hold().await;
            let _ = lost_tx.send(true);
        });
    } else {
        metrics.leader.set(1);
        let _ = leading_tx.send(true);
        drop(lost_tx);
    }

    let ctx = Arc::new(
        controller::Context::new(
            client,
            &config.identity,
            gateway::GatewayCache::new(config.gateway_refresh, config.gateway_retry),
            metrics.clone(),
        )
        .with_reshard_deadline(config.reshard_deadline),
    );
    let lost = {
        let mut rx = lost_rx.clone();
        async move {
            // A dropped sender (no leader election) never signals loss.
            while rx.changed().await.is_ok() {
                if *rx.borrow() {
                    return;
                }
            }
            std::future::pending::<()>().await;
        }
    };
    let stop = stopped(stop_rx);
    let until = async move {
        tokio::select! {
            () = stop => {},
            () = lost => {},
        }
    };
    controller::run_controller(ctx, config.namespace.as_deref(), until).await;
    metrics.leader.set(0);
    let _ = leading_tx.send(false);
    if *lost_rx.borrow() {
        anyhow::bail!("lost the leader Lease; exiting so a restart rejoins as a follower");
    }
    if let Some(lock) = &lock {
        lock.release().await;
    }
    Ok(())
}

/// `/metrics`; `/healthz`; `/readyz`: 200 once serving, whether this replica leads or
/// stands by (the body says which).
fn http_routes(registry: Arc<Registry>, leading: watch::Receiver<bool>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut out = String::new();
                    match prometheus_client::encoding::text::encode(&mut out, &registry) {
                        Ok(()) => (
                            [(
                                CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )],
                            out,
                        )
                            .into_response(),
                        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                            .into_response(),
                    }
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let leading = *leading.borrow();
                async move {
                    (
                        axum::http::StatusCode::OK,
                        if leading {
                            "ready: leading"
                        } else {
                            "ready: standby (another replica holds the leader Lease)"
                        },
                    )
                }
            }),
        )
}
