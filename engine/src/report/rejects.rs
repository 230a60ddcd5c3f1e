//! rejects.csv: the reject spools merged by input order, every value made safe to open.
//!
//! rejects.csv is the output people open in a spreadsheet or `cat` on a terminal, and its
//! values come from untrusted inputs. [`safe_cell`] writes each one so that it never starts a
//! formula and never carries a control character; [`original_value`] gives the value back.

use std::borrow::Cow;

use devdist_formats::{Format, Value, is_invisible};

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
pub(crate) struct Rejected {
    /// Rejects per input file, in plan order.
    pub per_file: Vec<u64>,
    /// Rejects per reason.
    pub per_reason: [u64; Reason::ALL.len()],
    /// The first [`FIRST_REJECTS`] rejects of each reason, in input order.
    pub first: Vec<Vec<RejectRow>>,
}

/// Writes rejects.csv (no secrets: only positions, product key, device name, code, detail)
/// from spools of rejects that are each in input order.
pub(crate) fn write_rejects(
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
            Value::Str(&safe_cell(&plan.inputs[reject.file as usize].name)),
            Value::Int(reject.record),
            Value::Str(std::str::from_utf8(&line).expect("digits")),
            Value::Str(&safe_cell(&reject.product_key)),
            Value::Str(&safe_cell(&reject.device_name)),
            Value::Str(reject.reason.code()),
            Value::Str(&safe_cell(&reject.detail)),
        ];
        table.write_row(&row).map_err(|err| Error::output(&out.staging().join(path), err))
    })?;
    let written = table.finish().map_err(|err| Error::output(&out.staging().join(path), err))?;
    out.add(path, written);
    Ok(Rejected { per_file, per_reason, first })
}

/// What a cell of a spreadsheet must not start with, after any spaces: these make Excel,
/// LibreOffice and Google Sheets read it as a formula (`'` is here so that a leading `'` always
/// means the one [`safe_cell`] added; the fullwidth forms in case a spreadsheet folds them).
const FORMULA_STARTS: [char; 9] = ['=', '+', '-', '@', '\'', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}'];

fn starts_formula(value: &str) -> bool {
    value.trim_start_matches(' ').starts_with(FORMULA_STARTS)
}

/// A value as rejects.csv writes it. Every `\` is doubled and every control or
/// [invisible](is_invisible) character (TAB, CR, LF, ESC of a terminal escape sequence, bidi
/// marks, …) is written `\u{X}`, X its code in lowercase hex; then, when the value starts
/// (after any spaces) with `=`, `+`, `-`, `@`, `'` or a fullwidth `＝ ＋ － ＠`, a `'` goes in
/// front, which spreadsheets read as "this is text". [`original_value`] undoes it.
pub fn safe_cell(value: &str) -> Cow<'_, str> {
    use std::fmt::Write as _;
    let formula = starts_formula(value);
    if !formula && !value.chars().any(|c| c == '\\' || is_invisible(c)) {
        return Cow::Borrowed(value);
    }
    let mut cell = String::with_capacity(value.len() + 8);
    if formula {
        cell.push('\'');
    }
    for c in value.chars() {
        match c {
            '\\' => cell.push_str("\\\\"),
            _ if is_invisible(c) => {
                let _ = write!(cell, "\\u{{{:x}}}", u32::from(c));
            }
            _ => cell.push(c),
        }
    }
    Cow::Owned(cell)
}

/// The value a rejects.csv cell was written from (see [`safe_cell`]): drop one leading `'`,
/// then read `\\` as `\` and `\u{X}` as the character with hex code X. `None` when the text
/// is not one [`safe_cell`] writes (a lone `\`, a bad `\u{…}`).
pub fn original_value(cell: &str) -> Option<String> {
    let mut rest = cell.strip_prefix('\'').unwrap_or(cell);
    let mut value = String::with_capacity(rest.len());
    while let Some(at) = rest.find('\\') {
        value.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('\\') {
            value.push('\\');
            rest = after;
            continue;
        }
        let after = rest.strip_prefix("u{")?;
        let (hex, after) = after.split_once('}')?;
        if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        value.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
        rest = after;
    }
    value.push_str(rest);
    Some(value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Hostile values and exactly what rejects.csv holds for them.
    const CELLS: &[(&str, &str)] = &[
        ("meter-0001", "meter-0001"),
        ("", ""),
        ("=HYPERLINK(\"http://evil/\",\"x\")", "'=HYPERLINK(\"http://evil/\",\"x\")"),
        ("=cmd|'/c calc'!A1", "'=cmd|'/c calc'!A1"),
        ("+1-2", "'+1-2"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("'quoted", "''quoted"),
        ("  =1+1", "'  =1+1"),
        ("\u{ff1d}1+1", "'\u{ff1d}1+1"),
        ("\t=1+1", "\\u{9}=1+1"),
        ("\r=1+1", "\\u{d}=1+1"),
        ("a\nb", "a\\u{a}b"),
        (
            "\u{1b}]8;;http://evil/\u{1b}\\x\u{1b}]8;;\u{1b}\\",
            "\\u{1b}]8;;http://evil/\\u{1b}\\\\x\\u{1b}]8;;\\u{1b}\\\\",
        ),
        ("red\u{1b}[31mtext", "red\\u{1b}[31mtext"),
        ("C:\\dir\\u{41}", "C:\\\\dir\\\\u{41}"),
        ("abc\u{202e}fed", "abc\\u{202e}fed"),
        ("a=b", "a=b"),
        ("1e5", "1e5"),
    ];

    #[test]
    fn hostile_values_are_written_safe_and_read_back() {
        for (value, cell) in CELLS {
            assert_eq!(safe_cell(value), *cell, "safe_cell({value:?})");
            assert_eq!(original_value(cell).as_deref(), Some(*value), "original_value({cell:?})");
        }
    }

    #[test]
    fn text_safe_cell_does_not_write_is_refused() {
        for cell in ["\\", "a\\b", "\\u{}", "\\u{110000}", "\\u{d800}", "\\u{+9}", "\\u{9"] {
            assert_eq!(original_value(cell), None, "{cell:?}");
        }
    }

    proptest! {
        #[test]
        fn every_value_round_trips_and_is_safe(value in "(\\PC|[\\\\'=+@ \\-]|\\p{Cc}|\\p{Cf})*") {
            let cell = safe_cell(&value);
            prop_assert_eq!(original_value(&cell), Some(value.clone()));
            prop_assert!(!cell.chars().any(is_invisible), "{:?}", cell);
            prop_assert!(!starts_formula(&cell) || cell.starts_with('\''), "{:?}", cell);
        }
    }
}
