//! The `kyuta-operator` binary.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use kyuta_crds::LogFormat;
use tracing_subscriber::EnvFilter;

/// Sizes Discord shard fleets described by KyutaCluster resources and runs them as
/// StatefulSets.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address of /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "KYUTA_OPERATOR_METRICS_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    metrics_addr: SocketAddr,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "KYUTA_OPERATOR_NAMESPACE")]
    namespace: Option<String>,
    /// Elect a leader through a Lease (turn off only for a single replica).
    #[arg(long, env = "KYUTA_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Namespace of the leader Lease.
    #[arg(long, env = "KYUTA_POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Name of the leader Lease.
    #[arg(
        long,
        env = "KYUTA_OPERATOR_LEASE_NAME",
        default_value = "kyuta-operator"
    )]
    lease_name: String,
    /// Seconds a leader holds the Lease without renewing.
    #[arg(long, env = "KYUTA_OPERATOR_LEASE_SECONDS", default_value_t = 15)]
    lease_seconds: u64,
    /// Name of this replica (Lease holder, Event reporter).
    #[arg(long, env = kyuta_crds::contract::env::POD_NAME, default_value = "kyuta-operator")]
    identity: String,
    /// Seconds a GET /gateway/bot answer is reused per cluster.
    #[arg(
        long,
        env = "KYUTA_OPERATOR_GATEWAY_REFRESH_SECONDS",
        default_value_t = 60
    )]
    gateway_refresh_seconds: u64,
    /// Seconds a new generation gets to have every pod Ready before its reshard is given up,
    /// plus the time Discord's identify rate limit needs for its shards.
    #[arg(
        long,
        env = "KYUTA_OPERATOR_RESHARD_DEADLINE_SECONDS",
        default_value_t = 600
    )]
    reshard_deadline_seconds: u64,
    /// Log format: text or json.
    #[arg(long, env = kyuta_crds::contract::env::LOG_FORMAT, default_value = "text", value_parser = clap::builder::ValueParser::new(str::parse::<LogFormat>))]
    log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax, e.g. `info,kyuta_operator=debug`).
    #[arg(long, env = kyuta_crds::contract::env::LOG_LEVEL, default_value = "info", value_parser = parse_log_filter)]
    log_level: String,
}

fn parse_log_filter(s: &str) -> Result<String, String> {
    EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("{s:?} is not a log filter: {e}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for (old, new) in kyuta_crds::contract::env::renamed_in(std::env::vars()) {
        eprintln!("kyuta-operator: {old} is set but no longer read: the setting is now {new}");
    }
    let filter = EnvFilter::new(&args.log_level);
    // Colours only on a terminal, never in a file or a pod's log.
    let ansi = std::io::stdout().is_terminal();
    if args.log_format == LogFormat::Json {
        tracing_subscriber::fmt()
            .json()
            .with_ansi(ansi)
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_ansi(ansi)
            .with_env_filter(filter)
            .init();
    }
    kyuta_operator::run(kyuta_operator::Config {
        metrics_addr: Some(args.metrics_addr),
        namespace: args.namespace,
        leader_election: args
            .leader_election
            .then(|| kyuta_operator::LeaderElection {
                namespace: args.lease_namespace,
                name: args.lease_name,
                lease_duration: Duration::from_secs(args.lease_seconds.max(3)),
            }),
        gateway_refresh: Duration::from_secs(args.gateway_refresh_seconds.max(1)),
        gateway_retry: Duration::from_secs(10),
        identity: args.identity,
        reshard_deadline: Duration::from_secs(args.reshard_deadline_seconds),
    })
    .await
}
