//! Validation of a rule body as Discord validates it: every field of a create or modify body
//! checked at once (one 50035 tree), the trigger type fixed once created, then the per-guild
//! limit of the rule's trigger type.

use super::metadata::{actions, trigger_metadata};
use super::{KEYWORD, KEYWORD_PRESET, MEMBER_PROFILE, MENTION_SPAM, SPAM, rules};
use crate::error::{ApiError, FormErrors};
use crate::state::State;
use crate::util::snowflake_value;
use crate::world::{Guild, World};
use serde_json::{Value, json};

/// Most rules of a trigger type per guild.
fn max_per_guild(trigger: u64) -> usize {
    if trigger == KEYWORD { 6 } else { 1 }
}

/// A list of snowflakes at `path`, at most `max`, each passing `known`.
fn ids(
    f: &mut FormErrors,
    v: Option<&Value>,
    path: &str,
    max: usize,
    known: impl Fn(u64) -> bool,
) -> Vec<u64> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            if a.len() > max {
                f.add(
                    path,
                    "BASE_TYPE_MAX_LENGTH",
                    &format!("Must be {max} or fewer in length."),
                );
                return Vec::new();
            }
            let mut out: Vec<u64> = Vec::new();
            for (i, x) in a.iter().enumerate() {
                let p = format!("{path}.{i}");
                match snowflake_value(x) {
                    Some(id) if known(id) => {
                        if !out.contains(&id) {
                            out.push(id);
                        }
                    }
                    Some(_) => f.add(&p, "UNKNOWN_SNOWFLAKE", "Unknown snowflake."),
                    None => f.add(&p, "NUMBER_TYPE_COERCE", "Value is not snowflake."),
                }
            }
            out
        }
        Some(_) => {
            f.add(path, "BASE_TYPE_ARRAY", "Must be an array.");
            Vec::new()
        }
    }
}

/// The rule a create (`existing` is `None`) or a modify body makes of guild `g`'s rules,
/// validated as Discord validates it: every field error at once (50035), then the per-guild
/// limit of the trigger type (50035 `AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED`).
pub(crate) fn build(
    world: &World,
    st: &State,
    g: &Guild,
    body: &Value,
    existing: Option<&Value>,
    creator: u64,
) -> Result<Value, ApiError> {
    let mut f = FormErrors::default();
    if !body.is_object() {
        return Err(ApiError::form_tree(
            json!({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a DictType"}]}),
        ));
    }
    let bot_perms = g.base_permissions(world.bot.id);
    let old = existing.cloned().unwrap_or(Value::Null);
    let creating = existing.is_none();
    let field = |k: &str| body.get(k).filter(|v| !v.is_null());
    // name
    let name = match field("name") {
        Some(Value::String(s)) if (1..=100).contains(&s.chars().count()) => s.clone(),
        Some(Value::String(_)) => {
            f.add(
                "name",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            );
            String::new()
        }
        Some(_) => {
            f.add("name", "BASE_TYPE_STRING", "Must be a string.");
            String::new()
        }
        None if creating => {
            f.add("name", "BASE_TYPE_REQUIRED", "This field is required");
            String::new()
        }
        None => old["name"].as_str().unwrap_or_default().to_owned(),
    };
    // trigger_type: fixed once created
    let trigger = match field("trigger_type") {
        Some(v) => match v.as_u64() {
            Some(t @ (KEYWORD | SPAM | KEYWORD_PRESET | MENTION_SPAM | MEMBER_PROFILE))
                if creating || old["trigger_type"].as_u64() == Some(t) =>
            {
                t
            }
            Some(t @ (KEYWORD | SPAM | KEYWORD_PRESET | MENTION_SPAM | MEMBER_PROFILE)) => {
                let _ = t;
                f.add(
                    "trigger_type",
                    "AUTO_MODERATION_TRIGGER_TYPE_IMMUTABLE",
                    "The trigger type of a rule cannot be changed.",
                );
                0
            }
            _ => {
                f.add(
                    "trigger_type",
                    "BASE_TYPE_CHOICES",
                    "Value must be one of (1, 3, 4, 5, 6).",
                );
                0
            }
        },
        None if creating => {
            f.add(
                "trigger_type",
                "BASE_TYPE_REQUIRED",
                "This field is required",
            );
            0
        }
        None => old["trigger_type"].as_u64().unwrap_or(0),
    };
    // event_type
    let event = match field("event_type") {
        Some(v) => match v.as_u64() {
            Some(e @ (1 | 2)) => e,
            _ => {
                f.add(
                    "event_type",
                    "BASE_TYPE_CHOICES",
                    "Value must be one of (1, 2).",
                );
                0
            }
        },
        None if creating => {
            f.add("event_type", "BASE_TYPE_REQUIRED", "This field is required");
            0
        }
        None => old["event_type"].as_u64().unwrap_or(1),
    };
    if trigger != 0 && event != 0 && (event == 2) != (trigger == MEMBER_PROFILE) {
        f.add(
            "event_type",
            "AUTO_MODERATION_INVALID_EVENT_TYPE",
            "This event type is not allowed for this trigger type.",
        );
    }
    let md = match field("trigger_metadata") {
        Some(v) => trigger_metadata(&mut f, trigger, v),
        None if creating => trigger_metadata(&mut f, trigger, &json!({})),
        None => old["trigger_metadata"].clone(),
    };
    let acts = match field("actions") {
        Some(v) => actions(&mut f, g, bot_perms, trigger, v),
        None if creating => {
            f.add("actions", "BASE_TYPE_REQUIRED", "This field is required");
            Vec::new()
        }
        None => old["actions"].as_array().cloned().unwrap_or_default(),
    };
    let enabled = match field("enabled") {
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            f.add(
                "enabled",
                "BASE_TYPE_BOOLEAN",
                "Must be either true or false.",
            );
            false
        }
        None => old["enabled"].as_bool().unwrap_or(false),
    };
    let roles = match field("exempt_roles") {
        Some(v) => ids(&mut f, Some(v), "exempt_roles", 20, |r| g.role(r).is_some()),
        None => old["exempt_roles"]
            .as_array()
            .map(|a| a.iter().filter_map(snowflake_value).collect())
            .unwrap_or_default(),
    };
    let channels = match field("exempt_channels") {
        Some(v) => ids(&mut f, Some(v), "exempt_channels", 50, |c| {
            g.channel(c).is_some()
        }),
        None => old["exempt_channels"]
            .as_array()
            .map(|a| a.iter().filter_map(snowflake_value).collect())
            .unwrap_or_default(),
    };
    f.finish()?;
    if creating {
        let max = max_per_guild(trigger);
        let n = rules(st, g.id)
            .iter()
            .filter(|r| r["trigger_type"].as_u64() == Some(trigger))
            .count();
        if n >= max {
            return Err(ApiError::form_tree(json!({"_errors": [{
                "code": "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED",
                "message": format!("Maximum number of rules with trigger type {trigger} is {max}"),
            }]})));
        }
    }
    let id = if creating {
        crate::util::next_snowflake().to_string()
    } else {
        old["id"].as_str().unwrap_or_default().to_owned()
    };
    let creator_id = if creating {
        creator.to_string()
    } else {
        old["creator_id"].as_str().unwrap_or_default().to_owned()
    };
    Ok(json!({
        "id": id,
        "guild_id": g.id.to_string(),
        "creator_id": creator_id,
        "name": name,
        "event_type": event,
        "trigger_type": trigger,
        "trigger_metadata": md,
        "actions": acts,
        "enabled": enabled,
        "exempt_roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "exempt_channels": channels.iter().map(u64::to_string).collect::<Vec<_>>(),
    }))
}
