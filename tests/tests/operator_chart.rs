//! The Helm chart: `helm lint`, and `helm template` validated by the test kube-apiserver with a
//! server-side dry run (CRD installed first, as `helm install` does).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use kyuta_tests::{helm, kube_client, kubeconfig, kubectl, unique_name, workspace_root};
use serde_json::json;

fn check(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn run(bin: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("KUBECONFIG", kubeconfig())
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// The Kubernetes version `helm template` renders for (it has no cluster to ask): the test
/// environment's kube-apiserver. The chart declares `kubeVersion`.
const KUBE_VERSION: &str = "1.35.4";

#[test]
fn helm_lint_passes() {
    let out = run(&helm(), &["lint", "--strict", "charts/kyuta"], None);
    check("helm lint", &out);
}

#[test]
fn values_schema_refuses_bad_values() {
    let out = run(
        &helm(),
        &[
            "template",
            "kyuta",
            "charts/kyuta",
            "--kube-version",
            KUBE_VERSION,
            "--set",
            "replicas=0",
        ],
        None,
    );
    assert!(!out.status.success(), "replicas=0 must be refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("replicas"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_chart_is_accepted_by_the_api_server() {
    let client = kube_client().await;
    let ns = unique_name("kyuta-chart");
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();

    let kubectl = kubectl();
    check(
        "kubectl apply the CRD",
        &run(
            &kubectl,
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=kyuta-tests",
                "-f",
                "charts/kyuta/crds/",
            ],
            None,
        ),
    );
    check(
        "CRD Established",
        &run(
            &kubectl,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "-f",
                "charts/kyuta/crds/",
            ],
            None,
        ),
    );
    for extra in [
        vec![],
        vec!["--set", &format!("watchNamespace={ns}")],
        vec![
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicas=2",
        ],
        // A parent chart's globals are allowed; the security contexts come from values.
        vec![
            "--set",
            "global.imageRegistry=registry.example",
            "--set",
            "podSecurityContext.runAsUser=1000",
            "--set",
            "securityContext.readOnlyRootFilesystem=true",
        ],
    ] {
        let mut args = vec![
            "template",
            "kyuta",
            "charts/kyuta",
            "--kube-version",
            KUBE_VERSION,
            "--namespace",
            &ns,
        ];
        args.extend(extra.iter().copied());
        let rendered = check("helm template", &run(&helm(), &args, None));
        assert!(rendered.contains("kind: Deployment"), "{rendered}");
        let out = run(
            &kubectl,
            &["apply", "--dry-run=server", "-n", &ns, "-f", "-"],
            Some(&rendered),
        );
        let applied = check("kubectl apply --dry-run=server", &out);
        assert!(
            applied.contains("deployment.apps/kyuta-operator created (server dry run)"),
            "{applied}"
        );
    }
    // The example KyutaClusters are valid too.
    for example in [
        "charts/kyuta/examples/kyutacluster.yaml",
        "deploy/examples/kyutacluster.yaml",
    ] {
        {
            check(
                example,
                &run(
                    &kubectl,
                    &["apply", "--dry-run=server", "-n", &ns, "-f", example],
                    None,
                ),
            );
        }
    }
    Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
}
