//! Two `kyuta-operator` replicas with leader election against the test environment's
//! control plane: both are Ready (a standby too, so a rollout can proceed), exactly one leads
//! (`kyuta_operator_leader`), and their logs carry no ANSI colour codes when written to a
//! file.

use std::process::Stdio;
use std::time::{Duration, Instant};

use kyuta_tests::worker::{free_port, http, operator_binary};
use kyuta_tests::{install_kyuta_crd, kube_client, kubeconfig, unique_name};

struct Replica {
    child: tokio::process::Child,
    addr: std::net::SocketAddr,
    log: std::path::PathBuf,
}

fn spawn(dir: &std::path::Path, name: &str, lease: &str) -> Replica {
    let port = free_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = tokio::process::Command::new(operator_binary())
        .env_clear()
        .env("KUBECONFIG", kubeconfig())
        .env("KYUTA_LOG_LEVEL", "info")
        .args([
            "--metrics-addr",
            &addr.to_string(),
            "--namespace",
            lease,
            "--lease-namespace",
            "default",
            "--lease-name",
            lease,
            "--identity",
            name,
        ])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .expect("start kyuta-operator");
    Replica { child, addr, log }
}

async fn leader_gauge(addr: std::net::SocketAddr) -> Option<f64> {
    let (status, body) = http(addr, "GET", "/metrics", None).await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find_map(|l| l.strip_prefix("kyuta_operator_leader "))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_replicas_are_ready_and_one_leads() {
    install_kyuta_crd(&kube_client().await).await;
    let lease = unique_name("kyuta-ready");
    let dir = tempfile::tempdir().unwrap();
    let mut replicas = [
        spawn(dir.path(), "op-a", &lease),
        spawn(dir.path(), "op-b", &lease),
    ];
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let mut ready = 0;
        let mut leaders = 0.0;
        let mut bodies = Vec::new();
        for r in &mut replicas {
            if let Ok(Some(status)) = r.child.try_wait() {
                panic!(
                    "an operator replica exited ({status}): {}",
                    std::fs::read_to_string(&r.log).unwrap_or_default()
                );
            }
            if tokio::net::TcpStream::connect(r.addr).await.is_err() {
                continue;
            }
            let (status, body) = http(r.addr, "GET", "/readyz", None).await;
            if status == 200 {
                ready += 1;
            }
            leaders += leader_gauge(r.addr).await.unwrap_or(0.0);
            bodies.push(format!("{status} {body}"));
        }
        if ready == 2 && leaders == 1.0 {
            assert!(
                bodies.iter().any(|b| b.contains("standby")),
                "one replica stands by: {bodies:?}"
            );
            break;
        }
        assert!(
            Instant::now() < end,
            "not both Ready with one leader within 60 s: {bodies:?}, leaders {leaders}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for r in &mut replicas {
        let _ = r.child.start_kill();
        let _ = r.child.wait().await;
        let log = std::fs::read_to_string(&r.log).unwrap();
        assert!(log.contains("waiting for the leader Lease"), "{log}");
        assert!(
            !log.contains('\x1b'),
            "no ANSI colour codes in a log file: {log}"
        );
    }
}
