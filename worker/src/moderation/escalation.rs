//! Warn escalation: "N warns within T → timeout D / kick / ban".
//!
//! [`evaluate`] runs right after a warn is recorded. A rule fires when the warns inside its
//! window (from now − T to now, both ends included; the new warn counted) that no earlier
//! escalation of the same rule *consumed* number at least its threshold. An escalation that
//! was carried out (or is being carried out) consumes the warns it references for every rule
//! that fired with it, so one rule fires once per N warns, and warns that already caused an
//! escalation never cause another when old warns leave the window. A failed escalation
//! consumes nothing: the next warn tries it again. When several rules fire at once the most
//! severe wins (ban > kick > the longest timeout; the first listed on a tie). The escalation
//! becomes its own case that references the warns that caused it and records the rules that
//! fired ([`evidence`]).
//!
//! The rules are the guild's stored [`EscalationRule`]s as they are; what an action does and
//! how severe it is come from [`crate::store::EscalationAction`] and its
//! [`kind`](crate::store::EscalationAction::kind).

use crate::store::EscalationRule;

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
    pub threshold: EscalationRule,
    /// The unconsumed warn case numbers inside the rule's window, oldest first.
    pub references: Vec<u64>,
    /// Every rule that fired with it (itself included): the warns are consumed for each.
    pub fired: Vec<EscalationRule>,
}

/// Warns an earlier escalation consumed for a rule. A rule is known by its count and window
/// (its action may be edited without making it another rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// The rule's warn count.
    pub warns: u32,
    /// The rule's window.
    pub within_secs: u64,
    /// The warn case numbers.
    pub numbers: Vec<u64>,
}

/// What an escalation case keeps in its evidence: the rules that fired, so later warns know
/// which warns it consumed.
#[must_use]
pub fn evidence(fired: &[EscalationRule]) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = fired
        .iter()
        .map(|t| serde_json::json!({"warns": t.warns, "within_secs": t.within_secs}))
        .collect();
    serde_json::json!({"escalation": {"rules": rules}})
}

/// What an escalation case consumed, read back from its evidence and references (`None` for
/// a case that is not an escalation).
#[must_use]
pub fn consumed_by(evidence: Option<&serde_json::Value>, references: &[u64]) -> Vec<Consumed> {
    let Some(rules) = evidence
        .and_then(|e| e.get("escalation"))
        .and_then(|e| e.get("rules"))
        .and_then(serde_json::Value::as_array)
    else {
        return Vec::new();
    };
    rules
        .iter()
        .filter_map(|r| {
            Some(Consumed {
                warns: u32::try_from(r.get("warns")?.as_u64()?).ok()?,
                within_secs: r.get("within_secs")?.as_u64()?,
                numbers: references.to_vec(),
            })
        })
        .collect()
}

/// Decides whether a warn just recorded at `now` triggers an escalation. `warns` are the
/// user's warns (any order; the new one included); warns after `now` are ignored; `consumed`
/// are the warns earlier escalations consumed.
#[must_use]
pub fn evaluate(
    rules: &[EscalationRule],
    warns: &[WarnRecord],
    consumed: &[Consumed],
    now: i64,
) -> Option<Escalation> {
    let mut best: Option<Escalation> = None;
    let mut fired = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if rule.warns == 0 {
            continue;
        }
        let since = now.saturating_sub(i64::try_from(rule.within_secs).unwrap_or(i64::MAX));
        let used = |n: u64| {
            consumed.iter().any(|c| {
                c.warns == rule.warns && c.within_secs == rule.within_secs && c.numbers.contains(&n)
            })
        };
        let mut inside: Vec<&WarnRecord> = warns
            .iter()
            .filter(|w| w.created_at >= since && w.created_at <= now && !used(w.number))
            .collect();
        if inside.len() < rule.warns as usize {
            continue;
        }
        fired.push(*rule);
        inside.sort_by_key(|w| (w.created_at, w.number));
        let candidate = Escalation {
            rule: i,
            threshold: *rule,
            references: inside.iter().map(|w| w.number).collect(),
            fired: Vec::new(),
        };
        match &best {
            Some(b) if b.threshold.action.severity() >= rule.action.severity() => {}
            _ => best = Some(candidate),
        }
    }
    best.map(|b| Escalation { fired, ..b })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EscalationAction;
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

    fn rules() -> Vec<EscalationRule> {
        vec![
            EscalationRule {
                warns: 3,
                within_secs: 24 * 3600,
                action: EscalationAction::Timeout { secs: 3600 },
            },
            EscalationRule {
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
    #[case(&[99 * H, 99 * H, 100 * H, 100 * H], Some((0, vec![1, 2, 3, 4])))] // 4 in a day and none consumed: an escalation at 3 failed, so it is tried again
    #[case(&[10 * H, 20 * H, 30 * H, 40 * H, 100 * H], Some((1, vec![1, 2, 3, 4, 5])))]
    #[case(&[97 * H, 98 * H, 99 * H, 99 * H, 100 * H], Some((1, vec![1, 2, 3, 4, 5])))] // both? 5 in a day ≠ 3; ban fires
    fn thresholds(#[case] times: &[i64], #[case] want: Option<(usize, Vec<u64>)>) {
        let got = evaluate(&rules(), &warns(times), &[], 100 * H);
        assert_eq!(got.map(|e| (e.rule, e.references)), want);
    }

    fn consumed(rule: &EscalationRule, numbers: &[u64]) -> Consumed {
        Consumed {
            warns: rule.warns,
            within_secs: rule.within_secs,
            numbers: numbers.to_vec(),
        }
    }

    #[test]
    fn consumed_warns_never_escalate_again() {
        let r = rules();
        // Warns 1–3 (0 h, 1 h, 2 h) caused a timeout. At 25 h warn 1 has left the window:
        // warns 2, 3 and the new 4 are three in a day, but 2 and 3 were consumed.
        let w = warns(&[0, H, 2 * H, 25 * H]);
        let used = [consumed(&r[0], &[1, 2, 3])];
        assert_eq!(evaluate(&r, &w, &used, 25 * H), None);
        // Before the fix the same warns fired again.
        assert!(evaluate(&r, &w, &[], 25 * H).is_some());
        // Once three new warns are in, the rule fires again, on those alone (the 5-in-a-week
        // ban left out here).
        let w = warns(&[0, H, 2 * H, 25 * H, 26 * H, 27 * H]);
        let got = evaluate(&r[..1], &w, &used, 27 * H).unwrap();
        assert_eq!((got.rule, got.references), (0, vec![4, 5, 6]));
        // The fourth warn after a timeout at three does not fire.
        let w = warns(&[0, H, 2 * H, 3 * H]);
        assert_eq!(evaluate(&r, &w, &used, 3 * H), None);
    }

    #[test]
    fn warns_consumed_by_one_rule_still_count_for_another() {
        let r = rules();
        let w = warns(&[10 * H, 20 * H, 30 * H, 40 * H, 100 * H]);
        let used = [consumed(&r[0], &[1, 2, 3])];
        let got = evaluate(&r, &w, &used, 100 * H).unwrap();
        assert_eq!(got.rule, 1, "5 warns in a week ban, the timeout's included");
        assert_eq!(got.fired, vec![r[1]]);
    }

    #[test]
    fn evidence_round_trips() {
        let r = rules();
        let e = evidence(&r);
        let c = consumed_by(Some(&e), &[4, 5]);
        assert_eq!(c, vec![consumed(&r[0], &[4, 5]), consumed(&r[1], &[4, 5])]);
        assert!(consumed_by(None, &[1]).is_empty());
        assert!(consumed_by(Some(&serde_json::json!({"rule": "spam"})), &[1]).is_empty());
    }

    #[test]
    fn most_severe_wins() {
        let rules = vec![
            EscalationRule {
                warns: 2,
                within_secs: 3600,
                action: EscalationAction::Timeout { secs: 60 },
            },
            EscalationRule {
                warns: 2,
                within_secs: 3600,
                action: EscalationAction::Kick,
            },
            EscalationRule {
                warns: 2,
                within_secs: 3600,
                action: EscalationAction::Timeout { secs: 600 },
            },
        ];
        let got = evaluate(&rules, &warns(&[10, 20]), &[], 30).unwrap();
        assert_eq!(got.rule, 1);
        assert_eq!(got.threshold.action, EscalationAction::Kick);
    }

    #[test]
    fn future_warns_and_zero_rules_are_ignored() {
        let rules = vec![EscalationRule {
            warns: 0,
            within_secs: 3600,
            action: EscalationAction::Ban,
        }];
        assert_eq!(evaluate(&rules, &warns(&[]), &[], 30), None);
        let one = vec![EscalationRule {
            warns: 1,
            within_secs: 3600,
            action: EscalationAction::Kick,
        }];
        assert_eq!(
            evaluate(&one, &warns(&[10, 50]), &[], 30)
                .unwrap()
                .references,
            vec![1]
        );
    }
}
