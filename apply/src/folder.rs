//! Reading a plan folder: `report.json`, `jobs/jobs.csv` and `jobs/requests.jsonl` (SPEC §4),
//! after `devdist_engine::verify` has proven nothing in it changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use devdist_engine::OutputFile;
use devdist_platform::CreateDeviceDistributeJob;
use devdist_platform::limits::MAX_JOBS_IN_FLIGHT;
use devdist_platform::sign::sha256_hex;
use serde::Deserialize;

use crate::error::Error;

/// One job of the plan, as `jobs.csv` and `requests.jsonl` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedJob {
    /// The plan's stable job id (`job-…`).
    pub job_id: String,
    /// 1-based wave.
    pub wave: u64,
    /// Cross-account: only the console can create it, apply never calls the API for it.
    pub console: bool,
    /// The CreateDeviceDistributeJob request, devices in plan order.
    pub request: CreateDeviceDistributeJob,
}

/// The plan folder's jobs in execution order, and the window they may use.
#[derive(Debug, Clone)]
pub struct Folder {
    /// The folder.
    pub dir: PathBuf,
    /// The account that owns the source devices.
    pub account: String,
    /// Jobs in execution order.
    pub jobs: Vec<PlannedJob>,
    /// At most this many of the account's jobs in status 0/1 at once.
    pub jobs_per_wave: usize,
}

#[derive(Deserialize)]
struct JobsRow {
    job_id: String,
    wave: u64,
    api: String,
    product_key: String,
    source_instance: String,
    strategy: String,
    target_instances: String,
    target_uid: String,
    devices: u64,
}

#[derive(Deserialize)]
struct RequestLine {
    job_id: String,
    request: CreateDeviceDistributeJob,
}

impl Folder {
    /// Reads and cross-checks the jobs of `dir`, refusing a folder that does not verify or
    /// that `validate` wrote (it has no jobs).
    pub fn open(dir: &Path) -> Result<Folder, Error> {
        let problems = devdist_engine::verify(dir).map_err(|err| Error::folder(dir, err.to_string()))?;
        if let Some(first) = problems.first() {
            return Err(Error::folder(
                dir,
                format!(
                    "does not verify ({} problems, first: {first}); `devdist verify {}` lists them",
                    problems.len(),
                    dir.display()
                ),
            ));
        }
        Folder::read(dir)
    }

    /// Reads the jobs of `dir`. Only the files it reads are checked against their checksums
    /// (report.json's, held to run.json's): the bytes apply acts on are then the bytes
    /// [`Folder::open`]'s `verify` checked, even if a file changed after it.
    pub fn read(dir: &Path) -> Result<Folder, Error> {
        let report_path = dir.join("report.json");
        let (report, checksums) = Checksums::of(dir)?;
        let mode = report.get("mode").and_then(|m| m.as_str()).unwrap_or("");
        if mode != "plan" {
            return Err(Error::folder(
                &report_path,
                format!("written by `devdist {mode}`, which plans no jobs; apply needs a `devdist plan` folder"),
            ));
        }
        let account = report.get("account").and_then(|a| a.as_str()).unwrap_or_default().to_string();
        let jobs = read_jobs(dir, &checksums)?;
        // report.json names the plan's window when it has one; else the fullest wave shows it
        // (every wave but the last is full), never more than the platform's 10.
        let widest = jobs.chunk_by(|a, b| a.wave == b.wave).map(<[PlannedJob]>::len).max().unwrap_or(1);
        let jobs_per_wave = report
            .pointer("/jobs/jobs_per_wave")
            .and_then(serde_json::Value::as_u64)
            .map_or(widest, |n| n as usize)
            .clamp(1, MAX_JOBS_IN_FLIGHT);
        Ok(Folder { dir: dir.to_path_buf(), account, jobs, jobs_per_wave })
    }

    /// Devices in all jobs.
    pub fn devices(&self) -> u64 {
        self.jobs.iter().map(|job| job.request.device_names.len() as u64).sum()
    }
}

/// The most bytes one file of a plan folder may have for apply to read it whole.
const READ_LIMIT: u64 = 64 << 30;

/// The whole of `relative`, a file of plan folder `dir`, read only if it is a regular file
/// strictly inside `dir` with no symbolic link on the way ([`devdist_formats::read_inside`]):
/// a link could point anywhere, and a FIFO would never end.
pub(crate) fn read_file(dir: &Path, relative: &str) -> Result<Vec<u8>, Error> {
    devdist_formats::read_inside(dir, relative, READ_LIMIT).map_err(|err| Error::unreadable(&err))
}

/// `bytes` of the JSON file `path`.
fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes)
        .map_err(|err| Error::folder(path, format!("line {}, column {}: {err}", err.line(), err.column())))
}

/// The SHA-256 of every file report.json lists, by path; report.json itself is held to the
/// checksum run.json records of it.
struct Checksums(HashMap<String, String>);

impl Checksums {
    /// Reads report.json (returned parsed) and its checksums.
    fn of(dir: &Path) -> Result<(serde_json::Value, Checksums), Error> {
        let bytes = read_file(dir, "report.json")?;
        let run: serde_json::Value = parse_json(&dir.join("run.json"), &read_file(dir, "run.json")?)?;
        let report_path = dir.join("report.json");
        if run.get("report_sha256").and_then(serde_json::Value::as_str) != Some(sha256_hex(&bytes).as_str()) {
            return Err(Error::folder(
                &report_path,
                "is not the report run.json records (changed since it was planned)",
            ));
        }
        let report: serde_json::Value = parse_json(&report_path, &bytes)?;
        let listed = Vec::<OutputFile>::deserialize(&report["outputs"])
            .map_err(|err| Error::folder(&report_path, format!("\"outputs\": {err}")))?;
        let checksums = listed.into_iter().map(|file| (file.path, file.sha256)).collect();
        Ok((report, Checksums(checksums)))
    }

    /// The whole of `relative` (see [`read_file`]), only if report.json lists it with the
    /// checksum of what was read.
    fn read(&self, dir: &Path, relative: &str) -> Result<Vec<u8>, Error> {
        let bytes = read_file(dir, relative)?;
        match self.0.get(relative) {
            Some(sha256) if *sha256 == sha256_hex(&bytes) => Ok(bytes),
            Some(_) => Err(Error::folder(
                &dir.join(relative),
                "is not the file report.json lists (changed since it was planned; `devdist verify` lists what changed)",
            )),
            None => Err(Error::folder(&dir.join(relative), "is not listed in report.json")),
        }
    }
}

/// jobs.csv joined with each job's request, checked against each other.
fn read_jobs(dir: &Path, checksums: &Checksums) -> Result<Vec<PlannedJob>, Error> {
    let csv_path = dir.join("jobs").join("jobs.csv");
    let bytes = checksums.read(dir, "jobs/jobs.csv")?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let mut rows = Vec::new();
    for (index, row) in reader.deserialize::<JobsRow>().enumerate() {
        let line = index + 2;
        rows.push(row.map_err(|err| Error::folder(&csv_path, format!("line {line}: {err}")))?);
    }
    let requests = read_requests(dir, &rows, checksums)?;
    let mut jobs = Vec::with_capacity(rows.len());
    for (index, (row, (request_path, request))) in rows.into_iter().zip(requests).enumerate() {
        let line = index + 2;
        let agrees = request.product_key == row.product_key
            && request.source_instance_id == row.source_instance
            && request.target_uid == row.target_uid
            && request.target_instance_ids.join(";") == row.target_instances
            && request.device_names.len() as u64 == row.devices
            && u8::from(row.strategy == "nearest_access") == request.strategy;
        if !agrees {
            return Err(Error::folder(
                &request_path,
                format!("the request of {} disagrees with jobs.csv line {line}", row.job_id),
            ));
        }
        let console = match row.api.as_str() {
            "console" => true,
            "CreateDeviceDistributeJob" => false,
            other => {
                return Err(Error::folder(&csv_path, format!("line {line}, column \"api\": unknown api {other:?}")));
            }
        };
        jobs.push(PlannedJob { job_id: row.job_id, wave: row.wave, console, request });
    }
    Ok(jobs)
}

/// Each row's request, from `jobs/requests.jsonl` (one line per job, in execution order), or
/// from the older one-file-per-job layout (`jobs/<job_id>.json`).
fn read_requests(
    dir: &Path,
    rows: &[JobsRow],
    checksums: &Checksums,
) -> Result<Vec<(PathBuf, CreateDeviceDistributeJob)>, Error> {
    let path = dir.join("jobs").join("requests.jsonl");
    if !checksums.0.contains_key("jobs/requests.jsonl") {
        return rows
            .iter()
            .map(|row| {
                let relative = format!("jobs/{}.json", row.job_id);
                let path = dir.join(&relative);
                parse_json(&path, &checksums.read(dir, &relative)?).map(|request| (path, request))
            })
            .collect();
    }
    let bytes = checksums.read(dir, "jobs/requests.jsonl")?;
    let text = String::from_utf8(bytes).map_err(|_| Error::folder(&path, "is not UTF-8"))?;
    let mut requests = Vec::with_capacity(rows.len());
    for (index, line) in text.lines().enumerate() {
        let at = format!("line {}", index + 1);
        let parsed: RequestLine = serde_json::from_str(line)
            .map_err(|err| Error::folder(&path, format!("{at}, column {}: {err}", err.column())))?;
        match rows.get(index) {
            Some(row) if row.job_id == parsed.job_id => requests.push((path.clone(), parsed.request)),
            _ => return Err(Error::folder(&path, format!("{at}: job {} is not jobs.csv's job there", parsed.job_id))),
        }
    }
    if requests.len() != rows.len() {
        return Err(Error::folder(&path, format!("{} requests for {} jobs in jobs.csv", requests.len(), rows.len())));
    }
    Ok(requests)
}
