//! The operator's `/metrics`, `/healthz` and `/readyz` while it reconciles against the real
//! control plane, the simulator and the real Redis: reconciles, decisions by action, errors
//! by kind, per-cluster gauges.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kyuta_crds::KyutaCluster;
use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::{install_kyuta_crd, kube_client, redis_connection, redis_url, unique_name};
use serde_json::json;

const TOKEN: &str = "metrics-test-token";

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// The value of the sample `name` (exact label set as printed) in an exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_reconciles_decisions_and_errors_by_kind() {
    let client = kube_client().await;
    install_kyuta_crd(&client).await;
    let ns = unique_name("kyuta-metrics");
    let namespace: Namespace = serde_json::from_value(
        json!({"metadata": {"name": ns, "labels": {"kyuta.dev/test": "metrics"}}}),
    )
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "bot"}, "stringData": {"token": TOKEN}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();

    // A Redis user that may do everything but SET: the operator connects and reads load, but
    // recording the active generation fails, so that cluster's reconciles fail with kind
    // "redis".
    let user = unique_name("kyuta-nos");
    let mut admin = redis_connection().await;
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("on")
        .arg(">secret-pw")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-set")
        .query_async(&mut admin)
        .await
        .unwrap();
    let restricted = redis_url().replacen("redis://", &format!("redis://{user}:secret-pw@"), 1);

    let sim = Sim::start(SimConfig {
        token: TOKEN.into(),
        recommended_shards: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(kyuta_operator::run_with_client(
        client.clone(),
        kyuta_operator::Config {
            metrics_addr: Some(addr),
            namespace: Some(ns.clone()),
            gateway_refresh: Duration::from_secs(1),
            gateway_retry: Duration::from_secs(1),
            identity: format!("metrics-{ns}"),
            ..kyuta_operator::Config::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));

    let kcs: Api<KyutaCluster> = Api::namespaced(client.clone(), &ns);
    for (name, url) in [("healthy", redis_url()), ("noset", restricted.clone())] {
        let body = json!({
            "apiVersion": "kyuta.dev/v1alpha1",
            "kind": "KyutaCluster",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "tokenSecretRef": {"name": "bot", "key": "token"},
                "worker": {"image": "kyuta-worker:test"},
                "shardsPerPod": 1,
                "redis": {"url": url},
                "storage": "Ephemeral",
                "discord": {"apiUrl": sim.api_url(), "gatewayUrl": sim.gateway_url()}
            }
        });
        kcs.patch(
            name,
            &PatchParams::apply("kyuta-tests").force(),
            &Patch::Apply(&body),
        )
        .await
        .unwrap();
    }

    let start = Instant::now();
    let text = loop {
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await
        {
            let (status, text) = get(addr, "/metrics").await;
            assert_eq!(status, 200);
            let shards =
                format!("kyuta_operator_cluster_shards{{namespace=\"{ns}\",cluster=\"healthy\"}}");
            let done = sample(
                &text,
                "kyuta_operator_reconcile_errors_total{kind=\"redis\"}",
            )
            .is_some_and(|n| n >= 1.0)
                && sample(
                    &text,
                    "kyuta_operator_decisions_total{action=\"StartGeneration\"}",
                )
                .is_some_and(|n| n >= 1.0)
                && sample(&text, &shards) == Some(2.0);
            if done {
                break text;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "metrics did not show a decision, the cluster gauge and a redis error within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    println!("{text}");
    let reconciles = sample(&text, "kyuta_operator_reconciles_total").unwrap();
    assert!(reconciles >= 2.0, "{reconciles} reconciles");
    assert_eq!(sample(&text, "kyuta_operator_leader"), Some(1.0));
    assert!(
        sample(
            &text,
            "kyuta_operator_gateway_requests_total{outcome=\"ok\"}"
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(
        sample(&text, "kyuta_operator_reconcile_duration_seconds_count")
            .is_some_and(|n| n >= reconciles - 2.0),
        "durations are observed per reconcile"
    );
    // Only the restricted cluster fails, and only with kind "redis".
    for kind in ["kube", "invalid", "finalizer"] {
        assert_eq!(
            sample(
                &text,
                &format!("kyuta_operator_reconcile_errors_total{{kind=\"{kind}\"}}")
            ),
            None,
            "no {kind} errors"
        );
    }
    assert!(
        text.contains("# TYPE kyuta_operator_reconcile_errors counter"),
        "{text}"
    );
    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(get(addr, "/readyz").await.0, 200);

    // Clean up: clusters (finalizers run while the operator does), user, namespace, simulator.
    let _ = kcs
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    let start = Instant::now();
    while !kcs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty()
        && start.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), operator).await;
    let _: () = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut admin)
        .await
        .unwrap();
    let _ = Api::<Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
    sim.shutdown().await;
}
