//! Answering interactions: the callback endpoint, the original response and followups
//! (`/interactions/...` and `/webhooks/...` of `/api/v10`, which need no bot token).

use crate::error::{ApiError, e};
use crate::http::{R, no_content, ok, snow};
use crate::intents;
use crate::state::{Interaction, Shared, State};
use crate::uploads;
use crate::util::{iso, next_snowflake, now_ms};
use crate::validate::validate_message_body;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The interaction routes of `/api/v10`: the callback and the webhook (followup, original
/// response) messages. They need no bot token.
pub(crate) fn router() -> axum::Router<Arc<Shared>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/interactions/{interaction}/{token}/callback",
            post(callback),
        )
        .route("/webhooks/{app}/{token}", post(followup))
        .route(
            "/webhooks/{app}/{token}/messages/{message}",
            get(get_webhook_message)
                .patch(edit_webhook_message)
                .delete(delete_webhook_message),
        )
}

/// A message the bot posts in answer to interaction `it` (initial response or followup),
/// with the mentions its `allowed_mentions` lets notify.
fn interaction_message(
    sh: &Shared,
    st: &State,
    it: &Interaction,
    body: &Value,
    flags: u64,
    kind: u8,
) -> Value {
    let id = next_snowflake();
    let content = body.get("content").and_then(Value::as_str).unwrap_or("");
    let mut m = crate::state::message_json(
        id,
        it.channel_id,
        it.guild_id,
        &sh.world.bot,
        None,
        content,
        body,
        kind,
    );
    crate::mentions::record(
        st,
        &sh.world,
        it.guild_id,
        it.channel_id,
        sh.world.bot.id,
        &mut m,
        body.get("allowed_mentions"),
    );
    m["flags"] = json!(flags);
    m["webhook_id"] = json!(sh.world.application_id.to_string());
    m["application_id"] = json!(sh.world.application_id.to_string());
    let user = it
        .payload
        .get("member")
        .and_then(|m| m.get("user"))
        .or_else(|| it.payload.get("user"))
        .cloned()
        .unwrap_or(Value::Null);
    if it.payload["type"] == 3 {
        m["interaction_metadata"] = json!({
            "id": it.id.to_string(),
            "type": 3,
            "user": user,
            "authorizing_integration_owners": it.payload["authorizing_integration_owners"],
            "interacted_message_id": it.payload["message"]["id"],
        });
        return m;
    }
    if it.payload["type"] == 5 {
        // A submitted form: Discord names the interaction that opened it.
        m["interaction_metadata"] = json!({
            "id": it.id.to_string(),
            "type": 5,
            "user": user,
            "authorizing_integration_owners": it.payload["authorizing_integration_owners"],
        });
        return m;
    }
    let data = &it.payload["data"];
    let name = data["name"].clone();
    let command_type = data["type"].as_u64().unwrap_or(1);
    m["interaction_metadata"] = json!({
        "id": it.id.to_string(),
        "type": 2,
        "user": user,
        "authorizing_integration_owners": it.payload["authorizing_integration_owners"],
        "name": name,
        "command_type": command_type,
    });
    let target = data["target_id"].clone();
    match command_type {
        2 => {
            m["interaction_metadata"]["target_user"] =
                data["resolved"]["users"][target.as_str().unwrap_or("")].clone()
        }
        3 => m["interaction_metadata"]["target_message_id"] = target,
        _ => {}
    }
    m["interaction"] = json!({"id": it.id.to_string(), "type": 2, "name": name, "user": user});
    m
}

fn publish(
    st: &mut State,
    world: &crate::world::World,
    it_guild: Option<u64>,
    channel: u64,
    m: &Value,
    event: &str,
) {
    if event == "MESSAGE_UPDATE" {
        // The same message may be another interaction's original or followup (a component
        // interaction updates the message its component sits on).
        for it in st.interactions.values_mut() {
            for slot in it.original.iter_mut().chain(it.followups.iter_mut()) {
                if slot["id"] == m["id"] {
                    *slot = m.clone();
                }
            }
        }
    }
    if m["flags"].as_u64().unwrap_or(0) & 64 != 0 {
        return;
    }
    if event == "MESSAGE_CREATE" {
        st.store_message(channel, m.clone());
    } else if let Some(v) = st.messages.get_mut(&channel)
        && let Some(slot) = v.iter_mut().find(|x| x["id"] == m["id"])
    {
        *slot = m.clone();
    }
    let intent = if it_guild.is_some() {
        intents::GUILD_MESSAGES
    } else {
        intents::DIRECT_MESSAGES
    };
    let mut ev = m.clone();
    if event == "MESSAGE_CREATE" {
        crate::mentions::with_members(st, world, it_guild, &mut ev);
    }
    st.dispatch(it_guild, event, &ev, intent, false);
}

/// `POST /interactions/{id}/{token}/callback`.
pub(crate) async fn callback(
    AxState(sh): AxState<Arc<Shared>>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
    body: Bytes,
) -> R {
    let iid = snow(&p, "interaction")?;
    let token = p.get("token").cloned().unwrap_or_default();
    let upload = uploads::read(&h, body).await?;
    let b = &upload.json;
    let t = b
        .get("type")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::form("type", "BASE_TYPE_REQUIRED", "This field is required"))?;
    let data = b.get("data").cloned().unwrap_or(json!({}));
    let mut st = sh.lock();
    let deadline = sh.cfg.interaction_ack_deadline;
    st.interactions
        .get_mut(&iid)
        .filter(|it| it.token == token)
        .ok_or_else(e::unknown_interaction)?
        .callbacks += 1;
    let it = &st.interactions[&iid];
    if it.acknowledged {
        return Err(e::already_acknowledged());
    }
    if it.created.elapsed() > deadline {
        return Err(e::unknown_interaction());
    }
    let kind = it.payload["type"].as_u64().unwrap_or(2);
    let allowed = match t {
        1 => kind == 1,
        4 | 5 => kind != 1 && kind != 4,
        6 | 7 => kind == 3 || kind == 5,
        8 => kind == 4,
        9 => kind == 2 || kind == 3,
        _ => false,
    };
    if !allowed {
        return Err(ApiError::form(
            "type",
            "INTERACTION_RESPONSE_TYPE_INVALID",
            "Invalid interaction response type for this interaction",
        ));
    }
    let mut message = None;
    let mut updated = None;
    match t {
        4 => {
            validate_message_body(&data, !upload.has_files())?;
            let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0) & (64 | 4 | 4096);
            message = Some(interaction_message(&sh, &st, it, &data, flags, 20));
        }
        5 => {
            let flags = (data.get("flags").and_then(Value::as_u64).unwrap_or(0) & 64) | 128;
            message = Some(interaction_message(&sh, &st, it, &json!({}), flags, 20));
        }
        6 if !it.payload["message"].is_null() => {
            updated = Some(it.payload["message"].clone());
        }
        7 if !it.payload["message"].is_null() => {
            validate_message_body(&data, false)?;
            let mut m = it.payload["message"].clone();
            crate::state::apply_edit(&mut m, &data);
            m["edited_timestamp"] = json!(iso(now_ms()));
            updated = Some(m);
        }
        9 => validate_modal(&data)?,
        _ => {}
    }
    let (guild, channel) = (it.guild_id, it.channel_id);
    if matches!(t, 4 | 7)
        && let Some(m) = message.as_mut().or(updated.as_mut())
    {
        upload.edit(&data, &mut st.uploads, channel, m)?;
    }
    let it = st.interactions.get_mut(&iid).expect("exists");
    it.acknowledged = true;
    it.response = Some(b.clone());
    // For a component interaction acknowledged with 6 or 7, the original response is the
    // message the component sits on (editable through @original).
    it.original = message.clone().or_else(|| updated.clone());
    if let Some(m) = &message {
        publish(&mut st, &sh.world, guild, channel, m, "MESSAGE_CREATE");
    }
    if t == 7
        && let Some(m) = &updated
    {
        publish(&mut st, &sh.world, guild, channel, m, "MESSAGE_UPDATE");
    }
    let message = message.or(updated);
    if q.get("with_response").is_some_and(|v| v == "true") {
        let mut out = json!({"interaction": {
            "id": iid.to_string(),
            "type": kind,
            "response_message_id": message.as_ref().map(|m| m["id"].clone()),
            "response_message_loading": t == 5,
            "response_message_ephemeral": message.as_ref().is_some_and(|m| m["flags"].as_u64().unwrap_or(0) & 64 != 0),
        }});
        // Discord returns a resource only for responses that carry a message (4, 7).
        if let Some(m) = message.filter(|_| t == 4 || t == 7) {
            out["resource"] = json!({"type": t, "message": m});
        }
        return ok(out);
    }
    no_content()
}

/// Resolves a webhook (application id + interaction token) to an interaction id.
fn webhook_interaction(
    sh: &Shared,
    st: &State,
    p: &HashMap<String, String>,
) -> Result<u64, ApiError> {
    let app = snow(p, "app")?;
    let token = p.get("token").map(String::as_str).unwrap_or("");
    if app != sh.world.application_id {
        return Err(e::unknown_webhook());
    }
    let id = *st
        .interaction_tokens
        .get(token)
        .ok_or_else(e::unknown_webhook)?;
    let it = &st.interactions[&id];
    if it.created.elapsed() > sh.cfg.interaction_token_ttl {
        return Err(e::invalid_webhook_token());
    }
    Ok(id)
}

/// `POST /webhooks/{app}/{token}`: a followup message.
pub(crate) async fn followup(
    AxState(sh): AxState<Arc<Shared>>,
    Path(p): Path<HashMap<String, String>>,
    h: HeaderMap,
    body: Bytes,
) -> R {
    let upload = uploads::read(&h, body).await?;
    let b = &upload.json;
    let mut st = sh.lock();
    let id = webhook_interaction(&sh, &st, &p)?;
    validate_message_body(b, !upload.has_files())?;
    let it = &st.interactions[&id];
    if !it.acknowledged {
        return Err(e::unknown_webhook());
    }
    if let Some(mut m) = it
        .original
        .clone()
        .filter(|m| m["flags"].as_u64().unwrap_or(0) & 128 != 0)
    {
        // The first followup after a deferred response edits the loading message, and the
        // defer's ephemeral flag stays whatever the followup asks.
        let (guild, channel) = (it.guild_id, it.channel_id);
        upload.edit(b, &mut st.uploads, channel, &mut m)?;
        crate::state::apply_edit(&mut m, b);
        let kept = m["flags"].as_u64().unwrap_or(0) & 64;
        let asked = b.get("flags").and_then(Value::as_u64).unwrap_or(0) & (4 | 4096);
        m["flags"] = json!(kept | asked);
        st.interactions.get_mut(&id).expect("exists").original = Some(m.clone());
        publish(&mut st, &sh.world, guild, channel, &m, "MESSAGE_UPDATE");
        return ok(m);
    }
    let flags = b.get("flags").and_then(Value::as_u64).unwrap_or(0) & (64 | 4 | 4096);
    let mut m = interaction_message(&sh, &st, it, b, flags, 0);
    let (guild, channel) = (it.guild_id, it.channel_id);
    upload.edit(b, &mut st.uploads, channel, &mut m)?;
    st.interactions
        .get_mut(&id)
        .expect("exists")
        .followups
        .push(m.clone());
    publish(&mut st, &sh.world, guild, channel, &m, "MESSAGE_CREATE");
    ok(m)
}

fn locate(st: &State, id: u64, which: &str) -> Result<Option<usize>, ApiError> {
    let it = &st.interactions[&id];
    if which == "@original" {
        return if it.original.is_some() {
            Ok(None)
        } else {
            Err(e::unknown_message())
        };
    }
    it.followups
        .iter()
        .position(|m| m["id"].as_str() == Some(which))
        .map(Some)
        .ok_or_else(e::unknown_message)
}

/// `GET /webhooks/{app}/{token}/messages/{message}`.
pub(crate) async fn get_webhook_message(
    AxState(sh): AxState<Arc<Shared>>,
    Path(p): Path<HashMap<String, String>>,
) -> R {
    let st = sh.lock();
    let id = webhook_interaction(&sh, &st, &p)?;
    let which = p.get("message").cloned().unwrap_or_default();
    let it = &st.interactions[&id];
    match locate(&st, id, &which)? {
        None => ok(it.original.clone().expect("checked")),
        Some(i) => ok(it.followups[i].clone()),
    }
}

/// `PATCH /webhooks/{app}/{token}/messages/{message}`.
pub(crate) async fn edit_webhook_message(
    AxState(sh): AxState<Arc<Shared>>,
    Path(p): Path<HashMap<String, String>>,
    h: HeaderMap,
    body: Bytes,
) -> R {
    let upload = uploads::read(&h, body).await?;
    let b = &upload.json;
    validate_message_body(b, false)?;
    let mut st = sh.lock();
    let id = webhook_interaction(&sh, &st, &p)?;
    let which = p.get("message").cloned().unwrap_or_default();
    let pos = locate(&st, id, &which)?;
    let st_ref = &mut *st;
    let it = st_ref.interactions.get_mut(&id).expect("exists");
    let channel = it.channel_id;
    let m = match pos {
        None => it.original.as_mut().expect("checked"),
        Some(i) => &mut it.followups[i],
    };
    upload.edit(b, &mut st_ref.uploads, channel, m)?;
    crate::state::apply_edit(m, b);
    let flags = m["flags"].as_u64().unwrap_or(0);
    let was_loading = flags & 128 != 0;
    m["flags"] = json!(flags & !128);
    if !was_loading {
        m["edited_timestamp"] = json!(iso(now_ms()));
    }
    let m = m.clone();
    let (guild, channel) = (it.guild_id, it.channel_id);
    publish(&mut st, &sh.world, guild, channel, &m, "MESSAGE_UPDATE");
    ok(m)
}

/// `DELETE /webhooks/{app}/{token}/messages/{message}`.
pub(crate) async fn delete_webhook_message(
    AxState(sh): AxState<Arc<Shared>>,
    Path(p): Path<HashMap<String, String>>,
) -> R {
    let mut st = sh.lock();
    let id = webhook_interaction(&sh, &st, &p)?;
    let which = p.get("message").cloned().unwrap_or_default();
    let pos = locate(&st, id, &which)?;
    let it = st.interactions.get_mut(&id).expect("exists");
    let m = match pos {
        None => it.original.take().expect("checked"),
        Some(i) => it.followups.remove(i),
    };
    let (guild, channel) = (it.guild_id, it.channel_id);
    if m["flags"].as_u64().unwrap_or(0) & 64 == 0 {
        if let Some(v) = st.messages.get_mut(&channel) {
            v.retain(|x| x["id"] != m["id"]);
        }
        st.dispatch_message_delete(guild, channel, crate::state::message_id(&m));
    }
    let _ = StatusCode::NO_CONTENT;
    no_content()
}

/// A string field of a modal's body: present (when `required`) and `min..=max` characters.
fn modal_str(
    v: &Value,
    path: &str,
    min: usize,
    max: usize,
    required: bool,
) -> Result<(), ApiError> {
    match v {
        Value::Null if !required => Ok(()),
        Value::Null => Err(ApiError::form(
            path,
            "BASE_TYPE_REQUIRED",
            "This field is required",
        )),
        Value::String(s) if (min..=max).contains(&s.chars().count()) => Ok(()),
        Value::String(_) => Err(ApiError::form(
            path,
            "BASE_TYPE_BAD_LENGTH",
            &format!("Must be between {min} and {max} in length."),
        )),
        _ => Err(ApiError::form(
            path,
            "STRING_TYPE_CONVERT",
            "Could not interpret the value as string.",
        )),
    }
}

/// A text input (component type 4) of a modal at `path`; `labelled`: inside a Label, which
/// carries the label instead of the input.
fn validate_text_input(c: &Value, path: &str, labelled: bool) -> Result<(), ApiError> {
    if c["type"].as_u64() != Some(4) {
        return Err(ApiError::form(
            &format!("{path}.type"),
            "COMPONENT_TYPE_INVALID",
            "The specified component type is invalid in this context",
        ));
    }
    modal_str(&c["custom_id"], &format!("{path}.custom_id"), 1, 100, true)?;
    if !labelled {
        modal_str(&c["label"], &format!("{path}.label"), 1, 45, true)?;
    }
    if !matches!(c["style"].as_u64(), Some(1 | 2)) {
        return Err(ApiError::form(
            &format!("{path}.style"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2}.",
        ));
    }
    modal_str(
        &c["placeholder"],
        &format!("{path}.placeholder"),
        0,
        100,
        false,
    )?;
    modal_str(&c["value"], &format!("{path}.value"), 0, 4000, false)?;
    let min = c["min_length"].as_u64();
    let max = c["max_length"].as_u64();
    if min.is_some_and(|m| m > 4000) {
        return Err(ApiError::form(
            &format!("{path}.min_length"),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 4000.",
        ));
    }
    if max.is_some_and(|m| !(1..=4000).contains(&m)) {
        return Err(ApiError::form(
            &format!("{path}.max_length"),
            "NUMBER_TYPE_MAX",
            "int value should be between 1 and 4000.",
        ));
    }
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        return Err(ApiError::form(
            &format!("{path}.min_length"),
            "BASE_TYPE_MAX_LENGTH",
            "min_length must not be greater than max_length.",
        ));
    }
    Ok(())
}

/// A MODAL (9) response's `data`, as Discord checks it: `custom_id` 1–100, `title` 1–45, one
/// to five components, each a Label (18) around a text input, or an action row (1) holding
/// one text input with its own label.
fn validate_modal(data: &Value) -> Result<(), ApiError> {
    modal_str(&data["custom_id"], "data.custom_id", 1, 100, true)?;
    modal_str(&data["title"], "data.title", 1, 45, true)?;
    let components = data["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if !(1..=5).contains(&components.len()) {
        return Err(ApiError::form(
            "data.components",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.",
        ));
    }
    for (i, c) in components.iter().enumerate() {
        let path = format!("data.components.{i}");
        match c["type"].as_u64() {
            Some(18) => {
                modal_str(&c["label"], &format!("{path}.label"), 1, 45, true)?;
                modal_str(
                    &c["description"],
                    &format!("{path}.description"),
                    0,
                    100,
                    false,
                )?;
                validate_text_input(&c["component"], &format!("{path}.component"), true)?;
            }
            Some(1) => {
                let inner = c["components"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                if inner.len() != 1 {
                    return Err(ApiError::form(
                        &format!("{path}.components"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 1 in length.",
                    ));
                }
                validate_text_input(&inner[0], &format!("{path}.components.0"), false)?;
            }
            _ => {
                return Err(ApiError::form(
                    &format!("{path}.type"),
                    "COMPONENT_TYPE_INVALID",
                    "The specified component type is invalid in this context",
                ));
            }
        }
    }
    Ok(())
}
