//! The operator against the real control plane (kube-apiserver + kube-controller-manager),
//! the simulator for `GET /gateway/bot`, and the real Redis.
//!
//! Each test runs its own operator scoped to its own namespace, so tests run in parallel.
//! There is no kubelet: where a test needs Ready pods it marks them Ready through the pods'
//! status subresource, as a kubelet would.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kyuta_crds::KyutaCluster;
use kyuta_crds::cluster::Phase;
use kyuta_crds::contract::{load_fields, redis_keys};
use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::{
    eventually, install_kyuta_crd, kube_client, kubeconfig, kubectl, redis_connection, redis_url,
    unique_name,
};
use serde_json::json;
use tokio::sync::oneshot;

const TOKEN: &str = "operator-test-token";

/// One test's world: a namespace, the CRD, an operator watching that namespace, a simulator.
struct World {
    client: Client,
    ns: String,
    sim: Sim,
    stop: Option<oneshot::Sender<()>>,
    operator: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl World {
    async fn start(recommended_shards: u32, remaining: Option<u32>) -> Self {
        let client = kube_client().await;
        install_kyuta_crd(&client).await;
        let ns = unique_name("kyuta-op");
        let namespace: Namespace = serde_json::from_value(
            json!({"metadata": {"name": ns, "labels": {"kyuta.dev/test": "operator"}}}),
        )
        .unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        let mut cfg = SimConfig {
            token: TOKEN.into(),
            recommended_shards,
            ..SimConfig::default()
        };
        if let Some(r) = remaining {
            cfg.session_start_total = r;
        }
        let sim = Sim::start(cfg).await.expect("simulator starts");
        let (stop, stopped) = oneshot::channel::<()>();
        let operator = tokio::spawn(kyuta_operator::run_with_client(
            client.clone(),
            kyuta_operator::Config {
                namespace: Some(ns.clone()),
                gateway_refresh: Duration::from_secs(1),
                gateway_retry: Duration::from_secs(1),
                identity: format!("test-{ns}"),
                ..kyuta_operator::Config::default()
            },
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            client,
            ns,
            sim,
            stop: Some(stop),
            operator,
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn token_secret(&self, token: &str) {
        let s: Secret = serde_json::from_value(json!({
            "metadata": {"name": "bot"},
            "stringData": {"token": token}
        }))
        .unwrap();
        self.api::<Secret>()
            .create(&PostParams::default(), &s)
            .await
            .unwrap();
    }

    fn cluster_json(&self, name: &str, shards: serde_json::Value, spp: u32) -> serde_json::Value {
        json!({
            "apiVersion": "kyuta.dev/v1alpha1",
            "kind": "KyutaCluster",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": {
                "tokenSecretRef": {"name": "bot", "key": "token"},
                "worker": {"image": "kyuta-worker:test"},
                "shards": {"count": shards},
                "shardsPerPod": spp,
                "redis": {"url": redis_url()},
                "storage": "Ephemeral",
                "discord": {"apiUrl": self.sim.api_url(), "gatewayUrl": self.sim.gateway_url()}
            }
        })
    }

    async fn apply_cluster(&self, body: serde_json::Value) {
        let name = body["metadata"]["name"].as_str().unwrap().to_owned();
        self.api::<KyutaCluster>()
            .patch(
                &name,
                &PatchParams::apply("kyuta-tests").force(),
                &Patch::Apply(&body),
            )
            .await
            .unwrap();
    }

    async fn status_where(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&kyuta_crds::KyutaClusterStatus) -> bool,
    ) -> kyuta_crds::KyutaClusterStatus {
        let api = self.api::<KyutaCluster>();
        eventually(what, Duration::from_secs(60), || {
            let api = api.clone();
            let pred = &pred;
            async move {
                let kc = api.get(name).await.ok()?;
                kc.status.filter(|s| pred(s))
            }
        })
        .await
    }

    async fn statefulset(&self, name: &str) -> StatefulSet {
        let api = self.api::<StatefulSet>();
        eventually(
            &format!("StatefulSet {name}"),
            Duration::from_secs(60),
            || {
                let api = api.clone();
                async move { api.get_opt(name).await.ok().flatten() }
            },
        )
        .await
    }

    /// Stands in for the kubelet: marks every pod of `sts` Running and Ready.
    async fn make_pods_ready(&self, sts: &str, count: usize) {
        let pods = self.api::<Pod>();
        let names: Vec<String> = eventually(
            &format!("{count} pods of {sts}"),
            Duration::from_secs(60),
            || {
                let pods = pods.clone();
                async move {
                    let list = pods.list(&ListParams::default()).await.ok()?;
                    let names: Vec<String> = list
                        .items
                        .iter()
                        .filter_map(|p| p.metadata.name.clone())
                        .filter(|n| n.rsplit_once('-').is_some_and(|(base, _)| base == sts))
                        .collect();
                    (names.len() == count).then_some(names)
                }
            },
        )
        .await;
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        for name in names {
            let status = json!({"status": {
                "phase": "Running",
                "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}
                ]
            }});
            pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .unwrap();
        }
    }

    /// Deletes every KyutaCluster (while the operator still runs, so finalizers complete),
    /// stops the operator, deletes the namespace and stops the simulator.
    async fn stop(mut self) {
        let kcs = self.api::<KyutaCluster>();
        let _ = kcs
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        eventually("KyutaClusters deleted", Duration::from_secs(30), || {
            let kcs = kcs.clone();
            async move {
                kcs.list(&ListParams::default())
                    .await
                    .ok()?
                    .items
                    .is_empty()
                    .then_some(())
            }
        })
        .await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.operator).await;
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.ns, &DeleteParams::default())
            .await;
        self.sim.shutdown().await;
    }
}

fn env_of(sts: &StatefulSet) -> BTreeMap<String, serde_json::Value> {
    let c = &sts
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    c.env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let v = match (e.value, e.value_from) {
                (Some(v), _) => json!(v),
                (None, Some(f)) => serde_json::to_value(f).unwrap(),
                _ => json!(null),
            };
            (e.name, v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommended_six_with_two_per_pod_makes_three_pods() {
    let w = World::start(6, None).await;
    w.token_secret(TOKEN).await;
    let mut redis = redis_connection().await;
    w.apply_cluster(w.cluster_json("six", json!("auto"), 2))
        .await;

    let sts = w.statefulset("six-g1").await;
    let spec = sts.spec.clone().unwrap();
    assert_eq!(spec.replicas, Some(3));
    let env = env_of(&sts);
    assert_eq!(env["KYUTA_SHARD_COUNT"], json!("6"));
    assert_eq!(env["KYUTA_SHARDS_PER_POD"], json!("2"));
    assert_eq!(env["KYUTA_GENERATION"], json!("1"));
    assert_eq!(env["KYUTA_CLUSTER"], json!("six"));
    assert_eq!(env["KYUTA_DISCORD_API_URL"], json!(w.sim.api_url()));
    assert_eq!(env["REDIS_URL"], json!(redis_url()));
    assert_eq!(
        env["KYUTA_POD_NAME"]["fieldRef"]["fieldPath"],
        json!("metadata.name")
    );
    assert_eq!(env["DISCORD_TOKEN"]["secretKeyRef"]["name"], json!("bot"));
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(
        container
            .readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .as_deref(),
        Some("/ready")
    );

    let status = w
        .status_where("six", "status with 6 shards", |s| s.shards == 6)
        .await;
    assert_eq!(status.replicas, 3);
    assert_eq!(status.shards_per_pod, 2);
    assert_eq!(status.generation, 1);
    assert_eq!(status.phase, Phase::Starting);
    assert_eq!(status.gateway.as_ref().unwrap().recommended_shards, 6);
    let decision = status.last_decision.clone().unwrap();
    assert!(
        decision.message.contains("Discord recommends 6"),
        "{}",
        decision.message
    );

    // The controller-manager made the pods from the StatefulSet.
    w.make_pods_ready("six-g1", 3).await;
    let status = w
        .status_where("six", "Running with 6 Ready shards", |s| {
            s.phase == Phase::Running && s.ready_shards == 6
        })
        .await;
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    );

    // kubectl shows the printcolumns.
    let out = Command::new(kubectl())
        .args(["get", "kyutaclusters", "-n", &w.ns])
        .env("KUBECONFIG", kubeconfig())
        .output()
        .expect("kubectl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "SHARDS", "SERVING", "PODS", "PHASE", "READY", "AGE"],
        "{text}"
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..6],
        ["six", "6", "6", "3", "Running", "True"],
        "{text}"
    );
    // The short name works too (not `kc`, which is Strimzi's KafkaConnect), and the category.
    for name in ["kyc", "kyuta"] {
        let out = Command::new(kubectl())
            .args(["get", name, "-n", &w.ns, "-o", "name"])
            .env("KUBECONFIG", kubeconfig())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "kyutacluster.kyuta.dev/six",
            "kubectl get {name}"
        );
    }

    // Events say what was decided.
    let events = w.api::<Event>();
    let reasons = eventually("a StartGeneration Event", Duration::from_secs(30), || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await.ok()?;
            let reasons: Vec<String> = list
                .items
                .iter()
                .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("six"))
                .filter_map(|e| e.reason.clone())
                .collect();
            reasons
                .iter()
                .any(|r| r == "StartGeneration")
                .then_some(reasons)
        }
    })
    .await;
    assert!(!reasons.is_empty());

    // Redis names generation 1 active.
    let active: Option<u32> = redis::cmd("GET")
        .arg(redis_keys::active_generation("six"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(active, Some(1));

    // Deleting the cluster removes its Redis keys (and the owned objects, by the garbage
    // collector).
    let session = redis_keys::session("six", 6, 3);
    let _: () = redis::cmd("SET")
        .arg(&session)
        .arg("{}")
        .query_async(&mut redis)
        .await
        .unwrap();
    let other = redis_keys::session("sixty", 6, 3);
    let _: () = redis::cmd("SET")
        .arg(&other)
        .arg("{}")
        .query_async(&mut redis)
        .await
        .unwrap();
    w.api::<KyutaCluster>()
        .delete("six", &DeleteParams::default())
        .await
        .unwrap();
    let kcs = w.api::<KyutaCluster>();
    eventually("KyutaCluster gone", Duration::from_secs(30), || {
        let kcs = kcs.clone();
        async move { kcs.get_opt("six").await.ok()?.is_none().then_some(()) }
    })
    .await;
    let left: Vec<String> = redis::cmd("KEYS")
        .arg("kyuta:{six}:*")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
    let kept: bool = redis::cmd("EXISTS")
        .arg(&other)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(kept, "another cluster's keys are not touched");
    let _: () = redis::cmd("DEL")
        .arg(&other)
        .query_async(&mut redis)
        .await
        .unwrap();
    let sets = w.api::<StatefulSet>();
    eventually("StatefulSet collected", Duration::from_secs(60), || {
        let sets = sets.clone();
        async move { sets.get_opt("six-g1").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(!w.operator.is_finished());
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_specs_are_refused_by_the_api_server() {
    let client = kube_client().await;
    install_kyuta_crd(&client).await;
    let api: Api<KyutaCluster> = Api::namespaced(client.clone(), "default");
    let cases = [
        (
            json!({"shards": {"count": 0}}),
            "shards.count must be \"auto\" or a number of at least 1",
        ),
        (
            json!({"shards": {"count": "lots"}}),
            "shards.count must be \"auto\" or a number",
        ),
        (
            json!({"shards": {"count": 10, "multiple": 16}}),
            "shards.count must be a multiple of shards.multiple",
        ),
        (
            json!({"shards": {"min": 8, "max": 4}}),
            "shards.max must be at least shards.min",
        ),
        (
            json!({"shards": {"max": 20, "multiple": 16}}),
            "shards.max must be a multiple of shards.multiple",
        ),
        (json!({"shardsPerPod": 0}), "shardsPerPod"),
        (json!({"redis": {}}), "set exactly one of url or secretRef"),
        (
            json!({"discord": {"apiUrl": "http://sim/api"}}),
            "discord.apiUrl must be an origin",
        ),
        (
            json!({"bot": {"features": ["Not OK"]}}),
            "bot.features entries are lowercase",
        ),
        (
            json!({"bot": {"presence": "streaming:live"}}),
            "bot.presence is kind:text entries",
        ),
        (
            json!({"bot": {"presence": "watching:{guild} servers"}}),
            "bot.presence is kind:text entries",
        ),
        (
            json!({"bot": {"presence": "watching:/help|"}}),
            "bot.presence is kind:text entries",
        ),
        (json!({"bot": {"status": "away"}}), "bot.status"),
        (
            json!({"storage": "MongoDB"}),
            "storage: MongoDB needs spec.mongodb",
        ),
        (json!({"storage": "Disk"}), "storage"),
        (
            json!({"worker": {"image": "kyuta-worker:test", "logFormat": "yaml"}}),
            "logFormat",
        ),
    ];
    let spec_with = |extra: &serde_json::Value| {
        let mut spec = json!({
            "tokenSecretRef": {"name": "bot", "key": "token"},
            "worker": {"image": "kyuta-worker:test"}
        });
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        json!({
            "apiVersion": "kyuta.dev/v1alpha1",
            "kind": "KyutaCluster",
            "metadata": {"name": "invalid"},
            "spec": spec
        })
    };
    // What the rules must let through.
    for extra in [
        json!({"bot": {"presence": "watching:{guilds} servers | custom:shard {shard}/{shards} · v{version}", "status": "dnd"}}),
        json!({"bot": {"presence": ""}}),
    ] {
        api.patch(
            "invalid",
            &PatchParams::apply("kyuta-tests").dry_run(),
            &Patch::Apply(&spec_with(&extra)),
        )
        .await
        .unwrap_or_else(|e| panic!("{extra} must be accepted: {e}"));
    }
    for (extra, message) in cases {
        let body = spec_with(&extra);
        let err = api
            .patch(
                "invalid",
                &PatchParams::apply("kyuta-tests").dry_run(),
                &Patch::Apply(&body),
            )
            .await
            .expect_err(&format!("{extra} must be refused"));
        match err {
            kube::Error::Api(s) => {
                assert_eq!(s.code, 422, "{extra}: {s:?}");
                assert!(s.message.contains(message), "{extra}: {}", s.message);
            }
            other => panic!("{extra}: unexpected error {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secret_is_a_condition_not_a_crash() {
    let w = World::start(2, None).await;
    w.apply_cluster(w.cluster_json("nosecret", json!("auto"), 1))
        .await;
    let status = w
        .status_where("nosecret", "Degraded for the missing Secret", |s| {
            s.phase == Phase::Degraded
        })
        .await;
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert_eq!(degraded.status, "True");
    assert_eq!(degraded.reason, "SecretMissing");
    assert!(
        w.api::<StatefulSet>()
            .get_opt("nosecret-g1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!w.operator.is_finished(), "the operator keeps running");

    // Creating the Secret heals it without a restart.
    w.token_secret(TOKEN).await;
    let sts = w.statefulset("nosecret-g1").await;
    assert_eq!(sts.spec.unwrap().replicas, Some(2));
    let status = w
        .status_where("nosecret", "Degraded cleared", |s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Degraded" && c.status == "False")
        })
        .await;
    assert_eq!(status.shards, 2);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_token_is_degraded() {
    let w = World::start(2, None).await;
    w.token_secret("not-the-token").await;
    w.apply_cluster(w.cluster_json("badtoken", json!("auto"), 1))
        .await;
    let status = w
        .status_where("badtoken", "Degraded for the token", |s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Degraded" && c.reason == "TokenInvalid")
        })
        .await;
    assert_eq!(status.phase, Phase::Degraded);
    assert!(
        w.api::<StatefulSet>()
            .get_opt("badtoken-g1")
            .await
            .unwrap()
            .is_none()
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshard_starts_beside_then_switches_and_retires() {
    let w = World::start(1, None).await;
    w.token_secret(TOKEN).await;
    let mut redis = redis_connection().await;
    w.apply_cluster(w.cluster_json("grow", json!(4), 2)).await;
    w.statefulset("grow-g1").await;
    w.make_pods_ready("grow-g1", 2).await;
    w.status_where("grow", "g1 Running", |s| s.phase == Phase::Running)
        .await;

    // 4 → 8 shards: generation 2 starts beside generation 1.
    w.apply_cluster(w.cluster_json("grow", json!(8), 2)).await;
    let sts = w.statefulset("grow-g2").await;
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(4));
    assert_eq!(env_of(&sts)["KYUTA_SHARD_COUNT"], json!("8"));
    let status = w
        .status_where("grow", "Resharding", |s| s.phase == Phase::Resharding)
        .await;
    assert_eq!(status.generation, 1, "generation 1 keeps serving");
    assert_eq!(status.resharding.as_ref().unwrap().generation, 2);
    assert!(
        w.api::<StatefulSet>()
            .get_opt("grow-g1")
            .await
            .unwrap()
            .is_some(),
        "generation 1 runs until generation 2 is Ready"
    );
    let active: u32 = redis::cmd("GET")
        .arg(redis_keys::active_generation("grow"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(active, 1);

    // Generation 2 Ready → it becomes active and generation 1 is retired.
    w.make_pods_ready("grow-g2", 4).await;
    let status = w
        .status_where("grow", "switched to generation 2", |s| {
            s.generation == 2 && s.shards == 8
        })
        .await;
    assert!(status.resharding.is_none());
    let active: u32 = redis::cmd("GET")
        .arg(redis_keys::active_generation("grow"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(active, 2);
    let sets = w.api::<StatefulSet>();
    eventually("generation 1 retired", Duration::from_secs(30), || {
        let sets = sets.clone();
        async move { sets.get_opt("grow-g1").await.ok()?.is_none().then_some(()) }
    })
    .await;
    w.api::<KyutaCluster>()
        .delete("grow", &DeleteParams::default())
        .await
        .unwrap();
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshard_the_budget_cannot_pay_for_is_refused() {
    // session_start_limit.total (and remaining) of 5: 4 shards fit, 8 do not.
    let w = World::start(1, Some(5)).await;
    w.token_secret(TOKEN).await;
    w.apply_cluster(w.cluster_json("tight", json!(4), 4)).await;
    w.statefulset("tight-g1").await;
    w.apply_cluster(w.cluster_json("tight", json!(8), 4)).await;
    let status = w
        .status_where("tight", "reshard refused", |s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Resharding" && c.reason == "InsufficientIdentifyBudget")
        })
        .await;
    assert_eq!(status.phase, Phase::Degraded);
    assert_eq!(status.shards, 4, "the running generation is kept");
    assert!(
        w.api::<StatefulSet>()
            .get_opt("tight-g2")
            .await
            .unwrap()
            .is_none(),
        "no partial start"
    );
    let events = w.api::<Event>();
    eventually(
        "a Warning Event for the refusal",
        Duration::from_secs(30),
        || {
            let events = events.clone();
            async move {
                let list = events.list(&ListParams::default()).await.ok()?;
                list.items
                    .iter()
                    .any(|e| {
                        e.type_.as_deref() == Some("Warning")
                            && e.reason.as_deref() == Some("RefuseReshard")
                    })
                    .then_some(())
            }
        },
    )
    .await;
    w.api::<KyutaCluster>()
        .delete("tight", &DeleteParams::default())
        .await
        .unwrap();
    w.stop().await;
}

/// A reshard whose new generation Discord refuses (its workers published close 4014 in their
/// load): `Degraded` names generation 2, the reason and the fix, while generation 1 serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_generation_closed_for_good_is_degraded_with_its_reason() {
    let w = World::start(1, None).await;
    w.token_secret(TOKEN).await;
    let mut redis = redis_connection().await;
    w.apply_cluster(w.cluster_json("refused", json!(4), 2))
        .await;
    w.statefulset("refused-g1").await;
    w.make_pods_ready("refused-g1", 2).await;
    w.status_where("refused", "g1 Running", |s| s.phase == Phase::Running)
        .await;
    w.apply_cluster(w.cluster_json("refused", json!(8), 2))
        .await;
    w.statefulset("refused-g2").await;
    // A pod of generation 2 published the close of its shard 3, as a worker does.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let _: () = redis::cmd("HSET")
        .arg(redis_keys::shard_load("refused", 8, 3))
        .arg(load_fields::GUILDS)
        .arg(0)
        .arg(load_fields::EVENTS_PER_MINUTE)
        .arg(0)
        .arg(load_fields::UPDATED_AT)
        .arg(now)
        .arg(load_fields::CLOSE_CODE)
        .arg(4014)
        .query_async(&mut redis)
        .await
        .unwrap();
    // Any change makes the operator look again (a worker's pod becoming not Ready would).
    w.apply_cluster({
        let mut c = w.cluster_json("refused", json!(8), 2);
        c["metadata"]["annotations"] = json!({"kyuta.test/poke": "1"});
        c
    })
    .await;
    let status = w
        .status_where("refused", "Degraded by generation 2's close", |s| {
            s.conditions.iter().any(|c| {
                c.type_ == "Degraded" && c.status == "True" && c.reason == "DisallowedIntents"
            })
        })
        .await;
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert!(
        degraded.message.contains("generation 2") && degraded.message.contains("4014"),
        "{}",
        degraded.message
    );
    assert_eq!(status.generation, 1, "generation 1 keeps serving");
    w.api::<KyutaCluster>()
        .delete("refused", &DeleteParams::default())
        .await
        .unwrap();
    w.stop().await;
}
