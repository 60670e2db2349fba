//! Validation of message bodies shared by channel messages, interaction responses and
//! webhook messages.

use crate::error::{ApiError, e};
use serde_json::Value;

/// Validates message content fields shared by messages, callbacks and webhooks.
pub(crate) fn validate_message_body(b: &Value, require_something: bool) -> Result<(), ApiError> {
    if let Some(c) = b.get("content") {
        if !c.is_null() && !c.is_string() {
            return Err(ApiError::form(
                "content",
                "BASE_TYPE_STRING",
                "Must be a string.",
            ));
        }
        if c.as_str().is_some_and(|s| s.chars().count() > 2000) {
            return Err(ApiError::form(
                "content",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2000 or fewer in length.",
            ));
        }
    }
    if let Some(em) = b.get("embeds").and_then(Value::as_array) {
        if em.len() > 10 {
            return Err(ApiError::form(
                "embeds",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 10 or fewer in length.",
            ));
        }
        for (i, emb) in em.iter().enumerate() {
            if emb
                .get("title")
                .and_then(Value::as_str)
                .is_some_and(|s| s.chars().count() > 256)
            {
                return Err(ApiError::form(
                    &format!("embeds.{i}.title"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 256 or fewer in length.",
                ));
            }
            if emb
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|s| s.chars().count() > 4096)
            {
                return Err(ApiError::form(
                    &format!("embeds.{i}.description"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 4096 or fewer in length.",
                ));
            }
            if emb
                .get("fields")
                .and_then(Value::as_array)
                .is_some_and(|f| f.len() > 25)
            {
                return Err(ApiError::form(
                    &format!("embeds.{i}.fields"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                ));
            }
        }
    }
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
