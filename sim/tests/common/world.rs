//! Set-up shared by the REST and gateway tests: guild 0 of the generated world and its
//! members, registered commands, user interactions and their callbacks.

use super::{Resp, TOKEN, api, api_with, ctl};
use kyuta_sim::Sim;
use serde_json::{Value, json};

/// Guild 0 as the control API describes it.
pub async fn guild0(sim: &Sim) -> Value {
    ctl(sim, "GET", "/guilds?limit=1", None).await.body[0].clone()
}

/// The guild's id.
pub fn gid(g: &Value) -> &str {
    g["id"].as_str().expect("guild id")
}

fn named(list: &Value, name: &str) -> String {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no {name:?}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The id of the guild's role named `name`.
pub fn role_id(g: &Value, name: &str) -> String {
    named(&g["roles"], name)
}

/// The id of the guild's channel named `name`.
pub fn channel_id(g: &Value, name: &str) -> String {
    named(&g["channels"], name)
}

/// Up to `n` members other than the owner for whom `keep` holds (`keep` sees the control
/// API's member object), in member order.
async fn members_where(
    sim: &Sim,
    g: &Value,
    n: usize,
    keep: impl Fn(&Value) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for id in g["member_ids"].as_array().unwrap() {
        let id = id.as_str().unwrap();
        if out.len() == n {
            break;
        }
        if id == g["owner_id"].as_str().unwrap() {
            continue;
        }
        let m = ctl(
            sim,
            "GET",
            &format!("/guilds/{}/members/{id}", gid(g)),
            None,
        )
        .await
        .body;
        if keep(&m) {
            out.push(id.to_owned());
        }
    }
    out
}

fn is_plain(m: &Value) -> bool {
    m["roles"].as_array().is_some_and(Vec::is_empty) && m["user"]["bot"].is_null()
}

/// A plain member (no roles, not a bot) of the guild, other than the owner.
pub async fn plain_member(sim: &Sim, g: &Value) -> String {
    plain_members(sim, g, 1)
        .await
        .pop()
        .expect("a plain member")
}

/// Up to `n` distinct plain members.
pub async fn plain_members(sim: &Sim, g: &Value, n: usize) -> Vec<String> {
    members_where(sim, g, n, is_plain).await
}

/// A member other than the owner who has the role named `role`.
pub async fn member_with_role(sim: &Sim, g: &Value, role: &str) -> String {
    let rid = json!(role_id(g, role));
    members_where(sim, g, 1, |m| {
        m["roles"].as_array().is_some_and(|a| a.contains(&rid))
    })
    .await
    .pop()
    .unwrap_or_else(|| panic!("no member with {role}"))
}

/// The owner gives the role named `role` these permission bits (control API).
pub async fn set_role_permissions(sim: &Sim, g: &Value, role: &str, bits: u64) {
    let r = ctl(
        sim,
        "PATCH",
        &format!("/guilds/{}/roles/{}", gid(g), role_id(g, role)),
        Some(&json!({"permissions": bits.to_string()})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The guild-wide test commands: `/ban user [reason]` and `/automod enable|rule add`.
pub async fn register(sim: &Sim) {
    let cmds = json!([
        {"name": "ban", "description": "Ban", "options": [
            {"type": 6, "name": "user", "description": "who", "required": true},
            {"type": 3, "name": "reason", "description": "why"}
        ]},
        {"name": "automod", "description": "Automod", "options": [
            {"type": 1, "name": "enable", "description": "on"},
            {"type": 2, "name": "rule", "description": "rules", "options": [
                {"type": 1, "name": "add", "description": "add", "options": [
                    {"type": 4, "name": "threshold", "description": "n", "required": true},
                    {"type": 3, "name": "kind", "description": "k", "choices": [{"name": "spam", "value": "spam"}]}
                ]}
            ]}
        ]}
    ]);
    let r = api(
        sim,
        "PUT",
        &format!("/applications/{}/commands", sim.bot_id()),
        Some(&cmds),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A Moderator of the guild runs `name` with `options` in #general (control API).
pub async fn interact(sim: &Sim, g: &Value, name: &str, options: Value) -> Resp {
    let user = member_with_role(sim, g, "Moderator").await;
    ctl(sim, "POST", "/interactions", Some(&json!({
        "guild_id": g["id"], "channel_id": channel_id(g, "general"), "user_id": user, "name": name, "options": options
    }))).await
}

/// Registers the test commands, then a Moderator of guild 0 runs `/ban` on a plain member
/// (with `reason` if given): guild 0 and the control API's answer (`id`, `token`,
/// `payload`).
pub async fn ban_interaction(sim: &Sim, reason: Option<&str>) -> (Value, Resp) {
    register(sim).await;
    let g = guild0(sim).await;
    let mut options = json!({"user": plain_member(sim, &g).await});
    if let Some(r) = reason {
        options["reason"] = json!(r);
    }
    let it = interact(sim, &g, "ban", options).await;
    assert_eq!(it.status, 201, "{}", it.body);
    (g, it)
}

/// The `(id, token)` of an interaction created through the control API.
pub fn id_token(it: &Resp) -> (String, String) {
    (
        it.body["id"].as_str().expect("interaction id").to_owned(),
        it.body["token"]
            .as_str()
            .expect("interaction token")
            .to_owned(),
    )
}

/// `POST /interactions/{id}/{token}/callback{query}` with `body` (no bot token, as Discord
/// allows).
pub async fn callback(sim: &Sim, it: &Resp, query: &str, body: &Value) -> Resp {
    let (id, token) = id_token(it);
    api_with(
        sim,
        "POST",
        &format!("/interactions/{id}/{token}/callback{query}"),
        Some(body),
        &[],
    )
    .await
}

/// A REST call with the bot token and `X-Audit-Log-Reason: reason` (already URL-encoded).
pub async fn api_with_reason(
    sim: &Sim,
    method: &str,
    path: &str,
    body: Option<&Value>,
    reason: &str,
) -> Resp {
    let auth = format!("Bot {TOKEN}");
    api_with(
        sim,
        method,
        path,
        body,
        &[
            ("authorization", auth.as_str()),
            ("x-audit-log-reason", reason),
        ],
    )
    .await
}

/// Discord's JSON error code of a response.
pub fn code(r: &Resp) -> u64 {
    r.body["code"]
        .as_u64()
        .unwrap_or_else(|| panic!("no code in {}", r.body))
}
