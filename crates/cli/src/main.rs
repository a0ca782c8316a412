//! The `rolecall` command line.
fn main() {}
