//! Gateway faults of `POST /_sim/faults` (kinds `slow_ready`, `invalidation_storm`,
//! `delivery`): sets what [`crate::gwfaults`] keeps and tells live connections.

use crate::gwfaults::{Delivery, GatewayFaults, applies};
use crate::state::{ConnCmd, Shared};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

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
