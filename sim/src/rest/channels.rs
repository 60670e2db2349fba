//! Channels: reading one, editing it (name, topic, slowmode, the whole list of permission
//! overwrites) and setting or removing one permission overwrite.

use crate::error::{ApiError, FormErrors, e};
use crate::http::{P, R, S, body_json, no_content, ok, reason, snow};
use crate::intents;
use crate::state::{Shared, State};
use crate::world::{Channel, Guild, Overwrite, channel_type, perms};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use axum::routing::{get, put};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use super::channel_and_perms;

/// The routes of this module.
pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/channels/{channel}",
            get(get_channel).patch(modify_channel),
        )
        .route(
            "/channels/{channel}/permissions/{overwrite}",
            put(edit_overwrite).delete(delete_overwrite),
        )
}

/// Longest slowmode (6 h).
const MAX_RATE_LIMIT_PER_USER: u64 = 21_600;
/// Longest text-channel topic (Discord's documented limit; the spec says 4096, which is
/// the forum and media channels' limit).
const MAX_TOPIC: usize = 1024;
/// Most overwrites in one `permission_overwrites` list.
const MAX_OVERWRITES: usize = 100;

/// Audit-log action types of channel changes.
mod action {
    pub const CHANNEL_UPDATE: u32 = 11;
    pub const OVERWRITE_CREATE: u32 = 13;
    pub const OVERWRITE_UPDATE: u32 = 14;
    pub const OVERWRITE_DELETE: u32 = 15;
}

async fn get_channel(AxState(sh): S, Path(p): P) -> R {
    let cid = snow(&p, "channel")?;
    let st = sh.lock();
    let (c, _) = channel_and_perms(&sh, &st, cid)?;
    ok(c.to_json())
}

/// A guild channel the bot sees, its guild and the bot's permissions in it (DMs: 50003).
fn guild_channel<'a>(
    sh: &Shared,
    st: &'a State,
    cid: u64,
) -> Result<(Channel, Cow<'a, Guild>, u64), ApiError> {
    let (c, p) = channel_and_perms(sh, st, cid)?;
    let Some(gid) = c.guild_id else {
        return Err(e::dm_channel());
    };
    let g = st.guild(&sh.world, gid).ok_or_else(e::unknown_channel)?;
    Ok((c, g, p))
}

/// A permission bit set: a string of digits, as Discord documents it, or an integer, as the
/// spec types it; absent or null is "0". Bits Discord does not define are dropped.
fn bits(f: &mut FormErrors, v: Option<&Value>, path: &str) -> u64 {
    let parsed = match v {
        None | Some(Value::Null) => Some(0),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        Some(_) => None,
    };
    parsed.map_or_else(
        || {
            let shown = v.map_or_else(String::new, |v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            f.add(
                path,
                "NUMBER_TYPE_COERCE",
                &format!("Value \"{shown}\" is not int."),
            );
            0
        },
        |b| b & perms::ALL,
    )
}

/// An overwrite `type`: 0 (role) or 1 (member), required.
fn overwrite_type(f: &mut FormErrors, v: Option<&Value>, path: &str) -> Option<u8> {
    match v {
        None | Some(Value::Null) => {
            f.add(path, "BASE_TYPE_REQUIRED", "This field is required");
            None
        }
        Some(v) => match v.as_u64() {
            Some(k @ (0 | 1)) => Some(k as u8),
            _ => {
                f.add(path, "BASE_TYPE_CHOICES", "Value must be one of {0, 1}.");
                None
            }
        },
    }
}

/// A snowflake given as a string or an integer; required.
fn snowflake(f: &mut FormErrors, v: Option<&Value>, path: &str) -> Option<u64> {
    match v {
        None | Some(Value::Null) => {
            f.add(path, "BASE_TYPE_REQUIRED", "This field is required");
            None
        }
        Some(v) => {
            let id = v
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64());
            if id.is_none() {
                f.add(
                    path,
                    "NUMBER_TYPE_COERCE",
                    &format!("Value \"{}\" is not snowflake.", v.as_str().unwrap_or("?")),
                );
            }
            id
        }
    }
}

/// Whether `id` names a role (`kind` 0) or a member (1) of `g`: an overwrite of anything
/// else, or of the wrong type, is Discord's 10009 Unknown Overwrite.
fn target_exists(g: &Guild, id: u64, kind: u8) -> bool {
    match kind {
        0 => g.role(id).is_some(),
        _ => g.members.contains_key(&id),
    }
}

/// Whether the bot may allow or deny `bits` in channel `c`, as Discord documents it: an
/// administrator may set anything, and so may a bot with a MANAGE_ROLES overwrite in the
/// channel (one that applies to it: @everyone's, one of its roles', its own); otherwise
/// only permissions the bot has in the guild, or in the parent category when the channel
/// has one, and never MANAGE_ROLES itself.
fn may_set(g: &Guild, bot: u64, c: &Channel, bits: u64) -> bool {
    if bits == 0 || g.base_permissions(bot) & perms::ADMINISTRATOR != 0 {
        return true;
    }
    let roles = g
        .members
        .get(&bot)
        .map(|m| m.roles.as_slice())
        .unwrap_or(&[]);
    let manage_roles_overwrite = c.overwrites.iter().any(|o| {
        o.allow & perms::MANAGE_ROLES != 0
            && match o.kind {
                0 => o.id == g.id || roles.contains(&o.id),
                _ => o.id == bot,
            }
    });
    if manage_roles_overwrite {
        return true;
    }
    if bits & perms::MANAGE_ROLES != 0 {
        return false;
    }
    let has = match c.parent_id {
        Some(parent) if g.channel(parent).is_some() => g.channel_permissions(bot, parent),
        _ => g.base_permissions(bot),
    };
    bits & !has == 0
}

/// One audit-log entry to write once the change is stored.
struct Entry {
    action: u32,
    changes: Vec<Value>,
    options: Option<Value>,
}

/// Discord's audit-log `options` of an overwrite entry: the overwritten id, its type as a
/// string ("0" role, "1" member) and, for a role, its name.
fn overwrite_options(g: &Guild, o: &Overwrite) -> Value {
    let mut v = json!({"id": o.id.to_string(), "type": o.kind.to_string()});
    if o.kind == 0
        && let Some(r) = g.role(o.id)
    {
        v["role_name"] = json!(r.name);
    }
    v
}

/// The audit entry of an overwrite going from `old` to `new` (created, changed or removed);
/// `None` when nothing changed.
fn overwrite_entry(g: &Guild, old: Option<&Overwrite>, new: Option<&Overwrite>) -> Option<Entry> {
    let fields = |o: &Overwrite| {
        [
            ("id", json!(o.id.to_string())),
            ("type", json!(o.kind)),
            ("allow", json!(o.allow.to_string())),
            ("deny", json!(o.deny.to_string())),
        ]
    };
    match (old, new) {
        (None, Some(n)) => Some(Entry {
            action: action::OVERWRITE_CREATE,
            changes: fields(n)
                .into_iter()
                .map(|(k, v)| json!({"key": k, "new_value": v}))
                .collect(),
            options: Some(overwrite_options(g, n)),
        }),
        (Some(o), None) => Some(Entry {
            action: action::OVERWRITE_DELETE,
            changes: fields(o)
                .into_iter()
                .map(|(k, v)| json!({"key": k, "old_value": v}))
                .collect(),
            options: Some(overwrite_options(g, o)),
        }),
        (Some(o), Some(n)) if o != n => {
            let mut changes = Vec::new();
            for (key, a, b) in [("allow", o.allow, n.allow), ("deny", o.deny, n.deny)] {
                if a != b {
                    changes.push(
                        json!({"key": key, "old_value": a.to_string(), "new_value": b.to_string()}),
                    );
                }
            }
            if o.kind != n.kind {
                changes.push(json!({"key": "type", "old_value": o.kind, "new_value": n.kind}));
            }
            Some(Entry {
                action: action::OVERWRITE_UPDATE,
                changes,
                options: Some(overwrite_options(g, n)),
            })
        }
        _ => None,
    }
}

/// Stores the changed channel `ch` in its guild, dispatches CHANNEL_UPDATE (GUILDS) with the
/// full channel, then writes the audit entries (by `actor`, target the channel). Returns the
/// channel object.
fn commit(
    sh: &Shared,
    st: &mut State,
    actor: u64,
    ch: Channel,
    entries: Vec<Entry>,
    why: Option<&str>,
) -> Value {
    let gid = ch.guild_id.expect("a guild channel");
    let cid = ch.id;
    let v = ch.to_json();
    let g = st.guild_mut(&sh.world, gid).expect("the channel's guild");
    if let Some(slot) = g.channels.iter_mut().find(|c| c.id == cid) {
        *slot = ch;
    }
    st.dispatch(Some(gid), "CHANNEL_UPDATE", &v, intents::GUILDS, false);
    for en in entries {
        st.audit(
            &sh.world,
            gid,
            actor,
            Some(cid),
            en.action,
            en.changes,
            why,
            en.options,
        );
    }
    v
}

/// `PUT /channels/{channel}/permissions/{overwrite}` `{"type", "allow"?, "deny"?}`: creates
/// or replaces the overwrite of a role or member. 204; CHANNEL_UPDATE and audit entry 13 or
/// 14 when something changed.
async fn edit_overwrite(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let cid = snow(&p, "channel")?;
    let oid = snow(&p, "overwrite")?;
    let why = reason(&h)?;
    let b = body_json(&body)?;
    let mut st = sh.lock();
    set_overwrite(&sh, &mut st, sh.world.bot.id, cid, oid, &b, why.as_deref())?;
    no_content()
}

/// `actor` (the bot, or a person through the control API) creates or replaces the overwrite
/// `oid` of channel `cid` from the body `{"type", "allow"?, "deny"?}`, as Discord decides it:
/// the actor needs MANAGE_ROLES in the channel and may set only what [`may_set`] allows.
pub(crate) fn set_overwrite(
    sh: &Shared,
    st: &mut State,
    actor: u64,
    cid: u64,
    oid: u64,
    b: &Value,
    why: Option<&str>,
) -> Result<(), ApiError> {
    let mut f = FormErrors::default();
    let kind = overwrite_type(&mut f, b.get("type"), "type");
    let allow = bits(&mut f, b.get("allow"), "allow");
    let deny = bits(&mut f, b.get("deny"), "deny");
    f.finish()?;
    let kind = kind.expect("validated");
    let (c, g, perm) = actor_channel(sh, st, actor, cid)?;
    if perm & perms::MANAGE_ROLES == 0 {
        return Err(e::missing_permissions());
    }
    if !target_exists(&g, oid, kind) {
        return Err(e::unknown_overwrite());
    }
    if !may_set(&g, actor, &c, allow | deny) {
        return Err(e::missing_permissions());
    }
    let new = Overwrite {
        id: oid,
        kind,
        allow,
        deny,
    };
    let old = c.overwrites.iter().find(|o| o.id == oid).cloned();
    // The same overwrite again changes nothing: no event, no audit entry.
    let Some(entry) = overwrite_entry(&g, old.as_ref(), Some(&new)) else {
        return Ok(());
    };
    drop(g);
    let mut ch = c;
    match ch.overwrites.iter_mut().find(|o| o.id == oid) {
        Some(slot) => *slot = new,
        None => ch.overwrites.push(new),
    }
    commit(sh, st, actor, ch, vec![entry], why);
    Ok(())
}

/// `DELETE /channels/{channel}/permissions/{overwrite}`: removes the overwrite of a role or
/// member. 204 also when the channel has no such overwrite (nothing happens then);
/// CHANNEL_UPDATE and audit entry 15 when one was removed.
async fn delete_overwrite(AxState(sh): S, Path(p): P, h: HeaderMap) -> R {
    let cid = snow(&p, "channel")?;
    let oid = snow(&p, "overwrite")?;
    let why = reason(&h)?;
    let mut st = sh.lock();
    remove_overwrite(&sh, &mut st, sh.world.bot.id, cid, oid, why.as_deref())?;
    no_content()
}

/// `actor` removes the overwrite `oid` of channel `cid` (needs MANAGE_ROLES in it); nothing
/// happens when there is none.
pub(crate) fn remove_overwrite(
    sh: &Shared,
    st: &mut State,
    actor: u64,
    cid: u64,
    oid: u64,
    why: Option<&str>,
) -> Result<(), ApiError> {
    let (c, g, perm) = actor_channel(sh, st, actor, cid)?;
    if perm & perms::MANAGE_ROLES == 0 {
        return Err(e::missing_permissions());
    }
    let Some(old) = c.overwrites.iter().find(|o| o.id == oid).cloned() else {
        return Ok(());
    };
    let entry = overwrite_entry(&g, Some(&old), None).expect("a removal");
    drop(g);
    let mut ch = c;
    ch.overwrites.retain(|o| o.id != oid);
    commit(sh, st, actor, ch, vec![entry], why);
    Ok(())
}

/// Like [`guild_channel`], with `actor`'s permissions in the channel instead of the bot's.
fn actor_channel<'a>(
    sh: &Shared,
    st: &'a State,
    actor: u64,
    cid: u64,
) -> Result<(Channel, Cow<'a, Guild>, u64), ApiError> {
    let (c, g, bot_perms) = guild_channel(sh, st, cid)?;
    if actor == sh.world.bot.id {
        return Ok((c, g, bot_perms));
    }
    let perm = g.channel_permissions(actor, cid);
    Ok((c, g, perm))
}

/// The parsed body of `PATCH /channels/{channel}` (only the fields given).
#[derive(Default)]
struct ChannelEdit {
    name: Option<String>,
    topic: Option<Option<String>>,
    rate_limit_per_user: Option<u32>,
    overwrites: Option<Vec<Overwrite>>,
}

/// Validates a channel edit as a whole: every invalid field in one 50035.
fn parse_edit(b: &Value) -> Result<ChannelEdit, ApiError> {
    let mut f = FormErrors::default();
    let mut edit = ChannelEdit::default();
    match b.get("name") {
        None => {}
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if (1..=100).contains(&n) {
                edit.name = Some(s.clone());
            } else {
                f.add(
                    "name",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                );
            }
        }
        Some(Value::Null) => f.add("name", "BASE_TYPE_REQUIRED", "This field is required"),
        Some(_) => f.add("name", "BASE_TYPE_STRING", "Must be a string."),
    }
    match b.get("topic") {
        None => {}
        Some(Value::Null) => edit.topic = Some(None),
        Some(Value::String(s)) if s.chars().count() > MAX_TOPIC => f.add(
            "topic",
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {MAX_TOPIC} or fewer in length."),
        ),
        // Discord stores an empty topic as none.
        Some(Value::String(s)) => edit.topic = Some((!s.is_empty()).then(|| s.clone())),
        Some(_) => f.add("topic", "BASE_TYPE_STRING", "Must be a string."),
    }
    match b.get("rate_limit_per_user") {
        None => {}
        Some(Value::Null) => edit.rate_limit_per_user = Some(0),
        Some(v) => match (v.as_u64(), v.as_i64()) {
            (Some(n), _) if n <= MAX_RATE_LIMIT_PER_USER => {
                edit.rate_limit_per_user = Some(n as u32);
            }
            (Some(_), _) => f.add(
                "rate_limit_per_user",
                "NUMBER_TYPE_MAX",
                &format!("int value should be less than or equal to {MAX_RATE_LIMIT_PER_USER}."),
            ),
            (None, Some(_)) => f.add(
                "rate_limit_per_user",
                "NUMBER_TYPE_MIN",
                "int value should be greater than or equal to 0.",
            ),
            (None, None) => f.add(
                "rate_limit_per_user",
                "NUMBER_TYPE_COERCE",
                &format!(
                    "Value \"{}\" is not int.",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                ),
            ),
        },
    }
    match b.get("permission_overwrites") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.len() > MAX_OVERWRITES => f.add(
            "permission_overwrites",
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {MAX_OVERWRITES} or fewer in length."),
        ),
        Some(Value::Array(items)) => {
            let mut list: Vec<Overwrite> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let path = |k: &str| format!("permission_overwrites.{i}.{k}");
                if !item.is_object() {
                    f.add(
                        &format!("permission_overwrites.{i}"),
                        "MODEL_TYPE_CONVERT",
                        "Only dictionaries may be used in a ModelType",
                    );
                    continue;
                }
                let id = snowflake(&mut f, item.get("id"), &path("id"));
                let kind = overwrite_type(&mut f, item.get("type"), &path("type"));
                let allow = bits(&mut f, item.get("allow"), &path("allow"));
                let deny = bits(&mut f, item.get("deny"), &path("deny"));
                if let (Some(id), Some(kind)) = (id, kind) {
                    let o = Overwrite {
                        id,
                        kind,
                        allow,
                        deny,
                    };
                    // Overwrites are keyed by id: a later entry for the same id wins.
                    match list.iter_mut().find(|x| x.id == id) {
                        Some(slot) => *slot = o,
                        None => list.push(o),
                    }
                }
            }
            edit.overwrites = Some(list);
        }
        Some(_) => f.add(
            "permission_overwrites",
            "BASE_TYPE_ARRAY",
            "Must be an array.",
        ),
    }
    f.finish()?;
    Ok(edit)
}

/// `PATCH /channels/{channel}`: `name`, `topic`, `rate_limit_per_user` and
/// `permission_overwrites` (the whole list; it needs MANAGE_ROLES too) of a guild channel.
/// Needs MANAGE_CHANNELS. 200 with the channel; CHANNEL_UPDATE and audit entries 11 (the
/// field changes) and 13/14/15 (each overwrite created, changed or removed) when something
/// changed. Name and topic changes are limited per channel (Discord: 2 per 10 minutes).
async fn modify_channel(AxState(sh): S, Path(p): P, h: HeaderMap, body: Bytes) -> R {
    let cid = snow(&p, "channel")?;
    let why = reason(&h)?;
    let b = body_json(&body)?;
    let edit = parse_edit(&b)?;
    let bot = sh.world.bot.id;
    let mut st = sh.lock();
    let (c, g, perm) = guild_channel(&sh, &st, cid)?;
    if perm & perms::MANAGE_CHANNELS == 0 {
        return Err(e::missing_permissions());
    }
    let mut ch = c.clone();
    let mut field_changes = Vec::new();
    if let Some(name) = edit.name
        && name != c.name
    {
        field_changes.push(json!({"key": "name", "old_value": c.name, "new_value": name}));
        ch.name = name;
    }
    // Fields that do not apply to the channel's type are ignored, as Discord does.
    let texty = c.kind == channel_type::GUILD_TEXT;
    let slowable = matches!(c.kind, channel_type::GUILD_TEXT | channel_type::GUILD_VOICE);
    if let Some(topic) = edit.topic.filter(|_| texty)
        && topic != c.topic
    {
        field_changes.push(json!({"key": "topic", "old_value": c.topic, "new_value": topic}));
        ch.topic = topic;
    }
    if let Some(rate) = edit.rate_limit_per_user.filter(|_| slowable)
        && rate != c.rate_limit_per_user
    {
        field_changes.push(json!({"key": "rate_limit_per_user", "old_value": c.rate_limit_per_user, "new_value": rate}));
        ch.rate_limit_per_user = rate;
    }
    let mut entries = Vec::new();
    if !field_changes.is_empty() {
        entries.push(Entry {
            action: action::CHANNEL_UPDATE,
            changes: field_changes,
            options: None,
        });
    }
    if let Some(list) = edit.overwrites {
        if perm & perms::MANAGE_ROLES == 0 {
            return Err(e::missing_permissions());
        }
        for o in &list {
            if !target_exists(&g, o.id, o.kind) {
                return Err(e::unknown_overwrite());
            }
        }
        for o in &list {
            let old = c.overwrites.iter().find(|x| x.id == o.id);
            if old != Some(o) && !may_set(&g, bot, &c, o.allow | o.deny) {
                return Err(e::missing_permissions());
            }
            entries.extend(overwrite_entry(&g, old, Some(o)));
        }
        for old in &c.overwrites {
            if !list.iter().any(|o| o.id == old.id) {
                entries.extend(overwrite_entry(&g, Some(old), None));
            }
        }
        ch.overwrites = list;
    }
    drop(g);
    if ch == c {
        // Nothing changed: the channel as it is, no event, no audit entry.
        return ok(c.to_json());
    }
    if ch.name != c.name || ch.topic != c.topic {
        renamed(&sh, &mut st, cid)?;
    }
    ok(commit(
        &sh,
        &mut st,
        sh.world.bot.id,
        ch,
        entries,
        why.as_deref(),
    ))
}

/// Counts a change of channel `cid`'s name or topic against Discord's sub-limit (2 per
/// 10 minutes per channel; its bucket's headers do not show it): 429 with the wait when
/// the channel had its share, counted as an invalid request.
fn renamed(sh: &Shared, st: &mut State, cid: u64) -> Result<(), ApiError> {
    let now = Instant::now();
    let window = sh.cfg.channel_rename_window;
    let limit = sh.cfg.channel_rename_limit.max(1) as usize;
    let q = st.channel_renames.entry(cid).or_default();
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
    if q.len() >= limit {
        let retry_after = (q[0] + window).saturating_duration_since(now);
        *st.stats
            .rest_429s
            .entry("PATCH /channels/{channel}".into())
            .or_default() += 1;
        st.count_invalid();
        return Err(e::rate_limited(retry_after));
    }
    q.push_back(now);
    Ok(())
}
