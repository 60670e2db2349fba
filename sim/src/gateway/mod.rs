//! The gateway: `ws://ADDR/?v=10&encoding=json[&compress=zstd-stream|zlib-stream]`.

mod encoder;
mod identify;
mod members;
mod stream;

pub(crate) use stream::with_guild_create;

use crate::gwfaults::Delivery;
use crate::state::{ConnCmd, ConnGuard, Shared, State};
use crate::util::{iso, now_ms};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use encoder::Encoder;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Discord's limit on one client payload.
pub const MAX_PAYLOAD: usize = 4096;
/// Discord's limit on guilds per shard.
pub const MAX_GUILDS_PER_SHARD: usize = 2500;

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
    let Some(encoder) = Encoder::for_compress(q.get("compress").map(String::as_str)) else {
        return (StatusCode::BAD_REQUEST, "unsupported compress").into_response();
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
    /// What this session's GUILD_CREATEs carry.
    view: crate::frames::CreateView,
    /// `resume_gateway_url` announced in READY.
    resume_url: String,
    /// A command taken while draining frames, handled next turn.
    deferred: Option<ConnCmd>,
    /// Delivery faults in force.
    delivery: Delivery,
    /// Frames held back by a delay fault, by when they are due.
    delayed: VecDeque<(Instant, Arc<str>)>,
    /// A dispatch waiting for the next one to be sent after it (reorder fault).
    reorder_slot: Option<Arc<str>>,
    /// When a lone reordered dispatch is sent anyway.
    reorder_deadline: Option<Instant>,
    /// When a READY held back by a slow-READY fault is sent.
    ready_at: Option<Instant>,
    /// That READY's `d`.
    ready_frame: Option<String>,
    /// Frames queued on `tx` not yet taken (shared with the session's handle).
    backlog: Arc<std::sync::atomic::AtomicUsize>,
}

/// How long a reordered dispatch waits for a successor to swap with.
const REORDER_WAIT: Duration = Duration::from_millis(100);

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
            view: crate::frames::CreateView::default(),
            resume_url,
            deferred: None,
            delivery: Delivery::default(),
            delayed: VecDeque::new(),
            reorder_slot: None,
            reorder_deadline: None,
            ready_at: None,
            ready_frame: None,
            backlog: Arc::default(),
        }
    }

    /// The handle a session keeps to this connection.
    fn handle(&self) -> crate::state::ConnHandle {
        crate::state::ConnHandle {
            id: self.id,
            tx: self.tx.clone(),
            backlog: self.backlog.clone(),
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
        let far = || Instant::now() + Duration::from_secs(86_400);
        loop {
            let is_paused = *paused.borrow();
            let mut out: Vec<Message> = Vec::new();
            let mut cmd: Option<ConnCmd> = None;
            let delayed_at = self.delayed.front().map_or_else(far, |d| d.0);
            let reorder_at = self.reorder_deadline.unwrap_or_else(far);
            let ready_at = self.ready_at.unwrap_or_else(far);
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
                () = std::future::ready(()), if self.deferred.is_some() => {
                    cmd = self.deferred.take();
                }
                c = self.rx.recv(), if self.deferred.is_none() => {
                    let Some(c) = c else { break };
                    cmd = Some(c);
                }
                () = tokio::time::sleep_until(self.hb_deadline.into()) => {
                    self.close(&mut sink, 4009, "Session timed out").await;
                    break;
                }
                () = tokio::time::sleep_until(delayed_at.into()), if !self.delayed.is_empty() => {
                    let now = Instant::now();
                    while self.delayed.front().is_some_and(|d| d.0 <= now) {
                        let (_, text) = self.delayed.pop_front().expect("checked");
                        out.push(self.enc.encode(&text));
                    }
                }
                () = tokio::time::sleep_until(reorder_at.into()), if self.reorder_slot.is_some() => {
                    self.reorder_deadline = None;
                    if let Some(text) = self.reorder_slot.take() {
                        self.stage(text, &mut out);
                    }
                }
                () = tokio::time::sleep_until(ready_at.into()), if self.ready_at.is_some() => {
                    self.ready_at = None;
                    self.send_delayed_ready();
                    continue;
                }
                () = std::future::ready(()), if !self.pending_guilds.is_empty() && !is_paused && self.ready_at.is_none() => {
                    self.next_guild_creates();
                    continue;
                }
            }
            if let Some(cmd) = cmd {
                match cmd {
                    ConnCmd::Frame(f) => {
                        self.backlog.fetch_sub(1, Ordering::Relaxed);
                        self.deliver(f, &mut out);
                        self.drain_frames(&mut out);
                    }
                    ConnCmd::ReplayGuildCreate { seq, guild, view } => {
                        self.backlog.fetch_sub(1, Ordering::Relaxed);
                        let f = self.replay_guild_create(seq, guild, view);
                        self.deliver(Arc::from(f), &mut out);
                        self.drain_frames(&mut out);
                    }
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
                        out.push(self.enc.encode(r#"{"op":1,"s":null,"t":null,"d":null}"#));
                    }
                    ConnCmd::Drop => break,
                    ConnCmd::StopAcks(stop) => {
                        self.acks = !stop;
                        continue;
                    }
                    ConnCmd::Delivery(d) => {
                        self.delivery = d;
                        continue;
                    }
                }
            }
            if out.is_empty() {
                continue;
            }
            if is_paused {
                self.held.extend(out);
                continue;
            }
            let mut failed = false;
            for m in out {
                if sink.feed(m).await.is_err() {
                    failed = true;
                    break;
                }
            }
            if failed || sink.flush().await.is_err() {
                break;
            }
        }
        self.detach();
    }

    /// Takes more queued frames (up to a batch) so they are written with one flush; stops at
    /// the first other command, kept for the next turn.
    fn drain_frames(&mut self, out: &mut Vec<Message>) {
        for _ in 0..255 {
            match self.rx.try_recv() {
                Ok(ConnCmd::Frame(f)) => {
                    self.backlog.fetch_sub(1, Ordering::Relaxed);
                    self.deliver(f, out);
                }
                Ok(ConnCmd::ReplayGuildCreate { seq, guild, view }) => {
                    self.backlog.fetch_sub(1, Ordering::Relaxed);
                    let f = self.replay_guild_create(seq, guild, view);
                    self.deliver(Arc::from(f), out);
                }
                Ok(other) => {
                    self.deferred = Some(other);
                    return;
                }
                Err(_) => return,
            }
        }
    }

    /// One dispatch through the delivery faults: reordered in swapped pairs, then
    /// [`Conn::stage`]d.
    fn deliver(&mut self, text: Arc<str>, out: &mut Vec<Message>) {
        if self.delivery.reorder {
            match self.reorder_slot.take() {
                Some(prev) => {
                    self.reorder_deadline = None;
                    self.stage(text, out);
                    self.stage(prev, out);
                }
                None => {
                    self.reorder_slot = Some(text);
                    self.reorder_deadline = Some(Instant::now() + REORDER_WAIT);
                }
            }
            return;
        }
        self.stage(text, out);
    }

    /// Sends `text` now (twice when duplicating), or after the dispatch delay.
    fn stage(&mut self, text: Arc<str>, out: &mut Vec<Message>) {
        let copies = if self.delivery.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            if self.delivery.dispatch_delay.is_zero() {
                out.push(self.enc.encode(&text));
            } else {
                let at = Instant::now() + self.delivery.dispatch_delay;
                self.delay(at, text.clone());
            }
        }
    }

    /// Queues `text` to be sent at `at`, after everything due earlier.
    fn delay(&mut self, at: Instant, text: Arc<str>) {
        let pos = self
            .delayed
            .iter()
            .rposition(|d| d.0 <= at)
            .map_or(0, |p| p + 1);
        self.delayed.insert(pos, (at, text));
    }

    fn detach(&mut self) {
        if let Some(sid) = self.session.take() {
            let mut st = self.shared.lock();
            if let Some(s) = st.sessions.get_mut(&sid)
                && s.conn.as_ref().is_some_and(|c| c.id == self.id)
            {
                s.conn = None;
                s.disconnected_at = Some(Instant::now());
                // GUILD_CREATEs not streamed yet follow the session to its next connection.
                s.pending_guilds = std::mem::take(&mut self.pending_guilds);
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
                const ACK: &str = r#"{"op":11,"s":null,"t":null,"d":null}"#;
                if self.acks && !self.delivery.ack_delay.is_zero() {
                    let at = Instant::now() + self.delivery.ack_delay;
                    self.delay(at, Arc::from(ACK));
                } else if self.acks
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
