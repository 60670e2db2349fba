//! Guild settings in the embedded store: one JSON record per guild.

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable};

use super::tables::CONFIG;
use super::{EmbeddedStore, db_err, decode, encode};
use crate::store::{ConfigStore, GuildConfig, GuildField, StoreError};

#[async_trait]
impl ConfigStore for EmbeddedStore {
    async fn guild_config(&self, guild_id: u64) -> Result<GuildConfig, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read().map_err(db_err)?;
            let t = tx.open_table(CONFIG).map_err(db_err)?;
            match t.get(guild_id).map_err(db_err)? {
                Some(v) => decode(v.value(), "guild config"),
                None => Ok(GuildConfig::new(guild_id)),
            }
        })
        .await
    }

    async fn put_guild_config(&self, config: &GuildConfig) -> Result<(), StoreError> {
        let bytes = encode(config)?;
        let guild_id = config.guild_id;
        self.run(move |db| {
            let tx = db.begin_write().map_err(db_err)?;
            tx.open_table(CONFIG)
                .map_err(db_err)?
                .insert(guild_id, bytes.as_slice())
                .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn put_guild_fields(
        &self,
        config: &GuildConfig,
        fields: &[GuildField],
    ) -> Result<(), StoreError> {
        let config = config.clone();
        let fields = fields.to_vec();
        self.run(move |db| {
            // redb runs one write transaction at a time: the read and the write below see no
            // other writer in between.
            let tx = db.begin_write().map_err(db_err)?;
            {
                let mut t = tx.open_table(CONFIG).map_err(db_err)?;
                let mut stored = match t.get(config.guild_id).map_err(db_err)? {
                    Some(v) => decode(v.value(), "guild config")?,
                    None => GuildConfig::new(config.guild_id),
                };
                for f in &fields {
                    f.copy(&config, &mut stored);
                }
                let bytes = encode(&stored)?;
                t.insert(config.guild_id, bytes.as_slice())
                    .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }
}
