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
