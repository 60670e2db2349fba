//! The Discord REST API under `/api/v10`, one module per resource. Interaction callbacks and
//! webhook messages live in [`crate::interactions`], which brings its own router.

mod applications;
mod audit;
mod automod;
mod bans;
pub(crate) mod channels;
mod gateway;
mod guilds;
pub(crate) mod members;
pub(crate) mod messages;
mod users;

use crate::error::{ApiError, e};
use crate::http::snow;
use crate::state::{Shared, State};
use crate::world::{Channel, Guild, perms};
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

/// Routes of the REST resources (the middleware is added by the caller).
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .merge(gateway::router())
        .merge(users::router())
        .merge(applications::router())
        .merge(channels::router())
        .merge(messages::router())
        .merge(guilds::router())
        .merge(members::router())
        .merge(bans::router())
        .merge(audit::router())
        .merge(automod::router())
}

/// Looks up a channel and the bot's permissions in it (ALL for DMs).
fn channel_and_perms(sh: &Shared, st: &State, cid: u64) -> Result<(Channel, u64), ApiError> {
    let c = st.channel(&sh.world, cid).ok_or_else(e::unknown_channel)?;
    let p = match c.guild_id {
        Some(g) => st
            .guild(&sh.world, g)
            .ok_or_else(e::unknown_channel)?
            .channel_permissions(sh.world.bot.id, cid),
        None => perms::ALL,
    };
    if p & perms::VIEW_CHANNEL == 0 {
        return Err(e::missing_access());
    }
    Ok((c, p))
}

fn guild<'a>(
    sh: &Shared,
    st: &'a State,
    p: &HashMap<String, String>,
) -> Result<std::borrow::Cow<'a, Guild>, ApiError> {
    let gid = snow(p, "guild")?;
    st.guild(&sh.world, gid).ok_or_else(e::unknown_guild)
}
