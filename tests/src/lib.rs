//! Helpers for Kyuta's integration suite: finding the test environment's components.
//!
//! Every component is looked up first in the process environment, then in
//! `target/testenv/env` (written by `tests/env/up`). A component that is missing makes the
//! test fail with a message that says how to start it; nothing is skipped.

use std::path::PathBuf;

pub mod worker;

/// The workspace root (the directory holding the top-level `Cargo.toml`).
#[must_use]
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Reads `name` from the environment or from `target/testenv/env`; panics with a message that
/// names the component and the command that starts it.
#[must_use]
pub fn require_env(name: &str, component: &str) -> String {
    if let Ok(v) = std::env::var(name)
        && !v.is_empty()
    {
        return v;
    }
    let file = workspace_root().join("target/testenv/env");
    if let Ok(text) = std::fs::read_to_string(&file) {
        for line in text.lines() {
            let line = line.trim().trim_start_matches("export ").trim();
            if let Some((k, v)) = line.split_once('=')
                && k == name
            {
                return v.trim_matches(|c| c == '"' || c == '\'').to_owned();
            }
        }
    }
    let where_ = if file.exists() {
        format!("{} has no {name}", file.display())
    } else {
        format!("{} does not exist", file.display())
    };
    panic!(
        "{component} is not available to the tests: {name} is not set and {where_}. \
         Start the test environment with `tests/env/up` (or run everything with `tests/run`)."
    );
}

/// The Redis URL of the test environment.
#[must_use]
pub fn redis_url() -> String {
    require_env("REDIS_URL", "Redis")
}

/// The MongoDB URI of the test environment (FerretDB).
#[must_use]
pub fn mongo_uri() -> String {
    require_env("MONGO_URI", "MongoDB (FerretDB)")
}

/// The kubeconfig path of the test environment's Kubernetes control plane.
#[must_use]
pub fn kubeconfig() -> PathBuf {
    PathBuf::from(require_env("KUBECONFIG", "Kubernetes (kube-apiserver)"))
}

/// The `kubectl` binary built for the test environment (`KUBECTL` in `target/testenv/env`).
#[must_use]
pub fn kubectl() -> PathBuf {
    PathBuf::from(require_env("KUBECTL", "kubectl"))
}

/// The `helm` binary built for the test environment (`HELM` in `target/testenv/env`).
#[must_use]
pub fn helm() -> PathBuf {
    PathBuf::from(require_env("HELM", "helm"))
}

/// The path of the workspace binary `name` (e.g. `kyuta-worker`), checked to be newer than
/// every source file of the crates it is built from (`sources`, relative to the workspace
/// root) and `Cargo.lock`. `tests/run` builds the binaries first; by hand:
/// `cargo build --workspace --bins`. (Building from inside a test would run cargo with the
/// test's environment and make the next `cargo test` rebuild dependencies.)
///
/// # Panics
/// When the binary is missing or older than a source file, naming the command that builds it.
#[must_use]
pub fn workspace_binary(name: &str, sources: &[&str]) -> PathBuf {
    fn newest(dir: &std::path::Path, newest: &mut Option<(std::time::SystemTime, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                newest_in(&path, newest);
            } else if path
                .extension()
                .is_some_and(|x| x == "rs" || x == "toml" || x == "lock")
                && let Ok(m) = e.metadata().and_then(|m| m.modified())
                && newest.as_ref().is_none_or(|(t, _)| m > *t)
            {
                *newest = Some((m, path));
            }
        }
    }
    fn newest_in(dir: &std::path::Path, acc: &mut Option<(std::time::SystemTime, PathBuf)>) {
        if dir.file_name().is_some_and(|n| n == "target") {
            return;
        }
        if dir.is_file() {
            if let Ok(m) = std::fs::metadata(dir).and_then(|m| m.modified())
                && acc.as_ref().is_none_or(|(t, _)| m > *t)
            {
                *acc = Some((m, dir.to_path_buf()));
            }
            return;
        }
        newest(dir, acc);
    }
    let root = workspace_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let path = target.join("debug").join(name);
    let built = std::fs::metadata(&path).and_then(|m| m.modified());
    let Ok(built) = built else {
        panic!(
            "{} does not exist: build the binaries first with `cargo build --workspace --bins` \
             (tests/run does)",
            path.display()
        );
    };
    let mut latest = None;
    for dir in sources {
        newest_in(&root.join(dir), &mut latest);
    }
    if let Ok(m) = std::fs::metadata(root.join("Cargo.lock")).and_then(|m| m.modified())
        && latest.as_ref().is_none_or(|(t, _)| m > *t)
    {
        latest = Some((m, root.join("Cargo.lock")));
    }
    if let Some((t, file)) = latest
        && t > built
    {
        panic!(
            "{} is older than {}: rebuild the binaries with `cargo build --workspace --bins` \
             (tests/run does)",
            path.display(),
            file.display()
        );
    }
    path
}

/// A name unique to this process and call, for namespaces, databases and keys that tests
/// create (lowercase letters, digits and `-`, so it is a valid Kubernetes name).
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{:x}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn unreachable_panic(component: &str, target: &str, err: &dyn std::fmt::Display) -> ! {
    panic!(
        "{component} at {target} is not reachable: {err}. Start the test environment with \
         `tests/env/up` (or run everything with `tests/run`); logs are in target/testenv/logs/."
    )
}

/// A multiplexed connection to the test environment's Redis, checked with `PING`.
///
/// # Panics
/// When Redis is not configured or not reachable, naming the command that starts it.
pub async fn redis_connection() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    let client = redis::Client::open(url.as_str())
        .unwrap_or_else(|e| panic!("REDIS_URL {url:?} is not a valid Redis URL: {e}"));
    let connect = async {
        let mut con = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut con)
            .await
            .map(|_| con)
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Ok(Ok(con)) => con,
        Ok(Err(e)) => unreachable_panic("Redis", &url, &e),
        Err(_) => unreachable_panic("Redis", &url, &"no answer within 10 s"),
    }
}

/// A client for the test environment's MongoDB wire server (FerretDB), checked with `ping`.
///
/// # Panics
/// When MongoDB is not configured or not reachable, naming the command that starts it.
pub async fn mongo_client() -> mongodb::Client {
    let uri = mongo_uri();
    let mut options = mongodb::options::ClientOptions::parse(uri.as_str())
        .await
        .unwrap_or_else(|e| panic!("MONGO_URI {uri:?} is not a valid MongoDB URI: {e}"));
    options.server_selection_timeout = Some(std::time::Duration::from_secs(10));
    let client = mongodb::Client::with_options(options)
        .unwrap_or_else(|e| panic!("MONGO_URI {uri:?} was rejected by the driver: {e}"));
    if let Err(e) = client
        .database("admin")
        .run_command(mongodb::bson::doc! { "ping": 1 })
        .await
    {
        unreachable_panic("MongoDB (FerretDB)", &uri, &e);
    }
    client
}

/// A Kubernetes client for the test environment's kube-apiserver (admin user), checked by
/// reading the server version.
///
/// # Panics
/// When the control plane is not configured or not reachable, naming the command that
/// starts it.
pub async fn kube_client() -> kube::Client {
    let path = kubeconfig();
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap_or_else(|e| {
        unreachable_panic(
            "Kubernetes (kube-apiserver)",
            &path.display().to_string(),
            &e,
        )
    });
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("kubeconfig {} is not usable: {e}", path.display()));
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .unwrap_or_else(|e| panic!("cannot build a Kubernetes client for {server}: {e}"));
    if let Err(e) = client.apiserver_version().await {
        unreachable_panic("Kubernetes (kube-apiserver)", &server, &e);
    }
    client
}
