//! The order in which a generation's pods are replaced when its template changes: a pure
//! decision, table-tested, carried out by the reconcile loop.
//!
//! The StatefulSets use `updateStrategy: OnDelete`, so the StatefulSet controller never
//! replaces a pod by itself; the operator evicts one pod at a time, in the order that keeps
//! every shard with a live process:
//!
//! - **Shards per pod grow** (fewer pods): the pod of the lowest ordinal first. Its new range
//!   covers shards of higher ordinals, which still run and hand their shards over; each shard
//!   is without a process only while its own pod restarts.
//! - **Shards per pod shrink** (more pods), or the template changed without the range: the pod
//!   of the highest ordinal first, each new pod taking its shards from lower ordinals that
//!   still run.
//! - **Condemned pods** (ordinals at or past the new pod count) go last: the StatefulSet keeps
//!   its old `replicas` until every kept pod runs the new template and is Ready, which means
//!   the condemned pods hold no shard any more; then `replicas` is lowered and the StatefulSet
//!   controller removes them.
//!
//! Nothing is evicted while a pod is terminating, a pod that should exist is missing or not
//! Ready, or the StatefulSet controller has not observed the current spec.

/// One pod of a generation, as observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodView {
    /// Its ordinal (`<generation name>-<ordinal>`).
    pub ordinal: u32,
    /// It runs the StatefulSet's current template (its revision is the update revision).
    pub current: bool,
    /// Its Ready condition is true.
    pub ready: bool,
    /// It is being deleted.
    pub terminating: bool,
    /// The shards per pod of the template it runs, when readable.
    pub shards_per_pod: Option<u32>,
}

/// What the roll of one generation starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollInput {
    /// Pods the plan asks for.
    pub target_replicas: u32,
    /// Shards per pod of the plan.
    pub target_shards_per_pod: u32,
    /// `replicas` of the StatefulSet as it exists (`None`: not created yet).
    pub spec_replicas: Option<u32>,
    /// The StatefulSet controller has observed the current spec (`status.observedGeneration`
    /// equals `metadata.generation`), so the pods' revisions can be compared with it.
    pub observed: bool,
    /// The generation's pods.
    pub pods: Vec<PodView>,
}

/// Where a roll stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollState {
    /// Every pod runs the current template and the pod count is the plan's.
    Done,
    /// Something must happen first (a pod starting, terminating or not Ready).
    Waiting,
    /// A pod is evicted in this step.
    Evicting,
    /// Every kept pod is replaced and Ready: `replicas` is lowered to the plan's.
    Shrinking,
}

/// One step of the roll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollStep {
    /// `replicas` to render in the StatefulSet.
    pub replicas: u32,
    /// The ordinal of the pod to evict now, if any.
    pub evict: Option<u32>,
    /// Where the roll stands.
    pub state: RollState,
}

/// The next step of a generation's roll.
#[must_use]
pub fn next_step(input: &RollInput) -> RollStep {
    let target = input.target_replicas;
    let Some(spec_replicas) = input.spec_replicas else {
        return RollStep {
            replicas: target,
            evict: None,
            state: RollState::Waiting,
        };
    };
    // A pod fits the plan when it runs the update revision with the plan's range (before the
    // controller has seen a new template, the old one is still the update revision).
    let fits = |p: &PodView| p.current && p.shards_per_pod == Some(input.target_shards_per_pod);
    let stale: Vec<&PodView> = input
        .pods
        .iter()
        .filter(|p| p.ordinal < target && !fits(p))
        .collect();
    let kept_all_serving = (0..target).all(|i| {
        input
            .pods
            .iter()
            .any(|p| p.ordinal == i && fits(p) && p.ready && !p.terminating)
    });
    // Scaling up takes effect at once; scaling down only once every kept pod serves on the
    // new template (the condemned pods then hold no shard).
    let replicas = if target >= spec_replicas || (input.observed && kept_all_serving) {
        target
    } else {
        spec_replicas
    };
    let settled = input.observed
        && !input.pods.iter().any(|p| p.terminating)
        && (0..replicas).all(|i| input.pods.iter().any(|p| p.ordinal == i && p.ready));
    if stale.is_empty() {
        let state = if replicas < spec_replicas {
            RollState::Shrinking
        } else if settled && input.pods.len() as u32 == replicas && input.pods.iter().all(fits) {
            RollState::Done
        } else {
            RollState::Waiting
        };
        return RollStep {
            replicas,
            evict: None,
            state,
        };
    }
    if !settled {
        return RollStep {
            replicas,
            evict: None,
            state: RollState::Waiting,
        };
    }
    // Pods whose range grows go lowest first; the others highest first.
    let grows = |p: &&&PodView| {
        p.shards_per_pod
            .is_some_and(|spp| spp < input.target_shards_per_pod)
    };
    let next = match stale.iter().filter(grows).map(|p| p.ordinal).min() {
        Some(lowest) => lowest,
        None => stale.iter().map(|p| p.ordinal).max().unwrap_or_default(),
    };
    RollStep {
        replicas,
        evict: Some(next),
        state: RollState::Evicting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(ordinal, current, ready, shards per pod)`; none terminating.
    fn pods(list: &[(u32, bool, bool, u32)]) -> Vec<PodView> {
        list.iter()
            .map(|&(ordinal, current, ready, spp)| PodView {
                ordinal,
                current,
                ready,
                terminating: false,
                shards_per_pod: Some(spp),
            })
            .collect()
    }

    fn input(target: u32, spp: u32, spec: u32, pods: Vec<PodView>) -> RollInput {
        RollInput {
            target_replicas: target,
            target_shards_per_pod: spp,
            spec_replicas: Some(spec),
            observed: true,
            pods,
        }
    }

    fn step(replicas: u32, evict: Option<u32>, state: RollState) -> RollStep {
        RollStep {
            replicas,
            evict,
            state,
        }
    }

    #[test]
    fn steps() {
        use RollState::{Done, Evicting, Shrinking, Waiting};
        let old8 = |ready: bool| -> Vec<(u32, bool, bool, u32)> {
            (0..8).map(|i| (i, false, ready, 1)).collect()
        };
        let cases: Vec<(&str, RollInput, RollStep)> = vec![
            (
                "no StatefulSet yet: create it with the plan's pods",
                RollInput {
                    spec_replicas: None,
                    ..input(4, 2, 0, vec![])
                },
                step(4, None, Waiting),
            ),
            (
                "rolled out",
                input(
                    4,
                    2,
                    4,
                    pods(&[
                        (0, true, true, 2),
                        (1, true, true, 2),
                        (2, true, true, 2),
                        (3, true, true, 2),
                    ]),
                ),
                step(4, None, Done),
            ),
            (
                "8 -> 4 pods: keep 8 replicas, evict the lowest ordinal first",
                input(4, 2, 8, pods(&old8(true))),
                step(8, Some(0), Evicting),
            ),
            (
                "8 -> 4 pods: pod 0 replaced and Ready, next is pod 1",
                input(4, 2, 8, {
                    let mut p = old8(true);
                    p[0] = (0, true, true, 2);
                    pods(&p)
                }),
                step(8, Some(1), Evicting),
            ),
            (
                "8 -> 4 pods: pod 0 replaced but not Ready yet: wait",
                input(4, 2, 8, {
                    let mut p = old8(true);
                    p[0] = (0, true, false, 2);
                    pods(&p)
                }),
                step(8, None, Waiting),
            ),
            (
                "8 -> 4 pods: every kept pod replaced and Ready: lower replicas, the condemned go",
                input(4, 2, 8, {
                    let mut p = old8(true);
                    for (i, slot) in p.iter_mut().enumerate().take(4) {
                        *slot = (i as u32, true, true, 2);
                    }
                    pods(&p)
                }),
                step(4, None, Shrinking),
            ),
            (
                "4 -> 8 pods: replicas at once, then the highest stale ordinal once all are Ready",
                input(
                    8,
                    1,
                    4,
                    pods(&[
                        (0, false, true, 2),
                        (1, false, true, 2),
                        (2, false, true, 2),
                        (3, false, true, 2),
                    ]),
                ),
                step(8, None, Waiting),
            ),
            (
                "4 -> 8 pods: new pods Ready, evict pod 3 first",
                input(8, 1, 8, {
                    let mut p = vec![
                        (0, false, true, 2),
                        (1, false, true, 2),
                        (2, false, true, 2),
                        (3, false, true, 2),
                    ];
                    p.extend((4..8).map(|i| (i, true, true, 1)));
                    pods(&p)
                }),
                step(8, Some(3), Evicting),
            ),
            (
                "reverted in the middle of 8 -> 4: the pods already at 2 shards go back, highest first",
                input(8, 1, 8, {
                    let mut p = old8(true);
                    for (i, slot) in p.iter_mut().enumerate().take(8) {
                        *slot = (i as u32, true, true, 1);
                    }
                    p[0] = (0, false, true, 2);
                    p[1] = (1, false, true, 2);
                    pods(&p)
                }),
                step(8, Some(1), Evicting),
            ),
            (
                "a template change with the same range: highest first",
                input(2, 2, 2, pods(&[(0, false, true, 2), (1, false, true, 2)])),
                step(2, Some(1), Evicting),
            ),
            (
                "the controller has not observed the spec: nothing is evicted",
                RollInput {
                    observed: false,
                    ..input(4, 2, 8, pods(&old8(true)))
                },
                step(8, None, Waiting),
            ),
            (
                "8 -> 4 pods before the new template is applied: the pods run the update revision \
                 with the old range, so replicas stay and pod 0 goes first",
                input(
                    4,
                    2,
                    8,
                    pods(&(0..8).map(|i| (i, true, true, 1)).collect::<Vec<_>>()),
                ),
                step(8, Some(0), Evicting),
            ),
            (
                "a pod of the old count missing: wait",
                input(4, 2, 8, pods(&old8(true)[..7])),
                step(8, None, Waiting),
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(next_step(&input), want, "{name}");
        }
    }

    #[test]
    fn nothing_is_evicted_while_a_pod_terminates() {
        let mut p = pods(&(0..8).map(|i| (i, false, true, 1)).collect::<Vec<_>>());
        p[5].terminating = true;
        let got = next_step(&input(4, 2, 8, p));
        assert_eq!(got.evict, None);
        assert_eq!(got.replicas, 8);
    }

    #[test]
    fn condemned_pods_are_never_evicted_one_by_one() {
        // Kept pods done, condemned ones stale and Ready: no eviction, replicas lowered.
        let mut list: Vec<(u32, bool, bool, u32)> = (0..4).map(|i| (i, true, true, 2)).collect();
        list.extend((4..8).map(|i| (i, false, true, 1)));
        let got = next_step(&input(4, 2, 8, pods(&list)));
        assert_eq!(got, step(4, None, RollState::Shrinking));
    }
}
