//! A TCP proxy on 127.0.0.1 that stands between one pod and a server (Redis, MongoDB) and can
//! delay, blackhole or cut that pod's connections, so a fault hits one pod only.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards everything.
    Pass,
    /// Forwards everything after this delay per chunk.
    Delay(Duration),
    /// Holds every byte (as a network that drops packets does, so TCP retransmits them
    /// later); new connections are accepted and held too.
    Blackhole,
    /// Closes new connections at once (existing ones go with [`Proxy::cut`]).
    Refuse,
}

/// One proxy: listens on [`Proxy::port`], forwards to the target.
pub struct Proxy {
    /// Where it listens (127.0.0.1).
    pub port: u16,
    mode: watch::Sender<(Mode, u64)>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `127.0.0.1:target`.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let (tx, rx) = watch::channel((Mode::Pass, 0u64));
        let accept = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) ends every connection.
            let mut pipes = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                while pipes.try_join_next().is_some() {}
                if rx.borrow().0 == Mode::Refuse {
                    drop(client);
                    continue;
                }
                let rx = rx.clone();
                pipes.spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    pipe(client, server, rx).await;
                });
            }
        });
        Self {
            port,
            mode: tx,
            accept,
        }
    }

    /// Sets what the proxy does from now on (held bytes go on when it passes again).
    pub fn set(&self, mode: Mode) {
        self.mode.send_modify(|m| m.0 = mode);
    }

    /// Closes every open connection (the pod sees a reset); the mode stays.
    pub fn cut(&self) {
        self.mode.send_modify(|m| m.1 += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn pipe(client: TcpStream, server: TcpStream, rx: watch::Receiver<(Mode, u64)>) {
    let epoch = rx.borrow().1;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = forward(cr, sw, rx.clone(), epoch);
    let down = forward(sr, cw, rx, epoch);
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

/// Copies `from` → `to` under the proxy's mode until either side closes or the connection
/// is cut.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut rx: watch::Receiver<(Mode, u64)>,
    epoch: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let cut = |rx: &watch::Receiver<(Mode, u64)>| rx.borrow().1 != epoch;
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = rx.changed() => {
                if cut(&rx) { return; }
                continue;
            }
        };
        // Hold the bytes while blackholed; give up when cut.
        loop {
            if cut(&rx) {
                return;
            }
            let mode = rx.borrow().0;
            match mode {
                Mode::Blackhole => {
                    let _ = tokio::time::timeout(Duration::from_millis(100), rx.changed()).await;
                }
                Mode::Delay(d) => {
                    tokio::time::sleep(d).await;
                    break;
                }
                Mode::Pass | Mode::Refuse => break,
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
