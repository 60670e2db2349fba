//! How the values of `/automod set` are typed: booleans, durations, role and channel ids
//! (mentions or numbers) and action lists.

use super::super::config::{Action, MAX_TIMEOUT_SECS};
use super::super::rules::settings;
use super::EditError;

pub(super) fn parse_bool(v: &str) -> Result<bool, EditError> {
    settings::parse_bool(v).map_err(EditError)
}

pub(super) fn parse_id(v: &str) -> Result<u64, EditError> {
    let t = v
        .trim()
        .trim_start_matches("<@&")
        .trim_start_matches("<#")
        .trim_start_matches("<@!");
    let t = t.trim_start_matches("<@").trim_end_matches('>');
    t.parse()
        .ok()
        .filter(|id| *id != 0)
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
        let arg = words.next();
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
