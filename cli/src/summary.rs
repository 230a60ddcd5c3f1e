//! The short summary table printed on stderr at the end of a run.

use devdist_engine::Outcome;

pub fn print(command: &str, outcome: &Outcome) {
    let report = &outcome.report;
    let counts = &report.counts;
    let mut lines = vec![format!(
        "devdist {command}: {} records read = {} accepted + {} rejected (accounting holds)",
        counts.read, counts.accepted, counts.rejected
    )];
    for input in &report.inputs {
        lines.push(format!(
            "  {:<40} {:>10} read {:>10} accepted {:>8} rejected",
            input.path, input.records, input.accepted, input.rejected
        ));
    }
    let rejected: Vec<_> = counts.rejected_by_code.iter().filter(|(_, n)| **n > 0).collect();
    if !rejected.is_empty() {
        lines.push("  rejected:".to_string());
        for (code, n) in rejected {
            lines.push(format!("    {code:<28} {n:>10}"));
        }
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
    let run = &outcome.run;
    lines.push(format!(
        "  {} in {:.2} s ({:.0} records/s, {:.1} MB/s, {} threads)",
        outcome.out.display(),
        run.seconds.get("total").copied().unwrap_or_default(),
        run.records_per_second,
        run.megabytes_per_second,
        run.threads
    ));
    if counts.rejected > 0 {
        lines.push(format!("  see {}/rejects.csv for every rejected record", outcome.out.display()));
    }
    eprintln!("{}", lines.join("\n"));
}
