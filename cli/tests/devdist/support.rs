//! What every module runs devdist with. It stays here rather than in devdist-testkit: the
//! binary's path comes from `CARGO_BIN_EXE_devdist`, which only this package's tests are given.

use std::process::{Command, Output};
use std::sync::LazyLock;

/// The devdist binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_devdist");

/// The bundled demo plan, fixtures/demo/plan.toml.
pub(crate) fn demo_plan() -> &'static str {
    static PLAN: LazyLock<String> =
        LazyLock::new(|| devdist_testkit::fixture("demo/plan.toml").to_str().expect("a UTF-8 path").to_owned());
    &PLAN
}

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
