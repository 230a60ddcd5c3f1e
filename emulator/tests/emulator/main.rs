//! The emulator's integration tests, one binary: each module one client of it.

mod http;
mod reads;
mod sdk;
