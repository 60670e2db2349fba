//! Which mentions a created message notifies: the `<@id>`, `<@!id>`, `<@&id>`, `@everyone`
//! and `@here` of its content, filtered by its `allowed_mentions` (already validated) and by
//! what the author may mention, recorded in the message's `mentions`, `mention_roles` and
//! `mention_everyone` as Discord returns them.

use crate::state::State;
use crate::world::{Guild, World, perms};
use serde_json::{Value, json};

/// The mentions written in a message's content, in order, each id once.
#[derive(Debug, Default, PartialEq, Eq)]
struct Written {
    users: Vec<u64>,
    roles: Vec<u64>,
    /// `@everyone` or `@here`.
    everyone: bool,
}

fn written(content: &str) -> Written {
    let mut w = Written {
        everyone: content.contains("@everyone") || content.contains("@here"),
        ..Written::default()
    };
    for part in content.split("<@").skip(1) {
        let Some(end) = part.find('>') else { continue };
        let inner = &part[..end];
        let (list, digits) = match inner.strip_prefix('&') {
            Some(rest) => (&mut w.roles, rest),
            None => (&mut w.users, inner.strip_prefix('!').unwrap_or(inner)),
        };
        if let Ok(id) = digits.parse::<u64>()
            && !list.contains(&id)
        {
            list.push(id);
        }
    }
    w
}

/// The ids of `key` (`users` or `roles`) the body's `allowed_mentions` lets notify among
/// `found`: all of them without `allowed_mentions` or with `key` in `parse`, those listed
/// under `key` otherwise (none when neither).
fn allowed(am: Option<&Value>, key: &str, found: &[u64]) -> Vec<u64> {
    let Some(am) = am else {
        return found.to_vec();
    };
    let parses = |what: &str| {
        am.get("parse")
            .and_then(Value::as_array)
            .is_some_and(|p| p.iter().any(|x| x.as_str() == Some(what)))
    };
    if parses(key) {
        return found.to_vec();
    }
    let listed: Vec<u64> = am
        .get(key)
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    found
        .iter()
        .copied()
        .filter(|id| listed.contains(id))
        .collect()
}

/// The mentions of a message that notify.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Mentions {
    /// Users mentioned (known users only).
    pub users: Vec<u64>,
    /// Roles mentioned: roles of the guild, other than `@everyone`, that the author may
    /// mention (the generated roles are not mentionable: MENTION_EVERYONE is needed).
    pub roles: Vec<u64>,
    /// `@everyone` / `@here` notifies (needs MENTION_EVERYONE in the channel).
    pub everyone: bool,
}

impl Mentions {
    /// Works out the mentions of `content` posted by `author` in `channel` of `guild` (none
    /// for a DM) with the message body's `allowed_mentions` (`None`: Discord's default, all
    /// of them).
    pub(crate) fn of(
        st: &State,
        world: &World,
        guild: Option<&Guild>,
        channel: u64,
        author: u64,
        content: &str,
        allowed_mentions: Option<&Value>,
    ) -> Self {
        let am = allowed_mentions.filter(|v| v.is_object());
        let w = written(content);
        let may_everyone = guild
            .is_some_and(|g| g.channel_permissions(author, channel) & perms::MENTION_EVERYONE != 0);
        let users = allowed(am, "users", &w.users)
            .into_iter()
            .filter(|id| st.user(world, *id).is_some())
            .collect();
        let roles = match guild {
            Some(g) => allowed(am, "roles", &w.roles)
                .into_iter()
                .filter(|id| *id != g.id && g.roles.iter().any(|r| r.id == *id))
                .filter(|_| may_everyone)
                .collect(),
            None => Vec::new(),
        };
        let parses_everyone = am.is_none_or(|am| {
            am.get("parse")
                .and_then(Value::as_array)
                .is_some_and(|p| p.iter().any(|x| x.as_str() == Some("everyone")))
        });
        Self {
            users,
            roles,
            everyone: w.everyone && parses_everyone && may_everyone,
        }
    }

    /// Whether `user` is among the users mentioned.
    pub(crate) fn has_user(&self, user: u64) -> bool {
        self.users.contains(&user)
    }

    /// Writes `mentions` (user objects), `mention_roles` and `mention_everyone` into the
    /// message `m`.
    pub(crate) fn write(&self, st: &State, world: &World, m: &mut Value) {
        m["mentions"] = json!(
            self.users
                .iter()
                .filter_map(|id| st.user(world, *id))
                .map(|u| u.to_json())
                .collect::<Vec<_>>()
        );
        m["mention_roles"] = json!(self.roles.iter().map(u64::to_string).collect::<Vec<_>>());
        m["mention_everyone"] = json!(self.everyone);
    }
}

/// Works out and records the mentions of message `m` (its `content` already set) that
/// `author` posts in `channel` (of `guild`, if any) with `allowed_mentions`; returns them.
pub(crate) fn record(
    st: &State,
    world: &World,
    guild: Option<u64>,
    channel: u64,
    author: u64,
    m: &mut Value,
    allowed_mentions: Option<&Value>,
) -> Mentions {
    let g = guild.and_then(|g| st.guild(world, g));
    let content = m["content"].as_str().unwrap_or("").to_owned();
    let found = Mentions::of(
        st,
        world,
        g.as_deref(),
        channel,
        author,
        &content,
        allowed_mentions,
    );
    found.write(st, world, m);
    found
}

/// Adds to each user of a MESSAGE_CREATE's `mentions` their partial `member` when they are
/// a member of `guild`, as Discord's gateway does (REST message objects carry none).
pub(crate) fn with_members(st: &State, world: &World, guild: Option<u64>, ev: &mut Value) {
    let Some(g) = guild.and_then(|g| st.guild(world, g)) else {
        return;
    };
    for u in ev["mentions"].as_array_mut().into_iter().flatten() {
        if let Some(id) = u["id"].as_str().and_then(|s| s.parse::<u64>().ok())
            && let Some(m) = crate::state::member_partial(&g, id)
        {
            u["member"] = m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_mentions_are_parsed_once_each() {
        let w = written("hi <@1> <@!1> <@&7> <@2> <@x> <@&7> @here");
        assert_eq!(
            w,
            Written {
                users: vec![1, 2],
                roles: vec![7],
                everyone: true
            }
        );
    }

    #[test]
    fn allowed_follows_parse_then_the_lists() {
        let found = [1, 2, 3];
        assert_eq!(allowed(None, "users", &found), vec![1, 2, 3]);
        let am = json!({"parse": ["users"]});
        assert_eq!(allowed(Some(&am), "users", &found), vec![1, 2, 3]);
        assert_eq!(allowed(Some(&am), "roles", &found), Vec::<u64>::new());
        let am = json!({"users": ["2", "9"]});
        assert_eq!(allowed(Some(&am), "users", &found), vec![2]);
        let am = json!({"parse": []});
        assert_eq!(allowed(Some(&am), "users", &found), Vec::<u64>::new());
    }
}
