//! `join_rate`: raid detection. `count` joins within `within_secs` start raid mode; the
//! rule's actions apply to everyone who joins while it lasts (the alert and a `lockdown` of
//! the server only once, when it starts); it ends `calm_secs` after the join rate last reached
//! the threshold.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::counting::{MAX_WINDOW_SECS, Span, Window};
use super::{Check, Family, Finding, Hit, RuleInfo, Scope, Setting, SettingKind};
use crate::automod::action::Action;
use crate::automod::context::{Evidence, MemberContext};
use crate::automod::counters::{CounterOp, CounterValue, Subject};
use crate::automod::error::ConfigError;

/// Raid detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRate {
    /// How many make the rule fire.
    pub count: u32,
    /// Within how many seconds.
    pub within_secs: u32,
    /// Quiet time that ends raid mode.
    #[serde(default = "default_calm")]
    pub calm_secs: u32,
}

fn default_calm() -> u32 {
    120
}

impl Family for JoinRate {
    const SCOPE: Scope = Scope::Member;
    const SETTINGS: &'static [Setting] = &[
        Setting::new("count", SettingKind::Int),
        Setting::new("within_secs", SettingKind::Secs),
        Setting::new("calm_secs", SettingKind::Secs),
    ];

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            count: 10,
            within_secs: 10,
            calm_secs: 120,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        Window {
            count: self.count,
            within_secs: self.within_secs,
        }
        .check(rule, "")?;
        if self.count < 2 {
            return Err(ConfigError::rule(rule, "count must be at least 2"));
        }
        if self.calm_secs < 1 || self.calm_secs > MAX_WINDOW_SECS {
            return Err(ConfigError::rule(
                rule,
                format!("calm_secs must be between 1 and {MAX_WINDOW_SECS}"),
            ));
        }
        Ok(())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Compiled {
            span: Span::new(self.count, self.within_secs),
            calm_ms: u64::from(self.calm_secs) * 1000,
        }))
    }
}

#[derive(Debug)]
struct Compiled {
    span: Span,
    calm_ms: u64,
}

impl Check for Compiled {
    fn join(&self, member: &MemberContext<'_>, rule: &RuleInfo) -> Finding {
        let g = member.guild_id;
        Finding::Count(CounterOp::Latch {
            key: rule.key(g, Subject::Joins),
            window_ms: self.span.window_ms,
            event: member.user_id,
            threshold: self.span.count,
            latch: rule.key(g, Subject::Raid),
            hold_ms: self.calm_ms,
        })
    }

    fn counted(&self, v: CounterValue, rule: &RuleInfo) -> Option<Hit> {
        if v.latch_ms == 0 {
            return None;
        }
        // The lockdown and the alert happen once, when raid mode starts; the rest applies to
        // every member who joins while it lasts.
        let once = |a: &Action| matches!(a, Action::Alert { .. } | Action::Lockdown);
        let mut actions: Vec<Action> = rule.actions.iter().filter(|a| !once(a)).copied().collect();
        if v.first {
            if rule.actions.contains(&Action::Lockdown) {
                actions.push(Action::Lockdown);
            }
            actions.push(
                rule.actions
                    .iter()
                    .find(|a| matches!(a, Action::Alert { .. }))
                    .copied()
                    .unwrap_or(Action::Alert { channel: None }),
            );
        }
        let (count, secs) = (self.span.count, self.span.secs);
        Some(Hit {
            actions,
            evidence: Evidence {
                reason: format!(
                    "raid mode: {} joins within {secs} s (limit {count}); on for {} s more",
                    v.total,
                    v.latch_ms.div_ceil(1000)
                ),
                count: Some(v.total),
                threshold: Some(count),
                window_secs: Some(secs),
                raid_started: v.first,
                ..Evidence::default()
            },
        })
    }
}
