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

fn validate_options(opts: &Value, path: &str, depth: u8) -> Result<(), ApiError> {
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
        let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
        if t <= 2 {
            if depth >= 2 || (t == 2 && depth >= 1) {
                return Err(err(
                    &format!("{p}.type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Subcommands cannot be nested this deep",
                ));
            }
            if let Some(sub) = o.get("options") {
                validate_options(sub, &format!("{p}.options"), depth + 1)?;
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
            if let Some(ch) = o.get("choices").and_then(Value::as_array)
                && ch.len() > 25
            {
                return Err(err(
                    &format!("{p}.choices"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                ));
            }
        }
    }
    Ok(())
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
        let t = c.get("type").and_then(Value::as_u64).unwrap_or(1);
        if !(1..=4).contains(&t) {
            return Err(err(
                &format!("{i}.type"),
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
                &format!("{i}.name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            ));
        }
        if !names.insert((t, name.to_owned())) {
            return Err(err(
                &format!("{i}.name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                &format!("Application command names must be unique: {name}"),
            ));
        }
        let desc = c.get("description").and_then(Value::as_str).unwrap_or("");
        if t == 1 && !(1..=100).contains(&desc.chars().count()) {
            return Err(err(
                &format!("{i}.description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        if let Some(o) = c.get("options")
            && !o.is_null()
        {
            if t != 1 {
                return Err(err(
                    &format!("{i}.options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Only chat input commands take options",
                ));
            }
            validate_options(o, &format!("{i}.options"), 0)?;
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
        out.push(v);
    }
    Ok(out)
}

/// Gives commands stable ids (same name and type → same id) and a fresh version.
pub(crate) fn assign_ids(st: &mut State, guild: Option<u64>, cmds: Vec<Value>) -> Vec<Value> {
    let version = next_snowflake().to_string();
    cmds.into_iter()
        .map(|mut c| {
            let key = (
                guild,
                c["name"].as_str().unwrap_or("").to_owned(),
                c["type"].as_u64().unwrap_or(1),
            );
            let id = *st.command_ids.entry(key).or_insert_with(next_snowflake);
            c["id"] = json!(id.to_string());
            c["version"] = json!(version);
            c
        })
        .collect()
}

/// The registered command a user may run in `guild` (guild commands first).
pub(crate) fn find_command(st: &State, guild: Option<u64>, name: &str) -> Option<Value> {
    guild
        .and_then(|g| st.commands_guild.get(&g))
        .into_iter()
        .flatten()
        .chain(st.commands_global.iter())
        .find(|c| c["name"].as_str() == Some(name) && c["type"].as_u64().unwrap_or(1) == 1)
        .cloned()
}
