//! devdist's integration tests, run against the built binary: one test binary (one link, one
//! process to start), one module per theme, the helpers they share in `support`.

mod support;

mod audit;
mod cli;
mod crash;
mod emulate;
mod exactly_once;
mod export;
mod hostile;
mod lifecycle;
mod operator;
mod platform_text;
mod redrive;
mod rehearsal;
mod report;
