//! What the release images are made of: one Dockerfile for every binary, pinned bases, OCI
//! labels, a non-root user, and a production worker without the simulator.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dockerfile() -> String {
    let path = root().join("deploy/docker/Dockerfile");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `cargo tree` of the worker's normal dependencies with the given extra arguments.
fn worker_tree(extra: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            "kyuta-worker",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(extra)
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_production_worker_does_not_link_the_simulator() {
    let with = worker_tree(&[]);
    assert!(
        with.lines().any(|l| l.starts_with("kyuta-sim ")),
        "the default build (for `--local`) has the simulator:\n{with}"
    );
    let without = worker_tree(&["--no-default-features"]);
    assert!(
        !without.lines().any(|l| l.starts_with("kyuta-sim ")),
        "the production build must not depend on kyuta-sim:\n{without}"
    );
    let file = dockerfile();
    assert!(
        file.contains("cargo build --release --locked -p kyuta-worker --no-default-features"),
        "the image builds the worker without the `local` feature"
    );
}

#[test]
fn one_dockerfile_builds_every_image_from_cached_dependency_layers() {
    let file = dockerfile();
    for target in ["worker", "operator", "sim"] {
        assert!(
            file.lines()
                .any(|l| l.starts_with("FROM ") && l.ends_with(&format!(" AS {target}"))),
            "stage {target} is missing"
        );
    }
    let cook = file
        .find("cargo chef cook")
        .expect("dependencies cooked by cargo-chef");
    let copy_all = file.rfind("COPY . .").expect("the sources are copied");
    let build = file.find("cargo build --release").expect("a release build");
    assert!(
        cook < copy_all && copy_all < build,
        "dependencies are cooked before the sources are copied in"
    );
    let others: Vec<_> = std::fs::read_dir(root().join("deploy/docker"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "Dockerfile")
        .collect();
    assert!(others.is_empty(), "one Dockerfile, not also {others:?}");
}

#[test]
fn base_images_are_pinned_and_the_images_run_as_non_root_with_oci_labels() {
    let file = dockerfile();
    let image_args: Vec<&str> = file
        .lines()
        .filter_map(|l| l.strip_prefix("ARG "))
        .filter(|a| a.contains("_IMAGE="))
        .collect();
    assert_eq!(image_args.len(), 2, "{image_args:?}");
    for arg in &image_args {
        let image = arg.split_once('=').unwrap().1;
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest" && !image.ends_with(":1-bookworm"),
            "{image}: pin the base image to a version"
        );
    }
    assert!(
        file.contains("rust:1.95.0-"),
        "the builder names a full Rust version"
    );
    for line in file.lines().filter(|l| l.starts_with("FROM ")) {
        let from = line.split_whitespace().nth(1).unwrap();
        assert!(
            from.starts_with("${") || ["chef", "runtime"].contains(&from),
            "{line}: bases come from the pinned ARGs"
        );
    }
    assert!(file.contains("USER 65532:65532"), "non-root");
    assert!(file.contains("distroless"), "a distroless runtime");
    for label in [
        "org.opencontainers.image.source",
        "org.opencontainers.image.version",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.licenses",
        "org.opencontainers.image.title",
    ] {
        assert!(file.contains(label), "OCI label {label}");
    }
}
