//! `caps`: excessive capitals, at least `min_letters` letters of which `min_percent` % or
//! more are uppercase.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Check, Family, Finding, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::context::Evidence;
use crate::automod::error::ConfigError;
use crate::automod::text::caps_counts;

/// Excessive capitals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// Shorter messages are ignored.
    pub min_letters: u32,
    /// Uppercase share, 1–100.
    pub min_percent: u8,
}

impl Family for Caps {
    const SETTINGS: &'static [Setting] = &[
        Setting::new("min_letters", SettingKind::Int),
        Setting::new("min_percent", SettingKind::Int),
    ];

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            min_letters: 20,
            min_percent: 80,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        if self.min_letters < 1 {
            return Err(ConfigError::rule(rule, "min_letters must be at least 1"));
        }
        if !(1..=100).contains(&self.min_percent) {
            return Err(ConfigError::rule(
                rule,
                "min_percent must be between 1 and 100",
            ));
        }
        Ok(())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(self.clone()))
    }
}

impl Check for Caps {
    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        let content = input.msg.content;
        if content.len() < self.min_letters as usize {
            return Finding::Clean;
        }
        let (letters, upper) = caps_counts(content);
        let min_percent = self.min_percent;
        if letters >= self.min_letters
            && u64::from(upper) * 100 >= u64::from(min_percent) * u64::from(letters)
        {
            Finding::Fired(rule.hit(Evidence {
                reason: format!(
                    "{upper} of {letters} letters are capitals ({}%, limit {min_percent}%)",
                    u64::from(upper) * 100 / u64::from(letters.max(1))
                ),
                count: Some(u64::from(upper)),
                threshold: Some(u64::from(min_percent)),
                ..Evidence::default()
            }))
        } else {
            Finding::Clean
        }
    }
}
