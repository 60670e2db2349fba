//! Why a command did not succeed. `Display` is what the user is told.

use std::{error::Error as StdError, time::Duration};

use fluent_bundle::FluentValue;

use super::parse::ArgError;
use crate::i18n::{self, Locale};

/// A boxed error source.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// What kind of guild-scoped id a command was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A channel or thread.
    Channel,
    /// A role.
    Role,
}

impl IdKind {
    /// `<#id>` or `<@&id>`.
    #[must_use]
    pub fn mention(self, id: u64) -> String {
        match self {
            Self::Channel => format!("<#{id}>"),
            Self::Role => format!("<@&{id}>"),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Channel => "channel",
            Self::Role => "role",
        }
    }
}

/// A command's failure or refusal.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad arguments (said precisely).
    #[error("{0}")]
    Args(#[from] ArgError),
    /// The member lacks permissions.
    #[error("you need the {missing} permission to use this command")]
    MissingPermissions {
        /// Permission names, comma-separated.
        missing: String,
    },
    /// The bot itself lacks permissions or hierarchy to act.
    #[error("I can't do that: {0}")]
    BotCannot(String),
    /// The user is on cooldown.
    #[error("slow down: you can use this command again in {:.1}s", .remaining.as_secs_f64())]
    Cooldown {
        /// Time left.
        remaining: Duration,
    },
    /// Used outside a guild.
    #[error("this command only works in a server")]
    GuildOnly,
    /// A channel or role id that is not of the server the command is used in.
    #[error("{} is not a {} of this server", .kind.mention(*.id), .kind.noun())]
    NotInGuild {
        /// Channel or role.
        kind: IdKind,
        /// The id given.
        id: u64,
    },
    /// A refusal or failure explained in the message (shown as is).
    #[error("{0}")]
    User(String),
    /// The store is unavailable; nothing was written.
    #[error("storage is unavailable right now and nothing was changed; try again shortly")]
    StoreUnavailable(#[source] BoxError),
    /// A Discord request failed.
    #[error("Discord did not accept the request: {0}")]
    Discord(#[source] BoxError),
    /// The worker is shutting down.
    #[error("the bot is restarting; try again in a few seconds")]
    ShuttingDown,
    /// Anything else; details go to the logs, not to the user.
    #[error("something went wrong on our side; it has been logged")]
    Internal(#[source] BoxError),
}

impl CommandError {
    /// A refusal or failure shown to the user as is.
    #[must_use]
    pub fn user(message: impl Into<String>) -> Self {
        Self::User(message.into())
    }

    /// Wraps an internal error.
    pub fn internal(e: impl Into<BoxError>) -> Self {
        Self::Internal(e.into())
    }

    /// What the user is told, in `locale` (English text from the catalog is the same as
    /// `Display`). Free-form details (argument errors, refusals, Discord's and the bot's
    /// reasons) stay in English.
    #[must_use]
    pub fn localized(&self, locale: Locale) -> String {
        let t = |key: &str, args: &[(&str, FluentValue<'_>)]| i18n::text(locale, key, args);
        match self {
            Self::Args(_) | Self::User(_) => self.to_string(),
            Self::MissingPermissions { missing } => t(
                "error-missing-permissions",
                &[("missing", FluentValue::from(missing.as_str()))],
            ),
            Self::BotCannot(reason) => t(
                "error-bot-cannot",
                &[("reason", FluentValue::from(reason.as_str()))],
            ),
            Self::Cooldown { remaining } => t(
                "error-cooldown",
                &[(
                    "seconds",
                    FluentValue::from(format!("{:.1}", remaining.as_secs_f64())),
                )],
            ),
            Self::GuildOnly => t("error-guild-only", &[]),
            Self::NotInGuild { kind, id } => t(
                match kind {
                    IdKind::Channel => "error-foreign-channel",
                    IdKind::Role => "error-foreign-role",
                },
                &[("mention", FluentValue::from(kind.mention(*id)))],
            ),
            Self::StoreUnavailable(_) => t("error-store-unavailable", &[]),
            Self::Discord(e) => t(
                "error-discord",
                &[("reason", FluentValue::from(e.to_string()))],
            ),
            Self::ShuttingDown => t("error-shutting-down", &[]),
            Self::Internal(_) => t("error-internal", &[]),
        }
    }

    /// Label for the `outcome` of `kyuta_commands_total`.
    #[must_use]
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Args(_) => "bad_arguments",
            Self::MissingPermissions { .. } => "forbidden",
            Self::BotCannot(_) => "bot_forbidden",
            Self::Cooldown { .. } => "cooldown",
            Self::GuildOnly => "guild_only",
            Self::NotInGuild { .. } => "foreign_id",
            Self::User(_) => "refused",
            Self::StoreUnavailable(_) => "store_unavailable",
            Self::Discord(_) => "discord_error",
            Self::ShuttingDown => "shutting_down",
            Self::Internal(_) => "error",
        }
    }

    /// Whether the failure is the user's (logged at debug) rather than ours (logged at warn).
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Args(_)
                | Self::MissingPermissions { .. }
                | Self::Cooldown { .. }
                | Self::GuildOnly
                | Self::NotInGuild { .. }
                | Self::User(_)
                | Self::BotCannot(_)
        )
    }
}

impl From<crate::rest::RestError> for CommandError {
    fn from(e: crate::rest::RestError) -> Self {
        Self::Discord(Box::new(e))
    }
}

impl From<crate::store::StoreError> for CommandError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            Self::StoreUnavailable(Box::new(e))
        } else {
            Self::Internal(Box::new(e))
        }
    }
}
