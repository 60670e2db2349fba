//! Discord's native auto-moderation: the guild's rules as the REST routes store them
//! (`rest/automod.rs`), their validation and per-guild limits, and what happens when a user
//! posts through the control API: a message matching an enabled KEYWORD or MENTION_SPAM rule
//! runs the rule's actions (blocked, alert posted, author timed out), with one
//! AUTO_MODERATION_ACTION_EXECUTION per action.
//!
//! Matching follows Discord's documented keyword strategies: case-insensitive; `word` matches
//! the whole word (or phrase) only, `word*` a word starting with it, `*word` a word ending
//! with it, `*word*` any substring; `regex_patterns` are Rust regexes (matched
//! case-insensitively); a match that is on the rule's `allow_list` does not count.
//! Members with Administrator or Manage Server are exempt from every rule, as on Discord.

use crate::error::{ApiError, FormErrors};
use crate::state::{State, intents};
use crate::util::{iso, now_ms};
use crate::world::{Guild, World, perms};
use serde_json::{Value, json};

/// Trigger types.
pub(crate) const KEYWORD: u64 = 1;
pub(crate) const SPAM: u64 = 3;
pub(crate) const KEYWORD_PRESET: u64 = 4;
pub(crate) const MENTION_SPAM: u64 = 5;
pub(crate) const MEMBER_PROFILE: u64 = 6;

/// Action types.
pub(crate) const BLOCK_MESSAGE: u64 = 1;
pub(crate) const SEND_ALERT_MESSAGE: u64 = 2;
pub(crate) const TIMEOUT: u64 = 3;
pub(crate) const BLOCK_MEMBER_INTERACTION: u64 = 4;

/// Longest timeout an action may give (28 days).
const MAX_TIMEOUT_SECS: u64 = 2_419_200;

/// Discord's JSON code for a message blocked by AutoMod.
pub(crate) const BLOCKED_CODE: u32 = 200_000;

/// Most rules of a trigger type per guild.
fn max_per_guild(trigger: u64) -> usize {
    if trigger == KEYWORD { 6 } else { 1 }
}

fn sid(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// The rules of guild `gid`.
pub(crate) fn rules(st: &State, gid: u64) -> Vec<Value> {
    st.automod_rules.get(&gid).cloned().unwrap_or_default()
}

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
                match sid(x) {
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

fn trigger_metadata(f: &mut FormErrors, trigger: u64, md: &Value) -> Value {
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

fn actions(f: &mut FormErrors, g: &Guild, bot_perms: u64, trigger: u64, v: &Value) -> Vec<Value> {
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
            Some(SEND_ALERT_MESSAGE) => match md.get("channel_id").and_then(sid) {
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
            .map(|a| a.iter().filter_map(sid).collect())
            .unwrap_or_default(),
    };
    let channels = match field("exempt_channels") {
        Some(v) => ids(&mut f, Some(v), "exempt_channels", 50, |c| {
            g.channel(c).is_some()
        }),
        None => old["exempt_channels"]
            .as_array()
            .map(|a| a.iter().filter_map(sid).collect())
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

/// Whether `text` (lowercase) holds keyword `kw` by Discord's strategies; the matched word
/// (or phrase) when it does.
fn keyword_match(text: &str, kw: &str) -> Option<String> {
    let kw = kw.to_lowercase();
    let prefix_any = kw.starts_with('*');
    let suffix_any = kw.ends_with('*') && kw.len() > 1;
    let core = kw.trim_matches('*');
    if core.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    for (at, _) in text.match_indices(core) {
        let end = at + core.len();
        let before = text[..at].chars().next_back();
        let after = text[end..].chars().next();
        let starts_word = before.is_none_or(|c| !is_word(c));
        let ends_word = after.is_none_or(|c| !is_word(c));
        if (prefix_any || starts_word) && (suffix_any || ends_word) {
            // The whole word(s) the match lies in.
            let start = text[..at]
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_word(*c))
                .last()
                .map_or(at, |(i, _)| i);
            let stop = text[end..]
                .char_indices()
                .take_while(|(_, c)| is_word(*c))
                .last()
                .map_or(end, |(i, c)| end + i + c.len_utf8());
            return Some(text[start..stop].to_owned());
        }
    }
    None
}

/// What rule `r` finds in a message: `(matched_keyword, matched_content)`.
fn rule_hit(r: &Value, content: &str) -> Option<(Option<String>, Option<String>)> {
    let md = &r["trigger_metadata"];
    match r["trigger_type"].as_u64() {
        Some(KEYWORD) => {
            let text = content.to_lowercase();
            let list = |k: &str| -> Vec<String> {
                md[k]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let allow = list("allow_list");
            let allowed = |m: &str| allow.iter().any(|a| keyword_match(m, a).is_some());
            for kw in list("keyword_filter") {
                if let Some(m) = keyword_match(&text, &kw)
                    && !allowed(&m)
                {
                    return Some((Some(kw), Some(m)));
                }
            }
            for p in list("regex_patterns") {
                let Ok(re) = regex::RegexBuilder::new(&p).case_insensitive(true).build() else {
                    continue;
                };
                if let Some(m) = re.find(content)
                    && !allowed(&m.as_str().to_lowercase())
                {
                    return Some((Some(p), Some(m.as_str().to_owned())));
                }
            }
            None
        }
        Some(MENTION_SPAM) => {
            let limit = md["mention_total_limit"].as_u64().unwrap_or(0);
            let n = unique_mentions(content);
            (limit > 0 && n as u64 > limit).then_some((None, None))
        }
        _ => None,
    }
}

/// Unique user and role mentions (`<@id>`, `<@!id>`, `<@&id>`) in `content`.
fn unique_mentions(content: &str) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut rest = content;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let (role, body) = match rest.strip_prefix('&') {
            Some(b) => (true, b),
            None => (false, rest.strip_prefix('!').unwrap_or(rest)),
        };
        let digits: String = body.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && body[digits.len()..].starts_with('>') {
            seen.insert((role, digits));
        }
    }
    seen.len()
}

/// A user message that an AutoMod rule blocked.
#[derive(Debug, Clone)]
pub(crate) struct Blocked {
    pub rule_id: String,
    pub rule_name: String,
    pub matched_keyword: Option<String>,
}

/// Runs guild `gid`'s enabled message rules on a message `author` posts in channel `cid`:
/// every matching rule (unless the author or the channel is exempt) executes its actions,
/// with one AUTO_MODERATION_ACTION_EXECUTION per action. Returns the first rule that
/// blocked the message (nothing is then stored or dispatched by the caller); `message_id`
/// is the id the message has when it is not blocked.
pub(crate) fn on_message(
    world: &World,
    st: &mut State,
    gid: u64,
    cid: u64,
    author: u64,
    content: &str,
    message_id: u64,
) -> Option<Blocked> {
    let list = rules(st, gid);
    if list.is_empty() {
        return None;
    }
    let g = st.guild(world, gid)?.into_owned();
    if g.base_permissions(author) & (perms::ADMINISTRATOR | perms::MANAGE_GUILD) != 0 {
        return None;
    }
    let roles = g
        .members
        .get(&author)
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    let parent = g.channel(cid).and_then(|c| c.parent_id);
    let hits: Vec<(Value, Option<String>, Option<String>)> = list
        .into_iter()
        .filter(|r| r["enabled"].as_bool() == Some(true) && r["event_type"].as_u64() == Some(1))
        .filter(|r| {
            let has = |k: &str, id: u64| {
                r[k].as_array()
                    .is_some_and(|a| a.iter().any(|x| sid(x) == Some(id)))
            };
            !roles.iter().any(|x| has("exempt_roles", *x))
                && !has("exempt_channels", cid)
                && !parent.is_some_and(|p| has("exempt_channels", p))
        })
        .filter_map(|r| rule_hit(&r, content).map(|(k, m)| (r, k, m)))
        .collect();
    let blocked = hits.iter().find(|(r, _, _)| {
        r["actions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["type"].as_u64() == Some(BLOCK_MESSAGE)))
    });
    let result = blocked.map(|(r, k, _)| Blocked {
        rule_id: r["id"].as_str().unwrap_or_default().to_owned(),
        rule_name: r["name"].as_str().unwrap_or_default().to_owned(),
        matched_keyword: k.clone(),
    });
    for (r, keyword, matched) in &hits {
        execute(
            world,
            st,
            &g,
            cid,
            author,
            content,
            r,
            keyword,
            matched,
            result.is_none().then_some(message_id),
        );
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn execute(
    world: &World,
    st: &mut State,
    g: &Guild,
    cid: u64,
    author: u64,
    content: &str,
    r: &Value,
    keyword: &Option<String>,
    matched: &Option<String>,
    message_id: Option<u64>,
) {
    let gid = g.id;
    let trigger = r["trigger_type"].as_u64().unwrap_or(0);
    let rule_name = r["name"].as_str().unwrap_or_default().to_owned();
    let opts = json!({
        "auto_moderation_rule_name": rule_name,
        "auto_moderation_rule_trigger_type": trigger.to_string(),
        "channel_id": cid.to_string(),
    });
    for a in r["actions"].as_array().cloned().unwrap_or_default() {
        let kind = a["type"].as_u64().unwrap_or(0);
        let mut alert_id = None;
        match kind {
            BLOCK_MESSAGE => {
                st.audit(
                    world,
                    gid,
                    author,
                    Some(author),
                    143,
                    vec![],
                    None,
                    Some(opts.clone()),
                );
            }
            SEND_ALERT_MESSAGE => {
                if let Some(ch) = a["metadata"]["channel_id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                {
                    alert_id = Some(post_alert(
                        world, st, g, ch, cid, author, content, &rule_name, keyword, matched,
                    ));
                    st.audit(
                        world,
                        gid,
                        author,
                        Some(author),
                        144,
                        vec![],
                        None,
                        Some(opts.clone()),
                    );
                }
            }
            TIMEOUT => {
                let secs = a["metadata"]["duration_seconds"].as_u64().unwrap_or(0);
                if let Some(mut m) = g.members.get(&author).cloned()
                    && secs > 0
                {
                    m.communication_disabled_until = Some(now_ms() + secs * 1000);
                    crate::moderation::update_member(world, st, gid, author, m, vec![], None);
                    st.audit(
                        world,
                        gid,
                        author,
                        Some(author),
                        145,
                        vec![],
                        None,
                        Some(opts.clone()),
                    );
                }
            }
            _ => {}
        }
        let mut ev = json!({
            "guild_id": gid.to_string(),
            "action": a,
            "rule_id": r["id"],
            "rule_trigger_type": trigger,
            "user_id": author.to_string(),
            "channel_id": cid.to_string(),
            "content": content,
            "matched_keyword": keyword,
            "matched_content": matched,
        });
        if let Some(m) = message_id {
            ev["message_id"] = json!(m.to_string());
        }
        if let Some(id) = alert_id {
            ev["alert_system_message_id"] = json!(id.to_string());
        }
        dispatch_execution(st, gid, &ev);
    }
}

/// Sends an execution to the sessions with AUTO_MODERATION_EXECUTION; `content` and
/// `matched_content` only to those that also have MESSAGE_CONTENT.
fn dispatch_execution(st: &mut State, gid: u64, ev: &Value) {
    let mut stripped = ev.clone();
    stripped["content"] = json!("");
    stripped["matched_content"] = Value::Null;
    let full = ev.to_string();
    let stripped = stripped.to_string();
    let ids: Vec<(String, bool)> = st
        .sessions
        .values()
        .filter(|s| s.ready && crate::state::shard_of(Some(gid), s.shard[1]) == s.shard[0])
        .filter(|s| s.intents & intents::AUTO_MODERATION_EXECUTION != 0)
        .map(|s| (s.id.clone(), s.intents & intents::MESSAGE_CONTENT != 0))
        .collect();
    if st.unavailable.contains(&gid) || st.bot_left.contains(&gid) {
        return;
    }
    for (id, content) in ids {
        st.push(
            &id,
            "AUTO_MODERATION_ACTION_EXECUTION",
            if content { &full } else { &stripped },
        );
    }
}

/// Posts the alert system message (type 24) of an execution in channel `ch`; returns its id.
#[allow(clippy::too_many_arguments)]
fn post_alert(
    world: &World,
    st: &mut State,
    g: &Guild,
    ch: u64,
    cid: u64,
    author: u64,
    content: &str,
    rule_name: &str,
    keyword: &Option<String>,
    matched: &Option<String>,
) -> u64 {
    let id = crate::util::next_snowflake();
    let user = st.user(world, author).expect("the author exists");
    let mut fields = vec![
        json!({"name": "rule_name", "value": rule_name, "inline": false}),
        json!({"name": "channel_id", "value": cid.to_string(), "inline": false}),
    ];
    if let Some(k) = keyword {
        fields.push(json!({"name": "keyword", "value": k, "inline": false}));
    }
    if let Some(m) = matched {
        fields.push(json!({"name": "keyword_matched_content", "value": m, "inline": false}));
    }
    let body = json!({"embeds": [{"type": "auto_moderation_message", "description": content, "fields": fields}]});
    let mut m = crate::state::message_json(id, ch, Some(g.id), &user, None, "", &body, 24);
    m["embeds"][0]["type"] = json!("auto_moderation_message");
    st.store_message(ch, m.clone());
    let mut ev = m;
    if let Some(mm) = crate::state::member_partial(g, author) {
        ev["member"] = mm;
    }
    let _ = iso;
    st.dispatch(
        Some(g.id),
        "MESSAGE_CREATE",
        &ev,
        intents::GUILD_MESSAGES,
        true,
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_strategies() {
        let m = |t: &str, k: &str| keyword_match(&t.to_lowercase(), k);
        assert_eq!(m("a Cat sat", "cat").as_deref(), Some("cat"));
        assert_eq!(m("catch it", "cat"), None);
        assert_eq!(m("catch it", "cat*").as_deref(), Some("catch"));
        assert_eq!(m("a wildcat", "*cat").as_deref(), Some("wildcat"));
        assert_eq!(m("a wildcats", "*cat"), None);
        assert_eq!(m("concatenate", "*cat*").as_deref(), Some("concatenate"));
        assert_eq!(
            m("i like ice cream a lot", "ice cream").as_deref(),
            Some("ice cream")
        );
        assert_eq!(m("nothing here", "cat"), None);
    }

    #[test]
    fn mentions_are_counted_once_each() {
        assert_eq!(unique_mentions("<@1> <@!1> <@&1> <@2> <@x> <@3"), 3);
    }
}
