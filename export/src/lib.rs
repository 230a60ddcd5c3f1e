//! `devdist export`: reads an inventory from the platform itself (docs/export.md).
//!
//! - [`info`]: export.json, the one type that says what was read ([`ExportInfo`]);
//! - [`journal`]: the journal folder beside the output, its records and the binding of a
//!   resumed run to its arguments;
//! - [`sweep`]: one product's sweep, page by page, and the rows it gives;
//! - [`write`](mod@write): the final file, merged from the products' sorted runs and renamed into place.
//!
//! The sweep reads one product at a time, in product key order. Every page is appended to the
//! product's data file and then checkpointed in the journal (both fsync'd), so a run killed at
//! any instant continues from its last page and ends with the same file.
#![deny(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

pub mod info;
pub mod journal;
pub mod sweep;
pub mod write;

pub use info::ExportInfo;

/// What `devdist export` reads and where it writes.
#[derive(Debug, Clone)]
pub struct Options {
    /// The instances whose products are listed (`--instance`), in the order given.
    pub instances: Vec<String>,
    /// Only these products (`--product`); empty for every product listed.
    pub products: Vec<String>,
    /// The output file, `.csv` or `.parquet`.
    pub out: PathBuf,
    /// Replace an existing output that `devdist export` wrote.
    pub force: bool,
    /// Sweeps of one product at most when its counts change while it is read.
    pub max_sweeps: u32,
}

impl Options {
    /// Reads `instances` into `out`, with the defaults (5 sweeps at most, no --force).
    pub fn new(instances: Vec<String>, out: PathBuf) -> Options {
        Options { instances, products: Vec::new(), out, force: false, max_sweeps: 5 }
    }
}

/// What the run knows up front, after listing the products.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimate {
    /// Products to sweep.
    pub products: u64,
    /// Products flagged and not swept (AuthType without a secret).
    pub flagged: u64,
    /// Devices the products say they hold (`DeviceCount`, summed over the instances).
    pub devices: u64,
    /// The least time the platform's real limits allow for the sweep, in seconds.
    pub least_seconds: f64,
}

/// Where the sweep is, for a progress bar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Products to sweep.
    pub products: u64,
    /// Of those, swept.
    pub products_done: u64,
    /// Devices expected (`DeviceCount`).
    pub devices_expected: u64,
    /// Device rows read so far (a product swept again counts again).
    pub devices_read: u64,
}

/// Told what the run does.
pub trait Progress {
    /// A line for the operator.
    fn note(&self, line: &str);
    /// The estimate, once the products are listed.
    fn estimate(&self, estimate: &Estimate);
    /// After each page.
    fn update(&self, snapshot: &Snapshot);
}

/// Tells nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn note(&self, _: &str) {}
    fn estimate(&self, _: &Estimate) {}
    fn update(&self, _: &Snapshot) {}
}

/// A finished export.
#[derive(Debug, Clone)]
pub struct Exported {
    /// What export.json says.
    pub info: ExportInfo,
    /// The file written.
    pub out: PathBuf,
    /// export.json.
    pub info_path: PathBuf,
}

impl Exported {
    /// 0 when everything was read, 1 when export.json lists problems or flagged products.
    pub fn exit_code(&self) -> u8 {
        if self.info.is_complete() { 0 } else { 1 }
    }
}

/// What stops an export. Every kind but [`Error::Invocation`] leaves the journal folder: the same
/// command continues.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Bad arguments, or a journal folder of other arguments (exit 2).
    Invocation(String),
    /// The platform refused the credentials, or an instance's products could not be listed
    /// (exit 3).
    Platform(String),
    /// The output, export.json or the journal could not be written, or is not devdist's to
    /// replace (exit 4).
    Output {
        /// The path at fault.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A signal asked the run to stop; it stopped at a checkpoint (exit 130).
    Interrupted,
}

impl Error {
    /// The exit code (docs/export.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invocation(_) => 2,
            Error::Platform(_) => 3,
            Error::Output { .. } => 4,
            Error::Interrupted => 130,
        }
    }

    pub(crate) fn output(path: &Path, message: impl fmt::Display) -> Error {
        Error::Output { path: path.to_path_buf(), message: message.to_string() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invocation(message) | Error::Platform(message) => f.write_str(message),
            Error::Output { path, message } => write!(f, "{}: {message}", devdist_formats::shown(path)),
            Error::Interrupted => {
                f.write_str("interrupted; what was read is kept: run the same `devdist export` again to continue")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Reads the inventory of `options.instances` into `options.out` (docs/export.md): lists the
/// products, sweeps each, writes the file and export.json beside it. Resumes a journal folder
/// of the same arguments.
pub fn export(
    client: &devdist_platform::Client,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Exported, Error> {
    let format = write::check_out(options)?;
    let mut journal = journal::Journal::open(options, client.endpoint(), format)?;
    let started = std::time::Instant::now();
    if journal.records.iter().any(|record| matches!(record, journal::Record::Finished { .. })) {
        // Stopped while placing its files: nothing is read again.
        return write::finish(client, options, &mut journal, &[], format, 0.0);
    }
    let products = sweep::list_products(client, options, &mut journal, progress)?;
    let estimate = sweep::estimate(&products);
    progress.estimate(&estimate);
    sweep::sweep_all(client, options, &mut journal, &products, progress)?;
    write::finish(client, options, &mut journal, &products, format, started.elapsed().as_secs_f64())
}
