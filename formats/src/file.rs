//! Checks made before a file is opened, and opening a file named inside a folder without
//! following links.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Position};

/// Creates `path` for writing, refusing anything already at that name (`O_EXCL`, which follows
/// no link: a planted link or file is never written through). `private` creates it 0600 (it
/// may hold device secrets); otherwise the umask decides. The one way devdist creates a file
/// it writes: the plan's outputs, apply's results and the inputs redrive and return derive.
pub fn create_new(path: &Path, private: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true).custom_flags((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32);
    options.mode(if private { 0o600 } else { 0o666 });
    options.open(path)
}

/// Fails unless `path` is a regular file (following links). Opening a FIFO would block until
/// a writer appears and a device can be endless, so neither is opened at all.
pub fn require_regular_file(path: &Path) -> Result<(), Error> {
    let metadata = std::fs::metadata(path).map_err(|err| Error::io(path, err))?;
    require_regular(path, &metadata)
}

/// Fails unless `metadata` is a regular file's.
fn require_regular(path: &Path, metadata: &Metadata) -> Result<(), Error> {
    if metadata.is_dir() {
        return Err(Error::io(path, io::Error::from(io::ErrorKind::IsADirectory)));
    }
    if !metadata.is_file() {
        return Err(Error::invalid(path, Position::default(), "not a regular file"));
    }
    Ok(())
}

/// A regular file opened by [`open_inside`].
#[derive(Debug)]
pub struct FileInside {
    /// The file, open for reading.
    pub file: File,
    /// Its permission bits (`0o600`), from the open file.
    pub mode: u32,
    /// The permission bits of each folder below `dir` on the way to it, outermost first, each
    /// from the open folder.
    pub folder_modes: Vec<u32>,
}

/// Opens `relative` (a `/`-separated path written in a file, not trusted) for reading, only if
/// it is a regular file strictly inside `dir`: no absolute path, no `..`, `.` or empty part, and
/// no part of it a symbolic link. Each part is opened relative to the folder before it with
/// `O_NOFOLLOW`, so nothing is checked and then swapped; the last part is opened `O_NONBLOCK`
/// (a FIFO does not block) and must be a regular file on the open descriptor. `dir` itself is
/// the caller's and may be reached through a link. Errors name `dir`/`relative`.
pub fn open_inside(dir: &Path, relative: &str) -> Result<FileInside, Error> {
    let parts: Vec<&str> = relative.split('/').collect();
    if parts.iter().any(|part| matches!(*part, "" | "." | "..")) {
        let message = format!(
            "not a path inside {} (absolute, or with an empty, \".\" or \"..\" part): not read",
            crate::shown(dir)
        );
        return Err(Error::invalid(Path::new(relative), Position::default(), message));
    }
    let path = dir.join(relative);
    let directory = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut folder =
        File::from(rustix::fs::open(dir, directory, Mode::empty()).map_err(|err| Error::io(dir, err.into()))?);
    let (last, folders) = parts.split_last().expect("split gives at least one part");
    let mut folder_modes = Vec::with_capacity(folders.len());
    for (depth, part) in folders.iter().enumerate() {
        let opened = rustix::fs::openat(&folder, *part, directory | OFlags::NOFOLLOW, Mode::empty());
        folder = File::from(opened.map_err(|err| not_opened(&path, &folder, &parts[..=depth], parts.len(), err))?);
        folder_modes.push(folder.metadata().map_err(|err| Error::io(&path, err))?.permissions().mode() & 0o7777);
    }
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let opened = rustix::fs::openat(&folder, *last, flags, Mode::empty());
    let file = File::from(opened.map_err(|err| not_opened(&path, &folder, &parts, parts.len(), err))?);
    let metadata = file.metadata().map_err(|err| Error::io(&path, err))?;
    require_regular(&path, &metadata)?;
    Ok(FileInside { file, mode: metadata.permissions().mode() & 0o7777, folder_modes })
}

/// `relative` inside `dir` (see [`open_inside`]), whole, if it has at most `limit` bytes;
/// a larger file is an error naming it, read no further than the limit.
pub fn read_inside(dir: &Path, relative: &str, limit: u64) -> Result<Vec<u8>, Error> {
    let opened = open_inside(dir, relative)?;
    let path = dir.join(relative);
    let mut bytes = Vec::new();
    (&opened.file).take(limit + 1).read_to_end(&mut bytes).map_err(|err| Error::io(&path, err))?;
    if bytes.len() as u64 > limit {
        let message = format!("larger than {} MiB: not read", limit >> 20);
        return Err(Error::invalid(&path, Position::default(), message));
    }
    Ok(bytes)
}

/// Why `path` could not be opened at `parts` (in `folder`), the first of its `all` parts: all of
/// it, or the folder that failed. `O_NOFOLLOW` says `ELOOP` for a link, or `ENOTDIR` with
/// `O_DIRECTORY`, so a failure is told to be a link by looking at the part without following it.
fn not_opened(path: &Path, folder: &File, parts: &[&str], all: usize, err: rustix::io::Errno) -> Error {
    let part = parts.last().expect("at least one part");
    let link = rustix::fs::statat(folder, *part, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Symlink);
    if !link {
        return Error::io(path, err.into());
    }
    let message = if parts.len() == all {
        "is a symbolic link: links are not followed".to_string()
    } else {
        format!("passes through a symbolic link ({}): links are not followed", crate::shown(parts.join("/")))
    };
    Error::invalid(path, Position::default(), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_pass() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.csv");
        std::fs::write(&file, "x").unwrap();
        assert!(require_regular_file(&file).is_ok());
        assert_eq!(
            require_regular_file(dir.path()).unwrap_err().to_string(),
            format!("{}: is a directory, not a file", crate::shown(dir.path()))
        );
        let device = Path::new("/dev/null");
        assert_eq!(require_regular_file(device).unwrap_err().to_string(), "/dev/null: not a regular file");
        assert!(require_regular_file(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn opens_only_regular_files_strictly_inside_without_links() {
        use std::os::unix::fs::symlink;
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("dir");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/f.csv"), "x").unwrap();
        std::fs::write(outer.path().join("outside.csv"), "x").unwrap();
        symlink(outer.path().join("outside.csv"), dir.join("a/link.csv")).unwrap();
        symlink(dir.join("a/b"), dir.join("a/folder")).unwrap();
        symlink("/dev/zero", dir.join("zero")).unwrap();
        std::fs::set_permissions(dir.join("a"), std::fs::Permissions::from_mode(0o751)).unwrap();
        std::fs::set_permissions(dir.join("a/b"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(dir.join("a/b/f.csv"), std::fs::Permissions::from_mode(0o640)).unwrap();
        let opened = open_inside(&dir, "a/b/f.csv").unwrap();
        assert_eq!(opened.file.metadata().unwrap().len(), 1);
        assert_eq!((opened.mode, opened.folder_modes), (0o640, vec![0o751, 0o700]));
        let error = |relative: &str| {
            let text = open_inside(&dir, relative).unwrap_err().to_string();
            text.strip_prefix(&format!("{}/", crate::shown(&dir))).map_or(text.clone(), str::to_string)
        };
        let outside = format!(
            "not a path inside {} (absolute, or with an empty, \".\" or \"..\" part): not read",
            crate::shown(&dir)
        );
        for relative in ["../outside.csv", "/etc/passwd", "a/../a/b/f.csv", "./a/b/f.csv", "a//b/f.csv", "a/b/", ""] {
            assert_eq!(error(relative), format!("{relative}: {outside}"));
        }
        assert_eq!(error("a/link.csv"), "a/link.csv: is a symbolic link: links are not followed");
        assert_eq!(error("zero"), "zero: is a symbolic link: links are not followed");
        assert_eq!(
            error("a/folder/f.csv"),
            "a/folder/f.csv: passes through a symbolic link (a/folder): links are not followed"
        );
        assert_eq!(error("a/b"), "a/b: is a directory, not a file");
        assert!(std::process::Command::new("mkfifo").arg(dir.join("fifo")).status().unwrap().success());
        assert_eq!(error("fifo"), "fifo: not a regular file");
        assert!(error("a/missing.csv").starts_with("a/missing.csv: "));
    }
}
