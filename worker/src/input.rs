//! Values users type, read the same way wherever they are typed: the prefix command parser
//! (`k!… true`) and the settings editors (`/automod set … on`). Durations have their own
//! module ([`crate::duration`]).

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
    use super::{parse_bool, parse_prefix};

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
