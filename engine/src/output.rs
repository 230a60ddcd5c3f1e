//! The output folder: built beside DIR under a temporary name, moved into place only when
//! complete (docs/plan-folder.md §2.2), and removed if the run fails before that.

use std::ffi::OsStr;
use std::fs::{self, DirBuilder, File};
use std::io::{self, ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use devdist_formats::{ColumnType, Format, HashingWriter, TableWriter, Written};

use crate::error::Error;
use crate::names::is_safe_name;
use crate::spool::{Budget, Scratch};
use devdist_formats::{describe_io, shown};

/// Name of the scratch folder inside the staging folder.
const SCRATCH: &str = ".scratch";

pub use devdist_folder::OutputFile;

/// A column of an output table: its name and its type (which matters for Parquet).
pub(crate) type Column = (&'static str, ColumnType);

/// Text columns, by name.
pub(crate) const fn text(name: &'static str) -> Column {
    (name, ColumnType::Str)
}

/// Whether a file may hold secrets: secret files are 0600 in 0700 folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Readable as the umask allows.
    Normal,
    /// Owner only.
    Secret,
}

/// An output folder under construction.
#[derive(Debug)]
pub(crate) struct OutputDir {
    target: PathBuf,
    staging: PathBuf,
    files: Vec<OutputFile>,
    /// Whether an existing `target` may be replaced.
    force: bool,
    /// Whether `target` existed when the run started.
    existed: bool,
    done: bool,
}

impl OutputDir {
    /// Starts building `target`. Fails if it exists and `force` is not set.
    pub(crate) fn create(target: &Path, force: bool) -> Result<OutputDir, Error> {
        let existed = fs::symlink_metadata(target).is_ok();
        if existed && !force {
            return Err(Error::invocation(format!("{}: already exists; pass --force to replace it", shown(target))));
        }
        let name = target
            .file_name()
            .ok_or_else(|| Error::invocation(format!("{}: not a usable output folder name", shown(target))))?;
        let parent = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let prefix = staging_prefix(name);
        remove_abandoned(&parent, &prefix);
        let staging = parent.join(format!("{prefix}{}", std::process::id()));
        if fs::symlink_metadata(&staging).is_ok() {
            remove_tree(&staging).map_err(|(path, err)| Error::output(&path, err))?;
        }
        fs::create_dir(&staging).map_err(|err| Error::output(&staging, err))?;
        in_progress().push(staging.clone());
        Ok(OutputDir { target: target.to_path_buf(), staging, files: Vec::new(), force, existed, done: false })
    }

    /// Where files are being written now.
    pub(crate) fn staging(&self) -> &Path {
        &self.staging
    }

    /// A scratch folder for spools within `budget`, inside the staging folder (so every way
    /// a run ends removes it); [`OutputDir::commit`] removes it first.
    pub(crate) fn scratch(&self, budget: &Budget) -> Result<Scratch, Error> {
        Scratch::create(self.staging.join(SCRATCH), budget)
    }

    /// Creates `relative` (and its folders), ready for writing.
    pub(crate) fn create_file(&self, relative: &str, access: Access) -> Result<File, Error> {
        crate::cancel::checkpoint()?;
        let path = self.resolve(relative)?;
        // Folders below the staging folder only: once the staging folder is gone (removed by a
        // signal handler, say), no writer may bring it back.
        let mut folder = self.staging.clone();
        let components: Vec<&str> = relative.split('/').collect();
        for component in &components[..components.len() - 1] {
            folder.push(component);
            let mut builder = DirBuilder::new();
            if access == Access::Secret {
                builder.mode(0o700);
            }
            match builder.create(&folder) {
                Err(err) if err.kind() != ErrorKind::AlreadyExists => return Err(Error::output(&folder, err)),
                _ => {}
            }
        }
        devdist_formats::create_new(&path, access == Access::Secret).map_err(|err| Error::output(&path, err))
    }

    /// Starts a table at `relative`.
    pub(crate) fn table(
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
    pub(crate) fn add(&mut self, relative: &str, written: Written) {
        self.files.push(OutputFile { path: relative.to_string(), rows: written.rows, sha256: written.sha256 });
    }

    /// Writes a whole small file; [`OutputDir::add`] lists it in the report.
    pub(crate) fn write_raw(&self, relative: &str, bytes: &[u8]) -> Result<String, Error> {
        let path = self.staging.join(relative);
        let file = self.create_file(relative, Access::Normal)?;
        let mut out = HashingWriter::new(file);
        out.write_all(bytes).map_err(|err| Error::output(&path, err))?;
        let (_file, sha256) = out.finish();
        Ok(sha256)
    }

    /// Every listed file, sorted by path.
    pub(crate) fn files(&self) -> Vec<OutputFile> {
        let mut files = self.files.clone();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }

    /// Moves the finished folder into place. Without `force` nothing is ever replaced, not
    /// even a DIR that appeared while the run was running; with it, an existing DIR is
    /// exchanged in one step where the system allows it and then removed, never descending
    /// into another file system. Returns a note for the user when the commit replaced a DIR
    /// that another process created during the run.
    pub(crate) fn commit(mut self) -> Result<Option<String>, Error> {
        let staging = self.staging.clone();
        let scratch = staging.join(SCRATCH);
        if fs::symlink_metadata(&scratch).is_ok() {
            remove_tree(&scratch).map_err(|(path, err)| Error::output(&path, err))?;
        }
        if !self.force {
            return match rename(&staging, &self.target, rustix::fs::RenameFlags::NOREPLACE) {
                Ok(()) => {
                    self.finish();
                    Ok(None)
                }
                Err(err) if err.kind() == ErrorKind::AlreadyExists => Err(Error::output(
                    &self.target,
                    io::Error::new(
                        ErrorKind::AlreadyExists,
                        "appeared while this run was running (another run?) and was left as it is; this \
                         run's output was discarded (pass --force to replace it)",
                    ),
                )),
                Err(err) => Err(Error::output(&self.target, err)),
            };
        }
        // apply may have started on the old DIR while this run was running.
        refuse_applied(&self.target)?;
        let mount = fs::symlink_metadata(&self.target)
            .ok()
            .filter(fs::Metadata::is_dir)
            .and_then(|meta| other_file_system(&self.target, meta.dev()));
        if let Some(mount) = mount {
            return Err(Error::output(
                &mount,
                io::Error::other("another file system is mounted inside the DIR to replace; DIR was left as it is"),
            ));
        }
        let old = match rename(&staging, &self.target, rustix::fs::RenameFlags::EXCHANGE) {
            // The old DIR (or file) is now at the staging path.
            Ok(()) => staging.clone(),
            // DIR went away during the run: nothing to replace.
            Err(err) if err.kind() == ErrorKind::NotFound => {
                rename(&staging, &self.target, rustix::fs::RenameFlags::NOREPLACE)
                    .map_err(|err| Error::output(&self.target, err))?;
                self.finish();
                return Ok(None);
            }
            Err(err) => return Err(Error::output(&self.target, err)),
        };
        self.finish();
        let note = (!self.existed).then(|| {
            format!(
                "{} was created by another process while this run (pid {}) was running; this run's output \
                 replaced it",
                shown(&self.target),
                std::process::id()
            )
        });
        // DIR is complete; what cannot be removed of the old one is reported, and left where a
        // later run finds it (see `create`).
        remove_tree(&old).map_err(|(path, err)| {
            let reason = format!(
                "{}; {} holds this run's output, and what is left of the previous one is in {}",
                describe_io(&err),
                shown(&self.target),
                shown(&old)
            );
            Error::output(&path, io::Error::other(reason))
        })?;
        Ok(note)
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
            let _ = remove_tree(&self.staging);
            self.finish();
        }
    }
}

/// Files written into an existing folder all at once: each is written under the staging
/// folder (`DIR/.devdist-partial-…-PID`, removed on every exit path, like an
/// `OutputDir`'s) and moved into DIR only when every one is complete. Without `replace`,
/// a file that exists in DIR is never overwritten, even one that appeared during the run.
#[derive(Debug)]
pub struct StagedFiles {
    dir: PathBuf,
    staging: PathBuf,
    replace: bool,
    done: bool,
}

impl StagedFiles {
    /// Starts writing `names` into `dir` (created if needed). Fails, without `replace`, if
    /// any of them exists.
    pub fn create(dir: &Path, names: &[&str], replace: bool) -> Result<StagedFiles, Error> {
        if !replace {
            let existing: Vec<String> = names
                .iter()
                .map(|name| dir.join(name))
                .filter(|path| fs::symlink_metadata(path).is_ok())
                .map(|path| shown(&path))
                .collect();
            if !existing.is_empty() {
                let list = existing.join(", ");
                return Err(Error::invocation(format!("{list}: already exists; pass --force to replace it")));
            }
        }
        fs::create_dir_all(dir).map_err(|err| Error::output(dir, err))?;
        let prefix = staging_prefix(OsStr::new("generate"));
        remove_abandoned(dir, &prefix);
        let staging = dir.join(format!("{prefix}{}", std::process::id()));
        if fs::symlink_metadata(&staging).is_ok() {
            remove_tree(&staging).map_err(|(path, err)| Error::output(&path, err))?;
        }
        DirBuilder::new().mode(0o700).create(&staging).map_err(|err| Error::output(&staging, err))?;
        in_progress().push(staging.clone());
        Ok(StagedFiles { dir: dir.to_path_buf(), staging, replace, done: false })
    }

    /// Where to write `name` now.
    pub fn path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// The path `name` gets in DIR.
    pub fn target(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Moves `names`, in this order, into DIR; if one cannot be moved, those already moved go
    /// back, and nothing is left.
    pub fn commit(mut self, names: &[&str]) -> Result<(), Error> {
        crate::cancel::checkpoint()?;
        let flags = if self.replace { rustix::fs::RenameFlags::empty() } else { rustix::fs::RenameFlags::NOREPLACE };
        for (i, name) in names.iter().enumerate() {
            let (from, to) = (self.path(name), self.target(name));
            if let Err(err) = rename(&from, &to, flags) {
                for name in &names[..i] {
                    let _ = fs::rename(self.target(name), self.path(name));
                }
                let err = if err.kind() == ErrorKind::AlreadyExists {
                    io::Error::new(err.kind(), "appeared during this run and was left as it is; nothing was written")
                } else {
                    err
                };
                return Err(Error::output(&to, err));
            }
        }
        self.done = true;
        in_progress().retain(|path| *path != self.staging);
        let _ = remove_tree(&self.staging);
        Ok(())
    }
}

impl Drop for StagedFiles {
    fn drop(&mut self) {
        if !self.done {
            let _ = remove_tree(&self.staging);
            in_progress().retain(|path| *path != self.staging);
        }
    }
}

/// Refuses to replace `target` when it is a plan folder that apply has run on (it holds
/// [`devdist_folder::APPLY_DIR`]): its journal is the record of what the platform did, and a
/// re-planned folder without it could have its jobs created again. `--force` does not change
/// that; the way forward is a new folder.
pub(crate) fn refuse_applied(target: &Path) -> Result<(), Error> {
    if fs::symlink_metadata(target.join(devdist_folder::APPLY_DIR)).is_err() {
        return Ok(());
    }
    Err(Error::invocation(format!(
        "{}: `devdist apply` has run on it ({} holds what the platform did), so it is never replaced, \
         --force or not: a re-planned folder without that record could have its jobs created again. \
         Plan into a new folder",
        shown(target),
        shown(target.join(devdist_folder::JOURNAL))
    )))
}

/// Refuses an output folder that is, contains or lies inside any file in `read` (the plan,
/// its inventories and catalog): `--force` would destroy it, and even without it a run must
/// not build its output where its inputs are. Real paths are compared, so symbolic links and
/// `..` do not get around it; `target` need not exist (its nearest existing ancestor counts).
pub fn refuse_overlap(target: &Path, read: &[&Path]) -> Result<(), Error> {
    let out = real_path(target);
    for input in read {
        let real = real_path(input);
        let relation = if real == out {
            "is"
        } else if real.starts_with(&out) {
            "contains"
        } else if out.starts_with(&real) {
            "lies inside"
        } else {
            continue;
        };
        return Err(Error::invocation(format!(
            "--out {}: {relation} {}, which this run reads; choose an output folder apart from the inputs",
            shown(target),
            shown(input)
        )));
    }
    Ok(())
}

/// `path` made absolute with every symbolic link and `..` resolved, as far as it exists; the
/// part that does not exist yet is appended as written (`.` and `..` applied lexically).
fn real_path(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let components: Vec<Component> = absolute.components().collect();
    for existing in (1..=components.len()).rev() {
        let head: PathBuf = components[..existing].iter().collect();
        let Ok(mut real) = fs::canonicalize(&head) else { continue };
        for component in &components[existing..] {
            match component {
                Component::ParentDir => {
                    real.pop();
                }
                Component::Normal(name) => real.push(name),
                _ => {}
            }
        }
        return real;
    }
    absolute
}

/// Staging folders of runs in this process that have not finished.
fn in_progress() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    static STAGING: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    STAGING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes the staging folders of unfinished runs at once, for a signal handler that must end
/// the process now (a second Ctrl-C) rather than wait for [`cancel`](crate::cancel::cancel) to take effect.
/// Writers that are still running cannot bring a removed folder back (see
/// `OutputDir::create_file`); a file they create in the meantime makes the removal retry.
pub fn abandon_outputs() {
    let staging: Vec<PathBuf> = in_progress().drain(..).collect();
    for staging in staging {
        for _ in 0..100 {
            if remove_tree(&staging).is_ok() || fs::symlink_metadata(&staging).is_err() {
                break;
            }
        }
    }
}

/// The start of the staging names of an output folder called `name`, up to the process id:
/// `.devdist-partial-` and a fixed-length hash of the name, so that any name the file system
/// accepts for DIR also gives a usable staging name.
fn staging_prefix(name: &OsStr) -> String {
    // FNV-1a: stable across builds and platforms.
    let hash = name
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    format!(".devdist-partial-{hash:016x}-")
}

/// Removes staging folders beside DIR left by runs that were killed (`…-PID` whose process
/// is gone): they may hold secrets and nothing else uses them.
fn remove_abandoned(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(prefix) else { continue };
        let alive = pid.parse::<u32>().is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = remove_tree(&entry.path());
        }
    }
}

/// `renameat2(from, to, flags)`; where the file system has no such rename (`EINVAL`), the
/// plain rename it stands for, checking first that `to` does not exist. Every output devdist
/// moves into place without replacing goes through it (`export`'s file too).
pub fn rename(from: &Path, to: &Path, flags: rustix::fs::RenameFlags) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, from, CWD, to, flags) {
        Err(rustix::io::Errno::INVAL) => {
            if fs::symlink_metadata(to).is_ok() {
                if flags.contains(RenameFlags::NOREPLACE) {
                    return Err(io::Error::from(ErrorKind::AlreadyExists));
                }
                // No atomic exchange on this file system: two renames, with a short window.
                let aside =
                    from.with_file_name(format!("{}-old", from.file_name().unwrap_or_default().to_string_lossy()));
                fs::rename(to, &aside)?;
                if let Err(err) = fs::rename(from, to) {
                    let _ = fs::rename(&aside, to);
                    return Err(err);
                }
                return fs::rename(&aside, from);
            }
            if flags.contains(RenameFlags::EXCHANGE) {
                return Err(io::Error::from(ErrorKind::NotFound));
            }
            fs::rename(from, to)
        }
        other => other.map_err(io::Error::from),
    }
}

/// The first folder or file below `dir` (not following symbolic links) on another file
/// system than `device`: a mount point.
fn other_file_system(dir: &Path, device: u64) -> Option<PathBuf> {
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = fs::symlink_metadata(entry.path()) else { continue };
            if meta.dev() != device {
                return Some(entry.path());
            }
            if meta.is_dir() {
                folders.push(entry.path());
            }
        }
    }
    None
}

/// Removes `path` (a file, or a folder and everything in it) without following symbolic
/// links or descending into another file system. Removes all it can; fails with the first
/// entry it could not remove.
fn remove_tree(path: &Path) -> Result<(), (PathBuf, io::Error)> {
    let meta = fs::symlink_metadata(path).map_err(|err| (path.to_path_buf(), err))?;
    if !meta.is_dir() {
        return fs::remove_file(path).map_err(|err| (path.to_path_buf(), err));
    }
    let device = meta.dev();
    let mut first: Option<(PathBuf, io::Error)> = None;
    let mut note = |path: &Path, err: io::Error| {
        first.get_or_insert((path.to_path_buf(), err));
    };
    // Folders still to empty, and folders emptied (removed last, deepest first). Entries are
    // listed before descending, so no folder handle stays open.
    let mut pending = vec![path.to_path_buf()];
    let mut emptied = Vec::new();
    while let Some(folder) = pending.pop() {
        let entries: Vec<PathBuf> = match fs::read_dir(&folder) {
            Ok(entries) => entries.flatten().map(|entry| entry.path()).collect(),
            Err(err) => {
                note(&folder, err);
                continue;
            }
        };
        for entry in entries {
            match fs::symlink_metadata(&entry) {
                Ok(meta) if meta.dev() != device => {
                    note(&entry, io::Error::other("another file system is mounted here; not removed"));
                }
                Ok(meta) if meta.is_dir() => pending.push(entry),
                Ok(_) => {
                    if let Err(err) = fs::remove_file(&entry) {
                        note(&entry, err);
                    }
                }
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                Err(err) => note(&entry, err),
            }
        }
        emptied.push(folder);
    }
    for folder in emptied.iter().rev() {
        match fs::remove_dir(folder) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            // A folder is left because something in it is, which is already noted.
            Err(err) => note(folder, err),
        }
    }
    match first {
        None => Ok(()),
        Some(failure) => Err(failure),
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
        let abandoned = dir.path().join(format!("{}4000000000", staging_prefix(OsStr::new("out"))));
        fs::create_dir(&abandoned).unwrap();
        OutputDir::create(&target, true).unwrap().commit().unwrap();
        assert!(!abandoned.exists());
    }
}
