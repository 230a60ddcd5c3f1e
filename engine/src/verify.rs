//! `devdist verify DIR`: re-check every listed file's checksum and row count, look for
//! missing and extra files, and re-prove the accounting invariant.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::report::Report;

/// Files a report does not list: itself and the timings.
const UNLISTED: [&str; 2] = ["report.json", "run.json"];

/// The folder `devdist apply` writes into a plan folder; the apply crate verifies it.
const APPLY_FOLDER: &str = "apply/";

/// Everything wrong with an output folder; empty when it verifies.
pub fn verify(dir: &Path) -> Result<Vec<String>, Error> {
    let (report, text) = Report::read(dir)?;
    let mut problems = Vec::new();
    // report.json lists every other file's checksum; run.json holds report.json's own.
    let recorded = fs::read(dir.join("run.json"))
        .ok()
        .and_then(|run| serde_json::from_slice::<serde_json::Value>(&run).ok())
        .and_then(|run| run.get("report_sha256")?.as_str().map(str::to_string));
    match recorded {
        None => problems.push("run.json: missing or without report_sha256".to_string()),
        Some(sha256) if sha256 != hex::encode(Sha256::digest(&text)) => {
            problems.push("report.json: checksum differs from run.json (file was changed)".to_string())
        }
        Some(_) => {}
    }
    for file in &report.outputs {
        let path = dir.join(&file.path);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(_) => {
                problems.push(format!("{}: missing", file.path));
                continue;
            }
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if sha256 != file.sha256 {
            problems.push(format!("{}: checksum differs from report.json (file was changed)", file.path));
        }
        match count_rows(&path, &bytes) {
            Some(rows) if rows == file.rows => {}
            Some(rows) => problems.push(format!("{}: {rows} rows, report.json says {}", file.path, file.rows)),
            None => problems.push(format!("{}: cannot be parsed to count rows", file.path)),
        }
    }
    let mut listed: Vec<&str> = report.outputs.iter().map(|f| f.path.as_str()).collect();
    listed.extend(UNLISTED);
    listed.sort_unstable();
    for found in walk(dir) {
        if listed.binary_search(&found.as_str()).is_err() && !found.starts_with(APPLY_FOLDER) {
            problems.push(format!("{found}: not listed in report.json"));
        }
    }

    let counts = &report.counts;
    if counts.read != counts.accepted + counts.rejected {
        problems.push(format!(
            "report.json: {} records read, but {} accepted + {} rejected",
            counts.read, counts.accepted, counts.rejected
        ));
    }
    let by_code: u64 = counts.rejected_by_code.values().sum();
    if by_code != counts.rejected {
        problems.push(format!("report.json: rejects per code add up to {by_code}, not {}", counts.rejected));
    }
    for input in &report.inputs {
        if input.records != input.accepted + input.rejected {
            problems.push(format!(
                "report.json: {}: {} records read, but {} accepted + {} rejected",
                input.path, input.records, input.accepted, input.rejected
            ));
        }
    }
    let sum = |f: fn(&crate::report::InputReport) -> u64| report.inputs.iter().map(f).sum::<u64>();
    if (sum(|i| i.records), sum(|i| i.accepted), sum(|i| i.rejected)) != (counts.read, counts.accepted, counts.rejected)
    {
        problems.push("report.json: the inputs do not add up to the totals".to_string());
    }
    match report.outputs.iter().find(|f| f.path == "rejects.csv") {
        Some(rejects) if rejects.rows != counts.rejected => problems
            .push(format!("rejects.csv: {} rows, but report.json counts {} rejected", rejects.rows, counts.rejected)),
        Some(_) => {}
        None => problems.push("rejects.csv: not listed in report.json".to_string()),
    }
    Ok(problems)
}

/// Data rows of an output file, by its kind.
fn count_rows(path: &Path, bytes: &[u8]) -> Option<u64> {
    let path_text = path.to_string_lossy();
    let path = path_text.as_ref();
    if path.ends_with(".parquet") {
        devdist_formats::parquet_row_count(Path::new(path)).ok()
    } else if path.ends_with(".csv") {
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
        let mut rows = 0;
        for record in reader.byte_records() {
            record.ok()?;
            rows += 1;
        }
        Some(rows)
    } else if path.ends_with(".jsonl") {
        let mut rows = 0;
        for line in bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
            serde_json::from_slice::<serde_json::Value>(line).ok()?;
            rows += 1;
        }
        Some(rows)
    } else if path.ends_with(".html") {
        // A page, not a table: its checksum covers it.
        Some(0)
    } else {
        None
    }
}

/// Every file below `dir`, as `/`-separated relative paths.
fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&path) else { continue };
        for entry in entries.flatten() {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push((entry.path(), format!("{name}/"))),
                _ => found.push(name),
            }
        }
    }
    found
}
