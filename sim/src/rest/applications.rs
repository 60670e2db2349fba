//! The application and its commands (global and per guild).

use crate::error::{ApiError, e};
use crate::http::{P, R, S, body_json, no_content, ok, snow};
use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/applications/@me", get(application))
        .route("/oauth2/applications/@me", get(application))
        .route(
            "/applications/{app}/commands",
            get(list_global_commands)
                .put(put_global_commands)
                .post(create_command),
        )
        .route(
            "/applications/{app}/commands/{command}",
            get(get_command).patch(edit_command).delete(delete_command),
        )
        .route(
            "/applications/{app}/guilds/{guild}/commands",
            get(list_guild_commands)
                .put(put_guild_commands)
                .post(create_command),
        )
        .route(
            "/applications/{app}/guilds/{guild}/commands/{command}",
            get(get_command).patch(edit_command).delete(delete_command),
        )
}

/// The application's flags with the privileged intents enabled: GATEWAY_PRESENCE_LIMITED,
/// GATEWAY_GUILD_MEMBERS_LIMITED and GATEWAY_MESSAGE_CONTENT_LIMITED (a bot under 100 guilds
/// with them switched on). With `--no-privileged-intents` (or once they are switched off
/// through `POST /_sim/application`) none of them is set, as for an application whose intents
/// are off.
const APP_FLAGS: u64 = (1 << 13) | (1 << 15) | (1 << 19);

async fn application(AxState(sh): S) -> R {
    let w = &sh.world;
    let privileged = {
        let st = sh.lock();
        sh.privileged_intents(&st)
    };
    let flags = if privileged { APP_FLAGS } else { 0 };
    ok(json!({
        "id": w.application_id.to_string(),
        "name": w.bot.username,
        "icon": null,
        "description": "A moderation bot",
        "summary": "",
        "type": null,
        "hook": true,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": format!("{:064x}", crate::util::mix(sh.cfg.seed)),
        "flags": flags,
        "flags_new": flags.to_string(),
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "eligible_oauth2_scopes": ["bot", "applications.commands"],
        "owner": w.app_owner.to_json(),
        "team": null,
        "bot": w.bot.to_json(),
        "approximate_guild_count": w.guild_count,
        "integration_types_config": {"0": {}},
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "role_connections_verification_url": null,
        "tags": [],
        "is_monetized": false,
        "is_verified": false,
        "is_discoverable": false,
        "storefront_available": false,
        "explicit_content_filter": 0,
    }))
}

fn check_app(sh: &Shared, p: &HashMap<String, String>) -> Result<(), ApiError> {
    let app = snow(p, "app")?;
    if app != sh.world.application_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            20012,
            "You are not authorized to perform this action on this application",
        ));
    }
    Ok(())
}

async fn list_global_commands(AxState(sh): S, Path(p): P) -> R {
    check_app(&sh, &p)?;
    ok(json!(sh.lock().commands_global))
}

async fn put_global_commands(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    check_app(&sh, &p)?;
    let b = body_json(&body)?;
    let cmds = crate::commands::validate_and_build(&sh, None, &b)?;
    let mut st = sh.lock();
    let cmds = crate::commands::assign_ids(&mut st, None, cmds);
    st.commands_global = cmds.clone();
    ok(json!(cmds))
}

async fn list_guild_commands(AxState(sh): S, Path(p): P) -> R {
    check_app(&sh, &p)?;
    let g = snow(&p, "guild")?;
    let st = sh.lock();
    st.guild(&sh.world, g).ok_or_else(e::unknown_guild)?;
    ok(json!(
        st.commands_guild.get(&g).cloned().unwrap_or_default()
    ))
}

async fn put_guild_commands(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    check_app(&sh, &p)?;
    let g = snow(&p, "guild")?;
    let b = body_json(&body)?;
    {
        let st = sh.lock();
        st.guild(&sh.world, g).ok_or_else(e::unknown_guild)?;
    }
    let cmds = crate::commands::validate_and_build(&sh, Some(g), &b)?;
    let mut st = sh.lock();
    let cmds = crate::commands::assign_ids(&mut st, Some(g), cmds);
    st.commands_guild.insert(g, cmds.clone());
    ok(json!(cmds))
}

/// The scope of a single-command route: `None` (global) or an existing guild.
fn command_scope(sh: &Shared, p: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    check_app(sh, p)?;
    if !p.contains_key("guild") {
        return Ok(None);
    }
    let g = snow(p, "guild")?;
    sh.lock().guild(&sh.world, g).ok_or_else(e::unknown_guild)?;
    Ok(Some(g))
}

/// `POST .../commands` (global or guild).
async fn create_command(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    let guild = command_scope(&sh, &p)?;
    let b = body_json(&body)?;
    let mut st = sh.lock();
    let (cmd, created) = crate::commands::create(&sh, &mut st, guild, &b)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(cmd)).into_response())
}

/// `GET .../commands/{command}` (global or guild).
async fn get_command(AxState(sh): S, Path(p): P) -> R {
    let guild = command_scope(&sh, &p)?;
    let id = snow(&p, "command")?;
    ok(crate::commands::get(&sh.lock(), guild, id)?)
}

/// `PATCH .../commands/{command}` (global or guild).
async fn edit_command(AxState(sh): S, Path(p): P, body: Bytes) -> R {
    let guild = command_scope(&sh, &p)?;
    let id = snow(&p, "command")?;
    let b = body_json(&body)?;
    let mut st = sh.lock();
    ok(crate::commands::edit(&sh, &mut st, guild, id, &b)?)
}

/// `DELETE .../commands/{command}` (global or guild).
async fn delete_command(AxState(sh): S, Path(p): P) -> R {
    let guild = command_scope(&sh, &p)?;
    let id = snow(&p, "command")?;
    crate::commands::delete(&mut sh.lock(), guild, id)?;
    no_content()
}
