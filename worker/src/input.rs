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

#[cfg(test)]
mod tests {
    use super::parse_bool;

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
