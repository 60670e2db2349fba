//! A rule and its actions as text, for the replies of `/automod list` and `/automod test`.

use serde_json::{Value, json};

use super::super::config::{Action, Rule};
use crate::duration::format_secs;

pub(super) fn action_text(a: &Action) -> String {
    match a {
        Action::Timeout { secs } => format!("timeout {}", format_secs(u64::from(*secs))),
        Action::Ban {
            delete_message_secs: d,
        } if *d > 0 => format!("ban (delete {})", format_secs(u64::from(*d))),
        Action::Alert { channel: Some(c) } => format!("alert <#{c}>"),
        other => other.name().to_owned(),
    }
}

/// One line describing a rule's parameters, for `/automod list`.
#[must_use]
pub fn describe_rule(r: &Rule) -> String {
    let mut kind = serde_json::to_value(&r.kind).expect("rule kind serialises");
    if let Some(o) = kind.as_object_mut() {
        o.remove("type");
        for list in ["words", "patterns"] {
            if let Some(Value::Array(a)) = o.get(list) {
                let n = a.len();
                o.insert(list.into(), json!(format!("{n} entries")));
            }
        }
    }
    let params = kind
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{k}={}", v.to_string().trim_matches('"')))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let actions: Vec<String> = r.actions.iter().map(action_text).collect();
    let mut line = format!(
        "{} `{}` {} → {}",
        if r.enabled { "✅" } else { "⏸️" },
        r.kind.type_name(),
        params,
        if actions.is_empty() {
            "(tiers only)".into()
        } else {
            actions.join(", ")
        }
    );
    if !r.exempt_roles.is_empty() || !r.exempt_channels.is_empty() {
        line.push_str(&format!(
            " · exempt: {}",
            r.exempt_roles
                .iter()
                .map(|x| format!("<@&{x}>"))
                .chain(r.exempt_channels.iter().map(|x| format!("<#{x}>")))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    line
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
