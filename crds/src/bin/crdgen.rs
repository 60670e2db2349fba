//! Prints the `KyutaCluster` CustomResourceDefinition as YAML on stdout.
//!
//! `cargo run -p kyuta-crds --bin crdgen > charts/kyuta/crds/kyutacluster.yaml`
fn main() {
    print!("{}", kyuta_crds::cluster::crd_yaml());
}
