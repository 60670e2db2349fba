//! The guild audit log.

use crate::error::e;
use crate::http::{P, Q, R, S, ok, snow};
use crate::state::Shared;
use crate::world::perms;
use axum::Router;
use axum::extract::{Path, Query, State as AxState};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

use super::guild;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/guilds/{guild}/audit-logs", get(audit_logs))
}

async fn audit_logs(AxState(sh): S, Path(p): P, Query(q): Q) -> R {
    let gid = snow(&p, "guild")?;
    let limit: usize = q
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let st = sh.lock();
    let g = guild(&sh, &st, &p)?;
    if g.base_permissions(sh.world.bot.id) & perms::VIEW_AUDIT_LOG == 0 {
        return Err(e::missing_permissions());
    }
    let user_id = q.get("user_id").cloned();
    let action: Option<u64> = q.get("action_type").and_then(|s| s.parse().ok());
    let before: Option<u64> = q.get("before").and_then(|s| s.parse().ok());
    let entries: Vec<Value> = st
        .audit
        .get(&gid)
        .map(|v| {
            v.iter()
                .rev()
                .filter(|en| {
                    user_id
                        .as_ref()
                        .is_none_or(|u| en["user_id"].as_str() == Some(u))
                })
                .filter(|en| action.is_none_or(|a| en["action_type"].as_u64() == Some(a)))
                .filter(|en| {
                    before.is_none_or(|b| {
                        en["id"]
                            .as_str()
                            .and_then(|s| s.parse::<u64>().ok())
                            .is_some_and(|id| id < b)
                    })
                })
                .take(limit)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut users: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for en in &entries {
        for k in ["user_id", "target_id"] {
            if let Some(id) = en[k].as_str().and_then(|s| s.parse::<u64>().ok())
                && seen.insert(id)
                && let Some(u) = st.user(&sh.world, id)
            {
                users.push(u.to_json());
            }
        }
    }
    ok(json!({
        "audit_log_entries": entries,
        "users": users,
        "integrations": [],
        "webhooks": [],
        "guild_scheduled_events": [],
        "threads": [],
        "application_commands": [],
        "auto_moderation_rules": [],
    }))
}
