//! The journal folder beside the output (`FILE.export/`, 0700): `journal.jsonl`, one record a
//! line, appended and fsync'd after each page; each product's data file (the pages read, with
//! secrets) and, once swept, its sorted run; every file 0600. It is bound to the arguments of
//! the run that made it: a run of other arguments refuses it rather than mix two exports.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use devdist_formats::{Format, shown};
use devdist_platform::api::ProductInfo;
use serde::{Deserialize, Serialize};

use crate::info::{Changes, Problem};
use crate::{Error, Options};

/// The journal's file name inside the folder.
pub const JOURNAL: &str = "journal.jsonl";

/// The journal folder of `out`: `out` with `.export` added to its name.
pub fn folder_of(out: &Path) -> PathBuf {
    beside(out, ".export")
}

/// export.json of `out`: `out` with `.export.json` added to its name.
pub fn info_of(out: &Path) -> PathBuf {
    beside(out, ".export.json")
}

fn beside(out: &Path, suffix: &str) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    out.with_file_name(name)
}

/// One line of journal.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// The first line: what the folder is an export of.
    Bound(Binding),
    /// An instance's products, every page read.
    Products {
        /// The instance.
        instance: String,
        /// Its products, as listed.
        products: Vec<ProductInfo>,
    },
    /// A product's sweep reached `cursor`: every call before it is in the data file, whose
    /// first `len` bytes hold them.
    Page {
        /// The product's index in the sorted product list.
        product: usize,
        /// The sweep, from 0.
        sweep: u32,
        /// The next call to make.
        cursor: Cursor,
        /// Bytes of the data file that hold the calls made.
        len: u64,
    },
    /// A product's run is written.
    Done {
        /// The product's index.
        product: usize,
        /// What it gave.
        done: ProductDone,
    },
    /// The final file and export.json are written inside the folder and about to be renamed.
    Finished {
        /// The file's SHA-256.
        sha256: String,
    },
}

/// What a journal folder is an export of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The journal's format.
    pub version: u32,
    /// Where the calls go.
    pub endpoint: String,
    /// `--instance`, in the order given.
    pub instances: Vec<String>,
    /// `--product`, sorted.
    pub products: Vec<String>,
    /// The output's format.
    pub format: String,
}

/// Where a product's sweep is: the next call to make.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The step (sweep.rs `Step`).
    pub step: u32,
    /// The item of the step (an instance, a batch, a gateway), from 0.
    pub at: u64,
    /// The page of the item, from 1.
    pub page: u64,
    /// QueryDevice's NextToken for that page; empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
}

/// What a swept product gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDone {
    /// Rows in its run.
    pub rows: u64,
    /// Sweeps made.
    pub sweeps: u32,
    /// Whether the last sweep's counts held.
    pub consistent: bool,
    /// What changed, when they did not.
    pub changes: Changes,
    /// Instance regions learnt.
    pub regions: BTreeMap<String, String>,
    /// What could not be read or written.
    pub problems: Vec<Problem>,
}

/// The open journal folder: its lock held while it is open.
#[derive(Debug)]
pub struct Journal {
    /// The folder.
    pub dir: PathBuf,
    file: File,
    /// Every record read back or appended.
    pub records: Vec<Record>,
    // Held for the flock.
    _lock: File,
}

const VERSION: u32 = 1;

impl Journal {
    /// Opens (or creates) the journal folder of `options.out` and binds it: a new folder is
    /// bound to these arguments; an existing one must be bound to the same.
    pub fn open(options: &Options, endpoint: &str, format: Format) -> Result<Journal, Error> {
        let dir = folder_of(&options.out);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_dir() => {
                // A folder by that name that holds no journal is not one devdist made: it is
                // neither used nor removed.
                if !fs::symlink_metadata(dir.join(JOURNAL)).is_ok_and(|m| m.is_file()) {
                    return Err(Error::output(&dir, "exists and holds no export journal: devdist does not use it"));
                }
            }
            Ok(_) => return Err(Error::output(&dir, "is in the way of the journal folder: not a folder devdist made")),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|e| Error::output(&dir, e))?;
            }
            Err(err) => return Err(Error::output(&dir, err)),
        }
        let lock = File::open(&dir).map_err(|e| Error::output(&dir, e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| Error::output(&dir, "another `devdist export` is writing this export"))?;
        let path = dir.join(JOURNAL);
        let records = read_records(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| Error::output(&path, e))?;
        let mut products = options.products.clone();
        products.sort();
        products.dedup();
        let binding = Binding {
            version: VERSION,
            endpoint: endpoint.to_string(),
            instances: options.instances.clone(),
            products,
            format: format.to_string(),
        };
        let mut journal = Journal { dir, file, records, _lock: lock };
        match journal.records.first() {
            None => journal.append(Record::Bound(binding))?,
            Some(Record::Bound(bound)) if *bound == binding => {}
            Some(Record::Bound(bound)) => {
                return Err(Error::Invocation(format!(
                    "{} holds an unfinished export of other arguments (endpoint {}, --instance {}, --product {}, \
                     format {}): run that export again to finish it, or remove the folder to start this one",
                    shown(&journal.dir),
                    shown(&bound.endpoint),
                    shown(bound.instances.join(" ")),
                    shown(bound.products.join(" ")),
                    bound.format
                )));
            }
            Some(_) => {
                return Err(Error::output(&path, "does not start with its binding: not a journal devdist wrote"));
            }
        }
        Ok(journal)
    }

    /// Appends `record` and fsyncs it.
    pub fn append(&mut self, record: Record) -> Result<(), Error> {
        let path = self.dir.join(JOURNAL);
        let mut line = serde_json::to_vec(&record).map_err(|e| Error::output(&path, e))?;
        line.push(b'\n');
        self.file.write_all(&line).and_then(|()| self.file.sync_data()).map_err(|e| Error::output(&path, e))?;
        self.records.push(record);
        Ok(())
    }

    /// A file of the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The SHA-256 of the file an unfinished export of `out` wrote and was placing when it
/// stopped (its journal's `finished` record), if any.
pub fn finished(out: &Path) -> Option<String> {
    let path = folder_of(out).join(JOURNAL);
    let text = fs::read_to_string(path).ok()?;
    text.lines().rev().find_map(|line| match serde_json::from_str(line) {
        Ok(Record::Finished { sha256 }) => Some(sha256),
        _ => None,
    })
}

/// The records of an existing journal; a last line cut short by a crash is dropped.
fn read_records(path: &Path) -> Result<Vec<Record>, Error> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(Error::output(path, err)),
    };
    let mut records = Vec::new();
    let mut good = 0u64;
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| Error::output(path, e))?;
        if read == 0 {
            break;
        }
        number += 1;
        if !line.ends_with('\n') {
            break; // cut short by a crash: never fsync'd, never acted on
        }
        let record = serde_json::from_str(&line)
            .map_err(|e| Error::output(path, format!("line {number} is not a journal record: {e}")))?;
        records.push(record);
        good += read as u64;
    }
    // Drop the torn tail so that appends start on a line of their own.
    let file = OpenOptions::new().write(true).open(path).map_err(|e| Error::output(path, e))?;
    file.set_len(good).map_err(|e| Error::output(path, e))?;
    Ok(records)
}

/// Opens a data file for appending after its first `len` bytes (what a checkpoint vouches
/// for; anything after is dropped), creating it 0600.
pub fn data_file(path: &Path, len: u64) -> Result<File, Error> {
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| Error::output(path, e))?;
    file.set_len(len).map_err(|e| Error::output(path, e))?;
    Ok(file)
}

/// A new file of JSON lines (0600, replacing what a crashed run left there), fsync'd when
/// finished.
#[derive(Debug)]
pub struct LineWriter {
    path: PathBuf,
    out: std::io::BufWriter<File>,
}

impl LineWriter {
    /// Creates the file at `path`.
    pub fn create(path: &Path) -> Result<LineWriter, Error> {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::output(path, err)),
        }
        let file = devdist_formats::create_new(path, true).map_err(|e| Error::output(path, e))?;
        Ok(LineWriter { path: path.to_path_buf(), out: std::io::BufWriter::new(file) })
    }

    /// Appends `value` as one line.
    pub fn write<T: Serialize>(&mut self, value: &T) -> Result<(), Error> {
        serde_json::to_writer(&mut self.out, value).map_err(|e| Error::output(&self.path, e))?;
        self.out.write_all(b"\n").map_err(|e| Error::output(&self.path, e))
    }

    /// Flushes and fsyncs.
    pub fn finish(self) -> Result<(), Error> {
        let path = self.path;
        let file = self.out.into_inner().map_err(|e| Error::output(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::output(&path, e))
    }
}

/// Writes `lines` (JSON values, one a line) to a new file at `path` with [`LineWriter`].
pub fn write_lines<T: Serialize>(path: &Path, lines: impl IntoIterator<Item = T>) -> Result<(), Error> {
    let mut out = LineWriter::create(path)?;
    for line in lines {
        out.write(&line)?;
    }
    out.finish()
}

/// Calls `each` with every line of a file of JSON lines, in order, one in memory at a time.
pub fn for_each_line<T: for<'de> Deserialize<'de>>(
    path: &Path,
    mut each: impl FnMut(T) -> Result<(), Error>,
) -> Result<(), Error> {
    let file = File::open(path).map_err(|e| Error::output(path, e))?;
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::output(path, e))?;
        let value = serde_json::from_str(&line)
            .map_err(|e| Error::output(path, format!("line {} is not readable: {e}", number + 1)))?;
        each(value)?;
    }
    Ok(())
}

/// Reads a file of JSON lines.
pub fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, Error> {
    let mut lines = Vec::new();
    for_each_line(path, |line| {
        lines.push(line);
        Ok(())
    })?;
    Ok(lines)
}
