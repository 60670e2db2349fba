//! Typed options and `resolved` objects: the values of a control request converted per the
//! registered command's definition, and the users, members, roles and channels they name.

use super::request::{BuildError, bad, opt_str};
use crate::state::{Shared, State};
use crate::world::{Guild, perms};
use serde_json::{Map, Value, json};

/// What an id in an option or a select menu names.
#[derive(Clone, Copy)]
pub(super) enum Target {
    User,
    Channel,
    Role,
    /// A role if the guild has one with that id, a user otherwise.
    Mentionable,
}

pub(super) struct Resolver<'a> {
    pub sh: &'a Shared,
    pub st: &'a State,
    pub guild: Option<&'a Guild>,
    /// The channel the interaction comes from: resolved members' permissions are theirs
    /// there, overwrites included.
    pub channel: u64,
    pub resolved: Map<String, Value>,
}

impl Resolver<'_> {
    fn add(&mut self, kind: &str, id: u64, v: Value) {
        let m = self.resolved.entry(kind).or_insert_with(|| json!({}));
        m[id.to_string()] = v;
    }

    fn user(&mut self, id: u64) -> Result<(), BuildError> {
        let u = self
            .st
            .user(&self.sh.world, id)
            .ok_or_else(|| bad(format!("unknown user {id}")))?;
        self.add("users", id, u.to_json());
        if let Some(g) = self.guild
            && let Some(m) = g.members.get(&id)
        {
            let mut mj = m.to_json();
            let o = mj.as_object_mut().expect("object");
            o.remove("user");
            o.remove("deaf");
            o.remove("mute");
            o.insert(
                "permissions".into(),
                json!(g.channel_permissions(id, self.channel).to_string()),
            );
            self.add("members", id, mj);
        }
        Ok(())
    }

    fn role(&mut self, id: u64) -> Result<(), BuildError> {
        let g = self.guild.ok_or_else(|| bad("roles need a guild"))?;
        let r = g
            .role(id)
            .ok_or_else(|| bad(format!("unknown role {id}")))?;
        self.add("roles", id, r.to_json());
        Ok(())
    }

    fn channel(&mut self, id: u64) -> Result<(), BuildError> {
        let c = self
            .st
            .channel(&self.sh.world, id)
            .ok_or_else(|| bad(format!("unknown channel {id}")))?;
        let mut v = json!({
            "id": c.id.to_string(),
            "name": c.name,
            "type": c.kind,
            "permissions": self.guild.map(|g| g.channel_permissions(self.sh.world.bot.id, id)).unwrap_or(perms::ALL).to_string(),
        });
        if let Some(p) = c.parent_id {
            v["parent_id"] = json!(p.to_string());
        }
        self.add("channels", id, v);
        Ok(())
    }

    /// Resolves an id that names a `target` (`resolved.users/members/roles/channels`).
    pub(super) fn target(&mut self, target: Target, id: u64) -> Result<(), BuildError> {
        match target {
            Target::User => self.user(id),
            Target::Channel => self.channel(id),
            Target::Role => self.role(id),
            Target::Mentionable if self.guild.is_some_and(|g| g.role(id).is_some()) => {
                self.role(id)
            }
            Target::Mentionable => self.user(id),
        }
    }

    /// Converts `values` (option name → value) into typed options per `defs`.
    pub(super) fn options(
        &mut self,
        defs: &[Value],
        values: &Map<String, Value>,
    ) -> Result<Vec<Value>, BuildError> {
        for k in values.keys() {
            if !defs.iter().any(|d| d["name"].as_str() == Some(k)) {
                return Err(bad(format!("unknown option {k:?}")));
            }
        }
        let mut out = Vec::new();
        for d in defs {
            let name = d["name"].as_str().unwrap_or("");
            let t = d["type"].as_u64().unwrap_or(3);
            let Some(raw) = values.get(name) else {
                if d["required"].as_bool().unwrap_or(false) {
                    return Err(bad(format!("missing required option {name:?}")));
                }
                continue;
            };
            let s = opt_str(raw);
            let value = match t {
                3 => json!(s),
                4 => json!(
                    s.parse::<i64>()
                        .map_err(|_| bad(format!("option {name:?} must be an integer")))?
                ),
                5 => json!(
                    s.parse::<bool>()
                        .map_err(|_| bad(format!("option {name:?} must be true or false")))?
                ),
                10 => json!(
                    s.parse::<f64>()
                        .map_err(|_| bad(format!("option {name:?} must be a number")))?
                ),
                6..=9 => {
                    let id: u64 = s
                        .trim_start_matches("<@")
                        .trim_start_matches(['!', '&', '#'])
                        .trim_end_matches('>')
                        .parse()
                        .map_err(|_| bad(format!("option {name:?} must be a snowflake")))?;
                    let target = match t {
                        6 => Target::User,
                        7 => Target::Channel,
                        8 => Target::Role,
                        _ => Target::Mentionable,
                    };
                    self.target(target, id)?;
                    json!(id.to_string())
                }
                _ => {
                    return Err(bad(format!(
                        "option {name:?} has a type the simulator cannot fill"
                    )));
                }
            };
            if let Some(choices) = d["choices"].as_array()
                && !choices.iter().any(|c| c["value"] == value)
            {
                return Err(bad(format!(
                    "option {name:?}: {s:?} is not one of the choices"
                )));
            }
            out.push(json!({"name": name, "type": t, "value": value}));
        }
        Ok(out)
    }
}
