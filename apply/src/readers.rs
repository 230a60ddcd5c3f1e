//! The readers redrive, return and audit share: `apply/results.csv` read typed into one
//! [`Verdict`] per device, and the rows of a plan folder's device manifests and billing
//! reassignments (CSV or JSON Lines), each file read only if it is a regular file inside DIR.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use devdist_engine::Error;
use devdist_folder::{Outcome, ResultRow};
use devdist_platform::is_retryable_code;

/// (product key, device name).
pub(crate) type Key = (String, String);

/// Where a device stands after all its rows of results.csv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Distributed,
    /// Refused for good: the code and message of the first such row, and its job.
    Refused(String),
    Unknown,
    FailedRetryable,
    Console,
}

impl Verdict {
    /// Which of two verdicts of one device wins: distributed, then refused, then retry.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Verdict::Distributed => 0,
            Verdict::Refused(_) => 1,
            Verdict::Unknown => 2,
            Verdict::FailedRetryable => 3,
            Verdict::Console => 4,
        }
    }
}

/// The most bytes of apply/results.csv or a manifest read.
const READ_LIMIT: u64 = 64 << 30;

/// `relative` inside `dir`, only if it is a regular file reached through no symbolic link
/// ([`devdist_formats::read_inside`]).
pub(crate) fn read(dir: &Path, relative: &str) -> Result<Vec<u8>, Error> {
    devdist_formats::read_inside(dir, relative, READ_LIMIT).map_err(|e| Error::Input(vec![e]))
}

pub(crate) fn invalid(path: &Path, line: u64, message: impl ToString) -> Error {
    Error::Input(vec![devdist_formats::Error::invalid(
        path,
        devdist_formats::Position::line(line),
        message.to_string(),
    )])
}

/// Each device's verdict over all its rows (sorted by key, so everything after is in order).
pub(crate) fn read_results(path: &Path, bytes: &[u8]) -> Result<BTreeMap<Key, Verdict>, Error> {
    let mut verdicts: BTreeMap<Key, Verdict> = BTreeMap::new();
    each_result(path, bytes, |key, verdict| {
        match verdicts.get(&key) {
            Some(old) if old.rank() <= verdict.rank() => {}
            _ => drop(verdicts.insert(key, verdict)),
        }
        Ok(())
    })?;
    Ok(verdicts)
}

/// Calls `each` with the device and verdict of every row of results.csv, read from `input` as
/// a stream; `path` names the file in errors.
pub(crate) fn each_result(
    path: &Path,
    input: impl std::io::Read,
    mut each: impl FnMut(Key, Verdict) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut reader = csv::Reader::from_reader(input);
    let headers = reader.headers().map_err(|e| invalid(path, 1, e))?;
    if headers.iter().ne(ResultRow::<String>::COLUMNS) {
        return Err(invalid(
            path,
            1,
            format!("the header is not results.csv's: {}", ResultRow::<String>::COLUMNS.join(",")),
        ));
    }
    for (index, record) in reader.deserialize::<ResultRow>().enumerate() {
        let row = record.map_err(|e| invalid(path, e.position().map_or(0, |p| p.line()), e))?;
        // safe_cell leaves no line end in a cell: row N is on line N + 1.
        let row = original_row(row).ok_or_else(|| {
            invalid(path, index as u64 + 2, "a cell is not as results.csv writes it (a lone `\\` or a bad `\\u{…}`)")
        })?;
        let verdict = match row.outcome {
            Outcome::Distributed => Verdict::Distributed,
            Outcome::Unknown => Verdict::Unknown,
            Outcome::Console => Verdict::Console,
            Outcome::Failed if is_retryable_code(&row.code) => Verdict::FailedRetryable,
            Outcome::Failed => {
                let text = match row.message.as_str() {
                    "" => row.code.clone(),
                    m => format!("{} ({m})", row.code),
                };
                Verdict::Refused(format!("{text} in job {}", row.job_id))
            }
        };
        each((row.product_key, row.device_name), verdict)?;
    }
    Ok(())
}

/// A row of results.csv with every cell read back as it was before [`devdist_engine::safe_cell`]
/// wrote it (`None` when a cell is not one it writes).
fn original_row(row: ResultRow) -> Option<ResultRow> {
    let text = |cell: String| devdist_engine::original_value(&cell);
    Some(ResultRow {
        product_key: text(row.product_key)?,
        device_name: text(row.device_name)?,
        job_id: text(row.job_id)?,
        platform_job_id: text(row.platform_job_id)?,
        target_instances: text(row.target_instances)?,
        outcome: row.outcome,
        code: text(row.code)?,
        message: text(row.message)?,
    })
}

/// DIR's `grants/*/*/devices.*` (`kind` "devices") or `billing/reassignments.*` ("billing"),
/// in path order.
pub(crate) fn manifests(dir: &Path, kind: &str) -> Result<Vec<PathBuf>, Error> {
    let list = |path: &Path| -> Result<Vec<PathBuf>, Error> {
        let mut entries: Vec<PathBuf> = fs::read_dir(path)
            .map_err(|e| Error::Input(vec![devdist_formats::Error::io(path, e)]))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        Ok(entries)
    };
    let stem = |path: &Path, stem: &str| path.file_stem().is_some_and(|s| s == stem);
    if kind == "billing" {
        return Ok(list(&dir.join("billing"))?.into_iter().filter(|p| stem(p, "reassignments")).collect());
    }
    let mut found = Vec::new();
    let grants = dir.join("grants");
    if !grants.exists() {
        return Ok(found);
    }
    for uid in list(&grants)? {
        for instance in list(&uid)? {
            found.extend(list(&instance)?.into_iter().filter(|p| stem(p, "devices")));
        }
    }
    Ok(found)
}

/// One row of a CSV or JSONL table.
pub(crate) enum Row<'a> {
    Csv(&'a csv::StringRecord, &'a csv::StringRecord),
    Json(&'a serde_json::Map<String, serde_json::Value>),
}

/// A row and where it is.
pub(crate) struct At<'a> {
    pub(crate) path: &'a Path,
    pub(crate) line: u64,
    row: Row<'a>,
}

impl At<'_> {
    /// The text of column `name`.
    pub(crate) fn get(&self, name: &str) -> Result<&str, Error> {
        let value = match &self.row {
            Row::Csv(headers, record) => headers.iter().position(|h| h == name).and_then(|i| record.get(i)),
            Row::Json(map) => map.get(name).and_then(|v| v.as_str()),
        };
        value.ok_or_else(|| invalid(self.path, self.line, format!("no {name:?} field")))
    }
}

/// Calls `each` with every row of a CSV or JSONL table at `path`, inside `dir`, read as a
/// stream (one row in memory at a time: a manifest may hold a million devices).
pub(crate) fn for_rows(dir: &Path, path: &Path, mut each: impl FnMut(&At) -> Result<(), Error>) -> Result<(), Error> {
    use std::io::BufRead;
    let relative = path.strip_prefix(dir).ok().and_then(Path::to_str);
    let relative = relative.ok_or_else(|| invalid(path, 0, "is not a file of the plan folder"))?;
    let is_jsonl = path.extension().is_some_and(|e| e == "jsonl");
    if !is_jsonl && path.extension().is_none_or(|e| e != "csv") {
        return Err(invalid(path, 0, "redrive, return and audit read csv and jsonl manifests only"));
    }
    let file = devdist_formats::open_inside(dir, relative).map_err(|e| Error::Input(vec![e]))?.file;
    let input = std::io::BufReader::with_capacity(1 << 16, file);
    if is_jsonl {
        for (i, line) in input.split(b'\n').enumerate() {
            let line_number = i as u64 + 1;
            let line = line.map_err(|e| Error::Input(vec![devdist_formats::Error::io(path, e)]))?;
            if line.is_empty() {
                continue;
            }
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&line).map_err(|e| invalid(path, line_number, e))?;
            each(&At { path, line: line_number, row: Row::Json(&map) })?;
        }
        return Ok(());
    }
    let mut reader = csv::Reader::from_reader(input);
    let headers = reader.headers().map_err(|e| invalid(path, 1, e))?.clone();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| invalid(path, e.position().map_or(0, |p| p.line()), e))? {
        let line = record.position().map_or(0, |p| p.line());
        each(&At { path, line, row: Row::Csv(&headers, &record) })?;
    }
    Ok(())
}
