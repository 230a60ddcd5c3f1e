//! `report.json` (deterministic: the same inputs give the same bytes) and `run.json` (timings,
//! the one file that differs between runs).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Which command wrote a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `devdist plan` (or `redrive`): manifests, jobs and billing.
    Plan,
    /// `devdist validate`, the dry run: no manifests, jobs or billing files.
    Validate,
}

impl Mode {
    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plan => "plan",
            Mode::Validate => "validate",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A file written into the output folder, as listed in report.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Path relative to DIR, `/`-separated.
    pub path: String,
    /// Data rows (lines of a JSON Lines file).
    pub rows: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// `report.json`: the deterministic summary of a run (docs/plan-folder.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Which command wrote the folder.
    pub mode: Mode,
    /// The account that owns the source devices.
    pub account: String,
    /// One entry per inventory file, in plan order.
    pub inputs: Vec<InputReport>,
    /// Records read, accepted and rejected, in total and per reason code.
    pub counts: Counts,
    /// Accepted devices per warning code.
    pub warnings: BTreeMap<String, u64>,
    /// Runtime or unknown columns, left out of every output, with their non-empty cell counts.
    pub runtime_columns_left_out: BTreeMap<String, u64>,
    /// Of those, the columns whose name looks like a field's (`TargetInstanceId`,
    /// `RegionId`…), with the field each may mean: left out all the same (never guessed), and
    /// warned about (absent in folders written before devdist warned).
    #[serde(default)]
    pub columns_that_may_be_fields: BTreeMap<String, String>,
    /// Per destination account and instance. A device returning home is not listed at its
    /// home (it takes no quota and gets no product grant there): see `returning_home`.
    pub destinations: Vec<DestinationReport>,
    /// Devices returning to their home instance, by home instance id (empty when none; absent
    /// in folders written before devdist told returns apart).
    #[serde(default)]
    pub returning_home: BTreeMap<String, u64>,
    /// Jobs and waves.
    pub jobs: JobsReport,
    /// Every output file but report.json and run.json, with its rows and SHA-256.
    pub outputs: Vec<OutputFile>,
}

impl Report {
    /// Where the report's own figures disagree, one sentence each; empty when every record is
    /// in exactly one place: read = accepted + rejected in total and per input file, the
    /// inputs add up to the totals, the codes add up to the rejects, and rejects.csv has one
    /// row per reject. `run` refuses to finish with any, and `verify` re-proves them.
    pub fn accounting_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let counts = &self.counts;
        if counts.read != counts.accepted + counts.rejected {
            problems.push(format!(
                "{} records read, but {} accepted + {} rejected",
                counts.read, counts.accepted, counts.rejected
            ));
        }
        let by_code: u64 = counts.rejected_by_code.values().sum();
        if by_code != counts.rejected {
            problems.push(format!("rejects per code add up to {by_code}, not {}", counts.rejected));
        }
        for input in &self.inputs {
            if input.records != input.accepted + input.rejected {
                problems.push(format!(
                    "{}: {} records read, but {} accepted + {} rejected",
                    input.path, input.records, input.accepted, input.rejected
                ));
            }
        }
        let sum = |f: fn(&InputReport) -> u64| self.inputs.iter().map(f).sum::<u64>();
        if (sum(|i| i.records), sum(|i| i.accepted), sum(|i| i.rejected))
            != (counts.read, counts.accepted, counts.rejected)
        {
            problems.push("the inputs do not add up to the totals".to_string());
        }
        match self.outputs.iter().find(|f| f.path == "rejects.csv") {
            Some(rejects) if rejects.rows != counts.rejected => problems
                .push(format!("rejects.csv has {} rows, but {} records are rejected", rejects.rows, counts.rejected)),
            Some(_) => {}
            None => problems.push("rejects.csv is not among the outputs".to_string()),
        }
        problems
    }
}

/// One inventory file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputReport {
    /// The path as written in the plan.
    pub path: String,
    /// `csv` or `parquet`.
    pub format: String,
    /// File size.
    pub bytes: u64,
    /// Records read.
    pub records: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records rejected.
    pub rejected: u64,
}

/// The accounting of a run: read = accepted + rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records read.
    pub read: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejected records per reason code (every code listed, zeros included).
    pub rejected_by_code: BTreeMap<String, u64>,
}

/// One destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationReport {
    /// Destination account.
    pub uid: String,
    /// Destination instance.
    pub instance: String,
    /// Its region.
    pub region: String,
    /// Devices granted (nearest-access devices count in every candidate).
    pub devices: u64,
    /// Distinct products granted read-only.
    pub products: u64,
    /// Device quota left before this plan (device_quota − devices_in_use); `null` when
    /// unlimited.
    #[serde(default)]
    pub quota_headroom_before: Option<u64>,
    /// Device quota left after this plan; `null` when unlimited.
    pub quota_headroom_after: Option<u64>,
}

/// Jobs of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsReport {
    /// All jobs.
    pub jobs: u64,
    /// Jobs the API can create (same account).
    pub api: u64,
    /// Cross-account jobs that only the console can create.
    pub console: u64,
    /// Waves of at most `jobs_per_wave` jobs.
    pub waves: u64,
    /// The plan's limit of devices per job (at most the platform's 10,000); 0 in folders
    /// written before devdist recorded it.
    #[serde(default)]
    pub devices_per_job: u64,
    /// The plan's limit of jobs in flight at once, one wave's worth (at most the platform's
    /// 10); 0 in folders written before devdist recorded it.
    #[serde(default)]
    pub jobs_per_wave: u64,
}

/// Timings and throughput of a run: the one output that differs between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// `devdist`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// Worker threads.
    pub threads: usize,
    /// Records read.
    pub records: u64,
    /// Input bytes.
    pub bytes: u64,
    /// Seconds per phase and in total.
    pub seconds: BTreeMap<String, f64>,
    /// Records per second over the whole run.
    pub records_per_second: f64,
    /// Input megabytes (10^6 bytes) per second over the whole run.
    pub megabytes_per_second: f64,
    /// SHA-256 of report.json, so `devdist verify` notices an edited report.
    pub report_sha256: String,
    /// The memory budget, in bytes.
    pub memory_budget: u64,
    /// Bytes of spooled records that went to the scratch folder beyond the budget.
    pub spilled_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        serde_json::from_value(serde_json::json!({
            "mode": "plan", "account": "1", "warnings": {}, "runtime_columns_left_out": {},
            "destinations": [], "jobs": { "jobs": 0, "api": 0, "console": 0, "waves": 0, "devices_per_job": 10000, "jobs_per_wave": 10 },
            "inputs": [
                { "path": "a.csv", "format": "csv", "bytes": 9, "records": 5, "accepted": 3, "rejected": 2 },
                { "path": "b.csv", "format": "csv", "bytes": 9, "records": 4, "accepted": 4, "rejected": 0 },
            ],
            "counts": { "read": 9, "accepted": 7, "rejected": 2,
                        "rejected_by_code": { "missing_field": 1, "no_route": 1 } },
            "outputs": [{ "path": "rejects.csv", "rows": 2, "sha256": "00" }],
        }))
        .unwrap()
    }

    #[test]
    fn a_consistent_report_has_no_accounting_problem() {
        assert_eq!(report().accounting_problems(), Vec::<String>::new());
    }

    #[test]
    fn every_count_that_disagrees_is_named() {
        type Spoil = fn(&mut Report);
        let cases: [(Spoil, &str); 6] = [
            (|r| r.counts.read += 1, "10 records read, but 7 accepted + 2 rejected"),
            (|r| *r.counts.rejected_by_code.get_mut("no_route").unwrap() += 1, "rejects per code add up to 3, not 2"),
            (|r| r.inputs[0].accepted -= 1, "a.csv: 5 records read, but 2 accepted + 2 rejected"),
            (|r| r.inputs[1].records += 1, "the inputs do not add up to the totals"),
            (|r| r.outputs[0].rows = 1, "rejects.csv has 1 rows, but 2 records are rejected"),
            (|r| r.outputs.clear(), "rejects.csv is not among the outputs"),
        ];
        for (spoil, problem) in cases {
            let mut report = report();
            spoil(&mut report);
            let problems = report.accounting_problems();
            assert!(problems.iter().any(|p| p == problem), "{problem:?} not in {problems:?}");
        }
    }
}
