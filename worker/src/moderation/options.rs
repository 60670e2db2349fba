//! Small validated command inputs: the audit-log reason and the `delete_messages` choice.

use std::fmt;
use std::str::FromStr;

/// Discord's longest audit-log reason, in characters.
pub const MAX_REASON_CHARS: usize = 512;

/// A reason that fits the audit log (`X-Audit-Log-Reason`): trimmed, not empty, at most
/// [`MAX_REASON_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

/// Why a reason was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReasonError {
    /// Longer than Discord allows.
    #[error("the reason is {chars} characters long; the limit is {MAX_REASON_CHARS}")]
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
}

impl Reason {
    /// Validates an optional reason: `None` or blank gives `Ok(None)`.
    ///
    /// # Errors
    /// [`ReasonError::TooLong`] above [`MAX_REASON_CHARS`] characters (after trimming).
    pub fn parse_optional(text: Option<&str>) -> Result<Option<Self>, ReasonError> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let chars = text.chars().count();
        if chars > MAX_REASON_CHARS {
            return Err(ReasonError::TooLong { chars });
        }
        Ok(Some(Self(text.to_owned())))
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much of the user's message history a ban deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteMessages {
    /// Delete nothing.
    #[default]
    None,
    /// The previous 24 hours.
    Day,
    /// The previous 7 days (Discord's maximum).
    Week,
}

impl DeleteMessages {
    /// Every choice, in the order shown to users.
    pub const ALL: [Self; 3] = [Self::None, Self::Day, Self::Week];

    /// The `delete_message_seconds` sent to Discord.
    #[must_use]
    pub const fn seconds(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Day => 86_400,
            Self::Week => 604_800,
        }
    }

    /// The choice's value (what slash commands send and prefix commands accept).
    #[must_use]
    pub const fn value(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Day => "day",
            Self::Week => "week",
        }
    }

    /// The choice's label in Discord's client.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::None => "Don't delete any",
            Self::Day => "Previous 24 hours",
            Self::Week => "Previous 7 days",
        }
    }
}

/// A `delete_messages` value that is not one of the choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a delete_messages choice; use none, day or week")]
pub struct DeleteMessagesError(pub String);

impl FromStr for DeleteMessages {
    type Err = DeleteMessagesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "0" | "0d" | "no" => Ok(Self::None),
            "1d" | "1" | "day" | "24h" => Ok(Self::Day),
            "7d" | "7" | "week" | "1w" => Ok(Self::Week),
            _ => Err(DeleteMessagesError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("none", DeleteMessages::None, 0)]
    #[case("1d", DeleteMessages::Day, 86_400)]
    #[case("7D", DeleteMessages::Week, 604_800)]
    #[case(" 1w ", DeleteMessages::Week, 604_800)]
    #[case("0", DeleteMessages::None, 0)]
    fn delete_choices(#[case] text: &str, #[case] want: DeleteMessages, #[case] secs: u32) {
        let got: DeleteMessages = text.parse().unwrap();
        assert_eq!(got, want);
        assert_eq!(got.seconds(), secs);
    }

    #[test]
    fn delete_choice_values_parse_back() {
        for c in DeleteMessages::ALL {
            assert_eq!(c.value().parse::<DeleteMessages>(), Ok(c));
        }
    }

    #[test]
    fn bad_delete_choice() {
        let e = "3d".parse::<DeleteMessages>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "`3d` is not a delete_messages choice; use none, day or week"
        );
    }

    #[test]
    fn reasons() {
        assert_eq!(Reason::parse_optional(None), Ok(None));
        assert_eq!(Reason::parse_optional(Some("   ")), Ok(None));
        assert_eq!(
            Reason::parse_optional(Some(" spam "))
                .unwrap()
                .unwrap()
                .as_str(),
            "spam"
        );
        let max = "é".repeat(512);
        assert_eq!(
            Reason::parse_optional(Some(&max))
                .unwrap()
                .unwrap()
                .as_str(),
            max
        );
        let long = "é".repeat(513);
        assert_eq!(
            Reason::parse_optional(Some(&long)),
            Err(ReasonError::TooLong { chars: 513 })
        );
        assert_eq!(
            ReasonError::TooLong { chars: 513 }.to_string(),
            "the reason is 513 characters long; the limit is 512"
        );
    }
}
