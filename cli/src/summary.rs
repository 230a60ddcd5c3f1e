//! The short summary table printed on stderr at the end of a run.

use std::path::Path;

use devdist_engine::{Outcome, Report};

/// The timing line's figures, from a run just finished or from run.json.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timing {
    pub seconds: f64,
    pub records_per_second: f64,
    pub megabytes_per_second: f64,
    pub threads: u64,
}

impl Timing {
    /// The figures of a finished run.
    pub(crate) fn of(outcome: &Outcome) -> Timing {
        let run = &outcome.run;
        Timing {
            seconds: run.seconds.get("total").copied().unwrap_or_default(),
            records_per_second: run.records_per_second,
            megabytes_per_second: run.megabytes_per_second,
            threads: run.threads as u64,
        }
    }
}

/// Prints the table for the report of a run into `out`; without timings when run.json is gone.
pub(crate) fn print(command: &str, report: &Report, out: &Path, timing: Option<Timing>) {
    let counts = &report.counts;
    let holds = if counts.read == counts.accepted + counts.rejected {
        "accounting holds"
    } else {
        "ACCOUNTING DOES NOT HOLD: run devdist verify"
    };
    let mut lines = vec![format!(
        "devdist {command}: {} records read = {} accepted + {} rejected ({holds})",
        counts.read, counts.accepted, counts.rejected
    )];
    for input in &report.inputs {
        lines.push(format!(
            "  {:<40} {:>10} read {:>10} accepted {:>8} rejected",
            devdist_formats::shown(&input.path),
            input.records,
            input.accepted,
            input.rejected
        ));
    }
    let rejected: Vec<_> = counts.rejected_by_code.iter().filter(|(_, n)| **n > 0).collect();
    if !rejected.is_empty() {
        lines.push("  rejected:".to_string());
        for (code, n) in rejected {
            lines.push(format!("    {code:<28} {n:>10}"));
        }
    }
    for (column, field) in &report.columns_that_may_be_fields {
        lines.push(format!(
            "  warning: column {column:?} may be meant as {field}: it was read as runtime data and decided nothing \
             (rename it to {field} if that is what it holds)"
        ));
    }
    let warnings: Vec<_> = report.warnings.iter().filter(|(_, n)| **n > 0).collect();
    if !warnings.is_empty() {
        lines.push("  warnings:".to_string());
        for (code, n) in warnings {
            lines.push(format!("    {code:<28} {n:>10}"));
        }
    }
    lines.push(format!(
        "  {} destinations, {} jobs in {} waves ({} console-only)",
        report.destinations.len(),
        report.jobs.jobs,
        report.jobs.waves,
        report.jobs.console
    ));
    match timing {
        Some(run) => lines.push(format!(
            "  {} in {:.2} s ({:.0} records/s, {:.1} MB/s, {} threads)",
            devdist_formats::shown(out),
            run.seconds,
            run.records_per_second,
            run.megabytes_per_second,
            run.threads
        )),
        None => lines.push(format!("  {} (no run.json: timings unknown)", devdist_formats::shown(out))),
    }
    if counts.rejected > 0 {
        lines.push(format!("  see {}/rejects.csv for every rejected record", devdist_formats::shown(out)));
    }
    if report.outputs.iter().any(|file| file.path == "report.html") {
        lines.push(format!("  open {}/report.html for the report with charts", devdist_formats::shown(out)));
    }
    say!("{}", lines.join("\n"));
}

/// The most bytes of `DIR/apply/summary.json` read (a million-job apply's is about 200 MiB).
const APPLIED_LIMIT: u64 = 1 << 30;

/// `DIR/apply/summary.json`, typed, when apply has run on DIR: read only if it is a regular file
/// inside DIR reached through no link. `None` when there is none; an error when it is there but
/// cannot be read or parsed.
pub(crate) fn applied(dir: &Path) -> anyhow::Result<Option<devdist_folder::Summary>> {
    let relative = "apply/summary.json";
    if std::fs::symlink_metadata(dir.join(relative)).is_err() {
        return Ok(None);
    }
    let bytes = devdist_formats::read_inside(dir, relative, APPLIED_LIMIT)?;
    let summary = serde_json::from_slice(&bytes)
        .map_err(|err| anyhow::anyhow!("{}/{relative}: not apply's summary: {err}", devdist_formats::shown(dir)))?;
    Ok(Some(summary))
}

/// The lines of apply's summary of `dir`, from its summary.json: devices by outcome, the
/// accounting, jobs, and what to do next.
pub(crate) fn print_applied(dir: &Path, summary: &devdist_folder::Summary) {
    let (d, j, a) = (&summary.devices, &summary.jobs, &summary.accounting);
    let shown = devdist_formats::shown(dir);
    let mut lines = vec![format!(
        "devdist apply: {} devices in jobs = {} distributed + {} failed + {} unknown + {} console + {} pending \
         ({})",
        d.total,
        d.distributed,
        d.failed,
        d.unknown,
        d.console,
        d.pending,
        if a.holds { "accounting holds" } else { "ACCOUNTING DOES NOT HOLD: run devdist verify" }
    )];
    lines.push(format!(
        "  {} jobs ({} API, {} console-only): {} platform jobs created, {} interrupted",
        j.total, j.api, j.console, j.created, j.interrupted
    ));
    if d.pending > 0 {
        lines.push(format!("  apply has not finished: run the same `devdist apply {shown}` again"));
    }
    if !summary.console_work.is_empty() {
        lines.push(format!(
            "  {} console work items (cross-account): listed in {shown}/apply/summary.json (console_work)",
            summary.console_work.len()
        ));
    }
    let retryable_failed: u64 = summary
        .by_code
        .iter()
        .filter(|c| c.outcome == devdist_folder::Outcome::Failed && devdist_platform::is_retryable_code(&c.code))
        .map(|c| c.devices)
        .sum();
    if d.unknown + retryable_failed > 0 && d.pending == 0 {
        lines.push(format!(
            "  re-drive the {} unknown and retryably failed devices: devdist redrive {shown} --out NEW",
            d.unknown + retryable_failed
        ));
    }
    lines.push(format!("  per device: {shown}/apply/results.csv; open {shown}/apply/report.html for the page"));
    say!("{}", lines.join("\n"));
}
