//! BSON documents to and from the store's types, and the documents' ids.

use mongodb::bson::{self, Bson, Document};

use crate::store::{Case, GuildConfig, ScheduleKind, StoreError, Timestamp};

/// An id as BSON stores it (`i64`); ids above `i64::MAX` are refused as invalid.
pub(super) fn id64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::invalid(format!("id {v} is out of range")))
}

/// Encodes a record as a BSON value.
pub(super) fn to_bson<T: serde::Serialize>(v: &T) -> Result<Bson, StoreError> {
    bson::to_bson(v)
        .map_err(|e| StoreError::invalid(format!("cannot encode record: {e}")).with_source(e))
}

/// Decodes a stored document; one that does not fit is corrupt.
pub(super) fn from_doc<T: serde::de::DeserializeOwned>(
    d: Document,
    what: &str,
) -> Result<T, StoreError> {
    bson::from_document(d).map_err(|e| {
        StoreError::corrupt(format!("stored {what} is unreadable: {e}")).with_source(e)
    })
}

/// The non-negative integer at `key`, however the server stored it.
pub(super) fn get_u64(d: &Document, key: &str) -> Option<u64> {
    match d.get(key) {
        Some(Bson::Int64(n)) => u64::try_from(*n).ok(),
        Some(Bson::Int32(n)) => u64::try_from(*n).ok(),
        Some(Bson::Double(f)) if *f >= 0.0 && f.fract() == 0.0 => Some(*f as u64),
        _ => None,
    }
}

/// `_id` of a case (and of its outcome): `<guild>:<number>`.
pub(super) fn case_id(guild_id: u64, number: u64) -> String {
    format!("{guild_id}:{number}")
}

/// A case as stored in `cases`: evidence as a JSON string, without its reason history
/// (kept in `case_edits`).
pub(super) fn encode_case(case: &Case) -> Result<Document, StoreError> {
    let mut d = bson::to_document(case)
        .map_err(|e| StoreError::invalid(format!("cannot encode case: {e}")).with_source(e))?;
    let evidence = match &case.evidence {
        Some(v) => Bson::String(v.to_string()),
        None => Bson::Null,
    };
    d.insert("evidence", evidence);
    d.insert("_id", case_id(case.guild_id, case.number));
    d.remove("reason_history");
    Ok(d)
}

/// A `cases` document back into a case (outcome and reason history still to be added).
pub(super) fn decode_case(mut d: Document) -> Result<Case, StoreError> {
    let evidence = match d.remove("evidence") {
        Some(Bson::String(s)) => Some(serde_json::from_str(&s).map_err(|e| {
            StoreError::corrupt(format!("stored case evidence is not JSON: {e}")).with_source(e)
        })?),
        _ => None,
    };
    let mut case: Case = from_doc(d, "case")?;
    case.evidence = evidence;
    Ok(case)
}

/// Guild settings as one document: `automod` as a JSON string, `_id` = guild id.
pub(super) fn encode_config(config: &GuildConfig) -> Result<Document, StoreError> {
    let mut d = bson::to_document(config).map_err(|e| {
        StoreError::invalid(format!("cannot encode guild config: {e}")).with_source(e)
    })?;
    d.insert("automod", config.automod.to_string());
    d.insert("_id", id64(config.guild_id)?);
    Ok(d)
}

/// A settings document back into guild settings.
pub(super) fn decode_config(mut d: Document) -> Result<GuildConfig, StoreError> {
    let automod = match d.remove("automod") {
        Some(Bson::String(s)) => serde_json::from_str(&s).map_err(|e| {
            StoreError::corrupt(format!("stored automod config is not JSON: {e}")).with_source(e)
        })?,
        _ => serde_json::Value::Null,
    };
    let mut config: GuildConfig = from_doc(d, "guild config")?;
    config.automod = automod;
    Ok(config)
}

/// A reason edit as stored in `case_edits`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct EditDoc {
    pub(super) guild_id: u64,
    pub(super) number: u64,
    pub(super) k: u64,
    pub(super) reason: Option<String>,
    pub(super) previous: Option<String>,
    pub(super) editor_id: u64,
    pub(super) edited_at: Timestamp,
}

/// The immutable part of a schedule document.
#[derive(Debug, serde::Deserialize)]
pub(super) struct ScheduleDoc {
    pub(super) guild_id: u64,
    pub(super) user_id: u64,
    pub(super) kind: ScheduleKind,
    pub(super) generation: u64,
    pub(super) due_at: Timestamp,
    #[serde(default)]
    pub(super) case_number: Option<u64>,
}

/// `_id` of a schedule generation: `<slot>#<generation>`.
pub(super) fn schedule_doc_id(slot: &str, generation: u64) -> String {
    format!("{slot}#{generation}")
}

/// `_id` of a schedule generation's end record: `<slot>#<generation>#end`.
pub(super) fn end_id(slot: &str, generation: u64) -> String {
    format!("{slot}#{generation}#end")
}

/// `_id` of the n-th claim of a schedule generation: `<slot>#<generation>#claim<n>`.
pub(super) fn claim_id(slot: &str, generation: u64, n: u64) -> String {
    format!("{slot}#{generation}#claim{n}")
}
