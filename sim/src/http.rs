//! Shared pieces of the REST handlers: extractor aliases, the handler result, parameter and
//! body parsing, and the audit-log reason header.

use crate::error::ApiError;
use crate::state::Shared;
use axum::Json;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The simulator's state, extracted.
pub(crate) type S = AxState<Arc<Shared>>;
/// Path parameters by name.
pub(crate) type P = Path<HashMap<String, String>>;
/// Query parameters by name.
pub(crate) type Q = Query<HashMap<String, String>>;
/// Handler result.
pub(crate) type R = Result<Response, ApiError>;

/// A snowflake path or query parameter.
pub(crate) fn snow(p: &HashMap<String, String>, key: &str) -> Result<u64, ApiError> {
    let raw = p.get(key).map(String::as_str).unwrap_or("");
    raw.parse::<u64>().map_err(|_| {
        ApiError::form(
            &format!("{key}_id"),
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{raw}\" is not snowflake."),
        )
    })
}

/// The `limit` query parameter: `default` when absent, else a number in `1..=max`
/// (50035 `NUMBER_TYPE_MAX` otherwise, as Discord answers).
pub(crate) fn limit_param(
    q: &HashMap<String, String>,
    max: usize,
    default: usize,
) -> Result<usize, ApiError> {
    match q.get("limit") {
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::form(
                    "limit",
                    "NUMBER_TYPE_MAX",
                    &format!("int value should be less than or equal to {max}."),
                )
            }),
        None => Ok(default),
    }
}

/// Parses a JSON body (empty = `{}`).
pub(crate) use crate::uploads::body_json;

/// The `X-Audit-Log-Reason` header, URL-decoded, at most 512 characters.
pub(crate) fn reason(h: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = h.get("x-audit-log-reason") else {
        return Ok(None);
    };
    let raw = raw.to_str().map_err(|_| {
        ApiError::form(
            "reason",
            "BASE_TYPE_BAD_STRING",
            "Could not interpret the reason header.",
        )
    })?;
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| {
            ApiError::form(
                "reason",
                "BASE_TYPE_BAD_STRING",
                "Could not interpret the reason header.",
            )
        })?
        .into_owned();
    if decoded.chars().count() > 512 {
        return Err(ApiError::form(
            "reason",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 512 or fewer in length.",
        ));
    }
    Ok(Some(decoded))
}

/// `200` with a JSON body.
pub(crate) fn ok(v: Value) -> R {
    Ok(Json(v).into_response())
}

/// `204 No Content`.
pub(crate) fn no_content() -> R {
    Ok(StatusCode::NO_CONTENT.into_response())
}
