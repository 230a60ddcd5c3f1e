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
