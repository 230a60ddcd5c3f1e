//! The client's integration tests, one binary: each module one theme.

mod client;
mod tls;
