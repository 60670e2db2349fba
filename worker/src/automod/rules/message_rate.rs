//! `message_rate`: a member sends `count` messages within `within_secs`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::counting::{Span, Window};
use super::{Check, Family, Finding, Hit, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::counters::{CounterValue, Subject};
use crate::automod::error::ConfigError;

/// A member sends `count` messages within `within_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRate {
    /// How many make the rule fire.
    pub count: u32,
    /// Within how many seconds.
    pub within_secs: u32,
}

impl Family for MessageRate {
    const SETTINGS: &'static [Setting] = &[
        Setting::new("count", SettingKind::Int),
        Setting::new("within_secs", SettingKind::Secs),
    ];

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            count: 7,
            within_secs: 5,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        Window {
            count: self.count,
            within_secs: self.within_secs,
        }
        .check(rule, "")
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Compiled(Span::new(self.count, self.within_secs))))
    }
}

#[derive(Debug)]
struct Compiled(Span);

impl Check for Compiled {
    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        self.0
            .count_message(input, rule, Subject::User(input.msg.author_id), 1)
    }

    fn counted(&self, value: CounterValue, rule: &RuleInfo) -> Option<Hit> {
        self.0.reached(value.total, "messages", rule)
    }

    fn once_window_ms(&self) -> Option<u64> {
        Some(self.0.window_ms)
    }
}
