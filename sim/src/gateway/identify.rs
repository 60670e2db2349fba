//! IDENTIFY and RESUME: token, intents, shard, identify buckets, session starts, READY.

use super::{Conn, Flow, MAX_GUILDS_PER_SHARD, valid_presence};
use crate::intents;
use crate::state::{Buffered, ConnCmd, IdentifyRecord, Session, bucket_wait, new_session_id};
use crate::util::{iso, now_ms};
use axum::extract::ws::Message;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::time::Instant;
use tokio::sync::mpsc;

impl Conn {
    pub(super) async fn identify<S>(&mut self, d: Value, sink: &mut S) -> Flow
    where
        S: futures::Sink<Message> + Unpin,
    {
        if self.session.is_some() {
            self.close(sink, 4005, "Already authenticated.").await;
            return Flow::Stop;
        }
        let cfg = &self.shared.cfg;
        let token = d.get("token").and_then(Value::as_str).unwrap_or("");
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        if token != cfg.token || self.shared.lock().token_invalid() {
            self.close(sink, 4004, "Authentication failed.").await;
            return Flow::Stop;
        }
        let Some(intents_bits) = d.get("intents").and_then(Value::as_u64) else {
            self.close(sink, 4002, "Error while decoding payload.")
                .await;
            return Flow::Stop;
        };
        if d.get("properties").is_none_or(|p| !p.is_object()) {
            self.close(sink, 4002, "Error while decoding payload.")
                .await;
            return Flow::Stop;
        }
        // Optional; clients without one send null or leave it out.
        let presence = d.get("presence").filter(|p| !p.is_null());
        if presence.is_some_and(|p| !valid_presence(p)) {
            self.close(sink, 4002, "Error while decoding payload.")
                .await;
            return Flow::Stop;
        }
        if intents_bits & !intents::VALID != 0 {
            self.close(sink, 4013, "Invalid intent(s).").await;
            return Flow::Stop;
        }
        let privileged = {
            let st = self.shared.lock();
            self.shared.privileged_intents(&st)
        };
        if !privileged && intents_bits & intents::PRIVILEGED != 0 {
            self.close(sink, 4014, "Disallowed intent(s).").await;
            return Flow::Stop;
        }
        let shard: [u32; 2] = match d.get("shard") {
            None | Some(Value::Null) => [0, 1],
            Some(s) => match serde_json::from_value::<[u64; 2]>(s.clone()) {
                Ok([id, total]) if total >= 1 && id < total && total <= 1 << 20 => {
                    [id as u32, total as u32]
                }
                _ => {
                    self.close(sink, 4010, "Invalid shard.").await;
                    return Flow::Stop;
                }
            },
        };
        self.view = crate::frames::CreateView {
            large_threshold: d
                .get("large_threshold")
                .and_then(Value::as_u64)
                .unwrap_or(50)
                .clamp(50, 250),
            presences: intents_bits & intents::GUILD_PRESENCES != 0,
        };
        let guilds = self.shared.guilds_on_shard(shard);
        // Identify concurrency, session starts, faults.
        enum Refusal {
            /// op 9 `false`.
            Invalid,
            /// The token was reset: close 4004.
            TokenReset,
            /// More guilds than a shard may hold: close 4011.
            Sharding,
        }
        let outcome: Result<(String, Vec<u64>, Option<Instant>), Refusal> = {
            let shared = self.shared.clone();
            let mut st = shared.lock();
            let guilds: Vec<u64> = guilds
                .into_iter()
                .filter(|g| !st.bot_left.contains(g))
                .collect();
            let bucket = shard[0] % cfg.max_concurrency.max(1);
            let remaining = shared.session_starts_remaining(&mut st);
            let storm = st.gw_faults.storm_refuses(shard[0]);
            if st.token_reset {
                Err(Refusal::TokenReset)
            } else if guilds.len() > MAX_GUILDS_PER_SHARD {
                Err(Refusal::Sharding)
            } else if remaining == 0 {
                // Discord: past the limit every session of the bot ends and its token is
                // reset (an e-mail tells the owner); from then on the old token gets 4004.
                st.token_reset = true;
                st.stats.identifies_refused += 1;
                st.stats.refused_identifies.push(IdentifyRecord {
                    shard,
                    at_ms: now_ms(),
                    session_id: "session start limit exhausted: token reset".to_owned(),
                });
                for s in st.sessions.values() {
                    if let Some(c) = &s.conn {
                        let _ =
                            c.tx.send(ConnCmd::Close(4004, "Authentication failed.".into()));
                    }
                }
                st.sessions.clear();
                Err(Refusal::TokenReset)
            } else if storm
                || bucket_wait(&st, bucket, cfg.identify_window, cfg.identify_window_slack)
                    .is_some()
            {
                st.stats.identifies_refused += 1;
                let why = if storm {
                    "invalidation storm"
                } else {
                    "identify bucket busy"
                };
                st.stats.refused_identifies.push(IdentifyRecord {
                    shard,
                    at_ms: now_ms(),
                    session_id: why.to_owned(),
                });
                Err(Refusal::Invalid)
            } else {
                st.bucket_last_identify.insert(bucket, Instant::now());
                st.session_starts_used += 1;
                if st.session_reset_at.is_none() {
                    st.session_reset_at = Some(Instant::now() + cfg.session_start_reset);
                }
                let sid = new_session_id(cfg.seed);
                if let Some(p) = presence {
                    st.presences.insert(
                        format!("{}/{}", shard[0], shard[1]),
                        json!({"shard": shard, "session_id": sid, "presence": p, "at": iso(now_ms())}),
                    );
                }
                st.stats.identifies.push(IdentifyRecord {
                    shard,
                    at_ms: now_ms(),
                    session_id: sid.clone(),
                });
                let ready_delay = st.gw_faults.ready_delay(shard[0]);
                self.delivery = st.gw_faults.delivery(shard[0]);
                st.sessions.insert(
                    sid.clone(),
                    Session {
                        id: sid.clone(),
                        shard,
                        intents: intents_bits,
                        seq: 0,
                        buffer: VecDeque::new(),
                        conn: Some(self.handle()),
                        disconnected_at: None,
                        ready: ready_delay.is_none(),
                        last_heartbeat: None,
                        view: self.view,
                        pending_guilds: VecDeque::new(),
                    },
                );
                let ready = self.ready_payload(&sid, shard, &guilds, &st);
                let ready_at = match ready_delay {
                    Some(delay) => {
                        self.ready_frame = Some(ready);
                        Some(Instant::now() + delay)
                    }
                    None => {
                        st.push(&sid, "READY", &ready);
                        None
                    }
                };
                Ok((sid, guilds, ready_at))
            }
        };
        let (sid, guilds, ready_at) = match outcome {
            Ok(x) => x,
            Err(Refusal::Invalid) => {
                self.invalid_session(sink, false).await;
                return Flow::Continue;
            }
            Err(Refusal::TokenReset) => {
                self.close(sink, 4004, "Authentication failed.").await;
                return Flow::Stop;
            }
            Err(Refusal::Sharding) => {
                self.close(sink, 4011, "Sharding required.").await;
                return Flow::Stop;
            }
        };
        self.session = Some(sid);
        self.ready_at = ready_at;
        if intents_bits & intents::GUILDS != 0 {
            let st = self.shared.lock();
            // Guilds in an outage stay unavailable after READY.
            self.pending_guilds = guilds
                .into_iter()
                .filter(|g| !st.unavailable.contains(g))
                .collect();
        }
        Flow::Continue
    }

    /// READY's `d` for a new session of `shard` over `guilds`.
    fn ready_payload(
        &self,
        sid: &str,
        shard: [u32; 2],
        guilds: &[u64],
        _st: &crate::state::State,
    ) -> String {
        let shared = &self.shared;
        json!({
            "v": 10,
            "user": {
                "id": shared.world.bot.id.to_string(),
                "username": shared.world.bot.username,
                "discriminator": "0",
                "global_name": null,
                "avatar": null,
                "bot": true,
                "verified": true,
                "mfa_enabled": true,
                "flags": 0,
                "email": null,
            },
            "guilds": guilds.iter().map(|g| json!({"id": g.to_string(), "unavailable": true})).collect::<Vec<_>>(),
            "session_id": sid,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "shard": shard,
            "application": {"id": shared.world.application_id.to_string(), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "user_settings": {},
            "auth": {},
            "_trace": ["[\"kyuta-sim\",{\"micros\":0}]"],
        })
        .to_string()
    }

    /// Sends a READY held back by the slow-READY fault; the session gets events from now on.
    pub(super) fn send_delayed_ready(&mut self) {
        let (Some(sid), Some(ready)) = (self.session.clone(), self.ready_frame.take()) else {
            return;
        };
        let mut st = self.shared.lock();
        let Some(s) = st.sessions.get_mut(&sid) else {
            return;
        };
        s.ready = true;
        st.push(&sid, "READY", &ready);
    }

    pub(super) async fn resume<S>(&mut self, d: Value, sink: &mut S) -> Flow
    where
        S: futures::Sink<Message> + Unpin,
    {
        if self.session.is_some() {
            self.close(sink, 4005, "Already authenticated.").await;
            return Flow::Stop;
        }
        let token = d.get("token").and_then(Value::as_str).unwrap_or("");
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        if token != self.shared.cfg.token || self.shared.lock().token_invalid() {
            self.close(sink, 4004, "Authentication failed.").await;
            return Flow::Stop;
        }
        let sid = d
            .get("session_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
        enum Outcome {
            Invalid,
            BadSeq,
            Ok(Option<mpsc::UnboundedSender<ConnCmd>>),
        }
        let outcome = {
            let mut st = self.shared.lock();
            let ttl = self.shared.cfg.session_ttl;
            let storm = st
                .sessions
                .get(&sid)
                .is_some_and(|s| st.gw_faults.storm_refuses(s.shard[0]));
            if storm {
                // An invalidation storm: the session is gone.
                st.sessions.remove(&sid);
            }
            match st.sessions.get_mut(&sid) {
                None => Outcome::Invalid,
                Some(s) if s.disconnected_at.is_some_and(|at| at.elapsed() >= ttl) => {
                    Outcome::Invalid
                }
                Some(s) if seq > s.seq => Outcome::BadSeq,
                Some(s) if s.buffer.front().is_some_and(|(first, _)| seq + 1 < *first) => {
                    Outcome::Invalid
                }
                Some(s) => {
                    let handle = self.handle();
                    s.disconnected_at = None;
                    self.pending_guilds = std::mem::take(&mut s.pending_guilds);
                    self.view = s.view;
                    for (n, entry) in &s.buffer {
                        if *n > seq {
                            handle.send_frame(match entry {
                                Buffered::Frame(f) => ConnCmd::Frame(f.clone()),
                                Buffered::GuildCreate { guild, view } => {
                                    ConnCmd::ReplayGuildCreate {
                                        seq: *n,
                                        guild: *guild,
                                        view: *view,
                                    }
                                }
                            });
                        }
                    }
                    let old = s.conn.replace(handle);
                    let shard = s.shard[0];
                    self.delivery = st.gw_faults.delivery(shard);
                    st.push(
                        &sid,
                        "RESUMED",
                        r#"{"_trace":["[\"kyuta-sim\",{\"micros\":0}]"]}"#,
                    );
                    st.stats.resumes += 1;
                    *st.stats.resumes_per_shard.entry(shard).or_default() += 1;
                    Outcome::Ok(old.map(|c| c.tx))
                }
            }
        };
        match outcome {
            Outcome::Invalid => {
                self.invalid_session(sink, false).await;
                Flow::Continue
            }
            Outcome::BadSeq => {
                self.close(sink, 4007, "Invalid seq.").await;
                Flow::Stop
            }
            Outcome::Ok(old) => {
                if let Some(old) = old {
                    let _ = old.send(ConnCmd::Drop);
                }
                self.session = Some(sid);
                Flow::Continue
            }
        }
    }
}
