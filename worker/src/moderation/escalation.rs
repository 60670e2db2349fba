//! Warn escalation: "N warns within T → timeout D / kick / ban".
//!
//! [`evaluate`] runs right after a warn is recorded. A rule fires when the number of warns
//! inside its window (from now − T to now, both ends included; the new warn counted) is
//! *exactly* its threshold, so one rule fires once per N warns rather than on every warn
//! after the N-th. When several rules
//! fire at once the most severe wins (ban > kick > the longest timeout; the first listed on a
//! tie). The escalation becomes its own case that references the warns that caused it.

use std::time::Duration;

/// What an escalation rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationAction {
    /// Time the member out for this long.
    Timeout(Duration),
    /// Kick the member.
    Kick,
    /// Ban the member permanently.
    Ban,
}

impl EscalationAction {
    /// Orders actions by severity: timeouts by length, then kick, then ban.
    #[must_use]
    pub fn severity(self) -> (u8, u64) {
        match self {
            Self::Timeout(d) => (0, d.as_secs()),
            Self::Kick => (1, 0),
            Self::Ban => (2, 0),
        }
    }
}

/// One threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    /// How many warns.
    pub warns: u32,
    /// Within how long (seconds), counting back from now.
    pub within_secs: u64,
    /// What happens when reached.
    pub action: EscalationAction,
}

/// A warn case, as far as escalation is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarnRecord {
    /// The case number.
    pub number: u64,
    /// When it was created (Unix seconds).
    pub created_at: i64,
}

/// A threshold that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The index of the rule in the guild's list.
    pub rule: usize,
    /// The rule.
    pub threshold: Threshold,
    /// The warn case numbers inside the rule's window, oldest first.
    pub references: Vec<u64>,
}

/// Decides whether a warn just recorded at `now` triggers an escalation. `warns` are the
/// user's warns (any order; the new one included); warns after `now` are ignored.
#[must_use]
pub fn evaluate(rules: &[Threshold], warns: &[WarnRecord], now: i64) -> Option<Escalation> {
    let mut best: Option<Escalation> = None;
    for (i, rule) in rules.iter().enumerate() {
        if rule.warns == 0 {
            continue;
        }
        let since = now.saturating_sub(i64::try_from(rule.within_secs).unwrap_or(i64::MAX));
        let mut inside: Vec<&WarnRecord> = warns
            .iter()
            .filter(|w| w.created_at >= since && w.created_at <= now)
            .collect();
        if inside.len() != rule.warns as usize {
            continue;
        }
        inside.sort_by_key(|w| (w.created_at, w.number));
        let candidate = Escalation {
            rule: i,
            threshold: *rule,
            references: inside.iter().map(|w| w.number).collect(),
        };
        match &best {
            Some(b) if b.threshold.action.severity() >= rule.action.severity() => {}
            _ => best = Some(candidate),
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const H: i64 = 3600;

    fn warns(times: &[i64]) -> Vec<WarnRecord> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| WarnRecord {
                number: i as u64 + 1,
                created_at: *t,
            })
            .collect()
    }

    fn rules() -> Vec<Threshold> {
        vec![
            Threshold {
                warns: 3,
                within_secs: 24 * 3600,
                action: EscalationAction::Timeout(Duration::from_secs(3600)),
            },
            Threshold {
                warns: 5,
                within_secs: 7 * 24 * 3600,
                action: EscalationAction::Ban,
            },
        ]
    }

    #[rstest]
    #[case(&[100 * H], None)]
    #[case(&[98 * H, 100 * H], None)]
    #[case(&[90 * H, 95 * H, 100 * H], Some((0, vec![1, 2, 3])))]
    #[case(&[70 * H, 95 * H, 100 * H], None)] // the first warn is outside the 24 h window
    #[case(&[76 * H, 95 * H, 100 * H], Some((0, vec![1, 2, 3])))] // the window is inclusive: exactly 24 h ago counts
    #[case(&[99 * H, 99 * H, 100 * H, 100 * H], None)] // 4 in a day: rule already fired at 3
    #[case(&[10 * H, 20 * H, 30 * H, 40 * H, 100 * H], Some((1, vec![1, 2, 3, 4, 5])))]
    #[case(&[97 * H, 98 * H, 99 * H, 99 * H, 100 * H], Some((1, vec![1, 2, 3, 4, 5])))] // both? 5 in a day ≠ 3; ban fires
    fn thresholds(#[case] times: &[i64], #[case] want: Option<(usize, Vec<u64>)>) {
        let got = evaluate(&rules(), &warns(times), 100 * H);
        assert_eq!(got.map(|e| (e.rule, e.references)), want);
    }

    #[test]
    fn most_severe_wins() {
        let rules = vec![
            Threshold {
                warns: 2,
                within_secs: 3600,
                action: EscalationAction::Timeout(Duration::from_secs(60)),
            },
            Threshold {
                warns: 2,
                within_secs: 3600,
                action: EscalationAction::Kick,
            },
            Threshold {
                warns: 2,
                within_secs: 3600,
                action: EscalationAction::Timeout(Duration::from_secs(600)),
            },
        ];
        let got = evaluate(&rules, &warns(&[10, 20]), 30).unwrap();
        assert_eq!(got.rule, 1);
        assert_eq!(got.threshold.action, EscalationAction::Kick);
    }

    #[test]
    fn future_warns_and_zero_rules_are_ignored() {
        let rules = vec![Threshold {
            warns: 0,
            within_secs: 3600,
            action: EscalationAction::Ban,
        }];
        assert_eq!(evaluate(&rules, &warns(&[]), 30), None);
        let one = vec![Threshold {
            warns: 1,
            within_secs: 3600,
            action: EscalationAction::Kick,
        }];
        assert_eq!(
            evaluate(&one, &warns(&[10, 50]), 30).unwrap().references,
            vec![1]
        );
    }
}
