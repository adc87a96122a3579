//! Benchmarks (see BENCHMARKS.md); written below.

fn main() {}
