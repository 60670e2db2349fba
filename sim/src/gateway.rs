//! The gateway: `ws://ADDR/?v=10&encoding=json[&compress=zstd-stream|zlib-stream]`.

use crate::state::{
    ConnCmd, ConnGuard, ConnHandle, IdentifyRecord, Session, Shared, State, bucket_wait, intents,
    new_session_id,
};
use crate::util::{iso, now_ms};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use zstd::zstd_safe;

/// Discord's limit on one client payload.
pub const MAX_PAYLOAD: usize = 4096;
/// Discord's limit on guilds per shard.
pub const MAX_GUILDS_PER_SHARD: usize = 2500;

/// Transport compression of one connection.
enum Encoder {
    None,
    Zlib(Box<flate2::Compress>),
    Zstd(Box<zstd_safe::CCtx<'static>>),
}

impl Encoder {
    fn encode(&mut self, text: &str) -> Message {
        match self {
            Self::None => Message::Text(Utf8Bytes::from(text)),
            Self::Zlib(c) => {
                let mut out = Vec::with_capacity(text.len() / 2 + 64);
                let input = text.as_bytes();
                let start_in = c.total_in();
                loop {
                    let consumed = (c.total_in() - start_in) as usize;
                    if out.capacity() - out.len() < 64 {
                        out.reserve(out.capacity().max(1024));
                    }
                    c.compress_vec(&input[consumed..], &mut out, flate2::FlushCompress::Sync)
                        .expect("zlib compression does not fail on valid state");
                    let consumed = (c.total_in() - start_in) as usize;
                    if consumed == input.len()
                        && out.len() < out.capacity()
                        && out.ends_with(&[0, 0, 0xff, 0xff])
                    {
                        break;
                    }
                }
                Message::Binary(out.into())
            }
            Self::Zstd(c) => {
                let mut out: Vec<u8> = Vec::with_capacity(text.len() / 2 + 128);
                let mut input = zstd_safe::InBuffer::around(text.as_bytes());
                loop {
                    if out.capacity() - out.len() < 1024 {
                        out.reserve(out.capacity().max(16 * 1024));
                    }
                    let pos = out.len();
                    let mut ob = zstd_safe::OutBuffer::around_pos(&mut out, pos);
                    let remaining = c
                        .compress_stream2(
                            &mut ob,
                            &mut input,
                            zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_flush,
                        )
                        .expect("zstd compression does not fail on valid state");
                    if remaining == 0 && input.pos == input.src.len() {
                        break;
                    }
                }
                Message::Binary(out.into())
            }
        }
    }
}

/// `GET /` upgrade handler.
pub(crate) async fn upgrade(
    AxState(shared): AxState<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return (
            StatusCode::OK,
            "kyuta-sim gateway: connect with a WebSocket",
        )
            .into_response();
    };
    if *shared.paused.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "gateway paused").into_response();
    }
    let version_ok = q.get("v").is_none_or(|v| v == "10");
    if let Some(enc) = q.get("encoding")
        && enc != "json"
    {
        return (StatusCode::BAD_REQUEST, "encoding must be json").into_response();
    }
    let encoder = match q.get("compress").map(String::as_str) {
        None => Encoder::None,
        Some("zlib-stream") => Encoder::Zlib(Box::new(flate2::Compress::new(
            flate2::Compression::default(),
            true,
        ))),
        Some("zstd-stream") => {
            let mut c = zstd_safe::CCtx::create();
            let _ = c.set_parameter(zstd_safe::CParameter::CompressionLevel(3));
            Encoder::Zstd(Box::new(c))
        }
        Some(_) => return (StatusCode::BAD_REQUEST, "unsupported compress").into_response(),
    };
    let resume_url = shared.gateway_url(headers.get(header::HOST));
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| async move {
            shared.open_connections.fetch_add(1, Ordering::Relaxed);
            let guard = ConnGuard(shared.clone());
            Conn::new(shared, encoder, resume_url)
                .run(socket, version_ok)
                .await;
            drop(guard);
        })
}

enum Flow {
    Continue,
    Stop,
}

struct Conn {
    shared: Arc<Shared>,
    enc: Encoder,
    id: u64,
    tx: mpsc::UnboundedSender<ConnCmd>,
    rx: mpsc::UnboundedReceiver<ConnCmd>,
    session: Option<String>,
    sends: VecDeque<Instant>,
    hb_deadline: Instant,
    acks: bool,
    held: VecDeque<Message>,
    pending_guilds: VecDeque<u64>,
    large_threshold: u64,
    /// `resume_gateway_url` announced in READY.
    resume_url: String,
}

impl Conn {
    fn new(shared: Arc<Shared>, enc: Encoder, resume_url: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = shared.conn_ids.fetch_add(1, Ordering::Relaxed);
        let hb = shared.cfg.heartbeat_interval;
        Self {
            shared,
            enc,
            id,
            tx,
            rx,
            session: None,
            sends: VecDeque::new(),
            hb_deadline: Instant::now() + hb + hb / 2 + Duration::from_secs(5),
            acks: true,
            held: VecDeque::new(),
            pending_guilds: VecDeque::new(),
            large_threshold: 50,
            resume_url,
        }
    }

    async fn run(mut self, socket: WebSocket, version_ok: bool) {
        let (mut sink, mut stream) = socket.split();
        let mut paused = self.shared.paused.subscribe();
        let shutdown = self.shared.shutdown.clone();
        let hello = json!({"op": 10, "s": null, "t": null, "d": {
            "heartbeat_interval": self.shared.cfg.heartbeat_interval.as_millis() as u64,
            "_trace": ["[\"kyuta-sim\",{\"micros\":0}]"]
        }});
        let msg = self.enc.encode(&hello.to_string());
        if sink.send(msg).await.is_err() {
            return;
        }
        if !version_ok {
            self.close(&mut sink, 4012, "Invalid API version").await;
            return;
        }
        loop {
            let is_paused = *paused.borrow();
            let out: Option<Message>;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1001, reason: "shutting down".into() }))).await;
                    break;
                }
                changed = paused.changed() => {
                    if changed.is_err() { break; }
                    if !*paused.borrow() {
                        let mut failed = false;
                        while let Some(m) = self.held.pop_front() {
                            if sink.send(m).await.is_err() { failed = true; break; }
                        }
                        if failed { break; }
                    }
                    continue;
                }
                incoming = stream.next() => {
                    let Some(Ok(incoming)) = incoming else { break };
                    match self.on_message(incoming, &mut sink).await {
                        Flow::Continue => continue,
                        Flow::Stop => break,
                    }
                }
                cmd = self.rx.recv() => {
                    let Some(cmd) = cmd else { break };
                    match cmd {
                        ConnCmd::Frame(f) => out = Some(self.enc.encode(&f)),
                        ConnCmd::Close(code, reason) => {
                            self.close(&mut sink, code, &reason).await;
                            break;
                        }
                        ConnCmd::Reconnect => {
                            let m = self.enc.encode(r#"{"op":7,"s":null,"t":null,"d":null}"#);
                            let _ = sink.send(m).await;
                            // Discord closes shortly after op 7 if the client does not.
                            let wait = tokio::time::sleep(Duration::from_secs(5));
                            tokio::pin!(wait);
                            loop {
                                tokio::select! {
                                    () = &mut wait => break,
                                    m = stream.next() => match m {
                                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                                        _ => {}
                                    }
                                }
                            }
                            self.close(&mut sink, 4000, "Reconnect requested").await;
                            break;
                        }
                        ConnCmd::InvalidSession(resumable) => {
                            self.invalid_session(&mut sink, resumable).await;
                            continue;
                        }
                        ConnCmd::RequestHeartbeat => {
                            out = Some(self.enc.encode(r#"{"op":1,"s":null,"t":null,"d":null}"#));
                        }
                        ConnCmd::Drop => break,
                        ConnCmd::StopAcks(stop) => { self.acks = !stop; continue; }
                    }
                }
                () = tokio::time::sleep_until(self.hb_deadline.into()) => {
                    self.close(&mut sink, 4009, "Session timed out").await;
                    break;
                }
                () = std::future::ready(()), if !self.pending_guilds.is_empty() && !is_paused => {
                    self.next_guild_create();
                    continue;
                }
            }
            if let Some(m) = out {
                if is_paused {
                    self.held.push_back(m);
                } else if sink.send(m).await.is_err() {
                    break;
                }
            }
        }
        self.detach();
    }

    fn detach(&mut self) {
        if let Some(sid) = self.session.take() {
            let mut st = self.shared.lock();
            if let Some(s) = st.sessions.get_mut(&sid)
                && s.conn.as_ref().is_some_and(|c| c.id == self.id)
            {
                s.conn = None;
                s.disconnected_at = Some(Instant::now());
            }
            let ttl = self.shared.cfg.session_ttl;
            st.sessions.retain(|_, s| {
                s.conn.is_some() || s.disconnected_at.is_none_or(|at| at.elapsed() < ttl)
            });
        }
    }

    async fn close<S>(&mut self, sink: &mut S, code: u16, reason: &str)
    where
        S: futures::Sink<Message> + Unpin,
    {
        {
            let mut st = self.shared.lock();
            *st.stats.closes.entry(code).or_default() += 1;
            // Codes after which Discord does not let the session resume.
            if matches!(code, 4004 | 4007 | 4009 | 4010..=4014)
                && let Some(sid) = self.session.take()
            {
                st.sessions.remove(&sid);
            }
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.to_owned().into(),
            })))
            .await;
        let _ = sink.close().await;
    }

    async fn send_raw<S>(&mut self, sink: &mut S, v: &Value) -> bool
    where
        S: futures::Sink<Message> + Unpin,
    {
        let m = self.enc.encode(&v.to_string());
        if *self.shared.paused.borrow() {
            self.held.push_back(m);
            return true;
        }
        sink.send(m).await.is_ok()
    }

    async fn invalid_session<S>(&mut self, sink: &mut S, resumable: bool)
    where
        S: futures::Sink<Message> + Unpin,
    {
        {
            let mut st = self.shared.lock();
            st.stats.invalid_sessions += 1;
            if !resumable && let Some(sid) = self.session.take() {
                st.sessions.remove(&sid);
            }
        }
        self.pending_guilds.clear();
        let _ = self
            .send_raw(
                sink,
                &json!({"op": 9, "s": null, "t": null, "d": resumable}),
            )
            .await;
    }

    async fn on_message<S>(&mut self, msg: Message, sink: &mut S) -> Flow
    where
        S: futures::Sink<Message> + Unpin,
    {
        let text: String = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => match String::from_utf8(b.to_vec()) {
                Ok(s) => s,
                Err(_) => {
                    self.close(sink, 4002, "Error while decoding payload.")
                        .await;
                    return Flow::Stop;
                }
            },
            Message::Close(frame) => {
                // A normal closure (1000) or going away (1001) ends the session on Discord: the
                // bot goes offline and a later RESUME is refused. Any other code keeps it
                // resumable.
                if frame
                    .as_ref()
                    .is_some_and(|f| matches!(f.code, 1000 | 1001))
                    && let Some(sid) = self.session.take()
                {
                    self.shared.lock().sessions.remove(&sid);
                }
                // Echo the client's close frame, as Discord does, completing the handshake
                // (a client waiting for it can then resume elsewhere without a timeout).
                let _ = sink.send(Message::Close(frame)).await;
                return Flow::Stop;
            }
            Message::Ping(_) | Message::Pong(_) => return Flow::Continue,
        };
        let now = Instant::now();
        let window = self.shared.cfg.gateway_send_window;
        while self
            .sends
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.sends.pop_front();
        }
        self.sends.push_back(now);
        if self.sends.len() > self.shared.cfg.gateway_send_limit as usize {
            self.close(sink, 4008, "Rate limited.").await;
            return Flow::Stop;
        }
        if text.len() > MAX_PAYLOAD {
            self.close(sink, 4002, "Error while decoding payload.")
                .await;
            return Flow::Stop;
        }
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            self.close(sink, 4002, "Error while decoding payload.")
                .await;
            return Flow::Stop;
        };
        let Some(op) = v.get("op").and_then(Value::as_u64) else {
            self.close(sink, 4002, "Error while decoding payload.")
                .await;
            return Flow::Stop;
        };
        let d = v.get("d").cloned().unwrap_or(Value::Null);
        match op {
            1 => {
                let hb = self.shared.cfg.heartbeat_interval;
                self.hb_deadline = Instant::now() + hb + hb / 2 + Duration::from_secs(5);
                if let Some(sid) = &self.session
                    && let Some(s) = self.shared.lock().sessions.get_mut(sid)
                {
                    s.last_heartbeat = Some(Instant::now());
                }
                if self.acks
                    && !self
                        .send_raw(sink, &json!({"op": 11, "s": null, "t": null, "d": null}))
                        .await
                {
                    return Flow::Stop;
                }
                Flow::Continue
            }
            2 => self.identify(d, sink).await,
            6 => self.resume(d, sink).await,
            3 | 4 | 8 if self.session.is_none() => {
                self.close(sink, 4003, "Not authenticated.").await;
                Flow::Stop
            }
            3 if !valid_presence(&d) => {
                self.close(sink, 4002, "Error while decoding payload.")
                    .await;
                Flow::Stop
            }
            3 => {
                let sid = self.session.clone().unwrap_or_default();
                let mut st = self.shared.lock();
                st.stats.presence_updates += 1;
                let shard = st.sessions.get(&sid).map(|s| s.shard).unwrap_or([0, 1]);
                st.presences.insert(
                    format!("{}/{}", shard[0], shard[1]),
                    json!({"shard": shard, "session_id": sid, "presence": d, "at": iso(now_ms())}),
                );
                Flow::Continue
            }
            4 => Flow::Continue,
            8 => self.request_members(d, sink).await,
            _ => {
                self.close(sink, 4001, "Unknown opcode.").await;
                Flow::Stop
            }
        }
    }

    async fn identify<S>(&mut self, d: Value, sink: &mut S) -> Flow
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
        if token != cfg.token {
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
        if !cfg.privileged_intents && intents_bits & intents::PRIVILEGED != 0 {
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
        self.large_threshold = d
            .get("large_threshold")
            .and_then(Value::as_u64)
            .unwrap_or(50)
            .clamp(50, 250);
        let guilds = self.shared.guilds_on_shard(shard);
        if guilds.len() > MAX_GUILDS_PER_SHARD {
            self.close(sink, 4011, "Sharding required.").await;
            return Flow::Stop;
        }
        // Identify concurrency and session starts.
        let sid = {
            let shared = self.shared.clone();
            let mut st = shared.lock();
            let bucket = shard[0] % cfg.max_concurrency.max(1);
            let remaining = shared.session_starts_remaining(&mut st);
            if remaining == 0 || bucket_wait(&st, bucket, cfg.identify_window).is_some() {
                st.stats.identifies_refused += 1;
                let why = if remaining == 0 {
                    "no session starts left"
                } else {
                    "identify bucket busy"
                };
                st.stats.refused_identifies.push(IdentifyRecord {
                    shard,
                    at_ms: now_ms(),
                    session_id: why.to_owned(),
                });
                None
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
                st.sessions.insert(
                    sid.clone(),
                    Session {
                        id: sid.clone(),
                        shard,
                        intents: intents_bits,
                        seq: 0,
                        buffer: VecDeque::new(),
                        conn: Some(ConnHandle {
                            id: self.id,
                            tx: self.tx.clone(),
                        }),
                        disconnected_at: None,
                        ready: true,
                        last_heartbeat: None,
                    },
                );
                let ready = json!({
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
                });
                st.push(&sid, "READY", &ready.to_string());
                Some(sid)
            }
        };
        let Some(sid) = sid else {
            self.invalid_session(sink, false).await;
            return Flow::Continue;
        };
        self.session = Some(sid);
        if intents_bits & intents::GUILDS != 0 {
            self.pending_guilds = guilds.into();
        }
        Flow::Continue
    }

    fn next_guild_create(&mut self) {
        let Some(gid) = self.pending_guilds.pop_front() else {
            return;
        };
        let Some(sid) = self.session.clone() else {
            return;
        };
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let Some(g) = st.guild(&shared.world, gid) else {
            return;
        };
        let d = g.to_create_json(self.large_threshold).to_string();
        st.push(&sid, "GUILD_CREATE", &d);
        st.stats.guild_creates += 1;
        *st.guild_deliveries.entry(gid).or_default() += 1;
    }

    async fn resume<S>(&mut self, d: Value, sink: &mut S) -> Flow
    where
        S: futures::Sink<Message> + Unpin,
    {
        if self.session.is_some() {
            self.close(sink, 4005, "Already authenticated.").await;
            return Flow::Stop;
        }
        let token = d.get("token").and_then(Value::as_str).unwrap_or("");
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        if token != self.shared.cfg.token {
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
                    let old = s.conn.replace(ConnHandle {
                        id: self.id,
                        tx: self.tx.clone(),
                    });
                    s.disconnected_at = None;
                    for (n, frame) in &s.buffer {
                        if *n > seq {
                            let _ = self.tx.send(ConnCmd::Frame(frame.clone()));
                        }
                    }
                    let shard = s.shard[0];
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

    async fn request_members<S>(&mut self, d: Value, sink: &mut S) -> Flow
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

/// Remaining identify info for `/gateway/bot`.
pub(crate) fn session_start_limit(shared: &Shared, st: &mut State) -> Value {
    let remaining = shared.session_starts_remaining(st);
    json!({
        "total": shared.cfg.session_start_total,
        "remaining": remaining,
        "reset_after": shared.session_reset_after_ms(st),
        "max_concurrency": shared.cfg.max_concurrency,
    })
}

/// Whether an Update Presence payload (opcode 3) has the fields Discord requires: `since`
/// (integer or null), `activities` (objects with a string `name` and a bot-usable `type`
/// 0–5), `status` (online, dnd, idle, invisible, offline) and `afk`.
fn valid_presence(d: &Value) -> bool {
    let since_ok = d.get("since").is_some_and(|v| v.is_null() || v.is_u64());
    let status_ok = d
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| matches!(s, "online" | "dnd" | "idle" | "invisible" | "offline"));
    let afk_ok = d.get("afk").is_some_and(Value::is_boolean);
    let activities_ok = d
        .get("activities")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter().all(|act| {
                act.get("name").is_some_and(Value::is_string)
                    && act
                        .get("type")
                        .and_then(Value::as_u64)
                        .is_some_and(|t| t <= 5)
            })
        });
    since_ok && status_ok && afk_ok && activities_ok
}
