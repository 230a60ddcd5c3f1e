//! What every module runs devdist with.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The devdist binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_devdist");

/// The bundled demo plan (tests run in `cli/`).
pub(crate) const DEMO_PLAN: &str = "../fixtures/demo/plan.toml";

/// Runs devdist to its end.
pub(crate) fn devdist(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("devdist runs")
}

/// The exit code; a run killed by a signal fails the test, naming the signal.
pub(crate) fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or_else(|| panic!("devdist was killed by a signal: {:?}", output.status))
}

/// What devdist printed on stderr.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file below `dir`, as sorted `/`-separated relative paths.
pub(crate) fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}
