//! Counters in MongoDB: the per-guild case-number counter (`counters`, a hint that the
//! unique `(guild_id, number)` index backs) and the hourly analytics buckets (`analytics`,
//! one document per increment, summed when read).

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;

use super::codec::{get_u64, id64};
use super::{MongoStore, backoff, mongo_err};
use crate::store::{AnalyticsStore, CounterBucket, StoreError, StoreErrorKind, validate_metric};

impl MongoStore {
    /// Hands out the next number from the counter (a hint; see the type docs).
    pub(super) async fn counter_next(&self, guild_id: u64) -> Result<u64, StoreError> {
        let mut attempt = 0;
        loop {
            let res = self
                .counters
                .find_one_and_update(
                    doc! {"_id": format!("case:{guild_id}")},
                    doc! {"$inc": {"seq": 1_i64}},
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await;
            match res {
                Ok(Some(d)) => {
                    return get_u64(&d, "seq").filter(|n| *n > 0).ok_or_else(|| {
                        StoreError::corrupt(format!("case counter of guild {guild_id} is bad"))
                    });
                }
                Ok(None) => {
                    return Err(StoreError::unavailable(
                        "mongodb taking a case number: upsert returned nothing",
                    ));
                }
                Err(e) => {
                    let err = mongo_err("taking a case number", e);
                    attempt += 1;
                    if err.kind() != StoreErrorKind::Duplicate || attempt >= 8 {
                        return Err(err);
                    }
                    backoff(attempt).await;
                }
            }
        }
    }

    /// The highest case number stored for the guild (0 when none).
    pub(super) async fn max_case_number(&self, guild_id: u64) -> Result<u64, StoreError> {
        let d = self
            .cases
            .find_one(doc! {"guild_id": id64(guild_id)?})
            .sort(doc! {"number": -1})
            .projection(doc! {"number": 1})
            .await
            .map_err(|e| mongo_err("reading the last case number", e))?;
        Ok(d.and_then(|d| get_u64(&d, "number")).unwrap_or(0))
    }
}

#[async_trait]
impl AnalyticsStore for MongoStore {
    async fn incr_counter(
        &self,
        guild_id: u64,
        metric: &str,
        hour: u64,
        by: u64,
    ) -> Result<u64, StoreError> {
        validate_metric(metric)?;
        let filter = doc! {"guild_id": id64(guild_id)?, "metric": metric, "hour": id64(hour)?};
        let mut d = filter.clone();
        d.insert("by", id64(by)?);
        self.analytics
            .insert_one(d)
            .await
            .map_err(|e| mongo_err("incrementing a counter", e))?;
        let docs: Vec<Document> = self
            .analytics
            .find(filter)
            .projection(doc! {"by": 1})
            .await
            .map_err(|e| mongo_err("reading a counter", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading a counter", e))?;
        Ok(docs
            .iter()
            .filter_map(|d| get_u64(d, "by"))
            .fold(0u64, u64::saturating_add))
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
        let docs: Vec<Document> = self
            .analytics
            .find(doc! {
                "guild_id": id64(guild_id)?,
                "metric": metric,
                "hour": {"$gte": id64(from_hour)?, "$lte": id64(to_hour)?},
            })
            .projection(doc! {"hour": 1, "by": 1})
            .await
            .map_err(|e| mongo_err("reading counters", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading counters", e))?;
        let mut sums = std::collections::BTreeMap::<u64, u64>::new();
        for d in &docs {
            let (Some(hour), Some(by)) = (get_u64(d, "hour"), get_u64(d, "by")) else {
                return Err(StoreError::corrupt("analytics record is unreadable"));
            };
            let v = sums.entry(hour).or_default();
            *v = v.saturating_add(by);
        }
        Ok(sums
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(hour, value)| CounterBucket { hour, value })
            .collect())
    }
}
