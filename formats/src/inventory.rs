//! An inventory of either format, picked by extension.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::batch::RecordBatch;
use crate::csv::CsvInventory;
use crate::error::{Error, Position};
use crate::layout::Layout;
use crate::parquet::{ParquetInventory, invalid};

/// An inventory of either format, chosen by the file's extension, that notices when the file
/// changes while it is read.
#[derive(Debug)]
pub struct Inventory {
    reader: Reader,
    path: PathBuf,
    /// The file as it was when opened.
    opened: Stamp,
}

#[derive(Debug)]
enum Reader {
    Csv(CsvInventory),
    Parquet(ParquetInventory),
}

/// What tells a file apart from the same path changed: which file it is (a file renamed over
/// it is another), its size and its modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> Result<Stamp, Error> {
        let meta = std::fs::metadata(path).map_err(|err| Error::io(path, err))?;
        Ok(Stamp { dev: meta.dev(), ino: meta.ino(), len: meta.len(), modified: meta.modified().ok() })
    }
}

impl Inventory {
    /// Opens `path` as CSV or Parquet by its extension (`.csv` / `.parquet`, any case).
    pub fn open(path: &Path) -> Result<Inventory, Error> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let open = |path: &Path| -> Result<Reader, Error> {
            match extension.as_deref() {
                Some("csv") => CsvInventory::open(path).map(Reader::Csv),
                Some("parquet") => ParquetInventory::open(path).map(Reader::Parquet),
                _ => Err(invalid(path, "unknown inventory format (expected .csv or .parquet)".to_string())),
            }
        };
        // Stamped before it is opened: a change between the two shows at the end like any other.
        let opened = Stamp::of(path);
        let reader = open(path)?;
        Ok(Inventory { reader, path: path.to_path_buf(), opened: opened? })
    }

    /// The column mapping of this file.
    pub fn layout(&self) -> &Layout {
        match &self.reader {
            Reader::Csv(inventory) => inventory.layout(),
            Reader::Parquet(inventory) => inventory.layout(),
        }
    }

    /// Refills `batch` with up to `capacity` records; false once the file is done. At the end,
    /// fails when the file is no longer the one opened (its size, modification time or inode
    /// changed): what was read may be part old, part new, or cut short.
    pub fn fill(&mut self, batch: &mut RecordBatch, capacity: usize) -> Result<bool, Error> {
        let more = match &mut self.reader {
            Reader::Csv(inventory) => inventory.fill(batch, capacity)?,
            Reader::Parquet(inventory) => inventory.fill(batch, capacity)?,
        };
        if !more {
            let now = Stamp::of(&self.path)?;
            if now != self.opened {
                let (was, is) = (self.opened.len, now.len);
                let message = match (was == is, now.dev == self.opened.dev && now.ino == self.opened.ino) {
                    (_, false) => "was replaced while it was read".to_string(),
                    (true, true) => format!("changed while it was read (still {is} bytes, but modified)"),
                    (false, true) => format!("changed while it was read ({was} bytes when opened, {is} at the end)"),
                };
                return Err(Error::invalid(&self.path, Position::default(), message));
            }
        }
        Ok(more)
    }

    /// `"csv"` or `"parquet"`, as the report names input formats.
    pub fn format_name(&self) -> &'static str {
        match self.reader {
            Reader::Csv(_) => "csv",
            Reader::Parquet(_) => "parquet",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_extension_is_an_error() {
        let err = Inventory::open(Path::new("devices.xlsx")).unwrap_err();
        assert_eq!(err.to_string(), "devices.xlsx: unknown inventory format (expected .csv or .parquet)");
    }

    /// Reads `path` to its end, calling `change` after the first batch of one record.
    fn read_changing(path: &Path, change: impl FnOnce()) -> Result<u64, String> {
        let mut inventory = Inventory::open(path).map_err(|err| err.to_string())?;
        let mut batch = RecordBatch::with_max_bytes(1 << 20);
        let mut records = 0;
        let mut change = Some(change);
        while inventory.fill(&mut batch, 1).map_err(|err| err.to_string())? {
            records += batch.len as u64;
            if let Some(change) = change.take() {
                change();
            }
        }
        Ok(records)
    }

    #[test]
    fn a_file_changed_while_it_is_read_fails_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devices.csv");
        let text = "product_key,device_name,device_secret,source_instance\na,dev-1,s,i\na,dev-2,s,i\na,dev-3,s,i\n";
        let shown = crate::shown(&path);
        std::fs::write(&path, text).unwrap();
        assert_eq!(read_changing(&path, || {}), Ok(3));

        let truncate = || std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(60).unwrap();
        let err = read_changing(&path, truncate).unwrap_err();
        assert_eq!(err, format!("{shown}: changed while it was read (90 bytes when opened, 60 at the end)"));

        std::fs::write(&path, text).unwrap();
        let rewrite = || {
            // File times are coarse (a few ms): the test moves the time on by itself.
            std::fs::write(&path, text.replace("dev-3", "dev-9")).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(SystemTime::UNIX_EPOCH).unwrap();
        };
        let err = read_changing(&path, rewrite).unwrap_err();
        assert_eq!(err, format!("{shown}: changed while it was read (still 90 bytes, but modified)"));

        let other = dir.path().join("other.csv");
        let replace = || {
            std::fs::write(&other, text).unwrap();
            std::fs::rename(&other, &path).unwrap();
        };
        let err = read_changing(&path, replace).unwrap_err();
        assert_eq!(err, format!("{shown}: was replaced while it was read"));
    }

    #[test]
    fn a_parquet_file_grown_while_it_is_read_fails_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devices.parquet");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/parquet/devices.duckdb-gzip.parquet");
        std::fs::copy(fixture, &path).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        let grow = || std::fs::OpenOptions::new().append(true).open(&path).unwrap().set_len(len + 10).unwrap();
        let err = read_changing(&path, grow).unwrap_err();
        let want = format!("changed while it was read ({len} bytes when opened, {} at the end)", len + 10);
        assert_eq!(err, format!("{}: {want}", crate::shown(&path)));
    }

    #[test]
    fn extension_is_case_insensitive() {
        let err = Inventory::open(Path::new("/nonexistent/devices.PARQUET")).unwrap_err();
        assert_eq!(err.to_string(), "/nonexistent/devices.PARQUET: no such file");
    }
}
