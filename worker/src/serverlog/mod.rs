//! The server log: message edits and deletes, joins and leaves, member, channel and role
//! changes, posted in a log channel of the server's choice (apart from the mod log, which
//! holds cases). Set with `/serverlog`; see `docs/moderation.md`.
//!
//! - [`cache`] holds the bounded message cache (text of recent messages, for edits and
//!   deletes);
//! - [`format`] builds the embeds, pure and cut to Discord's limits;
//! - [`events`] decides what each gateway event posts, read before the guild cache applies
//!   it;
//! - [`command`] is `/serverlog`.
//!
//! No channel set: nothing is logged. A channel set: every kind is on until turned off with
//! `/serverlog disable`. Edits and deletes of bots' messages are not logged.

pub mod cache;
pub mod command;
pub mod events;
pub mod format;

pub use command::register;
pub use events::{Pending, ServerLog};
