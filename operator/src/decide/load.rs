//! The load the workers publish, as the decision reads it, and the `Degraded` reason a
//! shard closed for good calls for.

/// The load the workers published (summed over the active generation's shards).
///
/// Load that could not be read, or that some shards did not publish (stale or absent hashes,
/// shards still starting), is *unknown* or *incomplete*, never zero: it may make the fleet
/// grow (a partial sum is a lower bound) but never shrink.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Load {
    /// Guilds summed over the shards that published fresh load; `None` when none did or the
    /// load could not be read.
    pub guilds: Option<u64>,
    /// Gateway events per second summed the same way; `None` when unknown.
    pub events_per_second: Option<f64>,
    /// Shards whose load is fresh.
    pub fresh_shards: u32,
    /// Shards the load was read for (the generation's shard total; 0 when it was not read).
    pub shards: u32,
    /// Shards whose last session the gateway closed for good, as their load says
    /// (`load_fields::CLOSE_CODE`); `None` when none was.
    pub closed: Option<GatewayClosed>,
}

/// Shards of a generation the gateway closed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayClosed {
    /// The lowest such shard.
    pub shard: u32,
    /// Its close code.
    pub code: u16,
    /// How many shards were closed for good.
    pub shards: u32,
}

/// Why the gateway closed shards for good: the reason of the `Degraded` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// 4004: the token is wrong or was reset.
    TokenInvalid,
    /// 4010: a shard id not below the shard total.
    InvalidShard,
    /// 4011: too many guilds for the shard total.
    ShardingRequired,
    /// 4012: a gateway version Discord no longer serves.
    InvalidApiVersion,
    /// 4013: an intent Discord does not know.
    InvalidIntents,
    /// 4014: privileged intents not enabled for the application.
    DisallowedIntents,
    /// Another code the worker cannot recover from.
    GatewayClosed,
}

impl CloseReason {
    /// The reason for a close code.
    #[must_use]
    pub fn from_code(code: u16) -> Self {
        match code {
            4004 => Self::TokenInvalid,
            4010 => Self::InvalidShard,
            4011 => Self::ShardingRequired,
            4012 => Self::InvalidApiVersion,
            4013 => Self::InvalidIntents,
            4014 => Self::DisallowedIntents,
            _ => Self::GatewayClosed,
        }
    }

    /// The condition reason.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenInvalid => "TokenInvalid",
            Self::InvalidShard => "InvalidShard",
            Self::ShardingRequired => "ShardingRequired",
            Self::InvalidApiVersion => "InvalidApiVersion",
            Self::InvalidIntents => "InvalidIntents",
            Self::DisallowedIntents => "DisallowedIntents",
            Self::GatewayClosed => "GatewayClosed",
        }
    }

    /// What fixes it, for the condition's message.
    #[must_use]
    pub fn fix(self) -> &'static str {
        match self {
            Self::TokenInvalid => {
                "put the bot's current token (Developer Portal → Bot → Reset Token) in the Secret spec.tokenSecretRef names"
            }
            Self::InvalidShard => {
                "the workers were given a shard id past the shard total; check spec.shards and the workers' KYUTA_SHARD_COUNT"
            }
            Self::ShardingRequired => {
                "the bot is in too many guilds for the shard total (2500 per shard); raise spec.shards.count or set it to auto"
            }
            Self::InvalidApiVersion => "upgrade the worker image",
            Self::InvalidIntents => "the worker image asks for an unknown intent; upgrade it",
            Self::DisallowedIntents => {
                "enable the Message Content and Server Members intents in the Developer Portal → Bot \
                 (verification needed above 100 servers), or run the workers with \
                 KYUTA_PRIVILEGED_INTENTS=auto"
            }
            Self::GatewayClosed => "see the worker's log",
        }
    }
}

/// The `Degraded` condition the load calls for: a typed reason and a message naming the
/// shard, the close code and the fix, when the gateway closed shards for good.
#[must_use]
pub fn gateway_closed(load: &Load) -> Option<(CloseReason, String)> {
    let c = load.closed?;
    let reason = CloseReason::from_code(c.code);
    let others = match c.shards {
        0 | 1 => String::new(),
        n => format!(" and {} other shard(s)", n - 1),
    };
    Some((
        reason,
        format!(
            "the gateway closed shard {}{others} for good with close code {} ({}): {}; the workers back off before identifying again",
            c.shard,
            c.code,
            reason.as_str(),
            reason.fix()
        ),
    ))
}

impl Load {
    /// Load that is not known (no Redis, Redis failed, nothing published yet).
    #[must_use]
    pub fn unknown() -> Self {
        Self::default()
    }

    /// Every shard of the generation published fresh load, so the sums are the whole fleet's.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.shards > 0 && self.fresh_shards >= self.shards && self.guilds.is_some()
    }
}
