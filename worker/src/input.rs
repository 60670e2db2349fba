//! Values users type, read the same way wherever they are typed: the prefix command parser
//! (`k!… true`, `k!ban @user`) and the settings editors (`/automod set … on`, `… #channel`).
//! Durations have their own module ([`crate::duration`]).

use crate::snowflake::is_snowflake_sized;

/// What a mention in message text names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mention {
    /// `<@id>` or `<@!id>`.
    User,
    /// `<#id>`.
    Channel,
    /// `<@&id>`.
    Role,
}

impl Mention {
    /// Every kind of mention.
    pub const ALL: [Self; 3] = [Self::User, Self::Channel, Self::Role];

    /// The id text inside `word` when it is a mention of this kind.
    fn inner(self, word: &str) -> Option<&str> {
        let body = word.strip_suffix('>')?;
        match self {
            Self::User => body
                .strip_prefix("<@!")
                .or_else(|| body.strip_prefix("<@").filter(|r| !r.starts_with('&'))),
            Self::Channel => body.strip_prefix("<#"),
            Self::Role => body.strip_prefix("<@&"),
        }
    }
}

/// Reads an id from one word: a mention of one of the `accepted` kinds (any id but 0), or a
/// bare snowflake-sized number, so a small number (`k!ban 5`) is never taken for an id.
/// Around any spaces. `None` for anything else, including a mention of another kind.
#[must_use]
pub fn parse_id(word: &str, accepted: &[Mention]) -> Option<u64> {
    let word = word.trim();
    match accepted.iter().find_map(|kind| kind.inner(word)) {
        Some(inner) => inner.parse::<u64>().ok().filter(|id| *id != 0),
        None => word.parse::<u64>().ok().filter(|n| is_snowflake_sized(*n)),
    }
}

/// Reads a yes/no word: `true`, `yes`, `on`, `y`, `1` and `false`, `no`, `off`, `n`, `0`, in
/// any case, around any spaces. `None` for any other word.
#[must_use]
pub fn parse_bool(word: &str) -> Option<bool> {
    match word.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "1" => Some(true),
        "false" | "no" | "off" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Longest command prefix, in characters.
pub const MAX_PREFIX_CHARS: usize = 16;

/// Checks a command prefix (the `--prefix` setting and `/prefix`): 1 to
/// [`MAX_PREFIX_CHARS`] characters, no whitespace or control characters, and not a mention or
/// a slash, which Discord gives other meanings.
///
/// # Errors
/// What is wrong with it, as a sentence fragment (`the prefix is empty`).
pub fn parse_prefix(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the prefix is empty".into());
    }
    if s.chars().count() > MAX_PREFIX_CHARS {
        return Err(format!(
            "the prefix is longer than {MAX_PREFIX_CHARS} characters"
        ));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the prefix contains whitespace".into());
    }
    if s.starts_with('/') || s.starts_with("<@") || s.starts_with("<#") {
        return Err("the prefix cannot start with `/`, `<@` or `<#`".into());
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{Mention, parse_bool, parse_id, parse_prefix};

    #[test]
    fn ids_from_mentions_of_the_accepted_kinds_or_big_numbers() {
        let id = 175_928_847_299_117_063_u64;
        let user = [Mention::User];
        assert_eq!(parse_id("<@5>", &user), Some(5));
        assert_eq!(parse_id("<@!5>", &user), Some(5));
        assert_eq!(parse_id(" 175928847299117063 ", &user), Some(id));
        for bad in ["<@&5>", "<#5>", "<@0>", "5", "<@x>", "<@5", "", "@5"] {
            assert_eq!(parse_id(bad, &user), None, "{bad:?}");
        }
        assert_eq!(parse_id("<#7>", &[Mention::Channel]), Some(7));
        assert_eq!(parse_id("<@7>", &[Mention::Channel]), None);
        assert_eq!(parse_id("<@&9>", &[Mention::Role]), Some(9));
        assert_eq!(parse_id("<@9>", &[Mention::Role]), None);
        for (word, want) in [("<@&1>", 1), ("<#2>", 2), ("<@3>", 3), ("<@!4>", 4)] {
            assert_eq!(parse_id(word, &Mention::ALL), Some(want), "{word:?}");
        }
    }

    #[test]
    fn prefixes() {
        for ok in ["k!", "!", "?", "kyuta.", "ñ>", "0123456789abcdef"] {
            assert_eq!(parse_prefix(ok).as_deref(), Ok(ok), "{ok:?}");
        }
        for bad in [
            "",
            "k !",
            "a\tb",
            "/",
            "<@1>",
            "<#1>",
            "0123456789abcdefg",
            "\u{7}",
        ] {
            assert!(parse_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn yes_and_no_words_in_any_case() {
        for w in ["true", "YES", " on ", "y", "1"] {
            assert_eq!(parse_bool(w), Some(true), "{w:?}");
        }
        for w in ["false", "No", "OFF", "n", "0"] {
            assert_eq!(parse_bool(w), Some(false), "{w:?}");
        }
        for w in ["", "maybe", "2", "onn"] {
            assert_eq!(parse_bool(w), None, "{w:?}");
        }
    }
}
