//! The generated world: guilds, channels, roles, users and members, derived lazily and
//! deterministically from a seed. Guild `n`'s data is a pure function of `(seed, n)`; a guild
//! is only stored once something changes it.
//!
//! - `perms`: Discord's permission bits and the generated guilds' permission sets;
//! - `user`: users and guild members;
//! - `channel`: channels, their kinds and permission overwrites;
//! - `guild`: guilds, their roles and bans, and how permissions and the role hierarchy
//!   resolve in them;
//! - `generate`: the world itself, its id scheme and the generation of guild `n`.

mod channel;
mod generate;
mod guild;
pub mod perms;
mod user;

pub use channel::{Channel, Overwrite, channel_type};
pub use generate::{MAX_GUILDS, World};
pub use guild::{Ban, Guild, Role, guild_created_ms};
pub use user::{Member, User};
