//! Reading a plan folder: `report.json`, `jobs/jobs.csv` and `jobs/requests.jsonl` (docs/plan-folder.md §3, §8),
//! after `devdist_engine::verify` has proven nothing in it changed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use devdist_folder::{JobApi, JobsRow, Mode, Report, RequestLine, RunInfo};
use devdist_platform::CreateDeviceDistributeJob;
use devdist_platform::limits::{MAX_DEVICES_PER_JOB, MAX_JOBS_IN_FLIGHT};
use devdist_platform::sign::sha256_hex;
use sha2::{Digest, Sha256};

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
    /// The CreateDeviceDistributeJob request without its devices: they are in `devices`.
    pub request: CreateDeviceDistributeJob,
    /// The job's devices in plan order.
    pub devices: Names,
    /// Its target instances `;`-joined, as jobs.csv and results.csv show them.
    pub targets: String,
}

/// The device names of one job, in plan order, held in one buffer: about 4 bytes beside each
/// name, where a `String` each costs some 40 more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    text: String,
    ends: Vec<u32>,
}

impl Names {
    /// The names of `names`, in their order; `None` when together they pass 4 GiB.
    pub fn new(names: &[String]) -> Option<Names> {
        let length: usize = names.iter().map(String::len).sum();
        u32::try_from(length).ok()?;
        let mut text = String::with_capacity(length);
        let mut ends = Vec::with_capacity(names.len());
        for name in names {
            text.push_str(name);
            ends.push(text.len() as u32);
        }
        Some(Names { text, ends })
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`-th name.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// Every name, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }
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
    /// At most this many devices per job.
    pub devices_per_job: usize,
    /// The SHA-256 of report.json, which holds every other file's: the plan's identity.
    pub plan_sha256: String,
}

impl Folder {
    /// Reads and cross-checks the jobs of `dir`, refusing a folder that does not verify or
    /// that `validate` wrote (it has no jobs).
    pub fn open(dir: &Path) -> Result<Folder, Error> {
        refuse_unverified(dir)?;
        Folder::read(dir)
    }

    /// Reads the jobs of `dir`. Only the files it reads are checked against their checksums
    /// (report.json's, held to run.json's): the bytes apply acts on are then the bytes
    /// [`Folder::open`]'s `verify` checked, even if a file changed after it.
    pub fn read(dir: &Path) -> Result<Folder, Error> {
        let report_path = dir.join("report.json");
        let (report, checksums, plan_sha256) = Checksums::of(dir)?;
        if report.mode != Mode::Plan {
            return Err(Error::folder(
                &report_path,
                format!(
                    "written by `devdist {}`, which plans no jobs; apply needs a `devdist plan` folder",
                    report.mode
                ),
            ));
        }
        let jobs = read_jobs(dir, &checksums)?;
        // report.json names the plan's limits; a folder planned before it did shows them by its
        // fullest wave (every wave but the last is full) and its largest job. Never more than
        // the platform's.
        let widest = jobs.chunk_by(|a, b| a.wave == b.wave).map(<[PlannedJob]>::len).max().unwrap_or(1);
        let jobs_per_wave = match report.jobs.jobs_per_wave {
            0 => widest,
            n => n as usize,
        };
        let jobs_per_wave = jobs_per_wave.clamp(1, MAX_JOBS_IN_FLIGHT);
        let largest = jobs.iter().map(|job| job.devices.len()).max().unwrap_or(1);
        let devices_per_job = match report.jobs.devices_per_job {
            0 => largest,
            n => n as usize,
        };
        let devices_per_job = devices_per_job.clamp(1, MAX_DEVICES_PER_JOB);
        Ok(Folder {
            dir: dir.to_path_buf(),
            account: report.account,
            jobs,
            jobs_per_wave,
            devices_per_job,
            plan_sha256,
        })
    }

    /// Devices in all jobs.
    pub fn devices(&self) -> u64 {
        self.jobs.iter().map(|job| job.devices.len() as u64).sum()
    }
}

/// Refuses a plan folder that does not verify (`devdist_engine::verify`), naming its first problem.
pub(crate) fn refuse_unverified(dir: &Path) -> Result<(), Error> {
    let problems = devdist_engine::verify(dir).map_err(|err| Error::folder(dir, err.to_string()))?;
    match problems.first() {
        None => Ok(()),
        Some(first) => Err(Error::folder(
            dir,
            format!(
                "does not verify ({} problems, first: {first}); `devdist verify {}` lists them",
                problems.len(),
                dir.display()
            ),
        )),
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
    /// Reads report.json (returned parsed) and its checksums, and report.json's own.
    fn of(dir: &Path) -> Result<(Report, Checksums, String), Error> {
        let bytes = read_file(dir, "report.json")?;
        let run: RunInfo = parse_json(&dir.join("run.json"), &read_file(dir, "run.json")?)?;
        let report_path = dir.join("report.json");
        if run.report_sha256 != sha256_hex(&bytes) {
            return Err(Error::folder(
                &report_path,
                "is not the report run.json records (changed since it was planned)",
            ));
        }
        let report: Report = parse_json(&report_path, &bytes)?;
        let checksums = report.outputs.iter().map(|file| (file.path.clone(), file.sha256.clone())).collect();
        Ok((report, Checksums(checksums), run.report_sha256))
    }

    /// The whole of `relative` (see [`read_file`]), only if report.json lists it with the
    /// checksum of what was read.
    fn read(&self, dir: &Path, relative: &str) -> Result<Vec<u8>, Error> {
        let bytes = read_file(dir, relative)?;
        self.check(dir, relative, &sha256_hex(&bytes))?;
        Ok(bytes)
    }

    /// Whether report.json lists `relative` with the checksum `sha256`.
    fn check(&self, dir: &Path, relative: &str, sha256: &str) -> Result<(), Error> {
        match self.0.get(relative) {
            Some(listed) if listed == sha256 => Ok(()),
            Some(_) => Err(Error::folder(
                &dir.join(relative),
                "is not the file report.json lists (changed since it was planned; `devdist verify` lists what changed)",
            )),
            None => Err(Error::folder(&dir.join(relative), "is not listed in report.json")),
        }
    }
}

/// Each request line of `jobs/requests.jsonl`, checked against its row of jobs.csv: the
/// row must be exactly the line's [`RequestLine::jobs_row`] view.
fn read_jobs(dir: &Path, checksums: &Checksums) -> Result<Vec<PlannedJob>, Error> {
    let csv_path = dir.join("jobs").join("jobs.csv");
    let bytes = checksums.read(dir, "jobs/jobs.csv")?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let mut rows = Vec::new();
    for (index, row) in reader.deserialize::<JobsRow>().enumerate() {
        let line = index + 2;
        rows.push(row.map_err(|err| Error::folder(&csv_path, format!("line {line}: {err}")))?);
    }
    let path = dir.join("jobs").join("requests.jsonl");
    // Read a line at a time, hashed as it is read: the file is never held whole. A line that
    // does not read is reported only once the whole file proved to be the one report.json
    // lists (a changed file is said to be changed, whatever the change broke).
    let opened = devdist_formats::open_inside(dir, "jobs/requests.jsonl").map_err(|err| Error::unreadable(&err))?;
    let mut reader = BufReader::with_capacity(1 << 20, opened.file);
    let mut hasher = Sha256::new();
    let (mut line, mut index) = (Vec::new(), 0);
    let mut jobs = Vec::with_capacity(rows.len());
    let mut first_error = None;
    loop {
        line.clear();
        let n =
            reader.read_until(b'\n', &mut line).map_err(|err| Error::folder(&path, format!("cannot read: {err}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&line);
        if first_error.is_none() {
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            match request(&path, index, text, &rows) {
                Ok(job) => jobs.push(job),
                Err(err) => first_error = Some(err),
            }
        }
        index += 1;
    }
    checksums.check(dir, "jobs/requests.jsonl", &hex(&hasher.finalize()))?;
    if let Some(err) = first_error {
        return Err(err);
    }
    if jobs.len() != rows.len() {
        return Err(Error::folder(&path, format!("{} requests for {} jobs in jobs.csv", jobs.len(), rows.len())));
    }
    Ok(jobs)
}

/// Line `index` (0-based) of requests.jsonl, `text`, checked against its row of jobs.csv.
fn request(path: &Path, index: usize, text: &[u8], rows: &[JobsRow]) -> Result<PlannedJob, Error> {
    let at = format!("line {}", index + 1);
    let text = std::str::from_utf8(text).map_err(|_| Error::folder(path, format!("{at}: is not UTF-8")))?;
    let parsed: RequestLine = serde_json::from_str(text)
        .map_err(|err| Error::folder(path, format!("{at}, column {}: {err}", err.column())))?;
    let row = parsed.jobs_row();
    match rows.get(index) {
        Some(listed) if *listed == row => {}
        Some(_) => {
            return Err(Error::folder(
                path,
                format!("{at}: the request of {} disagrees with jobs.csv line {}", parsed.job_id, index + 2),
            ));
        }
        None => return Err(Error::folder(path, format!("{at}: job {} is not in jobs.csv", parsed.job_id))),
    }
    let RequestLine { job_id, wave, api, mut request } = parsed;
    let devices = Names::new(&std::mem::take(&mut request.device_names))
        .ok_or_else(|| Error::folder(path, format!("{at}: the device names of {job_id} take more than 4 GiB")))?;
    Ok(PlannedJob { job_id, wave, console: api == JobApi::Console, request, devices, targets: row.target_instances })
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_back_each_name_in_order_empty_ones_included() {
        let given: Vec<String> = ["sensor-1", "", "gw-ü2"].map(String::from).to_vec();
        let names = Names::new(&given).unwrap();
        assert_eq!((names.len(), names.is_empty()), (3, false));
        assert_eq!(names.iter().collect::<Vec<_>>(), given);
        assert_eq!(names.get(2), "gw-ü2");
        assert!(Names::new(&[]).unwrap().is_empty());
    }
}
