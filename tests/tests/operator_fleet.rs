//! End to end: the operator, the real control plane, real `kyuta-worker` processes, the
//! simulator and the real Redis.
//!
//! There is no kubelet in the test environment: the test runs the shared stand-in
//! ([`kyuta_tests::kubelet::Kubelet`]), which runs one `kyuta-worker` process per Pod the
//! controller-manager makes from the operator's StatefulSets and reports the Pods' readiness.
//!
//! Worker logs go to `target/testenv/logs/fleet/<namespace>/<pod>-<uid>.log`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kyuta_crds::KyutaCluster;
use kyuta_crds::cluster::Phase;
use kyuta_crds::contract::redis_keys;
use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::kubelet::{Kubelet, KubeletOptions};
use kyuta_tests::{
    eventually, install_kyuta_crd, kube_client, redis_connection, redis_url, unique_name,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "fleet-test-token";
/// The simulator's identify window (Discord's is 5 s); the workers are told the same.
const IDENTIFY_WINDOW: Duration = Duration::from_secs(1);

/// A minimal HTTP/1.1 client for the simulator's control API and the workers' probes.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 5 s"))??;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        let mut out = String::new();
        let mut s = rest;
        while let Some((size, tail)) = s.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            s = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        rest.to_owned()
    };
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Ok((status, value))
}

/// One test's fleet: a namespace, the CRD, an in-process operator watching that namespace,
/// a simulator, and the kubelet stand-in.
struct Fleet {
    client: Client,
    ns: String,
    sim: Sim,
    kubelet: Kubelet,
    stop: Option<oneshot::Sender<()>>,
    operator: tokio::task::JoinHandle<anyhow::Result<()>>,
    guild: u64,
    channel: u64,
    user: u64,
}

impl Fleet {
    async fn start() -> Self {
        let client = kube_client().await;
        install_kyuta_crd(&client).await;
        let ns = unique_name("kyuta-fleet");
        let namespace: Namespace = serde_json::from_value(
            json!({"metadata": {"name": ns, "labels": {"kyuta.dev/test": "fleet"}}}),
        )
        .unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "bot"},
            "stringData": {"token": TOKEN}
        }))
        .unwrap();
        Api::<Secret>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
        let sim = Sim::start(SimConfig {
            token: TOKEN.into(),
            guilds: 16,
            identify_window: IDENTIFY_WINDOW,
            heartbeat_interval: Duration::from_millis(1000),
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        let (status, guilds) = http(sim.addr(), "GET", "/_sim/guilds?limit=1", None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{guilds}");
        let g = &guilds[0];
        let id = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
        let guild = id(&g["id"]);
        let user = id(&g["owner_id"]);
        let channel = g["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == 0)
            .map(|c| id(&c["id"]))
            .expect("a text channel");
        let (stop, stopped) = oneshot::channel::<()>();
        let operator = tokio::spawn(kyuta_operator::run_with_client(
            client.clone(),
            kyuta_operator::Config {
                namespace: Some(ns.clone()),
                gateway_refresh: Duration::from_secs(1),
                gateway_retry: Duration::from_secs(1),
                identity: format!("fleet-{ns}"),
                ..kyuta_operator::Config::default()
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let logs = kyuta_tests::workspace_root()
            .join("target/testenv/logs/fleet")
            .join(&ns);
        let kubelet = Kubelet::start(
            client.clone(),
            &ns,
            KubeletOptions::new(logs, IDENTIFY_WINDOW),
        );
        Self {
            client,
            ns,
            sim,
            kubelet,
            stop: Some(stop),
            operator,
            guild,
            channel,
            user,
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn apply(&self, name: &str, shards: u32, shards_per_pod: u32) {
        let body = json!({
            "apiVersion": "kyuta.dev/v1alpha1",
            "kind": "KyutaCluster",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": {
                "tokenSecretRef": {"name": "bot", "key": "token"},
                "worker": {"image": "kyuta-worker:test", "logLevel": "info"},
                "shards": {"count": shards},
                "shardsPerPod": shards_per_pod,
                "redis": {"url": redis_url()},
                "storage": "Ephemeral",
                "discord": {"apiUrl": self.sim.api_url(), "gatewayUrl": self.sim.gateway_url()}
            }
        });
        self.api::<KyutaCluster>()
            .patch(
                name,
                &PatchParams::apply("kyuta-tests").force(),
                &Patch::Apply(&body),
            )
            .await
            .unwrap();
    }

    async fn status_where(
        &self,
        name: &str,
        what: &str,
        limit: Duration,
        pred: impl Fn(&kyuta_crds::KyutaClusterStatus) -> bool,
    ) -> kyuta_crds::KyutaClusterStatus {
        let api = self.api::<KyutaCluster>();
        let crashes = || self.kubelet.crashes();
        eventually(what, limit, || {
            let api = api.clone();
            let pred = &pred;
            let crashed = crashes();
            async move {
                assert!(crashed.is_empty(), "worker processes crashed: {crashed:?}");
                let kc = api.get(name).await.ok()?;
                kc.status.filter(|s| pred(s))
            }
        })
        .await
    }

    /// Pods of StatefulSet `sts` (by name prefix), with their revision label.
    async fn pods_of(&self, sts: &str) -> Vec<Pod> {
        self.api::<Pod>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| {
                p.name_any()
                    .rsplit_once('-')
                    .is_some_and(|(base, _)| base == sts)
            })
            .collect()
    }

    /// A user runs `/ping` in the test guild; returns the interaction id, or `None` while the
    /// command is not registered yet.
    async fn ping(&self) -> Option<u64> {
        let body = json!({
            "guild_id": self.guild.to_string(),
            "channel_id": self.channel.to_string(),
            "user_id": self.user.to_string(),
            "name": "ping",
        });
        let (status, out) = http(self.sim.addr(), "POST", "/_sim/interactions", Some(&body))
            .await
            .ok()?;
        (status == 201).then(|| out["id"].as_str()?.parse().ok())?
    }

    fn identifies(&self) -> usize {
        self.sim.stats().stats.identifies.len()
    }

    fn callbacks(&self) -> u64 {
        self.sim
            .stats()
            .stats
            .rest_requests
            .iter()
            .filter(|(route, _)| route.ends_with("/callback"))
            .map(|(_, n)| n)
            .sum()
    }

    async fn interaction(&self, id: u64) -> Value {
        let (status, body) = http(
            self.sim.addr(),
            "GET",
            &format!("/_sim/interactions/{id}"),
            None,
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Deletes the KyutaClusters (while the operator runs, so finalizers complete), stops the
    /// workers, the operator, the namespace and the simulator.
    async fn stop(mut self) {
        let kcs = self.api::<KyutaCluster>();
        let _ = kcs
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let empty = kcs
                    .list(&ListParams::default())
                    .await
                    .map(|l| l.items.is_empty())
                    .unwrap_or(true);
                if empty && self.kubelet.running().is_empty() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
        .await;
        self.kubelet.stop().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.operator).await;
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.ns, &DeleteParams::default())
            .await;
        self.sim.shutdown().await;
    }
}

/// Changing shards per pod (2 → 1: 2 pods → 4 pods) keeps the shard total and rolls the
/// pods one at a time; every shard moves by RESUME, so Discord sees no new identify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_change_of_shards_per_pod_resumes_every_shard() {
    let fleet = Fleet::start().await;
    fleet.apply("roll", 4, 2).await;
    fleet
        .status_where(
            "roll",
            "generation 1 Running with 4 Ready shards",
            Duration::from_secs(120),
            |s| s.phase == Phase::Running && s.ready_shards == 4,
        )
        .await;
    let identifies_before = fleet.identifies();
    assert_eq!(identifies_before, 4, "one identify per shard to start");
    let resumes_before = fleet.sim.stats().stats.resumes;
    let revision_before = fleet
        .api::<StatefulSet>()
        .get("roll-g1")
        .await
        .unwrap()
        .status
        .and_then(|s| s.update_revision)
        .unwrap();

    fleet.apply("roll", 4, 1).await;
    let sets = fleet.api::<StatefulSet>();
    let rolled = eventually(
        "roll-g1 rolled out to 4 pods of 1 shard",
        Duration::from_secs(180),
        || {
            let sets = sets.clone();
            let revision_before = revision_before.clone();
            let crashes = fleet.kubelet.crashes();
            async move {
                assert!(crashes.is_empty(), "worker processes crashed: {crashes:?}");
                let sts = sets.get("roll-g1").await.ok()?;
                let st = sts.status.clone()?;
                let done = sts.spec.as_ref()?.replicas == Some(4)
                    && st.observed_generation == sts.metadata.generation
                    && st.update_revision.as_deref() != Some(revision_before.as_str())
                    && st.replicas == 4
                    && st.updated_replicas == Some(4)
                    && st.ready_replicas == Some(4);
                done.then_some(sts)
            }
        },
    )
    .await;
    let status = fleet
        .status_where(
            "roll",
            "Running with 4 Ready shards on 4 pods",
            Duration::from_secs(60),
            |s| s.phase == Phase::Running && s.ready_shards == 4 && s.replicas == 4,
        )
        .await;
    assert_eq!(status.shards, 4, "the shard total is kept");
    assert_eq!(
        status.generation, 1,
        "no new generation for a pod-count change"
    );
    let revision = rolled.status.unwrap().update_revision.unwrap();
    for pod in fleet.pods_of("roll-g1").await {
        assert_eq!(
            pod.labels().get("controller-revision-hash"),
            Some(&revision),
            "{} runs the new template",
            pod.name_any()
        );
    }
    let stats = fleet.sim.stats();
    println!(
        "identifies: {} before, {} after; resumes: {} before, {} after; processes started: {:?}",
        identifies_before,
        stats.stats.identifies.len(),
        resumes_before,
        stats.stats.resumes,
        fleet.kubelet.started()
    );
    assert_eq!(
        stats.stats.identifies.len(),
        identifies_before,
        "no new identify during the roll: {:?}",
        &stats.stats.identifies[identifies_before..]
    );
    assert!(
        stats.stats.resumes >= resumes_before + 4,
        "every shard moved by RESUME"
    );
    let mut ready = stats.ready_shards.clone();
    ready.sort_unstable();
    ready.dedup();
    assert_eq!(ready, [[0, 4], [1, 4], [2, 4], [3, 4]]);
    fleet.stop().await;
}

/// Resharding 4 → 8 while a user runs `/ping` every 100 ms: generation 2 starts beside
/// generation 1, takes over, generation 1 is retired, and every interaction is answered
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshard_four_to_eight_answers_every_interaction_once() {
    let fleet = Arc::new(Fleet::start().await);
    fleet.apply("grow", 4, 2).await;
    fleet
        .status_where(
            "grow",
            "generation 1 Running with 4 Ready shards",
            Duration::from_secs(120),
            |s| s.phase == Phase::Running && s.ready_shards == 4,
        )
        .await;
    // Slash commands are registered by one worker at start.
    let first = eventually("/ping registered", Duration::from_secs(30), || fleet.ping()).await;

    // The user: /ping every 100 ms until told to stop.
    let user_stop = CancellationToken::new();
    let user = {
        let fleet = Arc::clone(&fleet);
        let stop = user_stop.clone();
        tokio::spawn(async move {
            let mut ids = vec![(first, Instant::now())];
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while !stop.is_cancelled() {
                tick.tick().await;
                match fleet.ping().await {
                    Some(id) => ids.push((id, Instant::now())),
                    None => panic!("the simulator refused /ping"),
                }
            }
            ids
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reshard_at = Instant::now();
    fleet.apply("grow", 8, 2).await;
    fleet
        .status_where(
            "grow",
            "resharding to generation 2",
            Duration::from_secs(60),
            |s| s.phase == Phase::Resharding,
        )
        .await;
    let status = fleet
        .status_where(
            "grow",
            "generation 2 (8 shards) active and Running",
            Duration::from_secs(180),
            |s| s.generation == 2 && s.shards == 8 && s.ready_shards == 8,
        )
        .await;
    assert!(status.resharding.is_none());
    let switched_at = Instant::now();
    let sets = fleet.api::<StatefulSet>();
    eventually(
        "generation 1 retired and its workers stopped",
        Duration::from_secs(90),
        || {
            let sets = sets.clone();
            let running = fleet.kubelet.running();
            async move {
                let gone = sets.get_opt("grow-g1").await.ok()?.is_none();
                let none_left = !running.iter().any(|p| p.starts_with("grow-g1-"));
                (gone && none_left).then_some(())
            }
        },
    )
    .await;
    let mut redis = redis_connection().await;
    let active: u32 = redis::cmd("GET")
        .arg(redis_keys::active_generation("grow"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(active, 2);
    // Generation 2 alone for a while.
    tokio::time::sleep(Duration::from_secs(3)).await;
    user_stop.cancel();
    let ids = user.await.unwrap();
    let before = ids.iter().filter(|(_, at)| *at < reshard_at).count();
    let during = ids
        .iter()
        .filter(|(_, at)| *at >= reshard_at && *at < switched_at)
        .count();
    let after = ids.len() - before - during;
    println!(
        "interactions: {} ({before} before the reshard, {during} while both generations ran, {after} after the switch)",
        ids.len()
    );
    assert!(before > 0 && during > 0 && after > 0);

    // Every interaction answered, exactly once.
    let fleet_ref = &fleet;
    let ids_ref = &ids;
    eventually(
        "every interaction answered",
        Duration::from_secs(15),
        || async move {
            for (id, _) in ids_ref {
                let it = fleet_ref.interaction(*id).await;
                if it["acknowledged"] != json!(true) {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    let callbacks = fleet.callbacks();
    assert_eq!(
        callbacks,
        ids.len() as u64,
        "one interaction callback per interaction (a second one would be 40060)"
    );
    let stats = fleet.sim.stats();
    println!(
        "identifies: {} (4 for generation 1, 8 for generation 2)",
        stats.stats.identifies.len()
    );
    assert_eq!(
        stats
            .stats
            .identifies
            .iter()
            .filter(|i| i.shard[1] == 8)
            .count(),
        8
    );
    let fleet = Arc::into_inner(fleet).expect("the user task is done");
    fleet.stop().await;
}
