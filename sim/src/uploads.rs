//! Message bodies as Discord reads them: JSON, or `multipart/form-data` with a `payload_json`
//! part (the JSON body) and the files as `files[n]` parts, and the attachments those files
//! become.
//!
//! Discord's rules, as the simulator applies them:
//! - at most [`MAX_FILES`] files per message, each at most [`MAX_FILE_BYTES`] (413 with code
//!   40005 "Request entity too large" beyond that);
//! - an entry of the body's `attachments` names a new file by its index `n` (as in
//!   `files[n]`, with its `filename` and `description`), or, in an edit, an attachment the
//!   message already has by its snowflake; an index with no `files[n]` is 50035;
//! - every uploaded file is attached, whether or not `attachments` names it; in an edit a
//!   given `attachments` keeps only the attachments it names, and the new files are added;
//! - posting files in a guild channel needs ATTACH_FILES (50013); interaction responses and
//!   followups do not.
//!
//! The bytes are kept ([`Store`]) so tests can read what the bot uploaded back through
//! `GET /_sim/attachments/{id}`.

use std::collections::{HashMap, VecDeque};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::error::{ApiError, e};
use crate::util::next_snowflake;

/// At most this many files per message.
pub const MAX_FILES: usize = 10;
/// At most this many bytes per file (Discord's limit for a bot outside boosted servers).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The most a message request may carry: every file at its limit, and the JSON.
pub const MAX_REQUEST_BYTES: usize = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024;
/// Uploaded bytes kept for `GET /_sim/attachments/{id}`; the oldest go first beyond this.
const KEPT_BYTES: usize = 64 * 1024 * 1024;

/// One `files[n]` part.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    /// `n` of `files[n]`.
    pub index: u64,
    /// The part's file name.
    pub filename: String,
    /// The part's content type, if it gave one.
    pub content_type: Option<String>,
    /// The file.
    pub bytes: Bytes,
}

/// A message request's body: its JSON and its files.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// The JSON body (`payload_json` of a multipart body).
    pub json: Value,
    /// The files, in the order sent.
    pub files: Vec<Upload>,
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        40005,
        "Request entity too large",
    )
}

fn bad_form(path: &str, message: &str) -> ApiError {
    ApiError::form(path, "BASE_TYPE_BAD_FORM", message)
}

/// Parses a JSON body (empty = `{}`).
pub(crate) fn body_json(b: &Bytes) -> Result<Value, ApiError> {
    if b.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(b).map_err(|_| e::invalid_json())
}

/// Reads a JSON or multipart body.
pub(crate) async fn read(headers: &HeaderMap, body: Bytes) -> Result<Body, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Ok(Body {
            json: body_json(&body)?,
            files: Vec::new(),
        });
    }
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad_form("_", "multipart/form-data needs a boundary"))?;
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut json = None;
    let mut files: Vec<Upload> = Vec::new();
    loop {
        let part = match parts.next_field().await {
            Ok(Some(part)) => part,
            Ok(None) => break,
            Err(_) => return Err(bad_form("_", "malformed multipart/form-data body")),
        };
        let name = part.name().unwrap_or("").to_owned();
        if name == "payload_json" {
            let raw = part
                .bytes()
                .await
                .map_err(|_| bad_form("payload_json", "malformed part"))?;
            json = Some(serde_json::from_slice::<Value>(&raw).map_err(|_| e::invalid_json())?);
        } else if let Some(index) = name
            .strip_prefix("files[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            let index: u64 = index
                .parse()
                .map_err(|_| bad_form(&name, "files[n] needs a number n"))?;
            let filename = part.file_name().unwrap_or("").to_owned();
            let content_type = part.content_type().map(ToString::to_string);
            let bytes = part
                .bytes()
                .await
                .map_err(|_| bad_form(&name, "malformed part"))?;
            if bytes.len() > MAX_FILE_BYTES {
                return Err(too_large());
            }
            if files.iter().any(|f| f.index == index) {
                return Err(bad_form(&name, "the same files[n] twice"));
            }
            files.push(Upload {
                index,
                filename,
                content_type,
                bytes,
            });
            if files.len() > MAX_FILES {
                return Err(ApiError::form(
                    "files",
                    "BASE_TYPE_MAX_LENGTH",
                    &format!("Must be {MAX_FILES} or fewer in length."),
                ));
            }
        }
        // Other parts: Discord reads message fields from `payload_json` only once it is
        // given; the simulator ignores the rest.
    }
    Ok(Body {
        json: json.unwrap_or_else(|| json!({})),
        files,
    })
}

/// Characters percent-encoded in an attachment's URL (all but RFC 3986's unreserved ones).
const URL_NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An attachment object: `id`, `filename`, `size`, `url` and `proxy_url` (the name
/// percent-encoded), and `content_type` when known.
pub(crate) fn attachment_object(
    channel: u64,
    id: u64,
    filename: &str,
    size: u64,
    content_type: Option<&str>,
) -> Value {
    let name = percent_encoding::utf8_percent_encode(filename, URL_NAME);
    let mut a = json!({
        "id": id.to_string(),
        "filename": filename,
        "size": size,
        "url": format!("https://cdn.discordapp.com/attachments/{channel}/{id}/{name}"),
        "proxy_url": format!("https://media.discordapp.net/attachments/{channel}/{id}/{name}"),
    });
    if let Some(t) = content_type {
        a["content_type"] = json!(t);
    }
    a
}

/// The content type Discord would give a file: the part's own, else by extension.
fn content_type_of(u: &Upload, filename: &str) -> Option<String> {
    if let Some(t) = u.content_type.as_deref().filter(|t| !t.is_empty()) {
        return Some(t.to_owned());
    }
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    let t = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "txt" | "log" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        _ => return None,
    };
    Some(t.to_owned())
}

/// The width and height of a PNG, read from its header (`None` when it is not one).
#[must_use]
pub fn png_size(b: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if b.len() < 24 || &b[..8] != SIGNATURE || &b[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(b[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(b[20..24].try_into().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// An entry's `id` as a number (Discord takes it as a string or an integer).
fn entry_id(a: &Value) -> Option<u64> {
    crate::util::snowflake_value(a.get("id")?)
}

/// Uploaded bytes, kept for the control API.
#[derive(Debug, Default)]
pub(crate) struct Store {
    files: HashMap<u64, (Option<String>, Bytes)>,
    order: VecDeque<u64>,
    bytes: usize,
}

impl Store {
    fn keep(&mut self, id: u64, content_type: Option<String>, bytes: Bytes) {
        self.bytes += bytes.len();
        self.files.insert(id, (content_type, bytes));
        self.order.push_back(id);
        while self.bytes > KEPT_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, b)) = self.files.remove(&old) {
                self.bytes -= b.len();
            }
        }
    }

    /// The content type and bytes of attachment `id`, while kept.
    pub(crate) fn get(&self, id: u64) -> Option<(Option<String>, Bytes)> {
        self.files.get(&id).cloned()
    }
}

impl Body {
    /// Whether the request uploads files.
    pub(crate) fn has_files(&self) -> bool {
        !self.files.is_empty()
    }

    /// Applies an edit's files to message `m` of `channel`: its attachments change only when
    /// the body names `attachments` or uploads files.
    /// `fields` is the object that holds `attachments`: the body, or a callback's `data`.
    pub(crate) fn edit(
        &self,
        fields: &Value,
        store: &mut Store,
        channel: u64,
        m: &mut Value,
    ) -> Result<(), ApiError> {
        if fields.get("attachments").is_none() && self.files.is_empty() {
            return Ok(());
        }
        let existing = m["attachments"].as_array().cloned().unwrap_or_default();
        m["attachments"] = json!(self.attachments(fields, store, channel, &existing)?);
        Ok(())
    }

    /// The attachments of a message in `channel` after this request: the ones of `existing`
    /// `fields` keeps (all of them when it has no `attachments`; none for a new message),
    /// then one per uploaded file, with the entry that names it. Checks every entry first;
    /// only then keeps the bytes in `store`.
    pub(crate) fn attachments(
        &self,
        fields: &Value,
        store: &mut Store,
        channel: u64,
        existing: &[Value],
    ) -> Result<Vec<Value>, ApiError> {
        let entries = fields.get("attachments").and_then(Value::as_array);
        let mut kept = Vec::new();
        let mut named: HashMap<u64, &Value> = HashMap::new();
        match entries {
            None => kept.extend(existing.iter().cloned()),
            Some(list) => {
                for (i, a) in list.iter().enumerate() {
                    let id = entry_id(a).ok_or_else(|| {
                        ApiError::form(
                            &format!("attachments.{i}.id"),
                            "BASE_TYPE_REQUIRED",
                            "This field is required",
                        )
                    })?;
                    if let Some(old) = existing.iter().find(|x| entry_id(x) == Some(id)) {
                        kept.push(old.clone());
                    } else if self.files.iter().any(|f| f.index == id) {
                        named.insert(id, a);
                    } else {
                        return Err(ApiError::form(
                            &format!("attachments.{i}.id"),
                            "ATTACHMENT_NOT_FOUND",
                            &format!(
                                "Unknown attachment {id}: no files[{id}] and no such attachment"
                            ),
                        ));
                    }
                }
            }
        }
        if kept.len() + self.files.len() > MAX_FILES {
            return Err(ApiError::form(
                "attachments",
                "BASE_TYPE_MAX_LENGTH",
                &format!("Must be {MAX_FILES} or fewer in length."),
            ));
        }
        let mut out = kept;
        let mut to_keep = Vec::with_capacity(self.files.len());
        for u in &self.files {
            let entry = named.get(&u.index);
            let filename = entry
                .and_then(|a| a.get("filename"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(&u.filename)
                .to_owned();
            if filename.is_empty() {
                return Err(bad_form(
                    &format!("files[{}]", u.index),
                    "a file needs a filename",
                ));
            }
            let id = next_snowflake();
            let content_type = content_type_of(u, &filename);
            let mut a = attachment_object(
                channel,
                id,
                &filename,
                u.bytes.len() as u64,
                content_type.as_deref(),
            );
            if let Some(d) = entry
                .and_then(|a| a.get("description"))
                .and_then(Value::as_str)
            {
                a["description"] = json!(d);
            }
            if let Some((w, h)) = png_size(&u.bytes) {
                a["width"] = json!(w);
                a["height"] = json!(h);
            }
            out.push(a);
            to_keep.push((id, content_type, u.bytes.clone()));
        }
        // Every check passed: keep the bytes.
        for (id, content_type, bytes) in to_keep {
            store.keep(id, content_type, bytes);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_sizes_come_from_the_header() {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&640u32.to_be_bytes());
        b.extend_from_slice(&320u32.to_be_bytes());
        assert_eq!(png_size(&b), Some((640, 320)));
        assert_eq!(png_size(b"GIF89a not a png at all, no"), None);
    }

    #[test]
    fn the_oldest_bytes_go_first() {
        let mut s = Store::default();
        let big = Bytes::from(vec![0u8; KEPT_BYTES / 2 + 1]);
        s.keep(1, None, big.clone());
        s.keep(2, None, big);
        assert!(s.get(1).is_none());
        assert!(s.get(2).is_some());
    }
}
