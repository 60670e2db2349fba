//! `attachment_spam`: too many attachments in one message or over time.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::counting::{VOLUME_SETTINGS, Volume, Window};
use super::{Check, Family, Setting};
use crate::automod::error::ConfigError;

/// Too many attachments in one message or over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSpam {
    /// Fires at this many attachments in one message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_message: Option<u32>,
    /// Fires when a member's attachments add up to `count` within `within_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_time: Option<Window>,
}

impl Family for AttachmentSpam {
    const SETTINGS: &'static [Setting] = VOLUME_SETTINGS;

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            per_message: Some(6),
            over_time: None,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        Volume::validate(rule, self.per_message, self.over_time.as_ref())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Volume::new(
            self.per_message,
            self.over_time,
            "attachments",
            |m| m.attachments,
        )))
    }
}
