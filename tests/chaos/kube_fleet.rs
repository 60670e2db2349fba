//! The operator's fleet: the real `kyuta-operator` process watching a namespace of its own on
//! the test environment's kube-apiserver (with its kube-controller-manager), the kubelet
//! stand-in (`kyuta_tests::kubelet`) running one `kyuta-worker` per Pod, the simulator, and the
//! scenario's own Redis. The operator reaches Redis through a proxy of its own (the URL in the
//! KyutaCluster), while the workers reach it directly (the stand-in resolves `REDIS_URL` to
//! Redis itself, as a node may), so the operator's link can be cut alone.
//!
//! The stand-in probes `/ready` as the operator's Pod template says (every 5 s, 3 failures),
//! so rolls take as long as on a node. The operator runs with short timings: `GET /gateway/bot` reused for 1 s and the reshard
//! deadline's fixed part from [`KubeSpec::reshard_deadline_secs`]. It can be SIGKILLed and
//! started again ([`Operator::kill`], [`Operator::start`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kyuta_crds::contract::{env as names, redis_keys};
use kyuta_crds::{KyutaCluster, KyutaClusterStatus};
use kyuta_sim::Sim;
use kyuta_tests::kubelet::{CrashLoop, Kubelet, KubeletOptions, PodsView};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::checker::{PodProbe, Target, ping_targets};
use crate::fleet::{TOKEN, sim_config};
use crate::procs::{RedisServer, signal};
use crate::proxy::Proxy;

/// The KyutaCluster's name in every scenario (its Redis keys are under `kyuta:{bot}:`).
pub const CLUSTER: &str = "bot";

/// The identify window of the simulator and the workers of this fleet (Discord: 5 s). Twice
/// the chaos fleet's: this fleet runs the control plane and up to a dozen workers on 2 cores,
/// and a bucket's hold after a grant is the window plus a tenth of it, so a worker that gets
/// no CPU for longer than that tenth between the grant and its IDENTIFY breaks the bucket rule
/// (see docs/reliability.md).
pub const KUBE_WINDOW_MS: u64 = 2_000;

/// What the scenario starts with.
#[derive(Debug, Clone)]
pub struct KubeSpec {
    /// Shard total of the first generation.
    pub shards: u32,
    /// Shards per pod.
    pub per_pod: u32,
    /// Guilds in the simulated world.
    pub guilds: u64,
    /// The most shards the scenario will run (ping targets cover each of them).
    pub max_shards: u32,
    /// The fixed part of the operator's reshard deadline.
    pub reshard_deadline_secs: u64,
    /// Pods whose containers crash (see [`CrashLoop`]).
    pub crash_loop: Option<CrashLoop>,
}

/// The `kyuta-operator` process.
pub struct Operator {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    log: PathBuf,
    child: Option<tokio::process::Child>,
    /// How many times it was started.
    pub starts: u32,
}

impl Operator {
    /// Starts (or starts again) the process.
    ///
    /// # Panics
    /// When it cannot be spawned.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open operator.log");
        let child = tokio::process::Command::new(kyuta_tests::worker::operator_binary())
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start kyuta-operator");
        self.starts += 1;
        self.child = Some(child);
    }

    /// SIGKILL, and waits for the process to go.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Some(pid) = c.id() {
                signal(pid, "KILL");
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), c.wait()).await;
        }
    }

    /// SIGTERM, and waits (bounded) for the process to stop.
    pub async fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Some(pid) = c.id() {
                signal(pid, "TERM");
            }
            if tokio::time::timeout(Duration::from_secs(10), c.wait())
                .await
                .is_err()
            {
                let _ = c.start_kill();
            }
        }
    }

    /// The operator's log so far.
    #[must_use]
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The running fleet (see the module docs).
pub struct KubeFleet {
    /// Kubernetes client (admin).
    pub client: Client,
    /// The scenario's namespace.
    pub ns: String,
    /// The simulator.
    pub sim: Sim,
    /// The scenario's Redis.
    pub redis: RedisServer,
    /// Between the operator and Redis.
    pub operator_redis: Proxy,
    /// The operator process.
    pub operator: Operator,
    /// The kubelet stand-in.
    pub kubelet: Kubelet,
    /// What the scenario started with.
    pub spec: KubeSpec,
    /// Where logs live.
    pub dir: PathBuf,
    total: Arc<AtomicU32>,
    active: Arc<AtomicU32>,
    stop_tracker: CancellationToken,
}

impl KubeFleet {
    /// Starts everything, applies the KyutaCluster and waits until its first generation is
    /// Running with every shard Ready and connected.
    ///
    /// # Panics
    /// When the test environment's kube-apiserver is not up (the message says how to start
    /// it), or the fleet does not come up in time.
    pub async fn start(name: &str, spec: KubeSpec) -> Self {
        let dir = kyuta_tests::workspace_root()
            .join("target/chaos")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scenario directory");
        // Panics with how to start the apiserver when it is not up.
        let client = kyuta_tests::kube_client().await;
        kyuta_tests::install_kyuta_crd(&client).await;
        let ns = kyuta_tests::unique_name("chaos");
        let namespace: Namespace = serde_json::from_value(
            json!({"metadata": {"name": ns, "labels": {"kyuta.dev/test": "chaos"}}}),
        )
        .expect("namespace");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("create the namespace");
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "bot"},
            "stringData": {"token": TOKEN}
        }))
        .expect("secret");
        Api::<Secret>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &secret)
            .await
            .expect("create the token Secret");
        let mut config = sim_config(spec.guilds, spec.shards);
        config.identify_window = Duration::from_millis(KUBE_WINDOW_MS);
        let sim = Sim::start(config).await.expect("start the simulator");
        let redis = RedisServer::start(&dir).await;
        let operator_redis = Proxy::start(redis.port).await;

        let mut options =
            KubeletOptions::new(dir.join("pods"), Duration::from_millis(KUBE_WINDOW_MS));
        options
            .env_overrides
            .insert(names::REDIS_URL.into(), redis.url());
        options.env_overrides.insert(
            names::LOG_LEVEL.into(),
            "kyuta_worker=debug,twilight_gateway=info,info".into(),
        );
        options.restart_after = Some(Duration::from_secs(1));
        options.probe_as_pod_says = true;
        options.crash_loop = spec.crash_loop.clone();
        let kubelet = Kubelet::start(client.clone(), &ns, options);

        let kubeconfig = kyuta_tests::kubeconfig();
        let mut operator = Operator {
            args: vec![
                "--namespace".into(),
                ns.clone(),
                "--leader-election".into(),
                "false".into(),
                "--metrics-addr".into(),
                format!("127.0.0.1:{}", kyuta_tests::worker::free_port()),
                "--gateway-refresh-seconds".into(),
                "1".into(),
                "--reshard-deadline-seconds".into(),
                spec.reshard_deadline_secs.to_string(),
                "--identity".into(),
                format!("chaos-{name}"),
            ],
            env: BTreeMap::from([
                ("KUBECONFIG".to_owned(), kubeconfig.display().to_string()),
                (
                    "KYUTA_LOG_LEVEL".to_owned(),
                    "kyuta_operator=debug,info".to_owned(),
                ),
            ]),
            log: dir.join("operator.log"),
            child: None,
            starts: 0,
        };
        operator.start();

        let total = Arc::new(AtomicU32::new(spec.shards));
        let active = Arc::new(AtomicU32::new(0));
        let stop_tracker = CancellationToken::new();
        tokio::spawn(track_active(
            redis.url(),
            kubelet.pods_view(),
            Arc::clone(&total),
            Arc::clone(&active),
            stop_tracker.clone(),
        ));
        let fleet = Self {
            client,
            ns,
            sim,
            redis,
            operator_redis,
            operator,
            kubelet,
            spec: spec.clone(),
            dir,
            total,
            active,
            stop_tracker,
        };
        fleet.apply(spec.shards, spec.per_pod).await;
        fleet
            .status_where(
                "generation 1 Running with every shard Ready",
                Duration::from_secs(120),
                |s| {
                    s.generation == 1
                        && s.ready_shards == spec.shards
                        && s.phase == kyuta_crds::cluster::Phase::Running
                },
            )
            .await;
        fleet
            .wait_connected(spec.shards, Duration::from_secs(60))
            .await;
        fleet
    }

    /// Applies the KyutaCluster with `shards` shards and `per_pod` shards per pod.
    ///
    /// # Panics
    /// When the apiserver refuses it.
    pub async fn apply(&self, shards: u32, per_pod: u32) {
        self.apply_with(shards, per_pod, json!({"enabled": false}))
            .await;
    }

    /// Applies the KyutaCluster with `autoscaling` (the spec's `autoscaling` object).
    pub async fn apply_with(&self, shards: u32, per_pod: u32, autoscaling: serde_json::Value) {
        let body = json!({
            "apiVersion": "kyuta.dev/v1alpha1",
            "kind": "KyutaCluster",
            "metadata": {"name": CLUSTER, "namespace": self.ns},
            "spec": {
                "tokenSecretRef": {"name": "bot", "key": "token"},
                "worker": {"image": "kyuta-worker:test", "logLevel": "info"},
                "shards": {"count": shards},
                "shardsPerPod": per_pod,
                "autoscaling": autoscaling,
                "redis": {"url": format!("redis://127.0.0.1:{}", self.operator_redis.port)},
                "storage": "Ephemeral",
                "discord": {"apiUrl": self.sim.api_url(), "gatewayUrl": self.sim.gateway_url()}
            }
        });
        self.clusters()
            .patch(
                CLUSTER,
                &PatchParams::apply("kyuta-chaos").force(),
                &Patch::Apply(&body),
            )
            .await
            .expect("apply the KyutaCluster");
    }

    fn clusters(&self) -> Api<KyutaCluster> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The StatefulSets of the namespace.
    #[must_use]
    pub fn sets(&self) -> Api<StatefulSet> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The KyutaCluster's status now.
    pub async fn status(&self) -> Option<KyutaClusterStatus> {
        self.clusters().get(CLUSTER).await.ok()?.status
    }

    /// Waits (at most `limit`) for a status that satisfies `pred`.
    ///
    /// # Panics
    /// When it is not seen in time (with the last status and the operator's last log lines).
    pub async fn status_where(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&KyutaClusterStatus) -> bool,
    ) -> KyutaClusterStatus {
        let t0 = Instant::now();
        let mut last = None;
        while t0.elapsed() < limit {
            if let Some(s) = self.status().await {
                if pred(&s) {
                    return s;
                }
                last = Some(s);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let logs = self.operator.logs();
        let tail: Vec<&str> = logs.lines().rev().take(15).collect();
        panic!(
            "{what}: not seen within {limit:?}; last status: {}; operator log (last lines, newest first):\n{}",
            serde_json::to_string(&last).unwrap_or_default(),
            tail.join("\n")
        );
    }

    /// Waits until every shard of `shards` has a connected session in the simulator.
    ///
    /// # Panics
    /// When that does not happen within `limit`.
    pub async fn wait_connected(&self, shards: u32, limit: Duration) {
        let t0 = Instant::now();
        loop {
            let st = self.sim.stats();
            let mut up: Vec<u32> = st
                .ready_shards
                .iter()
                .filter(|s| s[1] == shards)
                .map(|s| s[0])
                .collect();
            up.sort_unstable();
            up.dedup();
            if up.len() as u32 == shards {
                return;
            }
            assert!(
                t0.elapsed() < limit,
                "{shards} shards not all connected within {limit:?}: {up:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The generation Redis names as active (0 before any), as last read.
    #[must_use]
    pub fn active_generation(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// What the checker watches: the shard total of the generation Redis names, and every pod
    /// the stand-in runs.
    #[must_use]
    pub fn target(&self) -> Target {
        let view = self.kubelet.pods_view();
        Target {
            control: kyuta_tests::worker::SimControl::new(self.sim.addr()),
            pings: ping_targets(&self.sim, self.spec.guilds, self.spec.max_shards),
            total: Arc::clone(&self.total),
            pods: Arc::new(move || {
                view.pods()
                    .into_iter()
                    .map(|p| PodProbe {
                        name: p.name,
                        health: p.health,
                        range: p.range,
                        total: p.shard_total,
                    })
                    .collect()
            }),
            window_ms: KUBE_WINDOW_MS,
        }
    }

    /// Identifies the simulator saw for shard total `total`.
    #[must_use]
    pub fn identifies_of(&self, total: u32) -> usize {
        self.sim
            .stats()
            .stats
            .identifies
            .iter()
            .filter(|i| i.shard[1] == total)
            .count()
    }

    /// Every worker's and the operator's logs (for the token check).
    #[must_use]
    pub fn logs(&self) -> String {
        let mut out = self.operator.logs();
        if let Ok(dir) = std::fs::read_dir(self.dir.join("pods")) {
            for f in dir.flatten() {
                out.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
            }
        }
        out
    }

    /// Deletes the KyutaCluster (while the operator runs, so its finalizer completes), stops
    /// the workers, the operator, the namespace and the simulator.
    pub async fn stop(mut self) {
        self.stop_tracker.cancel();
        self.operator_redis.set(crate::proxy::Mode::Pass);
        if self.operator.child.is_none() {
            self.operator.start();
        }
        let clusters = self.clusters();
        let _ = clusters.delete(CLUSTER, &DeleteParams::default()).await;
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            while clusters.get_opt(CLUSTER).await.ok().flatten().is_some() {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
        .await;
        self.kubelet.stop().await;
        self.operator.terminate().await;
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.ns, &DeleteParams::default())
            .await;
        self.sim.shutdown().await;
        drop(self.redis);
    }
}

/// Reads the generation Redis names as active every 200 ms and keeps its shard total (from
/// the pods of that generation) in `total`.
async fn track_active(
    url: String,
    pods: PodsView,
    total: Arc<AtomicU32>,
    active: Arc<AtomicU32>,
    stop: CancellationToken,
) {
    let mut totals: BTreeMap<u32, u32> = BTreeMap::new();
    let mut con = None;
    while !stop.is_cancelled() {
        for p in pods.pods() {
            totals.insert(p.generation, p.shard_total);
        }
        if con.is_none() {
            con = match redis::Client::open(url.as_str()) {
                Ok(c) => tokio::time::timeout(
                    Duration::from_secs(2),
                    c.get_multiplexed_async_connection(),
                )
                .await
                .ok()
                .and_then(Result::ok),
                Err(_) => None,
            };
        }
        if let Some(c) = con.as_mut() {
            let read = tokio::time::timeout(
                Duration::from_secs(2),
                redis::cmd("GET")
                    .arg(redis_keys::active_generation(CLUSTER))
                    .query_async::<Option<u32>>(c),
            )
            .await;
            match read {
                Ok(Ok(Some(g))) => {
                    active.store(g, Ordering::Relaxed);
                    if let Some(t) = totals.get(&g) {
                        total.store(*t, Ordering::Relaxed);
                    }
                }
                Ok(Ok(None)) => {}
                _ => con = None,
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}
