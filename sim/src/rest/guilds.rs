//! Guilds, their roles and channels.

use crate::http::{P, Q, R, S, ok};
use crate::state::Shared;
use crate::world::Channel;
use axum::Router;
use axum::extract::{Path, Query, State as AxState};
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;

use super::guild;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/guilds/{guild}", get(get_guild))
        .route("/guilds/{guild}/roles", get(get_roles))
        .route("/guilds/{guild}/channels", get(get_channels))
}

async fn get_guild(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    let mut v = g.to_json();
    if q.get("with_counts").is_some_and(|s| s == "true") {
        v["approximate_member_count"] = json!(g.members.len());
        v["approximate_presence_count"] = json!(0);
    }
    ok(v)
}

async fn get_roles(AxState(sh): S, Path(p): P) -> R {
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    ok(json!(
        g.roles
            .iter()
            .map(crate::world::Role::to_json)
            .collect::<Vec<_>>()
    ))
}

async fn get_channels(AxState(sh): S, Path(p): P) -> R {
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    ok(json!(
        g.channels.iter().map(Channel::to_json).collect::<Vec<_>>()
    ))
}
