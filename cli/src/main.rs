//! `devdist`: plans bulk IoT device distributions. See README.md for a tour.

mod cmd;
mod progress;
mod summary;

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    // Ctrl-C or SIGTERM: the run stops at its next checkpoint and removes its half-built
    // output folder; a second signal removes it and exits at once.
    let signals = std::sync::atomic::AtomicU32::new(0);
    let _ = ctrlc::set_handler(move || {
        if signals.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            devdist_engine::cancel();
        } else {
            devdist_engine::abandon_outputs();
            std::process::exit(130);
        }
    });
    match cmd::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let code = err
                .downcast_ref::<devdist_engine::Error>()
                .map(devdist_engine::Error::exit_code)
                .or_else(|| err.downcast_ref::<devdist_apply::Error>().map(devdist_apply::Error::exit_code))
                .unwrap_or(2);
            let _ = writeln!(std::io::stderr(), "devdist: error: {err:#}");
            ExitCode::from(code)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == ErrorKind::BrokenPipe))
}
