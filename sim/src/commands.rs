//! Application commands: validation of bulk overwrites, ids, typed option lookup.

use crate::error::ApiError;
use crate::state::{Shared, State};
use crate::util::next_snowflake;
use serde_json::{Value, json};

fn name_ok(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name
            .chars()
            .all(|c| c == '-' || c == '_' || c.is_alphanumeric())
        && name.to_lowercase() == name
}

fn err(path: &str, code: &str, msg: &str) -> ApiError {
    ApiError::form(path, code, msg)
}

/// Most characters of one command: names, descriptions and choice values of the command,
/// its options and choices, each counted at its longest localization.
const COMMAND_MAX_CHARS: usize = 8000;

/// Checks `{field}_localizations` of `o` (keys are Discord locales; a name
/// (`name = Some(chat_input)`) follows the name rules, anything else is 1–100 characters)
/// and returns the longest value's length.
fn localizations(
    o: &Value,
    field: &str,
    path: &str,
    name: Option<bool>,
) -> Result<usize, ApiError> {
    let key = format!("{field}_localizations");
    let Some(l) = o.get(&key).filter(|v| !v.is_null()) else {
        return Ok(0);
    };
    let p = if path.is_empty() {
        key.clone()
    } else {
        format!("{path}.{key}")
    };
    let Some(map) = l.as_object() else {
        return Err(err(
            &p,
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        ));
    };
    let mut longest = 0;
    for (locale, v) in map {
        if !crate::util::DISCORD_LOCALES.contains(&locale.as_str()) {
            return Err(err(
                &format!("{p}.{locale}"),
                "ENUM_TYPE_COERCE",
                &format!("Value \"{locale}\" is not a valid enum value."),
            ));
        }
        let Some(text) = v.as_str() else {
            return Err(err(
                &format!("{p}.{locale}"),
                "BASE_TYPE_STRING",
                "Must be a string.",
            ));
        };
        let n = text.chars().count();
        if let Some(chat_input) = name {
            let valid = if chat_input {
                name_ok(text)
            } else {
                (1..=32).contains(&n)
            };
            if !valid {
                return Err(err(
                    &format!("{p}.{locale}"),
                    "APPLICATION_COMMAND_INVALID_NAME",
                    "Command name is invalid",
                ));
            }
        } else if !(1..=100).contains(&n) {
            return Err(err(
                &format!("{p}.{locale}"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        longest = longest.max(n);
    }
    Ok(longest)
}

/// Characters `o` counts towards [`COMMAND_MAX_CHARS`] for `name` and `description` (each at
/// its longest localization); validates the localizations on the way.
/// `chat_input`: names follow the chat-input rules (user and message commands take any
/// 1–32 characters).
fn counted(o: &Value, path: &str, chat_input: bool) -> Result<usize, ApiError> {
    let len = |k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .map_or(0, |s| s.chars().count())
    };
    let name = len("name").max(localizations(o, "name", path, Some(chat_input))?);
    let desc = len("description").max(localizations(o, "description", path, None)?);
    Ok(name + desc)
}

/// Validates an option list at `depth` under a parent of type `parent` (0: the command, 1:
/// a subcommand, 2: a group) and returns the characters it counts towards the size limit.
fn validate_options(opts: &Value, path: &str, depth: u8, parent: u64) -> Result<usize, ApiError> {
    let Some(arr) = opts.as_array() else {
        return Err(err(path, "BASE_TYPE_ARRAY", "Must be an array."));
    };
    if arr.len() > 25 {
        return Err(err(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        ));
    }
    let mut names = std::collections::HashSet::new();
    let mut seen_optional = false;
    let mut size = 0;
    let subs = arr
        .iter()
        .filter(|o| matches!(o.get("type").and_then(Value::as_u64), Some(1 | 2)))
        .count();
    if subs != 0 && subs != arr.len() {
        return Err(err(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        ));
    }
    for (i, o) in arr.iter().enumerate() {
        let p = format!("{path}.{i}");
        let t = o.get("type").and_then(Value::as_u64).ok_or_else(|| {
            err(
                &format!("{p}.type"),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            )
        })?;
        if !(1..=11).contains(&t) {
            return Err(err(
                &format!("{p}.type"),
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.",
            ));
        }
        let name = o.get("name").and_then(Value::as_str).unwrap_or("");
        if !name_ok(name) {
            return Err(err(
                &format!("{p}.name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            ));
        }
        if !names.insert(name.to_owned()) {
            return Err(err(
                &format!("{p}.name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option name already exists",
            ));
        }
        let d = o.get("description").and_then(Value::as_str).unwrap_or("");
        if !(1..=100).contains(&d.chars().count()) {
            return Err(err(
                &format!("{p}.description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        size += counted(o, &p, true)?;
        if parent == 2 && t != 1 {
            return Err(err(
                &format!("{p}.type"),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Sub-command groups can only contain sub-commands",
            ));
        }
        let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
        if t <= 2 {
            if depth >= 2 || (t == 2 && depth >= 1) {
                return Err(err(
                    &format!("{p}.type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Subcommands cannot be nested this deep",
                ));
            }
            if let Some(sub) = o.get("options").filter(|v| !v.is_null()) {
                size += validate_options(sub, &format!("{p}.options"), depth + 1, t)?;
            }
        } else {
            if required && seen_optional {
                return Err(err(
                    &format!("{p}.required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                ));
            }
            if !required {
                seen_optional = true;
            }
            if let Some(ch) = o.get("choices").filter(|v| !v.is_null()) {
                size += choices(ch, t, &format!("{p}.choices"))?;
            }
        }
    }
    Ok(size)
}

/// Validates an option's choices (string, integer and number options only; at most 25;
/// names 1–100 characters, string values at most 100) and returns their counted size.
fn choices(ch: &Value, t: u64, path: &str) -> Result<usize, ApiError> {
    if !matches!(t, 3 | 4 | 10) {
        return Err(err(
            path,
            "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
            "Only string, integer and number options can have choices",
        ));
    }
    let Some(ch) = ch.as_array() else {
        return Err(err(path, "BASE_TYPE_ARRAY", "Must be an array."));
    };
    if ch.len() > 25 {
        return Err(err(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        ));
    }
    let mut size = 0;
    for (i, c) in ch.iter().enumerate() {
        let p = format!("{path}.{i}");
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if !(1..=100).contains(&name.chars().count()) {
            return Err(err(
                &format!("{p}.name"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        let longest = localizations(c, "name", &p, None)?;
        size += name.chars().count().max(longest);
        match c.get("value") {
            Some(Value::String(v)) if t == 3 => {
                if v.chars().count() > 100 {
                    return Err(err(
                        &format!("{p}.value"),
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 100 or fewer in length.",
                    ));
                }
                size += v.chars().count();
            }
            Some(Value::Number(n)) if t != 3 && (t == 10 || n.is_i64() || n.is_u64()) => {
                size += n.to_string().len();
            }
            _ => {
                return Err(err(
                    &format!("{p}.value"),
                    "APPLICATION_COMMAND_OPTION_CHOICE_VALUE_INVALID",
                    "Choice value does not match the option type",
                ));
            }
        }
    }
    Ok(size)
}

/// Validates a bulk-overwrite body and builds the command objects (without ids).
pub(crate) fn validate_and_build(
    sh: &Shared,
    guild: Option<u64>,
    b: &Value,
) -> Result<Vec<Value>, ApiError> {
    let Some(arr) = b.as_array() else {
        return Err(ApiError::form_tree(
            json!({"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]}),
        ));
    };
    if arr.len() > 100 {
        return Err(ApiError::form_tree(
            json!({"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 100 or fewer in length."}]}),
        ));
    }
    let mut names = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, c) in arr.iter().enumerate() {
        let v = build_one(sh, guild, c, &format!("{i}."))?;
        let name = v["name"].as_str().unwrap_or("").to_owned();
        if !names.insert((v["type"].as_u64().unwrap_or(1), name.clone())) {
            return Err(duplicate_name(&format!("{i}.name"), &name));
        }
        out.push(v);
    }
    Ok(out)
}

fn not_an_object() -> ApiError {
    ApiError::form_tree(
        json!({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a DictType"}]}),
    )
}

fn duplicate_name(path: &str, name: &str) -> ApiError {
    err(
        path,
        "APPLICATION_COMMANDS_DUPLICATE_NAME",
        &format!("Application command names must be unique: {name}"),
    )
}

/// Validates one command definition and builds the command object (without id and
/// version); field errors are reported under `prefix` (`"3."` in a bulk overwrite).
fn build_one(sh: &Shared, guild: Option<u64>, c: &Value, prefix: &str) -> Result<Value, ApiError> {
    if !c.is_object() {
        return Err(not_an_object());
    }
    let t = c.get("type").and_then(Value::as_u64).unwrap_or(1);
    if !(1..=4).contains(&t) {
        return Err(err(
            &format!("{prefix}type"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2, 3, 4}.",
        ));
    }
    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
    let valid = if t == 1 {
        name_ok(name)
    } else {
        (1..=32).contains(&name.chars().count())
    };
    if !valid {
        return Err(err(
            &format!("{prefix}name"),
            "APPLICATION_COMMAND_INVALID_NAME",
            "Command name is invalid",
        ));
    }
    let desc = c.get("description").and_then(Value::as_str).unwrap_or("");
    if matches!(t, 2 | 3) && !desc.is_empty() {
        return Err(err(
            &format!("{prefix}description"),
            "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION_INVALID",
            "Context menu commands cannot have description",
        ));
    }
    if t == 1 && !(1..=100).contains(&desc.chars().count()) {
        return Err(err(
            &format!("{prefix}description"),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ));
    }
    let mut size = counted(c, prefix.trim_end_matches('.'), t == 1)?;
    if let Some(o) = c.get("options")
        && !o.is_null()
    {
        // Discord takes an empty list from a context-menu entry (libraries send one), and
        // refuses any option in it.
        if t != 1 {
            if !o.as_array().is_some_and(Vec::is_empty) {
                return Err(err(
                    &format!("{prefix}options"),
                    "APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS_INVALID",
                    "Context menu commands cannot have options",
                ));
            }
        } else {
            size += validate_options(o, &format!("{prefix}options"), 0, 0)?;
        }
    }
    if size > COMMAND_MAX_CHARS {
        let root = prefix.trim_end_matches('.');
        let tree = json!({"_errors": [{"code": "APPLICATION_COMMAND_TOO_LARGE", "message": format!("Command exceeds maximum size ({COMMAND_MAX_CHARS})")}]});
        return Err(if root.is_empty() {
            ApiError::form_tree(tree)
        } else {
            ApiError::form_tree(json!({ root: tree }))
        });
    }
    let mut v = json!({
        "application_id": sh.world.application_id.to_string(),
        "type": t,
        "name": name,
        "name_localizations": c.get("name_localizations").cloned().unwrap_or(Value::Null),
        "description": desc,
        "description_localizations": c.get("description_localizations").cloned().unwrap_or(Value::Null),
        "default_member_permissions": c.get("default_member_permissions").cloned().unwrap_or(Value::Null),
        "nsfw": c.get("nsfw").and_then(Value::as_bool).unwrap_or(false),
        "contexts": c.get("contexts").cloned().unwrap_or(Value::Null),
        "integration_types": c.get("integration_types").cloned().unwrap_or(json!([0])),
    });
    if let Some(o) = c.get("options").filter(|o| !o.is_null()) {
        v["options"] = o.clone();
    }
    if let Some(g) = guild {
        v["guild_id"] = json!(g.to_string());
    } else {
        v["dm_permission"] = c.get("dm_permission").cloned().unwrap_or(json!(true));
    }
    Ok(v)
}

/// Commands an application may have per type (Discord: 100 chat input, 15 user, 15
/// message, 1 entry point), per scope (global, or each guild).
fn max_per_type(t: u64) -> usize {
    match t {
        1 => 100,
        4 => 1,
        _ => 15,
    }
}

fn unknown_command() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        10063,
        "Unknown application command",
    )
}

fn list_mut(st: &mut State, guild: Option<u64>) -> &mut Vec<Value> {
    match guild {
        Some(g) => st.commands_guild.entry(g).or_default(),
        None => &mut st.commands_global,
    }
}

fn key_of(guild: Option<u64>, c: &Value) -> (Option<u64>, String, u64) {
    (
        guild,
        c["name"].as_str().unwrap_or("").to_owned(),
        c["type"].as_u64().unwrap_or(1),
    )
}

/// `POST .../commands`: creates a command, or overwrites the one with the same name and
/// type (keeping its id). Returns the command and whether it is new (201) or not (200).
pub(crate) fn create(
    sh: &Shared,
    st: &mut State,
    guild: Option<u64>,
    b: &Value,
) -> Result<(Value, bool), ApiError> {
    let mut v = build_one(sh, guild, b, "")?;
    let key = key_of(guild, &v);
    v["version"] = json!(next_snowflake().to_string());
    let list = list_mut(st, guild);
    if let Some(old) = list.iter_mut().find(|c| key_of(guild, c) == key) {
        v["id"] = old["id"].clone();
        *old = v.clone();
        return Ok((v, false));
    }
    let same_type = list.iter().filter(|c| c["type"] == v["type"]).count();
    let max = max_per_type(key.2);
    if same_type >= max {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            30032,
            &format!("Maximum number of application commands reached ({max})"),
        ));
    }
    let id = *st.command_ids.entry(key).or_insert_with(next_snowflake);
    v["id"] = json!(id.to_string());
    list_mut(st, guild).push(v.clone());
    Ok((v, true))
}

/// `GET .../commands/{id}`.
pub(crate) fn get(st: &State, guild: Option<u64>, id: u64) -> Result<Value, ApiError> {
    let list = match guild {
        Some(g) => st.commands_guild.get(&g).map(Vec::as_slice).unwrap_or(&[]),
        None => st.commands_global.as_slice(),
    };
    let id = id.to_string();
    list.iter()
        .find(|c| c["id"].as_str() == Some(id.as_str()))
        .cloned()
        .ok_or_else(unknown_command)
}

/// Fields a `PATCH .../commands/{id}` may change.
const EDITABLE: [&str; 10] = [
    "name",
    "name_localizations",
    "description",
    "description_localizations",
    "options",
    "default_member_permissions",
    "dm_permission",
    "nsfw",
    "contexts",
    "integration_types",
];

/// `PATCH .../commands/{id}`: changes the given fields, validated as a whole; the id stays,
/// the version changes.
pub(crate) fn edit(
    sh: &Shared,
    st: &mut State,
    guild: Option<u64>,
    id: u64,
    b: &Value,
) -> Result<Value, ApiError> {
    let old = get(st, guild, id)?;
    let Some(patch) = b.as_object() else {
        return Err(not_an_object());
    };
    let mut merged = old.clone();
    for (k, v) in patch {
        if EDITABLE.contains(&k.as_str()) {
            merged[k.as_str()] = v.clone();
        }
    }
    let mut v = build_one(sh, guild, &merged, "")?;
    let (old_key, new_key) = (key_of(guild, &old), key_of(guild, &v));
    let id_s = id.to_string();
    if new_key != old_key
        && list_mut(st, guild)
            .iter()
            .any(|c| key_of(guild, c) == new_key && c["id"].as_str() != Some(id_s.as_str()))
    {
        return Err(duplicate_name("name", &new_key.1));
    }
    v["id"] = json!(id_s);
    v["version"] = json!(next_snowflake().to_string());
    if let Some(slot) = list_mut(st, guild)
        .iter_mut()
        .find(|c| c["id"].as_str() == Some(id_s.as_str()))
    {
        *slot = v.clone();
    }
    if new_key != old_key {
        st.command_ids.remove(&old_key);
        st.command_ids.insert(new_key, id);
    }
    Ok(v)
}

/// `DELETE .../commands/{id}`; a command created later under the same name gets a new id.
pub(crate) fn delete(st: &mut State, guild: Option<u64>, id: u64) -> Result<(), ApiError> {
    let old = get(st, guild, id)?;
    let id_s = id.to_string();
    list_mut(st, guild).retain(|c| c["id"].as_str() != Some(id_s.as_str()));
    st.command_ids.remove(&key_of(guild, &old));
    Ok(())
}

/// Gives commands stable ids (same name and type → same id) and a fresh version.
pub(crate) fn assign_ids(st: &mut State, guild: Option<u64>, cmds: Vec<Value>) -> Vec<Value> {
    let version = next_snowflake().to_string();
    cmds.into_iter()
        .map(|mut c| {
            let key = key_of(guild, &c);
            let id = *st.command_ids.entry(key).or_insert_with(next_snowflake);
            c["id"] = json!(id.to_string());
            c["version"] = json!(version);
            c
        })
        .collect()
}

/// The registered slash command a user may run in `guild` (guild commands first).
pub(crate) fn find_command(st: &State, guild: Option<u64>, name: &str) -> Option<Value> {
    find_command_of(st, guild, name, 1)
}

/// The registered command of type `kind` (1 slash, 2 user menu, 3 message menu) named
/// `name` that a user may run in `guild` (guild commands first).
pub(crate) fn find_command_of(
    st: &State,
    guild: Option<u64>,
    name: &str,
    kind: u64,
) -> Option<Value> {
    guild
        .and_then(|g| st.commands_guild.get(&g))
        .into_iter()
        .flatten()
        .chain(st.commands_global.iter())
        .find(|c| c["name"].as_str() == Some(name) && c["type"].as_u64().unwrap_or(1) == kind)
        .cloned()
}
