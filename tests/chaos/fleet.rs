//! The fleet a scenario runs: the simulator, the scenario's own Redis, and one
//! `kyuta-worker` process per pod of a StatefulSet-shaped layout (pod `i` of `S` shards with
//! `k` per pod owns `[i·k, (i+1)·k)`, named `<cluster>-g1-<i>`; each pod has its embedded
//! store), each pod reaching Redis through a proxy of its own. The fleet restarts a pod the way
//! a kubelet does: same name, same ordinal, a new process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kyuta_crds::contract::env as names;
use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::worker::{WorkerProcess, sim_worker_env};

use crate::procs::{FerretServer, RedisServer, signal};
use crate::proxy::Proxy;

/// The bot token of every scenario (checked for in the logs).
pub const TOKEN: &str = "chaos-token-7d1e0b3a";
/// Identify window of the simulator and the workers (Discord: 5 s), scaled down.
pub const WINDOW_MS: u64 = 1000;
/// `max_concurrency` of the simulator.
pub const MAX_CONCURRENCY: u32 = 2;
/// `session_start_limit.total` of the simulator.
pub const SESSION_STARTS: u32 = 1000;

/// The simulator of every scenario: `guilds` guilds, `shards` recommended, the identify
/// window, `max_concurrency` and session starts above, Discord's REST limits.
#[must_use]
pub fn sim_config(guilds: u64, shards: u32) -> SimConfig {
    SimConfig {
        token: TOKEN.into(),
        guilds,
        members_per_guild: 24,
        recommended_shards: shards,
        max_concurrency: MAX_CONCURRENCY,
        identify_window: Duration::from_millis(WINDOW_MS),
        heartbeat_interval: Duration::from_millis(1000),
        session_start_total: SESSION_STARTS,
        // Routes without a limit of their own (GET /users/@me, /applications/@me, command
        // registration, member reads; 5 per window by default) get 50: the workers of one test
        // call them more often than one bot at rest would. The routes Discord limits on their
        // own (messages, bans, member edits, DMs) keep their real limits.
        route_limit: 50,
        ..SimConfig::default()
    }
}

/// A layout and what the fleet needs.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    /// Shard total.
    pub shards: u32,
    /// Shards per pod.
    pub per_pod: u32,
    /// Guilds in the simulated world.
    pub guilds: u64,
    /// Whether the pods keep cases in a FerretDB of the scenario's own (each pod through a
    /// proxy of its own) instead of each pod's embedded store.
    pub mongo: bool,
}

/// One pod: its process, its proxies, its environment.
pub struct Pod {
    /// `<cluster>-g1-<ordinal>`.
    pub name: String,
    /// Ordinal.
    pub ordinal: u32,
    /// The running process (`None` while killed and not restarted).
    pub process: Option<WorkerProcess>,
    /// Between this pod and Redis.
    pub redis_proxy: Proxy,
    /// Between this pod and FerretDB (when the fleet has one).
    pub mongo_proxy: Option<Proxy>,
    env: BTreeMap<String, String>,
    dir: PathBuf,
    /// How many times the pod's process was started.
    pub starts: u32,
}

impl Pod {
    /// The shards this pod owns.
    #[must_use]
    pub fn range(&self, per_pod: u32, total: u32) -> std::ops::Range<u32> {
        let start = self.ordinal * per_pod;
        start..(start + per_pod).min(total)
    }

    /// Starts (or restarts) the pod's process.
    pub fn start(&mut self) {
        self.starts += 1;
        self.process = Some(WorkerProcess::spawn(&self.name, &self.dir, &self.env));
    }

    /// The running process.
    ///
    /// # Panics
    /// When the pod is down.
    #[must_use]
    pub fn proc(&self) -> &WorkerProcess {
        self.process.as_ref().expect("the pod is running")
    }

    /// Waits until the process logged `needle` (at most `limit`); whether it did.
    pub async fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        let end = std::time::Instant::now() + limit;
        while std::time::Instant::now() < end {
            if self
                .process
                .as_ref()
                .is_some_and(|p| p.logs().contains(needle))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// SIGKILL, and waits for the process to go.
    pub async fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            signal(p.pid(), "KILL");
            let _ = p.wait_exit(Duration::from_secs(10)).await;
        }
    }

    /// SIGTERM, and waits (bounded) for the process to stop.
    pub async fn terminate(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.sigterm();
            let _ = p.wait_exit(Duration::from_secs(30)).await;
        }
    }
}

/// The running fleet.
pub struct Fleet {
    /// The layout.
    pub spec: FleetSpec,
    /// The simulator.
    pub sim: Sim,
    /// The scenario's Redis.
    pub redis: RedisServer,
    /// The scenario's FerretDB (when [`FleetSpec::mongo`]).
    pub ferret: Option<FerretServer>,
    /// The pods, by ordinal.
    pub pods: Vec<Pod>,
    /// Cluster name (Redis keys).
    pub cluster: String,
    /// Where logs and data live.
    pub dir: PathBuf,
}

impl Fleet {
    /// Starts the simulator, Redis, FerretDB (if asked) and every pod, and waits until every
    /// pod is Ready.
    pub async fn start(name: &str, spec: FleetSpec) -> Self {
        let dir = kyuta_tests::workspace_root()
            .join("target/chaos")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scenario directory");
        let sim = Sim::start(sim_config(spec.guilds, spec.shards))
            .await
            .expect("start the simulator");
        let redis = RedisServer::start(&dir).await;
        let ferret = if spec.mongo {
            Some(FerretServer::start(&dir).await)
        } else {
            None
        };
        let cluster = format!("chaos-{name}").replace('_', "-");
        let pods_n = spec.shards.div_ceil(spec.per_pod);
        let mut fleet = Self {
            spec,
            sim,
            redis,
            ferret,
            pods: Vec::new(),
            cluster,
            dir,
        };
        for ordinal in 0..pods_n {
            let pod = fleet.new_pod(ordinal, fleet.spec.per_pod).await;
            fleet.pods.push(pod);
        }
        for pod in &mut fleet.pods {
            pod.start();
        }
        fleet.wait_ready(Duration::from_secs(120)).await;
        fleet
    }

    /// A pod of this fleet (not started) at `ordinal` of a layout with `per_pod` shards per
    /// pod; when `per_pod` differs from the fleet's, it is a pod of a new layout, as during
    /// a roll, named `<cluster>-g1-<ordinal>-k<per_pod>`.
    pub async fn new_pod(&self, ordinal: u32, per_pod: u32) -> Pod {
        let spec = &self.spec;
        let pod_name = if per_pod == spec.per_pod {
            format!("{}-g1-{ordinal}", self.cluster)
        } else {
            format!("{}-g1-{ordinal}-k{per_pod}", self.cluster)
        };
        let pod_dir = self.dir.join(&pod_name);
        std::fs::create_dir_all(&pod_dir).expect("create the pod directory");
        let redis_proxy = Proxy::start(self.redis.port).await;
        let mongo_proxy = match &self.ferret {
            Some(f) => Some(Proxy::start(f.port).await),
            None => None,
        };
        let mut env = sim_worker_env(&self.sim, TOKEN, &pod_dir);
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set(names::CLUSTER_NAME, self.cluster.clone());
        set(names::POD_NAME, pod_name.clone());
        set(names::SHARD_COUNT, spec.shards.to_string());
        set(names::SHARDS_PER_POD, per_pod.to_string());
        set(names::POD_ORDINAL, ordinal.to_string());
        set(names::IDENTIFY_WINDOW_MS, WINDOW_MS.to_string());
        set(
            names::REDIS_URL,
            format!("redis://127.0.0.1:{}", redis_proxy.port),
        );
        if let Some(p) = &mongo_proxy {
            set(names::MONGO_URI, format!("mongodb://127.0.0.1:{}", p.port));
        }
        set(
            names::LOG_LEVEL,
            "kyuta_worker=debug,twilight_gateway=info,info".to_owned(),
        );
        Pod {
            name: pod_name,
            ordinal,
            process: None,
            redis_proxy,
            mongo_proxy,
            env,
            dir: pod_dir,
            starts: 0,
        }
    }
    /// Waits until every running pod answers `/ready` 200.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        for pod in &mut self.pods {
            if let Some(p) = &mut pod.process {
                p.wait_ready(timeout).await;
            }
        }
    }

    /// Every pod's logs, concatenated (for the token check and for failures).
    #[must_use]
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for pod in &self.pods {
            for f in ["stdout", "stderr"] {
                let p = pod.dir.join(format!("{}.{f}", pod.name));
                out.push_str(&std::fs::read_to_string(p).unwrap_or_default());
            }
        }
        out
    }

    /// Stops every pod (SIGTERM) and the simulator.
    pub async fn stop(mut self) {
        for pod in &mut self.pods {
            pod.terminate().await;
        }
        self.sim.shutdown().await;
    }
}
