//! Schedules in MongoDB: one `schedules` document per generation of a slot, whose life
//! (claims, the end) is recorded by inserts into `schedule_events`; the `state` fields of
//! `schedules` are a projection for finding due schedules.

use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};

use super::codec::{
    ScheduleDoc, claim_id, end_id, from_doc, get_u64, id64, schedule_doc_id, to_bson,
};
use super::{MongoStore, backoff, mongo_err};
use crate::store::{
    DueScope, NewSchedule, Schedule, ScheduleId, ScheduleKind, ScheduleOutcome, ScheduleState,
    ScheduleStore, StoreError, Timestamp, slot_key,
};

/// What the event records say about one schedule generation.
#[derive(Debug, Default)]
struct Events {
    /// The end record, already as a state.
    end: Option<ScheduleState>,
    /// The latest claim: (n, owner, lease_until).
    claim: Option<(u64, String, Timestamp)>,
}

impl Events {
    /// The state these records give the generation.
    fn state(&self) -> ScheduleState {
        if let Some(end) = &self.end {
            return end.clone();
        }
        match &self.claim {
            Some((_, owner, lease_until)) => ScheduleState::Running {
                owner: owner.clone(),
                lease_until: *lease_until,
            },
            None => ScheduleState::Pending,
        }
    }
}

impl MongoStore {
    /// The newest generation's document of the slot.
    async fn latest_generation(&self, slot: &str) -> Result<Option<Document>, StoreError> {
        self.schedules
            .find_one(doc! {"slot": slot})
            .sort(doc! {"generation": -1})
            .await
            .map_err(|e| mongo_err("reading a schedule", e))
    }

    /// Whether a newer generation of the slot exists.
    async fn superseded(&self, slot: &str, generation: u64) -> Result<bool, StoreError> {
        Ok(self
            .schedules
            .find_one(doc! {"slot": slot, "generation": {"$gt": id64(generation)?}})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| mongo_err("reading a schedule", e))?
            .is_some())
    }

    /// What the event records of one generation say.
    async fn events(&self, slot: &str, generation: u64) -> Result<Events, StoreError> {
        let docs: Vec<Document> = self
            .events
            .find(doc! {"slot": slot, "generation": id64(generation)?})
            .await
            .map_err(|e| mongo_err("reading schedule events", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading schedule events", e))?;
        let mut ev = Events::default();
        for d in docs {
            match d.get_str("type") {
                Ok("end") => {
                    let at = Timestamp::from_unix_millis(d.get_i64("at").unwrap_or(0));
                    ev.end = Some(match d.get_str("state") {
                        Ok("done") => {
                            let outcome = match d.get("outcome") {
                                Some(Bson::Document(o)) => from_doc(o.clone(), "outcome")?,
                                _ => return Err(StoreError::corrupt("schedule end lacks outcome")),
                            };
                            ScheduleState::Done {
                                owner: d.get_str("owner").unwrap_or_default().to_owned(),
                                outcome,
                                completed_at: at,
                            }
                        }
                        _ => ScheduleState::Cancelled { cancelled_at: at },
                    });
                }
                Ok("claim") => {
                    let n = get_u64(&d, "n").unwrap_or(0);
                    if ev.claim.as_ref().is_none_or(|(m, _, _)| n > *m) {
                        ev.claim = Some((
                            n,
                            d.get_str("owner").unwrap_or_default().to_owned(),
                            Timestamp::from_unix_millis(d.get_i64("lease_until").unwrap_or(0)),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(ev)
    }

    /// A schedule document with its state from the event records.
    async fn resolve(&self, d: Document) -> Result<Schedule, StoreError> {
        let sd: ScheduleDoc = from_doc(d, "schedule")?;
        let slot = slot_key(sd.guild_id, sd.user_id, sd.kind);
        let state = self.events(&slot, sd.generation).await?.state();
        Ok(Schedule {
            id: ScheduleId {
                guild_id: sd.guild_id,
                user_id: sd.user_id,
                kind: sd.kind,
                generation: sd.generation,
            },
            due_at: sd.due_at,
            case_number: sd.case_number,
            state,
        })
    }

    /// Best-effort update of the query projection of a schedule document.
    async fn project(&self, slot: &str, generation: u64, set: Document, unset: &[&str]) {
        let mut update = doc! {"$set": set};
        if !unset.is_empty() {
            let mut u = Document::new();
            for k in unset {
                u.insert(*k, "");
            }
            update.insert("$unset", u);
        }
        let _ = self
            .schedules
            .update_one(doc! {"_id": schedule_doc_id(slot, generation)}, update)
            .await;
    }

    /// Best-effort update of the projection to `state`.
    async fn project_state(&self, slot: &str, generation: u64, state: &ScheduleState) {
        match state {
            ScheduleState::Pending => {
                self.project(
                    slot,
                    generation,
                    doc! {"state": "pending"},
                    &["owner", "lease_until"],
                )
                .await;
            }
            ScheduleState::Running { owner, lease_until } => {
                self.project(
                    slot,
                    generation,
                    doc! {"state": "running", "owner": owner, "lease_until": lease_until.unix_millis()},
                    &[],
                )
                .await;
            }
            ScheduleState::Done { .. } => {
                self.project(slot, generation, doc! {"state": "done"}, &["lease_until"])
                    .await;
            }
            ScheduleState::Cancelled { .. } => {
                self.project(
                    slot,
                    generation,
                    doc! {"state": "cancelled"},
                    &["lease_until"],
                )
                .await;
            }
        }
    }
}

#[async_trait]
impl ScheduleStore for MongoStore {
    async fn put_schedule(&self, schedule: NewSchedule) -> Result<Schedule, StoreError> {
        let slot = slot_key(schedule.guild_id, schedule.user_id, schedule.kind);
        let case_number = match schedule.case_number {
            Some(n) => Bson::Int64(id64(n)?),
            None => Bson::Null,
        };
        for attempt in 0..32 {
            let latest = self.latest_generation(&slot).await?;
            let generation = latest
                .as_ref()
                .and_then(|d| get_u64(d, "generation"))
                .unwrap_or(0)
                + 1;
            let d = doc! {
                "_id": schedule_doc_id(&slot, generation),
                "slot": &slot,
                "guild_id": id64(schedule.guild_id)?,
                "user_id": id64(schedule.user_id)?,
                "kind": schedule.kind.as_str(),
                "generation": id64(generation)?,
                "due_at": schedule.due_at.unix_millis(),
                "case_number": case_number.clone(),
                "state": "pending",
            };
            if self
                .insert_unique(&self.schedules, d, "storing a schedule")
                .await?
            {
                // Projection only: earlier generations are superseded by this one existing.
                let _ = self
                    .schedules
                    .update_many(
                        doc! {
                            "slot": &slot,
                            "generation": {"$lt": id64(generation)?},
                            "state": {"$in": ["pending", "running"]},
                        },
                        doc! {"$set": {"state": "replaced"}, "$unset": {"lease_until": ""}},
                    )
                    .await;
                return Ok(Schedule {
                    id: ScheduleId {
                        guild_id: schedule.guild_id,
                        user_id: schedule.user_id,
                        kind: schedule.kind,
                        generation,
                    },
                    due_at: schedule.due_at,
                    case_number: schedule.case_number,
                    state: ScheduleState::Pending,
                });
            }
            backoff(attempt).await;
        }
        Err(StoreError::unavailable(format!(
            "schedule slot {slot} keeps changing; not stored"
        )))
    }

    async fn get_schedule(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<Option<Schedule>, StoreError> {
        match self
            .latest_generation(&slot_key(guild_id, user_id, kind))
            .await?
        {
            Some(d) => Ok(Some(self.resolve(d).await?)),
            None => Ok(None),
        }
    }

    async fn cancel_schedules(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<u64, StoreError> {
        let slot = slot_key(guild_id, user_id, kind);
        let Some(latest) = self.latest_generation(&slot).await? else {
            return Ok(0);
        };
        let generation = get_u64(&latest, "generation")
            .ok_or_else(|| StoreError::corrupt("schedule without generation"))?;
        let at = Timestamp::now();
        let d = doc! {
            "_id": end_id(&slot, generation),
            "slot": &slot,
            "generation": id64(generation)?,
            "type": "end",
            "state": "cancelled",
            "at": at.unix_millis(),
        };
        if !self
            .insert_unique(&self.events, d, "cancelling a schedule")
            .await?
        {
            return Ok(0);
        }
        self.project_state(
            &slot,
            generation,
            &ScheduleState::Cancelled { cancelled_at: at },
        )
        .await;
        Ok(1)
    }

    async fn due_schedules(
        &self,
        now: Timestamp,
        scope: &DueScope,
        limit: usize,
    ) -> Result<Vec<Schedule>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now_ms = now.unix_millis();
        let candidates: Vec<Document> = self
            .schedules
            .find(doc! {
                "due_at": {"$lte": now_ms},
                "$or": [
                    {"state": "pending"},
                    {"state": "running", "lease_until": {"$lt": now_ms}},
                ],
            })
            .sort(doc! {"due_at": 1, "_id": 1})
            .await
            .map_err(|e| mongo_err("listing due schedules", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("listing due schedules", e))?;
        let mut out = Vec::new();
        for d in candidates {
            let (Some(guild), Ok(slot)) = (get_u64(&d, "guild_id"), d.get_str("slot")) else {
                continue;
            };
            if !scope.contains(guild) {
                continue;
            }
            let slot = slot.to_owned();
            let s = self.resolve(d).await?;
            if self.superseded(&slot, s.id.generation).await? {
                self.project(
                    &slot,
                    s.id.generation,
                    doc! {"state": "replaced"},
                    &["lease_until"],
                )
                .await;
                continue;
            }
            if s.due_at_time(now) {
                out.push(s);
                if out.len() >= limit {
                    break;
                }
            } else {
                // The projection lagged behind the event records; bring it up to date.
                self.project_state(&slot, s.id.generation, &s.state).await;
            }
        }
        Ok(out)
    }

    async fn claim_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let slot = id.slot_key();
        let exists = self
            .schedules
            .find_one(doc! {"_id": schedule_doc_id(&slot, id.generation)})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| mongo_err("reading a schedule", e))?
            .is_some();
        if !exists || self.superseded(&slot, id.generation).await? {
            return Ok(false);
        }
        let ev = self.events(&slot, id.generation).await?;
        let now = Timestamp::now();
        if ev.end.is_some() {
            return Ok(false);
        }
        let n = match &ev.claim {
            Some((_, _, lease_until)) if *lease_until >= now => return Ok(false),
            Some((n, _, _)) => n + 1,
            None => 1,
        };
        let lease_until = now.plus(lease);
        let d = doc! {
            "_id": claim_id(&slot, id.generation, n),
            "slot": &slot,
            "generation": id64(id.generation)?,
            "type": "claim",
            "n": id64(n)?,
            "owner": owner,
            "lease_until": lease_until.unix_millis(),
            "at": now.unix_millis(),
        };
        if !self
            .insert_unique(&self.events, d, "claiming a schedule")
            .await?
        {
            return Ok(false);
        }
        // The claim counts only if the schedule was not ended or replaced meanwhile.
        if self.events(&slot, id.generation).await?.end.is_some()
            || self.superseded(&slot, id.generation).await?
        {
            return Ok(false);
        }
        self.project_state(
            &slot,
            id.generation,
            &ScheduleState::Running {
                owner: owner.to_owned(),
                lease_until,
            },
        )
        .await;
        Ok(true)
    }

    async fn complete_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        outcome: ScheduleOutcome,
    ) -> Result<bool, StoreError> {
        let slot = id.slot_key();
        let ev = self.events(&slot, id.generation).await?;
        let mine = matches!(&ev.claim, Some((_, o, _)) if o == owner);
        if ev.end.is_some() || !mine || self.superseded(&slot, id.generation).await? {
            return Ok(false);
        }
        let at = Timestamp::now();
        let d = doc! {
            "_id": end_id(&slot, id.generation),
            "slot": &slot,
            "generation": id64(id.generation)?,
            "type": "end",
            "state": "done",
            "owner": owner,
            "outcome": to_bson(&outcome)?,
            "at": at.unix_millis(),
        };
        if !self
            .insert_unique(&self.events, d, "completing a schedule")
            .await?
        {
            return Ok(false);
        }
        self.project_state(
            &slot,
            id.generation,
            &ScheduleState::Done {
                owner: owner.to_owned(),
                outcome,
                completed_at: at,
            },
        )
        .await;
        Ok(true)
    }
}
