//! The Helm chart: `helm lint`, and `helm template` validated by the test kube-apiserver with a
//! server-side dry run (CRD installed first, as `helm install` does). The optional monitoring
//! templates (ServiceMonitor, PodMonitor, PrometheusRule, dashboard ConfigMap) are dry-run
//! against stand-in Prometheus Operator CRDs (tests/fixtures/), and checked against what they
//! package: the rules and dashboard files under deploy/, and the worker pods the operator renders.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use kyuta_crds::KyutaCluster;
use kyuta_crds::contract::labels;
use kyuta_operator::decide::GenerationPlan;
use kyuta_operator::render;
use kyuta_tests::{helm, kube_client, kubeconfig, kubectl, unique_name, workspace_root};
use kyuta_worker::telemetry::Metrics;
use kyuta_worker::telemetry::metrics::{RateLimitLabels, ShardLabels};
use serde::Deserialize;
use serde_json::json;
use serde_yaml_ng::Value;

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

/// Every optional template of the chart switched on.
const EVERY_OPTIONAL_TEMPLATE: [&str; 8] = [
    "--set",
    "metrics.serviceMonitor.enabled=true",
    "--set",
    "metrics.podMonitor.enabled=true",
    "--set",
    "metrics.prometheusRule.enabled=true",
    "--set",
    "dashboards.enabled=true",
];

/// The alert rules for a plain Prometheus, and the chart's copy it installs as a PrometheusRule.
const RULES: &str = "deploy/prometheus/kyuta-rules.yaml";
const CHART_RULES: &str = "charts/kyuta/files/kyuta-rules.yaml";
/// The Grafana dashboard, and the chart's copy it installs as a ConfigMap.
const DASHBOARD: &str = "deploy/grafana/kyuta-dashboard.json";
const CHART_DASHBOARD: &str = "charts/kyuta/files/kyuta-dashboard.json";
/// Stand-ins for the Prometheus Operator's CRDs (the test kube-apiserver has none).
const MONITORING_CRDS: &str = "tests/fixtures/prometheus-operator-crds.yaml";

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path))
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// `helm template` of the chart into `namespace`, with `extra` arguments.
fn helm_template(namespace: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "template",
        "kyuta",
        "charts/kyuta",
        "--kube-version",
        KUBE_VERSION,
        "--namespace",
        namespace,
    ];
    args.extend_from_slice(extra);
    check("helm template", &run(&helm(), &args, None))
}

/// The objects of a multi-document YAML stream (empty documents left out).
fn documents(rendered: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(rendered)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{e}:\n{rendered}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// The one object of `kind` among `docs`.
fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "expected one {kind}, got {found:?}");
    found[0]
}

fn kinds(docs: &[Value]) -> Vec<&str> {
    docs.iter().filter_map(|d| d["kind"].as_str()).collect()
}

/// The alert named `name` in a rules file.
fn alert<'a>(rules: &'a Value, name: &str) -> &'a Value {
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules"))
        .find(|r| r["alert"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no alert {name}"))
}

/// The name Prometheus's Kubernetes discovery gives a pod label:
/// `__meta_kubernetes_pod_label_<name with every other character as _>`.
fn pod_label_meta(label: &str) -> String {
    let name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("__meta_kubernetes_pod_label_{name}")
}

#[test]
fn helm_lint_passes_with_every_optional_template() {
    let mut args = vec!["lint", "--strict", "charts/kyuta"];
    args.extend_from_slice(&EVERY_OPTIONAL_TEMPLATE);
    check("helm lint", &run(&helm(), &args, None));
    // The optional values, not their defaults, too.
    args.extend_from_slice(&[
        "--set",
        "watchNamespace=bots",
        "--set",
        "metrics.podMonitor.scrapeTimeout=10s",
        "--set",
        "metrics.podMonitor.labels.release=prometheus",
        "--set",
        "metrics.prometheusRule.labels.release=prometheus",
        "--set",
        "dashboards.label=kyuta.dev/dashboard",
        "--set",
        "dashboards.labelValue=kyuta",
        "--set",
        "dashboards.annotations.grafana_folder=Kyuta",
    ]);
    check("helm lint", &run(&helm(), &args, None));
}

#[test]
fn values_schema_refuses_unknown_monitoring_values() {
    for bad in [
        "metrics.podMonitor.enable=true",
        "metrics.prometheusRule.interval=30s",
        "metrics.podMonitor.interval=30 seconds",
        "metrics.podMonitor.namespaceSelector.all=true",
        "dashboards.folder=Kyuta",
        "dashboards.label=not a label",
    ] {
        let out = run(
            &helm(),
            &[
                "template",
                "kyuta",
                "charts/kyuta",
                "--kube-version",
                KUBE_VERSION,
                "--set",
                bad,
            ],
            None,
        );
        assert!(!out.status.success(), "{bad} must be refused");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("values don't meet the specifications"),
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn optional_templates_are_off_by_default() {
    let docs = documents(&helm_template("kyuta-system", &[]));
    let kinds = kinds(&docs);
    for kind in [
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
        "ConfigMap",
    ] {
        assert!(
            !kinds.contains(&kind),
            "{kind} rendered by default: {kinds:?}"
        );
    }
}

#[test]
fn chart_copies_of_the_rules_and_the_dashboard_are_identical() {
    // Helm reads only files inside the chart, so the chart carries copies; edit both.
    assert!(
        read(RULES) == read(CHART_RULES),
        "{CHART_RULES} differs from {RULES}: cp {RULES} {CHART_RULES}"
    );
    assert!(
        read(DASHBOARD) == read(CHART_DASHBOARD),
        "{CHART_DASHBOARD} differs from {DASHBOARD}: cp {DASHBOARD} {CHART_DASHBOARD}"
    );
}

#[test]
fn prometheus_rule_carries_the_rules_file() {
    let docs = documents(&helm_template(
        "kyuta-system",
        &[
            "--set",
            "metrics.prometheusRule.enabled=true",
            "--set",
            "metrics.prometheusRule.labels.release=prometheus",
        ],
    ));
    let rule = one(&docs, "PrometheusRule");
    assert_eq!(
        rule["apiVersion"].as_str(),
        Some("monitoring.coreos.com/v1")
    );
    assert_eq!(rule["metadata"]["namespace"].as_str(), Some("kyuta-system"));
    assert_eq!(
        rule["metadata"]["labels"]["release"].as_str(),
        Some("prometheus")
    );
    let rules: Value = serde_yaml_ng::from_str(&read(RULES)).unwrap();
    assert_eq!(rule["spec"], rules, "the PrometheusRule's spec is {RULES}");
}

#[test]
fn identify_storm_alert_scales_with_the_shard_count() {
    let rules: Value = serde_yaml_ng::from_str(&read(RULES)).unwrap();
    let expr = alert(&rules, "KyutaIdentifyStorm")["expr"]
        .as_str()
        .expect("expr");
    let expr: String = expr.split_whitespace().collect::<Vec<_>>().join(" ");
    let (identifies, threshold) = expr
        .split_once(" > ")
        .unwrap_or_else(|| panic!("no comparison in {expr}"));
    assert!(
        identifies.contains("increase(kyuta_shard_identifies_total[1h])"),
        "{expr}"
    );
    // Not a fixed number of identifies (which every start of a large fleet exceeds): a multiple
    // of the shards running, counted from a series each running shard exports.
    assert!(
        threshold.trim().parse::<f64>().is_err(),
        "the threshold is a bare number: {expr}"
    );
    assert!(threshold.contains("count"), "{expr}");
    assert!(threshold.contains("kyuta_shard_state"), "{expr}");
    // Both sides are per KyutaCluster, with the labels the PodMonitor gives worker series.
    assert_eq!(expr.matches("by (namespace, cluster)").count(), 2, "{expr}");

    // Every metric the worker alerts name is one the worker exports (a family shows in the
    // exposition once it has a series: one shard, one 429).
    let metrics = Metrics::new();
    metrics
        .shard_state
        .get_or_create(&ShardLabels { shard: 0 })
        .set(3);
    metrics
        .identifies
        .get_or_create(&ShardLabels { shard: 0 })
        .inc();
    metrics
        .rest_ratelimited
        .get_or_create(&RateLimitLabels {
            route: "create_message".into(),
            global: false,
        })
        .inc();
    let exported = metrics.render();
    let worker_group = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|g| g["name"].as_str() == Some("kyuta-worker"))
        .expect("group kyuta-worker");
    for rule in worker_group["rules"].as_sequence().unwrap() {
        let expr = rule["expr"].as_str().unwrap();
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("kyuta_"))
        {
            let family = name.strip_suffix("_total").unwrap_or(name);
            assert!(
                exported.contains(&format!("# TYPE {family} ")),
                "{} names {name}, which the worker does not export (or this test gives no \
                 series yet):\n{exported}",
                rule["alert"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn dashboard_config_map_carries_the_dashboard() {
    let dashboard = read(DASHBOARD);
    let want: serde_json::Value = serde_json::from_str(&dashboard).unwrap();

    let docs = documents(&helm_template(
        "kyuta-system",
        &["--set", "dashboards.enabled=true"],
    ));
    let cm = one(&docs, "ConfigMap");
    assert_eq!(cm["metadata"]["namespace"].as_str(), Some("kyuta-system"));
    assert_eq!(
        cm["metadata"]["labels"]["grafana_dashboard"].as_str(),
        Some("1"),
        "the label Grafana's dashboard sidecar looks for by default"
    );
    let data = cm["data"]["kyuta-dashboard.json"]
        .as_str()
        .expect("data.kyuta-dashboard.json");
    let got: serde_json::Value =
        serde_json::from_str(data).unwrap_or_else(|e| panic!("not JSON ({e}):\n{data}"));
    assert_eq!(got, want);
    assert_eq!(data, dashboard, "the file's bytes, not a re-encoding");

    // The sidecar's label, its namespace and folder annotation are the user's to choose.
    let docs = documents(&helm_template(
        "kyuta-system",
        &[
            "--set",
            "dashboards.enabled=true",
            "--set",
            "dashboards.label=kyuta.dev/dashboard",
            "--set",
            "dashboards.labelValue=kyuta",
            "--set",
            "dashboards.namespace=monitoring",
            "--set",
            "dashboards.annotations.grafana_folder=Kyuta",
        ],
    ));
    let cm = one(&docs, "ConfigMap");
    assert_eq!(cm["metadata"]["namespace"].as_str(), Some("monitoring"));
    let cm_labels = &cm["metadata"]["labels"];
    assert_eq!(cm_labels["kyuta.dev/dashboard"].as_str(), Some("kyuta"));
    assert!(cm_labels["grafana_dashboard"].is_null(), "{cm_labels:?}");
    assert_eq!(
        cm["metadata"]["annotations"]["grafana_folder"].as_str(),
        Some("Kyuta")
    );
}

#[test]
fn pod_monitor_selects_the_workers_the_operator_runs() {
    let docs = documents(&helm_template(
        "kyuta-system",
        &["--set", "metrics.podMonitor.enabled=true"],
    ));
    let pm = one(&docs, "PodMonitor");
    assert_eq!(pm["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    assert_eq!(pm["metadata"]["namespace"].as_str(), Some("kyuta-system"));
    // No namespaceSelector: the PodMonitor's own namespace.
    assert!(pm["spec"]["namespaceSelector"].is_null(), "{pm:?}");

    // A worker StatefulSet as the operator renders it, for the chart's example KyutaCluster.
    let mut kc: KyutaCluster =
        serde_yaml_ng::from_str(&read("charts/kyuta/examples/kyutacluster.yaml")).unwrap();
    kc.metadata.namespace = Some("kyuta-system".into());
    let plan = GenerationPlan {
        generation: 2,
        shard_total: 4,
        shards_per_pod: 2,
        replicas: 2,
    };
    let template = render::statefulset(&kc, &plan).spec.unwrap().template;
    let pod_labels = template.metadata.unwrap().labels.unwrap();
    let containers = template.spec.unwrap().containers;

    let selector = pm["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("matchLabels");
    assert!(!selector.is_empty());
    for (k, v) in selector {
        let (k, v) = (k.as_str().unwrap(), v.as_str().unwrap());
        assert_eq!(
            pod_labels.get(k).map(String::as_str),
            Some(v),
            "the PodMonitor selects {k}={v}; worker pods have {pod_labels:?}"
        );
    }
    assert_eq!(
        selector
            .get("app.kubernetes.io/name")
            .and_then(Value::as_str),
        Some(render::WORKER_APP)
    );

    let endpoints = pm["spec"]["podMetricsEndpoints"].as_sequence().unwrap();
    assert_eq!(endpoints.len(), 1);
    let endpoint = &endpoints[0];
    let port = endpoint["port"].as_str().expect("port name");
    let container_port = containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(port))
        .unwrap_or_else(|| panic!("no worker container port named {port}"));
    assert_eq!(container_port.container_port, render::METRICS_PORT);
    assert_eq!(endpoint["path"].as_str(), Some("/metrics"));
    assert_eq!(endpoint["interval"].as_str(), Some("30s"));

    // `cluster` and `generation` come from pod labels the workers have.
    let relabelings = endpoint["relabelings"].as_sequence().unwrap();
    for (label, target) in [
        (labels::INSTANCE, "cluster"),
        (labels::GENERATION, "generation"),
    ] {
        assert!(pod_labels.contains_key(label), "{pod_labels:?}");
        let meta = pod_label_meta(label);
        assert!(
            relabelings.iter().any(|r| {
                r["targetLabel"].as_str() == Some(target)
                    && r["sourceLabels"]
                        .as_sequence()
                        .is_some_and(|s| s.len() == 1 && s[0].as_str() == Some(meta.as_str()))
            }),
            "no relabeling {meta} -> {target}: {relabelings:?}"
        );
    }
    assert_eq!(
        pod_labels.get(labels::INSTANCE).map(String::as_str),
        kc.metadata.name.as_deref()
    );

    // The namespaces it looks in: the watched one, or the user's selector.
    let docs = documents(&helm_template(
        "kyuta-system",
        &[
            "--set",
            "metrics.podMonitor.enabled=true",
            "--set",
            "watchNamespace=bots",
        ],
    ));
    let selector = &one(&docs, "PodMonitor")["spec"]["namespaceSelector"];
    let want: Value = serde_yaml_ng::from_str("matchNames: [bots]").unwrap();
    assert_eq!(selector, &want);
    let docs = documents(&helm_template(
        "kyuta-system",
        &[
            "--set",
            "metrics.podMonitor.enabled=true",
            "--set",
            "watchNamespace=bots",
            "--set",
            "metrics.podMonitor.namespaceSelector.any=true",
        ],
    ));
    let selector = &one(&docs, "PodMonitor")["spec"]["namespaceSelector"];
    let want: Value = serde_yaml_ng::from_str("any: true").unwrap();
    assert_eq!(selector, &want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_chart_with_every_optional_template_is_accepted_by_the_api_server() {
    let client = kube_client().await;
    let kubectl = kubectl();
    // The Prometheus Operator's kinds: server-side apply is idempotent, so this is safe to
    // repeat and to run beside another test applying the same CRDs.
    check(
        "kubectl apply the monitoring.coreos.com CRDs",
        &run(
            &kubectl,
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=kyuta-tests",
                "-f",
                MONITORING_CRDS,
            ],
            None,
        ),
    );
    check(
        "monitoring.coreos.com CRDs Established",
        &run(
            &kubectl,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "-f",
                MONITORING_CRDS,
            ],
            None,
        ),
    );

    let ns = unique_name("kyuta-chart-monitoring");
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();

    let watch_namespace = format!("watchNamespace={ns}");
    let dashboards_namespace = format!("dashboards.namespace={ns}");
    for extra in [
        vec![],
        vec![
            "--set",
            &watch_namespace,
            "--set",
            "metrics.podMonitor.interval=15s",
            "--set",
            "metrics.podMonitor.scrapeTimeout=10s",
            "--set",
            "metrics.podMonitor.labels.release=prometheus",
            "--set",
            "metrics.prometheusRule.labels.release=prometheus",
            "--set",
            "metrics.serviceMonitor.labels.release=prometheus",
            "--set",
            &dashboards_namespace,
            "--set",
            "dashboards.label=kyuta.dev/dashboard",
            "--set",
            "dashboards.labelValue=kyuta",
            "--set",
            "dashboards.annotations.grafana_folder=Kyuta",
        ],
        vec!["--set", "metrics.podMonitor.namespaceSelector.any=true"],
    ] {
        let mut args = EVERY_OPTIONAL_TEMPLATE.to_vec();
        args.extend(extra.iter().copied());
        let rendered = helm_template(&ns, &args);
        let docs = documents(&rendered);
        let kinds = kinds(&docs);
        for kind in [
            "ServiceMonitor",
            "PodMonitor",
            "PrometheusRule",
            "ConfigMap",
        ] {
            assert!(kinds.contains(&kind), "{kind} not rendered: {kinds:?}");
        }
        let out = run(
            &kubectl,
            &["apply", "--dry-run=server", "-n", &ns, "-f", "-"],
            Some(&rendered),
        );
        let applied = check("kubectl apply --dry-run=server", &out);
        for object in [
            "deployment.apps/kyuta-operator",
            "servicemonitor.monitoring.coreos.com/kyuta-operator",
            "podmonitor.monitoring.coreos.com/kyuta-workers",
            "prometheusrule.monitoring.coreos.com/kyuta",
            "configmap/kyuta-dashboard",
        ] {
            assert!(
                applied.contains(&format!("{object} created (server dry run)")),
                "{object}:\n{applied}"
            );
        }
    }
    Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
}
