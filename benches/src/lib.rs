//! Benchmarks live in `benches/benches/` (`cargo bench -p devdist-benches`), the end-to-end
//! comparison with DuckDB in `benches/compare.sh`; see `benches/README.md`. This crate has no
//! library code.
