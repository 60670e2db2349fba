//! The `KyutaCluster` custom resource (`kyuta.dev/v1alpha1`).
//!
//! A `KyutaCluster` says which bot to run (the token Secret), with which worker image, how to
//! size the shard fleet and where the shared stores are. The operator fills its status with
//! what it decided and why.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// API group of the Kyuta resources.
pub const GROUP: &str = "kyuta.dev";
/// API version of [`KyutaCluster`].
pub const VERSION: &str = "v1alpha1";

/// What a `KyutaCluster` asks for: one Discord bot run as a fleet of shard workers.
// The derive takes one `printcolumn(...)` per column; their keys repeat by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kyuta.dev",
    version = "v1alpha1",
    kind = "KyutaCluster",
    plural = "kyutaclusters",
    shortname = "kyc",
    category = "kyuta",
    namespaced,
    status = "KyutaClusterStatus",
    doc = "A Discord bot run as a self-sizing fleet of Kyuta shard workers.",
    printcolumn(
        name = "Shards",
        type_ = "integer",
        json_path = ".status.shards",
        description = "Shard total of the active generation"
    ),
    printcolumn(
        name = "Serving",
        type_ = "integer",
        json_path = ".status.readyShards",
        description = "Shards of the active generation whose pod is Ready"
    ),
    printcolumn(
        name = "Pods",
        type_ = "integer",
        json_path = ".status.replicas",
        description = "Worker pods of the active generation"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "What the cluster is doing"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Every shard of the active generation is Ready"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.storage) || self.storage != 'MongoDB' || has(self.mongodb)").message("storage: MongoDB needs spec.mongodb"),
)]
pub struct KyutaClusterSpec {
    /// The Secret key holding the bot token. The token is passed to workers by reference and
    /// is never copied into another object.
    pub token_secret_ref: SecretKeyRef,
    /// The worker pods: image and resources.
    pub worker: WorkerSpec,
    /// How many shards to run.
    #[serde(default)]
    pub shards: ShardsSpec,
    /// Contiguous shards each worker pod runs. With autoscaling on, this is the most shards a
    /// pod runs (the fewest pods).
    #[serde(default = "default_one")]
    #[schemars(range(min = 1, max = 256))]
    pub shards_per_pod: u32,
    /// Scaling the number of pods (not shards) from the load workers publish.
    #[serde(default)]
    pub autoscaling: AutoscalingSpec,
    /// Redis shared by the workers (sessions, identify pacing, load, dedupe). Without it each
    /// worker keeps that state in process and autoscaling has no load to read, so the
    /// operator runs at most one pod: a spec that needs more is refused (`RedisRequired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConnectionRef>,
    /// MongoDB for cases, guild settings and schedules. Without it each worker uses its
    /// embedded store on the pod's emptyDir, lost with the pod: the operator then runs more
    /// than one pod only with `storage: Ephemeral` (`MongoDBRequired` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mongodb: Option<ConnectionRef>,
    /// Where the workers keep cases and settings: `MongoDB` (needs `mongodb`; the default
    /// when it is set) or `Ephemeral`, each pod's embedded store on its emptyDir, which a
    /// restarted pod starts again empty. Set `Ephemeral` to run several pods that way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageMode>,
    /// Settings passed to every worker.
    #[serde(default)]
    pub bot: BotSpec,
    /// Where Discord is. Leave empty for discord.com; set it to point the fleet at the
    /// simulator.
    #[serde(default)]
    pub discord: DiscordSpec,
}

/// Where the workers keep cases and settings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageMode {
    /// MongoDB (`spec.mongodb`), shared by every pod.
    MongoDB,
    /// Each pod's embedded store on its emptyDir: lost when the pod is.
    Ephemeral,
}

fn default_one() -> u32 {
    1
}

/// A key of a Secret in the KyutaCluster's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// The worker pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkerSpec {
    /// Container image of `kyuta-worker`, e.g. `ghcr.io/kyuta-bot/kyuta-worker:0.1.0`.
    #[schemars(length(min = 1, max = 512))]
    pub image: String,
    /// `Always`, `IfNotPresent` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,
    /// CPU and memory requests and limits of the worker container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Log filter of the workers (tracing `EnvFilter` syntax, e.g. `info,kyuta_worker=debug`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub log_level: Option<String>,
    /// Log line format of the workers: `text` (the default) or `json`, one object per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Where and how the worker pods are scheduled, and what they carry besides the operator's
    /// own settings.
    #[serde(default, skip_serializing_if = "WorkerPodSpec::is_empty")]
    pub pod: WorkerPodSpec,
}

/// Fields of the worker pods beyond the container: scheduling, pull secrets, metadata.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct WorkerPodSpec {
    /// Secrets for pulling the worker image from a private registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Nodes the pods may run on, by label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Node and pod affinity of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// How the pods spread across zones or nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Extra labels on the pods. The operator's own labels (`app.kubernetes.io/*`,
    /// `kyuta.dev/*`) keep their values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on the pods. The operator's own (`prometheus.io/*`) keep their values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The pods' PriorityClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub priority_class_name: Option<String>,
}

impl WorkerPodSpec {
    /// Nothing set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Log line format, of the workers and of the operator.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The spelling in the environment and the spec.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("{s:?} is not a log format: use text or json")),
        }
    }
}

/// Image pull policy of the worker container.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull on every start.
    Always,
    /// Pull when the node does not have the image.
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The Kubernetes spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// How many shards to run.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.max) || self.max >= self.min").message("shards.max must be at least shards.min"),
    validation = Rule::new("!has(self.max) || self.max % self.multiple == 0").message("shards.max must be a multiple of shards.multiple"),
    validation = Rule::new("type(self.count) == string || int(self.count) % self.multiple == 0").message("shards.count must be a multiple of shards.multiple"),
    validation = Rule::new("type(self.count) == string || !has(self.max) || int(self.count) <= self.max").message("shards.count must not be above shards.max"),
)]
pub struct ShardsSpec {
    /// `auto` (size from Discord's recommendation and the guild count) or a fixed number.
    #[serde(default)]
    pub count: ShardCount,
    /// The shard total is always a multiple of this. Discord assigns large bots a number
    /// (often 16) that the shard total must be a multiple of.
    #[serde(default = "default_one")]
    #[schemars(range(min = 1, max = 1024))]
    pub multiple: u32,
    /// With `count: auto`, aim for at most this many guilds per shard (Discord's hard limit
    /// is 2500).
    #[serde(default = "default_guilds_per_shard")]
    #[schemars(range(min = 1, max = 2500))]
    pub guilds_per_shard: u32,
    /// Never run fewer shards than this.
    #[serde(default = "default_one")]
    #[schemars(range(min = 1, max = 100000))]
    pub min: u32,
    /// Never run more shards than this (must be a multiple of `multiple`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub max: Option<u32>,
}

fn default_guilds_per_shard() -> u32 {
    1000
}

impl Default for ShardsSpec {
    fn default() -> Self {
        Self {
            count: ShardCount::Auto,
            multiple: 1,
            guilds_per_shard: default_guilds_per_shard(),
            min: 1,
            max: None,
        }
    }
}

/// `auto` or a fixed shard total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShardCount {
    /// Size from Discord's recommended shard count and the guild count.
    #[default]
    Auto,
    /// Exactly this many shards.
    Fixed(u32),
}

impl Serialize for ShardCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::Fixed(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for ShardCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ShardCount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\" or a shard count of at least 1")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ShardCount, E> {
                match v {
                    "auto" => Ok(ShardCount::Auto),
                    other => other
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .map(ShardCount::Fixed)
                        .ok_or_else(|| E::custom(format!("{other:?} is not \"auto\" or a number"))),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ShardCount, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|n| *n >= 1)
                    .map(ShardCount::Fixed)
                    .ok_or_else(|| E::custom(format!("shard count {v} is out of range")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ShardCount, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("shard count {v} is out of range")))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl JsonSchema for ShardCount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ShardCount".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`auto` or a fixed shard total of at least 1.",
            "x-kubernetes-int-or-string": true,
            "nullable": false,
            "x-kubernetes-validations": [{
                "rule": "type(self) == string ? self == 'auto' : int(self) >= 1",
                "message": "shards.count must be \"auto\" or a number of at least 1"
            }]
        })
    }
}

/// Scaling the number of pods from the load the workers publish. The shard total never
/// changes by autoscaling; only how many shards each pod runs.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.maxPods) || !has(self.minPods) || self.maxPods >= self.minPods").message("autoscaling.maxPods must be at least autoscaling.minPods"),
)]
pub struct AutoscalingSpec {
    /// Turn autoscaling on.
    #[serde(default)]
    pub enabled: bool,
    /// Gateway events per second one pod should handle.
    #[serde(default = "default_target_eps")]
    #[schemars(range(min = 1, max = 1000000))]
    pub target_events_per_second_per_pod: u32,
    /// Seconds to wait after a scaling change before the next one.
    #[serde(default = "default_cooldown")]
    #[schemars(range(min = 0, max = 86400))]
    pub cooldown_seconds: u32,
    /// Never fewer pods than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub min_pods: Option<u32>,
    /// Never more pods than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub max_pods: Option<u32>,
}

fn default_target_eps() -> u32 {
    200
}

fn default_cooldown() -> u32 {
    300
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            target_events_per_second_per_pod: default_target_eps(),
            cooldown_seconds: default_cooldown(),
            min_pods: None,
            max_pods: None,
        }
    }
}

/// A connection string, given inline or by Secret key (set exactly one).
#[derive(KubeSchema, Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.url) != has(self.secretRef)").message("set exactly one of url or secretRef"),
)]
pub struct ConnectionRef {
    /// The URL itself, e.g. `redis://redis:6379` or `mongodb://mongodb:27017/kyuta`. A
    /// Redis Cluster is found from any one of its nodes (or several, separated by commas).
    /// Put URLs with passwords in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub url: Option<String>,
    /// A Secret key holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

impl fmt::Debug for ConnectionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionRef")
            .field("url", &self.url.as_deref().map(redact_userinfo))
            .field("secret_ref", &self.secret_ref)
            .finish()
    }
}

/// A URL with any `user:password@` part replaced by `***@`, for logs and errors. Only the
/// authority is looked at (up to the first `/`, `?` or `#` after `scheme://`), so an `@` in
/// the path or the query is left as it is; the one redactor of both the operator and the
/// worker.
#[must_use]
pub fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Settings passed to every worker.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BotSpec {
    /// Prefix of text commands (the worker's default is `k!`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub prefix: Option<String>,
    /// A guild id to register slash commands in, for development.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{15,21}$')").message("bot.devGuildId must be a Discord guild id (digits only)"))]
    #[schemars(length(min = 15, max = 21))]
    pub dev_guild_id: Option<String>,
    /// Feature flags turned on in every worker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 63)))]
    #[x_kube(validation = Rule::new("self.all(f, f.matches('^[a-z0-9][a-z0-9-]{0,62}$'))").message("bot.features entries are lowercase words with dashes, e.g. automod"))]
    pub features: Vec<String>,
    /// Activities the bot shows, rotating, separated by `|`: each `kind:text` with kind
    /// `playing`, `listening`, `watching`, `competing` or `custom`; the text may use
    /// `{guilds}`, `{shard}`, `{shards}` and `{version}` (up to 128 characters each). Empty
    /// shows the status alone. Absent → the worker's default
    /// (`watching:/help|watching:{guilds} servers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new(PRESENCE_RULE).message("bot.presence is kind:text entries separated by |, kind one of playing, listening, watching, competing, custom; placeholders {guilds}, {shard}, {shards}, {version}"))]
    pub presence: Option<String>,
    /// Status the bot shows. Absent → `online`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PresenceStatus>,
}

/// The CEL rule for `bot.presence` (the worker checks the same and the 128-character limit).
const PRESENCE_RULE: &str = r"self == '' || self.matches('^ *(playing|listening|watching|competing|custom) *:([^|{]|[{](guilds|shard|shards|version)[}])+( *[|] *(playing|listening|watching|competing|custom) *:([^|{]|[{](guilds|shard|shards|version)[}])+)*$')";

/// Status the bot shows.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    /// Online (green).
    Online,
    /// Idle (yellow).
    Idle,
    /// Do not disturb (red).
    Dnd,
    /// Shown as offline while connected.
    Invisible,
}

impl PresenceStatus {
    /// The spelling the worker reads.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Idle => "idle",
            Self::Dnd => "dnd",
            Self::Invisible => "invisible",
        }
    }
}

/// Where Discord (or the simulator) is.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DiscordSpec {
    /// Origin under which `/api/v10` lives, e.g. `http://kyuta-sim:8080`. Used by the
    /// operator for `GET /gateway/bot` and by the workers for REST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^https?://[^/]+/?$')").message("discord.apiUrl must be an origin like https://discord.com or http://kyuta-sim:8080 (no path)"))]
    #[schemars(length(min = 8, max = 2048))]
    pub api_url: Option<String>,
    /// Gateway URL override, e.g. `ws://kyuta-sim:8080`. Workers otherwise use the URL that
    /// `GET /gateway/bot` returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^wss?://.+')").message("discord.gatewayUrl must start with ws:// or wss://"))]
    #[schemars(length(min = 6, max = 2048))]
    pub gateway_url: Option<String>,
}

/// What the operator observed and decided.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct KyutaClusterStatus {
    /// The `metadata.generation` of the spec this status answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// What the cluster is doing.
    #[serde(default)]
    pub phase: Phase,
    /// Shard total of the active generation.
    #[serde(default)]
    pub shards: u32,
    /// The active worker generation: the `N` of the StatefulSet `<name>-g<N>`.
    #[serde(default)]
    pub generation: u32,
    /// Worker pods of the active generation.
    #[serde(default)]
    pub replicas: u32,
    /// Shards each pod of the active generation runs.
    #[serde(default)]
    pub shards_per_pod: u32,
    /// Shards of the active generation whose pod is Ready.
    #[serde(default)]
    pub ready_shards: u32,
    /// The generation being brought up beside the active one, while resharding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resharding: Option<ReshardStatus>,
    /// `Ready`, `Resharding`, `Degraded`: one of each type (a map list keyed by `type`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// What `GET /gateway/bot` said last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayInfo>,
    /// The last decision and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_decision: Option<DecisionStatus>,
    /// When the pod count last changed by autoscaling (for the cooldown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Time>,
    /// A smaller shard total the load calls for, and since when: the operator lowers the shard
    /// total only once a smaller one has been wanted without a break for the hold period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrink_wanted: Option<ShrinkStatus>,
    /// A reshard whose generation did not become Ready before its deadline: that generation
    /// was scaled to 0 and the active one kept. It is tried again only once the spec changes
    /// (`metadata.generation` differs from `specGeneration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reshard: Option<FailedReshardStatus>,
}

/// A reshard that was given up.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FailedReshardStatus {
    /// The generation that did not become Ready (`<name>-g<N>`, scaled to 0).
    pub generation: u32,
    /// Its shard total.
    pub shards: u32,
    /// The `metadata.generation` of the spec it was started for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_generation: Option<i64>,
    /// Why it was given up: the deadline and the pods that were not Ready.
    pub message: String,
    /// When it was given up.
    pub time: Time,
}

/// A smaller shard total wanted since a time (hysteresis of the shard total).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ShrinkStatus {
    /// The largest smaller shard total wanted since `since`: the total a shrink goes to.
    pub shards: u32,
    /// Since when a smaller total has been wanted.
    pub since: Time,
}

/// What the cluster is doing.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Phase {
    /// Waiting for inputs (gateway info, the token Secret) before starting anything.
    #[default]
    Pending,
    /// The first generation is starting.
    Starting,
    /// Every shard of the active generation is Ready.
    Running,
    /// Pods of the active generation are rolling (shards per pod or pod count changed).
    Scaling,
    /// A new generation with a different shard total is starting beside the active one.
    Resharding,
    /// Something needs a person: token invalid, identify budget spent, Secret missing.
    Degraded,
}

impl Phase {
    /// The name as it appears in the status.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Starting => "Starting",
            Self::Running => "Running",
            Self::Scaling => "Scaling",
            Self::Resharding => "Resharding",
            Self::Degraded => "Degraded",
        }
    }
}

/// The generation being brought up beside the active one.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReshardStatus {
    /// Generation number (`<name>-g<N>`).
    pub generation: u32,
    /// Its shard total.
    pub shards: u32,
    /// Its pods.
    pub replicas: u32,
    /// Its Ready pods.
    pub ready_replicas: u32,
}

/// What Discord's `GET /gateway/bot` returned (the token-bearing parts omitted).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayInfo {
    /// Recommended shard total.
    pub recommended_shards: u32,
    /// Gateway URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The identify session budget.
    pub session_start_limit: SessionStartLimit,
}

/// Discord's `session_start_limit`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionStartLimit {
    /// Identifies allowed per reset period.
    pub total: u32,
    /// Identifies left in this period.
    pub remaining: u32,
    /// Milliseconds until `remaining` resets to `total`.
    pub reset_after_ms: u64,
    /// Identify rate-limit buckets (one identify per bucket per 5 s).
    pub max_concurrency: u32,
}

/// A decision of the operator and its reason.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DecisionStatus {
    /// Short name of the decision, e.g. `StartGeneration`, `Reshard`, `Scale`, `Hold`.
    pub action: String,
    /// Why, in a sentence a person can act on.
    pub message: String,
    /// When it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
}

/// The finalizer the operator puts on every `KyutaCluster` to clean the cluster's Redis keys.
pub const FINALIZER: &str = "kyuta.dev/cleanup";

/// Condition types written to the status.
pub mod conditions {
    /// Every shard of the active generation is Ready.
    pub const READY: &str = "Ready";
    /// A new generation is starting beside the active one (or a reshard was refused).
    pub const RESHARDING: &str = "Resharding";
    /// Something needs a person (token, budget, Secret).
    pub const DEGRADED: &str = "Degraded";
}

/// The CRD as YAML, with a header saying how it was made. `crdgen` prints this; the chart's
/// `crds/kyutacluster.yaml` must equal it.
#[must_use]
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let yaml = serde_yaml_ng::to_string(&KyutaCluster::crd()).expect("the CRD serializes to YAML");
    format!(
        "# Generated by `cargo run -p kyuta-crds --bin crdgen > charts/kyuta/crds/kyutacluster.yaml`; do not edit.\n{yaml}"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_userinfo_hides_credentials_only() {
        use super::redact_userinfo as r;
        assert_eq!(
            r("redis://:secret@redis:6379/0"),
            "redis://***@redis:6379/0"
        );
        assert_eq!(
            r("mongodb://kyuta:p%40ss@mongo:27017/kyuta?authSource=admin"),
            "mongodb://***@mongo:27017/kyuta?authSource=admin"
        );
        assert_eq!(r("redis://redis:6379"), "redis://redis:6379");
        // An `@` past the authority is not a credential.
        assert_eq!(
            r("mongodb://mongo:27017/kyuta?appName=ops@kyuta"),
            "mongodb://mongo:27017/kyuta?appName=ops@kyuta"
        );
        assert_eq!(r("redis://redis:6379/path@x"), "redis://redis:6379/path@x");
        assert_eq!(
            r("redis://u:p@redis:6379/path@x"),
            "redis://***@redis:6379/path@x"
        );
        assert_eq!(r("not a url @ all"), "not a url @ all");
    }

    use super::*;

    #[test]
    fn shard_count_round_trips() {
        let auto: ShardCount = serde_json::from_str("\"auto\"").unwrap();
        assert_eq!(auto, ShardCount::Auto);
        let six: ShardCount = serde_json::from_str("6").unwrap();
        assert_eq!(six, ShardCount::Fixed(6));
        assert_eq!(serde_json::to_string(&six).unwrap(), "6");
        assert_eq!(serde_json::to_string(&auto).unwrap(), "\"auto\"");
        assert!(serde_json::from_str::<ShardCount>("0").is_err());
        assert!(serde_json::from_str::<ShardCount>("\"many\"").is_err());
    }

    #[test]
    fn minimal_spec_gets_defaults() {
        let spec: KyutaClusterSpec = serde_json::from_value(serde_json::json!({
            "tokenSecretRef": {"name": "bot", "key": "token"},
            "worker": {"image": "kyuta-worker:dev"}
        }))
        .unwrap();
        assert_eq!(spec.shards, ShardsSpec::default());
        assert_eq!(spec.shards_per_pod, 1);
        assert!(!spec.autoscaling.enabled);
    }

    #[test]
    fn debug_hides_url_passwords() {
        let c = ConnectionRef {
            url: Some("redis://:hunter2@redis:6379".into()),
            secret_ref: None,
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("redis://***@redis:6379"), "{dbg}");
    }

    #[test]
    fn chart_crd_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../charts/kyuta/crds/kyutacluster.yaml"
        );
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == crd_yaml(),
            "{path} is out of date; regenerate it with \
             `cargo run -p kyuta-crds --bin crdgen > charts/kyuta/crds/kyutacluster.yaml`"
        );
    }
}
