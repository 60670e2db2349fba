//! The servers a scenario owns: its own Redis (no persistence), started on a free port of
//! 127.0.0.1, so stopping, killing or restarting it touches nothing but the scenario.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kyuta_tests::worker::free_port;
use tokio::process::{Child, Command};

/// Sends `signal` (`STOP`, `CONT`, `KILL`, `TERM`) to `pid`.
///
/// # Panics
/// When `kill` cannot run.
pub fn signal(pid: u32, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{signal} {pid} failed");
}

fn binary(name: &str, hint: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("{name} is not installed: {hint}"))
}

/// A `redis-server` of the scenario's own, without persistence: a restart starts empty.
pub struct RedisServer {
    /// Port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts it and waits until it answers.
    pub async fn start(dir: &Path) -> Self {
        let mut r = Self {
            port: free_port(),
            dir: dir.to_path_buf(),
            child: None,
        };
        r.spawn().await;
        r
    }

    /// `redis://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let bin = binary(
            "redis-server",
            "install Debian's redis-server (tests/run installs it)",
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("redis.log"))
            .expect("open redis.log");
        let child = Command::new(bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &self.dir.display().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut c) = self.connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < end,
                "redis-server on {} did not start",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A fresh connection (for the checker and for `DEBUG SLEEP`, `CLIENT KILL`).
    pub async fn connection(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url())?;
        tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await
        .unwrap_or_else(|_| Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))))
    }

    fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("redis-server is running")
    }

    /// SIGSTOP: Redis stops answering; connections stay open.
    pub fn stall(&self) {
        signal(self.pid(), "STOP");
    }

    /// SIGCONT after [`RedisServer::stall`].
    pub fn resume(&self) {
        signal(self.pid(), "CONT");
    }

    /// SIGKILL, then a new server on the same port with no data.
    pub async fn restart_empty(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
        self.spawn().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A stopped process does not die of SIGKILL until continued on some kernels' views
        // of it; continue first so nothing is left behind.
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
    }
}

/// A FerretDB (MongoDB wire protocol, SQLite underneath) of the scenario's own. Its data
/// lives in the scenario's directory, so [`FerretServer::kill`] then [`FerretServer::start_again`]
/// is an outage that loses nothing, as a MongoDB primary that goes down and comes back.
pub struct FerretServer {
    /// Port on 127.0.0.1.
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// The FerretDB binary `tests/env/build-bins` builds (`KYUTA_FERRETDB_BIN` overrides it).
fn ferretdb_binary() -> PathBuf {
    let path = std::env::var_os("KYUTA_FERRETDB_BIN").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/kyuta-testenv/bin/ferretdb-1.24.2/ferretdb")
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "FerretDB is not built at {}: run tests/env/build-bins (tests/run does), \
         or point KYUTA_FERRETDB_BIN at a ferretdb binary",
        path.display()
    );
    path
}

impl FerretServer {
    /// Starts it on a free port and waits until it answers.
    pub async fn start(dir: &Path) -> Self {
        let data = dir.join("ferretdb");
        std::fs::create_dir_all(&data).expect("create the FerretDB directory");
        let mut f = Self {
            port: free_port(),
            data,
            log: dir.join("ferretdb.log"),
            child: None,
        };
        f.start_again().await;
        f
    }

    /// `mongodb://127.0.0.1:<port>`.
    #[must_use]
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port, with the data it had, and waits until it
    /// answers.
    pub async fn start_again(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open ferretdb.log");
        let child = Command::new(ferretdb_binary())
            .args([
                "--handler=sqlite".to_owned(),
                format!("--sqlite-url=file:{}/", self.data.display()),
                format!("--listen-addr=127.0.0.1:{}", self.port),
                "--telemetry=disable".to_owned(),
                "--log-level=warn".to_owned(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start ferretdb");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < end,
                "ferretdb on {} did not start (see {})",
                self.port,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: the server is gone (connections reset, new ones refused) until
    /// [`FerretServer::start_again`].
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }
}
