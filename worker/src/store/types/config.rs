//! A guild's settings: prefix, mod log, language, escalation, automod, server logs and
//! lockdown, and the fields written one at a time ([`GuildField`]).

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::action::ActionKind;
use crate::i18n::Locale;

/// Per-guild settings. A guild that never saved anything gets [`GuildConfig::new`]'s defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildConfig {
    /// The guild these settings belong to.
    pub guild_id: u64,
    /// Prefix for text commands; `None` means the bot-wide default (`KYUTA_PREFIX`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Channel that receives mod-log embeds; `None` means no mod log.
    #[serde(default)]
    pub mod_log_channel: Option<u64>,
    /// Language of the bot's replies (stored as Discord's code, e.g. `en-US`).
    #[serde(default)]
    pub locale: Locale,
    /// Whether the target of a moderation action gets a DM before the action.
    #[serde(default = "default_true")]
    pub dm_on_action: bool,
    /// Warn escalation thresholds, applied in order; see [`EscalationRule`].
    #[serde(default)]
    pub escalation: Vec<EscalationRule>,
    /// Automod configuration. Owned by the automod module; the store keeps it verbatim.
    #[serde(default)]
    pub automod: serde_json::Value,
    /// Channels `/lockdown` locked, with what to restore on `/unlock`.
    #[serde(default)]
    pub lockdowns: Vec<Lockdown>,
    /// The server log (`/serverlog`): its channel and the kinds turned off.
    #[serde(default)]
    pub server_log: ServerLogSettings,
}

/// Where the server log goes and what it shows. No channel: no server log. With a channel,
/// every kind is on except those in `disabled`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerLogSettings {
    /// The log channel; `None` means no server log.
    #[serde(default)]
    pub channel_id: Option<u64>,
    /// The kinds turned off with `/serverlog disable`.
    #[serde(default)]
    pub disabled: Vec<ServerLogKind>,
}

impl ServerLogSettings {
    /// The channel to post `kind` in: the log channel, unless there is none or `kind` is off.
    #[must_use]
    pub fn channel_for(&self, kind: ServerLogKind) -> Option<u64> {
        self.channel_id.filter(|_| !self.disabled.contains(&kind))
    }
}

/// What the server log can show, each switchable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerLogKind {
    /// Message edits (before and after).
    Edits,
    /// Message deletes, one by one and in bulk.
    Deletes,
    /// Members joining.
    Joins,
    /// Members leaving (or kicked, or banned).
    Leaves,
    /// Nickname, role and avatar changes.
    Members,
    /// Channels created, changed, deleted.
    Channels,
    /// Roles created, changed, deleted.
    Roles,
}

impl ServerLogKind {
    /// Every kind, in the order `/serverlog show` lists them.
    pub const ALL: [Self; 7] = [
        Self::Edits,
        Self::Deletes,
        Self::Joins,
        Self::Leaves,
        Self::Members,
        Self::Channels,
        Self::Roles,
    ];

    /// The kind's name, as typed in `/serverlog enable` and stored.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Edits => "edits",
            Self::Deletes => "deletes",
            Self::Joins => "joins",
            Self::Leaves => "leaves",
            Self::Members => "members",
            Self::Channels => "channels",
            Self::Roles => "roles",
        }
    }
}

impl FromStr for ServerLogKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == t)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a server-log kind; use one of {}",
                    Self::ALL.map(Self::name).join(", ")
                )
            })
    }
}

/// A channel locked by `/lockdown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockdown {
    /// The channel.
    pub channel_id: u64,
    /// The `@everyone` overwrite the channel had before, `None` when it had none: `/unlock`
    /// puts exactly this back.
    pub previous: Option<OverwriteBits>,
    /// Who locked it.
    pub by: u64,
    /// When.
    pub at: Timestamp,
}

/// A permission overwrite's allowed and denied bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverwriteBits {
    /// Allowed.
    pub allow: u64,
    /// Denied.
    pub deny: u64,
}

const fn default_true() -> bool {
    true
}

impl GuildConfig {
    /// The prefix in use: the guild's own, else `default` (an empty stored prefix is none).
    #[must_use]
    pub fn prefix_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.prefix
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or(default)
    }

    /// The defaults for a guild that has not configured anything: no custom prefix, no mod
    /// log, locale `en-US`, DMs on action enabled, no escalation, automod `null`, no server
    /// log.
    #[must_use]
    pub fn new(guild_id: u64) -> Self {
        Self {
            guild_id,
            prefix: None,
            mod_log_channel: None,
            locale: Locale::default(),
            dm_on_action: true,
            escalation: Vec::new(),
            automod: serde_json::Value::Null,
            lockdowns: Vec::new(),
            server_log: ServerLogSettings::default(),
        }
    }
}

/// One setting of a [`GuildConfig`]: the unit the store writes when settings change, so that
/// two edits of different settings at the same moment both survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuildField {
    /// [`GuildConfig::prefix`].
    Prefix,
    /// [`GuildConfig::mod_log_channel`].
    ModLogChannel,
    /// [`GuildConfig::locale`].
    Locale,
    /// [`GuildConfig::dm_on_action`].
    DmOnAction,
    /// [`GuildConfig::escalation`].
    Escalation,
    /// [`GuildConfig::automod`].
    Automod,
    /// [`GuildConfig::lockdowns`].
    Lockdowns,
    /// [`GuildConfig::server_log`].
    ServerLog,
}

impl GuildField {
    /// Every setting.
    pub const ALL: [Self; 8] = [
        Self::Prefix,
        Self::ModLogChannel,
        Self::Locale,
        Self::DmOnAction,
        Self::Escalation,
        Self::Automod,
        Self::Lockdowns,
        Self::ServerLog,
    ];

    /// The setting's stored name (its serde field name).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Prefix => "prefix",
            Self::ModLogChannel => "mod_log_channel",
            Self::Locale => "locale",
            Self::DmOnAction => "dm_on_action",
            Self::Escalation => "escalation",
            Self::Automod => "automod",
            Self::Lockdowns => "lockdowns",
            Self::ServerLog => "server_log",
        }
    }

    /// Copies this setting from `from` into `to`.
    pub fn copy(self, from: &GuildConfig, to: &mut GuildConfig) {
        match self {
            Self::Prefix => to.prefix.clone_from(&from.prefix),
            Self::ModLogChannel => to.mod_log_channel = from.mod_log_channel,
            Self::Locale => to.locale.clone_from(&from.locale),
            Self::DmOnAction => to.dm_on_action = from.dm_on_action,
            Self::Escalation => to.escalation.clone_from(&from.escalation),
            Self::Automod => to.automod.clone_from(&from.automod),
            Self::Lockdowns => to.lockdowns.clone_from(&from.lockdowns),
            Self::ServerLog => to.server_log.clone_from(&from.server_log),
        }
    }

    /// Whether `a` and `b` differ in this setting.
    #[must_use]
    pub fn differs(self, a: &GuildConfig, b: &GuildConfig) -> bool {
        match self {
            Self::Prefix => a.prefix != b.prefix,
            Self::ModLogChannel => a.mod_log_channel != b.mod_log_channel,
            Self::Locale => a.locale != b.locale,
            Self::DmOnAction => a.dm_on_action != b.dm_on_action,
            Self::Escalation => a.escalation != b.escalation,
            Self::Automod => a.automod != b.automod,
            Self::Lockdowns => a.lockdowns != b.lockdowns,
            Self::ServerLog => a.server_log != b.server_log,
        }
    }

    /// The settings in which `a` and `b` differ.
    #[must_use]
    pub fn changed(a: &GuildConfig, b: &GuildConfig) -> Vec<Self> {
        Self::ALL.into_iter().filter(|f| f.differs(a, b)).collect()
    }
}

/// "`warns` warnings within `within_secs` seconds → `action`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRule {
    /// Number of warn cases that triggers the rule.
    pub warns: u32,
    /// Window in seconds the warns must fall in.
    pub within_secs: u64,
    /// What happens when the threshold is reached.
    pub action: EscalationAction,
}

/// The action an [`EscalationRule`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EscalationAction {
    /// Time the member out for `secs` seconds.
    Timeout {
        /// Timeout length in seconds.
        secs: u64,
    },
    /// Kick the member.
    Kick,
    /// Ban the member.
    Ban,
}

impl EscalationAction {
    /// The kind of the case the escalation creates.
    #[must_use]
    pub const fn kind(self) -> ActionKind {
        match self {
            Self::Timeout { .. } => ActionKind::Timeout,
            Self::Kick => ActionKind::Kick,
            Self::Ban => ActionKind::Ban,
        }
    }

    /// How long the action lasts: the timeout's length; `None` for a kick or a ban.
    #[must_use]
    pub const fn duration(self) -> Option<Duration> {
        match self {
            Self::Timeout { secs } => Some(Duration::from_secs(secs)),
            Self::Kick | Self::Ban => None,
        }
    }

    /// Orders actions by severity: by [`ActionKind::severity`] (ban > kick > timeout), then
    /// timeouts by length.
    #[must_use]
    pub const fn severity(self) -> (u8, u64) {
        let secs = match self.duration() {
            Some(d) => d.as_secs(),
            None => 0,
        };
        (self.kind().severity(), secs)
    }
}
