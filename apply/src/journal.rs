//! `DIR/apply/journal.jsonl`: append-only, one JSON record a line, each line fsync'd before
//! apply acts on it. An intent is on disk before its Create is sent, the platform's job id
//! right after the answer, a job's outcomes once they are all known. A torn last line (apply
//! killed mid-write) is cut off on open; any other bad line means the journal was changed.
//! `DIR/apply/lock` (flock) keeps a second apply out of the same folder.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crash::Crash;
use crate::error::Error;

/// What became of one device in one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The platform reports code 200 for it, or QueryDeviceProvisioning shows it at a target.
    Distributed,
    /// The platform reports another code.
    Failed,
    /// Neither could be established.
    Unknown,
    /// Cross-account: the operator creates it in the console.
    Console,
}

impl Outcome {
    /// The word in results.csv and summary.json.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Distributed => "distributed",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
            Outcome::Console => "console",
        }
    }
}

/// One device's outcome, as journalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceOutcome {
    /// DeviceName.
    pub device: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The platform's code (`200` when distributed).
    pub code: String,
    /// The platform's message, or how the outcome was established.
    pub message: String,
}

/// One journal line. `attempt` 0 is the plan's job; 1, 2, … re-drive the devices an
/// interrupted attempt left unfinished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record {
    /// About to send CreateDeviceDistributeJob. `at_ms` (Unix time) bounds when the platform
    /// may have created it.
    Intent {
        /// Plan job id.
        job: String,
        /// Attempt.
        attempt: u32,
        /// Devices in this attempt.
        devices: u64,
        /// When, in milliseconds since the Unix epoch.
        at_ms: u64,
    },
    /// The platform created it (answered, or found by reconciliation: `adopted`).
    Created {
        /// Plan job id.
        job: String,
        /// Attempt.
        attempt: u32,
        /// The platform's JobId.
        platform_job_id: String,
        /// Found by ListDeviceDistributeJob after a lost answer.
        adopted: bool,
    },
    /// The Create certainly created nothing (throttled, refused, or not found by
    /// reconciliation): the intent is void and the job may be created again.
    NotCreated {
        /// Plan job id.
        job: String,
        /// Attempt.
        attempt: u32,
        /// Why that is certain.
        reason: String,
    },
    /// Status 2 or 3 was seen and every device of the attempt is settled, or left for the next
    /// attempt (status 3).
    Finished {
        /// Plan job id.
        job: String,
        /// Attempt.
        attempt: u32,
        /// 2 (completed), 3 (interrupted), or 4 (the Create was refused: `outcomes` carry its
        /// code).
        status: u8,
        /// The settled devices.
        outcomes: Vec<DeviceOutcome>,
    },
}

/// The open, locked journal.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    _lock: File,
}

/// The apply folder inside a plan folder.
pub(crate) fn apply_dir(dir: &Path) -> PathBuf {
    dir.join("apply")
}

impl Journal {
    /// Locks `DIR/apply`, reads the journal's records and cuts off a torn last line.
    pub(crate) fn open(dir: &Path) -> Result<(Journal, Vec<Record>), Error> {
        let folder = apply_dir(dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&folder)
            .map_err(|err| Error::journal(&folder, &err))?;
        let lock_path = folder.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|err| Error::journal(&lock_path, &err))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| Error::Journal {
            path: lock_path.clone(),
            message: "another `devdist apply` is running on this folder (it holds the lock)".to_string(),
        })?;
        let path = folder.join("journal.jsonl");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|err| Error::journal(&path, &err))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|err| Error::folder(&path, format!("cannot read: {err}")))?;
        let (records, complete) = parse(&path, &bytes)?;
        if complete < bytes.len() {
            file.set_len(complete as u64).map_err(|err| Error::journal(&path, &err))?;
            file.seek(SeekFrom::End(0)).map_err(|err| Error::journal(&path, &err))?;
        }
        file.sync_all().map_err(|err| Error::journal(&path, &err))?;
        sync_dir(&folder)?;
        Ok((Journal { path, file, _lock: lock }, records))
    }

    /// Appends `record` and waits until it is on disk. `torn` names the crash point that
    /// writes only half of it.
    pub(crate) fn append(&mut self, record: &Record, crash: &Crash, torn: &str) -> Result<(), Error> {
        let mut line = serde_json::to_vec(record).expect("a record serialises");
        line.push(b'\n');
        if crash.due(torn) {
            let half = &line[..line.len() / 2];
            self.file
                .write_all(half)
                .and_then(|()| self.file.sync_data())
                .map_err(|e| Error::journal(&self.path, &e))?;
            return crash.fire(torn);
        }
        self.file.write_all(&line).and_then(|()| self.file.sync_data()).map_err(|e| Error::journal(&self.path, &e))
    }
}

/// The records of a journal's bytes, and the length of its complete lines.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<(Vec<Record>, usize), Error> {
    let mut records = Vec::new();
    let mut start = 0;
    let mut line_number = 0;
    while start < bytes.len() {
        line_number += 1;
        let Some(end) = bytes[start..].iter().position(|&b| b == b'\n').map(|n| start + n) else {
            // No newline: the last write was cut short. Nothing was acted on for it.
            break;
        };
        let record = serde_json::from_slice(&bytes[start..end]).map_err(|err| {
            Error::folder(path, format!("line {line_number}, column {}: not a journal record: {err}", err.column()))
        })?;
        records.push(record);
        start = end + 1;
    }
    Ok((records, start))
}

/// Reads a journal without locking it (for `verify`).
pub(crate) fn read(dir: &Path) -> Result<Vec<Record>, Error> {
    let path = apply_dir(dir).join("journal.jsonl");
    let bytes = fs::read(&path).map_err(|err| Error::folder(&path, format!("cannot read: {err}")))?;
    Ok(parse(&path, &bytes)?.0)
}

fn sync_dir(folder: &Path) -> Result<(), Error> {
    File::open(folder).and_then(|dir| dir.sync_all()).map_err(|err| Error::journal(folder, &err))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync'd, renamed over it.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], crash: &Crash, point: &str) -> Result<(), Error> {
    let temp = path.with_extension("tmp");
    let mut file = File::create(&temp).map_err(|err| Error::journal(&temp, &err))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|err| Error::journal(&temp, &err))?;
    crash.check(point)?;
    fs::rename(&temp, path).map_err(|err| Error::journal(path, &err))?;
    sync_dir(path.parent().expect("inside DIR/apply"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_off_and_a_bad_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::NotCreated { job: "job-1".into(), attempt: 0, reason: "throttled".into() };
        {
            let (mut journal, records) = Journal::open(dir.path()).unwrap();
            assert!(records.is_empty());
            journal.append(&record, &Crash::never(), "torn-intent").unwrap();
            let crash = Crash::parse("torn-intent:1", false).unwrap();
            assert!(matches!(journal.append(&record, &crash, "torn-intent"), Err(Error::Crashed(_))));
        }
        let path = dir.path().join("apply/journal.jsonl");
        assert!(!fs::read(&path).unwrap().ends_with(b"\n"));
        let (mut journal, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(records, vec![record.clone()]);
        journal.append(&record, &Crash::never(), "torn-intent").unwrap();
        drop(journal);
        assert_eq!(read(dir.path()).unwrap(), vec![record.clone(), record]);

        let mut bytes = fs::read(&path).unwrap();
        bytes.splice(0..0, b"{\"event\":\"nonsense\"}\n".iter().copied());
        fs::write(&path, bytes).unwrap();
        let err = Journal::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("journal.jsonl: line 1, column"), "{err}");
        assert_eq!(err.exit_code(), 3);
    }

    #[test]
    fn a_second_journal_on_the_same_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Journal::open(dir.path()).unwrap();
        let err = Journal::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("another `devdist apply` is running"), "{err}");
        assert_eq!(err.exit_code(), 4);
    }
}
