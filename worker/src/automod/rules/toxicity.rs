//! `toxicity`: score tiers (at least one). The highest tier reached decides the punishment;
//! the rule's own `actions` (e.g. `delete`, `alert`) are added at any tier.
//!
//! The score comes from a [`Scorer`], chosen when the rule compiles: [`rule_score`], the
//! shipped model with the lexicon as a second opinion (below
//! [`crate::automod::toxicity::MODEL_ALONE_FROM`] the lexicon must find a term), which also
//! names the most likely category. A threat or self-harm
//! incitement is never left at a warning: at any tier the member is timed out for
//! `timeout_secs` and moderators are alerted.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Check, Family, Finding, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::action::{Action, MAX_TIMEOUT_SECS};
use crate::automod::context::Evidence;
use crate::automod::error::ConfigError;
use crate::automod::toxicity::{Class, Scorer, rule_score};

/// Toxicity score tiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toxicity {
    /// Score from which the author is warned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<f32>,
    /// Score from which the author is timed out for `timeout_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_at: Option<f32>,
    /// Length of that timeout.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u32,
    /// Score from which the author is banned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_at: Option<f32>,
}

fn default_timeout() -> u32 {
    3600
}

impl Family for Toxicity {
    const NEEDS_ACTIONS: bool = false;
    const SETTINGS: &'static [Setting] = &[
        Setting::new("warn_at", SettingKind::Score),
        Setting::new("timeout_at", SettingKind::Score),
        Setting::new("timeout_secs", SettingKind::Secs),
        Setting::new("ban_at", SettingKind::Score),
    ];

    fn added(_: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            warn_at: Some(0.4),
            timeout_at: Some(0.6),
            timeout_secs: 3600,
            ban_at: Some(0.8),
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        let tiers = [
            ("warn_at", self.warn_at),
            ("timeout_at", self.timeout_at),
            ("ban_at", self.ban_at),
        ];
        if tiers.iter().all(|(_, t)| t.is_none()) {
            return Err(ConfigError::rule(
                rule,
                "set at least one of warn_at, timeout_at, ban_at",
            ));
        }
        for (what, t) in tiers {
            if let Some(t) = t
                && !(t.is_finite() && t > 0.0 && t <= 1.0)
            {
                return Err(ConfigError::rule(
                    rule,
                    format!("{what} must be in (0, 1], got {t}"),
                ));
            }
        }
        let set: Vec<f32> = tiers.iter().filter_map(|(_, t)| *t).collect();
        if set.windows(2).any(|w| w[0] > w[1]) {
            return Err(ConfigError::rule(
                rule,
                "thresholds must not decrease: warn_at ≤ timeout_at ≤ ban_at",
            ));
        }
        if self.timeout_secs < 1 || self.timeout_secs > MAX_TIMEOUT_SECS {
            return Err(ConfigError::rule(
                rule,
                format!("timeout_secs must be between 1 and {MAX_TIMEOUT_SECS} (28 days)"),
            ));
        }
        Ok(())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        // From the highest threshold down, so the first tier reached is the strongest.
        let mut tiers = Vec::new();
        if let Some(t) = self.ban_at {
            tiers.push((
                t,
                Action::Ban {
                    delete_message_secs: 0,
                },
            ));
        }
        if let Some(t) = self.timeout_at {
            tiers.push((
                t,
                Action::Timeout {
                    secs: self.timeout_secs,
                },
            ));
        }
        if let Some(t) = self.warn_at {
            tiers.push((t, Action::Warn));
        }
        Ok(Arc::new(Compiled {
            tiers,
            severe_timeout_secs: self.timeout_secs,
            scorer: rule_score,
        }))
    }
}

struct Compiled {
    tiers: Vec<(f32, Action)>,
    /// Timeout for a threat or self-harm incitement at any tier.
    severe_timeout_secs: u32,
    scorer: Scorer,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Toxicity")
            .field("tiers", &self.tiers)
            .field("severe_timeout_secs", &self.severe_timeout_secs)
            .finish_non_exhaustive()
    }
}

impl Check for Compiled {
    fn needs_normalized(&self) -> bool {
        true
    }

    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        let Some(norm) = input.norm else {
            return Finding::Clean;
        };
        let tox = (self.scorer)(input.msg.content, norm);
        let Some((at, tier_action)) = self.tiers.iter().find(|(at, _)| tox.score >= *at) else {
            return Finding::Clean;
        };
        let mut hit = rule.hit(Evidence::default());
        let category = tox.category.unwrap_or(Class::Insult);
        // A threat or self-harm incitement is never left at a warning: the member is timed
        // out and moderators are alerted at any tier.
        let severe = matches!(category, Class::Threat | Class::SelfHarm);
        let tier_action = match tier_action {
            Action::Warn if severe => Action::Timeout {
                secs: self.severe_timeout_secs,
            },
            a => *a,
        };
        if !hit.actions.contains(&tier_action) {
            hit.actions.push(tier_action);
        }
        if severe
            && !hit
                .actions
                .iter()
                .any(|a| matches!(a, Action::Alert { .. }))
        {
            hit.actions.push(Action::Alert { channel: None });
        }
        let terms: Vec<&str> = tox.hits.iter().map(|h| h.term.as_str()).collect();
        hit.evidence.reason = format!(
            "{} {:.2} ≥ {at:.2}{}{}",
            category.name(),
            tox.score,
            if terms.is_empty() {
                String::new()
            } else {
                format!(" ({})", terms.join(", "))
            },
            if tox.targeted {
                "; aimed at someone"
            } else {
                ""
            }
        );
        hit.evidence.score = Some(tox.score);
        hit.evidence.terms = tox.hits;
        Finding::Fired(hit)
    }
}
