//! The `/automod` handler: loads the guild's configuration, runs the read-only subcommands
//! or applies an edit, checks that every id the edit adds belongs to the guild, stores the
//! result and drops the cached rules.

use std::sync::Arc;

use super::super::config::AutomodConfig;
use super::super::engine::{Engine, RulesCache};
use super::super::presets::Preset;
use super::Edit;
use super::edit::apply_edit;
use super::inspect::{list_reply, test_reply};
use crate::cache::GuildConfigs;
use crate::commands::{Args, CommandContext, CommandError, CommandHandler, GuildScope, Reply};
use crate::store::Store;

/// The `/automod` command.
pub struct AutomodCommand {
    store: Arc<dyn Store>,
    cache: Arc<RulesCache>,
    engine: Engine,
}

impl AutomodCommand {
    /// The command over a store and the worker's rules cache.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, cache: Arc<RulesCache>) -> Self {
        Self {
            store,
            cache,
            engine: Engine::new(),
        }
    }

    /// Runs one subcommand for `guild` (the handler without Discord).
    ///
    /// Every channel and role id an edit adds is checked with `scope` to belong to `guild`
    /// before anything is stored. The edit is then written through `configs` (only the
    /// automod setting, so an edit of another setting meanwhile is kept).
    pub async fn run_for_guild(
        &self,
        guild: u64,
        args: &Args,
        configs: &GuildConfigs,
        scope: &dyn GuildScope,
    ) -> Result<Reply, CommandError> {
        let gc = self
            .store
            .guild_config(guild)
            .await
            .map_err(CommandError::from)?;
        let stored = read_stored(&gc.automod);
        let sub = args.subcommand().unwrap_or("list");
        let s = |name: &str| args.string(name).map(str::to_owned);
        let edit = match sub {
            "list" => return Ok(list_reply(&stored?)),
            "test" => {
                let cfg = stored?;
                let rules = self.cache.get(guild, &gc.automod);
                let text = s("text").unwrap_or_default();
                return Ok(test_reply(&self.engine, &rules, &cfg, &text).await);
            }
            "enable" => Edit::Enable(s("rule")),
            "disable" => Edit::Disable(s("rule")),
            "preset" => Edit::Preset(
                s("name")
                    .unwrap_or_default()
                    .parse::<Preset>()
                    .map_err(|e| CommandError::user(e.to_string()))?,
            ),
            "set" => Edit::Set {
                rule: s("rule").unwrap_or_default(),
                setting: s("setting").unwrap_or_default(),
                value: s("value").unwrap_or_default(),
            },
            "add" => Edit::Add {
                rule: s("rule").unwrap_or_default(),
                kind: s("type").unwrap_or_default(),
                value: s("value"),
            },
            "remove" => Edit::Remove(s("rule").unwrap_or_default()),
            other => return Err(CommandError::user(format!("unknown subcommand {other:?}"))),
        };
        // The ids the edit adds are checked (that needs Discord or the cache) before the
        // write; the write applies the edit again to the settings as they are then.
        let (_, (channels, roles)) = edited(stored, &edit)?;
        for c in &channels {
            scope.check_channel(guild, *c).await?;
        }
        for r in &roles {
            scope.check_role(guild, *r).await?;
        }
        let summary = configs
            .update(self.store.as_ref(), guild, |gc| {
                let ((summary, json), added) = edited(read_stored(&gc.automod), &edit)?;
                if added.0.iter().any(|c| !channels.contains(c))
                    || added.1.iter().any(|r| !roles.contains(r))
                {
                    return Err(CommandError::user(
                        "the automod settings changed meanwhile; run the command again",
                    ));
                }
                gc.automod = json;
                Ok(summary)
            })
            .await
            .map_err(CommandError::from)??;
        self.cache.invalidate(guild);
        Ok(Reply::text(format!("✅ {summary}.")))
    }
}

/// The stored automod settings, or the error a user sees when they no longer read.
fn read_stored(json: &serde_json::Value) -> Result<AutomodConfig, CommandError> {
    AutomodConfig::from_json(json).map_err(|e| {
        CommandError::user(format!(
            "the stored automod configuration cannot be read ({e}); `/automod preset standard` replaces it"
        ))
    })
}

/// Channel and role ids, each sorted.
type Ids = (Vec<u64>, Vec<u64>);

/// Applies `edit` to the `stored` settings: the summary and the new settings' JSON, and the
/// channel and role ids the edit adds.
fn edited(
    stored: Result<AutomodConfig, CommandError>,
    edit: &Edit,
) -> Result<((String, serde_json::Value), Ids), CommandError> {
    // A preset may replace a configuration that no longer reads.
    let mut cfg = match (stored, edit) {
        (Ok(c), _) => c,
        (Err(_), Edit::Preset(_)) => AutomodConfig::default(),
        (Err(e), _) => return Err(e),
    };
    let (old_channels, old_roles) = cfg.referenced_ids();
    let summary = apply_edit(&mut cfg, edit).map_err(|e| CommandError::user(e.0))?;
    let (channels, roles) = cfg.referenced_ids();
    let added = |now: Vec<u64>, old: &[u64]| {
        now.into_iter()
            .filter(|id| old.binary_search(id).is_err())
            .collect::<Vec<_>>()
    };
    Ok((
        (summary, cfg.to_json()),
        (added(channels, &old_channels), added(roles, &old_roles)),
    ))
}

#[async_trait::async_trait]
impl CommandHandler for AutomodCommand {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?;
        if args.subcommand() == Some("native") {
            let gc = self
                .store
                .guild_config(guild.get())
                .await
                .map_err(CommandError::from)?;
            let cfg = read_stored(&gc.automod)?;
            return super::native::run(ctx, guild.get(), &cfg, args).await;
        }
        // An edit applies to this pod's automod at once: `GuildConfigs::update` drops the
        // pod's cached settings.
        self.run_for_guild(
            guild.get(),
            args,
            &ctx.services.guild_configs,
            ctx.services.as_ref(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::ArgValue;
    use crate::store::EmbeddedStore;

    #[tokio::test]
    async fn the_command_stores_and_the_cache_follows() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            EmbeddedStore::open(dir.path().join("s.redb"))
                .await
                .unwrap(),
        );
        let cache = Arc::new(RulesCache::default());
        let cmd = AutomodCommand::new(store.clone(), cache.clone());
        let g = 1234;
        let sub = |s: &str| Args::new().with_subcommand(s);
        let scope = OnlyIds {
            channels: vec![],
            roles: vec![],
        };
        let configs = GuildConfigs::new();
        let text = |r: Reply| format!("{}{:?}", r.content.clone().unwrap_or_default(), r.embeds);

        assert!(
            text(
                cmd.run_for_guild(g, &sub("list"), &configs, &scope)
                    .await
                    .unwrap()
            )
            .contains("No rules yet")
        );
        assert!(
            !cache
                .get(g, &store.guild_config(g).await.unwrap().automod)
                .enabled()
        );
        let r = cmd
            .run_for_guild(
                g,
                &sub("preset").with("name", ArgValue::String("strict".into())),
                &configs,
                &scope,
            )
            .await
            .unwrap();
        assert!(text(r).contains("preset strict applied"));
        let stored = store.guild_config(g).await.unwrap().automod;
        assert!(cache.get(g, &stored).enabled());
        assert!(
            text(
                cmd.run_for_guild(g, &sub("list"), &configs, &scope)
                    .await
                    .unwrap()
            )
            .contains("account-age")
        );

        let r = cmd
            .run_for_guild(
                g,
                &sub("test").with(
                    "text",
                    ArgValue::String("join discord.gg/xyz you idiot".into()),
                ),
                &configs,
                &scope,
            )
            .await
            .unwrap();
        let t = text(r);
        assert!(
            t.contains("invites") && t.contains("toxicity") && t.contains("nothing was done"),
            "{t}"
        );
        assert!(
            t.contains("most likely insult ("),
            "the category and its score: {t}"
        );

        let e = cmd
            .run_for_guild(
                g,
                &sub("set")
                    .with("rule", ArgValue::String("caps".into()))
                    .with("setting", ArgValue::String("min_percent".into()))
                    .with("value", ArgValue::String("150".into())),
                &configs,
                &scope,
            )
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("min_percent must be between 1 and 100")
        );
        // The refused edit changed nothing.
        assert_eq!(store.guild_config(g).await.unwrap().automod, stored);

        cmd.run_for_guild(g, &sub("disable"), &configs, &scope)
            .await
            .unwrap();
        assert!(
            !cache
                .get(g, &store.guild_config(g).await.unwrap().automod)
                .enabled()
        );
    }

    /// The ids of one test server.
    struct OnlyIds {
        channels: Vec<u64>,
        roles: Vec<u64>,
    }

    #[async_trait::async_trait]
    impl GuildScope for OnlyIds {
        async fn check_channel(&self, _: u64, channel: u64) -> Result<(), CommandError> {
            if self.channels.contains(&channel) {
                Ok(())
            } else {
                Err(CommandError::NotInGuild {
                    kind: crate::commands::IdKind::Channel,
                    id: channel,
                })
            }
        }
        async fn check_role(&self, _: u64, role: u64) -> Result<(), CommandError> {
            if self.roles.contains(&role) {
                Ok(())
            } else {
                Err(CommandError::NotInGuild {
                    kind: crate::commands::IdKind::Role,
                    id: role,
                })
            }
        }
    }

    #[tokio::test]
    async fn ids_of_another_server_and_zero_are_refused_and_nothing_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            EmbeddedStore::open(dir.path().join("s.redb"))
                .await
                .unwrap(),
        );
        let cmd = AutomodCommand::new(store.clone(), Arc::new(RulesCache::default()));
        let g = 77;
        let scope = OnlyIds {
            channels: vec![500],
            roles: vec![600],
        };
        let configs = GuildConfigs::new();
        let set = |rule: &str, setting: &str, value: &str| {
            Args::new()
                .with_subcommand("set")
                .with("rule", ArgValue::String(rule.into()))
                .with("setting", ArgValue::String(setting.into()))
                .with("value", ArgValue::String(value.into()))
        };
        cmd.run_for_guild(
            g,
            &Args::new()
                .with_subcommand("preset")
                .with("name", ArgValue::String("standard".into())),
            &configs,
            &scope,
        )
        .await
        .unwrap();
        let before = store.guild_config(g).await.unwrap().automod;
        for (rule, setting, value, says) in [
            (
                "all",
                "alert_channel",
                "<#999>",
                "<#999> is not a channel of this server",
            ),
            (
                "all",
                "alert_channel",
                "0",
                "is not a role or channel mention or id",
            ),
            (
                "all",
                "exempt_channels",
                "<#500>, <#998>",
                "<#998> is not a channel of this server",
            ),
            (
                "all",
                "exempt_roles",
                "<@&997>",
                "<@&997> is not a role of this server",
            ),
            (
                "invites",
                "actions",
                "delete, alert <#996>",
                "<#996> is not a channel",
            ),
            (
                "invites",
                "exempt_roles",
                "0",
                "is not a role or channel mention or id",
            ),
        ] {
            let e = cmd
                .run_for_guild(g, &set(rule, setting, value), &configs, &scope)
                .await
                .expect_err(value);
            assert!(e.to_string().contains(says), "{value}: {e}");
            assert_eq!(
                store.guild_config(g).await.unwrap().automod,
                before,
                "{value}"
            );
        }
        cmd.run_for_guild(g, &set("all", "alert_channel", "<#500>"), &configs, &scope)
            .await
            .unwrap();
        cmd.run_for_guild(g, &set("all", "exempt_roles", "<@&600>"), &configs, &scope)
            .await
            .unwrap();
        let cfg = AutomodConfig::from_json(&store.guild_config(g).await.unwrap().automod).unwrap();
        assert_eq!(cfg.alert_channel, Some(500));
        assert_eq!(cfg.exempt_roles, vec![600]);
    }
}
