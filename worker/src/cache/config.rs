//! [`GuildConfigs`]: each guild's stored settings, kept in process for a short time so that
//! prefix lookups and automod do not read the store on every message.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::store::{GuildConfig, GuildField, Store, StoreError};

/// How long a guild's settings are trusted before they are read again. Changes made on this
/// pod invalidate at once; changes made on another pod are seen within this time.
pub const CONFIG_TTL: Duration = Duration::from_secs(30);

/// Guilds kept before expired entries are pruned.
const PRUNE_ABOVE: usize = 100_000;

/// Per-guild settings read from the store, cached for [`CONFIG_TTL`].
#[derive(Debug, Default)]
pub struct GuildConfigs {
    map: RwLock<HashMap<u64, (Arc<GuildConfig>, Instant)>>,
}

impl GuildConfigs {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The guild's cached settings, when fresh.
    #[must_use]
    pub fn cached(&self, guild: u64) -> Option<Arc<GuildConfig>> {
        let map = self.map.read().expect("config cache lock");
        map.get(&guild)
            .filter(|(_, at)| at.elapsed() < CONFIG_TTL)
            .map(|(c, _)| Arc::clone(c))
    }

    /// The guild's settings: cached, or read from `store` (and cached).
    ///
    /// # Errors
    /// The store's error when it has to be read and cannot be.
    pub async fn get(&self, store: &dyn Store, guild: u64) -> Result<Arc<GuildConfig>, StoreError> {
        if let Some(c) = self.cached(guild) {
            return Ok(c);
        }
        let config = Arc::new(store.guild_config(guild).await?);
        self.put(Arc::clone(&config));
        Ok(config)
    }

    /// Records settings just read or written.
    pub fn put(&self, config: Arc<GuildConfig>) {
        let mut map = self.map.write().expect("config cache lock");
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, (_, at)| at.elapsed() < CONFIG_TTL);
        }
        map.insert(config.guild_id, (config, Instant::now()));
    }

    /// Changes the guild's settings: reads them from `store` (not from the cache), lets `edit`
    /// change them, writes back only the settings `edit` changed
    /// ([`ConfigStore::put_guild_fields`](crate::store::ConfigStore::put_guild_fields), so a
    /// concurrent edit of another setting, here or on another pod, is kept) and forgets the
    /// cached copy, so this pod sees the change at once. When `edit` refuses (`Err`), nothing
    /// is written.
    ///
    /// # Errors
    /// The outer error is the store's; the inner one is `edit`'s refusal.
    pub async fn update<T, E>(
        &self,
        store: &dyn Store,
        guild: u64,
        edit: impl FnOnce(&mut GuildConfig) -> Result<T, E> + Send,
    ) -> Result<Result<T, E>, StoreError> {
        let before = store.guild_config(guild).await?;
        let mut config = before.clone();
        let out = match edit(&mut config) {
            Ok(out) => out,
            Err(e) => return Ok(Err(e)),
        };
        let changed = GuildField::changed(&before, &config);
        if !changed.is_empty() {
            store.put_guild_fields(&config, &changed).await?;
        }
        self.invalidate(guild);
        Ok(Ok(out))
    }

    /// Forgets a guild (call after changing its settings).
    pub fn invalidate(&self, guild: u64) {
        self.map.write().expect("config cache lock").remove(&guild);
    }

    /// Guilds cached (fresh or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.read().expect("config cache lock").len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ConfigStore, EmbeddedStore};

    #[tokio::test]
    async fn reads_once_and_forgets_on_invalidate() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("s.redb"))
            .await
            .unwrap();
        let cache = GuildConfigs::new();
        let first = cache.get(&store, 7).await.unwrap();
        assert_eq!(first.prefix, None);
        let mut changed = GuildConfig::new(7);
        changed.prefix = Some("?".into());
        store.put_guild_config(&changed).await.unwrap();
        // Still the cached value…
        assert_eq!(cache.get(&store, 7).await.unwrap().prefix, None);
        // …until this pod says it changed.
        cache.invalidate(7);
        assert_eq!(
            cache.get(&store, 7).await.unwrap().prefix.as_deref(),
            Some("?")
        );
        assert_eq!(cache.len(), 1);
    }
}
