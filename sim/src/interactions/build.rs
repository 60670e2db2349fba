//! The INTERACTION_CREATE payloads of `POST /_sim/interactions` (a slash command) and
//! `POST /_sim/interactions/component` (a button or a select menu), stored and dispatched.

use super::access::may_use;
use super::request::{BuildError, Place, bad, not_timed_out, opt_str, place, req_id};
use super::resolve::{Resolver, Target};
use crate::state::{Interaction, Shared, State};
use crate::util::{next_snowflake, random_token};
use crate::world::perms;
use serde_json::{Map, Value, json};
use std::time::Instant;

/// The INTERACTION_CREATE payload of `kind` with `data` at `place`, stored and dispatched.
fn create(
    sh: &Shared,
    st: &mut State,
    place: &Place,
    kind: u8,
    data: Value,
    message: Option<Value>,
) -> Value {
    let (guild_id, channel, user_id) = (place.guild_id, &place.channel, place.user.id);
    let channel_id = channel.id;
    let id = next_snowflake();
    let token = format!("aW50ZXJhY3Rpb246{}", random_token(120));
    let bot = sh.world.bot.id;
    let app_permissions = match &place.guild {
        Some(g) => g.channel_permissions(bot, channel_id),
        None => perms::ALL,
    };
    let mut chan = json!({"id": channel.id.to_string(), "type": channel.kind, "flags": 0});
    if let Some(g) = guild_id {
        chan["guild_id"] = json!(g.to_string());
        chan["name"] = json!(channel.name);
        chan["position"] = json!(channel.position);
        chan["permissions"] = json!(
            place
                .guild
                .as_ref()
                .map(|g| g.channel_permissions(user_id, channel_id))
                .unwrap_or(0)
                .to_string()
        );
        chan["nsfw"] = json!(false);
        chan["rate_limit_per_user"] = json!(channel.rate_limit_per_user);
        chan["last_message_id"] = Value::Null;
        chan["topic"] = json!(channel.topic);
        if let Some(p) = channel.parent_id {
            chan["parent_id"] = json!(p.to_string());
        }
    }
    let mut payload = json!({
        "id": id.to_string(),
        "application_id": sh.world.application_id.to_string(),
        "type": kind,
        "data": data,
        "channel": chan,
        "channel_id": channel_id.to_string(),
        "token": token,
        "version": 1,
        "app_permissions": app_permissions.to_string(),
        "locale": place.locale,
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id.map_or_else(|| "0".to_owned(), |g| g.to_string())},
        "context": if guild_id.is_some() { 0 } else { 1 },
        "attachment_size_limit": 10_485_760,
    });
    if let Some(m) = message {
        payload["message"] = m;
    }
    if let Some(g) = &place.guild {
        payload["guild_id"] = json!(g.id.to_string());
        payload["guild"] = json!({"id": g.id.to_string(), "locale": "en-US", "features": []});
        payload["guild_locale"] = json!("en-US");
        let mut m = g.members[&user_id].to_json();
        // Discord: the member's permissions in the channel, overwrites included.
        m["permissions"] = json!(g.channel_permissions(user_id, channel_id).to_string());
        payload["member"] = m;
    } else {
        payload["user"] = place.user.to_json();
    }
    st.interactions.insert(
        id,
        Interaction {
            id,
            token: token.clone(),
            guild_id,
            channel_id,
            user_id,
            created: Instant::now(),
            acknowledged: false,
            callbacks: 0,
            response: None,
            original: None,
            followups: Vec::new(),
            payload: payload.clone(),
            modal_submitted: false,
        },
    );
    st.interaction_tokens.insert(token, id);
    st.dispatch(guild_id, "INTERACTION_CREATE", &payload, 0, false);
    payload
}

/// Builds and stores an interaction for `POST /_sim/interactions`, returning the payload.
pub(crate) fn build(sh: &Shared, st: &mut State, req: &Value) -> Result<Value, BuildError> {
    match req.get("type").and_then(Value::as_u64) {
        None | Some(1) => {}
        Some(kind @ (2 | 3)) => return build_menu(sh, st, req, kind),
        Some(other) => {
            return Err(bad(format!(
                "type {other}: 1 (slash command), 2 (user menu) or 3 (message menu)"
            )));
        }
    }
    let full = req
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("name is required"))?;
    let path: Vec<&str> = full.split_whitespace().collect();
    let top = *path.first().ok_or_else(|| bad("name is empty"))?;
    let values = match req.get("options") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad("options must be an object of name → value")),
    };
    let place = place(sh, st, req)?;
    let cmd = crate::commands::find_command(st, place.guild_id, top)
        .ok_or_else(|| bad(format!("unknown command {top:?}: register it first")))?;
    may_use(st, &place, &cmd)?;
    let mut r = Resolver {
        sh,
        st,
        guild: place.guild.as_ref(),
        channel: place.channel.id,
        resolved: Map::new(),
    };
    let empty = Vec::new();
    let defs = cmd["options"].as_array().unwrap_or(&empty);
    let options = match path.len() {
        1 => {
            if defs
                .iter()
                .any(|d| d["type"].as_u64().is_some_and(|t| t <= 2))
            {
                return Err(bad(format!("{top:?} needs a subcommand")));
            }
            r.options(defs, &values)?
        }
        2 | 3 => {
            let first = defs
                .iter()
                .find(|d| {
                    d["name"].as_str() == Some(path[1])
                        && d["type"].as_u64().is_some_and(|t| t <= 2)
                })
                .ok_or_else(|| bad(format!("unknown subcommand {:?}", path[1])))?;
            if path.len() == 2 {
                if first["type"].as_u64() != Some(1) {
                    return Err(bad(format!("{:?} is a group: name a subcommand", path[1])));
                }
                let sub = r.options(first["options"].as_array().unwrap_or(&empty), &values)?;
                vec![json!({"name": path[1], "type": 1, "options": sub})]
            } else {
                if first["type"].as_u64() != Some(2) {
                    return Err(bad(format!("{:?} is not a group", path[1])));
                }
                let second = first["options"]
                    .as_array()
                    .unwrap_or(&empty)
                    .iter()
                    .find(|d| d["name"].as_str() == Some(path[2]) && d["type"].as_u64() == Some(1))
                    .ok_or_else(|| bad(format!("unknown subcommand {:?}", path[2])))?;
                let sub = r.options(second["options"].as_array().unwrap_or(&empty), &values)?;
                vec![
                    json!({"name": path[1], "type": 2, "options": [{"name": path[2], "type": 1, "options": sub}]}),
                ]
            }
        }
        _ => return Err(bad("name has too many parts")),
    };
    let resolved = std::mem::take(&mut r.resolved);
    let mut data = json!({"id": cmd["id"], "name": top, "type": 1, "options": options});
    if !resolved.is_empty() {
        data["resolved"] = Value::Object(resolved);
    }
    Ok(create(sh, st, &place, 2, data, None))
}

/// A context-menu entry used on a user (`kind` 2) or a message (3): `name` is the entry,
/// `target_id` the user or the message (in the request's channel). Discord sends the
/// target in `resolved` (a user's member object in a guild; a message whole, with its text
/// whatever the bot's intents).
fn build_menu(sh: &Shared, st: &mut State, req: &Value, kind: u64) -> Result<Value, BuildError> {
    let name = req
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("name is required"))?;
    if req.get("options").is_some_and(|o| !o.is_null()) {
        return Err(bad("context-menu entries take no options"));
    }
    let target = req_id(req, "target_id")?.ok_or_else(|| bad("target_id is required"))?;
    let place = place(sh, st, req)?;
    let cmd =
        crate::commands::find_command_of(st, place.guild_id, name, kind).ok_or_else(|| {
            bad(format!(
                "unknown {} entry {name:?}: register it first",
                if kind == 2 {
                    "user-menu"
                } else {
                    "message-menu"
                }
            ))
        })?;
    may_use(st, &place, &cmd)?;
    let mut r = Resolver {
        sh,
        st,
        guild: place.guild.as_ref(),
        channel: place.channel.id,
        resolved: Map::new(),
    };
    if kind == 2 {
        r.target(Target::User, target)?;
    } else {
        let message = st
            .messages
            .get(&place.channel.id)
            .and_then(|v| {
                v.iter()
                    .find(|m| m["id"].as_str() == Some(&target.to_string()))
            })
            .cloned()
            .ok_or_else(|| bad("no message with that id in that channel"))?;
        r.resolved
            .insert("messages".into(), json!({ target.to_string(): message }));
    }
    let resolved = std::mem::take(&mut r.resolved);
    let mut data = json!({
        "id": cmd["id"],
        "name": name,
        "type": kind,
        "target_id": target.to_string(),
        "resolved": resolved,
    });
    if let Some(g) = place.guild_id {
        data["guild_id"] = json!(g.to_string());
    }
    Ok(create(sh, st, &place, 2, data, None))
}

/// A user submits the form (modal) the bot answered interaction `interaction_id` with
/// (`POST /_sim/interactions/modal`): `values` maps each text input's custom id to what the
/// user typed. Discord's client enforces the inputs' `required`, `min_length` and
/// `max_length`; the form can be submitted once.
pub(crate) fn build_modal_submit(
    sh: &Shared,
    st: &mut State,
    req: &Value,
) -> Result<Value, BuildError> {
    let opened = req_id(req, "interaction_id")?.ok_or_else(|| bad("interaction_id is required"))?;
    let it = st
        .interactions
        .get(&opened)
        .ok_or_else(|| bad("unknown interaction"))?;
    let response = it.response.clone().unwrap_or(Value::Null);
    if response["type"].as_u64() != Some(9) {
        return Err(bad("the bot did not answer that interaction with a form"));
    }
    if it.modal_submitted {
        return Err(bad("that form was already submitted"));
    }
    let at = json!({
        "guild_id": it.guild_id.map(|g| g.to_string()),
        "channel_id": it.channel_id.to_string(),
        "user_id": it.user_id.to_string(),
        "locale": it.payload["locale"],
    });
    let values = match req.get("values") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad("values must be an object of custom_id → text")),
    };
    let data = &response["data"];
    let mut rows = Vec::new();
    let mut known = Vec::new();
    for c in data["components"].as_array().into_iter().flatten() {
        // A Label (18) wraps one input; an action row (1) holds it in `components`.
        let (wrapper, input) = match c["type"].as_u64() {
            Some(18) => (18, &c["component"]),
            _ => (1, &c["components"][0]),
        };
        if input["type"].as_u64() != Some(4) {
            continue;
        }
        let cid = input["custom_id"].as_str().unwrap_or("");
        known.push(cid.to_owned());
        let text = values.get(cid).map(opt_str).unwrap_or_default();
        let len = text.chars().count() as u64;
        if text.is_empty() && input["required"].as_bool().unwrap_or(true) {
            return Err(bad(format!("the field {cid:?} is required")));
        }
        if !text.is_empty() {
            let min = input["min_length"].as_u64().unwrap_or(0);
            let max = input["max_length"].as_u64().unwrap_or(4000);
            if len < min || len > max {
                return Err(bad(format!(
                    "the field {cid:?} takes {min} to {max} characters"
                )));
            }
        }
        let field = json!({"type": 4, "id": input["id"].as_u64().unwrap_or(2), "custom_id": cid, "value": text});
        rows.push(if wrapper == 18 {
            json!({"type": 18, "id": c["id"].as_u64().unwrap_or(1), "component": field})
        } else {
            json!({"type": 1, "id": c["id"].as_u64().unwrap_or(1), "components": [field]})
        });
    }
    if let Some(k) = values.keys().find(|k| !known.contains(k)) {
        return Err(bad(format!("the form has no field {k:?}")));
    }
    let place = place(sh, st, &at)?;
    not_timed_out(&place)?;
    if let Some(it) = st.interactions.get_mut(&opened) {
        it.modal_submitted = true;
    }
    let data = json!({"custom_id": data["custom_id"], "components": rows});
    Ok(create(sh, st, &place, 5, data, None))
}

/// Where a message the bot posted lives: a channel's messages (non-ephemeral) or an
/// interaction's original response or followups (ephemeral ones only live there).
fn find_bot_message(sh: &Shared, st: &State, channel: u64, id: u64) -> Option<Value> {
    let id = id.to_string();
    let bot = sh.world.bot.id.to_string();
    let is = |m: &&Value| m["id"].as_str() == Some(id.as_str());
    let found = st
        .messages
        .get(&channel)
        .and_then(|v| v.iter().find(is))
        .or_else(|| {
            st.interactions
                .values()
                .filter(|it| it.channel_id == channel)
                .flat_map(|it| it.original.iter().chain(it.followups.iter()))
                .find(is)
        })?;
    (found["author"]["id"].as_str() == Some(bot.as_str())).then(|| found.clone())
}

/// The component with `custom_id` anywhere in a message's component tree.
fn find_component<'a>(components: &'a Value, custom_id: &str) -> Option<&'a Value> {
    for c in components.as_array()? {
        if c["custom_id"].as_str() == Some(custom_id) {
            return Some(c);
        }
        if c["accessory"]["custom_id"].as_str() == Some(custom_id) {
            return Some(&c["accessory"]);
        }
        if let Some(found) = find_component(&c["components"], custom_id) {
            return Some(found);
        }
    }
    None
}

/// Builds and stores a message component interaction for `POST /_sim/interactions/component`:
/// a user clicks a button, or picks values in a select menu, on a message the bot posted.
pub(crate) fn build_component(
    sh: &Shared,
    st: &mut State,
    req: &Value,
) -> Result<Value, BuildError> {
    let place = place(sh, st, req)?;
    not_timed_out(&place)?;
    let message_id = req_id(req, "message_id")?.ok_or_else(|| bad("message_id is required"))?;
    let custom_id = req
        .get("custom_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("custom_id is required"))?;
    let message = find_bot_message(sh, st, place.channel.id, message_id)
        .ok_or_else(|| bad("no message of the bot with that id in that channel"))?;
    let component = find_component(&message["components"], custom_id)
        .ok_or_else(|| {
            bad(format!(
                "the message has no component with custom_id {custom_id:?}"
            ))
        })?
        .clone();
    if component["disabled"].as_bool() == Some(true) {
        return Err(bad("that component is disabled"));
    }
    let kind = component["type"].as_u64().unwrap_or(0);
    let values: Vec<String> = match req.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(opt_str).collect(),
        Some(_) => return Err(bad("values must be an array")),
    };
    let mut data = json!({"custom_id": custom_id, "component_type": kind});
    match kind {
        2 if values.is_empty() => {}
        2 => return Err(bad("a button takes no values")),
        3 | 5..=8 => {
            let min = component["min_values"].as_u64().unwrap_or(1);
            let max = component["max_values"].as_u64().unwrap_or(1);
            if !(min..=max).contains(&(values.len() as u64)) {
                return Err(bad(format!("pick from {min} to {max} values")));
            }
            let mut r = Resolver {
                sh,
                st,
                guild: place.guild.as_ref(),
                channel: place.channel.id,
                resolved: Map::new(),
            };
            for v in &values {
                if kind == 3 {
                    let known = component["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|o| o["value"].as_str() == Some(v.as_str()));
                    if !known {
                        return Err(bad(format!("{v:?} is not one of the select's options")));
                    }
                    continue;
                }
                let id: u64 = v
                    .parse()
                    .map_err(|_| bad(format!("value {v:?} must be a snowflake")))?;
                let target = match kind {
                    5 => Target::User,
                    6 => Target::Role,
                    8 => Target::Channel,
                    _ => Target::Mentionable,
                };
                r.target(target, id)?;
            }
            data["values"] = json!(values);
            if !r.resolved.is_empty() {
                data["resolved"] = Value::Object(std::mem::take(&mut r.resolved));
            }
        }
        _ => return Err(bad("that component cannot be interacted with")),
    }
    Ok(create(sh, st, &place, 3, data, Some(message)))
}
