//! rejects.csv: the reject spools merged by input order.

use devdist_formats::{Format, Value};

use crate::error::Error;
use crate::output::{Access, OutputDir, text};
use crate::plan::Plan;
use crate::reason::Reason;
use crate::record::{decode_reject, reject_seq};
use crate::spool::Spool;

use super::html::{FIRST_REJECTS, RejectRow};

/// What rejects.csv holds, counted: rejects per file and per reason (indexed like
/// [`Reason::ALL`]), and the first few of each reason for report.html.
#[derive(Debug)]
pub struct Rejected {
    /// Rejects per input file, in plan order.
    pub per_file: Vec<u64>,
    /// Rejects per reason.
    pub per_reason: [u64; Reason::ALL.len()],
    /// The first [`FIRST_REJECTS`] rejects of each reason, in input order.
    pub first: Vec<Vec<RejectRow>>,
}

/// Writes rejects.csv (no secrets: only positions, product key, device name, code, detail)
/// from spools of rejects that are each in input order.
pub fn write_rejects(
    out: &mut OutputDir,
    plan: &Plan,
    rejects: &[Spool],
    read_buffer: usize,
) -> Result<Rejected, Error> {
    let path = "rejects.csv";
    let columns = ["source_file", "record", "line", "product_key", "device_name", "code", "detail"].map(text);
    let mut table = out.table(path, Format::Csv, &columns, Access::Normal)?;
    let mut per_file = vec![0; plan.inputs.len()];
    let mut per_reason = [0; Reason::ALL.len()];
    let mut first = vec![Vec::new(); Reason::ALL.len()];
    let readers = rejects.iter().map(|spool| spool.reader(read_buffer)).collect::<Result<Vec<_>, _>>()?;
    let mut line = Vec::new();
    crate::spool::merge(readers, reject_seq, |bytes| {
        let reject = decode_reject(bytes);
        per_file[reject.file as usize] += 1;
        per_reason[reject.reason as usize] += 1;
        if first[reject.reason as usize].len() < FIRST_REJECTS {
            first[reject.reason as usize].push(RejectRow {
                file: plan.inputs[reject.file as usize].name.clone(),
                record: reject.record,
                line: reject.line,
                product_key: reject.product_key.to_string(),
                device_name: reject.device_name.to_string(),
                detail: reject.detail.to_string(),
            });
        }
        line.clear();
        if reject.line != 0 {
            devdist_formats::push_int(&mut line, reject.line);
        }
        let row = [
            Value::Str(&plan.inputs[reject.file as usize].name),
            Value::Int(reject.record),
            Value::Str(std::str::from_utf8(&line).expect("digits")),
            Value::Str(&reject.product_key),
            Value::Str(&reject.device_name),
            Value::Str(reject.reason.code()),
            Value::Str(&reject.detail),
        ];
        table.write_row(&row).map_err(|err| Error::output(&out.staging().join(path), err))
    })?;
    let written = table.finish().map_err(|err| Error::output(&out.staging().join(path), err))?;
    out.add(path, written);
    Ok(Rejected { per_file, per_reason, first })
}
