//! A guild's native auto-moderation rules: list, create, read, modify, delete. Every route
//! needs Manage Server (50013 otherwise); bodies are validated by [`crate::automod::build`];
//! changes are dispatched as AUTO_MODERATION_RULE_CREATE/UPDATE/DELETE (intent
//! AUTO_MODERATION_CONFIGURATION) and logged as audit entries 140/141/142.

use crate::error::{ApiError, e};
use crate::http::{P, R, S, body_json, no_content, ok, reason, snow};
use crate::intents;
use crate::state::{Shared, State};
use crate::world::perms;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

use super::guild;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/guilds/{guild}/auto-moderation/rules",
            get(list).post(create),
        )
        .route(
            "/guilds/{guild}/auto-moderation/rules/{rule}",
            get(read).patch(modify).delete(remove),
        )
}

fn unknown_rule() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 10066, "Unknown auto moderation rule")
}

/// The guild after checking that the bot may manage its rules.
fn managed<'a>(
    sh: &Shared,
    st: &'a State,
    p: &std::collections::HashMap<String, String>,
) -> Result<std::borrow::Cow<'a, crate::world::Guild>, ApiError> {
    let g = guild(sh, st, p)?;
    if g.base_permissions(sh.world.bot.id) & perms::MANAGE_GUILD == 0 {
        return Err(e::missing_permissions());
    }
    Ok(g)
}

fn find(st: &State, gid: u64, rid: u64) -> Result<(usize, Value), ApiError> {
    let rid = rid.to_string();
    st.automod_rules
        .get(&gid)
        .and_then(|v| {
            v.iter()
                .position(|r| r["id"].as_str() == Some(rid.as_str()))
                .map(|i| (i, v[i].clone()))
        })
        .ok_or_else(unknown_rule)
}

async fn list(AxState(sh): S, Path(p): P) -> R {
    let st = sh.lock();
    let g = managed(&sh, &st, &p)?;
    ok(json!(crate::automod::rules(&st, g.id)))
}

async fn read(AxState(sh): S, Path(p): P) -> R {
    let rid = snow(&p, "rule")?;
    let st = sh.lock();
    let g = managed(&sh, &st, &p)?;
    ok(find(&st, g.id, rid)?.1)
}

fn changed(
    sh: &Shared,
    st: &mut State,
    gid: u64,
    event: &str,
    audit: u32,
    rule: &Value,
    why: Option<&str>,
) {
    let rid = rule["id"].as_str().and_then(|s| s.parse().ok());
    st.dispatch(
        Some(gid),
        event,
        rule,
        intents::AUTO_MODERATION_CONFIGURATION,
        false,
    );
    st.audit(
        &sh.world,
        gid,
        sh.world.bot.id,
        rid,
        audit,
        vec![],
        why,
        None,
    );
}

async fn create(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let why = reason(&h)?;
    let b = body_json(&body)?;
    let mut st = sh.lock();
    let g = managed(&sh, &st, &p)?.into_owned();
    let rule = crate::automod::build(&sh.world, &st, &g, &b, None, sh.world.bot.id)?;
    st.automod_rules.entry(g.id).or_default().push(rule.clone());
    changed(
        &sh,
        &mut st,
        g.id,
        "AUTO_MODERATION_RULE_CREATE",
        140,
        &rule,
        why.as_deref(),
    );
    ok(rule)
}

async fn modify(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let rid = snow(&p, "rule")?;
    let why = reason(&h)?;
    let b = body_json(&body)?;
    let mut st = sh.lock();
    let g = managed(&sh, &st, &p)?.into_owned();
    let (i, old) = find(&st, g.id, rid)?;
    let rule = crate::automod::build(&sh.world, &st, &g, &b, Some(&old), sh.world.bot.id)?;
    st.automod_rules.get_mut(&g.id).expect("found")[i] = rule.clone();
    changed(
        &sh,
        &mut st,
        g.id,
        "AUTO_MODERATION_RULE_UPDATE",
        141,
        &rule,
        why.as_deref(),
    );
    ok(rule)
}

async fn remove(AxState(sh): S, Path(p): P, h: HeaderMap) -> R {
    let rid = snow(&p, "rule")?;
    let why = reason(&h)?;
    let mut st = sh.lock();
    let g = managed(&sh, &st, &p)?.into_owned();
    let (i, old) = find(&st, g.id, rid)?;
    st.automod_rules.get_mut(&g.id).expect("found").remove(i);
    changed(
        &sh,
        &mut st,
        g.id,
        "AUTO_MODERATION_RULE_DELETE",
        142,
        &old,
        why.as_deref(),
    );
    no_content()
}
