//! Snapshots of the objects rendered for one generation.

use kyuta_crds::KyutaCluster;
use kyuta_operator::decide::GenerationPlan;
use kyuta_operator::render;

fn cluster() -> KyutaCluster {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "kyuta.dev/v1alpha1",
        "kind": "KyutaCluster",
        "metadata": {"name": "prod", "namespace": "bots", "uid": "6a1c8a52-0000-4000-8000-000000000001"},
        "spec": {
            "tokenSecretRef": {"name": "kyuta-token", "key": "token"},
            "worker": {
                "image": "ghcr.io/kyuta-bot/kyuta-worker:0.1.0",
                "imagePullPolicy": "IfNotPresent",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "logLevel": "info"
            },
            "shards": {"count": 6},
            "shardsPerPod": 2,
            "redis": {"url": "redis://redis:6379"},
            "mongodb": {"secretRef": {"name": "kyuta-mongo", "key": "uri"}},
            "bot": {"prefix": "k!", "devGuildId": "123456789012345678", "features": ["automod", "analytics"], "presence": "watching:{guilds} servers|custom:shard {shard}", "status": "dnd"},
            "discord": {"apiUrl": "http://kyuta-sim:8080", "gatewayUrl": "ws://kyuta-sim:8080"}
        }
    }))
    .unwrap()
}

const PLAN: GenerationPlan = GenerationPlan {
    generation: 3,
    shard_total: 6,
    shards_per_pod: 2,
    replicas: 3,
};

#[test]
fn statefulset() {
    insta::assert_yaml_snapshot!(render::statefulset(&cluster(), &PLAN));
}

#[test]
fn service_and_pdb() {
    insta::assert_yaml_snapshot!(render::service(&cluster(), &PLAN));
    insta::assert_yaml_snapshot!(render::pod_disruption_budget(&cluster(), &PLAN));
}

#[test]
fn token_is_only_referenced() {
    let sts = render::statefulset(&cluster(), &PLAN);
    let env = render::worker_env(&cluster(), &PLAN);
    let token = env.iter().find(|e| e.name == "DISCORD_TOKEN").unwrap();
    assert!(token.value.is_none());
    assert_eq!(
        token
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap()
            .name,
        "kyuta-token"
    );
    assert_eq!(sts.metadata.name.as_deref(), Some("prod-g3"));
    assert_eq!(sts.spec.unwrap().replicas, Some(3));
}

#[test]
fn readiness_survives_a_reconnect() {
    let sts = render::statefulset(&cluster(), &PLAN);
    let pod = sts.spec.unwrap().template.spec.unwrap();
    let probe = pod.containers[0].readiness_probe.clone().unwrap();
    let period = probe.period_seconds.unwrap();
    let failures = probe.failure_threshold.unwrap();
    assert_eq!((period, failures), (5, 3));
    // A shard that reconnects for up to 10 s (two missed checks) keeps its pod Ready.
    assert!(
        period * (failures - 1) >= 10,
        "a single missed /ready must not take the pod out of Ready"
    );
    assert_eq!(probe.success_threshold.unwrap_or(1), 1);
}

#[test]
fn worker_pod_fields_and_log_format_reach_the_pods() {
    let mut kc = cluster();
    let spec: kyuta_crds::cluster::WorkerSpec = serde_json::from_value(serde_json::json!({
        "image": "ghcr.io/kyuta-bot/kyuta-worker:0.1.0",
        "logFormat": "json",
        "pod": {
            "imagePullSecrets": [{"name": "registry"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "bots", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["bots"]}]}]
            }}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}],
            "labels": {"team": "trust", "app.kubernetes.io/name": "mine"},
            "annotations": {"owner": "trust@example.com", "prometheus.io/port": "1"},
            "priorityClassName": "bots-high"
        }
    }))
    .unwrap();
    kc.spec.worker = spec;
    let sts = serde_json::to_value(render::statefulset(&kc, &PLAN)).unwrap();
    let pod = &sts["spec"]["template"];
    let s = &pod["spec"];
    assert_eq!(s["imagePullSecrets"][0]["name"], "registry");
    assert_eq!(s["nodeSelector"]["kubernetes.io/os"], "linux");
    assert_eq!(s["tolerations"][0]["key"], "bots");
    assert_eq!(
        s["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchExpressions"][0]["values"][0],
        "bots"
    );
    assert_eq!(s["topologySpreadConstraints"][0]["maxSkew"], 1);
    assert_eq!(s["priorityClassName"], "bots-high");
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["team"], "trust");
    assert_eq!(
        labels["app.kubernetes.io/name"], "kyuta-worker",
        "the operator's own labels keep their values: {labels}"
    );
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["owner"], "trust@example.com");
    assert_eq!(annotations["prometheus.io/port"], "9000");
    let env = s["containers"][0]["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == kyuta_crds::contract::env::LOG_FORMAT && e["value"] == "json"),
        "{env:?}"
    );
    // Unset, nothing of it is rendered.
    let plain = serde_json::to_value(render::statefulset(&cluster(), &PLAN)).unwrap();
    let s = &plain["spec"]["template"]["spec"];
    for field in [
        "imagePullSecrets",
        "nodeSelector",
        "tolerations",
        "affinity",
        "priorityClassName",
    ] {
        assert!(s.get(field).is_none(), "{field}: {s}");
    }
}
