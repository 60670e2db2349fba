//! Matching: what an enabled rule finds in a message's content, by Discord's keyword
//! strategies, regex patterns and allow list (KEYWORD), or by counting unique mentions
//! (MENTION_SPAM).

use super::{KEYWORD, MENTION_SPAM};
use serde_json::Value;

/// Whether `text` (lowercase) holds keyword `kw` by Discord's strategies; the matched word
/// (or phrase) when it does.
fn keyword_match(text: &str, kw: &str) -> Option<String> {
    let kw = kw.to_lowercase();
    let prefix_any = kw.starts_with('*');
    let suffix_any = kw.ends_with('*') && kw.len() > 1;
    let core = kw.trim_matches('*');
    if core.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    for (at, _) in text.match_indices(core) {
        let end = at + core.len();
        let before = text[..at].chars().next_back();
        let after = text[end..].chars().next();
        let starts_word = before.is_none_or(|c| !is_word(c));
        let ends_word = after.is_none_or(|c| !is_word(c));
        if (prefix_any || starts_word) && (suffix_any || ends_word) {
            // The whole word(s) the match lies in.
            let start = text[..at]
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_word(*c))
                .last()
                .map_or(at, |(i, _)| i);
            let stop = text[end..]
                .char_indices()
                .take_while(|(_, c)| is_word(*c))
                .last()
                .map_or(end, |(i, c)| end + i + c.len_utf8());
            return Some(text[start..stop].to_owned());
        }
    }
    None
}

/// What rule `r` finds in a message: `(matched_keyword, matched_content)`.
pub(super) fn rule_hit(r: &Value, content: &str) -> Option<(Option<String>, Option<String>)> {
    let md = &r["trigger_metadata"];
    match r["trigger_type"].as_u64() {
        Some(KEYWORD) => {
            let text = content.to_lowercase();
            let list = |k: &str| -> Vec<String> {
                md[k]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let allow = list("allow_list");
            let allowed = |m: &str| allow.iter().any(|a| keyword_match(m, a).is_some());
            for kw in list("keyword_filter") {
                if let Some(m) = keyword_match(&text, &kw)
                    && !allowed(&m)
                {
                    return Some((Some(kw), Some(m)));
                }
            }
            for p in list("regex_patterns") {
                let Ok(re) = regex::RegexBuilder::new(&p).case_insensitive(true).build() else {
                    continue;
                };
                if let Some(m) = re.find(content)
                    && !allowed(&m.as_str().to_lowercase())
                {
                    return Some((Some(p), Some(m.as_str().to_owned())));
                }
            }
            None
        }
        Some(MENTION_SPAM) => {
            let limit = md["mention_total_limit"].as_u64().unwrap_or(0);
            let n = unique_mentions(content);
            (limit > 0 && n as u64 > limit).then_some((None, None))
        }
        _ => None,
    }
}

/// Unique user and role mentions (`<@id>`, `<@!id>`, `<@&id>`) in `content`.
fn unique_mentions(content: &str) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut rest = content;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let (role, body) = match rest.strip_prefix('&') {
            Some(b) => (true, b),
            None => (false, rest.strip_prefix('!').unwrap_or(rest)),
        };
        let digits: String = body.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && body[digits.len()..].starts_with('>') {
            seen.insert((role, digits));
        }
    }
    seen.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_strategies() {
        let m = |t: &str, k: &str| keyword_match(&t.to_lowercase(), k);
        assert_eq!(m("a Cat sat", "cat").as_deref(), Some("cat"));
        assert_eq!(m("catch it", "cat"), None);
        assert_eq!(m("catch it", "cat*").as_deref(), Some("catch"));
        assert_eq!(m("a wildcat", "*cat").as_deref(), Some("wildcat"));
        assert_eq!(m("a wildcats", "*cat"), None);
        assert_eq!(m("concatenate", "*cat*").as_deref(), Some("concatenate"));
        assert_eq!(
            m("i like ice cream a lot", "ice cream").as_deref(),
            Some("ice cream")
        );
        assert_eq!(m("nothing here", "cat"), None);
    }

    #[test]
    fn mentions_are_counted_once_each() {
        assert_eq!(unique_mentions("<@1> <@!1> <@&1> <@2> <@x> <@3"), 3);
    }
}
