//! The `KyutaCluster` custom resource and the contract shared by the operator and the workers:
//! shard-range arithmetic, environment variable names, Redis key layout and label names.

pub mod cluster;
pub mod contract;

pub use cluster::{KyutaCluster, KyutaClusterSpec, KyutaClusterStatus, LogFormat, StorageMode};

pub use contract::{
    LayoutError, ShardLayout, identify_bucket, ordinal_from_pod_name, shard_for_guild,
};
