//! The Kyuta worker: runs a contiguous range of Discord shards and serves the bot.
//!
//! Modules by concern: [`config`] (every setting), [`gateway`] (shards, identify queue,
//! sessions, readiness), [`rest`] (the REST client with the fleet-wide budget), [`commands`]
//! (registry, parsing, checks, the general commands), [`telemetry`] (metrics, health),
//! [`moderation`] and [`automod`] over [`action`] (the kind of every action on a member).

pub mod action;
pub mod analytics;
pub mod automod;
pub mod backends;
pub mod cache;
pub mod clock;
pub mod commands;
pub mod config;
pub mod duration;
pub mod gateway;
pub mod hash;
pub mod i18n;
pub mod input;
pub mod intents;
pub mod invite;
#[cfg(feature = "local")]
pub mod local;
pub mod moderation;
pub mod presence;
pub mod rest;
pub mod router;
pub mod runtime;
pub mod serverlog;
pub mod services;
pub mod shards;
pub mod snowflake;
pub mod store;
pub mod telemetry;

pub use config::{Config, ConfigError};
pub use runtime::{WorkerHandle, start};

/// Runs the worker until SIGTERM/Ctrl-C, then shuts down gracefully: against Discord (or
/// whatever `KYUTA_DISCORD_API_URL` names), or with `--local` against an in-process simulator.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if !config.local {
        return runtime::run(config).await;
    }
    #[cfg(feature = "local")]
    {
        local::run(config).await
    }
    #[cfg(not(feature = "local"))]
    {
        anyhow::bail!(
            "--local needs the simulator, and this kyuta-worker was built without it \
             (without the `local` feature, as production images are); run it from a checkout \
             with `cargo run -p kyuta-worker -- --local`"
        )
    }
}

/// Runs the worker on a new multi-threaded runtime with logging set up; the binary's body.
/// Returns the process exit code (0 on a clean shutdown, 1 on a startup or runtime error).
pub fn run_blocking(config: Config) -> std::process::ExitCode {
    telemetry::logging::init(&config.log_level, config.log_format);
    for (old, new) in kyuta_crds::contract::env::renamed_in(std::env::vars()) {
        tracing::warn!("{old} is set but no longer read: the setting is now {new}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kyuta-worker: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "kyuta-worker stopped");
            eprintln!("kyuta-worker: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
