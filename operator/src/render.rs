//! The Kubernetes objects of one worker generation: StatefulSet, headless Service and
//! PodDisruptionBudget. Pure functions of the cluster and the plan.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    SeccompProfile, SecretKeySelector, SecurityContext, Service, ServicePort, ServiceSpec, Volume,
    VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;
use kyuta_crds::KyutaCluster;
use kyuta_crds::cluster::{ConnectionRef, SecretKeyRef};
use kyuta_crds::contract::{env, labels};

use crate::decide::GenerationPlan;

/// Port of the worker's `/health` and `/ready`.
pub const HEALTH_PORT: i32 = 8080;
/// Port of the worker's `/metrics`.
pub const METRICS_PORT: i32 = 9000;
/// Value of [`labels::NAME`] on worker objects.
pub const WORKER_APP: &str = "kyuta-worker";
/// Value of [`labels::MANAGED_BY`].
pub const MANAGER: &str = "kyuta-operator";
/// Seconds a worker gets after SIGTERM to close its shards resumably and save their sessions.
pub const TERMINATION_GRACE_SECONDS: i64 = 30;
/// How often the kubelet asks a worker's `/ready`.
pub const READINESS_PERIOD_SECONDS: i32 = 5;
/// Consecutive failed `/ready` checks before a worker pod is marked not Ready: with
/// [`READINESS_PERIOD_SECONDS`], a shard may be down 10–15 s (a normal reconnect or resume
/// takes a few seconds) before its pod leaves Ready, so a reconnect does not make it flap.
pub const READINESS_FAILURE_THRESHOLD: i32 = 3;
/// How often the kubelet asks a worker's `/health`.
pub const LIVENESS_PERIOD_SECONDS: i32 = 10;
/// Consecutive failed `/health` checks before the worker container is restarted.
pub const LIVENESS_FAILURE_THRESHOLD: i32 = 3;

/// Name of a generation's StatefulSet, Service and PodDisruptionBudget: `<cluster>-g<N>`.
#[must_use]
pub fn generation_name(cluster: &str, generation: u32) -> String {
    format!("{cluster}-g{generation}")
}

/// Labels that select the pods of one generation.
#[must_use]
pub fn selector_labels(cluster: &str, generation: u32) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::NAME.to_owned(), WORKER_APP.to_owned()),
        (labels::INSTANCE.to_owned(), cluster.to_owned()),
        (labels::GENERATION.to_owned(), generation.to_string()),
    ])
}

/// Labels selecting every worker object of a cluster (all generations).
#[must_use]
pub fn cluster_selector(cluster: &str) -> String {
    format!(
        "{}={WORKER_APP},{}={cluster}",
        labels::NAME,
        labels::INSTANCE
    )
}

fn object_labels(cluster: &str, plan: &GenerationPlan) -> BTreeMap<String, String> {
    let mut l = selector_labels(cluster, plan.generation);
    l.insert(labels::SHARD_TOTAL.to_owned(), plan.shard_total.to_string());
    l.insert(labels::MANAGED_BY.to_owned(), MANAGER.to_owned());
    l
}

fn meta(kc: &KyutaCluster, plan: &GenerationPlan) -> ObjectMeta {
    let name = kc.metadata.name.clone().unwrap_or_default();
    ObjectMeta {
        name: Some(generation_name(&name, plan.generation)),
        namespace: kc.metadata.namespace.clone(),
        labels: Some(object_labels(&name, plan)),
        owner_references: owner_ref(kc).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

fn owner_ref(kc: &KyutaCluster) -> Option<OwnerReference> {
    kc.controller_owner_ref(&())
}

fn value(name: &str, v: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(v.into()),
        value_from: None,
    }
}

fn secret(name: &str, r: &SecretKeyRef) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: r.name.clone(),
                key: r.key.clone(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}

fn connection(name: &str, c: &ConnectionRef) -> Option<EnvVar> {
    match (&c.url, &c.secret_ref) {
        (Some(url), _) => Some(value(name, url.clone())),
        (None, Some(r)) => Some(secret(name, r)),
        (None, None) => None,
    }
}

/// The worker environment of one generation, per `kyuta_crds::contract::env`.
#[must_use]
pub fn worker_env(kc: &KyutaCluster, plan: &GenerationPlan) -> Vec<EnvVar> {
    let spec = &kc.spec;
    let cluster = kc.metadata.name.clone().unwrap_or_default();
    let mut out = vec![
        secret(env::DISCORD_TOKEN, &spec.token_secret_ref),
        EnvVar {
            name: env::POD_NAME.to_owned(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: Some("v1".into()),
                    field_path: "metadata.name".into(),
                }),
                ..EnvVarSource::default()
            }),
        },
        value(env::CLUSTER_NAME, cluster),
        value(env::GENERATION, plan.generation.to_string()),
        value(env::SHARD_COUNT, plan.shard_total.to_string()),
        value(env::SHARDS_PER_POD, plan.shards_per_pod.to_string()),
        value(env::HEALTH_CHECK_PORT, HEALTH_PORT.to_string()),
        value(env::METRICS_PORT, METRICS_PORT.to_string()),
    ];
    if let Some(url) = &spec.discord.api_url {
        out.push(value(env::DISCORD_API_URL, url.trim_end_matches('/')));
    }
    if let Some(url) = &spec.discord.gateway_url {
        out.push(value(env::DISCORD_GATEWAY_URL, url.clone()));
    }
    if let Some(e) = spec
        .redis
        .as_ref()
        .and_then(|c| connection(env::REDIS_URL, c))
    {
        out.push(e);
    }
    if let Some(e) = spec
        .mongodb
        .as_ref()
        .and_then(|c| connection(env::MONGO_URI, c))
    {
        out.push(e);
    }
    if let Some(p) = &spec.bot.prefix {
        out.push(value(env::PREFIX, p.clone()));
    }
    if let Some(g) = &spec.bot.dev_guild_id {
        out.push(value(env::GUILD_ID, g.clone()));
    }
    if !spec.bot.features.is_empty() {
        out.push(value(env::FEATURES, spec.bot.features.join(",")));
    }
    if let Some(p) = &spec.bot.presence {
        out.push(value(env::PRESENCE, p.clone()));
    }
    if let Some(s) = spec.bot.status {
        out.push(value(env::PRESENCE_STATUS, s.as_str().to_owned()));
    }
    if let Some(l) = &spec.worker.log_level {
        out.push(value(env::LOG_LEVEL, l.clone()));
    }
    if let Some(f) = spec.worker.log_format {
        out.push(value(env::LOG_FORMAT, f.as_str()));
    }
    out
}

fn probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("health".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

/// The StatefulSet of one generation.
#[must_use]
pub fn statefulset(kc: &KyutaCluster, plan: &GenerationPlan) -> StatefulSet {
    let cluster = kc.metadata.name.clone().unwrap_or_default();
    let meta = meta(kc, plan);
    let container = Container {
        name: "worker".into(),
        image: Some(kc.spec.worker.image.clone()),
        image_pull_policy: kc
            .spec
            .worker
            .image_pull_policy
            .map(|p| p.as_str().to_owned()),
        env: Some(worker_env(kc, plan)),
        ports: Some(vec![
            ContainerPort {
                name: Some("health".into()),
                container_port: HEALTH_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("metrics".into()),
                container_port: METRICS_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        liveness_probe: Some(probe(
            "/health",
            LIVENESS_PERIOD_SECONDS,
            LIVENESS_FAILURE_THRESHOLD,
        )),
        readiness_probe: Some(probe(
            "/ready",
            READINESS_PERIOD_SECONDS,
            READINESS_FAILURE_THRESHOLD,
        )),
        resources: kc.spec.worker.resources.clone(),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "data".into(),
            mount_path: "/data".into(),
            ..VolumeMount::default()
        }]),
        working_dir: Some("/data".into()),
        ..Container::default()
    };
    let pod = &kc.spec.worker.pod;
    // The spec's extra labels and annotations first, so the operator's own keep their values.
    let mut pod_labels = pod.labels.clone();
    pod_labels.extend(object_labels(&cluster, plan));
    pod_labels.remove(labels::MANAGED_BY);
    let mut pod_annotations = pod.annotations.clone();
    pod_annotations.extend([
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        ("prometheus.io/port".to_owned(), METRICS_PORT.to_string()),
    ]);
    let non_empty = |v: &BTreeMap<String, String>| (!v.is_empty()).then(|| v.clone());
    StatefulSet {
        metadata: meta.clone(),
        spec: Some(StatefulSetSpec {
            replicas: Some(plan.replicas as i32),
            service_name: meta.name.clone(),
            pod_management_policy: Some("Parallel".into()),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&cluster, plan.generation)),
                match_expressions: None,
            },
            // The operator replaces the pods itself, one at a time in the order that keeps
            // every shard with a process (`crate::roll`).
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(pod_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        fs_group: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            localhost_profile: None,
                        }),
                        ..PodSecurityContext::default()
                    }),
                    volumes: Some(vec![Volume {
                        name: "data".into(),
                        empty_dir: Some(EmptyDirVolumeSource::default()),
                        ..Volume::default()
                    }]),
                    image_pull_secrets: non_empty_vec(&pod.image_pull_secrets),
                    node_selector: non_empty(&pod.node_selector),
                    tolerations: non_empty_vec(&pod.tolerations),
                    affinity: pod.affinity.clone(),
                    topology_spread_constraints: non_empty_vec(&pod.topology_spread_constraints),
                    priority_class_name: pod.priority_class_name.clone(),
                    ..PodSpec::default()
                }),
            },
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
}

fn non_empty_vec<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// The headless Service of one generation (stable pod DNS names, metrics discovery).
#[must_use]
pub fn service(kc: &KyutaCluster, plan: &GenerationPlan) -> Service {
    let cluster = kc.metadata.name.clone().unwrap_or_default();
    Service {
        metadata: meta(kc, plan),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(selector_labels(&cluster, plan.generation)),
            publish_not_ready_addresses: Some(true),
            ports: Some(vec![
                ServicePort {
                    name: Some("health".into()),
                    port: HEALTH_PORT,
                    target_port: Some(IntOrString::String("health".into())),
                    ..ServicePort::default()
                },
                ServicePort {
                    name: Some("metrics".into()),
                    port: METRICS_PORT,
                    target_port: Some(IntOrString::String("metrics".into())),
                    ..ServicePort::default()
                },
            ]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The PodDisruptionBudget of one generation: voluntary disruptions take one pod at a time.
#[must_use]
pub fn pod_disruption_budget(kc: &KyutaCluster, plan: &GenerationPlan) -> PodDisruptionBudget {
    let cluster = kc.metadata.name.clone().unwrap_or_default();
    PodDisruptionBudget {
        metadata: meta(kc, plan),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&cluster, plan.generation)),
                match_expressions: None,
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}
