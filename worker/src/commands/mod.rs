//! Commands: one registry drives slash commands and prefix commands.
//!
//! A module contributes its commands with a `register(&mut Registry)` function:
//!
//! ```
//! use kyuta_worker::commands::{
//!     Args, CommandContext, CommandDef, CommandError, CommandHandler, OptionDef, OptionKind,
//!     Registry, RegistryError, Reply,
//! };
//! use twilight_model::guild::Permissions;
//!
//! struct Warn;
//!
//! #[async_trait::async_trait]
//! impl CommandHandler for Warn {
//!     async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
//!         let user = args.user("user").expect("required");
//!         Ok(Reply::text(format!("warned <@{user}>")))
//!     }
//! }
//!
//! pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
//!     registry.register(
//!         CommandDef::new("warn", "Warn a member", Warn)
//!             .option(OptionDef::new("user", "Who to warn", OptionKind::User).required())
//!             .option(OptionDef::new("reason", "Why", OptionKind::String))
//!             .permissions(Permissions::MODERATE_MEMBERS)
//!             .category("Moderation"),
//!     )?;
//!     Ok(())
//! }
//! # let mut r = Registry::new();
//! # register(&mut r).unwrap();
//! # assert!(r.get("warn").is_some());
//! ```

pub mod args;
pub mod context;
pub mod def;
pub mod dispatch;
pub mod error;
pub mod general;
pub mod language;
pub mod menu;
pub mod parse;
pub mod prefix;
pub mod registry;
pub mod reply;
pub mod scope;
pub mod sync;

pub use args::{ArgValue, Args};
pub use context::{CommandContext, Invoker, Progress, Source};
pub use def::{Choice, ChoiceValue, CommandDef, CommandKind, OptionDef, OptionKind, SubcommandDef};
pub use dispatch::CommandObserver;
pub use error::{CommandError, IdKind};
pub use parse::ArgError;
pub use registry::{Invocation, Registry, RegistryError};
pub use reply::{EmbedBuilder, Reply};
pub use scope::GuildScope;

/// A command's behaviour.
#[async_trait::async_trait]
pub trait CommandHandler: Send + Sync + 'static {
    /// Runs the command. Arguments are already checked against the definition; permission,
    /// cooldown and guild-only checks have passed.
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError>;
}
