//! `devdist redrive DIR --out NEW`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub(super) struct RedriveArgs {
    /// A plan folder that `devdist apply` has run on (it reads DIR/apply/results.csv).
    dir: PathBuf,
    #[command(flatten)]
    to: super::DerivedOut,
}

/// Derives the new plan's inputs in a private folder beside NEW (they hold device secrets and
/// are removed on every exit), then plans them into NEW like `devdist plan`.
pub(super) fn run(args: RedriveArgs) -> anyhow::Result<u8> {
    let inputs = super::inputs_beside(&args.to.out, std::slice::from_ref(&args.dir), ".devdist-redrive-")?;
    let prepared = devdist_apply::prepare_redrive(&args.dir, inputs.path())?;
    if prepared.by_audit > 0 && !args.to.quiet {
        say!(
            "redrive {}: {} devices take DIR/audit's verdict over apply's outcome (the platform's word is newer)",
            devdist_formats::shown(&args.dir),
            prepared.by_audit
        );
    }
    if prepared.unknown + prepared.failed_retryable == 0 {
        // A plan of no jobs would only be one more folder to verify and apply for nothing.
        say!(
            "redrive {}: nothing to re-drive (no device is unknown or failed with a retryable code): {} distributed, \
             {} refused for good (their codes are in {0}/apply/results.csv), {} console; {} not written",
            devdist_formats::shown(&args.dir),
            prepared.distributed,
            prepared.refused,
            prepared.console,
            devdist_formats::shown(&args.to.out),
        );
        return Ok(0);
    }
    let outcome = super::plan_derived(&prepared.plan, &args.to)?;
    if !args.to.quiet {
        say!(
            "redrive {} → {}: {} devices re-driven ({} unknown, {} failed with a retryable code), \
             {} refused for good (rejects.csv), {} distributed, {} console, {} without an outcome yet",
            devdist_formats::shown(&args.dir),
            devdist_formats::shown(&args.to.out),
            prepared.unknown + prepared.failed_retryable,
            prepared.unknown,
            prepared.failed_retryable,
            prepared.refused,
            prepared.distributed,
            prepared.console,
            prepared.pending,
        );
        crate::summary::print("redrive", &outcome.report, &outcome.out, Some(crate::summary::Timing::of(&outcome)));
    }
    Ok(if outcome.report.counts.rejected == 0 { 0 } else { 1 })
}
