//! Human durations: `90s`, `1h30m`, `2d`, `1w`, `1h 30m`.
//!
//! # Grammar
//!
//! A duration is one or more *components*, each a decimal number immediately followed by a
//! unit: `s`/`sec`/`secs`/`second`/`seconds`, `m`/`min`/`mins`/`minute`/`minutes`,
//! `h`/`hr`/`hrs`/`hour`/`hours`, `d`/`day`/`days`, `w`/`wk`/`wks`/`week`/`weeks`,
//! `mo`/`mon`/`month`/`months` (30 days; `m` stays minutes).
//!
//! - Case does not matter (`1H30M` = `1h30m`).
//! - Whitespace: leading and trailing whitespace is ignored; components may be separated by
//!   whitespace (`1h 30m`, the formatter's output) or written together (`1h30m`). No
//!   whitespace is allowed inside a component (`1 h` is refused: the number has no unit).
//! - Components may come in any order, but each unit at most once (`1h2h` is refused).
//! - A bare number (`90`) is refused: the unit is never guessed.
//! - The total must be at least one second and at most [`MAX_DURATION`] (ten years).
//!
//! [`format_duration`] writes the canonical form (`1w 2d 3h 4m 5s`, zero parts omitted) and
//! [`parse_duration`] reads it back to the same value.

use std::fmt;
use std::time::Duration;

/// The longest duration accepted: 3650 days (about ten years).
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * DAY);

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
const MONTH: u64 = 30 * DAY;

/// A unit of a duration component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds (`s`).
    Seconds,
    /// Minutes (`m`).
    Minutes,
    /// Hours (`h`).
    Hours,
    /// Days (`d`).
    Days,
    /// Weeks (`w`).
    Weeks,
    /// Months of 30 days (`mo`); the formatter writes weeks and days instead.
    Months,
}

impl Unit {
    /// Seconds in one of this unit.
    #[must_use]
    pub const fn seconds(self) -> u64 {
        match self {
            Self::Seconds => 1,
            Self::Minutes => MINUTE,
            Self::Hours => HOUR,
            Self::Days => DAY,
            Self::Weeks => WEEK,
            Self::Months => MONTH,
        }
    }

    /// The short symbol (`s`, `m`, `h`, `d`, `w`, `mo`).
    #[must_use]
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Minutes => "m",
            Self::Hours => "h",
            Self::Days => "d",
            Self::Weeks => "w",
            Self::Months => "mo",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "s" | "sec" | "secs" | "second" | "seconds" => Self::Seconds,
            "m" | "min" | "mins" | "minute" | "minutes" => Self::Minutes,
            "h" | "hr" | "hrs" | "hour" | "hours" => Self::Hours,
            "d" | "day" | "days" => Self::Days,
            "w" | "wk" | "wks" | "week" | "weeks" => Self::Weeks,
            "mo" | "mon" | "mons" | "month" | "months" => Self::Months,
            _ => return None,
        })
    }
}

/// Why a duration could not be read. The `Display` text is shown to moderators as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing but whitespace was given.
    #[error("the duration is empty; write it like `90s`, `1h30m`, `2d` or `1w`")]
    Empty,
    /// The total is zero.
    #[error("the duration is zero; it must be at least 1s")]
    Zero,
    /// A number was not followed by a unit.
    #[error(
        "`{number}` has no unit; add one of s, m (minutes), h, d, w, mo (months) (for example `{number}m`)"
    )]
    MissingUnit {
        /// The number without a unit.
        number: String,
    },
    /// A unit word is not known.
    #[error("`{unit}` is not a unit; use s, m (minutes), h, d, w or mo (months)")]
    UnknownUnit {
        /// The word that was read as a unit.
        unit: String,
    },
    /// A unit (or other text) came where a number was expected.
    #[error("expected a number at `{found}`; write it like `90s`, `1h30m`, `2d` or `1w`")]
    MissingNumber {
        /// The text found instead of a number.
        found: String,
    },
    /// A character that is neither a digit, a letter nor whitespace.
    #[error(
        "unexpected character `{ch}` in the duration; only digits, units and spaces are allowed"
    )]
    UnexpectedChar {
        /// The offending character.
        ch: char,
    },
    /// The same unit appeared twice.
    #[error("the unit `{unit}` is given twice; write each unit once (like `1h30m`)")]
    DuplicateUnit {
        /// The unit's symbol.
        unit: &'static str,
    },
    /// The value does not fit in the supported range.
    #[error(
        "the duration is too long; the longest allowed is {}",
        format_duration(MAX_DURATION)
    )]
    TooLong,
}

/// Reads a duration. See the [module documentation](self) for the grammar.
///
/// # Errors
/// A [`DurationError`] saying what is wrong with the text.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut seen: Vec<Unit> = Vec::with_capacity(6);
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.trim_start();
        // Number.
        let digits_end = rest
            .char_indices()
            .find(|(_, c)| !c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        if digits_end == 0 {
            let c = rest.chars().next().unwrap_or(' ');
            if c.is_alphabetic() {
                let end = rest
                    .char_indices()
                    .find(|(_, c)| !c.is_alphabetic())
                    .map_or(rest.len(), |(i, _)| i);
                return Err(DurationError::MissingNumber {
                    found: rest[..end].to_owned(),
                });
            }
            return Err(DurationError::UnexpectedChar { ch: c });
        }
        let number_text = &rest[..digits_end];
        rest = &rest[digits_end..];
        // Unit: letters right after the number.
        let unit_end = rest
            .char_indices()
            .find(|(_, c)| !c.is_alphabetic())
            .map_or(rest.len(), |(i, _)| i);
        if unit_end == 0 {
            match rest.chars().next() {
                None => {
                    return Err(DurationError::MissingUnit {
                        number: number_text.to_owned(),
                    });
                }
                Some(c) if c.is_whitespace() => {
                    return Err(DurationError::MissingUnit {
                        number: number_text.to_owned(),
                    });
                }
                Some(c) => return Err(DurationError::UnexpectedChar { ch: c }),
            }
        }
        let unit_text = rest[..unit_end].to_lowercase();
        rest = &rest[unit_end..];
        let unit = Unit::from_word(&unit_text).ok_or(DurationError::UnknownUnit {
            unit: unit_text.clone(),
        })?;
        if seen.contains(&unit) {
            return Err(DurationError::DuplicateUnit {
                unit: unit.symbol(),
            });
        }
        seen.push(unit);
        // Leading zeros are harmless; a number too big for u64 is simply too long.
        let number: u64 = number_text.parse().map_err(|_| DurationError::TooLong)?;
        let secs = number
            .checked_mul(unit.seconds())
            .ok_or(DurationError::TooLong)?;
        total = total.checked_add(secs).ok_or(DurationError::TooLong)?;
        // Whatever follows (whitespace, the next number, anything else) is handled by the
        // next iteration.
    }
    if total == 0 {
        return Err(DurationError::Zero);
    }
    if total > MAX_DURATION.as_secs() {
        return Err(DurationError::TooLong);
    }
    Ok(Duration::from_secs(total))
}

/// Writes a duration in the canonical form `1w 2d 3h 4m 5s` (zero parts omitted, sub-second
/// part dropped); zero is written `0s`.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    FormattedDuration(duration).to_string()
}

/// [`format_duration`] of a number of seconds.
#[must_use]
pub fn format_secs(secs: u64) -> String {
    format_duration(Duration::from_secs(secs))
}

/// A [`Display`](fmt::Display) adapter writing a duration in the canonical form.
#[derive(Debug, Clone, Copy)]
pub struct FormattedDuration(pub Duration);

impl fmt::Display for FormattedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.as_secs();
        if secs == 0 {
            return f.write_str("0s");
        }
        let mut first = true;
        for unit in [
            Unit::Weeks,
            Unit::Days,
            Unit::Hours,
            Unit::Minutes,
            Unit::Seconds,
        ] {
            let n = secs / unit.seconds();
            secs %= unit.seconds();
            if n > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{n}{}", unit.symbol())?;
                first = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("90s", 90)]
    #[case("1h30m", 5400)]
    #[case("1h 30m", 5400)]
    #[case("  2d  ", 172_800)]
    #[case("1w", 604_800)]
    #[case("1W2D", 777_600)]
    #[case("30m1h", 5400)]
    #[case("1hour30min", 5400)]
    #[case("007s", 7)]
    #[case("3650d", 3650 * 86_400)]
    fn parses(#[case] input: &str, #[case] secs: u64) {
        assert_eq!(
            parse_duration(input),
            Ok(Duration::from_secs(secs)),
            "{input}"
        );
    }

    #[rstest]
    #[case("", DurationError::Empty)]
    #[case("   ", DurationError::Empty)]
    #[case("0s", DurationError::Zero)]
    #[case("0h 0m", DurationError::Zero)]
    #[case("90", DurationError::MissingUnit { number: "90".into() })]
    #[case("1h 30", DurationError::MissingUnit { number: "30".into() })]
    #[case("5 minutes", DurationError::MissingUnit { number: "5".into() })]
    #[case("5y", DurationError::UnknownUnit { unit: "y".into() })]
    #[case("5Fortnights", DurationError::UnknownUnit { unit: "fortnights".into() })]
    #[case("h", DurationError::MissingNumber { found: "h".into() })]
    #[case("spam", DurationError::MissingNumber { found: "spam".into() })]
    #[case("-5m", DurationError::UnexpectedChar { ch: '-' })]
    #[case("1.5h", DurationError::UnexpectedChar { ch: '.' })]
    #[case("1h,30m", DurationError::UnexpectedChar { ch: ',' })]
    #[case("1h1h", DurationError::DuplicateUnit { unit: "h" })]
    #[case("1h 1hour", DurationError::DuplicateUnit { unit: "h" })]
    #[case("3651d", DurationError::TooLong)]
    #[case("99999999999999999999999s", DurationError::TooLong)]
    #[case("18446744073709551615w", DurationError::TooLong)]
    fn refuses(#[case] input: &str, #[case] want: DurationError) {
        assert_eq!(parse_duration(input), Err(want));
    }

    #[test]
    fn error_messages_say_what_is_wrong() {
        let e = parse_duration("90").unwrap_err().to_string();
        assert!(e.contains("`90` has no unit"), "{e}");
        let e = parse_duration("5y").unwrap_err().to_string();
        assert!(e.contains("`y` is not a unit"), "{e}");
        let e = parse_duration("3651d").unwrap_err().to_string();
        assert!(e.contains("longest allowed is 521w 3d"), "{e}");
    }

    #[rstest]
    #[case(0, "0s")]
    #[case(90, "1m 30s")]
    #[case(5400, "1h 30m")]
    #[case(604_800 + 86_400 * 2 + 3600 * 3 + 60 * 4 + 5, "1w 2d 3h 4m 5s")]
    #[case(86_400, "1d")]
    fn formats(#[case] secs: u64, #[case] want: &str) {
        assert_eq!(format_duration(Duration::from_secs(secs)), want);
    }

    proptest! {
        #[test]
        fn round_trip(secs in 1..=MAX_DURATION.as_secs()) {
            let d = Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn round_trip_compact_and_upper(secs in 1..=MAX_DURATION.as_secs()) {
            let d = Duration::from_secs(secs);
            let compact = format_duration(d).replace(' ', "").to_uppercase();
            prop_assert_eq!(parse_duration(&compact), Ok(d));
        }

        #[test]
        fn big_numbers_never_panic(n in any::<u64>(), unit in "[smhdw]") {
            let r = parse_duration(&format!("{n}{unit}"));
            match r {
                Ok(d) => prop_assert!(d <= MAX_DURATION && d.as_secs() > 0),
                Err(e) => prop_assert!(matches!(e, DurationError::TooLong | DurationError::Zero)),
            }
        }

        #[test]
        fn huge_digit_strings_are_too_long(digits in "[1-9][0-9]{20,60}", unit in "[smhdw]") {
            prop_assert_eq!(parse_duration(&format!("{digits}{unit}")), Err(DurationError::TooLong));
        }

        #[test]
        fn anything_never_panics(s in "\\PC*") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn garbage_is_an_error(s in "[^0-9smhdwSMHDW \\t]{1,20}") {
            prop_assert!(parse_duration(&s).is_err());
        }

        #[test]
        fn ok_results_are_in_range(s in "[0-9smhdw ]{1,24}") {
            if let Ok(d) = parse_duration(&s) {
                prop_assert!(d.as_secs() >= 1 && d <= MAX_DURATION);
            }
        }
    }
}
