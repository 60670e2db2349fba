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
        },
    );
    st.interaction_tokens.insert(token, id);
    st.dispatch(guild_id, "INTERACTION_CREATE", &payload, 0, false);
    payload
}

/// Builds and stores an interaction for `POST /_sim/interactions`, returning the payload.
pub(crate) fn build(sh: &Shared, st: &mut State, req: &Value) -> Result<Value, BuildError> {
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
