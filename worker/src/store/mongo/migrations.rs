//! The indexes of the MongoDB store, created (idempotently) on every start.

use mongodb::IndexModel;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;

use super::{MongoStore, mongo_err};
use crate::store::StoreError;

impl MongoStore {
    /// Creates the indexes (idempotent; runs on every start).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let index = |keys: Document, name: &str, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .unique(unique.then_some(true))
                        .name(name.to_owned())
                        .build(),
                )
                .build()
        };
        let wanted = [
            (
                &self.settings,
                index(doc! {"guild_id": 1}, "guild_id", false),
            ),
            (
                &self.cases,
                index(doc! {"guild_id": 1, "number": 1}, "guild_number", true),
            ),
            (
                &self.cases,
                index(
                    doc! {"guild_id": 1, "idempotency_key": 1},
                    "guild_idempotency_key",
                    true,
                ),
            ),
            (
                &self.cases,
                index(
                    doc! {"guild_id": 1, "user_id": 1, "created_at": 1},
                    "guild_user_created",
                    false,
                ),
            ),
            (
                &self.edits,
                index(
                    doc! {"guild_id": 1, "number": 1, "k": 1},
                    "guild_number_k",
                    true,
                ),
            ),
            (
                &self.changes,
                index(
                    doc! {"guild_id": 1, "number": 1, "k": 1},
                    "guild_number_k",
                    true,
                ),
            ),
            (
                &self.schedules,
                index(doc! {"slot": 1, "generation": 1}, "slot_generation", true),
            ),
            (
                &self.schedules,
                index(doc! {"state": 1, "due_at": 1}, "state_due", false),
            ),
            (
                &self.events,
                index(doc! {"slot": 1, "generation": 1}, "slot_generation", false),
            ),
            (
                &self.analytics,
                index(
                    doc! {"guild_id": 1, "metric": 1, "hour": 1},
                    "guild_metric_hour",
                    false,
                ),
            ),
        ];
        for (coll, model) in wanted {
            let name = model
                .options
                .as_ref()
                .and_then(|o| o.name.clone())
                .unwrap_or_default();
            coll.create_index(model)
                .await
                .map_err(|e| mongo_err(&format!("creating index {}.{name}", coll.name()), e))?;
        }
        Ok(())
    }
}
