//! Analytics counters in the embedded store: one value per (guild, metric, hour).

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable};

use super::tables::COUNTERS;
use super::{EmbeddedStore, db_err};
use crate::store::{AnalyticsStore, CounterBucket, StoreError, validate_metric};

#[async_trait]
impl AnalyticsStore for EmbeddedStore {
    async fn incr_counter(
        &self,
        guild_id: u64,
        metric: &str,
        hour: u64,
        by: u64,
    ) -> Result<u64, StoreError> {
        validate_metric(metric)?;
        let metric = metric.to_owned();
        self.run(move |db| {
            let tx = db.begin_write().map_err(db_err)?;
            let value = {
                let mut t = tx.open_table(COUNTERS).map_err(db_err)?;
                let key = (guild_id, metric.as_str(), hour);
                let value = t
                    .get(key)
                    .map_err(db_err)?
                    .map_or(0, |v| v.value())
                    .saturating_add(by);
                t.insert(key, value).map_err(db_err)?;
                value
            };
            tx.commit().map_err(db_err)?;
            Ok(value)
        })
        .await
    }

    async fn counters(
        &self,
        guild_id: u64,
        metric: &str,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<CounterBucket>, StoreError> {
        validate_metric(metric)?;
        if from_hour > to_hour {
            return Ok(Vec::new());
        }
        let metric = metric.to_owned();
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let t = tx.open_table(COUNTERS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in t
                .range(
                    (guild_id, metric.as_str(), from_hour)..=(guild_id, metric.as_str(), to_hour),
                )
                .map_err(db_err)?
            {
                let (k, v) = entry.map_err(db_err)?;
                let value = v.value();
                if value > 0 {
                    out.push(CounterBucket {
                        hour: k.value().2,
                        value,
                    });
                }
            }
            Ok(out)
        })
        .await
    }
}
