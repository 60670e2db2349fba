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
