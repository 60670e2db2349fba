//! A raw gateway client for protocol tests (tokio-tungstenite), with the same transport
//! decompression twilight does.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use zstd::zstd_safe;

pub enum Decomp {
    None,
    Zlib(flate2::Decompress),
    Zstd(zstd_safe::DCtx<'static>),
}

pub struct Gw {
    pub ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    dec: Decomp,
    /// Every text payload received, decompressed.
    pub log: Vec<String>,
}

/// What came next from the gateway.
#[derive(Debug)]
pub enum Next {
    Payload(Value),
    Closed(Option<u16>),
}

impl Gw {
    pub async fn connect(base: &str, compress: Option<&str>) -> Self {
        let url = match compress {
            Some(c) => format!("{base}/?v=10&encoding=json&compress={c}"),
            None => format!("{base}/?v=10&encoding=json"),
        };
        let (ws, _) = connect_async(url).await.expect("ws connect");
        let dec = match compress {
            Some("zlib-stream") => Decomp::Zlib(flate2::Decompress::new(true)),
            Some("zstd-stream") => Decomp::Zstd(zstd_safe::DCtx::create()),
            _ => Decomp::None,
        };
        Self {
            ws,
            dec,
            log: Vec::new(),
        }
    }

    pub async fn connect_url(url: &str) -> Self {
        let (ws, _) = connect_async(url).await.expect("ws connect");
        Self {
            ws,
            dec: Decomp::None,
            log: Vec::new(),
        }
    }

    fn decode(&mut self, data: &[u8]) -> String {
        match &mut self.dec {
            Decomp::None => String::from_utf8(data.to_vec()).unwrap(),
            Decomp::Zlib(d) => {
                let mut out = Vec::with_capacity(data.len() * 8 + 1024);
                let start = d.total_in();
                loop {
                    let used = (d.total_in() - start) as usize;
                    if out.capacity() == out.len() {
                        out.reserve(out.capacity());
                    }
                    d.decompress_vec(&data[used..], &mut out, flate2::FlushDecompress::Sync)
                        .unwrap();
                    if (d.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
                        break;
                    }
                }
                String::from_utf8(out).unwrap()
            }
            Decomp::Zstd(d) => {
                let mut input = zstd_safe::InBuffer::around(data);
                let mut out = Vec::new();
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    let mut ob = zstd_safe::OutBuffer::around(buf.as_mut_slice());
                    d.decompress_stream(&mut ob, &mut input).unwrap();
                    let n = ob.pos();
                    out.extend_from_slice(&buf[..n]);
                    if input.pos == data.len() && n < buf.len() {
                        break;
                    }
                }
                String::from_utf8(out).unwrap()
            }
        }
    }

    /// The next payload or the close, within 10 s.
    pub async fn next(&mut self) -> Next {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("gateway answers within 10 s");
            match m {
                None => return Next::Closed(None),
                Some(Err(_)) => return Next::Closed(None),
                Some(Ok(Message::Close(f))) => return Next::Closed(f.map(|f| u16::from(f.code))),
                Some(Ok(Message::Text(t))) => {
                    let s = t.to_string();
                    self.log.push(s.clone());
                    return Next::Payload(serde_json::from_str(&s).unwrap());
                }
                Some(Ok(Message::Binary(b))) => {
                    let s = self.decode(&b);
                    self.log.push(s.clone());
                    return Next::Payload(serde_json::from_str(&s).unwrap());
                }
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn payload(&mut self) -> Value {
        match self.next().await {
            Next::Payload(v) => v,
            Next::Closed(c) => panic!("closed with {c:?} while a payload was expected"),
        }
    }

    /// Waits for a dispatch named `t`, skipping others.
    pub async fn dispatch(&mut self, t: &str) -> Value {
        loop {
            let v = self.payload().await;
            if v["op"] == 0 && v["t"] == t {
                return v;
            }
        }
    }

    /// Waits for the close code, skipping payloads.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            if let Next::Closed(c) = self.next().await {
                return c;
            }
        }
    }

    pub async fn send(&mut self, v: &Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, s: String) {
        self.ws.send(Message::Text(s.into())).await.unwrap();
    }

    /// HELLO then IDENTIFY for `shard` with `intents`.
    pub async fn identify(&mut self, token: &str, shard: [u32; 2], intents: u64) {
        let hello = self.payload().await;
        assert_eq!(hello["op"], 10);
        self.send(&identify(token, shard, intents)).await;
    }
}

pub fn identify(token: &str, shard: [u32; 2], intents: u64) -> Value {
    json!({"op": 2, "d": {
        "token": token,
        "intents": intents,
        "shard": shard,
        "properties": {"os": "linux", "browser": "test", "device": "test"},
    }})
}

/// GUILDS, GUILD_MEMBERS, GUILD_MODERATION, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT.
pub const INTENTS: u64 = 1 | 2 | 4 | (1 << 9) | (1 << 12) | (1 << 15);
