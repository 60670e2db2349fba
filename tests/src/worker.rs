//! Running the real `kyuta-worker` binary against the simulator: building it, starting it
//! with a configuration in its environment, waiting for `/ready`, reading `/metrics` and its
//! logs, stopping it with SIGTERM; and a small client for the simulator's control API.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::workspace_root;

/// The `kyuta-worker` binary, built once per test process with
/// `cargo build --workspace --bin kyuta-worker` (the workspace's features, as `tests/run`
/// builds it, so the build is a no-op there). `KYUTA_WORKER_BIN` overrides the path.
///
/// # Panics
/// When the build fails.
#[must_use]
pub fn worker_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_binary("kyuta-worker", "KYUTA_WORKER_BIN"))
        .clone()
}

/// The `kyuta-operator` binary, built like [`worker_binary`]; `KYUTA_OPERATOR_BIN` overrides
/// the path.
///
/// # Panics
/// When the build fails.
#[must_use]
pub fn operator_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_binary("kyuta-operator", "KYUTA_OPERATOR_BIN"))
        .clone()
}

/// Builds the workspace binary `bin` (`cargo build --workspace --bin <bin>`) and returns its
/// path, or the path in the environment variable `over` when it is set.
fn workspace_binary(bin: &str, over: &str) -> PathBuf {
    if let Ok(p) = std::env::var(over)
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = std::process::Command::new(cargo);
    // Cargo gives this test its package's CARGO_PKG_*, CARGO_MANIFEST_DIR, OUT_DIR, …;
    // build scripts (ring, cc) track those, so passing them on would make this build and
    // the next `cargo test` rebuild each other's dependencies. Settings stay.
    const KEEP: [&str; 9] = [
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_",
        "CARGO_TERM_",
        "CARGO_NET_",
        "CARGO_REGISTR",
        "CARGO_PROFILE_",
        "CARGO_INCREMENTAL",
        "CARGO_HTTP_",
    ];
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if (key.starts_with("CARGO_") && !KEEP.iter().any(|k| key.starts_with(k)))
            || key == "OUT_DIR"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    let out = cmd
        .args([
            "build",
            "--workspace",
            "--bin",
            bin,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run cargo build for {bin}: {e}"));
    assert!(
        out.status.success(),
        "cargo build --bin {bin} failed ({})",
        out.status
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no {bin} executable"))
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// One HTTP/1.1 request to `addr` (127.0.0.1 only): returns the status and the body.
///
/// # Panics
/// When the server cannot be reached or the answer is not HTTP.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read the answer");
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer from {addr}{path}: {text}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line from {addr}{path}: {head}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The simulator's control API (`/_sim`).
#[derive(Debug, Clone, Copy)]
pub struct SimControl {
    addr: SocketAddr,
}

impl SimControl {
    /// The control API of the simulator listening on `addr`.
    #[must_use]
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// `GET /_sim{path}`, which must answer 200 with JSON.
    ///
    /// # Panics
    /// On any other answer.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = http(self.addr, "GET", &format!("/_sim{path}"), None).await;
        assert_eq!(status, 200, "GET /_sim{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET /_sim{path}: {e}: {body}"))
    }

    /// `POST /_sim{path}` with a JSON body, which must answer 2xx with JSON.
    ///
    /// # Panics
    /// On any other answer.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, text) = http(self.addr, "POST", &format!("/_sim{path}"), Some(&body)).await;
        assert!(
            (200..300).contains(&status),
            "POST /_sim{path} {body}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// `DELETE /_sim{path}`, which must answer 2xx.
    ///
    /// # Panics
    /// On any other answer.
    pub async fn delete(&self, path: &str) {
        let (status, text) = http(self.addr, "DELETE", &format!("/_sim{path}"), None).await;
        assert!(
            (200..300).contains(&status),
            "DELETE /_sim{path}: {status} {text}"
        );
    }

    /// `GET /_sim/stats`.
    pub async fn stats(&self) -> Value {
        self.get("/stats").await
    }

    /// A user posts `content` in `channel` (MESSAGE_CREATE); returns the message.
    pub async fn post_message(&self, channel: u64, author: u64, content: &str) -> Value {
        self.post(
            &format!("/channels/{channel}/messages"),
            json!({"author_id": author.to_string(), "content": content}),
        )
        .await
    }

    /// Every message of `channel`, oldest first.
    pub async fn messages(&self, channel: u64) -> Vec<Value> {
        match self.get(&format!("/channels/{channel}/messages")).await {
            Value::Array(a) => a,
            other => panic!("messages of {channel}: {other}"),
        }
    }

    /// Waits for the bot's reply to message `message_id` in `channel` (a message by the bot
    /// that references it).
    ///
    /// # Panics
    /// When none comes within `timeout`.
    pub async fn wait_reply(&self, channel: u64, message_id: &str, timeout: Duration) -> Value {
        let end = Instant::now() + timeout;
        loop {
            let found = self.messages(channel).await.into_iter().find(|m| {
                m["author"]["bot"] == json!(true)
                    && m["message_reference"]["message_id"].as_str() == Some(message_id)
            });
            if let Some(m) = found {
                return m;
            }
            assert!(
                Instant::now() < end,
                "no reply to message {message_id} in channel {channel} within {timeout:?}; \
                 channel holds: {:#?}",
                self.messages(channel).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A user runs the slash command `name` (INTERACTION_CREATE); returns the interaction id.
    pub async fn slash(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        name: &str,
        options: Value,
    ) -> String {
        self.slash_in(guild, channel, user, name, options, "en-US")
            .await
    }

    /// [`SimControl::slash`] from a client set to `locale` (e.g. `de`).
    pub async fn slash_in(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        name: &str,
        options: Value,
        locale: &str,
    ) -> String {
        let created = self
            .post(
                "/interactions",
                json!({
                    "guild_id": guild.to_string(),
                    "channel_id": channel.to_string(),
                    "user_id": user.to_string(),
                    "name": name,
                    "options": options,
                    "locale": locale,
                }),
            )
            .await;
        created["id"]
            .as_str()
            .unwrap_or_else(|| panic!("interaction created: {created}"))
            .to_owned()
    }

    /// Waits until the bot answered interaction `id`; returns
    /// `{acknowledged, response, original, followups}`.
    ///
    /// # Panics
    /// When no answer comes within `timeout`.
    pub async fn wait_answer(&self, id: &str, timeout: Duration) -> Value {
        let end = Instant::now() + timeout;
        loop {
            let it = self.get(&format!("/interactions/{id}")).await;
            if it["acknowledged"] == json!(true) && !it["response"].is_null() {
                return it;
            }
            assert!(
                Instant::now() < end,
                "interaction {id} not answered within {timeout:?}: {it}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Injects a fault (`POST /_sim/faults`).
    pub async fn fault(&self, fault: Value) -> Value {
        self.post("/faults", fault).await
    }
}

/// Every text a message or interaction answer shows (content, embed titles, descriptions,
/// fields, footers), for assertions.
#[must_use]
pub fn shown_text(v: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => {
                for (k, x) in o {
                    if matches!(
                        k.as_str(),
                        "content"
                            | "embeds"
                            | "title"
                            | "description"
                            | "fields"
                            | "name"
                            | "value"
                            | "footer"
                            | "text"
                            | "author"
                            | "data"
                    ) {
                        walk(x, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(v, &mut out);
    out
}

/// Samples of one metric in Prometheus/OpenMetrics text: each sample's labels and value.
#[must_use]
pub fn metric_samples(text: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, value) = if let Some(inner) = rest.strip_prefix('{') {
            let Some((labels, value)) = inner.split_once('}') else {
                continue;
            };
            (labels, value)
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            continue;
        };
        let mut map = BTreeMap::new();
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = pair.split_once('=') {
                map.insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
            }
        }
        if let Some(v) = value.split_whitespace().next().and_then(|v| v.parse().ok()) {
            out.push((map, v));
        }
    }
    out
}

/// The environment a worker needs to run against a simulator: token, REST and gateway URLs,
/// its own metrics/health ports on 127.0.0.1, its files in `dir`, short shutdown grace.
#[must_use]
pub fn sim_worker_env(sim: &kyuta_sim::Sim, token: &str, dir: &Path) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("DISCORD_TOKEN", token.to_owned());
    set("KYUTA_DISCORD_API_URL", sim.api_url());
    set("KYUTA_DISCORD_GATEWAY_URL", sim.gateway_url());
    set("KYUTA_BIND_ADDRESS", "127.0.0.1".to_owned());
    set("KYUTA_METRICS_PORT", free_port().to_string());
    set("KYUTA_HEALTH_PORT", free_port().to_string());
    set(
        "KYUTA_STORE_PATH",
        dir.join("kyuta.redb").display().to_string(),
    );
    set(
        "KYUTA_SESSION_FILE",
        dir.join("sessions.json").display().to_string(),
    );
    set("KYUTA_SHUTDOWN_GRACE_SECS", "3".to_owned());
    set("KYUTA_LOG_LEVEL", "info".to_owned());
    env
}

/// A `kyuta-worker` process. Killed when dropped; its stdout and stderr go to files in its
/// directory.
#[derive(Debug)]
pub struct WorkerProcess {
    /// Name used in messages.
    pub name: String,
    child: tokio::process::Child,
    /// `/health` and `/ready`.
    pub health_addr: SocketAddr,
    /// `/metrics`.
    pub metrics_addr: SocketAddr,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl WorkerProcess {
    /// Starts the binary in `dir` (its working directory) with exactly `env` (plus `PATH`).
    /// `env` must hold `KYUTA_METRICS_PORT` and `KYUTA_HEALTH_PORT` (see [`sim_worker_env`]). Logs
    /// are appended to `dir/NAME.stdout` and `dir/NAME.stderr`.
    ///
    /// # Panics
    /// When the process cannot be started.
    #[must_use]
    pub fn spawn(name: &str, dir: &Path, env: &BTreeMap<String, String>) -> Self {
        let port = |k: &str| -> u16 {
            env.get(k)
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{k} must be set to a port"))
        };
        let health_addr = SocketAddr::from(([127, 0, 0, 1], port("KYUTA_HEALTH_PORT")));
        let metrics_addr = SocketAddr::from(([127, 0, 0, 1], port("KYUTA_METRICS_PORT")));
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let open = |p: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
        };
        let mut cmd = tokio::process::Command::new(worker_binary());
        cmd.env_clear()
            .envs(env)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(open(&stdout))
            .stderr(open(&stderr))
            .kill_on_drop(true);
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start kyuta-worker ({name}): {e}"));
        Self {
            name: name.to_owned(),
            child,
            health_addr,
            metrics_addr,
            stdout,
            stderr,
        }
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the worker is running")
    }

    /// Everything the process wrote so far (stdout, then stderr).
    #[must_use]
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    fn tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits until `/ready` answers 200.
    ///
    /// # Panics
    /// When the process exits first or `timeout` passes (with the last `/ready` answer and
    /// the end of the logs).
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        let mut last = String::from("(no answer yet)");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "worker {} exited ({status}) before it was ready; logs:\n{}",
                    self.name,
                    self.tail()
                );
            }
            if tokio::net::TcpStream::connect(self.health_addr)
                .await
                .is_ok()
            {
                let (status, body) = http(self.health_addr, "GET", "/ready", None).await;
                if status == 200 {
                    return;
                }
                last = format!("{status} {body}");
            }
            assert!(
                Instant::now() < end,
                "worker {} not ready within {timeout:?}; /ready: {last}; logs:\n{}",
                self.name,
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let (status, body) = http(self.metrics_addr, "GET", "/metrics", None).await;
        assert_eq!(status, 200, "/metrics of {}: {body}", self.name);
        body
    }

    /// Sends SIGTERM.
    ///
    /// # Panics
    /// When the signal cannot be sent.
    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for the process to exit.
    ///
    /// # Panics
    /// When it is still running after `timeout` (it is killed then).
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.expect("wait for the worker"),
            Err(_) => {
                let _ = self.child.start_kill();
                panic!(
                    "worker {} still running {timeout:?} after it was asked to stop; logs:\n{}",
                    self.name,
                    self.tail()
                );
            }
        }
    }
}

/// Deletes every Redis key of `cluster` (`kyuta:{cluster}:*`).
pub async fn redis_forget_cluster(cluster: &str) {
    let mut con = crate::redis_connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!(
            "{}*",
            kyuta_crds::contract::redis_keys::cluster_prefix(cluster)
        ))
        .query_async(&mut con)
        .await
        .expect("list the cluster's keys");
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut con)
            .await
            .expect("delete the cluster's keys");
    }
}

/// Shard of `guild` among `total` shards (Discord's rule).
#[must_use]
pub fn shard_of(guild: u64, total: u32) -> u32 {
    ((guild >> 22) % u64::from(total)) as u32
}

/// People and channels of one simulated guild, picked by role.
#[derive(Debug, Clone)]
pub struct GuildCast {
    /// Guild id.
    pub guild: u64,
    /// Owner (Admin role).
    pub owner: u64,
    /// Members without any role above `Member`, in id order (at least two).
    pub members: Vec<u64>,
    /// The member with the Moderator role.
    pub moderator: Option<u64>,
    /// `#general`.
    pub general: u64,
}

impl GuildCast {
    /// The cast of the simulator's guild `id`.
    ///
    /// # Panics
    /// When the simulator does not know the guild or it lacks `#general`.
    #[must_use]
    pub fn of(sim: &kyuta_sim::Sim, id: u64) -> Self {
        let g = sim
            .guild(id)
            .unwrap_or_else(|| panic!("unknown guild {id}"));
        let role = |name: &str| g.roles.iter().find(|r| r.name == name).map(|r| r.id);
        let (admin, moderator) = (role("Admin"), role("Moderator"));
        let members: Vec<u64> = g
            .members
            .values()
            .filter(|m| {
                !m.user.bot
                    && m.user.id != g.owner_id
                    && !m
                        .roles
                        .iter()
                        .any(|r| Some(*r) == admin || Some(*r) == moderator)
            })
            .map(|m| m.user.id)
            .collect();
        let moderator = g
            .members
            .values()
            .find(|m| m.roles.iter().any(|r| Some(*r) == moderator))
            .map(|m| m.user.id);
        Self {
            guild: id,
            owner: g.owner_id,
            members,
            moderator,
            general: g
                .channels
                .iter()
                .find(|c| c.name == "general")
                .map(|c| c.id)
                .expect("#general"),
        }
    }
}

/// What a finished `kyuta-worker` run printed.
#[derive(Debug)]
pub struct WorkerRun {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the binary in `dir` with exactly `env` (plus `PATH`) and `args` until it exits.
///
/// # Panics
/// When it cannot start or runs longer than `timeout` (it is killed then).
pub async fn run_worker_to_exit(
    dir: &Path,
    env: &BTreeMap<String, String>,
    args: &[&str],
    timeout: Duration,
) -> WorkerRun {
    let mut cmd = tokio::process::Command::new(worker_binary());
    cmd.env_clear()
        .envs(env)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    let child = cmd.spawn().expect("start kyuta-worker");
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            let keys: Vec<&String> = env.keys().collect();
            panic!("kyuta-worker {args:?} with {keys:?} set still running after {timeout:?}")
        })
        .expect("wait for kyuta-worker");
    WorkerRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
