//! Checks made before a file is opened.

use std::io;
use std::path::Path;

use crate::error::{Error, Position};

/// Fails unless `path` is a regular file (following links). Opening a FIFO would block until
/// a writer appears and a device can be endless, so neither is opened at all.
pub fn require_regular_file(path: &Path) -> Result<(), Error> {
    let metadata = std::fs::metadata(path).map_err(|err| Error::io(path, err))?;
    if metadata.is_dir() {
        return Err(Error::io(path, io::Error::from(io::ErrorKind::IsADirectory)));
    }
    if !metadata.is_file() {
        return Err(Error::invalid(path, Position::default(), "not a regular file"));
    }
    Ok(())
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
}
