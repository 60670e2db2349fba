//! The `kyuta-worker` binary.
fn main() {}
