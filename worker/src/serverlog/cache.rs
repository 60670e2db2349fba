//! The bounded in-process message cache: what a guild message said when it was posted, so
//! an edit can show it before and after and a delete can show what was deleted.
//!
//! Bounded by count ([`MAX_MESSAGES`] per process) and by age (messages created more than
//! [`MAX_AGE`] ago are dropped). Messages are keyed by id, a snowflake that orders them by
//! creation time, so the oldest is always the first to go. Each entry keeps at most
//! [`MAX_CONTENT_CHARS`] characters of content, so the cache holds at most about
//! 50 000 × 4 KB = 200 MB in the worst case and a few megabytes in practice.

use crate::snowflake;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Most messages kept per process.
pub const MAX_MESSAGES: usize = 50_000;

/// Messages older than this (by their id's time) are dropped.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Most characters of content kept per message (Discord's longest message, for Nitro users).
pub const MAX_CONTENT_CHARS: usize = 4_000;

/// What the cache remembers of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedMessage {
    /// The guild.
    pub guild_id: u64,
    /// The channel.
    pub channel_id: u64,
    /// The author.
    pub author_id: u64,
    /// Whether the author is a bot (or a webhook).
    pub author_bot: bool,
    /// The text; `None` when the bot cannot read message content (no MESSAGE_CONTENT).
    pub content: Option<String>,
    /// How many attachments it has.
    pub attachments: usize,
}

/// The cache. Safe to share between tasks.
#[derive(Debug)]
pub struct MessageCache {
    messages: Mutex<BTreeMap<u64, CachedMessage>>,
    max: usize,
    max_age: Duration,
}

impl Default for MessageCache {
    fn default() -> Self {
        Self::new(MAX_MESSAGES, MAX_AGE)
    }
}

impl MessageCache {
    /// A cache of at most `max` messages, none older than `max_age`.
    #[must_use]
    pub fn new(max: usize, max_age: Duration) -> Self {
        Self {
            messages: Mutex::new(BTreeMap::new()),
            max: max.max(1),
            max_age,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, CachedMessage>> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers message `id` (or replaces what was remembered), at `now_ms` (Unix ms), and
    /// drops what falls out of the bounds. A message already older than the age bound is not
    /// kept.
    pub fn insert(&self, id: u64, mut message: CachedMessage, now_ms: u64) {
        if let Some(c) = message.content.as_mut()
            && c.chars().count() > MAX_CONTENT_CHARS
        {
            *c = c.chars().take(MAX_CONTENT_CHARS).collect();
        }
        let cutoff = self.cutoff(now_ms);
        let mut m = self.lock();
        if snowflake::timestamp_ms(id) >= cutoff {
            m.insert(id, message);
        }
        Self::evict(&mut m, self.max, cutoff);
    }

    fn cutoff(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(u64::try_from(self.max_age.as_millis()).unwrap_or(u64::MAX))
    }

    fn evict(m: &mut BTreeMap<u64, CachedMessage>, max: usize, cutoff: u64) {
        while m.len() > max {
            m.pop_first();
        }
        while m
            .first_key_value()
            .is_some_and(|(id, _)| snowflake::timestamp_ms(*id) < cutoff)
        {
            m.pop_first();
        }
    }

    /// What is remembered of message `id`, if it is still in the bounds at `now_ms`.
    #[must_use]
    pub fn get(&self, id: u64, now_ms: u64) -> Option<CachedMessage> {
        if snowflake::timestamp_ms(id) < self.cutoff(now_ms) {
            return None;
        }
        self.lock().get(&id).cloned()
    }

    /// Forgets message `id`, returning what was remembered.
    pub fn remove(&self, id: u64) -> Option<CachedMessage> {
        self.lock().remove(&id)
    }

    /// How many messages are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_at(ms: u64, n: u64) -> u64 {
        crate::snowflake::at_ms(ms, n)
    }

    fn msg(text: &str) -> CachedMessage {
        CachedMessage {
            guild_id: 1,
            channel_id: 2,
            author_id: 3,
            author_bot: false,
            content: Some(text.to_owned()),
            attachments: 0,
        }
    }

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn snowflakes_tell_their_time() {
        assert_eq!(snowflake::timestamp_ms(id_at(NOW, 5)), NOW);
    }

    #[test]
    fn the_oldest_go_first_past_the_count() {
        let c = MessageCache::new(3, MAX_AGE);
        for n in 0..5 {
            c.insert(id_at(NOW - 1000 + n, 0), msg(&n.to_string()), NOW);
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(id_at(NOW - 1000, 0), NOW), None);
        assert_eq!(c.get(id_at(NOW - 999, 0), NOW), None);
        assert_eq!(
            c.get(id_at(NOW - 996, 0), NOW).unwrap().content.as_deref(),
            Some("4")
        );
    }

    #[test]
    fn old_messages_are_dropped_by_age() {
        let c = MessageCache::new(100, Duration::from_secs(60));
        let old = id_at(NOW - 61_000, 0);
        c.insert(old, msg("too old"), NOW);
        assert!(c.is_empty(), "a message past the age bound is not kept");
        let young = id_at(NOW - 30_000, 0);
        c.insert(young, msg("young"), NOW);
        assert!(c.get(young, NOW).is_some());
        assert_eq!(c.get(young, NOW + 31_000), None, "aged out on read");
        c.insert(id_at(NOW + 31_000, 0), msg("new"), NOW + 31_000);
        assert_eq!(c.len(), 1, "aged out on the next insert");
    }

    #[test]
    fn edits_replace_and_deletes_forget() {
        let c = MessageCache::default();
        let id = id_at(NOW, 1);
        c.insert(id, msg("before"), NOW);
        c.insert(id, msg("after"), NOW);
        assert_eq!(c.len(), 1);
        assert_eq!(c.remove(id).unwrap().content.as_deref(), Some("after"));
        assert_eq!(c.remove(id), None);
    }

    #[test]
    fn long_content_is_capped() {
        let c = MessageCache::default();
        let id = id_at(NOW, 1);
        c.insert(id, msg(&"é".repeat(5000)), NOW);
        let kept = c.get(id, NOW).unwrap().content.unwrap();
        assert_eq!(kept.chars().count(), MAX_CONTENT_CHARS);
    }
}
