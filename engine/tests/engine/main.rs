//! The engine's integration tests, one binary: each module one theme.

mod parquet_twins;
mod properties;
mod rules;
