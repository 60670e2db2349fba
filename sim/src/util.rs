//! Small helpers: snowflakes, Discord timestamps, deterministic hashing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A snowflake given in JSON, as Discord takes it: a string of digits or an integer.
pub(crate) fn snowflake_value(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The Unix-millisecond creation time encoded in a snowflake.
#[must_use]
pub fn snowflake_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

/// A snowflake for Unix time `ms` with `low` (22 bits) as worker/process/increment.
#[must_use]
pub fn snowflake_at(ms: u64, low: u64) -> u64 {
    (ms.saturating_sub(DISCORD_EPOCH_MS) << 22) | (low & 0x3F_FFFF)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh snowflake for something created now. Unique within the process.
#[must_use]
pub fn next_snowflake() -> u64 {
    snowflake_at_unique(now_ms())
}

/// A fresh snowflake for something created at Unix time `ms` (now, or a backdated message).
/// The low 22 bits are 0x3F0000 | a process-wide counter (never a generated guild index below
/// 0x3F0000); every 65,536 ids the counter's overflow moves the time on by a millisecond, so
/// ids made for the same `ms` never repeat. An id for a past time can in principle equal one
/// made 65,536 or more ids earlier for a slightly later time: callers that need an id unused
/// in some collection check it there.
#[must_use]
pub(crate) fn snowflake_at_unique(ms: u64) -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    snowflake_at(ms + (n >> 16), 0x3F_0000 | (n & 0xFFFF))
}

/// Formats Unix milliseconds as Discord does: `2021-01-01T01:01:01.010000+00:00`.
#[must_use]
pub fn iso(ms: u64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.microsecond()
    )
}

/// Parses an ISO 8601 / RFC 3339 timestamp into Unix milliseconds.
#[must_use]
pub fn parse_iso(s: &str) -> Option<u64> {
    let dt = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let ms = dt.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).ok()
}

/// SplitMix64: a fast, well-mixed deterministic hash step.
#[must_use]
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A deterministic value from a seed and some coordinates.
#[must_use]
pub fn hash3(seed: u64, a: u64, b: u64) -> u64 {
    mix(mix(mix(seed) ^ a) ^ b.wrapping_mul(0x2545_F491_4F6C_DD1D))
}

/// A random alphanumeric string (session ids, interaction tokens).
#[must_use]
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// The locales Discord's clients report (the keys allowed in `*_localizations`).
pub const DISCORD_LOCALES: [&str; 32] = [
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th",
    "zh-CN", "ja", "zh-TW", "ko",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_format_matches_discord() {
        assert_eq!(iso(1_609_462_861_010), "2021-01-01T01:01:01.010000+00:00");
        assert_eq!(
            parse_iso("2021-01-01T01:01:01.010000+00:00"),
            Some(1_609_462_861_010)
        );
    }

    #[test]
    fn snowflakes_roundtrip_time() {
        let id = snowflake_at(1_609_462_861_010, 5);
        assert_eq!(snowflake_ms(id), 1_609_462_861_010);
        assert_eq!(id & 0x3F_FFFF, 5);
        assert_ne!(next_snowflake(), next_snowflake());
    }

    #[test]
    fn backdated_snowflakes_are_unique_and_of_their_time() {
        let ms = 1_609_462_861_010;
        let (a, b) = (snowflake_at_unique(ms), snowflake_at_unique(ms));
        assert_ne!(a, b);
        // Exact until this process has made 65,536 ids, then a millisecond later per 65,536.
        let drift = COUNTER.load(Ordering::Relaxed) >> 16;
        for id in [a, b] {
            assert!((ms..=ms + drift).contains(&snowflake_ms(id)), "{id}");
            assert_eq!(id & 0x3F_0000, 0x3F_0000);
        }
    }
}
