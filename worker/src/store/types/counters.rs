//! Analytics counters, in hourly buckets.

/// One hourly analytics bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterBucket {
    /// Hours since the Unix epoch ([`Timestamp::hour`]).
    pub hour: u64,
    /// The counter's value for that hour.
    pub value: u64,
}
