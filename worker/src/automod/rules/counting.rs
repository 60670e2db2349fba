//! What the counting families share: the stored "N in T seconds" [`Window`], its compiled
//! form, and the "per message or over time" limit of mention, attachment and emoji spam.

use serde::{Deserialize, Serialize};

use super::{Check, Finding, Hit, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::context::{Evidence, MessageContext};
use crate::automod::counters::{CounterOp, CounterValue, Subject};
use crate::automod::error::ConfigError;

/// Longest sliding window, in seconds (one day).
pub const MAX_WINDOW_SECS: u32 = 86_400;

/// A count within a sliding window: "N in T seconds".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// How many (messages, mentions, joins…) make the rule fire.
    pub count: u32,
    /// Within how many seconds.
    pub within_secs: u32,
}

impl Window {
    /// Checks the window of rule `rule`; `what` prefixes the field names in errors
    /// (`over_time.`).
    pub fn check(&self, rule: &str, what: &str) -> Result<(), ConfigError> {
        if self.count < 1 {
            return Err(ConfigError::rule(
                rule,
                format!("{what}count must be at least 1"),
            ));
        }
        if self.within_secs < 1 || self.within_secs > MAX_WINDOW_SECS {
            return Err(ConfigError::rule(
                rule,
                format!("{what}within_secs must be between 1 and {MAX_WINDOW_SECS}"),
            ));
        }
        Ok(())
    }
}

/// Refuses `Some(0)` for the limit `what`.
pub fn check_at_least_one(rule: &str, what: &str, n: Option<u32>) -> Result<(), ConfigError> {
    match n {
        Some(0) => Err(ConfigError::rule(
            rule,
            format!("{what} must be at least 1"),
        )),
        _ => Ok(()),
    }
}

/// A window ready for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The total that fires the rule.
    pub count: u64,
    /// The window in ms.
    pub window_ms: u64,
    /// The window in seconds, for the evidence.
    pub secs: u32,
}

impl Span {
    /// `count` within `secs` seconds.
    #[must_use]
    pub fn new(count: u32, secs: u32) -> Self {
        Self {
            count: u64::from(count),
            window_ms: u64::from(secs) * 1000,
            secs,
        }
    }

    /// Counts this message with `weight` in the rule's window about `subject`.
    #[must_use]
    pub fn count_message(
        &self,
        input: &MessageInput<'_>,
        rule: &RuleInfo,
        subject: Subject,
        weight: u32,
    ) -> Finding {
        Finding::Count(CounterOp::Window {
            key: rule.key(input.msg.guild_id, subject),
            window_ms: self.window_ms,
            weight,
            event: input.msg.message_id,
        })
    }

    /// The rule fires when `total` `what` (`messages`, `mentions`…) reached the count.
    #[must_use]
    pub fn reached(&self, total: u64, what: &str, rule: &RuleInfo) -> Option<Hit> {
        (total >= self.count).then(|| {
            rule.hit(Evidence {
                reason: format!(
                    "{total} {what} within {} s (limit {})",
                    self.secs, self.count
                ),
                count: Some(total),
                threshold: Some(self.count),
                window_secs: Some(self.secs),
                ..Evidence::default()
            })
        })
    }
}

/// The settings of a family limited per message or over time.
pub const VOLUME_SETTINGS: &[Setting] = &[
    Setting::new("per_message", SettingKind::OptInt),
    Setting::new("over_time", SettingKind::Window),
];

/// How many of the limited things a message holds.
pub type Measure = fn(&MessageContext<'_>) -> u32;

/// The check of a limit on something counted in each message (mentions, attachments,
/// emoji): in one message, over time, or both.
#[derive(Debug, Clone, Copy)]
pub struct Volume {
    per_message: Option<u32>,
    over_time: Option<Span>,
    what: &'static str,
    measure: Measure,
}

impl Volume {
    /// Checks the stored limits of rule `rule`.
    pub fn validate(
        rule: &str,
        per_message: Option<u32>,
        over_time: Option<&Window>,
    ) -> Result<(), ConfigError> {
        if per_message.is_none() && over_time.is_none() {
            return Err(ConfigError::rule(
                rule,
                "set per_message, over_time or both",
            ));
        }
        check_at_least_one(rule, "per_message", per_message)?;
        if let Some(w) = over_time {
            w.check(rule, "over_time.")?;
        }
        Ok(())
    }

    /// The compiled limits on `what` (`mentions`, `attachments`, `emoji`), which
    /// `measure` counts in a message.
    #[must_use]
    pub fn new(
        per_message: Option<u32>,
        over_time: Option<Window>,
        what: &'static str,
        measure: Measure,
    ) -> Self {
        Self {
            per_message,
            over_time: over_time.map(|w| Span::new(w.count, w.within_secs)),
            what,
            measure,
        }
    }
}

impl Check for Volume {
    /// Fires at the per-message limit, else counts the message's share over time.
    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        let n = (self.measure)(input.msg);
        if let Some(max) = self.per_message.filter(|&m| n >= m) {
            Finding::Fired(rule.hit(Evidence {
                reason: format!("{n} {} in one message (limit {max})", self.what),
                count: Some(u64::from(n)),
                threshold: Some(u64::from(max)),
                ..Evidence::default()
            }))
        } else if let Some(w) = &self.over_time
            && n > 0
        {
            w.count_message(input, rule, Subject::User(input.msg.author_id), n)
        } else {
            Finding::Clean
        }
    }

    fn counted(&self, value: CounterValue, rule: &RuleInfo) -> Option<Hit> {
        self.over_time?.reached(value.total, self.what, rule)
    }

    fn once_window_ms(&self) -> Option<u64> {
        self.over_time.map(|w| w.window_ms)
    }
}
