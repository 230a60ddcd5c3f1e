//! README's "whole lifecycle" block, run as it stands: export → plan → apply → audit → return →
//! apply → audit against `devdist emulate`, so the walk-through a newcomer copies is true. The
//! only line not run is `cargo build` (the binary under test is put first on PATH instead);
//! every other line runs in one bash, in a scratch folder whose `fixtures` is the repository's.
//! The witnesses are the files each step writes and `verify`, not the commands' own words.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use devdist_testkit::fixture;

use crate::support::{BIN, code, devdist, stderr};

const MARKER: &str = "<!-- cli/tests/devdist/lifecycle.rs runs the next block -->";

/// The shell lines of README's lifecycle block, without `cargo build`.
fn readme_block() -> Vec<String> {
    let readme = std::fs::read_to_string(fixture("../README.md")).expect("README.md reads");
    let (_, after) = readme.split_once(MARKER).expect("README.md has the lifecycle block's marker");
    let body = after.trim_start().strip_prefix("```sh\n").expect("the marker is followed by a ```sh block");
    let (block, _) = body.split_once("\n```").expect("the block ends");
    block.lines().filter(|line| !line.starts_with("cargo ")).map(str::to_string).collect()
}

/// Every `devdist` line gets its exit code appended to life/codes.txt, so the test can say
/// which step failed.
fn script(lines: &[String]) -> String {
    let mut script = String::from("set -u\n");
    for line in lines {
        script.push_str(line);
        if line.starts_with("devdist ") && !line.contains('&') {
            let command: String = line.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            script.push_str(&format!("; echo \"$? {command}\" >> codes.txt"));
        }
        script.push('\n');
    }
    script
}

fn rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader.records().map(Result::unwrap).collect()
}

/// How many rows of an audit.csv have each verdict.
fn verdicts(path: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let at = reader.headers().unwrap().iter().position(|h| h == "verdict").expect("audit.csv has a verdict column");
    let mut counts = std::collections::BTreeMap::new();
    for row in reader.records() {
        *counts.entry(row.unwrap()[at].to_string()).or_default() += 1;
    }
    counts
}

#[test]
fn the_readme_lifecycle_runs_as_written() {
    let lines = readme_block();
    assert!(lines.iter().any(|l| l.starts_with("devdist export")), "the block exports: {lines:?}");
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    std::os::unix::fs::symlink(fixture(""), dir.join("fixtures")).unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    // Its own process group, so that whatever the block leaves running (the emulator, when a
    // line fails before `kill`) is stopped with it.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script(&lines))
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("DEVDIST_APPLY_CRASH_AT")
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .process_group(0)
        .spawn()
        .expect("bash runs");
    let pid = child.id();
    let status = child.wait().unwrap();
    let _ = Command::new("kill").arg("--").arg(format!("-{pid}")).status();
    let codes = std::fs::read_to_string(dir.join("codes.txt")).unwrap_or_default();
    assert!(status.success(), "the block ran to its end; exit codes so far:\n{codes}");

    // Each step's exit code: export and plan 1 (the demo's bad records are named, not
    // exported or planned), every other 0.
    let expected = [
        "1 devdist export",
        "1 devdist plan",
        "0 devdist apply",
        "1 devdist audit",
        "0 devdist return",
        "0 devdist apply",
        "1 devdist audit",
    ];
    assert_eq!(codes.lines().collect::<Vec<_>>(), expected, "exit codes of the block's steps");

    let life = dir.join("life");
    for folder in ["plan", "back"] {
        let verified = devdist(&["verify", life.join(folder).to_str().unwrap()]);
        assert_eq!(code(&verified), 0, "verify life/{folder}: {}", stderr(&verified));
    }
    // Every device apply distributed is where the audit says: placed, then home again.
    let distributed = rows(&life.join("plan/apply/results.csv")).iter().filter(|r| &r[5] == "distributed").count();
    assert!(distributed > 3000, "the demo distributes its devices: {distributed}");
    let back = verdicts(&life.join("back/audit/audit.csv"));
    assert_eq!(back.get("placed"), Some(&distributed), "every returned device is home: {back:?}");
    let plan = verdicts(&life.join("plan/audit/audit.csv"));
    assert_eq!(plan.get("returned"), Some(&distributed), "the first plan's devices went home: {plan:?}");
}
