//! A stand-in for the kubelet of one namespace of the test control plane.
//!
//! There is no kubelet in the test environment, so [`Kubelet`] stands in for one: it watches
//! the Pods the controller-manager makes from the operator's StatefulSets and runs one
//! `kyuta-worker` process per Pod with that Pod's environment resolved (`secretKeyRef` from
//! the Secret, `fieldRef metadata.name` → the Pod's name). Like a node it adds what belongs to
//! the node, not the Pod: free ports for `KYUTA_METRICS_PORT` and `KYUTA_HEALTH_PORT` (processes
//! share 127.0.0.1), `KYUTA_BIND_ADDRESS=127.0.0.1`, a fresh working directory for the Pod's
//! `emptyDir`, and the simulator's scaled identify window (`KYUTA_IDENTIFY_WINDOW_MS`). It
//! polls each worker's `/ready` and writes the Pod's status (phase Running, condition Ready)
//! through the status subresource, which is what lets the StatefulSet controller roll and the
//! operator switch generations. When a Pod is deleted it sends SIGTERM, waits for the process
//! to exit and then removes the Pod (grace period 0), as a kubelet does once the container is
//! gone. A process that exits on its own makes its Pod not Ready; with
//! [`KubeletOptions::restart_after`] it is started again after that delay (a kubelet's
//! `restartPolicy: Always`).
//!
//! With [`KubeletOptions::probe_as_pod_says`] it probes as the Pod's `readinessProbe` says
//! (period and failure threshold), so a roll takes as long as on a node.
//!
//! Faults of the node, for the chaos suite: [`KubeletOptions::env_overrides`] (what the node
//! resolves differently, e.g. a Redis address), and [`CrashLoop`] (the containers of some Pods
//! are killed a while after each start, as a crashing image is).
//!
//! Worker logs go to `<logs>/<pod>-<uid>.log`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use kyuta_crds::contract::{ShardLayout, env as names, ordinal_from_pod_name};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::worker::free_port;

/// How the stand-in runs Pods.
#[derive(Debug, Clone)]
pub struct KubeletOptions {
    /// Where worker logs go (one file per Pod and uid).
    pub logs: PathBuf,
    /// Where the Pods' working directories (`emptyDir`) are made.
    pub data: PathBuf,
    /// The identify window the workers are told (the simulator's).
    pub identify_window: Duration,
    /// Variables set on every worker after the Pod's own (the node resolves them its way).
    pub env_overrides: BTreeMap<String, String>,
    /// Start a process that exited on its own again after this delay (`None`: leave it).
    pub restart_after: Option<Duration>,
    /// Kill the containers of some Pods a while after each start.
    pub crash_loop: Option<CrashLoop>,
    /// Probe `/ready` as the Pod's `readinessProbe` says (every `periodSeconds`, not Ready
    /// after `failureThreshold` failures in a row), as a kubelet does; `false`: every 250 ms,
    /// and one failure is enough (fast, for tests that only need the outcome).
    pub probe_as_pod_says: bool,
}

impl KubeletOptions {
    /// Logs and data under `dir`, the given identify window, nothing else.
    #[must_use]
    pub fn new(dir: PathBuf, identify_window: Duration) -> Self {
        Self {
            logs: dir.clone(),
            data: dir.join("data"),
            identify_window,
            env_overrides: BTreeMap::new(),
            restart_after: None,
            crash_loop: None,
            probe_as_pod_says: false,
        }
    }
}

/// The containers of Pods whose name starts with `pod_prefix` are SIGKILLed `after` each
/// start (a crash loop, with [`KubeletOptions::restart_after`] as its back-off).
#[derive(Debug, Clone)]
pub struct CrashLoop {
    /// Pods whose name starts with this.
    pub pod_prefix: String,
    /// How long each process of theirs lives.
    pub after: Duration,
}

/// A Pod's running worker, as the stand-in sees it.
#[derive(Debug, Clone)]
pub struct RunningPod {
    /// The Pod's name.
    pub name: String,
    /// The worker's `/health` and `/ready`.
    pub health: SocketAddr,
    /// The worker's generation (`KYUTA_GENERATION`), 0 when not set.
    pub generation: u32,
    /// The generation's shard total (`KYUTA_SHARD_COUNT`).
    pub shard_total: u32,
    /// The shards the Pod owns in its layout.
    pub range: std::ops::Range<u32>,
}

/// One worker process standing for one Pod.
struct Proc {
    pod: String,
    pid: u32,
    health_port: u16,
    env: BTreeMap<String, String>,
    reported_ready: Option<bool>,
    terminating: bool,
    exited: Arc<AtomicBool>,
    started_at: Instant,
    exited_seen_at: Option<Instant>,
    /// The Pod's readiness probe: period and failure threshold.
    probe: (Duration, u32),
    probed_at: Option<Instant>,
    failures: u32,
}

#[derive(Default)]
struct KubeletState {
    procs: HashMap<String, Proc>,
    /// Processes that exited while their Pod was not being deleted (Pod uid, one entry per
    /// exit).
    crashes: Vec<String>,
    /// Pods started, by name (one entry per process).
    started: Vec<String>,
}

/// Stands in for the kubelet of a namespace (see the module docs).
pub struct Kubelet {
    state: Arc<Mutex<KubeletState>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    waits: Arc<tokio::sync::Mutex<tokio::task::JoinSet<()>>>,
}

impl Kubelet {
    /// Starts watching the Pods of `ns`.
    ///
    /// # Panics
    /// When the log or data directory cannot be made.
    #[must_use]
    pub fn start(client: Client, ns: &str, options: KubeletOptions) -> Self {
        let state = Arc::new(Mutex::new(KubeletState::default()));
        let stop = CancellationToken::new();
        let waits = Arc::new(tokio::sync::Mutex::new(tokio::task::JoinSet::new()));
        std::fs::create_dir_all(&options.logs).expect("log directory");
        std::fs::create_dir_all(&options.data).expect("data directory");
        let run = KubeletLoop {
            pods: Api::namespaced(client.clone(), ns),
            secrets: Api::namespaced(client, ns),
            state: Arc::clone(&state),
            waits: Arc::clone(&waits),
            binary: crate::worker::worker_binary(),
            options,
        };
        let task = tokio::spawn(run.run(stop.clone()));
        Self {
            state,
            stop,
            task,
            waits,
        }
    }

    /// Uids of the Pods whose process exited on its own, once per exit.
    #[must_use]
    pub fn crashes(&self) -> Vec<String> {
        self.state.lock().unwrap().crashes.clone()
    }

    /// Names of the Pods started, one entry per process started.
    #[must_use]
    pub fn started(&self) -> Vec<String> {
        self.state.lock().unwrap().started.clone()
    }

    /// Names of the Pods whose process runs, sorted.
    #[must_use]
    pub fn running(&self) -> Vec<String> {
        let mut v: Vec<String> = self.pods().into_iter().map(|p| p.name).collect();
        v.sort();
        v
    }

    /// The Pods whose process runs, with where to reach them and what they own.
    #[must_use]
    pub fn pods(&self) -> Vec<RunningPod> {
        self.pods_view().pods()
    }

    /// A view of [`Kubelet::pods`] that can be kept apart from the stand-in (for a checker).
    #[must_use]
    pub fn pods_view(&self) -> PodsView {
        PodsView {
            state: Arc::clone(&self.state),
        }
    }

    /// Stops watching, sends SIGTERM to every process and waits for them (then kills).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
        let pids: Vec<u32> = self
            .state
            .lock()
            .unwrap()
            .procs
            .values()
            .filter(|p| !p.exited.load(Ordering::Relaxed))
            .map(|p| p.pid)
            .collect();
        for pid in pids {
            signal(pid, "TERM");
        }
        let mut waits = self.waits.lock().await;
        let drained = tokio::time::timeout(Duration::from_secs(30), async {
            while waits.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            // Dropping the JoinSet drops each Child, which kills it (kill_on_drop).
            waits.abort_all();
        }
    }
}

/// The Pods a [`Kubelet`] runs, readable from elsewhere (see [`Kubelet::pods_view`]).
#[derive(Clone)]
pub struct PodsView {
    state: Arc<Mutex<KubeletState>>,
}

impl PodsView {
    /// The Pods whose process runs, with where to reach them and what they own.
    #[must_use]
    pub fn pods(&self) -> Vec<RunningPod> {
        let st = self.state.lock().unwrap();
        st.procs
            .values()
            .filter(|p| !p.exited.load(Ordering::Relaxed))
            .map(|p| {
                let num = |k: &str| p.env.get(k).and_then(|v| v.parse::<u32>().ok());
                let shard_total = num(names::SHARD_COUNT).unwrap_or(1);
                let range = ShardLayout::new(shard_total, num(names::SHARDS_PER_POD).unwrap_or(1))
                    .and_then(|l| l.range_for(ordinal_from_pod_name(&p.pod)?))
                    .unwrap_or(0..0);
                RunningPod {
                    name: p.pod.clone(),
                    health: ([127, 0, 0, 1], p.health_port).into(),
                    generation: num(names::GENERATION).unwrap_or(0),
                    shard_total,
                    range,
                }
            })
            .collect()
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status();
}

/// `GET /ready` of a worker: whether it answered 200 within 2 s.
async fn ready(addr: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /ready HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.ok()?;
        let text = String::from_utf8_lossy(&raw);
        text.split_whitespace().nth(1)?.parse::<u16>().ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ask).await,
        Ok(Some(200))
    )
}

struct KubeletLoop {
    pods: Api<Pod>,
    secrets: Api<Secret>,
    state: Arc<Mutex<KubeletState>>,
    waits: Arc<tokio::sync::Mutex<tokio::task::JoinSet<()>>>,
    binary: PathBuf,
    options: KubeletOptions,
}

impl KubeletLoop {
    async fn run(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(e) = self.tick().await {
                eprintln!("kubelet stand-in: {e:#}");
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    async fn tick(&self) -> anyhow::Result<()> {
        let pods = self.pods.list(&ListParams::default()).await?;
        let mut seen = Vec::new();
        for pod in &pods.items {
            let uid = pod.uid().unwrap_or_default();
            let name = pod.name_any();
            seen.push(uid.clone());
            let deleting = pod.metadata.deletion_timestamp.is_some();
            let known = self.state.lock().unwrap().procs.contains_key(&uid);
            if !known {
                if !deleting {
                    self.spawn(pod).await?;
                }
                continue;
            }
            let (pid, exited, terminating, health_port, reported, started_at, exited_seen) = {
                let st = self.state.lock().unwrap();
                let p = &st.procs[&uid];
                (
                    p.pid,
                    p.exited.load(Ordering::Relaxed),
                    p.terminating,
                    p.health_port,
                    p.reported_ready,
                    p.started_at,
                    p.exited_seen_at,
                )
            };
            if deleting {
                if !terminating {
                    signal(pid, "TERM");
                    if let Some(p) = self.state.lock().unwrap().procs.get_mut(&uid) {
                        p.terminating = true;
                    }
                }
                if exited {
                    // The container is gone: finish the deletion, as a kubelet does.
                    let dp = DeleteParams {
                        grace_period_seconds: Some(0),
                        preconditions: Some(kube::api::Preconditions {
                            uid: Some(uid.clone()),
                            resource_version: None,
                        }),
                        ..DeleteParams::default()
                    };
                    let _ = self.pods.delete(&name, &dp).await;
                }
                continue;
            }
            if exited {
                let first = exited_seen.is_none();
                if first {
                    let mut st = self.state.lock().unwrap();
                    st.crashes.push(uid.clone());
                    if let Some(p) = st.procs.get_mut(&uid) {
                        p.exited_seen_at = Some(Instant::now());
                    }
                    eprintln!("kubelet stand-in: the worker of pod {name} exited on its own");
                }
                if reported != Some(false) {
                    self.report(&name, false).await?;
                    if let Some(p) = self.state.lock().unwrap().procs.get_mut(&uid) {
                        p.reported_ready = Some(false);
                    }
                }
                if let Some(after) = self.options.restart_after
                    && exited_seen.is_some_and(|at| at.elapsed() >= after)
                {
                    self.state.lock().unwrap().procs.remove(&uid);
                    self.spawn(pod).await?;
                }
                continue;
            }
            if let Some(c) = &self.options.crash_loop
                && name.starts_with(&c.pod_prefix)
                && started_at.elapsed() >= c.after
            {
                signal(pid, "KILL");
                continue;
            }
            let (period, threshold, probed_at, failures) = {
                let st = self.state.lock().unwrap();
                let p = &st.procs[&uid];
                (p.probe.0, p.probe.1, p.probed_at, p.failures)
            };
            if self.options.probe_as_pod_says && probed_at.is_some_and(|at| at.elapsed() < period) {
                continue;
            }
            let answered = ready(([127, 0, 0, 1], health_port).into()).await;
            let failures = if answered { 0 } else { failures + 1 };
            if let Some(p) = self.state.lock().unwrap().procs.get_mut(&uid) {
                p.probed_at = Some(Instant::now());
                p.failures = failures;
            }
            let ready = if !self.options.probe_as_pod_says || answered {
                answered
            } else {
                // A Ready Pod leaves Ready only after `failureThreshold` failures in a row.
                reported == Some(true) && failures < threshold
            };
            if reported != Some(ready) {
                self.report(&name, ready).await?;
                if let Some(p) = self.state.lock().unwrap().procs.get_mut(&uid) {
                    p.reported_ready = Some(ready);
                }
            }
        }
        // Pods removed from the API entirely: stop their processes.
        let gone: Vec<u32> = {
            let mut st = self.state.lock().unwrap();
            let gone: Vec<String> = st
                .procs
                .keys()
                .filter(|uid| !seen.contains(uid))
                .cloned()
                .collect();
            gone.iter()
                .filter_map(|uid| {
                    let p = st.procs.get_mut(uid)?;
                    if p.exited.load(Ordering::Relaxed) {
                        st.procs.remove(uid);
                        return None;
                    }
                    (!p.terminating).then(|| {
                        p.terminating = true;
                        p.pid
                    })
                })
                .collect()
        };
        for pid in gone {
            signal(pid, "TERM");
        }
        Ok(())
    }

    async fn report(&self, pod: &str, ready: bool) -> anyhow::Result<()> {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let flag = if ready { "True" } else { "False" };
        let status = json!({"status": {
            "phase": "Running",
            "startTime": now,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
                {"type": "Ready", "status": flag, "lastTransitionTime": now}
            ]
        }});
        self.pods
            .patch_status(pod, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        Ok(())
    }

    /// The Pod's environment, resolved as the kubelet resolves it.
    async fn env(&self, pod: &Pod) -> anyhow::Result<BTreeMap<String, String>> {
        let spec = pod
            .spec
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no spec"))?;
        let container = spec
            .containers
            .first()
            .ok_or_else(|| anyhow::anyhow!("no container"))?;
        let mut out = BTreeMap::new();
        for var in container.env.clone().unwrap_or_default() {
            let value = match (var.value, var.value_from) {
                (Some(v), _) => v,
                (None, Some(from)) => {
                    if let Some(r) = from.secret_key_ref {
                        let secret = self.secrets.get(&r.name).await?;
                        let bytes = secret
                            .data
                            .as_ref()
                            .and_then(|d| d.get(&r.key))
                            .ok_or_else(|| {
                                anyhow::anyhow!("Secret {} has no key {}", r.name, r.key)
                            })?;
                        String::from_utf8(bytes.0.clone())?
                    } else if let Some(f) = from.field_ref {
                        match f.field_path.as_str() {
                            "metadata.name" => pod.name_any(),
                            "metadata.namespace" => pod.namespace().unwrap_or_default(),
                            other => anyhow::bail!("fieldRef {other} is not supported here"),
                        }
                    } else {
                        anyhow::bail!("env {} has an unsupported valueFrom", var.name)
                    }
                }
                (None, None) => String::new(),
            };
            out.insert(var.name, value);
        }
        Ok(out)
    }

    async fn spawn(&self, pod: &Pod) -> anyhow::Result<()> {
        let uid = pod.uid().unwrap_or_default();
        let name = pod.name_any();
        let mut env = self.env(pod).await?;
        let readiness = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.readiness_probe.as_ref());
        let probe = (
            Duration::from_secs(
                readiness
                    .and_then(|p| p.period_seconds)
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(10),
            ),
            readiness
                .and_then(|p| p.failure_threshold)
                .and_then(|f| u32::try_from(f).ok())
                .unwrap_or(3),
        );
        let metrics_port = free_port();
        let health_port = free_port();
        env.insert(names::METRICS_PORT.into(), metrics_port.to_string());
        env.insert(names::HEALTH_CHECK_PORT.into(), health_port.to_string());
        env.insert("KYUTA_BIND_ADDRESS".into(), "127.0.0.1".into());
        env.insert(
            names::IDENTIFY_WINDOW_MS.into(),
            self.options.identify_window.as_millis().to_string(),
        );
        env.insert("KYUTA_SHUTDOWN_GRACE_SECS".into(), "5".into());
        env.extend(self.options.env_overrides.clone());
        let short = &uid[..uid.len().min(8)];
        let starts = self
            .state
            .lock()
            .unwrap()
            .started
            .iter()
            .filter(|p| **p == name)
            .count();
        // The emptyDir lives as long as the Pod (uid); a restarted container keeps it.
        let workdir = self.options.data.join(format!("{name}-{short}"));
        std::fs::create_dir_all(&workdir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.options.logs.join(format!("{name}-{short}.log")))?;
        let mut child = tokio::process::Command::new(&self.binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&env)
            .current_dir(&workdir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or_default();
        let exited = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&exited);
        self.waits.lock().await.spawn(async move {
            let _ = child.wait().await;
            flag.store(true, Ordering::Relaxed);
        });
        if starts > 0 {
            eprintln!(
                "kubelet stand-in: started pod {name} again (start {})",
                starts + 1
            );
        }
        let mut st = self.state.lock().unwrap();
        st.started.push(name.clone());
        st.procs.insert(
            uid,
            Proc {
                pod: name,
                pid,
                health_port,
                env,
                reported_ready: None,
                terminating: false,
                exited,
                started_at: Instant::now(),
                exited_seen_at: None,
                probe,
                probed_at: None,
                failures: 0,
            },
        );
        Ok(())
    }
}
