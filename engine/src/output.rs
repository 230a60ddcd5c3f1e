//! The output folder: built beside DIR under a temporary name, moved into place only when
//! complete (SPEC §4 atomicity), and removed if the run fails before that.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use devdist_formats::{ColumnType, Format, HashingWriter, TableWriter, Written};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::global::Budget;
use crate::names::is_safe_name;
use crate::spool::Scratch;

/// Name of the scratch folder inside the staging folder.
const SCRATCH: &str = ".scratch";

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

/// A column of an output table: its name and its type (which matters for Parquet).
pub type Column = (&'static str, ColumnType);

/// Text columns, by name.
pub const fn text(name: &'static str) -> Column {
    (name, ColumnType::Str)
}

/// Whether a file may hold secrets: secret files are 0600 in 0700 folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Readable as the umask allows.
    Normal,
    /// Owner only.
    Secret,
}

/// An output folder under construction.
#[derive(Debug)]
pub struct OutputDir {
    target: PathBuf,
    staging: PathBuf,
    files: Vec<OutputFile>,
    done: bool,
}

impl OutputDir {
    /// Starts building `target`. Fails if it exists and `force` is not set.
    pub fn create(target: &Path, force: bool) -> Result<OutputDir, Error> {
        if target.exists() && !force {
            return Err(Error::invocation(format!("{}: already exists; pass --force to replace it", target.display())));
        }
        let name = target
            .file_name()
            .ok_or_else(|| Error::invocation(format!("{}: not a usable output folder name", target.display())))?;
        let parent = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let prefix = format!(".{}.devdist-", name.to_string_lossy());
        remove_abandoned(&parent, &prefix);
        let staging = parent.join(format!("{prefix}partial-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|err| Error::output(&staging, err))?;
        }
        fs::create_dir(&staging).map_err(|err| Error::output(&staging, err))?;
        in_progress().push(staging.clone());
        Ok(OutputDir { target: target.to_path_buf(), staging, files: Vec::new(), done: false })
    }

    /// Where files are being written now.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// A scratch folder for spools within `budget`, inside the staging folder (so every way
    /// a run ends removes it); [`OutputDir::commit`] removes it first.
    pub fn scratch(&self, budget: &Budget) -> Result<Scratch, Error> {
        Scratch::create(self.staging.join(SCRATCH), budget.spool_memory, budget.min_write)
    }

    /// Creates `relative` (and its folders), ready for writing.
    pub fn create_file(&self, relative: &str, access: Access) -> Result<File, Error> {
        checkpoint()?;
        let path = self.resolve(relative)?;
        if let Some(parent) = path.parent() {
            let mut builder = DirBuilder::new();
            builder.recursive(true);
            if access == Access::Secret {
                builder.mode(0o700);
            }
            builder.create(parent).map_err(|err| Error::output(parent, err))?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        if access == Access::Secret {
            options.mode(0o600);
        }
        options.open(&path).map_err(|err| Error::output(&path, err))
    }

    /// Starts a table at `relative`.
    pub fn table(
        &self,
        relative: &str,
        format: Format,
        columns: &[Column],
        access: Access,
    ) -> Result<TableWriter, Error> {
        let file = self.create_file(relative, access)?;
        let names: Vec<&'static str> = columns.iter().map(|(name, _)| *name).collect();
        let types: Vec<ColumnType> = columns.iter().map(|(_, kind)| *kind).collect();
        TableWriter::with_types(file, format, &names, &types)
            .map_err(|err| Error::output(&self.staging.join(relative), err))
    }

    /// Lists a finished table in the report.
    pub fn add(&mut self, relative: &str, written: Written) {
        self.files.push(OutputFile { path: relative.to_string(), rows: written.rows, sha256: written.sha256 });
    }

    /// Writes a whole small file; [`OutputDir::add`] lists it in the report.
    pub fn write_raw(&self, relative: &str, bytes: &[u8]) -> Result<String, Error> {
        let path = self.staging.join(relative);
        let file = self.create_file(relative, Access::Normal)?;
        let mut out = HashingWriter::new(file);
        out.write_all(bytes).map_err(|err| Error::output(&path, err))?;
        let (_file, sha256) = out.finish();
        Ok(sha256)
    }

    /// Every listed file, sorted by path.
    pub fn files(&self) -> Vec<OutputFile> {
        let mut files = self.files.clone();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }

    /// Moves the finished folder into place, replacing an existing one in one step where the
    /// system allows it.
    pub fn commit(mut self) -> Result<(), Error> {
        let staging = self.staging.clone();
        let scratch = staging.join(SCRATCH);
        if scratch.exists() {
            fs::remove_dir_all(&scratch).map_err(|err| Error::output(&scratch, err))?;
        }
        if self.target.exists() {
            let exchanged = rustix::fs::renameat_with(
                rustix::fs::CWD,
                &staging,
                rustix::fs::CWD,
                &self.target,
                rustix::fs::RenameFlags::EXCHANGE,
            );
            // The old folder ends up at `old`, and is removed on a best-effort basis: DIR is
            // already complete, and a leftover is removed by the next run (see `create`).
            let old = match exchanged {
                Ok(()) => staging.clone(),
                // No atomic exchange on this file system: two renames, with a short window.
                Err(_) => {
                    let old = staging
                        .with_file_name(format!("{}-old", staging.file_name().unwrap_or_default().to_string_lossy()));
                    fs::rename(&self.target, &old).map_err(|err| Error::output(&self.target, err))?;
                    if let Err(err) = fs::rename(&staging, &self.target) {
                        let _ = fs::rename(&old, &self.target);
                        return Err(Error::output(&self.target, err));
                    }
                    old
                }
            };
            self.finish();
            let _ = fs::remove_dir_all(&old);
            return Ok(());
        }
        fs::rename(&staging, &self.target).map_err(|err| Error::output(&self.target, err))?;
        self.finish();
        Ok(())
    }

    fn finish(&mut self) {
        self.done = true;
        in_progress().retain(|path| *path != self.staging);
    }

    /// Refuses paths that could leave the folder: every component must be a safe name.
    fn resolve(&self, relative: &str) -> Result<PathBuf, Error> {
        if relative.split('/').all(is_safe_name) {
            Ok(self.staging.join(relative))
        } else {
            Err(Error::output(&self.staging.join(relative), std::io::Error::other("unsafe output path")))
        }
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.staging);
            self.finish();
        }
    }
}

static CANCELLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks every run in this process to stop at its next checkpoint (each batch read, each file
/// written); the run then removes its staging folder and fails with [`Error::Interrupted`].
/// Safe to call from a signal-handling thread.
pub fn cancel() {
    CANCELLED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Fails with [`Error::Interrupted`] once [`cancel`] was called.
pub fn checkpoint() -> Result<(), Error> {
    if CANCELLED.load(std::sync::atomic::Ordering::Relaxed) { Err(Error::Interrupted) } else { Ok(()) }
}

/// Staging folders of runs in this process that have not finished.
fn in_progress() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    static STAGING: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    STAGING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes the staging folders of unfinished runs at once, for a signal handler that must end
/// the process now (a second Ctrl-C) rather than wait for [`cancel`] to take effect.
pub fn abandon_outputs() {
    for staging in in_progress().drain(..) {
        let _ = fs::remove_dir_all(staging);
    }
}

/// Removes staging folders beside DIR left by runs that were killed (`…-partial-PID` whose
/// process is gone, or `…-partial-PID-old`): they may hold secrets and nothing else uses them.
fn remove_abandoned(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix).and_then(|rest| rest.strip_prefix("partial-")) else { continue };
        let pid = rest.trim_end_matches("-old");
        let alive = pid.parse::<u32>().is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive || rest.ends_with("-old") {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn commits_atomically_and_cleans_up_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        {
            let out = OutputDir::create(&target, false).unwrap();
            out.write_raw("a.txt", b"first").unwrap();
            // dropped without commit: nothing left behind
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        let out = OutputDir::create(&target, false).unwrap();
        out.write_raw("a.txt", b"first").unwrap();
        out.commit().unwrap();
        assert!(OutputDir::create(&target, false).is_err());

        let out = OutputDir::create(&target, true).unwrap();
        let file = out.create_file("grants/u/i/devices.csv", Access::Secret).unwrap();
        drop(file);
        out.write_raw("b.txt", b"second").unwrap();
        assert!(out.create_file("../escape", Access::Normal).is_err());
        out.commit().unwrap();
        assert!(!target.join("a.txt").exists());
        assert_eq!(fs::read_to_string(target.join("b.txt")).unwrap(), "second");
        let mode = |p: &str| fs::metadata(target.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("grants/u/i/devices.csv"), 0o600);
        assert_eq!(mode("grants/u/i"), 0o700);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no staging or backup left");

        // A run killed before it could clean up leaves a staging folder; the next run removes it.
        let abandoned = dir.path().join(".out.devdist-partial-4000000000");
        fs::create_dir(&abandoned).unwrap();
        OutputDir::create(&target, true).unwrap().commit().unwrap();
        assert!(!abandoned.exists());
    }
}
