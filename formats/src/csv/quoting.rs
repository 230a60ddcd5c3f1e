//! Quoting as written: the byte checks the csv crate does not make (it accepts stray quotes).

use csv::ByteRecord;

use super::{STRAY_QUOTE, TEXT_AFTER_QUOTE, UNTERMINATED_QUOTE};

/// What [`tally`] counts.
pub(super) struct Tally {
    pub(super) line_ends: u64,
    pub(super) quotes: usize,
}

/// Line ends and `"` in `bytes`, which follow a CR when `prev_cr` (then a leading LF ends no
/// line); updates `prev_cr` for what follows.
pub(super) fn tally(bytes: &[u8], prev_cr: &mut bool) -> Tally {
    let Some(&last) = bytes.last() else { return Tally { line_ends: 0, quotes: 0 } };
    let (mut lf, mut cr, mut quotes) = (0usize, 0usize, 0usize);
    // Byte-wide counters over short chunks, so the loop vectorises.
    for chunk in bytes.chunks(255) {
        let (mut l, mut c, mut q) = (0u8, 0u8, 0u8);
        for &b in chunk {
            l += u8::from(b == b'\n');
            c += u8::from(b == b'\r');
            q += u8::from(b == b'"');
        }
        lf += usize::from(l);
        cr += usize::from(c);
        quotes += usize::from(q);
    }
    let mut line_ends = lf + cr;
    if lf > 0 && (cr > 0 || *prev_cr) {
        // The LF of a CRLF ends no line of its own.
        line_ends -= usize::from(*prev_cr && bytes[0] == b'\n');
        if cr > 0 {
            line_ends -= bytes.windows(2).filter(|pair| pair == b"\r\n").count();
        }
    }
    *prev_cr = last == b'\r';
    Tally { line_ends: line_ends as u64, quotes }
}

/// Number of `"` in `bytes`.
pub(super) fn count_quotes(bytes: &[u8]) -> usize {
    bytes.chunks(255).map(|chunk| usize::from(chunk.iter().fold(0u8, |n, &b| n + u8::from(b == b'"')))).sum()
}

/// The first quoting error of a record that ended at a line end, and the line ends inside it:
/// `content` is its bytes as written without that line end, `record` the fields csv_core made of
/// them, `quotes` the number of `"` in `content` (not 0).
///
/// Fields are matched to `content` in order. csv_core copies a field that does not start with a
/// quote byte for byte, so it takes exactly its parsed length. A field that starts with a quote
/// and parsed to `len` bytes holding `q` quotes is well formed exactly when its closing quote
/// sits `len + q + 1` bytes after the opening one, is followed by `,` or the end, and the bytes
/// between hold `2 q` quotes: characters after an early closing quote, with or without quotes
/// among them, break one of the three. Quotes that no well-formed quoted field accounts for are
/// in unquoted fields. On any mismatch the record is scanned byte by byte to name the first
/// error. Line ends can only be inside quoted fields, which csv_core copies as they are.
pub(super) fn check_quoting(content: &[u8], record: &ByteRecord, quotes: usize) -> (Option<&'static str>, u64) {
    let mismatch = || (scan_quoting(content), tally(content, &mut false).line_ends);
    let mut at = 0; // where the field starts in `content`
    let mut quoted = 0; // quotes in the quoted fields so far
    let mut line_ends = 0;
    for field in record {
        if quoted == quotes {
            break; // every quote is accounted for: the fields left are plain
        }
        if content.get(at) != Some(&b'"') {
            at += field.len() + 1;
            continue;
        }
        let counts = tally(field, &mut false);
        let q = counts.quotes;
        let close = at + 1 + field.len() + q;
        let well_formed = content.get(close) == Some(&b'"')
            && matches!(content.get(close + 1), None | Some(b','))
            && (q == 0 || count_quotes(&content[at + 1..close]) == 2 * q);
        if !well_formed {
            return mismatch();
        }
        line_ends += counts.line_ends;
        quoted += 2 + 2 * q;
        at = close + 2;
    }
    if quoted != quotes { mismatch() } else { (None, line_ends) }
}

/// The first quoting error in the bytes of one record (from its first byte through its line end,
/// if any), read the way csv_core reads them.
pub(super) fn scan_quoting(bytes: &[u8]) -> Option<&'static str> {
    let mut i = 0;
    'fields: loop {
        if bytes.get(i) == Some(&b'"') {
            i += 1;
            loop {
                let Some(next) = bytes[i..].iter().position(|&b| b == b'"') else { return Some(UNTERMINATED_QUOTE) };
                i += next + 1;
                if bytes.get(i) != Some(&b'"') {
                    break;
                }
                i += 1;
            }
            match bytes.get(i) {
                None | Some(b'\r' | b'\n') => return None,
                Some(b',') => i += 1,
                Some(_) => return Some(TEXT_AFTER_QUOTE),
            }
        } else {
            while let Some(&b) = bytes.get(i) {
                i += 1;
                match b {
                    b',' => continue 'fields,
                    b'\r' | b'\n' => return None,
                    b'"' => return Some(STRAY_QUOTE),
                    _ => {}
                }
            }
            return None;
        }
    }
}
