//! report.json (deterministic), run.json (timings) and rejects.csv.

pub use devdist_folder::report::{Counts, DestinationReport, InputReport, JobsReport, Mode, Report, RunInfo};

use crate::error::Error;

pub(crate) mod html;
mod rejects;

pub(crate) use rejects::{Rejected, write_rejects};
pub use rejects::{original_value, safe_cell};

/// The largest report.json read (it lists a few files per destination).
const REPORT_LIMIT: u64 = 256 << 20;

/// Reads `dir`/report.json; an unreadable file or one that is not a devdist report is an
/// input error (exit 3) naming the file and line. Only a regular file inside `dir`, not a
/// link, of at most 256 MiB is read.
pub fn read(dir: &std::path::Path) -> Result<(Report, Vec<u8>), Error> {
    let path = dir.join("report.json");
    let text = devdist_formats::read_inside(dir, "report.json", REPORT_LIMIT)?;
    let report = serde_json::from_slice(&text).map_err(|err| {
        let position = devdist_formats::Position::line(err.line() as u64);
        devdist_formats::Error::invalid(&path, position, format!("not a devdist report: {err}"))
    })?;
    Ok((report, text))
}
