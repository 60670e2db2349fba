//! `duplicates`: a member sends the same text `count` times within `within_secs`. Texts are
//! compared normalised, so case, spacing and leetspeak do not make them different.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::counting::{Span, Window};
use super::{Check, Family, Finding, Hit, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::counters::{CounterValue, Subject};
use crate::automod::error::ConfigError;
use crate::automod::text::stable_hash;

/// A member sends the same text `count` times within `within_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duplicates {
    /// How many make the rule fire.
    pub count: u32,
    /// Within how many seconds.
    pub within_secs: u32,
    /// Texts shorter than this (after trimming) are not counted ("ok", "lol").
    #[serde(default = "default_min_length")]
    pub min_length: u32,
}

fn default_min_length() -> u32 {
    1
}

impl Family for Duplicates {
    const SETTINGS: &'static [Setting] = &[
        Setting::new("count", SettingKind::Int),
        Setting::new("within_secs", SettingKind::Secs),
        Setting::new("min_length", SettingKind::Int),
    ];

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            count: 4,
            within_secs: 30,
            min_length: 5,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        Window {
            count: self.count,
            within_secs: self.within_secs,
        }
        .check(rule, "")?;
        if self.count < 2 {
            return Err(ConfigError::rule(
                rule,
                "count must be at least 2 (a duplicate needs two messages)",
            ));
        }
        Ok(())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Compiled {
            span: Span::new(self.count, self.within_secs),
            min_len: self.min_length as usize,
        }))
    }
}

#[derive(Debug)]
struct Compiled {
    span: Span,
    min_len: usize,
}

impl Check for Compiled {
    fn needs_normalized(&self) -> bool {
        true
    }

    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        let text = input.norm.map_or("", |n| n.words.as_str());
        if text.chars().count() >= self.min_len && !text.is_empty() {
            let subject = Subject::Content {
                user: input.msg.author_id,
                hash: stable_hash(text),
            };
            self.span.count_message(input, rule, subject, 1)
        } else {
            Finding::Clean
        }
    }

    fn counted(&self, value: CounterValue, rule: &RuleInfo) -> Option<Hit> {
        self.span.reached(value.total, "identical messages", rule)
    }

    fn once_window_ms(&self) -> Option<u64> {
        Some(self.span.window_ms)
    }
}
