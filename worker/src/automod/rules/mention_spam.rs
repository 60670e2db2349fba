//! `mention_spam`: too many user and role mentions in one message or over time.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::counting::{Measure, Volume, Window};
use super::{Check, Family, Setting, SettingKind};
use crate::automod::error::ConfigError;

/// Too many mentions in one message or over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MentionSpam {
    /// Fires when one message mentions at least this many users and roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_message: Option<u32>,
    /// Fires when a member's mentions add up to `count` within `within_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_time: Option<Window>,
    /// Count `@everyone`/`@here` as a mention (default on).
    #[serde(default = "yes")]
    pub count_everyone: bool,
}

fn yes() -> bool {
    true
}

impl Family for MentionSpam {
    const SETTINGS: &'static [Setting] = &[
        Setting::new("per_message", SettingKind::OptInt),
        Setting::new("over_time", SettingKind::Window),
        Setting::new("count_everyone", SettingKind::Bool),
    ];

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            per_message: Some(6),
            over_time: None,
            count_everyone: true,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        Volume::validate(rule, self.per_message, self.over_time.as_ref())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        let measure: Measure = if self.count_everyone {
            |m| m.user_mentions + m.role_mentions + u32::from(m.mentions_everyone)
        } else {
            |m| m.user_mentions + m.role_mentions
        };
        Ok(Arc::new(Volume::new(
            self.per_message,
            self.over_time,
            "mentions",
            measure,
        )))
    }
}
