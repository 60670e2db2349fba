//! Worker configuration: every setting comes from a flag or an environment variable (and a
//! `.env` file when present). Invalid configuration is one clear error naming the setting.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use clap::{CommandFactory, Parser, error::ContextKind};
use kyuta_crds::contract::{self, LayoutError, ShardLayout};

/// The bot token. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, for the Discord clients. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl FromStr for Token {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let s = s.strip_prefix("Bot ").unwrap_or(s);
        if s.is_empty() {
            return Err("the token is empty".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the token contains whitespace or control characters".into());
        }
        Ok(Self(s.to_owned()))
    }
}

/// A URL that may carry credentials (Redis, MongoDB); `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The full URL, credentials included. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any `user:password@` replaced by `***@`.
    #[must_use]
    pub fn redacted(&self) -> String {
        kyuta_crds::cluster::redact_userinfo(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl FromStr for SecretUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the URL is empty".into());
        }
        if !s.contains("://") {
            return Err("expected a URL such as scheme://host:port".into());
        }
        Ok(Self(s.to_owned()))
    }
}

/// `KYUTA_SHARD_COUNT`: `auto` (Discord's recommendation from `/gateway/bot`) or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardCount {
    /// Ask Discord.
    Auto,
    /// A fixed total.
    Fixed(u32),
}

impl FromStr for ShardCount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        match s.parse::<u32>() {
            Ok(0) => Err("must be `auto` or at least 1".into()),
            Ok(n) => Ok(Self::Fixed(n)),
            Err(_) => Err(format!("{s:?} is neither `auto` nor a whole number")),
        }
    }
}

/// Log line format (`text` or `json`), the same setting the operator passes down.
pub use kyuta_crds::LogFormat;

/// A feature flag the worker knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Per-guild activity counts and `/stats`.
    Analytics,
}

impl Feature {
    /// Every flag the worker knows.
    pub const ALL: [Self; 1] = [Self::Analytics];

    /// The flag's name in `KYUTA_FEATURES`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Analytics => "analytics",
        }
    }
}

/// Feature flags (`KYUTA_FEATURES`, comma-separated, any case). Names the worker does not
/// know are kept apart: they have no effect, and the worker warns about them at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    on: Vec<Feature>,
    unknown: Vec<String>,
}

impl Features {
    /// Whether `feature` is on.
    #[must_use]
    pub fn enabled(&self, feature: Feature) -> bool {
        self.on.contains(&feature)
    }

    /// The names given that the worker does not know (lowercased).
    #[must_use]
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    /// These flags plus `feature`.
    #[must_use]
    pub fn with(mut self, feature: Feature) -> Self {
        if !self.enabled(feature) {
            self.on.push(feature);
        }
        self
    }
}

impl FromStr for Features {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = Self::default();
        for f in s.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            if !f
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "feature flag {f:?} may hold only letters, digits, '-' and '_'"
                ));
            }
            let name = f.to_ascii_lowercase();
            match Feature::ALL.into_iter().find(|k| k.name() == name) {
                Some(k) => out = out.with(k),
                None if !out.unknown.contains(&name) => out.unknown.push(name),
                None => {}
            }
        }
        Ok(out)
    }
}

fn parse_http_origin(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let ok = s.starts_with("http://") || s.starts_with("https://");
    if !ok || s.len() <= "https://".len() {
        return Err(format!(
            "{s:?} is not an http(s) origin such as http://127.0.0.1:8080"
        ));
    }
    Ok(s.to_owned())
}

fn parse_ws_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let ok = s.starts_with("ws://") || s.starts_with("wss://");
    if !ok || s.len() <= "wss://".len() {
        return Err(format!(
            "{s:?} is not a ws(s) URL such as ws://127.0.0.1:8081"
        ));
    }
    Ok(s.to_owned())
}

fn parse_log_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("{s:?} is not a log filter: {e}"))
}

fn parse_cluster(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.len() > 63
        || !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "{s:?} must be 1–63 lowercase letters, digits or '-'"
        ));
    }
    Ok(s.to_owned())
}

/// Every setting of the worker. Flags override environment variables, which override `.env`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kyuta-worker",
    version,
    about = "The Kyuta bot: runs a contiguous range of Discord shards and serves moderation commands.",
    long_about = "The Kyuta bot: runs a contiguous range of Discord shards and serves moderation \
commands.\n\nEvery setting can be given as a flag or as the environment variable shown in \
brackets; a .env file in the working directory is read when present.\n\nTry it without \
Discord: `kyuta-worker --local` starts a simulated Discord with a demo server in-process."
)]
pub struct Config {
    /// Run against an in-process Discord simulator with a demo server (no token, no servers
    /// needed): the embedded store in the working directory and the in-process cache.
    #[arg(long)]
    pub local: bool,

    /// Port of the simulator's HTTP API in --local mode (gateway, REST and control API).
    #[arg(long, env = "KYUTA_LOCAL_PORT", default_value_t = 7878)]
    pub local_port: u16,

    /// Bot token (required unless --local). Never logged.
    #[arg(
        long,
        env = contract::env::DISCORD_TOKEN,
        hide_env_values = true,
        required_unless_present = "local"
    )]
    pub discord_token: Option<Token>,

    /// Application id; read from /applications/@me when absent.
    #[arg(long, env = "KYUTA_CLIENT_ID")]
    pub client_id: Option<u64>,

    /// Register slash commands in this guild only (development) instead of globally.
    #[arg(long, env = contract::env::GUILD_ID)]
    pub guild_id: Option<u64>,

    /// Prefix of text commands; guilds can override it in their configuration.
    #[arg(long, env = contract::env::PREFIX, default_value = "k!", value_parser = crate::input::parse_prefix)]
    pub prefix: String,

    /// MongoDB URI; absent → the embedded store in a single file (see --store-path).
    #[arg(long, env = contract::env::MONGO_URI, hide_env_values = true)]
    pub mongo_uri: Option<SecretUrl>,

    /// MongoDB database name.
    #[arg(long, env = "KYUTA_MONGO_DATABASE", default_value = "kyuta")]
    pub mongo_database: String,

    /// File of the embedded store (used when MONGO_URI is absent).
    #[arg(long, env = "KYUTA_STORE_PATH", default_value = "kyuta.redb")]
    pub store_path: PathBuf,

    /// Redis URL; absent → identify pacing, sessions, cooldowns and REST budget in-process.
    #[arg(long, env = contract::env::REDIS_URL, hide_env_values = true)]
    pub redis_url: Option<SecretUrl>,

    /// Total shards: `auto` (Discord's recommendation) or a number.
    #[arg(long, env = contract::env::SHARD_COUNT, default_value = "auto")]
    pub shard_count: ShardCount,

    /// Shards each pod owns; absent → this worker runs every shard.
    #[arg(long, env = contract::env::SHARDS_PER_POD)]
    pub shards_per_pod: Option<u32>,

    /// Pod name; its trailing ordinal picks the shard range (`kyuta-prod-g3-7` → 7).
    #[arg(long, env = contract::env::POD_NAME)]
    pub pod_name: Option<String>,

    /// Pod ordinal, instead of deriving it from KYUTA_POD_NAME.
    #[arg(long, env = contract::env::POD_ORDINAL)]
    pub pod_ordinal: Option<u32>,

    /// Name of the KyutaCluster; namespaces every Redis key.
    #[arg(long, env = contract::env::CLUSTER_NAME, default_value = "default", value_parser = parse_cluster)]
    pub cluster: String,

    /// Generation of this worker's StatefulSet (set by the operator). With Redis, only the
    /// active generation handles interactions, messages and joins, each exactly once; absent →
    /// every event is handled.
    #[arg(long, env = contract::env::GENERATION)]
    pub generation: Option<u32>,

    /// Origin under which /api/v10 lives (e.g. the simulator's http://127.0.0.1:PORT).
    #[arg(long, env = contract::env::DISCORD_API_URL, value_parser = parse_http_origin)]
    pub discord_api_url: Option<String>,

    /// Gateway URL override (e.g. ws://127.0.0.1:PORT); default: Discord's from /gateway/bot.
    #[arg(long, env = contract::env::DISCORD_GATEWAY_URL, value_parser = parse_ws_url)]
    pub discord_gateway_url: Option<String>,

    /// Identify window in milliseconds (Discord's is 5000; shorter only against a simulator).
    #[arg(long, env = contract::env::IDENTIFY_WINDOW_MS, default_value_t = contract::IDENTIFY_WINDOW_MS)]
    pub identify_window_ms: u64,

    /// Port of /metrics.
    #[arg(long, env = contract::env::METRICS_PORT, default_value_t = 9100)]
    pub metrics_port: u16,

    /// Port of /health and /ready.
    #[arg(long, env = contract::env::HEALTH_CHECK_PORT, default_value_t = 8080)]
    pub health_check_port: u16,

    /// Address the metrics and health servers bind to.
    #[arg(long, env = "KYUTA_BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: std::net::IpAddr,

    /// Log filter (e.g. `info`, `kyuta_worker=debug,info`).
    #[arg(long, env = contract::env::LOG_LEVEL, default_value = "info", value_parser = parse_log_filter)]
    pub log_level: String,

    /// Log format.
    #[arg(long, env = contract::env::LOG_FORMAT, default_value = "text", value_parser = clap::builder::ValueParser::new(str::parse::<LogFormat>))]
    pub log_format: LogFormat,

    /// Commands running at once; more wait for a slot.
    #[arg(long, env = "KYUTA_MAX_CONCURRENT_COMMANDS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_concurrent_commands: u32,

    /// An interaction whose command has not answered after this many milliseconds is deferred
    /// (Discord's deadline is 3000).
    #[arg(long, env = "KYUTA_DEFER_AFTER_MS", default_value_t = 1500, value_parser = clap::value_parser!(u64).range(1..=2800))]
    pub defer_after_ms: u64,

    /// Seconds to let in-flight commands finish on shutdown.
    #[arg(long, env = "KYUTA_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,

    /// Lifetime of a saved gateway session, in seconds (Discord keeps sessions only briefly).
    #[arg(long, env = "KYUTA_SESSION_TTL_SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub session_ttl_secs: u64,

    /// Without Redis, saved sessions go to this file; `none` keeps them in memory only.
    #[arg(
        long,
        env = "KYUTA_SESSION_FILE",
        default_value = "kyuta-sessions.json"
    )]
    pub session_file: PathBuf,

    /// Register slash commands at start (one pod does it: ordinal 0 or the Redis lock holder).
    #[arg(long, env = "KYUTA_REGISTER_COMMANDS", default_value_t = true, action = clap::ArgAction::Set)]
    pub register_commands: bool,

    /// Guilds the in-process cache holds at most.
    #[arg(long, env = "KYUTA_CACHE_MAX_GUILDS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_max_guilds: u64,

    /// Fleet-wide REST budget in requests per second (Discord allows 50 per bot).
    #[arg(long, env = "KYUTA_REST_PER_SECOND", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub rest_per_second: u32,

    /// Activities the bot shows, separated by `|`, each `kind:text` (kind: playing, listening,
    /// watching, competing, custom). The text may use {guilds}, {shard}, {shards}, {version}.
    /// Empty → status only.
    #[arg(
        long,
        env = contract::env::PRESENCE,
        default_value = "watching:/help|watching:{guilds} servers"
    )]
    pub presence: crate::presence::PresenceSpec,

    /// Status the bot shows: online, idle, dnd or invisible.
    #[arg(long, env = contract::env::PRESENCE_STATUS, default_value = "online", value_parser = crate::presence::parse_status)]
    pub presence_status: twilight_model::gateway::presence::Status,

    /// Seconds each activity is shown before the next (and between updates of {guilds}).
    #[arg(long, env = "KYUTA_PRESENCE_INTERVAL_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub presence_interval_secs: u64,

    /// Comma-separated feature flags. Known: `analytics` (per-guild activity counts and
    /// `/stats`). Other names are accepted, have no effect, and are named in a warning at
    /// start.
    #[arg(long, env = contract::env::FEATURES, default_value = "")]
    pub features: Features,

    /// The privileged intents to use: `auto` (those the application has enabled, from
    /// `GET /applications/@me`), `none`, or a list of `members`, `message_content`
    /// (see `crate::intents`).
    #[arg(long, env = contract::env::PRIVILEGED_INTENTS, default_value = "auto")]
    pub privileged_intents: crate::intents::PrivilegedIntents,
}

/// Which shards this process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlan {
    /// Total shards of the generation.
    pub shard_total: u32,
    /// The shards this process owns.
    pub owned: std::ops::Range<u32>,
    /// This pod's ordinal (0 when one process runs everything).
    pub ordinal: u32,
}

/// A configuration error: names the setting and says what is wrong. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {setting}: {message}")]
pub struct ConfigError {
    /// The setting (environment variable name, or flag when it has none).
    pub setting: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `setting`.
    #[must_use]
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// The outcome of reading the command line: run, or print something and exit.
#[derive(Debug)]
pub enum Loaded {
    /// A valid configuration.
    Run(Box<Config>),
    /// `--help` or `--version`: print this to stdout and exit 0.
    Print(String),
}

impl Config {
    /// Reads `.env` (when present), the environment and `args`; validates everything.
    pub fn load_from<I, T>(args: I) -> Result<Loaded, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        // A .env file is optional; a malformed one is an error worth reporting.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::new(".env", e.to_string())),
        }
        let config = match Self::try_parse_from(args) {
            Ok(c) => c,
            Err(e) => {
                use clap::error::ErrorKind;
                return match e.kind() {
                    ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                        Ok(Loaded::Print(e.render().to_string()))
                    }
                    _ => Err(clap_to_config_error(&e)),
                };
            }
        };
        config.validate()?;
        Ok(Loaded::Run(Box::new(config)))
    }

    /// Checks what clap cannot check alone.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.shards_per_pod == Some(0) {
            return Err(ConfigError::new(
                contract::env::SHARDS_PER_POD,
                "must be at least 1",
            ));
        }
        if let Some(name) = &self.pod_name
            && self.pod_ordinal.is_none()
            && self.shards_per_pod.is_some()
        {
            contract::ordinal_from_pod_name(name)
                .map_err(|e| ConfigError::new(contract::env::POD_NAME, e.to_string()))?;
        }
        if let (ShardCount::Fixed(total), Some(per)) = (self.shard_count, self.shards_per_pod) {
            self.plan(total).map_err(|e| match e {
                LayoutError::OrdinalOutOfRange { .. } => {
                    ConfigError::new(self.ordinal_setting(), e.to_string())
                }
                other => ConfigError::new(
                    contract::env::SHARD_COUNT,
                    format!("{other} ({per} per pod)"),
                ),
            })?;
        }
        if self.identify_window_ms == 0 {
            return Err(ConfigError::new(
                contract::env::IDENTIFY_WINDOW_MS,
                "must be at least 1",
            ));
        }
        if self.metrics_port != 0 && self.metrics_port == self.health_check_port {
            return Err(ConfigError::new(
                contract::env::HEALTH_CHECK_PORT,
                format!(
                    "is the same port as KYUTA_METRICS_PORT ({}); give them different ports",
                    self.metrics_port
                ),
            ));
        }
        if self.mongo_database.is_empty() {
            return Err(ConfigError::new("KYUTA_MONGO_DATABASE", "is empty"));
        }
        Ok(())
    }

    fn ordinal_setting(&self) -> &'static str {
        if self.pod_ordinal.is_some() {
            contract::env::POD_ORDINAL
        } else {
            contract::env::POD_NAME
        }
    }

    /// The pod ordinal: `KYUTA_POD_ORDINAL`, else the suffix of `KYUTA_POD_NAME`, else 0.
    pub fn ordinal(&self) -> Result<u32, LayoutError> {
        match (self.pod_ordinal, &self.pod_name) {
            (Some(o), _) => Ok(o),
            (None, Some(name)) if self.shards_per_pod.is_some() => {
                contract::ordinal_from_pod_name(name)
            }
            _ => Ok(0),
        }
    }

    /// The shards this process runs out of `shard_total`: its pod's range, or all of them
    /// when no shards-per-pod is configured.
    pub fn plan(&self, shard_total: u32) -> Result<ShardPlan, LayoutError> {
        let per = self.shards_per_pod.unwrap_or(shard_total.max(1));
        let layout = ShardLayout::new(shard_total, per)?;
        let ordinal = if self.shards_per_pod.is_some() {
            self.ordinal()?
        } else {
            0
        };
        Ok(ShardPlan {
            shard_total,
            owned: layout.range_for(ordinal)?,
            ordinal,
        })
    }

    /// The token; `None` only in --local mode before the simulator supplies one.
    #[must_use]
    pub fn token(&self) -> Option<&Token> {
        self.discord_token.as_ref()
    }

    /// The defer deadline for slow interactions.
    #[must_use]
    pub fn defer_after(&self) -> Duration {
        Duration::from_millis(self.defer_after_ms)
    }

    /// The identify window.
    #[must_use]
    pub fn identify_window(&self) -> Duration {
        Duration::from_millis(self.identify_window_ms)
    }

    /// The shutdown grace period.
    #[must_use]
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// A configuration for tests and the local mode: every default, no token.
    #[must_use]
    pub fn defaults() -> Self {
        Self::parse_from(["kyuta-worker", "--local"])
    }
}

/// Turns a clap error into a [`ConfigError`] naming the setting by its environment variable.
fn clap_to_config_error(e: &clap::Error) -> ConfigError {
    use clap::error::ErrorKind;
    let cmd = Config::command();
    let arg_text = e
        .get(ContextKind::InvalidArg)
        .map(ToString::to_string)
        .unwrap_or_default();
    // "--shard-count <SHARD_COUNT>" → "shard-count"
    let long = arg_text
        .trim_start_matches('-')
        .split(|c: char| c.is_whitespace() || c == '=')
        .next()
        .unwrap_or_default()
        .to_owned();
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(long.as_str()));
    let setting = arg
        .and_then(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .or_else(|| (!long.is_empty()).then(|| format!("--{long}")))
        .unwrap_or_else(|| "command line".to_owned());
    let message = match e.kind() {
        ErrorKind::MissingRequiredArgument => {
            "is not set (required; or run with --local to try the bot against a simulator)"
                .to_owned()
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            // clap's source error is ours (never echoes the token: Token's parser does not).
            let value = e
                .get(ContextKind::InvalidValue)
                .map(ToString::to_string)
                .filter(|_| setting != contract::env::DISCORD_TOKEN);
            let reason = std::error::Error::source(e)
                .map(ToString::to_string)
                .or_else(|| {
                    e.get(ContextKind::ValidValue)
                        .map(|v| format!("expected one of: {v}"))
                })
                .unwrap_or_else(|| "invalid value".to_owned());
            match value {
                Some(v) if !reason.contains(&v) => format!("invalid value {v:?}: {reason}"),
                _ => reason,
            }
        }
        ErrorKind::UnknownArgument => {
            return ConfigError::new(
                "command line",
                format!("unknown argument {arg_text}; see --help"),
            );
        }
        _ => {
            // Render without the usage block; the token is never part of it (hidden values).
            let text = e.render().to_string();
            text.lines()
                .next()
                .unwrap_or("invalid command line")
                .trim_start_matches("error: ")
                .to_owned()
        }
    };
    ConfigError::new(setting, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str]) -> Result<Config, ConfigError> {
        let mut all = vec!["kyuta-worker"];
        all.extend_from_slice(args);
        match Config::try_parse_from(all) {
            Ok(c) => c.validate().map(|()| c),
            Err(e) => Err(clap_to_config_error(&e)),
        }
    }

    #[test]
    fn token_is_redacted() {
        let c = load(&["--discord-token", "abc.def.secret"]).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        assert_eq!(c.token().unwrap().expose(), "abc.def.secret");
    }

    #[test]
    fn secret_urls_hide_passwords() {
        let u: SecretUrl = "redis://user:hunter2@127.0.0.1:6379/0".parse().unwrap();
        assert_eq!(u.redacted(), "redis://***@127.0.0.1:6379/0");
        assert!(!format!("{u:?}").contains("hunter2"));
        let plain: SecretUrl = "redis://127.0.0.1:6379".parse().unwrap();
        assert_eq!(plain.redacted(), "redis://127.0.0.1:6379");
    }

    #[test]
    fn missing_token_names_the_setting() {
        let e = load(&[]).unwrap_err();
        assert_eq!(e.setting, "DISCORD_TOKEN");
        assert!(load(&["--local"]).is_ok());
    }

    #[test]
    fn bad_values_name_the_setting() {
        let e = load(&["--local", "--shard-count", "lots"]).unwrap_err();
        assert_eq!(e.setting, "KYUTA_SHARD_COUNT", "{e}");
        assert!(e.message.contains("lots"), "{e}");
        let e = load(&["--local", "--metrics-port", "99999"]).unwrap_err();
        assert_eq!(e.setting, "KYUTA_METRICS_PORT", "{e}");
        let e = load(&["--local", "--max-concurrent-commands", "0"]).unwrap_err();
        assert_eq!(e.setting, "KYUTA_MAX_CONCURRENT_COMMANDS", "{e}");
        let e = load(&["--local", "--discord-api-url", "ftp://x"]).unwrap_err();
        assert_eq!(e.setting, "KYUTA_DISCORD_API_URL", "{e}");
        let e = load(&["--local", "--log-format", "xml"]).unwrap_err();
        assert_eq!(e.setting, "KYUTA_LOG_FORMAT", "{e}");
        let e = load(&["--discord-token", "a b"]).unwrap_err();
        assert_eq!(e.setting, "DISCORD_TOKEN", "{e}");
        assert!(!e.message.contains("a b"), "{e}");
    }

    #[test]
    fn shard_plans() {
        let c = load(&["--local"]).unwrap();
        assert_eq!(c.plan(8).unwrap().owned, 0..8);
        let c = load(&[
            "--local",
            "--shards-per-pod",
            "4",
            "--pod-name",
            "kyuta-x-g1-1",
        ])
        .unwrap();
        assert_eq!(c.plan(8).unwrap().owned, 4..8);
        let c = load(&["--local", "--shards-per-pod", "3", "--pod-ordinal", "2"]).unwrap();
        assert_eq!(c.plan(8).unwrap().owned, 6..8);
        let e = load(&[
            "--local",
            "--shard-count",
            "8",
            "--shards-per-pod",
            "4",
            "--pod-ordinal",
            "2",
        ])
        .unwrap_err();
        assert_eq!(e.setting, "KYUTA_POD_ORDINAL", "{e}");
        let e = load(&["--local", "--shards-per-pod", "4", "--pod-name", "kyuta"]).unwrap_err();
        assert_eq!(e.setting, "KYUTA_POD_NAME", "{e}");
    }

    #[test]
    fn same_ports_are_refused() {
        let e = load(&[
            "--local",
            "--metrics-port",
            "9000",
            "--health-check-port",
            "9000",
        ])
        .unwrap_err();
        assert_eq!(e.setting, "KYUTA_HEALTH_PORT");
    }

    #[test]
    fn features_and_prefix() {
        let c = load(&[
            "--local",
            "--features",
            "Analytics, presence",
            "--prefix",
            "?",
        ])
        .unwrap();
        assert!(c.features.enabled(Feature::Analytics));
        assert_eq!(c.features.unknown(), ["presence"]);
        assert_eq!(c.prefix, "?");
        assert_eq!(
            load(&["--local", "--prefix", "a b"]).unwrap_err().setting,
            "KYUTA_PREFIX"
        );
    }
}
