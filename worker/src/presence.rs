//! Rich presence: the status and activity every shard shows, rotating through a list of
//! activities with live figures.
//!
//! `KYUTA_PRESENCE` lists activities separated by `|`, each `kind:text` with `kind` one of
//! `playing`, `listening`, `watching`, `competing` or `custom` (a custom status shows the text
//! alone). The text may hold `{guilds}` (servers the whole bot is in, summed from the load the
//! fleet publishes to Redis, else this process's), `{shard}` (the shard's id), `{shards}` (the
//! shard total) and `{version}`. Every `KYUTA_PRESENCE_INTERVAL_SECS` each shard sends the next
//! activity (gateway opcode 3, paced with the shard's other sends); the activity shown is picked
//! from the wall clock, so every shard of every pod shows the same one without talking to each
//! other. A list of one activity without `{guilds}` is sent once, when identifying.

use std::{
    fmt,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use kyuta_crds::contract::{load_fields, redis_keys};
use tokio_util::sync::CancellationToken;
use twilight_model::gateway::{
    OpCode,
    payload::outgoing::{UpdatePresence, update_presence::UpdatePresencePayload},
    presence::{Activity, ActivityType, MinimalActivity, Status},
};

use crate::shards::status::ShardStatus;

/// Longest activity text Discord shows (longer names are refused).
pub const MAX_TEXT: usize = 128;

/// How a [`PresenceSpec`] or one of its parts is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    /// An entry has no `kind:` before its text.
    #[error("activity {0:?} has no kind: write it as kind:text, e.g. watching:{{guilds}} servers")]
    NoKind(String),
    /// The kind is not one of the known ones.
    #[error(
        "activity kind {0:?} is unknown: use playing, listening, watching, competing or custom"
    )]
    UnknownKind(String),
    /// The text is empty.
    #[error("activity {0:?} has no text after its kind")]
    EmptyText(String),
    /// The text is too long.
    #[error("activity {0:?} is longer than {MAX_TEXT} characters")]
    TooLong(String),
    /// A `{…}` placeholder is not known.
    #[error(
        "activity {text:?} uses {{{name}}}, which is unknown: use {{guilds}}, {{shard}}, {{shards}} or {{version}}"
    )]
    UnknownPlaceholder {
        /// The activity text.
        text: String,
        /// The placeholder's name.
        name: String,
    },
    /// The status is not one Discord accepts from a bot.
    #[error("presence status {0:?} is unknown: use online, idle, dnd or invisible")]
    UnknownStatus(String),
}

/// One activity of the rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityTemplate {
    /// Playing, Listening, Watching, Competing or Custom.
    pub kind: ActivityType,
    /// The text with its placeholders.
    pub text: String,
}

const PLACEHOLDERS: [&str; 4] = ["guilds", "shard", "shards", "version"];

impl FromStr for ActivityTemplate {
    type Err = PresenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (kind, text) = s
            .split_once(':')
            .ok_or_else(|| PresenceError::NoKind(s.to_owned()))?;
        let kind = match kind.trim().to_ascii_lowercase().as_str() {
            "playing" => ActivityType::Playing,
            "listening" => ActivityType::Listening,
            "watching" => ActivityType::Watching,
            "competing" => ActivityType::Competing,
            "custom" => ActivityType::Custom,
            _ => return Err(PresenceError::UnknownKind(kind.trim().to_owned())),
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(PresenceError::EmptyText(s.to_owned()));
        }
        if text.chars().count() > MAX_TEXT {
            return Err(PresenceError::TooLong(s.to_owned()));
        }
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            let name = &after[..close];
            if !PLACEHOLDERS.contains(&name) {
                return Err(PresenceError::UnknownPlaceholder {
                    text: text.to_owned(),
                    name: name.to_owned(),
                });
            }
            rest = &after[close + 1..];
        }
        Ok(Self {
            kind,
            text: text.to_owned(),
        })
    }
}

/// The figures placeholders stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceVars {
    /// Servers the bot is in.
    pub guilds: u64,
    /// The shard's id.
    pub shard: u32,
    /// The shard total.
    pub shards: u32,
}

impl ActivityTemplate {
    /// The text with its placeholders filled in, cut to [`MAX_TEXT`] characters.
    #[must_use]
    pub fn render_text(&self, vars: PresenceVars) -> String {
        let text = self
            .text
            .replace("{guilds}", &group_thousands(vars.guilds))
            .replace("{shards}", &vars.shards.to_string())
            .replace("{shard}", &vars.shard.to_string())
            .replace("{version}", env!("CARGO_PKG_VERSION"));
        text.chars().take(MAX_TEXT).collect()
    }

    /// The activity Discord is sent.
    #[must_use]
    pub fn render(&self, vars: PresenceVars) -> Activity {
        let text = self.render_text(vars);
        if self.kind == ActivityType::Custom {
            let mut a = Activity::from(MinimalActivity {
                kind: ActivityType::Custom,
                name: "Custom Status".to_owned(),
                url: None,
            });
            a.state = Some(text);
            a
        } else {
            Activity::from(MinimalActivity {
                kind: self.kind,
                name: text,
                url: None,
            })
        }
    }

    fn is_live(&self) -> bool {
        self.text.contains("{guilds}")
    }
}

/// `1234567` → `1,234,567`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A parsed `KYUTA_PRESENCE`: the activities in rotation order (none → status only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresenceSpec(pub Vec<ActivityTemplate>);

impl FromStr for PresenceSpec {
    type Err = PresenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split('|')
            .filter(|p| !p.trim().is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl fmt::Display for PresenceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            let kind = match a.kind {
                ActivityType::Playing => "playing",
                ActivityType::Listening => "listening",
                ActivityType::Competing => "competing",
                ActivityType::Custom => "custom",
                _ => "watching",
            };
            write!(f, "{kind}:{}", a.text)?;
        }
        Ok(())
    }
}

/// Parses a bot status (`online`, `idle`, `dnd`, `invisible`).
///
/// # Errors
/// [`PresenceError::UnknownStatus`] for anything else.
pub fn parse_status(s: &str) -> Result<Status, PresenceError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "online" => Ok(Status::Online),
        "idle" => Ok(Status::Idle),
        "dnd" => Ok(Status::DoNotDisturb),
        "invisible" => Ok(Status::Invisible),
        _ => Err(PresenceError::UnknownStatus(s.to_owned())),
    }
}

/// What every shard of the process shows, and the fleet's guild count behind `{guilds}`.
#[derive(Debug)]
pub struct Presence {
    spec: PresenceSpec,
    status: Status,
    interval: Duration,
    guilds: AtomicU64,
}

impl Presence {
    /// A presence rotating through `spec` every `interval`.
    #[must_use]
    pub fn new(spec: PresenceSpec, status: Status, interval: Duration) -> Self {
        Self {
            spec,
            status,
            interval: interval.max(Duration::from_secs(1)),
            guilds: AtomicU64::new(0),
        }
    }

    /// How often shards send the next activity; `None` when nothing ever changes (one
    /// activity without live figures, or none).
    #[must_use]
    pub fn rotation(&self) -> Option<Duration> {
        let changes = self.spec.0.len() > 1 || self.spec.0.iter().any(ActivityTemplate::is_live);
        changes.then_some(self.interval)
    }

    /// Index of the activity shown at `unix_secs`: the same on every shard and pod.
    #[must_use]
    pub fn index_at(&self, unix_secs: u64) -> usize {
        if self.spec.0.is_empty() {
            return 0;
        }
        let slot = unix_secs / self.interval.as_secs().max(1);
        usize::try_from(slot % self.spec.0.len() as u64).unwrap_or(0)
    }

    /// Sets the guild count `{guilds}` shows.
    pub fn set_guilds(&self, n: u64) {
        self.guilds.store(n, Ordering::Relaxed);
    }

    /// The guild count `{guilds}` shows.
    #[must_use]
    pub fn guilds(&self) -> u64 {
        self.guilds.load(Ordering::Relaxed)
    }

    /// The presence payload for `shard` of `shards` at `unix_secs`.
    #[must_use]
    pub fn payload(&self, shard: u32, shards: u32, unix_secs: u64) -> UpdatePresencePayload {
        let vars = PresenceVars {
            guilds: self.guilds(),
            shard,
            shards,
        };
        let activities: Vec<Activity> = self
            .spec
            .0
            .get(self.index_at(unix_secs))
            .map(|a| a.render(vars))
            .into_iter()
            .collect();
        // Built directly: twilight's constructor insists on an activity, Discord does not.
        UpdatePresencePayload {
            activities,
            afk: false,
            since: None,
            status: self.status,
        }
    }

    /// The gateway command (opcode 3) for `shard` of `shards` at `unix_secs`.
    #[must_use]
    pub fn command(&self, shard: u32, shards: u32, unix_secs: u64) -> UpdatePresence {
        UpdatePresence {
            d: self.payload(shard, shards, unix_secs),
            op: OpCode::PresenceUpdate,
        }
    }

    /// Whether any activity shows `{guilds}`.
    #[must_use]
    pub fn needs_guild_count(&self) -> bool {
        self.spec.0.iter().any(ActivityTemplate::is_live)
    }
}

/// Now in Unix seconds.
#[must_use]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Sums the guilds of every shard of the fleet from the load workers publish to Redis.
///
/// # Errors
/// The Redis error when the read fails.
pub async fn fleet_guilds(
    conn: &mut kyuta_redis::Conn,
    cluster: &str,
    shard_total: u32,
) -> redis::RedisResult<u64> {
    let mut pipe = redis::pipe();
    for shard in 0..shard_total {
        pipe.hget(
            redis_keys::shard_load(cluster, shard_total, shard),
            load_fields::GUILDS,
        );
    }
    let counts: Vec<Option<u64>> = pipe.query_async(conn).await?;
    Ok(counts.into_iter().flatten().sum())
}

/// The fleet's guild count, shared: read from [`redis_keys::fleet_guilds`] while it lives, and
/// otherwise summed with [`fleet_guilds`] and written there for `ttl`. So a fleet of P pods
/// reads one key per pod per refresh, and sums the S shard loads about once per `ttl`,
/// instead of P × S reads.
///
/// # Errors
/// The Redis error when a read or the write fails.
pub async fn shared_fleet_guilds(
    conn: &mut kyuta_redis::Conn,
    cluster: &str,
    shard_total: u32,
    ttl: Duration,
) -> redis::RedisResult<u64> {
    let key = redis_keys::fleet_guilds(cluster, shard_total);
    let cached: Option<u64> = redis::cmd("GET").arg(&key).query_async(conn).await?;
    if let Some(n) = cached {
        return Ok(n);
    }
    let n = fleet_guilds(conn, cluster, shard_total).await?;
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(n)
        .arg("PX")
        .arg(ttl_ms)
        .query_async(conn)
        .await?;
    Ok(n)
}

/// Keeps [`Presence::guilds`] current: from Redis (the whole fleet) every `every`, and from
/// this process's shards when Redis is absent or a read fails.
pub async fn guild_count_loop(
    presence: Arc<Presence>,
    redis: Option<kyuta_redis::Conn>,
    cluster: String,
    status: Arc<ShardStatus>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let local: u64 = status.all().values().map(|s| s.guilds).sum();
        let fleet = match &redis {
            Some(conn) => {
                let mut c = conn.clone();
                match shared_fleet_guilds(&mut c, &cluster, status.shard_total(), every).await {
                    Ok(n) => Some(n),
                    Err(e) => {
                        tracing::debug!(error = %e, "fleet guild count unavailable; using this process's");
                        None
                    }
                }
            }
            None => None,
        };
        // The fleet's figure lags by up to the load refresh; never show fewer than we hold.
        presence.set_guilds(fleet.unwrap_or(0).max(local));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> PresenceVars {
        PresenceVars {
            guilds: 1_234_567,
            shard: 3,
            shards: 16,
        }
    }

    #[test]
    fn parses_and_renders() {
        let spec: PresenceSpec = "watching:{guilds} servers | custom:shard {shard}/{shards}"
            .parse()
            .unwrap();
        assert_eq!(spec.0.len(), 2);
        assert_eq!(spec.0[0].kind, ActivityType::Watching);
        assert_eq!(spec.0[0].render_text(vars()), "1,234,567 servers");
        let custom = spec.0[1].render(vars());
        assert_eq!(custom.kind, ActivityType::Custom);
        assert_eq!(custom.state.as_deref(), Some("shard 3/16"));
        assert_eq!(
            spec.to_string(),
            "watching:{guilds} servers|custom:shard {shard}/{shards}"
        );
        assert_eq!("".parse::<PresenceSpec>().unwrap(), PresenceSpec::default());
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let err = |s: &str| s.parse::<PresenceSpec>().unwrap_err().to_string();
        assert!(err("servers").contains("no kind"), "{}", err("servers"));
        assert!(err("streaming:x").contains("unknown"));
        assert!(err("watching:  ").contains("no text"));
        assert!(err("watching:{guild} servers").contains("{guild}"));
        assert!(err(&format!("playing:{}", "x".repeat(129))).contains("128"));
        assert!(
            parse_status("away")
                .unwrap_err()
                .to_string()
                .contains("online, idle")
        );
        assert_eq!(parse_status("DND").unwrap(), Status::DoNotDisturb);
    }

    #[test]
    fn rotation_is_shared_through_the_clock() {
        let spec: PresenceSpec = "playing:a|playing:b|playing:c".parse().unwrap();
        let p = Presence::new(spec, Status::Online, Duration::from_secs(60));
        assert_eq!(p.rotation(), Some(Duration::from_secs(60)));
        assert_eq!(p.index_at(0), 0);
        assert_eq!(p.index_at(59), 0);
        assert_eq!(p.index_at(60), 1);
        assert_eq!(p.index_at(180), 0);
        let name = |t| p.payload(0, 1, t).activities[0].name.clone();
        assert_eq!(
            (name(0), name(61), name(125)),
            ("a".into(), "b".into(), "c".into())
        );

        let still = Presence::new(
            "watching:/help".parse().unwrap(),
            Status::Idle,
            Duration::from_secs(60),
        );
        assert_eq!(still.rotation(), None);
        assert_eq!(still.payload(0, 1, 0).status, Status::Idle);
        let live = Presence::new(
            "watching:{guilds} servers".parse().unwrap(),
            Status::Online,
            Duration::from_secs(60),
        );
        assert!(live.rotation().is_some() && live.needs_guild_count());
        live.set_guilds(2500);
        assert_eq!(live.payload(0, 1, 0).activities[0].name, "2,500 servers");
        let none = Presence::new(
            PresenceSpec::default(),
            Status::Online,
            Duration::from_secs(60),
        );
        assert!(none.payload(0, 1, 0).activities.is_empty());
        assert_eq!(none.rotation(), None);
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(12_345_678), "12,345,678");
    }
}
