//! Validation of message bodies shared by channel messages, interaction responses and
//! webhook messages: content, embeds, components, `allowed_mentions` and attachments, with
//! every invalid field reported at once in Discord's 50035 `errors` tree.

use crate::error::{ApiError, FormErrors, e};
use serde_json::Value;

/// Most characters of all embeds of one message together.
const EMBED_TOTAL: usize = 6000;
/// `flags` bit of messages laid out with components v2.
const IS_COMPONENTS_V2: u64 = 1 << 15;

fn chars(v: Option<&Value>) -> usize {
    v.and_then(Value::as_str).map_or(0, |s| s.chars().count())
}

/// A string field: must be a string (or null/absent unless `required`) of `min..=max`
/// characters.
fn string(
    f: &mut FormErrors,
    v: Option<&Value>,
    path: &str,
    min: usize,
    max: usize,
    required: bool,
) {
    match v {
        None | Some(Value::Null) => {
            if required {
                f.add(path, "BASE_TYPE_REQUIRED", "This field is required");
            }
        }
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n > max {
                f.add(
                    path,
                    "BASE_TYPE_MAX_LENGTH",
                    &format!("Must be {max} or fewer in length."),
                );
            } else if n < min {
                if min == 1 && required {
                    f.add(path, "BASE_TYPE_REQUIRED", "This field is required");
                } else {
                    f.add(
                        path,
                        "BASE_TYPE_BAD_LENGTH",
                        &format!("Must be between {min} and {max} in length."),
                    );
                }
            }
        }
        Some(_) => f.add(path, "BASE_TYPE_STRING", "Must be a string."),
    }
}

/// An array field of at most `max` items; returns its items.
fn array<'a>(f: &mut FormErrors, v: Option<&'a Value>, path: &str, max: usize) -> &'a [Value] {
    match v {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => {
            if a.len() > max {
                f.add(
                    path,
                    "BASE_TYPE_MAX_LENGTH",
                    &format!("Must be {max} or fewer in length."),
                );
                // The items of a list that is too long are not looked at.
                return &[];
            }
            a
        }
        Some(_) => {
            f.add(path, "BASE_TYPE_ARRAY", "Must be an array.");
            &[]
        }
    }
}

fn is_snowflake(v: &Value) -> bool {
    crate::util::snowflake_value(v).is_some()
}

fn embeds(f: &mut FormErrors, b: &Value) {
    let list = array(f, b.get("embeds"), "embeds", 10);
    let mut total = 0;
    for (i, em) in list.iter().enumerate() {
        let p = format!("embeds.{i}");
        if !em.is_object() {
            f.add(
                &p,
                "DICT_TYPE_CONVERT",
                "Only dictionaries may be used in a DictType",
            );
            continue;
        }
        string(f, em.get("title"), &format!("{p}.title"), 0, 256, false);
        string(
            f,
            em.get("description"),
            &format!("{p}.description"),
            0,
            4096,
            false,
        );
        total += chars(em.get("title")) + chars(em.get("description"));
        let fields = array(f, em.get("fields"), &format!("{p}.fields"), 25);
        for (j, fl) in fields.iter().enumerate() {
            let fp = format!("{p}.fields.{j}");
            string(f, fl.get("name"), &format!("{fp}.name"), 1, 256, true);
            string(f, fl.get("value"), &format!("{fp}.value"), 1, 1024, true);
            if fl
                .get("inline")
                .is_some_and(|v| !v.is_boolean() && !v.is_null())
            {
                f.add(
                    &format!("{fp}.inline"),
                    "BASE_TYPE_BOOLEAN",
                    "Must be either true or false.",
                );
            }
            total += chars(fl.get("name")) + chars(fl.get("value"));
        }
        if let Some(ft) = em.get("footer").filter(|v| !v.is_null()) {
            string(
                f,
                ft.get("text"),
                &format!("{p}.footer.text"),
                1,
                2048,
                true,
            );
            total += chars(ft.get("text"));
        }
        if let Some(au) = em.get("author").filter(|v| !v.is_null()) {
            string(f, au.get("name"), &format!("{p}.author.name"), 1, 256, true);
            total += chars(au.get("name"));
        }
        if let Some(c) = em.get("color").filter(|v| !v.is_null())
            && c.as_u64().is_none_or(|c| c > 0xFF_FFFF)
        {
            f.add(
                &format!("{p}.color"),
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 16777215.",
            );
        }
    }
    // The total is Discord's last check, made when each embed is valid on its own.
    if total > EMBED_TOTAL && !f.has("embeds") {
        f.add(
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            &format!("Embed size exceeds maximum size of {EMBED_TOTAL}"),
        );
    }
}

/// A select menu's fields (types 3, 5, 6, 7, 8).
fn select(f: &mut FormErrors, c: &Value, p: &str) {
    let t = c.get("type").and_then(Value::as_u64).unwrap_or(0);
    string(
        f,
        c.get("placeholder"),
        &format!("{p}.placeholder"),
        0,
        150,
        false,
    );
    let min = c.get("min_values").and_then(Value::as_u64);
    let max = c.get("max_values").and_then(Value::as_u64);
    if min.is_some_and(|m| m > 25) {
        f.add(
            &format!("{p}.min_values"),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 25.",
        );
    }
    if max.is_some_and(|m| !(1..=25).contains(&m)) {
        f.add(
            &format!("{p}.max_values"),
            "NUMBER_TYPE_MAX",
            "int value should be between 1 and 25.",
        );
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        f.add(
            &format!("{p}.min_values"),
            "SELECT_COMPONENT_MIN_VALUES_GREATER_THAN_MAX",
            "min_values must be less than or equal to max_values",
        );
    }
    if t != 3 {
        return;
    }
    let Some(opts) = c.get("options").filter(|v| !v.is_null()) else {
        f.add(
            &format!("{p}.options"),
            "BASE_TYPE_REQUIRED",
            "This field is required",
        );
        return;
    };
    let opts = array(f, Some(opts), &format!("{p}.options"), 25);
    if opts.is_empty() && !f.has(&format!("{p}.options")) {
        f.add(
            &format!("{p}.options"),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 25 in length.",
        );
    }
    let mut values = std::collections::HashSet::new();
    for (k, o) in opts.iter().enumerate() {
        let op = format!("{p}.options.{k}");
        string(f, o.get("label"), &format!("{op}.label"), 1, 100, true);
        string(f, o.get("value"), &format!("{op}.value"), 1, 100, true);
        string(
            f,
            o.get("description"),
            &format!("{op}.description"),
            0,
            100,
            false,
        );
        if let Some(v) = o.get("value").and_then(Value::as_str)
            && !values.insert(v)
        {
            f.add(
                &format!("{op}.value"),
                "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                "Select component option values must be unique",
            );
        }
    }
    if max.is_some_and(|m| m as usize > opts.len()) && !opts.is_empty() {
        f.add(
            &format!("{p}.max_values"),
            "SELECT_COMPONENT_MAX_VALUES_EXCEEDS_OPTIONS",
            "max_values must be less than or equal to the number of options",
        );
    }
}

fn button(f: &mut FormErrors, c: &Value, p: &str) {
    let style = c.get("style").and_then(Value::as_u64);
    match style {
        None => f.add(
            &format!("{p}.style"),
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ),
        Some(s) if !(1..=6).contains(&s) => f.add(
            &format!("{p}.style"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2, 3, 4, 5, 6}.",
        ),
        _ => {}
    }
    string(f, c.get("label"), &format!("{p}.label"), 0, 80, false);
    let has = |k: &str| c.get(k).is_some_and(|v| !v.is_null());
    match style {
        Some(5) => {
            if !has("url") {
                f.add(
                    &format!("{p}.url"),
                    "BUTTON_COMPONENT_URL_REQUIRED",
                    "A url is required",
                );
            } else {
                string(f, c.get("url"), &format!("{p}.url"), 1, 512, true);
            }
            if has("custom_id") {
                f.add(
                    &format!("{p}.custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                    "A custom id cannot be specified for this button style",
                );
            }
        }
        Some(6) if !has("sku_id") => {
            f.add(
                &format!("{p}.sku_id"),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            );
        }
        Some(1..=4) => {
            if has("url") {
                f.add(
                    &format!("{p}.url"),
                    "BUTTON_COMPONENT_URL_NOT_ALLOWED",
                    "A url cannot be specified for this button style",
                );
            }
            if !has("custom_id") {
                f.add(
                    &format!("{p}.custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
                    "A custom id is required",
                );
            }
            if !has("label") && !has("emoji") {
                f.add(
                    &format!("{p}.label"),
                    "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
                    "A label or an emoji is required",
                );
            }
        }
        _ => {}
    }
}

/// Checks `custom_id` (≤ 100 characters, unique in the message) of every component in the
/// tree, whatever its type.
fn custom_ids<'a>(
    f: &mut FormErrors,
    list: &'a [Value],
    path: &str,
    seen: &mut std::collections::HashSet<&'a str>,
) {
    for (i, c) in list.iter().enumerate() {
        let p = format!("{path}.{i}");
        if let Some(id) = c.get("custom_id").filter(|v| !v.is_null()) {
            string(f, Some(id), &format!("{p}.custom_id"), 1, 100, true);
            if let Some(s) = id.as_str()
                && !seen.insert(s)
            {
                f.add(
                    &format!("{p}.custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                );
            }
        }
        for key in ["components", "accessory"] {
            match c.get(key) {
                Some(Value::Array(sub)) => custom_ids(f, sub, &format!("{p}.{key}"), seen),
                Some(v @ Value::Object(_)) => {
                    custom_ids(f, std::slice::from_ref(v), &format!("{p}.{key}"), seen)
                }
                _ => {}
            }
        }
    }
}

fn components(f: &mut FormErrors, b: &Value) {
    let v2 = b.get("flags").and_then(Value::as_u64).unwrap_or(0) & IS_COMPONENTS_V2 != 0;
    let max = if v2 { 40 } else { 5 };
    let rows = array(f, b.get("components"), "components", max);
    custom_ids(f, rows, "components", &mut std::collections::HashSet::new());
    if v2 {
        // Components v2 layouts (sections, containers...) are checked only for their
        // custom ids.
        return;
    }
    for (i, row) in rows.iter().enumerate() {
        let p = format!("components.{i}");
        if row.get("type").and_then(Value::as_u64) != Some(1) {
            f.add(
                &format!("{p}.type"),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (1,).",
            );
            continue;
        }
        let items = array(f, row.get("components"), &format!("{p}.components"), 5);
        if items.is_empty() && !f.has(&format!("{p}.components")) {
            f.add(
                &format!("{p}.components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            );
        }
        let mut width = 0;
        for (j, c) in items.iter().enumerate() {
            let cp = format!("{p}.components.{j}");
            match c.get("type").and_then(Value::as_u64) {
                Some(2) => {
                    width += 1;
                    button(f, c, &cp);
                }
                Some(3 | 5..=8) => {
                    width += 5;
                    select(f, c, &cp);
                }
                _ => f.add(
                    &format!("{cp}.type"),
                    "UNION_TYPE_CHOICES",
                    "Value of field \"type\" must be one of (2, 3, 5, 6, 7, 8).",
                ),
            }
        }
        if width > 5 {
            f.add(
                &format!("{p}.components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            );
        }
    }
}

fn allowed_mentions(f: &mut FormErrors, b: &Value) {
    let Some(am) = b.get("allowed_mentions").filter(|v| !v.is_null()) else {
        return;
    };
    if !am.is_object() {
        f.add(
            "allowed_mentions",
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        );
        return;
    }
    let parse = array(f, am.get("parse"), "allowed_mentions.parse", 3);
    for (i, p) in parse.iter().enumerate() {
        if !matches!(p.as_str(), Some("roles" | "users" | "everyone")) {
            f.add(
                &format!("allowed_mentions.parse.{i}"),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('roles', 'users', 'everyone').",
            );
        }
    }
    for key in ["users", "roles"] {
        let ids = array(f, am.get(key), &format!("allowed_mentions.{key}"), 100);
        for (i, id) in ids.iter().enumerate() {
            if !is_snowflake(id) {
                f.add(
                    &format!("allowed_mentions.{key}.{i}"),
                    "NUMBER_TYPE_COERCE",
                    &format!(
                        "Value \"{}\" is not snowflake.",
                        id.as_str().unwrap_or(&id.to_string())
                    ),
                );
            }
        }
        if !ids.is_empty()
            && parse.iter().any(|p| p.as_str() == Some(key))
            && !f.has("allowed_mentions")
        {
            f.add(
                "allowed_mentions",
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                &format!("parse:[\"{key}\"] and {key}: [ids...] are mutually exclusive."),
            );
        }
    }
    if am
        .get("replied_user")
        .is_some_and(|v| !v.is_boolean() && !v.is_null())
    {
        f.add(
            "allowed_mentions.replied_user",
            "BASE_TYPE_BOOLEAN",
            "Must be either true or false.",
        );
    }
}

fn attachments(f: &mut FormErrors, b: &Value) {
    let list = array(f, b.get("attachments"), "attachments", 10);
    for (i, a) in list.iter().enumerate() {
        let p = format!("attachments.{i}");
        if !a.get("id").is_some_and(is_snowflake) {
            f.add(
                &format!("{p}.id"),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            );
        }
        string(
            f,
            a.get("filename"),
            &format!("{p}.filename"),
            1,
            1024,
            false,
        );
        string(
            f,
            a.get("description"),
            &format!("{p}.description"),
            0,
            1024,
            false,
        );
    }
}

/// Validates the message fields shared by messages, callbacks and webhooks; with
/// `require_something`, a message with nothing to show is 50006.
pub(crate) fn validate_message_body(b: &Value, require_something: bool) -> Result<(), ApiError> {
    if !b.is_object() {
        return Err(ApiError::form_tree(
            serde_json::json!({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a DictType"}]}),
        ));
    }
    let mut f = FormErrors::default();
    string(&mut f, b.get("content"), "content", 0, 2000, false);
    match b.get("nonce") {
        None | Some(Value::Null | Value::Number(_)) => {}
        Some(n @ Value::String(_)) => string(&mut f, Some(n), "nonce", 0, 25, false),
        Some(_) => f.add("nonce", "BASE_TYPE_STRING", "Must be a string."),
    }
    embeds(&mut f, b);
    components(&mut f, b);
    allowed_mentions(&mut f, b);
    attachments(&mut f, b);
    f.finish()?;
    if require_something {
        let has_content = b
            .get("content")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        let nonempty = |k: &str| {
            b.get(k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        if !has_content
            && !nonempty("embeds")
            && !nonempty("components")
            && !nonempty("sticker_ids")
            && !nonempty("attachments")
            && b.get("poll").is_none()
        {
            return Err(e::empty_message());
        }
    }
    Ok(())
}
