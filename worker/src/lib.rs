//! The Kyuta worker: runs a contiguous range of Discord shards and serves the bot.
//!
//! Modules by concern: [`config`] (every setting), [`gateway`] (shards, identify queue,
//! sessions, readiness), [`rest`] (the REST client with the fleet-wide budget), [`commands`]
//! (registry, parsing, checks, the general commands), [`telemetry`] (metrics, health).

pub mod automod;
pub mod cache;
pub mod clock;
pub mod commands;
pub mod config;
pub mod gateway;
pub mod moderation;
pub mod rest;
pub mod store;
pub mod telemetry;

pub use config::{Config, ConfigError};
