//! `account_age`: accounts younger than `min_age_secs` when they join.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Check, Family, Finding, RuleInfo, Scope, Setting, SettingKind};
use crate::automod::context::{Evidence, MemberContext};
use crate::snowflake;
use crate::duration::format_secs;
use crate::automod::error::ConfigError;

/// Accounts younger than `min_age_secs` when they join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountAge {
    /// Minimum account age.
    pub min_age_secs: u64,
}

impl Family for AccountAge {
    const SCOPE: Scope = Scope::Member;
    const SETTINGS: &'static [Setting] = &[Setting::new("min_age_secs", SettingKind::Secs)];

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            min_age_secs: 86_400,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        if self.min_age_secs < 1 {
            return Err(ConfigError::rule(rule, "min_age_secs must be at least 1"));
        }
        Ok(())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Compiled {
            min_age_ms: self.min_age_secs.saturating_mul(1000),
        }))
    }
}

#[derive(Debug)]
struct Compiled {
    min_age_ms: u64,
}

impl Check for Compiled {
    fn join(&self, member: &MemberContext<'_>, rule: &RuleInfo) -> Finding {
        let created = snowflake::timestamp_ms(member.user_id);
        let age = member.joined_at_ms.saturating_sub(created);
        if age >= self.min_age_ms {
            return Finding::Clean;
        }
        Finding::Fired(rule.hit(Evidence {
            reason: format!(
                "account is {} old; the minimum is {}",
                format_secs(age / 1000),
                format_secs(self.min_age_ms / 1000)
            ),
            count: Some(age / 1000),
            threshold: Some(self.min_age_ms / 1000),
            ..Evidence::default()
        }))
    }
}
