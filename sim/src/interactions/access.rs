//! Who may run a command: a member's timeout, the command's `contexts`, `dm_permission`
//! and `default_member_permissions`, and the guild's command permission overwrites.

use super::request::{BuildError, Place, bad, not_timed_out};
use crate::state::State;
use crate::world::{Guild, perms};
use serde_json::{Value, json};

/// Whether the user may run `cmd` at `place`: not timed out, the command's `contexts` (and
/// `dm_permission`) include the place, and in a guild the member holds every bit of
/// `default_member_permissions` (`"0"`: administrators only).
pub(super) fn may_use(st: &State, place: &Place, cmd: &Value) -> Result<(), BuildError> {
    not_timed_out(place)?;
    let context = if place.guild_id.is_some() { 0 } else { 1 };
    if let Some(ctx) = cmd["contexts"].as_array()
        && !ctx.iter().any(|c| c.as_u64() == Some(context))
    {
        return Err(bad(format!(
            "the command's contexts do not include {}",
            if context == 0 {
                "guilds"
            } else {
                "the bot's DMs"
            }
        )));
    }
    if context == 1 && cmd["dm_permission"] == json!(false) {
        return Err(bad("the command is not available in DMs"));
    }
    if let Some(g) = &place.guild
        && let Some(allowed) = overwritten(st, g, place.user.id, cmd)
    {
        return if allowed {
            Ok(())
        } else {
            Err(bad(
                "the guild's command permissions do not let the user run it",
            ))
        };
    }
    if let Some(g) = &place.guild
        && let Some(need) = cmd["default_member_permissions"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
    {
        let have = g.base_permissions(place.user.id);
        let admin = have & perms::ADMINISTRATOR != 0;
        let allowed = if need == 0 {
            admin
        } else {
            admin || have & need == need
        };
        if !allowed {
            return Err(bad(
                "the user lacks the command's default_member_permissions",
            ));
        }
    }
    Ok(())
}

/// What the guild's command permission overwrites say about `user` running `cmd` (those of
/// the command, else the application-wide ones): the user's own entry, else any of their
/// roles' (allowed if one allows), else `@everyone`'s; `None` when none applies.
/// Administrators may always run it.
fn overwritten(st: &State, g: &Guild, user: u64, cmd: &Value) -> Option<bool> {
    if g.base_permissions(user) & perms::ADMINISTRATOR != 0 {
        return Some(true);
    }
    let name = cmd["name"].as_str().map(str::to_owned);
    let list = st
        .command_overwrites
        .get(&(g.id, name))
        .or_else(|| st.command_overwrites.get(&(g.id, None)))?;
    if let Some(&(_, _, ok)) = list.iter().find(|(id, t, _)| *t == 2 && *id == user) {
        return Some(ok);
    }
    let roles = g
        .members
        .get(&user)
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    let mine: Vec<bool> = list
        .iter()
        .filter(|(id, t, _)| *t == 1 && roles.contains(id))
        .map(|(_, _, ok)| *ok)
        .collect();
    if !mine.is_empty() {
        return Some(mine.contains(&true));
    }
    list.iter()
        .find(|(id, t, _)| *t == 1 && *id == g.id)
        .map(|(_, _, ok)| *ok)
}
