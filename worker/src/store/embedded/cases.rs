//! Moderation cases in the embedded store: the case, its idempotency key, its entry in the
//! per-user index and the guild's counter are written in one transaction.

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable};

use super::tables::{CASE_KEYS, CASE_SEQ, CASES, CASES_BY_USER};
use super::{EmbeddedStore, db_err, decode, encode};
use crate::store::{
    ActionKind, Case, CaseChange, CaseFilter, CaseOutcome, CasePage, CaseStore, NewCase,
    ReasonEdit, StoreError, Timestamp, page_bounds,
};

/// The case `(guild_id, number)` from the `cases` table.
fn read_case(
    table: &impl ReadableTable<(u64, u64), &'static [u8]>,
    guild_id: u64,
    number: u64,
) -> Result<Option<Case>, StoreError> {
    match table.get((guild_id, number)).map_err(db_err)? {
        Some(v) => Ok(Some(decode(v.value(), "case")?)),
        None => Ok(None),
    }
}

/// Applies `change` to a case inside one write transaction
/// ([`NotFound`](crate::store::StoreErrorKind::NotFound) when it does not exist).
fn update_case(
    db: &Database,
    guild_id: u64,
    number: u64,
    change: impl FnOnce(&mut Case),
) -> Result<Case, StoreError> {
    let tx = db.begin_write().map_err(db_err)?;
    let case = {
        let mut cases = tx.open_table(CASES).map_err(db_err)?;
        let mut case = read_case(&cases, guild_id, number)?.ok_or_else(|| {
            StoreError::not_found(format!("case #{number} does not exist in guild {guild_id}"))
        })?;
        change(&mut case);
        cases
            .insert((guild_id, number), encode(&case)?.as_slice())
            .map_err(db_err)?;
        case
    };
    tx.commit().map_err(db_err)?;
    Ok(case)
}

#[async_trait]
impl CaseStore for EmbeddedStore {
    async fn insert_case(&self, case: NewCase) -> Result<(Case, bool), StoreError> {
        case.validate()?;
        self.run(move |db| {
            let tx = db.begin_write().map_err(db_err)?;
            let created = {
                let mut keys = tx.open_table(CASE_KEYS).map_err(db_err)?;
                let mut cases = tx.open_table(CASES).map_err(db_err)?;
                let existing = keys
                    .get((case.guild_id, case.idempotency_key.as_str()))
                    .map_err(db_err)?
                    .map(|v| v.value());
                if let Some(number) = existing {
                    let found = read_case(&cases, case.guild_id, number)?.ok_or_else(|| {
                        StoreError::corrupt(format!(
                            "idempotency key points at missing case #{number}"
                        ))
                    })?;
                    return Ok((found, false));
                }
                let mut seq = tx.open_table(CASE_SEQ).map_err(db_err)?;
                let last = seq
                    .get(case.guild_id)
                    .map_err(db_err)?
                    .map_or(0, |v| v.value());
                let number = last + 1;
                seq.insert(case.guild_id, number).map_err(db_err)?;
                keys.insert((case.guild_id, case.idempotency_key.as_str()), number)
                    .map_err(db_err)?;
                tx.open_table(CASES_BY_USER)
                    .map_err(db_err)?
                    .insert((case.guild_id, case.user_id, number), ())
                    .map_err(db_err)?;
                let stored = case.into_case(number);
                cases
                    .insert((stored.guild_id, number), encode(&stored)?.as_slice())
                    .map_err(db_err)?;
                (stored, true)
            };
            tx.commit().map_err(db_err)?;
            Ok(created)
        })
        .await
    }

    async fn get_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let cases = tx.open_table(CASES).map_err(db_err)?;
            read_case(&cases, guild_id, number)
        })
        .await
    }

    async fn case_by_key(
        &self,
        guild_id: u64,
        idempotency_key: &str,
    ) -> Result<Option<Case>, StoreError> {
        let key = idempotency_key.to_owned();
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let keys = tx.open_table(CASE_KEYS).map_err(db_err)?;
            let Some(number) = keys
                .get((guild_id, key.as_str()))
                .map_err(db_err)?
                .map(|v| v.value())
            else {
                return Ok(None);
            };
            let cases = tx.open_table(CASES).map_err(db_err)?;
            read_case(&cases, guild_id, number)
        })
        .await
    }

    async fn set_case_outcome(
        &self,
        guild_id: u64,
        number: u64,
        outcome: CaseOutcome,
    ) -> Result<Case, StoreError> {
        self.run(move |db| update_case(db, guild_id, number, |c| c.outcome = outcome))
            .await
    }

    async fn edit_case_reason(
        &self,
        guild_id: u64,
        number: u64,
        reason: Option<String>,
        editor_id: u64,
    ) -> Result<Case, StoreError> {
        self.run(move |db| {
            update_case(db, guild_id, number, |c| {
                let previous = std::mem::replace(&mut c.reason, reason);
                c.reason_history.push(ReasonEdit {
                    previous,
                    editor_id,
                    edited_at: Timestamp::now(),
                });
            })
        })
        .await
    }

    async fn change_case(
        &self,
        guild_id: u64,
        number: u64,
        change: CaseChange,
    ) -> Result<Case, StoreError> {
        self.run(move |db| {
            update_case(db, guild_id, number, |c| {
                *c = std::mem::replace(c, c.clone()).with_change(&change);
            })
        })
        .await
    }

    async fn list_cases(
        &self,
        guild_id: u64,
        filter: &CaseFilter,
        page: u32,
        per_page: u32,
    ) -> Result<CasePage, StoreError> {
        let (skip, limit) = page_bounds(page, per_page)?;
        let filter = filter.clone();
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let cases = tx.open_table(CASES).map_err(db_err)?;
            let mut out = Vec::new();
            let mut total = 0u64;
            let mut keep = |case: Case| {
                if filter.matches(&case) {
                    if total >= skip && total < skip + limit {
                        out.push(case);
                    }
                    total += 1;
                }
            };
            if let Some(user) = filter.user_id {
                let by_user = tx.open_table(CASES_BY_USER).map_err(db_err)?;
                let range = by_user
                    .range((guild_id, user, 0)..=(guild_id, user, u64::MAX))
                    .map_err(db_err)?;
                for entry in range.rev() {
                    let (k, _) = entry.map_err(db_err)?;
                    let (_, _, number) = k.value();
                    if let Some(case) = read_case(&cases, guild_id, number)? {
                        keep(case);
                    }
                }
            } else {
                let range = cases
                    .range((guild_id, 0)..=(guild_id, u64::MAX))
                    .map_err(db_err)?;
                for entry in range.rev() {
                    let (_, v) = entry.map_err(db_err)?;
                    keep(decode(v.value(), "case")?);
                }
            }
            Ok(CasePage { cases: out, total })
        })
        .await
    }

    async fn count_cases(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ActionKind,
        since: Timestamp,
    ) -> Result<u64, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let cases = tx.open_table(CASES).map_err(db_err)?;
            let by_user = tx.open_table(CASES_BY_USER).map_err(db_err)?;
            let mut n = 0;
            for entry in by_user
                .range((guild_id, user_id, 0)..=(guild_id, user_id, u64::MAX))
                .map_err(db_err)?
            {
                let (k, _) = entry.map_err(db_err)?;
                let (_, _, number) = k.value();
                if let Some(case) = read_case(&cases, guild_id, number)?
                    && case.kind == kind
                    && case.created_at >= since
                    && case.voided.is_none()
                {
                    n += 1;
                }
            }
            Ok(n)
        })
        .await
    }
}
