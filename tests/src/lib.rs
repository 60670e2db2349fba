//! Helpers for Kyuta's integration suite: finding the test environment's components.
//!
//! Every component is looked up first in the process environment, then in
//! `target/testenv/env` (written by `tests/env/up`). A component that is missing makes the
//! test fail with a message that says how to start it; nothing is skipped.

use std::path::PathBuf;

pub mod kubelet;
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

/// A seed node of the test environment's three-master Redis Cluster (`REDIS_CLUSTER_URL`).
#[must_use]
pub fn redis_cluster_url() -> String {
    require_env("REDIS_CLUSTER_URL", "the Redis Cluster")
}

/// A [`kyuta_redis::Conn`] to `url` (one server or a cluster, as the workers open it).
///
/// # Panics
/// When `url` does not answer, naming the command that starts the test environment.
pub async fn redis_conn(url: &str) -> kyuta_redis::Conn {
    kyuta_redis::connect(url, &kyuta_redis::Options::default())
        .await
        .unwrap_or_else(|e| unreachable_panic("Redis", url, &e))
}

/// Deletes every key of `cluster` through `conn` (one server or a cluster), with SCAN on
/// the node that holds the cluster's hash tag.
pub async fn redis_forget_keys(conn: &mut kyuta_redis::Conn, cluster: &str) {
    let prefix = kyuta_crds::contract::redis_keys::cluster_prefix(cluster);
    let pattern = format!("{prefix}*");
    let mut cursor = 0;
    loop {
        let (next, keys) = conn
            .scan_step(&prefix, &pattern, cursor, 500)
            .await
            .expect("scan the cluster's keys");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(conn)
                .await
                .expect("delete the cluster's keys");
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
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

/// Polls `check` every 200 ms until it yields a value.
///
/// # Panics
/// When `limit` passes first, naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < limit, "{what}: not seen within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Applies `crd` (server-side, as `field_manager`, taking over conflicting fields) and waits
/// up to 30 s for its `Established` condition.
///
/// # Panics
/// When the API server refuses it or it is not Established in time.
pub async fn apply_crd(
    client: &kube::Client,
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    field_manager: &str,
) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, Patch, PatchParams};
    let name = crd
        .metadata
        .name
        .clone()
        .expect("a CustomResourceDefinition has a name");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        &name,
        &PatchParams::apply(field_manager).force(),
        &Patch::Apply(crd),
    )
    .await
    .unwrap_or_else(|e| panic!("apply CRD {name}: {e}"));
    eventually(
        &format!("CRD {name} Established"),
        std::time::Duration::from_secs(30),
        || {
            let crds = crds.clone();
            let name = name.clone();
            async move {
                let crd = crds.get(&name).await.ok()?;
                crd.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        },
    )
    .await;
}

/// Installs the `KyutaCluster` CRD as the tests' field manager (`kyuta-tests`) and waits until
/// it is Established.
pub async fn install_kyuta_crd(client: &kube::Client) {
    use kube::CustomResourceExt as _;
    apply_crd(client, &kyuta_crds::KyutaCluster::crd(), "kyuta-tests").await;
}
