//! Schedules in the embedded store: one JSON record per (guild, user, kind) slot, changed
//! inside one write transaction.

use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable};

use super::tables::SCHEDULES;
use super::{EmbeddedStore, db_err, decode, encode};
use crate::store::{
    DueScope, NewSchedule, Schedule, ScheduleId, ScheduleKind, ScheduleOutcome, ScheduleRecord,
    ScheduleState, ScheduleStore, StoreError, Timestamp, slot_key,
};

/// The record of the slot `key`.
fn read_schedule(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<ScheduleRecord>, StoreError> {
    match table.get(key).map_err(db_err)? {
        Some(v) => Ok(Some(decode(v.value(), "schedule")?)),
        None => Ok(None),
    }
}

/// Applies `change` to the slot's record inside one write transaction; `change` returns
/// whether it changed anything (only then is the record written).
fn update_schedule(
    db: &Database,
    key: &str,
    change: impl FnOnce(&mut ScheduleRecord) -> bool,
) -> Result<bool, StoreError> {
    let tx = db.begin_write().map_err(db_err)?;
    let changed = {
        let mut table = tx.open_table(SCHEDULES).map_err(db_err)?;
        match read_schedule(&table, key)? {
            Some(mut rec) => {
                let changed = change(&mut rec);
                if changed {
                    table
                        .insert(key, encode(&rec)?.as_slice())
                        .map_err(db_err)?;
                }
                changed
            }
            None => false,
        }
    };
    if changed {
        tx.commit().map_err(db_err)?;
    } else {
        tx.abort().map_err(db_err)?;
    }
    Ok(changed)
}

#[async_trait]
impl ScheduleStore for EmbeddedStore {
    async fn put_schedule(&self, schedule: NewSchedule) -> Result<Schedule, StoreError> {
        self.run(move |db| {
            let key = slot_key(schedule.guild_id, schedule.user_id, schedule.kind);
            let tx = db.begin_write().map_err(db_err)?;
            let rec = {
                let mut table = tx.open_table(SCHEDULES).map_err(db_err)?;
                let generation = read_schedule(&table, &key)?.map_or(0, |r| r.generation) + 1;
                let rec = ScheduleRecord {
                    guild_id: schedule.guild_id,
                    user_id: schedule.user_id,
                    kind: schedule.kind,
                    generation,
                    due_at: schedule.due_at,
                    case_number: schedule.case_number,
                    state: ScheduleState::Pending,
                };
                table
                    .insert(key.as_str(), encode(&rec)?.as_slice())
                    .map_err(db_err)?;
                rec
            };
            tx.commit().map_err(db_err)?;
            Ok(rec.into_schedule())
        })
        .await
    }

    async fn get_schedule(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<Option<Schedule>, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let table = tx.open_table(SCHEDULES).map_err(db_err)?;
            Ok(read_schedule(&table, &slot_key(guild_id, user_id, kind))?
                .map(ScheduleRecord::into_schedule))
        })
        .await
    }

    async fn cancel_schedules(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ScheduleKind,
    ) -> Result<u64, StoreError> {
        self.run(move |db| {
            let changed = update_schedule(db, &slot_key(guild_id, user_id, kind), |rec| {
                if matches!(
                    rec.state,
                    ScheduleState::Pending | ScheduleState::Running { .. }
                ) {
                    rec.state = ScheduleState::Cancelled {
                        cancelled_at: Timestamp::now(),
                    };
                    true
                } else {
                    false
                }
            })?;
            Ok(u64::from(changed))
        })
        .await
    }

    async fn due_schedules(
        &self,
        now: Timestamp,
        scope: &DueScope,
        limit: usize,
    ) -> Result<Vec<Schedule>, StoreError> {
        let scope = scope.clone();
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let table = tx.open_table(SCHEDULES).map_err(db_err)?;
            let mut due = Vec::new();
            for entry in table.iter().map_err(db_err)? {
                let (_, v) = entry.map_err(db_err)?;
                let rec: ScheduleRecord = decode(v.value(), "schedule")?;
                if scope.contains(rec.guild_id) {
                    let s = rec.into_schedule();
                    if s.due_at_time(now) {
                        due.push(s);
                    }
                }
            }
            due.sort_by_key(|s| (s.due_at, s.id.guild_id, s.id.user_id));
            due.truncate(limit);
            Ok(due)
        })
        .await
    }

    async fn claim_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let id = *id;
        let owner = owner.to_owned();
        self.run(move |db| {
            update_schedule(db, &id.slot_key(), |rec| {
                let now = Timestamp::now();
                let claimable = match &rec.state {
                    ScheduleState::Pending => true,
                    ScheduleState::Running { lease_until, .. } => *lease_until < now,
                    _ => false,
                };
                if rec.generation != id.generation || !claimable {
                    return false;
                }
                rec.state = ScheduleState::Running {
                    owner,
                    lease_until: now.plus(lease),
                };
                true
            })
        })
        .await
    }

    async fn complete_schedule(
        &self,
        id: &ScheduleId,
        owner: &str,
        outcome: ScheduleOutcome,
    ) -> Result<bool, StoreError> {
        let id = *id;
        let owner = owner.to_owned();
        self.run(move |db| {
            update_schedule(db, &id.slot_key(), |rec| {
                let mine =
                    matches!(&rec.state, ScheduleState::Running { owner: o, .. } if *o == owner);
                if rec.generation != id.generation || !mine {
                    return false;
                }
                rec.state = ScheduleState::Done {
                    owner,
                    outcome,
                    completed_at: Timestamp::now(),
                };
                true
            })
        })
        .await
    }
}
