//! Moderation cases in MongoDB: immutable `cases` documents, completed when read by the
//! latest `case_outcomes` record and the `case_edits` reason edits.

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{self, Bson, Document, doc};

use super::codec::{EditDoc, case_id, decode_case, encode_case, from_doc, id64, to_bson};
use super::{MongoStore, backoff, mongo_err, replace_upsert};
use crate::store::{
    ActionKind, Case, CaseChange, CaseFilter, CaseOutcome, CasePage, CaseStore, NewCase,
    ReasonEdit, StoreError, StoreErrorKind, Timestamp, page_bounds,
};

/// How often a create retries when the case counter points at a number that is already
/// taken (e.g. a counter restored from an older backup).
const MAX_NUMBER_RETRIES: usize = 64;

impl MongoStore {
    /// Completes case documents with their outcome and reason edits.
    async fn assemble(&self, guild_id: u64, docs: Vec<Document>) -> Result<Vec<Case>, StoreError> {
        let mut cases = docs
            .into_iter()
            .map(decode_case)
            .collect::<Result<Vec<_>, _>>()?;
        if cases.is_empty() {
            return Ok(cases);
        }
        let ids: Vec<String> = cases
            .iter()
            .map(|c| case_id(c.guild_id, c.number))
            .collect();
        let numbers = cases
            .iter()
            .map(|c| id64(c.number))
            .collect::<Result<Vec<_>, _>>()?;
        let outcomes: Vec<Document> = self
            .outcomes
            .find(doc! {"_id": {"$in": ids}})
            .await
            .map_err(|e| mongo_err("reading case outcomes", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading case outcomes", e))?;
        for mut d in outcomes {
            let Ok(id) = d.get_str("_id").map(str::to_owned) else {
                continue;
            };
            let Some(Bson::Document(o)) = d.remove("outcome") else {
                return Err(StoreError::corrupt(format!(
                    "outcome of case {id} is unreadable"
                )));
            };
            let outcome: CaseOutcome = from_doc(o, "case outcome")?;
            if let Some(c) = cases
                .iter_mut()
                .find(|c| case_id(c.guild_id, c.number) == id)
            {
                c.outcome = outcome;
            }
        }
        let edits: Vec<Document> = self
            .edits
            .find(doc! {"guild_id": id64(guild_id)?, "number": {"$in": numbers.clone()}})
            .sort(doc! {"number": 1, "k": 1})
            .await
            .map_err(|e| mongo_err("reading case edits", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading case edits", e))?;
        let changes: Vec<Document> = self
            .changes
            .find(doc! {"guild_id": id64(guild_id)?, "number": {"$in": numbers}})
            .sort(doc! {"number": 1, "k": 1})
            .await
            .map_err(|e| mongo_err("reading case changes", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading case changes", e))?;
        // The state follows from the changes alone (the document's copy may lag a writer).
        for c in &mut cases {
            c.changes.clear();
            c.hidden = false;
            c.voided = None;
        }
        for mut d in changes {
            let n = d.get_i64("number").unwrap_or_default();
            let Some(Bson::Document(raw)) = d.remove("change") else {
                return Err(StoreError::corrupt("a case change is unreadable"));
            };
            let change: CaseChange = from_doc(raw, "case change")?;
            if let Some(c) = cases
                .iter_mut()
                .find(|c| i64::try_from(c.number).ok() == Some(n))
            {
                *c = std::mem::replace(c, c.clone()).with_change(&change);
            }
        }
        for d in edits {
            let e: EditDoc = from_doc(d, "case edit")?;
            if let Some(c) = cases.iter_mut().find(|c| c.number == e.number) {
                c.reason = e.reason;
                c.reason_history.push(ReasonEdit {
                    previous: e.previous,
                    editor_id: e.editor_id,
                    edited_at: e.edited_at,
                });
            }
        }
        Ok(cases)
    }

    /// Writes the `hidden` and `voided` that the case's changes make onto its `cases`
    /// document, for the filters of lists and counts; again while more changes arrived
    /// meanwhile, so the last writer leaves the state of every change.
    async fn settle_case_state(&self, guild_id: u64, number: u64) -> Result<(), StoreError> {
        for _ in 0..16 {
            let Some(case) = self.load_case(guild_id, number).await? else {
                return Ok(());
            };
            let voided = match &case.voided {
                Some(v) => to_bson(v)?,
                None => Bson::Null,
            };
            self.cases
                .update_one(
                    doc! {"_id": case_id(guild_id, number)},
                    doc! {"$set": {"hidden": case.hidden, "voided": voided}},
                )
                .await
                .map_err(|e| mongo_err("changing a case", e))?;
            let now = self
                .changes
                .count_documents(doc! {"guild_id": id64(guild_id)?, "number": id64(number)?})
                .await
                .map_err(|e| mongo_err("reading case changes", e))?;
            if now == case.changes.len() as u64 {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The case `number` of the guild, completed (`assemble`).
    async fn load_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError> {
        let d = self
            .cases
            .find_one(doc! {"_id": case_id(guild_id, number)})
            .await
            .map_err(|e| mongo_err("reading a case", e))?;
        match d {
            Some(d) => Ok(self.assemble(guild_id, vec![d]).await?.pop()),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl CaseStore for MongoStore {
    async fn insert_case(&self, case: NewCase) -> Result<(Case, bool), StoreError> {
        case.validate()?;
        if let Some(existing) = self
            .case_by_key(case.guild_id, &case.idempotency_key)
            .await?
        {
            return Ok((existing, false));
        }
        id64(case.guild_id)?;
        id64(case.user_id)?;
        id64(case.moderator_id)?;
        let mut floor = 0u64;
        let mut attempt = 0;
        loop {
            let number = self.counter_next(case.guild_id).await?.max(floor);
            let stored = case.clone().into_case(number);
            let d = encode_case(&stored)?;
            match self.cases.insert_one(d).await {
                Ok(_) => return Ok((stored, true)),
                Err(e) => {
                    let err = mongo_err("inserting a case", e);
                    if err.kind() != StoreErrorKind::Duplicate {
                        return Err(err);
                    }
                    // Either the same key won a race (return its case; this number stays
                    // unused), or the number is taken: the counter lags (lost increment, or
                    // restored from an older backup). Continue above the highest number.
                    if let Some(existing) = self
                        .case_by_key(case.guild_id, &case.idempotency_key)
                        .await?
                    {
                        return Ok((existing, false));
                    }
                    attempt += 1;
                    if attempt >= MAX_NUMBER_RETRIES {
                        return Err(StoreError::unavailable(format!(
                            "no free case number in guild {} after {attempt} attempts",
                            case.guild_id
                        )));
                    }
                    floor = self.max_case_number(case.guild_id).await? + 1;
                    backoff(attempt).await;
                }
            }
        }
    }

    async fn get_case(&self, guild_id: u64, number: u64) -> Result<Option<Case>, StoreError> {
        self.load_case(guild_id, number).await
    }

    async fn case_by_key(
        &self,
        guild_id: u64,
        idempotency_key: &str,
    ) -> Result<Option<Case>, StoreError> {
        let d = self
            .cases
            .find_one(doc! {"guild_id": id64(guild_id)?, "idempotency_key": idempotency_key})
            .await
            .map_err(|e| mongo_err("reading a case by key", e))?;
        match d {
            Some(d) => Ok(self.assemble(guild_id, vec![d]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn set_case_outcome(
        &self,
        guild_id: u64,
        number: u64,
        outcome: CaseOutcome,
    ) -> Result<Case, StoreError> {
        let id = case_id(guild_id, number);
        let exists = self
            .cases
            .find_one(doc! {"_id": &id})
            .projection(doc! {"_id": 1})
            .await
            .map_err(|e| mongo_err("reading a case", e))?
            .is_some();
        if !exists {
            return Err(StoreError::not_found(format!(
                "case #{number} does not exist in guild {guild_id}"
            )));
        }
        let d = doc! {
            "_id": &id,
            "outcome": to_bson(&outcome)?,
            "set_at": Timestamp::now().unix_millis(),
        };
        replace_upsert(&self.outcomes, &id, d, "setting a case outcome").await?;
        let mut case = self.load_case(guild_id, number).await?.ok_or_else(|| {
            StoreError::not_found(format!("case #{number} does not exist in guild {guild_id}"))
        })?;
        // A concurrent setter may have written after us; report what this call set.
        case.outcome = outcome;
        Ok(case)
    }

    async fn edit_case_reason(
        &self,
        guild_id: u64,
        number: u64,
        reason: Option<String>,
        editor_id: u64,
    ) -> Result<Case, StoreError> {
        for attempt in 0..64 {
            let mut case = self.load_case(guild_id, number).await?.ok_or_else(|| {
                StoreError::not_found(format!("case #{number} does not exist in guild {guild_id}"))
            })?;
            let k = case.reason_history.len() as u64 + 1;
            let edit = EditDoc {
                guild_id,
                number,
                k,
                reason: reason.clone(),
                previous: case.reason.clone(),
                editor_id,
                edited_at: Timestamp::now(),
            };
            let mut d = bson::to_document(&edit).map_err(|e| {
                StoreError::invalid(format!("cannot encode reason edit: {e}")).with_source(e)
            })?;
            d.insert("_id", format!("{}:{k}", case_id(guild_id, number)));
            if self
                .insert_unique(&self.edits, d, "editing a case reason")
                .await?
            {
                case.reason_history.push(ReasonEdit {
                    previous: edit.previous,
                    editor_id,
                    edited_at: edit.edited_at,
                });
                case.reason = reason;
                return Ok(case);
            }
            // Someone else recorded edit k first: re-read and edit on top of it.
            backoff(attempt).await;
        }
        Err(StoreError::unavailable(format!(
            "case #{number} of guild {guild_id} keeps changing; reason not edited"
        )))
    }

    async fn change_case(
        &self,
        guild_id: u64,
        number: u64,
        change: CaseChange,
    ) -> Result<Case, StoreError> {
        // As reason edits: the k-th change is a document with a unique `_id`, so of two
        // concurrent changes one is the k-th and the other re-reads and comes after it (a
        // conditional update is not enough: FerretDB can let two of them match).
        for attempt in 0..64 {
            let case = self.load_case(guild_id, number).await?.ok_or_else(|| {
                StoreError::not_found(format!("case #{number} does not exist in guild {guild_id}"))
            })?;
            let k = case.changes.len() as u64 + 1;
            let after = case.clone().with_change(&change);
            if after.changes.len() == case.changes.len() {
                // Nothing to change (hiding a hidden case, deleting a deleted one).
                return Ok(case);
            }
            let mut d = doc! {
                "_id": format!("{}:{k}", case_id(guild_id, number)),
                "guild_id": id64(guild_id)?,
                "number": id64(number)?,
                "k": id64(k)?,
            };
            d.insert("change", to_bson(&change)?);
            if self
                .insert_unique(&self.changes, d, "changing a case")
                .await?
            {
                self.settle_case_state(guild_id, number).await?;
                return self.load_case(guild_id, number).await?.ok_or_else(|| {
                    StoreError::not_found(format!(
                        "case #{number} does not exist in guild {guild_id}"
                    ))
                });
            }
            backoff(attempt).await;
        }
        Err(StoreError::unavailable(format!(
            "case #{number} of guild {guild_id} keeps changing; not changed"
        )))
    }

    async fn list_cases(
        &self,
        guild_id: u64,
        filter: &CaseFilter,
        page: u32,
        per_page: u32,
    ) -> Result<CasePage, StoreError> {
        let (skip, limit) = page_bounds(page, per_page)?;
        let mut q = doc! {"guild_id": id64(guild_id)?, "voided": null};
        if !filter.include_hidden {
            q.insert("hidden", doc! {"$ne": true});
        }
        if let Some(u) = filter.user_id {
            q.insert("user_id", id64(u)?);
        }
        if let Some(m) = filter.moderator_id {
            q.insert("moderator_id", id64(m)?);
        }
        if let Some(k) = filter.kind {
            q.insert("kind", k.as_str());
        }
        let total = self
            .cases
            .count_documents(q.clone())
            .await
            .map_err(|e| mongo_err("counting cases", e))?;
        let docs: Vec<Document> = self
            .cases
            .find(q)
            .sort(doc! {"number": -1})
            .skip(skip)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(|e| mongo_err("listing cases", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("listing cases", e))?;
        let cases = self.assemble(guild_id, docs).await?;
        Ok(CasePage { cases, total })
    }

    async fn count_cases(
        &self,
        guild_id: u64,
        user_id: u64,
        kind: ActionKind,
        since: Timestamp,
    ) -> Result<u64, StoreError> {
        self.cases
            .count_documents(doc! {
                "guild_id": id64(guild_id)?,
                "user_id": id64(user_id)?,
                "kind": kind.as_str(),
                "created_at": {"$gte": since.unix_millis()},
                "voided": null,
            })
            .await
            .map_err(|e| mongo_err("counting cases", e))
    }
}
