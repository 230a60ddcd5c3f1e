//! `devdist verify DIR`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// An output folder written by `devdist plan` or `devdist validate` (and `devdist apply`).
    dir: PathBuf,
}

/// Exit 0 when everything checks out, 1 when anything is wrong (each problem on stderr).
pub(super) fn run(args: VerifyArgs) -> anyhow::Result<u8> {
    let mut problems = devdist_engine::verify(&args.dir)?;
    let applied = args.dir.join("apply").is_dir();
    if applied {
        problems.extend(devdist_apply::verify(&args.dir)?);
    }
    let audited = args.dir.join(devdist_folder::AUDIT_DIR).is_dir();
    if audited {
        problems.extend(devdist_apply::verify_audit(&args.dir)?);
    }
    if problems.is_empty() {
        let and_apply = match (applied, audited) {
            (true, true) => ", apply's results and accounting, and audit's verdicts",
            (true, false) => ", and apply's results and accounting",
            (false, true) => ", and audit's verdicts",
            (false, false) => "",
        };
        say!(
            "{}: every checksum, row count and the accounting invariant verify{and_apply}",
            devdist_formats::shown(&args.dir)
        );
        return Ok(0);
    }
    // DIR as the user spelled it, without a trailing `/`; a problem that already names its
    // whole path (an unreadable file) is not prefixed twice.
    let dir = devdist_formats::shown(args.dir.components().as_path());
    let inside = format!("{dir}/");
    for problem in &problems {
        if problem.starts_with(&inside) {
            say!("{problem}");
        } else {
            say!("{dir}/{problem}");
        }
    }
    say!("{}: {} problems", devdist_formats::shown(&args.dir), problems.len());
    Ok(1)
}
