//! `devdist`: plans bulk IoT device distributions. See README.md for a tour.

/// `eprintln!` that never panics: when stderr is closed or a broken pipe, the text is lost
/// but the run's outcome and exit code are not.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod cmd;
mod progress;
mod summary;

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    watch_signals();
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
                .or_else(|| err.downcast_ref::<devdist_export::Error>().map(devdist_export::Error::exit_code))
                .unwrap_or(2);
            if matches!(err.downcast_ref::<devdist_engine::Error>(), Some(devdist_engine::Error::Interrupted)) {
                say_interrupted();
            } else {
                let _ = writeln!(std::io::stderr(), "devdist: error: {}", terminal_text(&format!("{err:#}")));
            }
            ExitCode::from(code)
        }
    }
}

/// An error or a reason that may carry the platform's text (a refusal's Message, a JobId) as
/// it may be printed on a terminal: a line holding a character a terminal would act on (ESC
/// of an escape sequence, CR, a bidi override, …) is printed through
/// [`devdist_formats::shown`]; the line breaks of a message of several lines are kept.
pub(crate) fn terminal_text(text: &str) -> String {
    let line = |line: &str| match line.chars().any(devdist_formats::is_invisible) {
        true => devdist_formats::shown(line),
        false => line.to_string(),
    };
    text.split('\n').map(line).collect::<Vec<_>>().join("\n")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == ErrorKind::BrokenPipe))
}

/// Every signal that would end the process and that a process can catch. The first one asks
/// the run to stop at its next checkpoint (it then removes its staging folder and fails with
/// exit 130); a second one, or no checkpoint within [`GRACE`] (a call the network holds up),
/// removes the staging folders at once and exits 130. Either way one line says so. Ending
/// apply anywhere is safe: every step is journalled before it is taken, as for a crash. SIGXFSZ is caught only so that it does not kill the process: the write
/// that exceeded the file size limit fails (exit 4), which cleans up like any failed write.
fn watch_signals() {
    use signal_hook::consts::signal::*;
    let mut set = vec![
        SIGINT,
        SIGTERM,
        SIGHUP,
        SIGQUIT,
        SIGUSR1,
        SIGUSR2,
        SIGALRM,
        SIGVTALRM,
        SIGPROF,
        SIGIO,
        libc::SIGPWR,
        SIGXCPU,
        libc::SIGSTKFLT,
        SIGXFSZ,
    ];
    set.extend(libc::SIGRTMIN()..=libc::SIGRTMAX());
    let signals = signal_hook::iterator::Signals::new(&set);
    let Ok(mut signals) = signals else { return };
    std::thread::spawn(move || {
        let mut seen = 0;
        for signal in signals.forever() {
            if signal == SIGXFSZ {
                continue;
            }
            seen += 1;
            if seen == 1 {
                devdist_engine::cancel();
                std::thread::spawn(|| {
                    std::thread::sleep(GRACE);
                    devdist_engine::abandon_outputs();
                    say_interrupted();
                    std::process::exit(130);
                });
            } else {
                devdist_engine::abandon_outputs();
                say_interrupted();
                std::process::exit(130);
            }
        }
    });
}

/// How long a run may take, after the first signal, to reach its next checkpoint.
const GRACE: std::time::Duration = std::time::Duration::from_millis(1500);

/// The one line an interrupted run prints, however many ways it learns of the interruption.
/// The lock is held while the line is written, so a second signal's exit waits for a line
/// the run is part way through instead of cutting it short.
fn say_interrupted() {
    static SAID: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut said = SAID.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !*said {
        say!("devdist: error: {}", devdist_engine::Error::Interrupted);
        *said = true;
    }
}
