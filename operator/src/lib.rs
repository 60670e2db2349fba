//! The Kyuta operator: decides the shard fleet and applies it.
