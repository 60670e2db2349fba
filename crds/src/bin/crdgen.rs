//! Writes the `KyutaCluster` CustomResourceDefinition as YAML.
fn main() {}
