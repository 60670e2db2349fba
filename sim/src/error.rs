//! Discord's JSON error bodies.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::Duration;

/// An API error in Discord's shape: `{"message", "code", "errors"?}` (a 429 adds
/// `retry_after` and `global`).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Discord JSON error code.
    pub code: u32,
    /// Human message.
    pub message: String,
    /// The `errors` tree of 50035.
    pub errors: Option<Value>,
    /// For a 429 the handler decides (a sub-limit, slowmode): when to retry. The body then
    /// carries `retry_after` (seconds) and `global: false`, and a `Retry-After` header is
    /// sent, as Discord does.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// A plain error.
    #[must_use]
    pub fn new(status: StatusCode, code: u32, message: &str) -> Self {
        Self {
            status,
            code,
            message: message.to_owned(),
            errors: None,
            retry_after: None,
        }
    }

    /// A 429 answered by the route itself (not by a bucket): `code` and `message` in
    /// Discord's rate-limit body, retry after `retry_after`.
    #[must_use]
    pub fn rate_limited(code: u32, message: &str, retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }

    /// 50035 Invalid Form Body with one field error at `path` (dot-separated).
    #[must_use]
    pub fn form(path: &str, code: &str, message: &str) -> Self {
        let mut tree = json!({"_errors": [{"code": code, "message": message}]});
        for key in path.rsplit('.') {
            tree = json!({ key: tree });
        }
        Self {
            status: StatusCode::BAD_REQUEST,
            code: 50035,
            message: "Invalid Form Body".into(),
            errors: Some(tree),
            retry_after: None,
        }
    }

    /// 50035 with a prepared `errors` tree.
    #[must_use]
    pub fn form_tree(errors: Value) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: 50035,
            message: "Invalid Form Body".into(),
            errors: Some(errors),
            retry_after: None,
        }
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut v = json!({"message": self.message, "code": self.code});
        if let Some(e) = &self.errors {
            v["errors"] = e.clone();
        }
        if let Some(ra) = self.retry_after {
            v["retry_after"] = json!((ra.as_secs_f64() * 1000.0).ceil() / 1000.0);
            v["global"] = json!(false);
        }
        v
    }
}

/// Field errors gathered over a whole body, answered together as one 50035 (Discord reports
/// every invalid field at once, each under its path in the `errors` tree).
#[derive(Debug, Default)]
pub struct FormErrors {
    tree: serde_json::Map<String, Value>,
}

impl FormErrors {
    /// Records an error at `path` (dot-separated; array indices are keys, as Discord's are).
    /// A field's own errors stand for its whole subtree, as the spec's `ErrorDetails` has
    /// it (a node holds either `_errors` or fields): an error under a field that already
    /// has one is dropped, and a field's own error replaces those recorded under it.
    pub fn add(&mut self, path: &str, code: &str, message: &str) {
        let mut node = &mut self.tree;
        for key in path.split('.').filter(|k| !k.is_empty()) {
            if node.contains_key("_errors") {
                return;
            }
            node = node
                .entry(key.to_owned())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("error tree nodes are objects");
        }
        node.retain(|k, _| k == "_errors");
        let errs = node.entry("_errors").or_insert_with(|| json!([]));
        if let Some(a) = errs.as_array_mut() {
            a.push(json!({"code": code, "message": message}));
        }
    }

    /// Whether an error was recorded at or under `path`.
    #[must_use]
    pub fn has(&self, path: &str) -> bool {
        let mut node = &self.tree;
        for key in path.split('.').filter(|k| !k.is_empty()) {
            match node.get(key).and_then(Value::as_object) {
                Some(n) => node = n,
                None => return false,
            }
        }
        !node.is_empty()
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// `Ok` when nothing was recorded, else the 50035 with every error.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::form_tree(Value::Object(self.tree)))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        if let Some(ra) = self.retry_after {
            let secs = (ra.as_secs_f64().ceil() as u64).max(1);
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        r
    }
}

/// Common errors.
#[allow(missing_docs)]
pub mod e {
    use super::ApiError;
    use axum::http::StatusCode;
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized")
    }
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 0, "404: Not Found")
    }
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed")
    }
    pub fn unknown_channel() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
    }
    pub fn unknown_guild() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10004, "Unknown Guild")
    }
    pub fn unknown_member() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10007, "Unknown Member")
    }
    pub fn unknown_overwrite() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10009, "Unknown Overwrite")
    }
    pub fn unknown_message() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10008, "Unknown Message")
    }
    pub fn unknown_role() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10011, "Unknown Role")
    }
    pub fn unknown_user() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10013, "Unknown User")
    }
    pub fn unknown_webhook() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10015, "Unknown Webhook")
    }
    pub fn unknown_ban() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10026, "Unknown Ban")
    }
    pub fn unknown_interaction() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 10062, "Unknown interaction")
    }
    pub fn already_acknowledged() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            40060,
            "Interaction has already been acknowledged.",
        )
    }
    pub fn missing_access() -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, 50001, "Missing Access")
    }
    pub fn dm_channel() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            50003,
            "Cannot execute action on a DM channel",
        )
    }
    pub fn not_own_message() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            50005,
            "Cannot edit a message authored by another user",
        )
    }
    pub fn empty_message() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        )
    }
    pub fn cannot_dm() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            50007,
            "Cannot send messages to this user",
        )
    }
    /// The bot opened more new DM channels than Discord's anti-spam limit allows.
    pub fn opening_dms_too_fast() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            40003,
            "You are opening direct messages too fast.",
        )
    }
    pub fn non_text_channel() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            50008,
            "Cannot send messages in a non-text channel",
        )
    }
    pub fn missing_permissions() -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
    }
    /// A member posted again in a slowmode channel before `retry_after` passed.
    pub fn slowmode(retry_after: std::time::Duration) -> ApiError {
        ApiError::rate_limited(
            20016,
            "This action cannot be performed due to slowmode rate limit",
            retry_after,
        )
    }
    /// A Discord sub-limit the route's bucket headers do not show (channel renames).
    pub fn rate_limited(retry_after: std::time::Duration) -> ApiError {
        ApiError::rate_limited(0, "You are being rate limited.", retry_after)
    }
    pub fn invalid_webhook_token() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token")
    }
    pub fn too_old_to_bulk_delete() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            50034,
            "You can only bulk delete messages that are under 14 days old.",
        )
    }
    /// A bulk ban that named users and banned none of them (Discord documents the JSON
    /// code, not the HTTP status; 403 here).
    pub fn failed_to_ban_users() -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, 500_000, "Failed to ban users")
    }
    pub fn invalid_json() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
        )
    }
}
