//! Gateway faults beyond closes and drops: a slow READY, invalidation storms, delayed,
//! duplicated and reordered dispatches, slow heartbeat ACKs. Set through
//! `POST /_sim/faults` (kinds `slow_ready`, `invalidation_storm`, `delivery`).

use crate::gateway::Delivery;
use crate::state::{ConnCmd, Shared};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Faults that shape sessions made or resumed from now on.
#[derive(Debug, Default)]
pub(crate) struct GatewayFaults {
    /// IDENTIFY and RESUME get op 9 `false` until then (on one shard id, or all).
    storm: Option<(Instant, Option<u32>)>,
    /// READY is sent this long after IDENTIFY (heartbeats are still acknowledged).
    slow_ready: Option<(Duration, Option<u32>)>,
    /// How dispatches and ACKs are delivered on new and resumed connections.
    delivery: Option<(Delivery, Option<u32>)>,
}

fn applies(filter: Option<u32>, shard: u32) -> bool {
    filter.is_none_or(|s| s == shard)
}

impl GatewayFaults {
    /// Whether an invalidation storm refuses IDENTIFY and RESUME of `shard` now.
    pub fn storm_refuses(&self, shard: u32) -> bool {
        self.storm
            .is_some_and(|(until, f)| Instant::now() < until && applies(f, shard))
    }

    /// How long READY is held back for a new session of `shard`.
    pub fn ready_delay(&self, shard: u32) -> Option<Duration> {
        self.slow_ready
            .filter(|(_, f)| applies(*f, shard))
            .map(|(d, _)| d)
    }

    /// Delivery faults for a connection of `shard`.
    pub fn delivery(&self, shard: u32) -> Delivery {
        self.delivery
            .as_ref()
            .filter(|(_, f)| applies(*f, shard))
            .map(|(d, _)| d.clone())
            .unwrap_or_default()
    }
}

fn ms(b: &Value, key: &str) -> Result<Option<Duration>, String> {
    match b.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|m| *m <= 3_600_000)
            .map(|m| Some(Duration::from_millis(m)))
            .ok_or_else(|| format!("{key} must be milliseconds (0 to 3600000)")),
    }
}

fn flag(b: &Value, key: &str) -> Result<bool, String> {
    match b.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(v)) => Ok(*v),
        Some(_) => Err(format!("{key} must be a boolean")),
    }
}

/// Applies a gateway fault `kind` of `POST /_sim/faults`; `Ok(None)` when `kind` is not one
/// of these.
pub(crate) fn apply(
    sh: &Shared,
    kind: &str,
    b: &Value,
    shard: Option<u32>,
) -> Result<Option<Value>, String> {
    let mut st = sh.lock();
    match kind {
        "slow_ready" => {
            let d = ms(b, "ms")?.ok_or("slow_ready needs ms (0 turns it off)")?;
            st.gw_faults.slow_ready = (!d.is_zero()).then_some((d, shard));
            Ok(Some(
                json!({"affected": 1, "slow_ready_ms": d.as_millis() as u64}),
            ))
        }
        "invalidation_storm" => {
            let d = ms(b, "ms")?.ok_or("invalidation_storm needs ms")?;
            st.gw_faults.storm = Some((Instant::now() + d, shard));
            let mut affected = 0;
            for s in st.sessions.values() {
                if applies(shard, s.shard[0])
                    && let Some(c) = &s.conn
                {
                    let _ = c.tx.send(ConnCmd::InvalidSession(false));
                    affected += 1;
                }
            }
            Ok(Some(
                json!({"affected": affected, "refusing_ms": d.as_millis() as u64}),
            ))
        }
        "delivery" => {
            let d = Delivery {
                dispatch_delay: ms(b, "delay_ms")?.unwrap_or_default(),
                duplicate: flag(b, "duplicate")?,
                reorder: flag(b, "reorder")?,
                ack_delay: ms(b, "ack_delay_ms")?.unwrap_or_default(),
            };
            st.gw_faults.delivery = (d != Delivery::default()).then(|| (d.clone(), shard));
            let mut affected = 0;
            for s in st.sessions.values() {
                if applies(shard, s.shard[0])
                    && let Some(c) = &s.conn
                {
                    let _ = c.tx.send(ConnCmd::Delivery(d.clone()));
                    affected += 1;
                }
            }
            Ok(Some(json!({
                "affected": affected,
                "delay_ms": d.dispatch_delay.as_millis() as u64,
                "duplicate": d.duplicate,
                "reorder": d.reorder,
                "ack_delay_ms": d.ack_delay.as_millis() as u64,
            })))
        }
        _ => Ok(None),
    }
}

/// Clears every gateway fault of this module.
pub(crate) fn clear(sh: &Shared) {
    let mut st = sh.lock();
    st.gw_faults = GatewayFaults::default();
    for s in st.sessions.values() {
        if let Some(c) = &s.conn {
            let _ = c.tx.send(ConnCmd::Delivery(Delivery::default()));
        }
    }
}
