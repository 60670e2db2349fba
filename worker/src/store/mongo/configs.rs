//! Guild settings in MongoDB: one `guild_settings` document per setting, over the whole
//! documents once written to `guild_config`.

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};

use super::codec::{decode_config, encode_config, id64};
use super::{MongoStore, mongo_err, replace_upsert};
use crate::store::{ConfigStore, GuildConfig, GuildField, StoreError};

#[async_trait]
impl ConfigStore for MongoStore {
    async fn guild_config(&self, guild_id: u64) -> Result<GuildConfig, StoreError> {
        let whole = self
            .config
            .find_one(doc! {"_id": id64(guild_id)?})
            .await
            .map_err(|e| mongo_err("reading guild config", e))?;
        let settings: Vec<Document> = self
            .settings
            .find(doc! {"guild_id": id64(guild_id)?})
            .await
            .map_err(|e| mongo_err("reading guild settings", e))?
            .try_collect()
            .await
            .map_err(|e| mongo_err("reading guild settings", e))?;
        if whole.is_none() && settings.is_empty() {
            return Ok(GuildConfig::new(guild_id));
        }
        let mut d = match whole {
            Some(d) => d,
            None => encode_config(&GuildConfig::new(guild_id))?,
        };
        for s in settings {
            if let (Ok(field), Some(value)) = (s.get_str("field"), s.get("value"))
                && GuildField::ALL.iter().any(|f| f.name() == field)
            {
                d.insert(field.to_owned(), value.clone());
            }
        }
        decode_config(d)
    }

    async fn put_guild_config(&self, config: &GuildConfig) -> Result<(), StoreError> {
        self.put_guild_fields(config, &GuildField::ALL).await
    }

    async fn put_guild_fields(
        &self,
        config: &GuildConfig,
        fields: &[GuildField],
    ) -> Result<(), StoreError> {
        // One document per setting (FerretDB rewrites a whole document on update, so two
        // settings in one document could undo each other's edits): each is replaced whole,
        // the last writer of that setting wins.
        let encoded = encode_config(config)?;
        let guild = id64(config.guild_id)?;
        for field in fields {
            let name = field.name();
            let id = format!("{}:{name}", config.guild_id);
            let d = doc! {
                "_id": &id,
                "guild_id": guild,
                "field": name,
                "value": encoded.get(name).cloned().unwrap_or(Bson::Null),
            };
            replace_upsert(&self.settings, &id, d, "writing guild settings").await?;
        }
        Ok(())
    }
}
