//! What every control request for an interaction names: who interacts where, checked; the
//! error it is refused with.

use crate::state::{Shared, State};
use crate::util::{DISCORD_LOCALES, now_ms};
use crate::world::Guild;
use serde_json::Value;

/// Why a control-API interaction request was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    /// Anything wrong with the request (unknown command or option, bad value...).
    #[error("{0}")]
    Bad(String),
}

pub(super) fn bad(s: impl Into<String>) -> BuildError {
    BuildError::Bad(s.into())
}

/// The `options` value of the control request as a string.
pub(super) fn opt_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A snowflake field of a control request (string or number), if present.
pub(super) fn req_id(req: &Value, k: &str) -> Result<Option<u64>, BuildError> {
    match req.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => opt_str(v)
            .parse()
            .map(Some)
            .map_err(|_| bad(format!("{k} must be a snowflake"))),
    }
}

/// Who interacts where: the guild (if any), channel and user of a control request, checked.
pub(super) struct Place {
    pub guild: Option<Guild>,
    pub guild_id: Option<u64>,
    pub channel: crate::world::Channel,
    pub user: crate::world::User,
    /// The user's client language (`locale` of the request; `en-US` by default).
    pub locale: String,
}

pub(super) fn place(sh: &Shared, st: &State, req: &Value) -> Result<Place, BuildError> {
    let guild_id = req_id(req, "guild_id")?;
    let channel_id = req_id(req, "channel_id")?.ok_or_else(|| bad("channel_id is required"))?;
    let user_id = req_id(req, "user_id")?.ok_or_else(|| bad("user_id is required"))?;
    let guild = match guild_id {
        Some(g) => Some(
            st.guild(&sh.world, g)
                .ok_or_else(|| bad("unknown guild"))?
                .into_owned(),
        ),
        None => None,
    };
    let channel = st
        .channel(&sh.world, channel_id)
        .ok_or_else(|| bad("unknown channel"))?;
    if channel.guild_id != guild_id {
        return Err(bad("channel is not in that guild"));
    }
    let user = st
        .user(&sh.world, user_id)
        .ok_or_else(|| bad("unknown user"))?;
    let locale = match req.get("locale") {
        None | Some(Value::Null) => "en-US".to_owned(),
        Some(Value::String(l)) if DISCORD_LOCALES.contains(&l.as_str()) => l.clone(),
        Some(other) => {
            return Err(bad(format!(
                "locale {other} is not one of Discord's locales ({})",
                DISCORD_LOCALES.join(", ")
            )));
        }
    };
    if let Some(g) = &guild
        && !g.members.contains_key(&user_id)
    {
        return Err(bad("user is not a member of the guild"));
    }
    Ok(Place {
        guild,
        guild_id,
        channel,
        user,
        locale,
    })
}

/// A member in a timeout cannot use commands or components (Discord's client does not let
/// them).
pub(super) fn not_timed_out(place: &Place) -> Result<(), BuildError> {
    if let Some(g) = &place.guild
        && g.members
            .get(&place.user.id)
            .and_then(|m| m.communication_disabled_until)
            .is_some_and(|t| t > now_ms())
    {
        return Err(bad("the user is timed out and cannot use commands"));
    }
    Ok(())
}
