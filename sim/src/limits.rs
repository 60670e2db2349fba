//! Discord's per-route rate limits: which bucket a request falls in, and the buckets
//! themselves (sliding like Discord's since 2022, or fixed for the routes that still are).
//!
//! Discord publishes no per-route numbers; the table holds what Discord answers in its
//! `X-RateLimit-*` headers (see `sim/README.md`). Routes not in the table get
//! [`crate::SimConfig::route_limit`] per [`crate::SimConfig::route_window`].

use crate::config::SimConfig;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How a bucket's window moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    /// Each request frees its slot `window` after it was made (Discord's default).
    Sliding,
    /// All slots come back together `window` after the first request of the window.
    Fixed,
}

/// The limit a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteLimit {
    /// Name of the bucket: routes with the same name share one counter per major parameter
    /// and one `X-RateLimit-Bucket` hash. Empty: the route's own bucket.
    pub bucket: &'static str,
    /// Requests per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
    /// Sliding or fixed.
    pub kind: Window,
}

/// The limit of `method template` (a route template as matched, without `/api/v10`).
pub(crate) fn route_limit(cfg: &SimConfig, method: &str, template: &str) -> RouteLimit {
    let factor = cfg.route_limit_factor.max(1);
    let l = |bucket, limit: u32, ms, kind| RouteLimit {
        bucket,
        limit: limit.saturating_mul(factor),
        window: Duration::from_millis(ms),
        kind,
    };
    use Window::{Fixed, Sliding};
    match (method, template) {
        // Guild channels and DM channels alike: 5 per 5 s per channel.
        ("POST", "/channels/{channel}/messages") => l("message-create", 5, 5_000, Sliding),
        ("PATCH", "/channels/{channel}/messages/{message}") => l("message-edit", 5, 5_000, Sliding),
        ("DELETE", "/channels/{channel}/messages/{message}") => {
            l("message-delete", 5, 1_000, Sliding)
        }
        // Banning and unbanning share one bucket per guild.
        ("PUT" | "DELETE", "/guilds/{guild}/bans/{user}") => l("bans", 5, 5_000, Sliding),
        ("PATCH", "/guilds/{guild}/members/{user}") => l("member-edit", 10, 10_000, Sliding),
        ("DELETE", "/guilds/{guild}/members/{user}") => l("member-kick", 5, 5_000, Sliding),
        // Adding and removing a role share one bucket per guild, still a fixed window.
        ("PUT" | "DELETE", "/guilds/{guild}/members/{user}/roles/{role}") => {
            l("member-roles", 10, 10_000, Fixed)
        }
        // Channel edits: 10 per 15 s per channel, as Discord's headers showed in reports
        // (discord-api-docs #2190, #2761).
        // Name and topic changes have a stricter sub-limit on top (2 per 10 minutes per
        // channel, `SimConfig::channel_rename_limit`), which these headers do not show; the
        // route enforces it.
        ("PATCH", "/channels/{channel}") => l("channel-edit", 10, 15_000, Sliding),
        // Setting and removing permission overwrites share one bucket per channel. No
        // figure is published or reported: 10 per 10 s is the simulator's estimate.
        ("PUT" | "DELETE", "/channels/{channel}/permissions/{overwrite}") => {
            l("channel-overwrites", 10, 10_000, Sliding)
        }
        _ => RouteLimit {
            bucket: "",
            limit: cfg.route_limit,
            window: cfg.route_window,
            kind: Sliding,
        },
    }
}

/// One bucket's state.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// Times of the requests counted in the current window (sliding), or of the current
    /// fixed window.
    hits: VecDeque<Instant>,
    /// End of the current fixed window.
    reset_at: Option<Instant>,
}

/// What a bucket said about one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Allowed: `remaining` slots left, the bucket is full again after `reset_after`.
    Allowed {
        /// Slots left.
        remaining: u32,
        /// Until the bucket is full again.
        reset_after: Duration,
    },
    /// Refused: a slot frees after `retry_after`; full after `reset_after`.
    Limited {
        /// Until one slot is free.
        retry_after: Duration,
        /// Until the bucket is full again.
        reset_after: Duration,
    },
}

impl Bucket {
    /// Counts a request made at `now` if the bucket has room.
    pub(crate) fn hit(
        &mut self,
        limit: u32,
        window: Duration,
        kind: Window,
        now: Instant,
    ) -> Verdict {
        let limit = limit.max(1);
        match kind {
            Window::Sliding => {
                while self
                    .hits
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    self.hits.pop_front();
                }
                let until = |t: Instant| (t + window).saturating_duration_since(now);
                if self.hits.len() >= limit as usize {
                    return Verdict::Limited {
                        retry_after: until(*self.hits.front().expect("full")),
                        reset_after: until(*self.hits.back().expect("full")),
                    };
                }
                self.hits.push_back(now);
                Verdict::Allowed {
                    remaining: limit - self.hits.len() as u32,
                    reset_after: window,
                }
            }
            Window::Fixed => {
                if self.reset_at.is_none_or(|r| now >= r) {
                    self.hits.clear();
                    self.reset_at = Some(now + window);
                }
                let reset_after = self.reset_at.expect("set").saturating_duration_since(now);
                if self.hits.len() >= limit as usize {
                    return Verdict::Limited {
                        retry_after: reset_after,
                        reset_after,
                    };
                }
                self.hits.push_back(now);
                Verdict::Allowed {
                    remaining: limit - self.hits.len() as u32,
                    reset_after,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliding_bucket_frees_one_slot_per_request_as_it_ages() {
        let mut b = Bucket::default();
        let t0 = Instant::now();
        let w = Duration::from_secs(5);
        for i in 0..5 {
            let at = t0 + Duration::from_secs(i);
            assert!(matches!(
                b.hit(5, w, Window::Sliding, at),
                Verdict::Allowed { .. }
            ));
        }
        let at = t0 + Duration::from_millis(4_500);
        assert_eq!(
            b.hit(5, w, Window::Sliding, at),
            Verdict::Limited {
                retry_after: Duration::from_millis(500),
                reset_after: Duration::from_millis(4_500),
            }
        );
        // The first request ages out at 5 s: exactly one slot is back.
        let at = t0 + Duration::from_secs(5);
        assert!(matches!(
            b.hit(5, w, Window::Sliding, at),
            Verdict::Allowed { remaining: 0, .. }
        ));
        assert!(matches!(
            b.hit(5, w, Window::Sliding, at),
            Verdict::Limited { .. }
        ));
    }

    #[test]
    fn a_fixed_bucket_refills_all_at_once() {
        let mut b = Bucket::default();
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        for _ in 0..2 {
            assert!(matches!(
                b.hit(2, w, Window::Fixed, t0),
                Verdict::Allowed { .. }
            ));
        }
        assert!(matches!(
            b.hit(2, w, Window::Fixed, t0 + Duration::from_secs(9)),
            Verdict::Limited { .. }
        ));
        assert!(matches!(
            b.hit(2, w, Window::Fixed, t0 + w),
            Verdict::Allowed { remaining: 1, .. }
        ));
    }

    #[test]
    fn routes_that_share_a_bucket_name_it_alike_and_others_do_not() {
        let cfg = SimConfig::default();
        let put = route_limit(&cfg, "PUT", "/guilds/{guild}/bans/{user}");
        let del = route_limit(&cfg, "DELETE", "/guilds/{guild}/bans/{user}");
        assert_eq!(put, del);
        let post = route_limit(&cfg, "POST", "/channels/{channel}/messages");
        assert_eq!((post.limit, post.window), (5, Duration::from_secs(5)));
        assert_ne!(post.bucket, put.bucket);
        let set = route_limit(&cfg, "PUT", "/channels/{channel}/permissions/{overwrite}");
        let unset = route_limit(
            &cfg,
            "DELETE",
            "/channels/{channel}/permissions/{overwrite}",
        );
        assert_eq!(set, unset);
        let edit = route_limit(&cfg, "PATCH", "/channels/{channel}");
        assert_eq!((edit.limit, edit.window), (10, Duration::from_secs(15)));
        assert_ne!(edit.bucket, set.bucket);
        let factor = SimConfig {
            route_limit_factor: 10,
            ..SimConfig::default()
        };
        assert_eq!(
            route_limit(&factor, "POST", "/channels/{channel}/messages").limit,
            50
        );
    }
}
