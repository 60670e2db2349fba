//! `invites`: Discord invite links to other servers.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Check, Family, Finding, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::context::Evidence;
use crate::automod::error::ConfigError;
use crate::automod::text::invite_codes;

/// Discord invite links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invites {
    /// Invite codes that are allowed (e.g. the guild's own vanity code).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_codes: Vec<String>,
}

impl Family for Invites {
    const SETTINGS: &'static [Setting] = &[Setting::new("allowed_codes", SettingKind::List)];

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            allowed_codes: vec![],
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        if let Some(c) = self
            .allowed_codes
            .iter()
            .find(|c| c.is_empty() || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(ConfigError::rule(rule, format!("{c:?} is not an invite code")));
        }
        Ok(())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Compiled {
            allowed: self
                .allowed_codes
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .collect(),
        }))
    }
}

#[derive(Debug)]
struct Compiled {
    allowed: HashSet<String>,
}

impl Check for Compiled {
    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        match invite_codes(input.msg.content)
            .find(|c| !self.allowed.contains(&c.to_ascii_lowercase()))
        {
            Some(code) => Finding::Fired(rule.hit(Evidence {
                reason: format!("invite link to another server ({code})"),
                matched: Some(code.to_owned()),
                ..Evidence::default()
            })),
            None => Finding::Clean,
        }
    }
}
