//! The Kyuta operator: decides the shard fleet of a `KyutaCluster` and applies it.

pub mod decide;
pub mod render;
