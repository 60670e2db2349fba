//! Request Guild Members (op 8): GUILD_MEMBERS_CHUNK and RATE_LIMITED.

use super::{Conn, Flow};
use crate::intents;
use axum::extract::ws::Message;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

impl Conn {
    pub(super) async fn request_members<S>(&mut self, d: Value, sink: &mut S) -> Flow
    where
        S: futures::Sink<Message> + Unpin,
    {
        let Some(gid) = d.get("guild_id").and_then(|g| match g {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        }) else {
            self.close(sink, 4002, "Error while decoding payload.")
                .await;
            return Flow::Stop;
        };
        match self.request_members_sync(gid, &d) {
            Ok(()) => Flow::Continue,
            Err(code) => {
                let reason = if code == 4013 {
                    "Invalid intent(s)."
                } else {
                    "Error while decoding payload."
                };
                self.close(sink, code, reason).await;
                Flow::Stop
            }
        }
    }

    fn request_members_sync(&mut self, gid: u64, d: &Value) -> Result<(), u16> {
        let sid = self.session.clone().unwrap_or_default();
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let Some(session) = st.sessions.get(&sid) else {
            return Ok(());
        };
        let (shard, intents_bits) = (session.shard, session.intents);
        if crate::state::shard_of(Some(gid), shard[1]) != shard[0] {
            return Ok(());
        }
        let nonce = d.get("nonce").cloned();
        // Rate limit: one request per guild per 30 s per session when asking for everyone.
        let query = d.get("query").and_then(Value::as_str);
        let user_ids: Option<Vec<u64>> = d.get("user_ids").map(|u| match u {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| {
                    x.as_str()
                        .and_then(|s| s.parse().ok())
                        .or_else(|| x.as_u64())
                })
                .collect(),
            Value::String(s) => s.parse().ok().into_iter().collect(),
            Value::Number(n) => n.as_u64().into_iter().collect(),
            _ => Vec::new(),
        });
        if query.is_none() && user_ids.is_none() {
            return Err(4002);
        }
        if query == Some("") && intents_bits & intents::GUILD_MEMBERS == 0 {
            return Err(4013);
        }
        let key = (sid.clone(), gid);
        if let Some(at) = st.member_requests.get(&key)
            && at.elapsed() < Duration::from_secs(30)
            && query == Some("")
        {
            let retry_after = 30.0 - at.elapsed().as_secs_f64();
            let ev = json!({"opcode": 8, "retry_after": retry_after, "meta": {"guild_id": gid.to_string(), "nonce": nonce}});
            st.push(&sid, "RATE_LIMITED", &ev.to_string());
            return Ok(());
        }
        if query == Some("") {
            st.member_requests.insert(key, Instant::now());
        }
        let Some(g) = st.guild(&shared.world, gid) else {
            return Ok(());
        };
        let limit = d.get("limit").and_then(Value::as_u64).unwrap_or(0);
        let mut not_found = Vec::new();
        let members: Vec<Value> = if let Some(ids) = &user_ids {
            ids.iter()
                .take(100)
                .filter_map(|id| {
                    let m = g.members.get(id).map(crate::world::Member::to_json);
                    if m.is_none() {
                        not_found.push(id.to_string());
                    }
                    m
                })
                .collect()
        } else {
            let q = query.unwrap_or("").to_lowercase();
            let cap = if q.is_empty() && limit == 0 {
                usize::MAX
            } else {
                limit.clamp(1, 100) as usize
            };
            g.members
                .values()
                .filter(|m| {
                    q.is_empty()
                        || m.user.username.to_lowercase().starts_with(&q)
                        || m.nick
                            .as_deref()
                            .is_some_and(|n| n.to_lowercase().starts_with(&q))
                })
                .take(cap)
                .map(crate::world::Member::to_json)
                .collect()
        };
        drop(g);
        let chunks: Vec<&[Value]> = if members.is_empty() {
            vec![&[]]
        } else {
            members.chunks(1000).collect()
        };
        let count = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut ev = json!({
                "guild_id": gid.to_string(),
                "members": chunk,
                "chunk_index": i,
                "chunk_count": count,
            });
            if i == 0 && !not_found.is_empty() {
                ev["not_found"] = json!(not_found);
            }
            if let Some(n) = &nonce {
                ev["nonce"] = n.clone();
            }
            st.push(&sid, "GUILD_MEMBERS_CHUNK", &ev.to_string());
        }
        Ok(())
    }
}
