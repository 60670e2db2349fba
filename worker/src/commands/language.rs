//! `/language`: the server's language (prefix-command replies, and slash-command replies to
//! members whose Discord language Kyuta does not speak).

use fluent_bundle::FluentValue;
use twilight_model::guild::Permissions;

use super::{
    Args, CommandContext, CommandDef, CommandError, CommandHandler, OptionDef, OptionKind,
    Registry, RegistryError, Reply,
};
use crate::i18n::{Locale, text};
use crate::store::Store;
use std::sync::Arc;

struct SetLanguage(Arc<dyn Store>);

#[async_trait::async_trait]
impl CommandHandler for SetLanguage {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let guild = ctx.require_guild()?.get();
        let code = args.string("locale").unwrap_or_default();
        // The option's choices are the known codes; a prefix user may type anything.
        let locale = Locale::from_discord(code).ok_or_else(|| {
            CommandError::user(format!(
                "I don't speak {code:?}; choose one of {}",
                Locale::ALL
                    .iter()
                    .map(|l| format!("{} ({})", l.code(), l.native_name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        ctx.services
            .guild_configs
            .update(&*self.0, guild, |c| {
                c.locale = locale;
                Ok::<_, CommandError>(())
            })
            .await??;
        Ok(Reply::text(text(
            locale,
            "language-set",
            &[("language", FluentValue::from(locale.native_name()))],
        ))
        .ephemeral())
    }
}

/// Registers `/language`.
///
/// # Errors
/// A registry error (a duplicate name).
pub fn register(registry: &mut Registry, store: Arc<dyn Store>) -> Result<(), RegistryError> {
    let mut option = OptionDef::new("locale", "Language", OptionKind::String).required();
    for l in Locale::ALL {
        option = option.choice(l.native_name(), l.code());
    }
    registry.register(
        CommandDef::new(
            "language",
            "Set the language of the bot's replies in this server",
            SetLanguage(store),
        )
        .option(option)
        .permissions(Permissions::MANAGE_GUILD)
        .category("Settings"),
    )?;
    Ok(())
}
