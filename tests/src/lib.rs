//! Helpers for Kyuta's integration suite: finding the test environment's components.
//!
//! Every component is looked up first in the process environment, then in
//! `target/testenv/env` (written by `tests/env/up`). A component that is missing makes the
//! test fail with a message that says how to start it; nothing is skipped.

use std::path::PathBuf;

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
    if let Ok(v) = std::env::var(name) {
        if !v.is_empty() {
            return v;
        }
    }
    let file = workspace_root().join("target/testenv/env");
    if let Ok(text) = std::fs::read_to_string(&file) {
        for line in text.lines() {
            let line = line.trim().trim_start_matches("export ").trim();
            if let Some((k, v)) = line.split_once('=') {
                if k == name {
                    return v.trim_matches(|c| c == '"' || c == '\'').to_owned();
                }
            }
        }
    }
    panic!(
        "{component} is not available to the tests: {name} is not set and {} has no {name}. \
         Start the test environment with `tests/env/up` (or run everything with `tests/run`).",
        file.display()
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
