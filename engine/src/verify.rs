//! `devdist verify DIR`: re-check every listed file's checksum and row count, look for
//! missing and extra files, and re-prove the accounting invariant.
//!
//! Nothing in DIR is trusted, report.json's paths least of all: every file is opened by
//! [`devdist_formats::open_inside`] (a regular file strictly inside DIR, no link followed, a
//! FIFO never waited on) and read in fixed buffers, so an absolute path, a `..`, a link out of
//! DIR, `/dev/zero` or a FIFO is a problem named, not a file read.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use devdist_formats::{ErrorKind, open_inside, read_inside};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Files a report does not list: itself and the timings.
const UNLISTED: [&str; 2] = ["report.json", "run.json"];

/// The folder `devdist apply` writes into a plan folder; the apply crate verifies it.
const APPLY_FOLDER: &str = "apply/";

/// The folder `devdist audit` writes into a plan folder; the apply crate verifies it.
const AUDIT_FOLDER: &str = "audit/";

/// The read buffer for checksums and row counts.
const BUFFER: usize = 64 << 10;

/// The longest JSON Lines line parsed (a job request names at most a job's devices).
const LINE_LIMIT: usize = 64 << 20;

/// The largest run.json read (timings and a few numbers).
const RUN_LIMIT: u64 = 1 << 20;

/// Everything wrong with an output folder; empty when it verifies.
pub fn verify(dir: &Path) -> Result<Vec<String>, Error> {
    let (report, text) = crate::report::read(dir)?;
    let mut problems = Vec::new();
    // report.json lists every other file's checksum; run.json holds report.json's own.
    match read_inside(dir, "run.json", RUN_LIMIT) {
        Err(err) if !is_missing(&err) => problems.push(format!("run.json: {}", reason(&err))),
        run => {
            let recorded = run
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
        }
    }
    let mut secret_folders = std::collections::BTreeMap::new();
    for file in &report.outputs {
        let shown = devdist_formats::shown(&file.path);
        let opened = match open_inside(dir, &file.path) {
            Ok(opened) => opened,
            Err(err) if is_missing(&err) => {
                problems.push(format!("{shown}: missing"));
                continue;
            }
            Err(err) => {
                problems.push(format!("{shown}: {}", reason(&err)));
                continue;
            }
        };
        // Only the owner may read device secrets, or list the folders that hold them.
        if is_devices_manifest(&file.path) {
            if opened.mode & 0o777 != 0o600 {
                problems.push(format!("{shown}: mode {:04o}, not 0600 (it holds device secrets)", opened.mode & 0o777));
            }
            secret_folders.extend(folders_of(&file.path).zip(opened.folder_modes));
        }
        let (sha256, rows) = match checksum_and_rows(&file.path, opened.file) {
            Ok(found) => found,
            Err(err) => {
                problems.push(format!("{shown}: cannot be read: {}", devdist_formats::describe_io(&err)));
                continue;
            }
        };
        if sha256 != file.sha256 {
            problems.push(format!("{shown}: checksum differs from report.json (file was changed)"));
        }
        match rows {
            Some(rows) if rows == file.rows => {}
            Some(rows) => problems.push(format!("{shown}: {rows} rows, report.json says {}", file.rows)),
            None => problems.push(format!("{shown}: cannot be parsed to count rows")),
        }
    }
    for (folder, mode) in secret_folders {
        if mode & 0o777 != 0o700 {
            let shown = devdist_formats::shown(folder);
            problems.push(format!("{shown}/: mode {:04o}, not 0700 (it holds device secrets)", mode & 0o777));
        }
    }
    let mut listed: Vec<&str> = report.outputs.iter().map(|f| f.path.as_str()).collect();
    listed.extend(UNLISTED);
    listed.sort_unstable();
    for found in walk(dir) {
        if listed.binary_search(&found.as_str()).is_err()
            && !found.starts_with(APPLY_FOLDER)
            && !found.starts_with(AUDIT_FOLDER)
        {
            problems.push(format!("{found}: not listed in report.json"));
        }
    }

    problems.extend(report.accounting_problems().into_iter().map(|problem| format!("report.json: {problem}")));
    Ok(problems)
}

/// A devices manifest, `grants/<uid>/<instance>/devices.<fmt>`: the one file that holds
/// DeviceSecrets.
fn is_devices_manifest(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() == 4 && parts[0] == "grants" && parts[3].starts_with("devices.")
}

/// The folders on the way to `path` inside DIR, outermost first: `a/b/c` gives `a`, `a/b`.
fn folders_of(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(|(at, _)| &path[..at])
}

/// The file is not there (or a folder on its way is not).
fn is_missing(err: &devdist_formats::Error) -> bool {
    matches!(err.kind(), ErrorKind::Io(err) if err.kind() == std::io::ErrorKind::NotFound)
}

/// What is wrong, without the path (a problem names the listed path itself).
fn reason(err: &devdist_formats::Error) -> String {
    match err.kind() {
        ErrorKind::Io(err) => devdist_formats::describe_io(err),
        ErrorKind::Invalid(message) => message.clone(),
        _ => err.to_string(),
    }
}

/// A buffered reader that hashes every byte consumed from it.
struct Hashed<'a> {
    inner: BufReader<&'a File>,
    sha256: Sha256,
}

impl Read for Hashed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Hashed<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.sha256.update(&self.inner.buffer()[..n]);
        self.inner.consume(n);
    }
}

/// SHA-256 of `file` (named `path` in report.json) and its data rows by its kind, in one pass
/// with fixed buffers (a Parquet file's rows come from its footer afterwards).
fn checksum_and_rows(path: &str, file: File) -> std::io::Result<(String, Option<u64>)> {
    let mut reader = Hashed { inner: BufReader::with_capacity(BUFFER, &file), sha256: Sha256::new() };
    let mut rows = if path.ends_with(".csv") {
        csv_rows(&mut reader)?
    } else if path.ends_with(".jsonl") {
        jsonl_rows(&mut reader)?
    } else if path.ends_with(".html") {
        // A page, not a table: its checksum covers it.
        Some(0)
    } else {
        None
    };
    loop {
        let read = reader.fill_buf()?.len();
        if read == 0 {
            break;
        }
        reader.consume(read);
    }
    let sha256 = hex::encode(reader.sha256.finalize());
    if path.ends_with(".parquet") {
        rows = devdist_formats::parquet_file_row_count(Path::new(path), file).ok();
    }
    Ok((sha256, rows))
}

/// Data rows of a CSV table (records after the header, each as wide as the header), parsed in
/// fixed buffers: a field of any length costs nothing.
fn csv_rows(reader: &mut impl BufRead) -> std::io::Result<Option<u64>> {
    use csv_core::ReadRecordResult;
    let mut parser = csv_core::Reader::new();
    let (mut output, mut ends) = ([0; 4096], [0; 64]);
    let (mut records, mut fields, mut width) = (0u64, 0, None);
    loop {
        let input = reader.fill_buf()?;
        let (result, read, _, ended) = parser.read_record(input, &mut output, &mut ends);
        reader.consume(read);
        fields += ended;
        match result {
            ReadRecordResult::InputEmpty | ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
            ReadRecordResult::Record => {
                if *width.get_or_insert(fields) != fields {
                    return Ok(None);
                }
                records += 1;
                fields = 0;
            }
            ReadRecordResult::End => return Ok(Some(records.saturating_sub(1))),
        }
    }
}

/// Data rows of a JSON Lines table: every non-empty line one JSON value, of at most
/// [`LINE_LIMIT`] bytes.
fn jsonl_rows(reader: &mut impl BufRead) -> std::io::Result<Option<u64>> {
    let (mut line, mut rows) = (Vec::new(), 0);
    loop {
        line.clear();
        if reader.by_ref().take(LINE_LIMIT as u64 + 1).read_until(b'\n', &mut line)? == 0 {
            return Ok(Some(rows));
        }
        let content = match line.strip_suffix(b"\n") {
            Some(content) => content,
            None if line.len() > LINE_LIMIT => return Ok(None),
            None => &line,
        };
        if content.is_empty() {
            continue;
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(content).is_err() {
            return Ok(None);
        }
        rows += 1;
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
