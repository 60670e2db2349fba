//! Timeouts longer than Discord's 28-day cap, as a plan of renewals.
//!
//! Discord refuses a `communication_disabled_until` more than 28 days ahead. A longer timeout
//! is applied as a first 28-day step and then renewed: each renewal runs [`RENEW_MARGIN`]
//! before the current step ends and extends the timeout by at most 28 days from the moment it
//! runs, until the requested end is reached. The scheduler only ever stores the *next*
//! renewal; [`next_step`] computes it from the current time, so a renewal that runs late still
//! produces a valid request and the member is never left without a timeout before the end
//! (as long as it runs within the margin).

use std::time::Duration;

/// Discord's longest timeout: 28 days.
pub const TIMEOUT_CAP: Duration = Duration::from_secs(28 * 24 * 3600);

/// How long before a step ends its renewal is due.
pub const RENEW_MARGIN: Duration = Duration::from_secs(3600);

/// One application of a timeout: at `apply_at`, set `communication_disabled_until = until`
/// (both Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutStep {
    /// When this step is applied (Unix seconds).
    pub apply_at: i64,
    /// The `communication_disabled_until` sent in this step (Unix seconds).
    pub until: i64,
    /// When the following renewal is due, if the timeout goes on after `until`.
    pub next_renewal_at: Option<i64>,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The step to apply at `now` for a timeout that must last until `end` (Unix seconds).
/// Returns `None` when `end` is not after `now` (nothing left to apply).
#[must_use]
pub fn next_step(now: i64, end: i64) -> Option<TimeoutStep> {
    if end <= now {
        return None;
    }
    let until = end.min(now.saturating_add(secs(TIMEOUT_CAP)));
    let next_renewal_at = (until < end).then(|| until - secs(RENEW_MARGIN));
    Some(TimeoutStep {
        apply_at: now,
        until,
        next_renewal_at,
    })
}

/// The whole plan for a timeout of `total` starting at `start`, assuming every renewal runs
/// on time. Empty when `total` is zero. The first step is applied at `start`.
#[must_use]
pub fn timeout_plan(start: i64, total: Duration) -> Vec<TimeoutStep> {
    let end = start.saturating_add(secs(total));
    let mut steps = Vec::new();
    let mut now = start;
    while let Some(step) = next_step(now, end) {
        steps.push(step);
        match step.next_renewal_at {
            Some(at) => now = at,
            None => break,
        }
    }
    steps
}

/// How many renewals a timeout of `total` needs after its first step.
#[must_use]
pub fn renewals_needed(total: Duration) -> usize {
    timeout_plan(0, total).len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    const D: i64 = 86_400;

    #[rstest]
    #[case(60, 0)]
    #[case(28 * D, 0)]
    #[case(28 * D + 1, 1)]
    #[case(56 * D, 2)] // second step ends 1h short of 56 d, so a third is needed
    #[case(365 * D, 13)] // each renewal adds 28 d − 1 h
    fn renewal_counts(#[case] total: i64, #[case] renewals: usize) {
        assert_eq!(renewals_needed(Duration::from_secs(total as u64)), renewals);
    }

    #[test]
    fn plan_for_forty_days() {
        let start = 1_000_000;
        let plan = timeout_plan(start, Duration::from_secs(40 * D as u64));
        assert_eq!(
            plan,
            vec![
                TimeoutStep {
                    apply_at: start,
                    until: start + 28 * D,
                    next_renewal_at: Some(start + 28 * D - 3600),
                },
                TimeoutStep {
                    apply_at: start + 28 * D - 3600,
                    until: start + 40 * D,
                    next_renewal_at: None,
                },
            ]
        );
    }

    #[test]
    fn nothing_left() {
        assert_eq!(next_step(100, 100), None);
        assert_eq!(next_step(100, 50), None);
        assert!(timeout_plan(5, Duration::ZERO).is_empty());
    }

    #[test]
    fn late_renewal_still_valid() {
        // The renewal due at 28d-1h runs two days late: it still caps at 28 days from now.
        let step = next_step(30 * D, 100 * D).unwrap();
        assert_eq!(step.until, 58 * D);
        assert_eq!(step.next_renewal_at, Some(58 * D - 3600));
    }

    proptest! {
        #[test]
        fn plan_is_valid(start in 0i64..4_000_000_000, total in 1u64..(3650 * 86_400)) {
            let plan = timeout_plan(start, Duration::from_secs(total));
            prop_assert!(!plan.is_empty());
            prop_assert_eq!(plan[0].apply_at, start);
            let end = start + total as i64;
            prop_assert_eq!(plan.last().unwrap().until, end);
            prop_assert_eq!(plan.last().unwrap().next_renewal_at, None);
            for w in plan.windows(2) {
                // Each renewal runs before the previous step ends: no gap.
                prop_assert!(w[1].apply_at < w[0].until);
                prop_assert_eq!(Some(w[1].apply_at), w[0].next_renewal_at);
                prop_assert!(w[1].until > w[0].until);
            }
            for s in &plan {
                prop_assert!(s.until - s.apply_at <= secs(TIMEOUT_CAP));
                prop_assert!(s.until > s.apply_at);
            }
        }
    }
}
