//! The Kyuta worker: runs a contiguous range of Discord shards and serves the bot.

pub mod moderation;
