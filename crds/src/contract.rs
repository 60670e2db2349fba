//! What the operator and the workers must agree on: shard-range arithmetic, environment
//! variable names, label names and the Redis key layout.

use std::ops::Range;

/// Discord's hard limit of guilds on one shard; above it Discord closes with 4011.
pub const MAX_GUILDS_PER_SHARD: u64 = 2500;

/// Discord's identify window: one identify per rate-limit bucket per this many milliseconds.
pub const IDENTIFY_WINDOW_MS: u64 = 5000;

/// The shard a guild's events arrive on: `(guild_id >> 22) % shard_total`.
///
/// # Panics
/// Panics when `shard_total` is zero.
#[must_use]
pub fn shard_for_guild(guild_id: u64, shard_total: u32) -> u32 {
    assert!(shard_total > 0, "shard_total must be at least 1");
    ((guild_id >> 22) % u64::from(shard_total)) as u32
}

/// The identify rate-limit bucket of a shard: `shard_id % max_concurrency`.
///
/// # Panics
/// Panics when `max_concurrency` is zero.
#[must_use]
pub fn identify_bucket(shard_id: u32, max_concurrency: u32) -> u32 {
    assert!(max_concurrency > 0, "max_concurrency must be at least 1");
    shard_id % max_concurrency
}

/// An error in shard-layout arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The shard total was zero.
    #[error("shard total must be at least 1")]
    ZeroShardTotal,
    /// Shards per pod was zero.
    #[error("shards per pod must be at least 1")]
    ZeroShardsPerPod,
    /// The pod ordinal is past the last pod of the layout.
    #[error(
        "pod ordinal {ordinal} is out of range: {shard_total} shards at {shards_per_pod} per pod need {pods} pods"
    )]
    OrdinalOutOfRange {
        /// The ordinal asked for.
        ordinal: u32,
        /// Total shards of the generation.
        shard_total: u32,
        /// Shards each pod owns.
        shards_per_pod: u32,
        /// Pods the layout has.
        pods: u32,
    },
    /// A pod name that does not end in `-<ordinal>`.
    #[error("pod name {0:?} does not end in -<ordinal>")]
    BadPodName(String),
}

/// How a generation's shards are laid out over its pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardLayout {
    /// Total shards of the generation (Discord's `shard_total`).
    pub shard_total: u32,
    /// Contiguous shards each pod owns (the last pod may own fewer).
    pub shards_per_pod: u32,
}

impl ShardLayout {
    /// A layout, checked: both numbers must be at least 1.
    pub fn new(shard_total: u32, shards_per_pod: u32) -> Result<Self, LayoutError> {
        if shard_total == 0 {
            return Err(LayoutError::ZeroShardTotal);
        }
        if shards_per_pod == 0 {
            return Err(LayoutError::ZeroShardsPerPod);
        }
        Ok(Self {
            shard_total,
            shards_per_pod,
        })
    }

    /// Pods needed: `⌈shard_total / shards_per_pod⌉`.
    #[must_use]
    pub fn pods(&self) -> u32 {
        self.shard_total.div_ceil(self.shards_per_pod)
    }

    /// The shards pod `ordinal` owns: `[i·k, min((i+1)·k, S))`.
    pub fn range_for(&self, ordinal: u32) -> Result<Range<u32>, LayoutError> {
        let pods = self.pods();
        if ordinal >= pods {
            return Err(LayoutError::OrdinalOutOfRange {
                ordinal,
                shard_total: self.shard_total,
                shards_per_pod: self.shards_per_pod,
                pods,
            });
        }
        let start = ordinal * self.shards_per_pod;
        let end = start
            .saturating_add(self.shards_per_pod)
            .min(self.shard_total);
        Ok(start..end)
    }

    /// The ordinal of the pod that owns `shard_id`, if the shard is in this layout.
    #[must_use]
    pub fn owner_of(&self, shard_id: u32) -> Option<u32> {
        (shard_id < self.shard_total).then(|| shard_id / self.shards_per_pod)
    }
}

/// The ordinal of a StatefulSet pod from its name (`kyuta-prod-g3-7` → 7).
pub fn ordinal_from_pod_name(name: &str) -> Result<u32, LayoutError> {
    name.rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .ok_or_else(|| LayoutError::BadPodName(name.to_owned()))
}

/// Environment variable names the operator sets on worker pods and the worker reads.
pub mod env {
    /// The bot token (from the Secret the KyutaCluster references).
    pub const DISCORD_TOKEN: &str = "DISCORD_TOKEN";
    /// Origin under which `/api/v10` lives (default Discord's).
    pub const DISCORD_API_URL: &str = "KYUTA_DISCORD_API_URL";
    /// Gateway URL override, e.g. `ws://127.0.0.1:PORT` for the simulator.
    pub const DISCORD_GATEWAY_URL: &str = "KYUTA_DISCORD_GATEWAY_URL";
    /// Total shards of the worker's generation (`auto` or a number).
    pub const SHARD_COUNT: &str = "KYUTA_SHARD_COUNT";
    /// Shards each pod owns.
    pub const SHARDS_PER_POD: &str = "KYUTA_SHARDS_PER_POD";
    /// The pod's name; its ordinal picks the shard range.
    pub const POD_NAME: &str = "KYUTA_POD_NAME";
    /// The pod ordinal, when set directly instead of through the pod name.
    pub const POD_ORDINAL: &str = "KYUTA_POD_ORDINAL";
    /// The KyutaCluster's name (namespaces Redis keys).
    pub const CLUSTER_NAME: &str = "KYUTA_CLUSTER";
    /// The generation number of the worker's StatefulSet.
    pub const GENERATION: &str = "KYUTA_GENERATION";
    /// Redis URL; absent means the in-process cache.
    pub const REDIS_URL: &str = "REDIS_URL";
    /// MongoDB URI; absent means the embedded store.
    pub const MONGO_URI: &str = "MONGO_URI";
    /// Prefix for text commands (default `k!`).
    pub const PREFIX: &str = "KYUTA_PREFIX";
    /// Guild to register slash commands in (development).
    pub const GUILD_ID: &str = "KYUTA_GUILD_ID";
    /// Port of `/metrics`.
    pub const METRICS_PORT: &str = "KYUTA_METRICS_PORT";
    /// Port of `/health` and `/ready`.
    pub const HEALTH_CHECK_PORT: &str = "KYUTA_HEALTH_PORT";
    /// Log filter (tracing `EnvFilter` syntax).
    pub const LOG_LEVEL: &str = "KYUTA_LOG_LEVEL";
    /// Log line format: `text` or `json`.
    pub const LOG_FORMAT: &str = "KYUTA_LOG_FORMAT";
    /// Comma-separated feature flags.
    pub const FEATURES: &str = "KYUTA_FEATURES";
    /// Activities the bot shows (`kind:text|kind:text`).
    pub const PRESENCE: &str = "KYUTA_PRESENCE";
    /// Status the bot shows (`online`, `idle`, `dnd`, `invisible`).
    pub const PRESENCE_STATUS: &str = "KYUTA_PRESENCE_STATUS";
    /// The privileged intents the worker may use: `auto` (from the application's flags),
    /// `none`, or a list of `members`, `message_content`.
    pub const PRIVILEGED_INTENTS: &str = "KYUTA_PRIVILEGED_INTENTS";
    /// Identify window in milliseconds (Discord's is 5000; shorter only against a simulator).
    pub const IDENTIFY_WINDOW_MS: &str = "KYUTA_IDENTIFY_WINDOW_MS";

    /// Names read before every name but the seed's three (`DISCORD_TOKEN`, `REDIS_URL`,
    /// `MONGO_URI`) took the `KYUTA_` prefix: (old, new). They are no longer read; a process
    /// that finds one set without its new name says so at start.
    pub const RENAMED: &[(&str, &str)] = &[
        ("DISCORD_API_URL", DISCORD_API_URL),
        ("DISCORD_GATEWAY_URL", DISCORD_GATEWAY_URL),
        ("SHARD_COUNT", SHARD_COUNT),
        ("POD_NAME", POD_NAME),
        ("PREFIX", PREFIX),
        ("GUILD_ID", GUILD_ID),
        ("METRICS_PORT", METRICS_PORT),
        ("HEALTH_CHECK_PORT", HEALTH_CHECK_PORT),
        ("LOG_LEVEL", LOG_LEVEL),
        ("CLIENT_ID", "KYUTA_CLIENT_ID"),
        ("MAX_CONCURRENT_COMMANDS", "KYUTA_MAX_CONCURRENT_COMMANDS"),
        ("POD_NAMESPACE", "KYUTA_POD_NAMESPACE"),
    ];

    /// The renamed names set in `vars` without their new name, as (old, new).
    pub fn renamed_in(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Vec<(&'static str, &'static str)> {
        let set: std::collections::BTreeSet<String> = vars.into_iter().map(|(k, _)| k).collect();
        RENAMED
            .iter()
            .filter(|(old, new)| set.contains(*old) && !set.contains(*new))
            .copied()
            .collect()
    }
}

/// Fields of the per-shard load hash at [`redis_keys::shard_load`], written by the worker
/// that owns the shard (refreshed at least every [`load_fields::REFRESH_SECS`]) and read by
/// the operator for sizing and autoscaling.
pub mod load_fields {
    /// Guilds on the shard (integer).
    pub const GUILDS: &str = "guilds";
    /// Gateway events the shard received in the last minute (integer).
    pub const EVENTS_PER_MINUTE: &str = "events_per_minute";
    /// When the hash was written: Unix time in seconds (integer).
    pub const UPDATED_AT: &str = "updated_at";
    /// The gateway close code that ended the shard's last session for good (4004, 4010–4014;
    /// integer), present only while the shard is closed or waits out its back-off. Unlike the
    /// figures it counts while the hash exists, however old [`UPDATED_AT`] is.
    pub const CLOSE_CODE: &str = "close_code";
    /// How often a worker refreshes its shards' load hashes.
    pub const REFRESH_SECS: u64 = 15;
    /// Load older than this is ignored by the operator; workers set the hash's TTL to it.
    pub const STALE_AFTER_SECS: u64 = 120;
}

/// Fields of the hash at [`redis_keys::shard_fatal`]: the last time the gateway closed a
/// shard for good, written by the worker that ran it and read by the next process to run it,
/// which waits out a growing back-off before it identifies the shard again.
pub mod fatal_fields {
    /// The close code (integer).
    pub const CODE: &str = "code";
    /// When: Unix time in milliseconds (integer).
    pub const AT_MS: &str = "at_ms";
    /// Fatal closes in a row, without a READY between them (integer).
    pub const STRIKES: &str = "strikes";
    /// The record's TTL, renewed on each fatal close: an hour without one forgets the strikes.
    pub const REMEMBER_SECS: u64 = 3600;
}

/// Label names on objects the operator owns.
pub mod labels {
    /// `app.kubernetes.io/name`, always `kyuta-worker` on worker objects.
    pub const NAME: &str = "app.kubernetes.io/name";
    /// `app.kubernetes.io/instance`: the KyutaCluster's name.
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    /// `app.kubernetes.io/managed-by`: `kyuta-operator`.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// The generation a StatefulSet or pod belongs to.
    pub const GENERATION: &str = "kyuta.dev/generation";
    /// The shard total of that generation.
    pub const SHARD_TOTAL: &str = "kyuta.dev/shard-total";
}

/// The Redis key layout. Every key starts with `kyuta:{<cluster>}:` so one Redis can hold
/// several clusters and the operator's finalizer can delete a cluster's keys by prefix. The
/// braces are a Redis Cluster hash tag: every key of one KyutaCluster lives in one slot, so
/// the scripts and atomic pipelines that touch several of them (identify lock and budget,
/// lease and hand-off, automod counters, fatal close and load) work on a Redis Cluster too,
/// while different bots spread over its nodes.
pub mod redis_keys {
    /// Prefix of every key of a cluster.
    #[must_use]
    pub fn cluster_prefix(cluster: &str) -> String {
        format!("kyuta:{{{cluster}}}:")
    }
    /// Saved gateway session of a shard; keyed by the shard total so another
    /// generation's layout never resumes a session of a different shard count.
    #[must_use]
    pub fn session(cluster: &str, shard_total: u32, shard_id: u32) -> String {
        format!("kyuta:{{{cluster}}}:session:{shard_total}:{shard_id}")
    }
    /// The lease of the process that runs a shard (value: the owner's id; short TTL renewed
    /// by the owner), so a shard runs in one process and moves between processes by RESUME.
    #[must_use]
    pub fn shard_owner(cluster: &str, shard_total: u32, shard_id: u32) -> String {
        format!("kyuta:{{{cluster}}}:owner:{shard_total}:{shard_id}")
    }
    /// A request (value: the requester's id) that the current owner hand a shard over: close
    /// it resumably, save the session, release the lease.
    #[must_use]
    pub fn shard_handoff(cluster: &str, shard_total: u32, shard_id: u32) -> String {
        format!("kyuta:{{{cluster}}}:handoff:{shard_total}:{shard_id}")
    }
    /// The identify lock of a rate-limit bucket.
    #[must_use]
    pub fn identify_bucket(cluster: &str, bucket: u32) -> String {
        format!("kyuta:{{{cluster}}}:identify:{bucket}")
    }
    /// Identifies spent against `session_start_limit` (fleet-wide counter).
    #[must_use]
    pub fn identify_budget(cluster: &str) -> String {
        format!("kyuta:{{{cluster}}}:identify:budget")
    }
    /// The fleet-wide REST budget (50 requests in any second): a sorted set of the last
    /// second's requests, scored by the Redis server's clock in microseconds.
    #[must_use]
    pub fn rest_log(cluster: &str) -> String {
        format!("kyuta:{{{cluster}}}:rest:log")
    }
    /// Load published by a shard (hash: guilds, events_per_minute, updated_at).
    #[must_use]
    pub fn shard_load(cluster: &str, shard_total: u32, shard_id: u32) -> String {
        format!("kyuta:{{{cluster}}}:load:{shard_total}:{shard_id}")
    }
    /// The last fatal gateway close of a shard (hash: `fatal_fields`); deleted when the
    /// shard is READY again.
    #[must_use]
    pub fn shard_fatal(cluster: &str, shard_total: u32, shard_id: u32) -> String {
        format!("kyuta:{{{cluster}}}:fatal:{shard_total}:{shard_id}")
    }
    /// The fleet's guild count (a string) as last summed from the shard loads of a layout
    /// of `shard_total` shards; it expires after one load refresh, and whichever process
    /// finds it missing sums the loads again and writes it.
    #[must_use]
    pub fn fleet_guilds(cluster: &str, shard_total: u32) -> String {
        format!("kyuta:{{{cluster}}}:fleet-guilds:{shard_total}")
    }
    /// Which generation answers interactions while two run side by side.
    #[must_use]
    pub fn active_generation(cluster: &str) -> String {
        format!("kyuta:{{{cluster}}}:active-generation")
    }
    /// Event dedupe marker (interaction or message id) during a reshard.
    #[must_use]
    pub fn dedupe(cluster: &str, id: u64) -> String {
        format!("kyuta:{{{cluster}}}:seen:{id}")
    }
    /// Event dedupe marker of a member join (GUILD_MEMBER_ADD has no id of its own): the
    /// guild, the user and the join time in microseconds since the Unix epoch, so a replay of
    /// the same join is a duplicate and a later re-join is not.
    #[must_use]
    pub fn dedupe_join(
        cluster: &str,
        guild_id: u64,
        user_id: u64,
        joined_at_micros: i64,
    ) -> String {
        format!("kyuta:{{{cluster}}}:seen:join:{guild_id}:{user_id}:{joined_at_micros}")
    }
    /// Lock taken (SET NX) by the one pod that registers slash commands at start; the value
    /// is a hash of the command list.
    #[must_use]
    pub fn command_registration(cluster: &str) -> String {
        format!("kyuta:{{{cluster}}}:commands:registration")
    }
    /// The development guild (`KYUTA_GUILD_ID`) whose copies of the slash commands the fleet
    /// registered last, so they are removed once `KYUTA_GUILD_ID` is unset or changed.
    #[must_use]
    pub fn dev_guild_commands(cluster: &str) -> String {
        format!("kyuta:{{{cluster}}}:commands:dev-guild")
    }
    /// A user's command cooldown.
    #[must_use]
    pub fn cooldown(cluster: &str, command: &str, user_id: u64) -> String {
        format!("kyuta:{{{cluster}}}:cooldown:{command}:{user_id}")
    }
    /// An automod counter of one rule in one guild: `subject` is `user:{id}` (a member's
    /// sliding window), `dup:{user}:{hash}` (repeated text), `joins` (the guild's join
    /// window), `raid` (raid-mode latch) or `punished:{user}` (one punishment per window).
    #[must_use]
    pub fn automod(cluster: &str, guild_id: u64, rule: &str, subject: &str) -> String {
        format!("kyuta:{{{cluster}}}:automod:{guild_id}:{rule}:{subject}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_shard_once() {
        for total in 1..=40u32 {
            for per in 1..=12u32 {
                let l = ShardLayout::new(total, per).unwrap();
                let mut next = 0;
                for i in 0..l.pods() {
                    let r = l.range_for(i).unwrap();
                    assert_eq!(r.start, next);
                    assert!(!r.is_empty());
                    for s in r.clone() {
                        assert_eq!(l.owner_of(s), Some(i));
                    }
                    next = r.end;
                }
                assert_eq!(next, total);
                assert!(l.range_for(l.pods()).is_err());
            }
        }
    }

    #[test]
    fn edges() {
        let l = ShardLayout::new(6, 4).unwrap();
        assert_eq!(l.pods(), 2);
        assert_eq!(l.range_for(1).unwrap(), 4..6);
        assert_eq!(ShardLayout::new(0, 1), Err(LayoutError::ZeroShardTotal));
        assert_eq!(ShardLayout::new(1, 0), Err(LayoutError::ZeroShardsPerPod));
        let big = ShardLayout::new(u32::MAX, u32::MAX - 1).unwrap();
        assert_eq!(big.range_for(1).unwrap(), (u32::MAX - 1)..u32::MAX);
    }

    #[test]
    fn guild_routing_matches_discord() {
        // 41771983423143937 >> 22 = 9959216934, and 9959216934 % 16 = 6
        assert_eq!(shard_for_guild(41_771_983_423_143_937, 1), 0);
        assert_eq!(shard_for_guild(41_771_983_423_143_937, 16), 6);
        assert_eq!(identify_bucket(17, 16), 1);
    }

    #[test]
    fn pod_names() {
        assert_eq!(ordinal_from_pod_name("kyuta-prod-g3-7"), Ok(7));
        assert!(ordinal_from_pod_name("kyuta").is_err());
        assert!(ordinal_from_pod_name("kyuta-x").is_err());
    }

    #[test]
    fn renamed_names_are_reported_only_without_their_new_name() {
        let vars = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            env::renamed_in(vars(&[("SHARD_COUNT", "8"), ("PATH", "/bin")])),
            vec![("SHARD_COUNT", "KYUTA_SHARD_COUNT")]
        );
        assert!(
            env::renamed_in(vars(&[("SHARD_COUNT", "8"), ("KYUTA_SHARD_COUNT", "8")])).is_empty()
        );
        for (old, new) in env::RENAMED {
            assert_eq!(
                *new,
                format!("KYUTA_{old}").replace("HEALTH_CHECK", "HEALTH")
            );
        }
    }

    #[test]
    fn every_key_of_a_cluster_shares_one_hash_tag() {
        use redis_keys::*;
        let c = "prod";
        let keys = [
            cluster_prefix(c),
            session(c, 8, 3),
            shard_owner(c, 8, 3),
            shard_handoff(c, 8, 3),
            identify_bucket(c, 1),
            identify_budget(c),
            rest_log(c),
            shard_load(c, 8, 3),
            shard_fatal(c, 8, 3),
            fleet_guilds(c, 8),
            active_generation(c),
            dedupe(c, 9),
            dedupe_join(c, 1, 2, 3),
            command_registration(c),
            dev_guild_commands(c),
            cooldown(c, "ping", 4),
            automod(c, 5, "r", "user:7"),
        ];
        for key in keys {
            // Redis Cluster hashes the text between the first `{` and the next `}`.
            let tag = key
                .split_once('{')
                .and_then(|(_, rest)| rest.split_once('}'))
                .map(|(tag, _)| tag);
            assert_eq!(tag, Some(c), "{key}");
            assert!(key.starts_with(&cluster_prefix(c)), "{key}");
        }
    }
}
