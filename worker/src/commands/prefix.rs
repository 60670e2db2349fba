//! `/prefix` (`k!prefix`): the server's prefix for prefix commands.
//!
//! With a value it sets the prefix; setting the default (`--prefix`, `k!` unless configured)
//! clears the server's own, so a later change of the default applies again. Without a value it
//! shows the prefix in use.

use std::sync::Arc;

use fluent_bundle::FluentValue;
use twilight_model::guild::Permissions;

use super::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, OptionDef, OptionKind,
    Registry, RegistryError, Reply,
};
use crate::i18n::text;
use crate::input::{MAX_PREFIX_CHARS, parse_prefix};
use crate::store::Store;

struct SetPrefix(Arc<dyn Store>);

#[async_trait::async_trait]
impl CommandHandler for SetPrefix {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        let default = ctx.config().prefix.clone();
        let Some(given) = args.string("prefix") else {
            let config = ctx.services.guild_configs.get(&*self.0, guild).await?;
            return Ok(Reply::text(text(
                ctx.locale,
                "prefix-current",
                &[("prefix", FluentValue::from(config.prefix_or(&default)))],
            ))
            .ephemeral());
        };
        let prefix = parse_prefix(given.trim()).map_err(|e| {
            CommandError::user(format!(
                "{e}: a prefix is 1 to {MAX_PREFIX_CHARS} characters without spaces, such as `!` or `kyuta.`"
            ))
        })?;
        let stored = (prefix != default).then(|| prefix.clone());
        ctx.services
            .guild_configs
            .update(&*self.0, guild, |c| {
                c.prefix.clone_from(&stored);
                Ok::<_, CommandError>(())
            })
            .await??;
        let key = if stored.is_some() {
            "prefix-set"
        } else {
            "prefix-reset"
        };
        Ok(Reply::text(text(
            ctx.locale,
            key,
            &[("prefix", FluentValue::from(prefix))],
        ))
        .ephemeral())
    }
}

/// Registers `/prefix`.
///
/// # Errors
/// A registry error (a duplicate name).
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    registry.register(
        CommandDef::new(
            "prefix",
            "Show or set the prefix of prefix commands in this server",
            SetPrefix(store),
        )
        .option(
            OptionDef::new(
                "prefix",
                "The new prefix (up to 16 characters, no spaces); the default resets it",
                OptionKind::String,
            )
            .max_length(MAX_PREFIX_CHARS as u16),
        )
        .permissions(Permissions::MANAGE_GUILD)
        .category("Settings"),
    )?;
    Ok(())
}
