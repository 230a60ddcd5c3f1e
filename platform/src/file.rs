//! Files a user names on request (the aliyun CLI's config, `--ca-cert`), read only when they
//! are regular files and only up to a limit: opening a FIFO blocks until a writer comes, and a
//! link to `/dev/zero` never ends.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The most bytes of `~/.aliyun/config.json` read (the aliyun CLI writes a few KiB).
pub(crate) const CONFIG_LIMIT: u64 = 1 << 20;

/// The most bytes of a `--ca-cert` bundle read (the system's whole bundle is about 200 KiB).
#[cfg(feature = "client")]
pub(crate) const CA_LIMIT: u64 = 1 << 20;

/// `path`'s bytes and permission bits (`0o644`), if it is a regular file (links followed) of at
/// most `limit` bytes. It is opened non-blocking, so a FIFO does not hang the open, and checked
/// on the open descriptor, so what is read is what was checked. The errors say why in words
/// (a missing file keeps [`io::ErrorKind::NotFound`]).
pub(crate) fn read_regular(path: &Path, limit: u64) -> io::Result<(Vec<u8>, u32)> {
    use rustix::fs::OFlags;
    let flags = OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let file = File::options().read(true).custom_flags(flags.bits() as i32).open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        let what = if metadata.is_dir() { "a folder" } else { "not a regular file (a FIFO, a device or a socket)" };
        return Err(io::Error::other(format!("{what}: not read")));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        let most = if limit >= 1 << 20 { format!("{} MiB", limit >> 20) } else { format!("{limit} bytes") };
        return Err(io::Error::other(format!("larger than {most}: not read")));
    }
    Ok((bytes, metadata.permissions().mode() & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_regular_files_and_only_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "abc").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(read_regular(&file, 3).unwrap(), (b"abc".to_vec(), 0o640));
        assert_eq!(read_regular(&file, 2).unwrap_err().to_string(), "larger than 2 bytes: not read");
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let not_regular = "not a regular file (a FIFO, a device or a socket): not read";
        assert_eq!(read_regular(&link, 1 << 20).unwrap_err().to_string(), not_regular);
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(read_regular(&fifo, 1 << 20).unwrap_err().to_string(), not_regular);
        assert_eq!(read_regular(dir.path(), 1 << 20).unwrap_err().to_string(), "a folder: not read");
        assert_eq!(read_regular(&dir.path().join("missing"), 1).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
