//! `DIR/apply/journal.jsonl`: append-only, one JSON record a line, each line fsync'd before
//! apply acts on it. An intent is on disk before its Create is sent, the platform's job id
//! right after the answer, a job's outcomes once they are all known. A torn last line (apply
//! killed mid-write) is cut off on open; any other bad line means the journal was changed.
//! An OS lock (flock) on the `DIR/apply` folder itself keeps a second apply out of the same
//! folder, however its files are renamed or removed; [`PlanLock`] keeps one out of every copy
//! of the same plan on this machine.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crash::{Crash, CrashPoint};
use crate::error::Error;
use devdist_platform::sign::sha256_hex;

pub use devdist_folder::Outcome;

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
    /// Whose journal this is: written before any job record. The journal is a cache of what
    /// one platform did for one plan, so apply refuses to continue it against another
    /// endpoint or another plan (a rehearsal's journal taken for production's, say).
    Bound(Binding),
    /// About to send CreateDeviceDistributeJob. `at_ms` (Unix time) is for people:
    /// reconciliation never compares our clock with the platform's.
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
    /// The attempt ended ([`End`]): every device of it is settled, or left for the next
    /// attempt.
    Finished {
        /// Plan job id.
        job: String,
        /// Attempt.
        attempt: u32,
        /// How the attempt ended. Journals written before `end` existed say `status`: 2, 3
        /// or 4 (refused), which read as the same ends.
        #[serde(alias = "status", deserialize_with = "End::read")]
        end: End,
        /// The settled devices.
        outcomes: Vec<DeviceOutcome>,
    },
}

/// The platform and plan a journal belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The endpoint apply talked to (`scheme://host[:port]`, never credentials).
    pub endpoint: String,
    /// The account that owns the source devices (the plan's `account`).
    pub account: String,
    /// The SHA-256 of the plan's report.json, which holds the checksum of every other file.
    pub plan_sha256: String,
}

/// How one attempt of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// The platform showed status 2 (completed).
    Completed,
    /// The platform showed status 3 (interrupted): devices not settled go to the next attempt.
    Interrupted,
    /// The Create was refused for good: no job exists, and the outcomes carry the refusal.
    Refused,
    /// The platform refused to show the job it had created (deleted, or an unexpected
    /// answer): its devices could not be settled from it.
    Vanished,
}

impl End {
    /// The end of a job the platform shows in `status`, if it has ended.
    pub fn of(status: devdist_platform::JobStatus) -> Option<End> {
        match status {
            devdist_platform::JobStatus::Completed => Some(End::Completed),
            devdist_platform::JobStatus::Interrupted => Some(End::Interrupted),
            _ => None,
        }
    }

    /// Reads `end`, or the `status` number older journals wrote.
    fn read<'de, D: serde::Deserializer<'de>>(d: D) -> Result<End, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            End(End),
            Status(u8),
        }
        match Written::deserialize(d)? {
            Written::End(end) => Ok(end),
            Written::Status(2) => Ok(End::Completed),
            Written::Status(3) => Ok(End::Interrupted),
            Written::Status(4) => Ok(End::Refused),
            Written::Status(n) => Err(serde::de::Error::custom(format!("status {n} is no job end"))),
        }
    }
}

/// A prefix of the journal: what is on disk, or what a checkpoint was made of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Prefix {
    /// Its length in bytes (complete lines only).
    pub bytes: u64,
    /// Its lines.
    pub lines: usize,
    /// The length of its last line, newline included (0 when empty).
    pub last_bytes: u64,
    /// The SHA-256 of its last line, newline included.
    pub last_sha256: String,
}

/// The open, locked journal.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// What is on disk: its length, lines and last line.
    prefix: Prefix,
    _lock: File,
}

/// A machine-wide lock on one plan applied to one endpoint, so that copies of a folder
/// (`cp -a`, a second operator, a second CI job on this machine) never apply it at once: they
/// share no journal, and each would create every job. An OS lock (flock) on a file in a
/// folder of the user's own (`$XDG_RUNTIME_DIR/devdist`, else `/tmp/devdist-UID`, 0700);
/// released when the process ends, however it ends.
#[derive(Debug)]
pub(crate) struct PlanLock {
    _held: File,
}

impl PlanLock {
    /// Takes the lock of `binding`'s plan and endpoint for `dir`, or says which folder holds it.
    pub(crate) fn acquire(binding: &Binding, dir: &Path) -> Result<PlanLock, Error> {
        use rustix::fs::FlockOperation::NonBlockingLockExclusive;
        let uid = rustix::process::getuid().as_raw();
        let base = match std::env::var_os("XDG_RUNTIME_DIR").filter(|dir| Path::new(dir).is_absolute()) {
            Some(runtime) => PathBuf::from(runtime).join("devdist"),
            None => std::env::temp_dir().join(format!("devdist-{uid}")),
        };
        let own = |err: &str| Error::Journal { path: base.clone(), message: err.to_string() };
        match fs::DirBuilder::new().mode(0o700).create(&base) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(Error::journal(&base, &err)),
        }
        // Someone else's folder, or one others may write, could hold a lock that is not ours.
        let meta = fs::symlink_metadata(&base).map_err(|err| Error::journal(&base, &err))?;
        use std::os::unix::fs::MetadataExt;
        if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
            return Err(own(
                "is not a folder of this user's that only they can write: the lock of copies of a plan is kept there",
            ));
        }
        let key = sha256_hex(format!("{}\n{}", binding.endpoint, binding.plan_sha256).as_bytes());
        let path = base.join(format!("plan-{}.lock", &key[..32]));
        let mut file =
            open_own(&path, OpenOptions::new().create(true).truncate(false).read(true).write(true).mode(0o600))?;
        if rustix::fs::flock(&file, NonBlockingLockExclusive).is_err() {
            let mut holder = String::new();
            let _ = (&file).take(4096).read_to_string(&mut holder);
            return Err(Error::Journal {
                path: dir.to_path_buf(),
                message: format!(
                    "another `devdist apply` of this same plan against {} is running on this machine, in {}: copies \
                     of a plan folder share no journal, and two at once could create every job twice",
                    binding.endpoint,
                    devdist_formats::shown(Path::new(holder.trim_end()))
                ),
            });
        }
        let here = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let written = file.set_len(0).and_then(|()| {
            file.seek(SeekFrom::Start(0))?;
            file.write_all(here.as_os_str().as_encoded_bytes())
        });
        written.map_err(|err| Error::journal(&path, &err))?;
        Ok(PlanLock { _held: file })
    }
}

/// The apply folder inside a plan folder.
pub(crate) fn apply_dir(dir: &Path) -> PathBuf {
    dir.join("apply")
}

impl Journal {
    /// Locks `DIR/apply`, hands each of the journal's records to `each` (with its line number)
    /// as it is read, and cuts off a torn last line. No more than one line is held at a time.
    /// `start` is asked first where to begin (a checkpoint's prefix, [`crate::checkpoint`]):
    /// the journal's bytes before it are not read.
    /// `start` also makes what `each` then updates, and that is returned with the journal.
    pub(crate) fn open<T>(
        dir: &Path,
        start: impl FnOnce(&File, u64) -> (T, Prefix),
        mut each: impl FnMut(&mut T, Record, usize) -> Result<(), Error>,
    ) -> Result<(Journal, T), Error> {
        let folder = apply_dir(dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&folder)
            .map_err(|err| Error::journal(&folder, &err))?;
        let is_link = fs::symlink_metadata(&folder).map_err(|err| Error::journal(&folder, &err))?.is_symlink();
        if is_link {
            return Err(refused(&folder, "is a symbolic link: links are not followed"));
        }
        // The folder, not a file in it, is locked: unlinking a lock file would let a second
        // apply in, while the folder cannot go away under a running apply without its journal.
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let lock = File::from(
            rustix::fs::open(&folder, flags, Mode::empty()).map_err(|err| Error::journal(&folder, &err.into()))?,
        );
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| Error::Journal {
            path: folder.clone(),
            message: "another `devdist apply` is running on this folder (it holds the lock)".to_string(),
        })?;
        let path = folder.join("journal.jsonl");
        let mut file =
            open_own(&path, OpenOptions::new().create(true).truncate(false).read(true).append(true).mode(0o600))?;
        let length = file.metadata().map_err(|err| Error::journal(&path, &err))?.len();
        let (mut made, from) = start(&file, length);
        file.seek(SeekFrom::Start(from.bytes)).map_err(|err| Error::journal(&path, &err))?;
        let prefix = parse(&path, &file, from, |record, line| each(&mut made, record, line))?;
        if prefix.bytes < length {
            file.set_len(prefix.bytes).map_err(|err| Error::journal(&path, &err))?;
        }
        file.seek(SeekFrom::End(0)).map_err(|err| Error::journal(&path, &err))?;
        file.sync_all().map_err(|err| Error::journal(&path, &err))?;
        sync_dir(&folder)?;
        Ok((Journal { path, file, prefix, _lock: lock }, made))
    }

    /// What is on disk: the prefix a checkpoint of the states now is made of.
    pub(crate) fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// Appends `record` and waits until it is on disk. `torn` names the crash point that
    /// writes only half of it.
    pub(crate) fn append(&mut self, record: &Record, crash: &Crash, torn: CrashPoint) -> Result<(), Error> {
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
        self.file.write_all(&line).and_then(|()| self.file.sync_data()).map_err(|e| Error::journal(&self.path, &e))?;
        self.prefix.add(&line);
        Ok(())
    }
}

/// Hands each record of the journal `path`, read from `reader` a line at a time from where
/// `from` ends, to `each` with its line number; returns the prefix of its complete lines. A
/// last line without its newline was cut short by a crash: nothing was acted on for it, and it
/// is not handed on.
pub(crate) fn parse(
    path: &Path,
    reader: impl Read,
    from: Prefix,
    mut each: impl FnMut(Record, usize) -> Result<(), Error>,
) -> Result<Prefix, Error> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let (mut line, mut last) = (Vec::new(), Vec::new());
    let mut prefix = from;
    loop {
        line.clear();
        let n =
            reader.read_until(b'\n', &mut line).map_err(|err| Error::folder(path, format!("cannot read: {err}")))?;
        if line.last() != Some(&b'\n') {
            if !last.is_empty() {
                prefix.last_bytes = last.len() as u64;
                prefix.last_sha256 = sha256_hex(&last);
            }
            return Ok(prefix);
        }
        let line_number = prefix.lines + 1;
        let record = serde_json::from_slice(&line[..n - 1]).map_err(|err| {
            Error::folder(path, format!("line {line_number}, column {}: not a journal record: {err}", err.column()))
        })?;
        each(record, line_number)?;
        (prefix.bytes, prefix.lines) = (prefix.bytes + n as u64, line_number);
        std::mem::swap(&mut line, &mut last);
    }
}

impl Prefix {
    /// The prefix with `line` (newline included) appended.
    fn add(&mut self, line: &[u8]) {
        self.bytes += line.len() as u64;
        self.lines += 1;
        self.last_bytes = line.len() as u64;
        self.last_sha256 = sha256_hex(line);
    }
}

/// Hands each record of a journal to `each` without locking it (for `verify`).
pub(crate) fn read(dir: &Path, each: impl FnMut(Record, usize) -> Result<(), Error>) -> Result<(), Error> {
    let opened = devdist_formats::open_inside(dir, "apply/journal.jsonl").map_err(|err| Error::unreadable(&err))?;
    parse(&apply_dir(dir).join("journal.jsonl"), &opened.file, Prefix::default(), each).map(drop)
}

/// Opens `path`, a file of `DIR/apply` that apply writes, with `options`: never through a
/// symbolic link (which could make apply write anywhere, or lose its journal to /dev/null)
/// and without blocking (on a FIFO); it must be a regular file.
fn open_own(path: &Path, options: &mut OpenOptions) -> Result<File, Error> {
    use rustix::fs::OFlags;
    let flags = (OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32;
    let file = options.custom_flags(flags).open(path).map_err(|err| {
        if err.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            refused(path, "is a symbolic link: links are not followed")
        } else {
            Error::journal(path, &err)
        }
    })?;
    if !file.metadata().map_err(|err| Error::journal(path, &err))?.is_file() {
        return Err(refused(path, "is not a regular file"));
    }
    Ok(file)
}

/// A file or folder of `DIR/apply` that apply will not use: the plan folder is at fault.
fn refused(path: &Path, why: &str) -> Error {
    Error::folder(path, format!("{why}: not used"))
}

fn sync_dir(folder: &Path) -> Result<(), Error> {
    File::open(folder).and_then(|dir| dir.sync_all()).map_err(|err| Error::journal(folder, &err))
}

/// Writes what `write` writes to `path` atomically: a temporary file beside it, written through
/// a buffer (never held whole), fsync'd, renamed over it.
pub(crate) fn write_atomic_with(
    path: &Path,
    crash: &Crash,
    point: CrashPoint,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let temp = path.with_extension("tmp");
    // A temporary file left by a killed run is removed, not written through: whatever is at
    // that name (a link, or a hard link to another file) only loses its name here.
    if let Err(err) = fs::remove_file(&temp)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        return Err(Error::journal(&temp, &err));
    }
    let file = devdist_formats::create_new(&temp, false).map_err(|err| Error::journal(&temp, &err))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    write(&mut out)
        .and_then(|()| out.into_inner().map_err(std::io::IntoInnerError::into_error))
        .and_then(|file| file.sync_all())
        .map_err(|err| Error::journal(&temp, &err))?;
    crash.check(point)?;
    fs::rename(&temp, path).map_err(|err| Error::journal(path, &err))?;
    sync_dir(path.parent().expect("inside DIR/apply"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal of `dir`, open, and the records it held.
    fn open(dir: &Path) -> Result<(Journal, Vec<Record>), Error> {
        Journal::open(
            dir,
            |_, _| (Vec::new(), Prefix::default()),
            |records, record, _| {
                records.push(record);
                Ok(())
            },
        )
    }

    #[test]
    fn a_job_end_reads_as_a_word_or_as_the_status_older_journals_wrote() {
        let line = |end: &str| format!(r#"{{"event":"finished","job":"j","attempt":0,{end},"outcomes":[]}}"#);
        for (written, end) in [
            (r#""end":"completed""#, End::Completed),
            (r#""status":3"#, End::Interrupted),
            (r#""status":4"#, End::Refused),
            (r#""end":"vanished""#, End::Vanished),
        ] {
            let record: Record = serde_json::from_str(&line(written)).unwrap();
            assert_eq!(record, Record::Finished { job: "j".into(), attempt: 0, end, outcomes: vec![] }, "{written}");
        }
        assert!(serde_json::from_str::<Record>(&line(r#""status":1"#)).is_err());
        let finished = Record::Finished { job: "j".into(), attempt: 0, end: End::Vanished, outcomes: vec![] };
        assert_eq!(serde_json::to_string(&finished).unwrap(), line(r#""end":"vanished""#));
    }

    #[cfg(feature = "test-util")]
    #[test]
    fn a_torn_last_line_is_cut_off_and_a_bad_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::NotCreated { job: "job-1".into(), attempt: 0, reason: "throttled".into() };
        {
            let (mut journal, records) = open(dir.path()).unwrap();
            assert!(records.is_empty());
            journal.append(&record, &Crash::never(), CrashPoint::TornIntent).unwrap();
            let crash = Crash::parse("torn-intent:1", false).unwrap();
            assert!(matches!(journal.append(&record, &crash, CrashPoint::TornIntent), Err(Error::Crashed(_))));
        }
        let path = dir.path().join("apply/journal.jsonl");
        assert!(!fs::read(&path).unwrap().ends_with(b"\n"));
        let (mut journal, records) = open(dir.path()).unwrap();
        assert_eq!(records, vec![record.clone()]);
        journal.append(&record, &Crash::never(), CrashPoint::TornIntent).unwrap();
        drop(journal);
        let mut read_back = Vec::new();
        read(dir.path(), |record, _| {
            read_back.push(record);
            Ok(())
        })
        .unwrap();
        assert_eq!(read_back, vec![record.clone(), record]);

        let mut bytes = fs::read(&path).unwrap();
        bytes.splice(0..0, b"{\"event\":\"nonsense\"}\n".iter().copied());
        fs::write(&path, bytes).unwrap();
        let err = open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("journal.jsonl: line 1, column"), "{err}");
        assert_eq!(err.exit_code(), 3);
    }

    /// A temporary folder holding a plan folder with an empty `apply/`, and beside it a file
    /// that is not apply's, holding `bytes`.
    fn plan_and_outside_file(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan");
        fs::create_dir_all(plan.join("apply")).unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, bytes).unwrap();
        (dir, plan, outside)
    }

    #[test]
    fn a_journal_or_apply_folder_that_is_a_link_is_refused_and_what_it_points_at_is_untouched() {
        use std::os::unix::fs::symlink;
        // An empty file reads as an empty journal: followed, apply would append to it.
        let (dir, plan, elsewhere) = plan_and_outside_file(b"");
        let journal = plan.join("apply/journal.jsonl");
        for target in [elsewhere.as_path(), Path::new("/dev/null")] {
            let _ = fs::remove_file(&journal);
            symlink(target, &journal).unwrap();
            let err = open(&plan).unwrap_err();
            assert!(err.to_string().contains("journal.jsonl: is a symbolic link"), "{err}");
            let err = read(&plan, |_, _| Ok(())).unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        assert_eq!(fs::read(&elsewhere).unwrap(), b"");

        let other = dir.path().join("other");
        fs::create_dir(&other).unwrap();
        let linked = dir.path().join("linked");
        fs::create_dir(&linked).unwrap();
        symlink(&other, linked.join("apply")).unwrap();
        let err = open(&linked).unwrap_err();
        assert!(err.to_string().contains("apply: is a symbolic link"), "{err}");
        assert!(fs::read_dir(&other).unwrap().next().is_none(), "nothing was created through the link");
    }

    #[test]
    fn a_fifo_in_place_of_the_journal_is_an_error_not_a_hang() {
        let (_dir, plan, _) = plan_and_outside_file(b"");
        let fifo = |name: &str| {
            let status = std::process::Command::new("mkfifo").arg(plan.join("apply").join(name)).status();
            assert!(status.expect("mkfifo runs").success(), "mkfifo {name}");
        };
        // Each open runs on a thread of its own, so that a hang fails the test instead.
        let within_seconds = |plan: PathBuf, open: fn(&Path) -> Result<(), Error>| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || tx.send(open(&plan)));
            rx.recv_timeout(std::time::Duration::from_secs(10)).expect("it returns at once")
        };
        fifo("journal.jsonl");
        let err = within_seconds(plan.clone(), |plan| open(plan).map(drop)).unwrap_err();
        assert!(err.to_string().contains("journal.jsonl: is not a regular file"), "{err}");
        let err = within_seconds(plan.clone(), |plan| read(plan, |_, _| Ok(()))).unwrap_err();
        assert!(err.to_string().contains("journal.jsonl"), "{err}");
    }

    #[test]
    fn a_leftover_temporary_file_that_is_a_link_loses_its_name_and_its_target_is_untouched() {
        let (_dir, plan, precious) = plan_and_outside_file(b"not apply's");
        std::os::unix::fs::symlink(&precious, plan.join("apply/results.tmp")).unwrap();
        write_atomic_with(&plan.join("apply/results.csv"), &Crash::never(), CrashPoint::Results, |out| {
            out.write_all(b"rows\n")
        })
        .unwrap();
        assert_eq!(fs::read(&precious).unwrap(), b"not apply's");
        assert_eq!(fs::read(plan.join("apply/results.csv")).unwrap(), b"rows\n");
        assert!(!plan.join("apply/results.tmp").exists());
    }

    #[test]
    fn a_second_journal_on_the_same_folder_is_refused_whatever_becomes_of_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(dir.path()).unwrap();
        let err = open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("another `devdist apply` is running"), "{err}");
        assert_eq!(err.exit_code(), 4);
        // What a lock file would lose to a stray `rm`: the lock is on the folder itself.
        for name in ["lock", "journal.jsonl"] {
            let _ = fs::remove_file(dir.path().join("apply").join(name));
        }
        let err = open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("another `devdist apply` is running"), "{err}");
    }
}
