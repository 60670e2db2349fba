//! The `kyuta-sim` binary.
fn main() {}
