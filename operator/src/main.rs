//! The `kyuta-operator` binary.
fn main() {}
