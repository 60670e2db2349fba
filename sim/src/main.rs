//! The `kyuta-sim` binary: see `kyuta-sim --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    kyuta_sim::run(kyuta_sim::Args::parse()).await
}
