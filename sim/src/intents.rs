//! Gateway intent bits, as Discord numbers them.
#![allow(missing_docs)]

pub const GUILDS: u64 = 1 << 0;
pub const GUILD_MEMBERS: u64 = 1 << 1;
pub const GUILD_MODERATION: u64 = 1 << 2;
pub const GUILD_PRESENCES: u64 = 1 << 8;
pub const GUILD_MESSAGES: u64 = 1 << 9;
pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
pub const DIRECT_MESSAGES: u64 = 1 << 12;
pub const MESSAGE_CONTENT: u64 = 1 << 15;
pub const AUTO_MODERATION_CONFIGURATION: u64 = 1 << 20;
pub const AUTO_MODERATION_EXECUTION: u64 = 1 << 21;
/// Bits Discord defines.
pub const VALID: u64 = 0x1_FFFF | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);
/// Privileged bits.
pub const PRIVILEGED: u64 = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT;
