//! How the values of `/automod set` are typed: booleans, durations, role and channel ids
//! (mentions or numbers) and action lists.

use super::super::config::{Action, MAX_TIMEOUT_SECS};
use super::super::rules::settings;
use super::EditError;
use crate::input::Mention;

pub(super) fn parse_bool(v: &str) -> Result<bool, EditError> {
    settings::parse_bool(v).map_err(EditError)
}

/// A role or channel id: a mention (`<@&…>`, `<#…>`, `<@…>`; any id but 0) or a bare
/// snowflake-sized number, as prefix arguments are read.
pub(super) fn parse_id(v: &str) -> Result<u64, EditError> {
    crate::input::parse_id(v, &Mention::ALL)
        .ok_or_else(|| EditError(format!("{v:?} is not a role or channel mention or id")))
}

pub(super) fn parse_ids(v: &str) -> Result<Vec<u64>, EditError> {
    if settings::is_none(v) {
        return Ok(Vec::new());
    }
    v.split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(parse_id)
        .collect()
}

fn parse_secs(v: &str) -> Result<u64, EditError> {
    settings::parse_secs(v).map_err(EditError)
}

/// Parses an action list: `delete, warn, timeout 10m, kick, ban, alert #channel`.
pub fn parse_actions(v: &str) -> Result<Vec<Action>, EditError> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let name = words.next().unwrap_or_default().to_ascii_lowercase();
        // The rest of the part is the argument, so a duration may be written `1h 30m`.
        let rest = words.collect::<Vec<_>>().join(" ");
        let arg = (!rest.is_empty()).then_some(rest.as_str());
        let action = match name.as_str() {
            "delete" => Action::Delete,
            "warn" => Action::Warn,
            "kick" => Action::Kick,
            "timeout" | "mute" => {
                let secs = parse_secs(arg.ok_or_else(|| {
                    EditError("timeout needs a duration, e.g. `timeout 10m`".into())
                })?)?;
                if secs == 0 || secs > u64::from(MAX_TIMEOUT_SECS) {
                    return Err(EditError("a timeout lasts from 1 second to 28 days".into()));
                }
                Action::Timeout { secs: secs as u32 }
            }
            "ban" => Action::Ban {
                delete_message_secs: arg.map(parse_secs).transpose()?.unwrap_or(0).min(604_800)
                    as u32,
            },
            "alert" => Action::Alert {
                channel: arg.map(parse_id).transpose()?,
            },
            "lockdown" => Action::Lockdown,
            other => {
                return Err(EditError(format!(
                    "unknown action {other:?}: use delete, warn, timeout <duration>, kick, ban, alert [#channel], lockdown"
                )));
            }
        };
        out.push(action);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_may_be_written_in_several_words() {
        assert_eq!(
            parse_actions("delete, timeout 1h 30m, kick").unwrap(),
            vec![Action::Delete, Action::Timeout { secs: 5400 }, Action::Kick]
        );
        assert_eq!(
            parse_actions("ban 1d 12h").unwrap(),
            vec![Action::Ban {
                delete_message_secs: 129_600
            }]
        );
        assert!(parse_actions("timeout").is_err());
    }

    #[test]
    fn ids_are_mentions_or_snowflake_sized_numbers() {
        assert_eq!(
            parse_id("<#175928847299117063>").unwrap(),
            175_928_847_299_117_063
        );
        assert_eq!(parse_id("<@&5>").unwrap(), 5);
        assert_eq!(
            parse_id(" 175928847299117063 ").unwrap(),
            175_928_847_299_117_063
        );
        for bad in ["0", "5", "<#0>", "<#x>", "general", "#general"] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_actions("alert <#175928847299117063>").unwrap(),
            vec![Action::Alert {
                channel: Some(175_928_847_299_117_063)
            }]
        );
    }
}
