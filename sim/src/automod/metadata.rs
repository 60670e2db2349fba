//! The parts of a rule body whose shape depends on the trigger type: `trigger_metadata`
//! (keywords, regexes, allow list, presets, mention limit) and `actions` (which actions the
//! trigger allows, with their metadata and the permissions they need).

use super::{
    BLOCK_MEMBER_INTERACTION, BLOCK_MESSAGE, KEYWORD, KEYWORD_PRESET, MEMBER_PROFILE, MENTION_SPAM,
    SEND_ALERT_MESSAGE, TIMEOUT,
};
use crate::error::FormErrors;
use crate::util::snowflake_value;
use crate::world::{Guild, perms};
use serde_json::{Value, json};

/// Longest timeout an action may give (28 days).
const MAX_TIMEOUT_SECS: u64 = 2_419_200;

/// A list of strings at `path` with at most `max` items of 1..=`len` characters each.
fn strings(
    f: &mut FormErrors,
    v: Option<&Value>,
    path: &str,
    max: usize,
    len: usize,
) -> Vec<String> {
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
            let mut out = Vec::new();
            for (i, s) in a.iter().enumerate() {
                let p = format!("{path}.{i}");
                match s.as_str() {
                    Some(s) if s.chars().count() > len => f.add(
                        &p,
                        "BASE_TYPE_MAX_LENGTH",
                        &format!("Must be {len} or fewer in length."),
                    ),
                    Some("") => f.add(
                        &p,
                        "BASE_TYPE_BAD_LENGTH",
                        &format!("Must be between 1 and {len} in length."),
                    ),
                    Some(s) => out.push(s.to_owned()),
                    None => f.add(&p, "BASE_TYPE_STRING", "Must be a string."),
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

pub(super) fn trigger_metadata(f: &mut FormErrors, trigger: u64, md: &Value) -> Value {
    let p = "trigger_metadata";
    if !(md.is_object() || md.is_null()) {
        f.add(
            p,
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        );
        return json!({});
    }
    match trigger {
        KEYWORD | MEMBER_PROFILE => {
            let kw = strings(
                f,
                md.get("keyword_filter"),
                &format!("{p}.keyword_filter"),
                1000,
                60,
            );
            let rx = strings(
                f,
                md.get("regex_patterns"),
                &format!("{p}.regex_patterns"),
                10,
                260,
            );
            for (i, r) in rx.iter().enumerate() {
                if regex::Regex::new(r).is_err() {
                    f.add(
                        &format!("{p}.regex_patterns.{i}"),
                        "AUTO_MODERATION_INVALID_REGEX",
                        "Invalid regex pattern.",
                    );
                }
            }
            let allow = strings(f, md.get("allow_list"), &format!("{p}.allow_list"), 100, 60);
            json!({"keyword_filter": kw, "regex_patterns": rx, "allow_list": allow})
        }
        KEYWORD_PRESET => {
            let presets: Vec<u64> = match md.get("presets") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => {
                    let mut out = Vec::new();
                    for (i, x) in a.iter().enumerate() {
                        match x.as_u64() {
                            Some(n @ 1..=3) => out.push(n),
                            _ => f.add(
                                &format!("{p}.presets.{i}"),
                                "BASE_TYPE_CHOICES",
                                "Value must be one of (1, 2, 3).",
                            ),
                        }
                    }
                    out
                }
                Some(_) => {
                    f.add(
                        &format!("{p}.presets"),
                        "BASE_TYPE_ARRAY",
                        "Must be an array.",
                    );
                    Vec::new()
                }
            };
            let allow = strings(
                f,
                md.get("allow_list"),
                &format!("{p}.allow_list"),
                1000,
                60,
            );
            json!({"presets": presets, "allow_list": allow})
        }
        MENTION_SPAM => {
            let limit = match md.get("mention_total_limit") {
                None | Some(Value::Null) => 0,
                Some(v) => match v.as_u64() {
                    Some(n) if n <= 50 => n,
                    Some(_) => {
                        f.add(
                            &format!("{p}.mention_total_limit"),
                            "NUMBER_TYPE_MAX",
                            "int value should be less than or equal to 50.",
                        );
                        0
                    }
                    None => {
                        f.add(
                            &format!("{p}.mention_total_limit"),
                            "NUMBER_TYPE_COERCE",
                            "Value is not int.",
                        );
                        0
                    }
                },
            };
            let raid = md
                .get("mention_raid_protection_enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            json!({"mention_total_limit": limit, "mention_raid_protection_enabled": raid})
        }
        _ => json!({}),
    }
}

pub(super) fn actions(
    f: &mut FormErrors,
    g: &Guild,
    bot_perms: u64,
    trigger: u64,
    v: &Value,
) -> Vec<Value> {
    let Some(list) = v.as_array() else {
        f.add("actions", "BASE_TYPE_ARRAY", "Must be an array.");
        return Vec::new();
    };
    if list.is_empty() || list.len() > 5 {
        f.add(
            "actions",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.",
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let p = format!("actions.{i}");
        let md = a.get("metadata").cloned().unwrap_or(Value::Null);
        match a.get("type").and_then(Value::as_u64) {
            Some(BLOCK_MESSAGE) => {
                let mut m = json!({});
                match md.get("custom_message") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) if s.chars().count() <= 150 => {
                        m["custom_message"] = json!(s);
                    }
                    Some(Value::String(_)) => f.add(
                        &format!("{p}.metadata.custom_message"),
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 150 or fewer in length.",
                    ),
                    Some(_) => f.add(
                        &format!("{p}.metadata.custom_message"),
                        "BASE_TYPE_STRING",
                        "Must be a string.",
                    ),
                }
                out.push(json!({"type": BLOCK_MESSAGE, "metadata": m}));
            }
            Some(SEND_ALERT_MESSAGE) => match md.get("channel_id").and_then(snowflake_value) {
                Some(c) if g.channel(c).is_some_and(|c| c.kind == 0 || c.kind == 5) => {
                    out.push(json!({"type": SEND_ALERT_MESSAGE, "metadata": {"channel_id": c.to_string()}}));
                }
                Some(_) => f.add(
                    &format!("{p}.metadata.channel_id"),
                    "AUTO_MODERATION_INVALID_CHANNEL",
                    "Unknown or unsupported alert channel.",
                ),
                None => f.add(
                    &format!("{p}.metadata.channel_id"),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ),
            },
            Some(TIMEOUT) => {
                if trigger != KEYWORD && trigger != MENTION_SPAM && trigger != MEMBER_PROFILE {
                    f.add(
                        &format!("{p}.type"),
                        "AUTO_MODERATION_INVALID_ACTION_FOR_TRIGGER_TYPE",
                        "Timeout actions are only allowed for keyword and mention spam rules.",
                    );
                    continue;
                }
                if bot_perms & perms::MODERATE_MEMBERS == 0 {
                    f.add(
                        &format!("{p}.type"),
                        "AUTO_MODERATION_MISSING_PERMISSIONS",
                        "Timeout actions need the Moderate Members permission.",
                    );
                    continue;
                }
                match md.get("duration_seconds").and_then(Value::as_u64) {
                    Some(d) if d <= MAX_TIMEOUT_SECS => {
                        out.push(json!({"type": TIMEOUT, "metadata": {"duration_seconds": d}}));
                    }
                    Some(_) => f.add(
                        &format!("{p}.metadata.duration_seconds"),
                        "NUMBER_TYPE_MAX",
                        &format!("int value should be less than or equal to {MAX_TIMEOUT_SECS}."),
                    ),
                    None => f.add(
                        &format!("{p}.metadata.duration_seconds"),
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    ),
                }
            }
            Some(BLOCK_MEMBER_INTERACTION) if trigger == MEMBER_PROFILE => {
                out.push(json!({"type": BLOCK_MEMBER_INTERACTION, "metadata": {}}));
            }
            Some(BLOCK_MEMBER_INTERACTION) => f.add(
                &format!("{p}.type"),
                "AUTO_MODERATION_INVALID_ACTION_FOR_TRIGGER_TYPE",
                "This action is only allowed for member profile rules.",
            ),
            _ => f.add(
                &format!("{p}.type"),
                "BASE_TYPE_CHOICES",
                "Value must be one of (1, 2, 3, 4).",
            ),
        }
    }
    out
}
