//! Execution: the enabled message rules run on a message a user posts, each matching rule's
//! actions carried out (blocked, alert posted, author timed out) with their audit entries and
//! one AUTO_MODERATION_ACTION_EXECUTION per action.

use super::trigger::rule_hit;
use super::{BLOCK_MESSAGE, SEND_ALERT_MESSAGE, TIMEOUT, rules};
use crate::intents;
use crate::state::State;
use crate::util::now_ms;
use crate::util::snowflake_value;
use crate::world::{Guild, World, perms};
use serde_json::{Value, json};

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
                    .is_some_and(|a| a.iter().any(|x| snowflake_value(x) == Some(id)))
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
    st.dispatch(
        Some(g.id),
        "MESSAGE_CREATE",
        &ev,
        intents::GUILD_MESSAGES,
        true,
    );
    id
}
