//! `devdist summary DIR`: the end-of-run summary table of an existing output folder.

use std::path::PathBuf;

use clap::Args;
use devdist_engine::RunInfo;

use crate::summary::Timing;

#[derive(Debug, Args)]
pub(super) struct SummaryArgs {
    /// An output folder written by `devdist plan` or `devdist validate` (and applied, perhaps).
    dir: PathBuf,
}

/// Prints the table from DIR/report.json (and the timings from DIR/run.json, if it is there),
/// then apply's summary from DIR/apply/summary.json when apply has run on DIR; exits like the
/// plan did: 0 when nothing was rejected, 1 otherwise.
pub(super) fn run(args: SummaryArgs) -> anyhow::Result<u8> {
    let (report, _) = devdist_engine::read_report(&args.dir)?;
    let timing = std::fs::read(args.dir.join("run.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<RunInfo>(&bytes).ok())
        .map(|run| Timing {
            seconds: run.seconds.get("total").copied().unwrap_or_default(),
            records_per_second: run.records_per_second,
            megabytes_per_second: run.megabytes_per_second,
            threads: run.threads as u64,
        });
    crate::summary::print(report.mode.name(), &report, &args.dir, timing);
    if let Some(applied) = crate::summary::applied(&args.dir)? {
        crate::summary::print_applied(&args.dir, &applied);
    }
    Ok(if report.counts.rejected == 0 { 0 } else { 1 })
}
