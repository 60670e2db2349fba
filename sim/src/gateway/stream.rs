//! Streaming GUILD_CREATE after READY (and rebuilding one for RESUME replay): serialized
//! outside the state lock for untouched guilds, from the cache when another session streamed
//! the guild recently.

use super::Conn;
use crate::frames::{self, CreateView};
use crate::state::Shared;
use std::sync::Arc;

/// GUILD_CREATEs produced per turn of a connection's loop (the frames are then written in
/// one batch).
const BATCH: usize = 32;

/// The GUILD_CREATE payload of an untouched guild `n` (from the cache, or generated and
/// serialized without holding the state lock).
fn untouched_payload(shared: &Shared, n: u64, view: CreateView) -> Arc<str> {
    // An untouched guild has its generated members and the bot.
    let member_count = u64::from(shared.world.members_per_guild) + 1;
    let budget = shared.cfg.guild_create_cache_bytes;
    if budget > 0
        && let Some(p) = shared.guild_create_cache.get(n, member_count, view)
    {
        return p;
    }
    let g = shared.world.generate(n);
    let p: Arc<str> = Arc::from(frames::guild_create(&g, view));
    if budget > 0 {
        shared
            .guild_create_cache
            .put(n, member_count, view, p.clone(), budget);
    }
    p
}

/// Runs `f` with the GUILD_CREATE payload of guild `gid` as it is now, under the state lock
/// (so no change of the guild can slip between the payload and what `f` does with it).
/// `None` when the guild is not in the world.
pub(crate) fn with_guild_create<R>(
    shared: &Shared,
    gid: u64,
    view: CreateView,
    f: impl FnOnce(&mut crate::state::State, &str) -> R,
) -> Option<R> {
    let n = shared.world.guild_index(gid)?;
    loop {
        let untouched = {
            let mut st = shared.lock();
            if let Some(g) = st.guilds.get(&n) {
                let p = frames::guild_create(g, view);
                return Some(f(&mut st, &p));
            }
            drop(st);
            untouched_payload(shared, n, view)
        };
        let mut st = shared.lock();
        // Changed while it was being serialized: serialize the changed guild instead.
        if st.guilds.contains_key(&n) {
            continue;
        }
        return Some(f(&mut st, &untouched));
    }
}

impl Conn {
    /// Streams the next pending GUILD_CREATEs of this session (at most [`BATCH`]).
    pub(super) fn next_guild_creates(&mut self) {
        let Some(sid) = self.session.clone() else {
            self.pending_guilds.clear();
            return;
        };
        for _ in 0..BATCH {
            let Some(gid) = self.pending_guilds.pop_front() else {
                return;
            };
            let view = self.view;
            let pushed = with_guild_create(&self.shared, gid, view, |st, d| {
                if !st.guild_streamable(gid) {
                    return true;
                }
                st.push_guild_create(&sid, gid, d, view)
            });
            if pushed == Some(false) {
                // The session is gone (invalidated meanwhile).
                self.pending_guilds.clear();
                return;
            }
        }
    }

    /// The frame of a GUILD_CREATE kept lazily in the replay buffer, rebuilt with `seq`.
    pub(super) fn replay_guild_create(&self, seq: u64, gid: u64, view: CreateView) -> String {
        with_guild_create(&self.shared, gid, view, |_, d| {
            frames::dispatch_frame(seq, "GUILD_CREATE", d)
        })
        .unwrap_or_else(|| frames::dispatch_frame(seq, "GUILD_CREATE", "{}"))
    }
}
