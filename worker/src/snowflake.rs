//! Discord ids (snowflakes): when one was made, making one for a time, and whether a bare
//! number is big enough to be one. Every part of the worker that reads an id's time or
//! accepts a bare number as an id uses these.

/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds: a snowflake's top 42 bits
/// count milliseconds since it.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// The smallest bare number read as a Discord id: 15 digits. Real snowflakes are 17 digits or
/// more, so a small number (`k!ban 5`, `k!cases @user 2`) is never taken for a user, channel or
/// role.
pub const MIN_SNOWFLAKE: u64 = 100_000_000_000_000;

/// When a snowflake was made, in Unix milliseconds.
#[must_use]
pub const fn timestamp_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

/// When a snowflake was made, in Unix seconds.
#[must_use]
pub const fn unix_secs(id: u64) -> u64 {
    timestamp_ms(id) / 1000
}

/// The smallest snowflake made at Unix millisecond `ms` (0 before Discord's epoch), plus
/// `seq` in the low 22 bits (worker, process and increment); for ids compared by age, such as
/// bulk-delete bounds.
#[must_use]
pub const fn at_ms(ms: u64, seq: u64) -> u64 {
    (ms.saturating_sub(DISCORD_EPOCH_MS) << 22) | (seq & 0x3f_ffff)
}

/// Whether a bare number is snowflake-sized (at least [`MIN_SNOWFLAKE`]).
#[must_use]
pub const fn is_snowflake_sized(n: u64) -> bool {
    n >= MIN_SNOWFLAKE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trips_through_an_id() {
        assert_eq!(timestamp_ms(0), DISCORD_EPOCH_MS);
        // Discord's documented example: 175928847299117063 was made 2016-04-30 11:18:25.796 UTC.
        assert_eq!(timestamp_ms(175_928_847_299_117_063), 1_462_015_105_796);
        assert_eq!(unix_secs(175_928_847_299_117_063), 1_462_015_105);
        let id = at_ms(1_800_000_000_000, 7);
        assert_eq!(timestamp_ms(id), 1_800_000_000_000);
        assert_eq!(id & 0x3f_ffff, 7);
        assert_eq!(at_ms(0, 0), 0);
    }

    #[test]
    fn only_big_numbers_are_ids() {
        assert!(!is_snowflake_sized(5));
        assert!(!is_snowflake_sized(99_999_999_999_999));
        assert!(is_snowflake_sized(175_928_847_299_117_063));
    }
}
