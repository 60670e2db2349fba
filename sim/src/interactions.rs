//! Interactions: building INTERACTION_CREATE from a control request, the callback endpoint,
//! the original response and followups.

use crate::error::{ApiError, e};
use crate::http::{R, body_json, no_content, ok, snow};
use crate::state::{Interaction, Shared, State, intents};
use crate::util::{DISCORD_LOCALES, iso, next_snowflake, now_ms, random_token};
use crate::validate::validate_message_body;
use crate::world::{Guild, perms};
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

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

/// Why a control-API interaction request was refused.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Anything wrong with the request (unknown command or option, bad value...).
    #[error("{0}")]
    Bad(String),
}

fn bad(s: impl Into<String>) -> BuildError {
    BuildError::Bad(s.into())
}

/// The `options` value of the control request as a string.
fn opt_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What an id in an option or a select menu names.
#[derive(Clone, Copy)]
enum Target {
    User,
    Channel,
    Role,
    /// A role if the guild has one with that id, a user otherwise.
    Mentionable,
}

struct Resolver<'a> {
    sh: &'a Shared,
    st: &'a State,
    guild: Option<&'a Guild>,
    /// The channel the interaction comes from: resolved members' permissions are theirs
    /// there, overwrites included.
    channel: u64,
    resolved: Map<String, Value>,
}

impl Resolver<'_> {
    fn add(&mut self, kind: &str, id: u64, v: Value) {
        let m = self.resolved.entry(kind).or_insert_with(|| json!({}));
        m[id.to_string()] = v;
    }

    fn user(&mut self, id: u64) -> Result<(), BuildError> {
        let u = self
            .st
            .user(&self.sh.world, id)
            .ok_or_else(|| bad(format!("unknown user {id}")))?;
        self.add("users", id, u.to_json());
        if let Some(g) = self.guild
            && let Some(m) = g.members.get(&id)
        {
            let mut mj = m.to_json();
            let o = mj.as_object_mut().expect("object");
            o.remove("user");
            o.remove("deaf");
            o.remove("mute");
            o.insert(
                "permissions".into(),
                json!(g.channel_permissions(id, self.channel).to_string()),
            );
            self.add("members", id, mj);
        }
        Ok(())
    }

    fn role(&mut self, id: u64) -> Result<(), BuildError> {
        let g = self.guild.ok_or_else(|| bad("roles need a guild"))?;
        let r = g
            .role(id)
            .ok_or_else(|| bad(format!("unknown role {id}")))?;
        self.add("roles", id, r.to_json());
        Ok(())
    }

    fn channel(&mut self, id: u64) -> Result<(), BuildError> {
        let c = self
            .st
            .channel(&self.sh.world, id)
            .ok_or_else(|| bad(format!("unknown channel {id}")))?;
        let mut v = json!({
            "id": c.id.to_string(),
            "name": c.name,
            "type": c.kind,
            "permissions": self.guild.map(|g| g.channel_permissions(self.sh.world.bot.id, id)).unwrap_or(perms::ALL).to_string(),
        });
        if let Some(p) = c.parent_id {
            v["parent_id"] = json!(p.to_string());
        }
        self.add("channels", id, v);
        Ok(())
    }

    /// Resolves an id that names a `target` (`resolved.users/members/roles/channels`).
    fn target(&mut self, target: Target, id: u64) -> Result<(), BuildError> {
        match target {
            Target::User => self.user(id),
            Target::Channel => self.channel(id),
            Target::Role => self.role(id),
            Target::Mentionable if self.guild.is_some_and(|g| g.role(id).is_some()) => {
                self.role(id)
            }
            Target::Mentionable => self.user(id),
        }
    }

    /// Converts `values` (option name → value) into typed options per `defs`.
    fn options(
        &mut self,
        defs: &[Value],
        values: &Map<String, Value>,
    ) -> Result<Vec<Value>, BuildError> {
        for k in values.keys() {
            if !defs.iter().any(|d| d["name"].as_str() == Some(k)) {
                return Err(bad(format!("unknown option {k:?}")));
            }
        }
        let mut out = Vec::new();
        for d in defs {
            let name = d["name"].as_str().unwrap_or("");
            let t = d["type"].as_u64().unwrap_or(3);
            let Some(raw) = values.get(name) else {
                if d["required"].as_bool().unwrap_or(false) {
                    return Err(bad(format!("missing required option {name:?}")));
                }
                continue;
            };
            let s = opt_str(raw);
            let value = match t {
                3 => json!(s),
                4 => json!(
                    s.parse::<i64>()
                        .map_err(|_| bad(format!("option {name:?} must be an integer")))?
                ),
                5 => json!(
                    s.parse::<bool>()
                        .map_err(|_| bad(format!("option {name:?} must be true or false")))?
                ),
                10 => json!(
                    s.parse::<f64>()
                        .map_err(|_| bad(format!("option {name:?} must be a number")))?
                ),
                6..=9 => {
                    let id: u64 = s
                        .trim_start_matches("<@")
                        .trim_start_matches(['!', '&', '#'])
                        .trim_end_matches('>')
                        .parse()
                        .map_err(|_| bad(format!("option {name:?} must be a snowflake")))?;
                    let target = match t {
                        6 => Target::User,
                        7 => Target::Channel,
                        8 => Target::Role,
                        _ => Target::Mentionable,
                    };
                    self.target(target, id)?;
                    json!(id.to_string())
                }
                _ => {
                    return Err(bad(format!(
                        "option {name:?} has a type the simulator cannot fill"
                    )));
                }
            };
            if let Some(choices) = d["choices"].as_array()
                && !choices.iter().any(|c| c["value"] == value)
            {
                return Err(bad(format!(
                    "option {name:?}: {s:?} is not one of the choices"
                )));
            }
            out.push(json!({"name": name, "type": t, "value": value}));
        }
        Ok(out)
    }
}

/// A snowflake field of a control request (string or number), if present.
fn req_id(req: &Value, k: &str) -> Result<Option<u64>, BuildError> {
    match req.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => opt_str(v)
            .parse()
            .map(Some)
            .map_err(|_| bad(format!("{k} must be a snowflake"))),
    }
}

/// Who interacts where: the guild (if any), channel and user of a control request, checked.
struct Place {
    guild: Option<Guild>,
    guild_id: Option<u64>,
    channel: crate::world::Channel,
    user: crate::world::User,
    /// The user's client language (`locale` of the request; `en-US` by default).
    locale: String,
}

fn place(sh: &Shared, st: &State, req: &Value) -> Result<Place, BuildError> {
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
fn not_timed_out(place: &Place) -> Result<(), BuildError> {
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

/// Whether the user may run `cmd` at `place`: not timed out, the command's `contexts` (and
/// `dm_permission`) include the place, and in a guild the member holds every bit of
/// `default_member_permissions` (`"0"`: administrators only).
fn may_use(st: &State, place: &Place, cmd: &Value) -> Result<(), BuildError> {
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
        chan["rate_limit_per_user"] = json!(0);
        chan["last_message_id"] = Value::Null;
        chan["topic"] = Value::Null;
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

fn interaction_message(sh: &Shared, it: &Interaction, body: &Value, flags: u64, kind: u8) -> Value {
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
    let name = it.payload["data"]["name"].clone();
    m["interaction_metadata"] = json!({
        "id": it.id.to_string(),
        "type": 2,
        "user": user,
        "authorizing_integration_owners": it.payload["authorizing_integration_owners"],
        "name": name,
        "command_type": 1,
    });
    m["interaction"] = json!({"id": it.id.to_string(), "type": 2, "name": name, "user": user});
    m
}

fn publish(st: &mut State, it_guild: Option<u64>, channel: u64, m: &Value, event: &str) {
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
        st.messages.entry(channel).or_default().push(m.clone());
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
    st.dispatch(it_guild, event, m, intent, false);
}

/// `POST /interactions/{id}/{token}/callback`.
pub(crate) async fn callback(
    AxState(sh): AxState<Arc<Shared>>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> R {
    let iid = snow(&p, "interaction")?;
    let token = p.get("token").cloned().unwrap_or_default();
    let b = body_json(&body)?;
    let t = b
        .get("type")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::form("type", "BASE_TYPE_REQUIRED", "This field is required"))?;
    let data = b.get("data").cloned().unwrap_or(json!({}));
    let mut st = sh.lock();
    let deadline = sh.cfg.interaction_ack_deadline;
    let it = st
        .interactions
        .get_mut(&iid)
        .filter(|it| it.token == token)
        .ok_or_else(e::unknown_interaction)?;
    it.callbacks += 1;
    let it = &*it;
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
            validate_message_body(&data, true)?;
            let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0) & (64 | 4 | 4096);
            message = Some(interaction_message(&sh, it, &data, flags, 20));
        }
        5 => {
            let flags = (data.get("flags").and_then(Value::as_u64).unwrap_or(0) & 64) | 128;
            message = Some(interaction_message(&sh, it, &json!({}), flags, 20));
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
        9 => {
            let cid = data.get("custom_id").and_then(Value::as_str).unwrap_or("");
            let title = data.get("title").and_then(Value::as_str).unwrap_or("");
            if cid.is_empty() || title.is_empty() {
                return Err(ApiError::form(
                    "data.custom_id",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ));
            }
        }
        _ => {}
    }
    let (guild, channel) = (it.guild_id, it.channel_id);
    let it = st.interactions.get_mut(&iid).expect("exists");
    it.acknowledged = true;
    it.response = Some(b.clone());
    // For a component interaction acknowledged with 6 or 7, the original response is the
    // message the component sits on (editable through @original).
    it.original = message.clone().or_else(|| updated.clone());
    if let Some(m) = &message {
        publish(&mut st, guild, channel, m, "MESSAGE_CREATE");
    }
    if t == 7
        && let Some(m) = &updated
    {
        publish(&mut st, guild, channel, m, "MESSAGE_UPDATE");
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
    body: Bytes,
) -> R {
    let b = body_json(&body)?;
    let mut st = sh.lock();
    let id = webhook_interaction(&sh, &st, &p)?;
    validate_message_body(&b, true)?;
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
        crate::state::apply_edit(&mut m, &b);
        let kept = m["flags"].as_u64().unwrap_or(0) & 64;
        let asked = b.get("flags").and_then(Value::as_u64).unwrap_or(0) & (4 | 4096);
        m["flags"] = json!(kept | asked);
        let (guild, channel) = (it.guild_id, it.channel_id);
        st.interactions.get_mut(&id).expect("exists").original = Some(m.clone());
        publish(&mut st, guild, channel, &m, "MESSAGE_UPDATE");
        return ok(m);
    }
    let flags = b.get("flags").and_then(Value::as_u64).unwrap_or(0) & (64 | 4 | 4096);
    let m = interaction_message(&sh, it, &b, flags, 0);
    let (guild, channel) = (it.guild_id, it.channel_id);
    st.interactions
        .get_mut(&id)
        .expect("exists")
        .followups
        .push(m.clone());
    publish(&mut st, guild, channel, &m, "MESSAGE_CREATE");
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
    body: Bytes,
) -> R {
    let b = body_json(&body)?;
    validate_message_body(&b, false)?;
    let mut st = sh.lock();
    let id = webhook_interaction(&sh, &st, &p)?;
    let which = p.get("message").cloned().unwrap_or_default();
    let pos = locate(&st, id, &which)?;
    let it = st.interactions.get_mut(&id).expect("exists");
    let m = match pos {
        None => it.original.as_mut().expect("checked"),
        Some(i) => &mut it.followups[i],
    };
    crate::state::apply_edit(m, &b);
    let flags = m["flags"].as_u64().unwrap_or(0);
    let was_loading = flags & 128 != 0;
    m["flags"] = json!(flags & !128);
    if !was_loading {
        m["edited_timestamp"] = json!(iso(now_ms()));
    }
    let m = m.clone();
    let (guild, channel) = (it.guild_id, it.channel_id);
    publish(&mut st, guild, channel, &m, "MESSAGE_UPDATE");
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
        let mut ev = json!({"id": m["id"], "channel_id": channel.to_string()});
        if let Some(g) = guild {
            ev["guild_id"] = json!(g.to_string());
        }
        let intent = if guild.is_some() {
            intents::GUILD_MESSAGES
        } else {
            intents::DIRECT_MESSAGES
        };
        st.dispatch(guild, "MESSAGE_DELETE", &ev, intent, false);
    }
    let _ = StatusCode::NO_CONTENT;
    no_content()
}
