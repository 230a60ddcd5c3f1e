//! Inventory files: which column holds which field, and reading records in reusable batches.
//!
//! This module knows the names of the columns (docs/inputs.md §3.2) and nothing of what their values
//! mean: checking a record is the engine's job.

use std::fs::File;
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use crate::batch::RecordBatch;
use crate::error::{Error, Position};
use crate::layout::{Field, Layout};

mod quoting;
mod source;

use quoting::{check_quoting, count_quotes, scan_quoting, tally};
use source::Source;

/// The longest record (or header) a CSV inventory may have, in bytes as written without its
/// line end. Longer ones are not kept in memory: a data record is reported as
/// `RECORD_TOO_LONG` and skipped, a header fails the file.
const MAX_RECORD_BYTES: usize = 64 << 20;
/// Bytes asked of the file per read, and the initial size of the input buffer.
const READ_CHUNK: usize = 1 << 20;
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// A quoted field still open at the end of the file. The reader cannot know where the quote
/// should have closed, so everything after it is this one record.
const UNTERMINATED_QUOTE: &str = "unterminated quoted field (runs to the end of the file)";
/// A `"` inside a field that does not start with one (`meter"01`).
const STRAY_QUOTE: &str = "quote inside an unquoted field";
/// Anything but a delimiter or a line end after a closing quote (`"meter-0003"x`).
const TEXT_AFTER_QUOTE: &str = "characters after a closing quote";
/// A record longer than `MAX_RECORD_BYTES`.
const RECORD_TOO_LONG: &str = "record longer than 64 MiB";

/// A CSV inventory opened and its header mapped.
///
/// Records are parsed by `csv_core` (RFC 4180: `,` delimiter, `"` quotes doubled inside quoted
/// fields), driven by a `csv::Reader` so that fields land straight in the batch's reusable
/// [`ByteRecord`]s (copying them field by field cost more than a quarter of the parse). The
/// reader does not read the file itself: it is fed from `Source`, which keeps every byte of
/// the current record in one reusable buffer. Around the parse this reader keeps what
/// `csv_core` does not:
///
/// - **Lines.** A line ends at LF, CRLF or a lone CR; line ends inside quoted fields count, and
///   blank lines are skipped (not records) but counted. A record's line is the line its first
///   byte is on; the header is line 1 unless blank lines precede it. One UTF-8 BOM at the very
///   start is dropped (a second one is data).
/// - **Strict quoting.** `csv_core` never fails: it reads `meter"01` and `"meter-0003"x`
///   leniently and lets an unclosed quote run to the end of the file. Each record's bytes as
///   written are checked against the fields parsed from them, and the first quoting error is
///   reported in [`RecordBatch::problems`] without stopping the file:
///   - a `"` in a field that does not start with one (`STRAY_QUOTE`);
///   - anything but `,`, a line end or the end of the file after a closing quote
///     (`TEXT_AFTER_QUOTE`);
///   - a quoted field still open at the end of the file (`UNTERMINATED_QUOTE`).
///
///   What cannot be detected: where an unclosed quote *should* have ended. Its record and every
///   line after it are one record, so the records it swallowed are not counted or reported on
///   their own (the problem text says so); records before it are unaffected. Likewise a quote
///   closed later by another stray quote (`"a,b"` where `"a` and `b"` were meant as two fields)
///   is well-formed CSV and reads as such.
/// - **Bounded memory.** Blank lines are dropped as they are read: any number of them may
///   precede a record, and they do not count toward its length. A record longer than
///   `MAX_RECORD_BYTES` is not buffered: it is reported as `RECORD_TOO_LONG` with no fields and
///   skipped to its end (the next line end outside quotes); a header that long fails the file.
#[derive(Debug)]
pub struct CsvInventory {
    path: PathBuf,
    /// None only while a reader is being rebuilt after a record too long.
    reader: Option<csv::Reader<Source>>,
    /// File offset minus the reader's byte position, modulo 2^64 (see `Source::prime`).
    skew: u64,
    /// Line of the first byte after the last record (and the blank lines after it that
    /// `Source` dropped).
    line: u64,
    layout: Layout,
    next_record: u64,
    last_byte: u64,
}

impl CsvInventory {
    /// Opens `path` and maps its header.
    pub fn open(path: &Path) -> Result<CsvInventory, Error> {
        CsvInventory::open_with(path, READ_CHUNK, MAX_RECORD_BYTES)
    }

    /// [`CsvInventory::open`] with the read size and record limit as parameters (tests use small
    /// ones).
    fn open_with(path: &Path, chunk: usize, limit: usize) -> Result<CsvInventory, Error> {
        let file = File::open(path).map_err(|err| Error::io(path, err))?;
        let metadata = file.metadata().map_err(|err| Error::io(path, err))?;
        if metadata.is_dir() {
            return Err(Error::io(path, std::io::Error::from(std::io::ErrorKind::IsADirectory)));
        }
        let mut source = Source::new(file, chunk, limit);
        source.skip_bom().map_err(|err| Error::io(path, err))?;
        let skew = source.prime();
        let mut inventory = CsvInventory {
            path: path.to_path_buf(),
            reader: Some(csv_reader(source)),
            skew,
            line: 1,
            layout: Layout { columns: Vec::new(), known: [None; Field::ALL.len()], runtime: Vec::new() },
            next_record: 1,
            last_byte: 0,
        };
        let mut header = ByteRecord::new();
        let (line, problem) = match inventory.next(&mut header, false)? {
            Some(found) => found,
            None => return Err(Error::invalid(path, Position::line(1), "empty file: no header line")),
        };
        if problem == Some(RECORD_TOO_LONG) {
            return Err(Error::invalid(path, Position::line(line), "header line longer than 64 MiB"));
        }
        // Quoting errors in the header are not reported as such: the names it yields pass or
        // fail the column mapping like any others.
        let names: Vec<String> = header.iter().map(|name| String::from_utf8_lossy(name).into_owned()).collect();
        inventory.layout = Layout::from_header(path, line, &names)?;
        inventory.last_byte = inventory.source().consumed();
        Ok(inventory)
    }

    /// The column mapping of this file.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Refills `batch` with up to `capacity` records, and records only while they take less
    /// than [`RecordBatch::max_bytes`]. Returns false once the file is done and the batch is
    /// empty.
    pub fn fill(&mut self, batch: &mut RecordBatch, capacity: usize) -> Result<bool, Error> {
        batch.len = 0;
        batch.payload = 0;
        batch.first_record = self.next_record;
        if batch.records.len() < capacity {
            batch.records.resize_with(capacity, ByteRecord::new);
        }
        batch.lines.resize(capacity, 0);
        batch.problems.resize(capacity, None);
        while batch.has_room(capacity) {
            let Some((line, problem)) = self.next(&mut batch.records[batch.len], true)? else { break };
            // A row of empty cells only (`,,,,` from a spreadsheet's trailing rows) is skipped like
            // a blank line: it is no record and takes no record number.
            if problem.is_none() && batch.records[batch.len].iter().all(<[u8]>::is_empty) {
                continue;
            }
            batch.lines[batch.len] = line;
            batch.problems[batch.len] = problem;
            batch.len += 1;
            batch.added(batch.len - 1);
        }
        self.next_record += batch.len as u64;
        let byte = self.source().consumed();
        batch.bytes = byte - self.last_byte;
        self.last_byte = byte;
        Ok(batch.len > 0)
    }

    fn source(&self) -> &Source {
        self.reader.as_ref().expect("the reader is only missing while it is rebuilt").get_ref()
    }

    /// Reads the next record into `record`: the line it starts on and its problem, or None at
    /// the end of the file. With `skip_too_long` false, a record longer than the limit returns
    /// `RECORD_TOO_LONG` at once and leaves the inventory unusable.
    fn next(
        &mut self,
        record: &mut ByteRecord,
        skip_too_long: bool,
    ) -> Result<Option<(u64, Option<&'static str>)>, Error> {
        let reader = self.reader.as_mut().expect("the reader is only missing while it is rebuilt");
        let more = reader.read_byte_record(record).map_err(|err| read_error(&self.path, err))?;
        let end = reader.position().byte().wrapping_add(self.skew);
        let source = reader.get_mut();
        // Blank lines the source already dropped come first.
        self.line += std::mem::take(&mut source.blank_line_ends);
        if source.capped {
            return self.too_long(record, skip_too_long).map(Some);
        }
        if !more {
            // Only blank lines were left: count them for completeness.
            let rest = source.take(end);
            self.line += tally(&source.buf[rest], &mut source.prev_cr).line_ends;
            return Ok(None);
        }
        let at_eof = source.eof && end == source.base + source.filled as u64;
        let span = source.take(end);
        let span = &source.buf[span];
        // Blank lines before the record: csv_core skipped them, they still count.
        let blank = span.iter().position(|&b| b != b'\n' && b != b'\r').unwrap_or(span.len());
        self.line += tally(&span[..blank], &mut source.prev_cr).line_ends;
        let line = self.line;
        let span = &span[blank..];
        if at_eof {
            // The last record may end without a line end, or inside an open quote: check every byte.
            let problem = scan_quoting(span);
            self.line += tally(span, &mut source.prev_cr).line_ends;
            return Ok(Some((line, problem)));
        }
        // Any other record ended at a line end (one byte: csv_core leaves the LF of a CRLF to
        // the next record, which counts it as a blank line above). Unquoted fields hold no line
        // ends, so a record without quotes spans one line.
        let (content, terminator) = span.split_at(span.len() - 1);
        debug_assert!(matches!(terminator, b"\n" | b"\r"), "a record ends at a line end");
        let quotes = count_quotes(content);
        let (problem, inside) = if quotes == 0 { (None, 0) } else { check_quoting(content, record, quotes) };
        self.line += inside + 1;
        source.prev_cr = terminator == b"\r";
        Ok(Some((line, problem)))
    }

    /// The record being read was longer than the limit: the reader saw a false end of file
    /// there. Skips to the record's real end and starts a new reader after it.
    fn too_long(&mut self, record: &mut ByteRecord, skip: bool) -> Result<(u64, Option<&'static str>), Error> {
        record.clear();
        let reader = self.reader.take().expect("the reader is only missing while it is rebuilt");
        let mut source = reader.into_inner();
        let kept = &source.buf[source.keep..source.filled];
        let start = kept.iter().position(|&b| b != b'\n' && b != b'\r').unwrap_or(kept.len());
        let blank = source.keep + start;
        self.line += tally(&source.buf[source.keep..blank], &mut source.prev_cr).line_ends;
        let line = self.line;
        if !skip {
            return Ok((line, Some(RECORD_TOO_LONG)));
        }
        source.keep = blank;
        self.line += source.skip_record().map_err(|err| Error::io(&self.path, err))?;
        source.capped = false;
        self.skew = source.prime();
        self.reader = Some(csv_reader(source));
        Ok((line, Some(RECORD_TOO_LONG)))
    }
}

fn csv_reader(source: Source) -> csv::Reader<Source> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(64 << 10).from_reader(source)
}

fn read_error(path: &Path, err: csv::Error) -> Error {
    match err.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => Error::invalid(path, Position::default(), format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::tests::names;
    #[test]
    fn batches_carry_record_numbers_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(
            &path,
            "\u{feff}ProductKey,DeviceName,DeviceSecret,IotInstanceId,note\n\
             a,b,c,d,\"two\nlines\"\na2,b2,c2,d2,x\na3,b3,c3,d3,y\n",
        )
        .unwrap();
        let mut inventory = CsvInventory::open(&path).unwrap();
        assert_eq!(inventory.layout().column(Field::ProductKey), Some(0));
        assert_eq!(inventory.layout().runtime_columns(), &[4]);
        let mut batch = RecordBatch::default();
        assert!(inventory.fill(&mut batch, 2).unwrap());
        assert_eq!((batch.len, batch.first_record), (2, 1));
        assert_eq!(&batch.lines[..2], &[2, 4]);
        assert!(inventory.fill(&mut batch, 2).unwrap());
        assert_eq!((batch.len, batch.first_record, batch.lines[0]), (1, 3, 5));
        assert!(!inventory.fill(&mut batch, 2).unwrap());
    }

    const HEADER: &str = "product_key,device_name,device_secret,source_instance";

    /// One record as read: start line, problem, fields.
    type Read = (u64, Option<&'static str>, Vec<String>);

    /// Reads `text` whole, with `chunk`-byte reads and records of at most `limit` bytes, in
    /// batches of 3; also checks that `bytes` adds up to the file size.
    fn read_with(text: &[u8], chunk: usize, limit: usize) -> Result<Vec<Read>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, text).unwrap();
        let mut inventory = CsvInventory::open_with(&path, chunk, limit).map_err(|err| err.to_string())?;
        let mut batch = RecordBatch::default();
        let mut out = Vec::new();
        let mut bytes = inventory.last_byte;
        let mut next = 1;
        while inventory.fill(&mut batch, 3).map_err(|err| err.to_string())? {
            assert_eq!(batch.first_record, next);
            next += batch.len as u64;
            bytes += batch.bytes;
            for i in 0..batch.len {
                let fields = batch.records[i].iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
                out.push((batch.lines[i], batch.problems[i], fields));
            }
        }
        bytes += batch.bytes; // the last call may still pass trailing blank lines
        assert_eq!(bytes, text.len() as u64, "bytes cover the file");
        Ok(out)
    }

    /// [`read_with`] at several read sizes (records across buffer boundaries), which must all
    /// agree.
    fn read(text: &str) -> Vec<Read> {
        let whole = read_with(text.as_bytes(), READ_CHUNK, MAX_RECORD_BYTES).unwrap();
        for chunk in [1, 2, 3, 5, 64] {
            assert_eq!(read_with(text.as_bytes(), chunk, MAX_RECORD_BYTES).unwrap(), whole, "chunk {chunk}");
        }
        whole
    }

    fn lines(records: &[Read]) -> Vec<u64> {
        records.iter().map(|r| r.0).collect()
    }

    fn fields(list: &[&str]) -> Vec<String> {
        names(list)
    }

    #[test]
    fn line_ends_lf_crlf_cr_and_mixed() {
        for end in ["\n", "\r\n", "\r"] {
            let text = format!("{HEADER}{end}a,b,c,d{end}a2,b2,c2,d2{end}a3,b3,c3,d3{end}");
            let records = read(&text);
            assert_eq!(lines(&records), [2, 3, 4], "{end:?}");
            assert!(records.iter().all(|r| r.1.is_none() && r.2.len() == 4), "{end:?}");
            assert_eq!(records[2].2, fields(&["a3", "b3", "c3", "d3"]));
            // Without a final line end.
            let records = read(text.trim_end_matches(['\r', '\n']));
            assert_eq!(lines(&records), [2, 3, 4], "{end:?}");
            assert_eq!(records[2].2, fields(&["a3", "b3", "c3", "d3"]));
        }
        let records = read(&format!("{HEADER}\r\na,b,c,d\ra2,b2,c2,d2\na3,b3,c3,d3\r\na4,b4,c4,d4\r"));
        assert_eq!(lines(&records), [2, 3, 4, 5]);
        assert_eq!(records[3].2, fields(&["a4", "b4", "c4", "d4"]));
    }

    #[test]
    fn blank_lines_are_counted_not_read() {
        let text = format!("\n\r\n{HEADER}\n\na,b,c,d\r\n\r\n\r\ra2,b2,c2,d2\n\n\r\n\r");
        let records = read(&text);
        assert_eq!(lines(&records), [5, 9]);
        assert_eq!(records[1].2, fields(&["a2", "b2", "c2", "d2"]));
        // A line of blanks is not blank: it is a record (of one field).
        assert_eq!(lines(&read(&format!("{HEADER}\n \na,b,c,d\n"))), [2, 3]);
    }

    #[test]
    fn rows_of_empty_cells_are_skipped_like_blank_lines() {
        // A spreadsheet's trailing rows: every cell empty, whatever their count or quoting.
        let records = read(&format!("{HEADER}\na,b,c,d\n,,,\n\"\",,,\n,,\na2,b2,c2,d2\r\n,,,\r\n"));
        assert_eq!(lines(&records), [2, 6]);
        assert_eq!(records[1].2, fields(&["a2", "b2", "c2", "d2"]));
    }

    #[test]
    fn line_ends_inside_quoted_fields_count() {
        let text = format!(
            "{HEADER},note\na,b,c,d,\"x\ny\"\na2,b2,c2,d2,\"x\r\ny\r\nz\"\r\na3,b3,c3,d3,\"x\ry\"\ra4,\"b\n4\",c4,d4,\"\"\"q\"\"\n\"\na5,b5,c5,d5,\n"
        );
        let records = read(&text);
        assert_eq!(lines(&records), [2, 4, 7, 9, 12]);
        assert!(records.iter().all(|r| r.1.is_none()), "{records:?}");
        assert_eq!(records[1].2[4], "x\r\ny\r\nz");
        assert_eq!(records[3].2, fields(&["a4", "b\n4", "c4", "d4", "\"q\"\n"]));
        // The last record, without a line end after its closing quote.
        let records = read(&format!("{HEADER}\na,b,c,\"d\nd\"\na2,b2,c2,\"d\r\nd\""));
        assert_eq!(lines(&records), [2, 4]);
        assert_eq!((records[1].1, records[1].2[3].as_str()), (None, "d\r\nd"));
    }

    #[test]
    fn well_formed_quoting_is_accepted() {
        let text =
            format!("{HEADER}\n\"a\",\"\",\"c,\"\"x\"\"\",\"\"\"\"\n\"\"\"\",b,\"\",d\na,\"b\"\"\",\"\",\"\"\"d\"\n");
        let records = read(&text);
        assert!(records.iter().all(|r| r.1.is_none()), "{records:?}");
        assert_eq!(records[0].2, fields(&["a", "", "c,\"x\"", "\""]));
        assert_eq!(records[1].2, fields(&["\"", "b", "", "d"]));
        assert_eq!(records[2].2, fields(&["a", "b\"", "", "\"d"]));
    }

    #[test]
    fn quoting_errors_are_reported_per_record() {
        let text = format!(
            "{HEADER},note\na,meter\"01,c,d,ok\na2,b2,c2,d2,say \"hi\"\na3,\"meter-0003\"x,c3,d3,ok\n\
             a4,\"b4\"\"\"x\"y,c4,d4,ok\na5,\"b5\" ,c5,d5,ok\n\"a6\"\"\",b6\"\",\"c6\"\"\"z,d6,ok\n\
             a7,b7,c7,d7,\"x\ny\"\"\"\n\"a8\",b8,c8,d8,ok\r\na9,b9,c9,d9,\"bad\" \r\na10,b10,c10,d10,ok\n"
        );
        let records = read(&text);
        let got: Vec<(u64, Option<&str>)> = records.iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(
            got,
            [
                (2, Some(STRAY_QUOTE)),
                (3, Some(STRAY_QUOTE)),
                (4, Some(TEXT_AFTER_QUOTE)),
                (5, Some(TEXT_AFTER_QUOTE)),
                (6, Some(TEXT_AFTER_QUOTE)),
                (7, Some(STRAY_QUOTE)),
                (8, None),
                (10, None),
                (11, Some(TEXT_AFTER_QUOTE)),
                (12, None),
            ]
        );
        assert_eq!(records[9].2, fields(&["a10", "b10", "c10", "d10", "ok"]));
    }

    #[test]
    fn an_unterminated_quote_runs_to_the_end_of_the_file() {
        let text = format!("{HEADER},note\na,b,c,d,ok\na2,b2,c2,d2,\"oops\na3,b3,c3,d3,ok\r\na4,b4,c4,d4,ok\n");
        let records = read(&text);
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].0, records[0].1), (2, None));
        assert_eq!((records[1].0, records[1].1), (3, Some(UNTERMINATED_QUOTE)));
        assert_eq!(records[1].2[4], "oops\na3,b3,c3,d3,ok\r\na4,b4,c4,d4,ok\n");
        // In the last record, and with escaped quotes just before the end.
        for tail in ["\"never closed", "\"never closed\"\"", "\"\"\"", "\""] {
            let records = read(&format!("{HEADER}\na,b,c,d\na2,b2,c2,{tail}"));
            assert_eq!(
                records.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
                [(2, None), (3, Some(UNTERMINATED_QUOTE))]
            );
        }
        // Characters after a closing quote at the very end are not an open quote.
        let records = read(&format!("{HEADER}\na,b,c,\"d\"x"));
        assert_eq!(records[0].1, Some(TEXT_AFTER_QUOTE));
    }

    #[test]
    fn a_10_mb_field_is_within_limits() {
        let mut text = format!("{HEADER},note\na,b,c,d,\"").into_bytes();
        text.extend(std::iter::repeat_n(b"x\"\"y\r\n".as_slice(), 10 << 20 >> 3).flatten());
        text.extend_from_slice(b"\"\na2,b2,c2,d2,ok\n");
        let records = read_with(&text, READ_CHUNK, MAX_RECORD_BYTES).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].0, records[0].1, records[0].2[4].len()), (2, None, 5 * (10 << 20 >> 3)));
        assert_eq!((records[1].0, records[1].1), (3 + (10 << 20 >> 3), None));
        let unterminated = &text[..text.len() - b"\"\na2,b2,c2,d2,ok\n".len()];
        let records = read_with(unterminated, READ_CHUNK, MAX_RECORD_BYTES).unwrap();
        assert_eq!((records[0].0, records[0].1), (2, Some(UNTERMINATED_QUOTE)));
    }

    #[test]
    fn a_record_too_long_is_skipped_to_its_end() {
        let long = "x".repeat(300);
        let text =
            format!("{HEADER}\na,b,c,d\na2,b2,c2,{long}\na3,b3,c3,\"{long}\n,\"\"\n\"\r\n\u{feff}a4,b4,c4,d4\n{long}");
        for chunk in [1, 7, 64, 4096] {
            let records = read_with(text.as_bytes(), chunk, 100).unwrap();
            let got: Vec<(u64, Option<&str>, usize)> = records.iter().map(|r| (r.0, r.1, r.2.len())).collect();
            assert_eq!(
                got,
                [
                    (2, None, 4),
                    (3, Some(RECORD_TOO_LONG), 0),
                    (4, Some(RECORD_TOO_LONG), 0),
                    (7, None, 4),
                    (8, Some(RECORD_TOO_LONG), 0)
                ],
                "chunk {chunk}"
            );
            // The BOM after a record too long is data, as anywhere but the file's start.
            assert_eq!(records[3].2[0], "\u{feff}a4");
        }
        let header = format!("{HEADER},{long}\na,b,c,d\n");
        let err = read_with(header.as_bytes(), 16, 100).unwrap_err();
        assert!(err.ends_with("d.csv: line 1: header line longer than 64 MiB"), "{err}");
        assert!(read_with(header.as_bytes(), 16, 400).is_ok());
    }

    #[test]
    fn blank_lines_do_not_count_toward_the_record_limit() {
        let long = "x".repeat(300);
        for blank in ["\n", "\r\n", "\r"] {
            let text = format!(
                "{}{HEADER}\n{}a,b,c,d\n{}a2,b2,c2,\"d\n2\"\r{}{long}\n{}a3,b3,c3,d3{}",
                blank.repeat(150),
                blank.repeat(300),
                blank.repeat(500),
                blank.repeat(250),
                blank.repeat(120),
                blank.repeat(200)
            );
            // After a2's CR, a first blank LF completes a CRLF: no line of its own.
            let merged = u64::from(blank == "\n");
            for chunk in [1, 7, 64, 4096] {
                let records = read_with(text.as_bytes(), chunk, 100).unwrap();
                let got: Vec<(u64, Option<&str>)> = records.iter().map(|r| (r.0, r.1)).collect();
                assert_eq!(
                    got,
                    [(452, None), (953, None), (1205 - merged, Some(RECORD_TOO_LONG)), (1326 - merged, None)],
                    "{blank:?}, chunk {chunk}"
                );
                assert_eq!(records[1].2, fields(&["a2", "b2", "c2", "d\n2"]));
            }
        }
    }

    #[test]
    fn a_record_after_more_than_64_mib_of_blank_lines_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let blank = (MAX_RECORD_BYTES + (1 << 20)) / 2;
        let mut text = format!("{HEADER}\n").into_bytes();
        text.extend(std::iter::repeat_n(b"\r\n".as_slice(), blank).flatten());
        text.extend_from_slice(b"a,b,c,d\n");
        std::fs::write(&path, &text).unwrap();
        let mut inventory = CsvInventory::open(&path).unwrap();
        let mut batch = RecordBatch::default();
        assert!(inventory.fill(&mut batch, 10).unwrap());
        assert_eq!((batch.len, batch.lines[0], batch.problems[0]), (1, 2 + blank as u64, None));
        // The blank lines were not kept.
        assert!(inventory.source().buf.len() <= 2 * READ_CHUNK, "{}", inventory.source().buf.len());
        assert!(!inventory.fill(&mut batch, 10).unwrap());
    }

    #[test]
    fn batches_are_bounded_in_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let note = "x".repeat(1000);
        let text: String = (0..10).fold(format!("{HEADER},note\n"), |text, i| text + &format!("a{i},b,c,d,{note}\n"));
        std::fs::write(&path, text).unwrap();
        let mut inventory = CsvInventory::open(&path).unwrap();
        let mut batch = RecordBatch::with_max_bytes(2500);
        let mut sizes = Vec::new();
        while inventory.fill(&mut batch, 4).unwrap() {
            // A record takes its 1,005 field bytes and 5 field boundaries of 8.
            assert_eq!(batch.payload, batch.len * 1045);
            sizes.push(batch.len);
        }
        // The third record brings a batch past 2,500 bytes.
        assert_eq!(sizes, [3, 3, 3, 1]);
    }

    #[test]
    fn only_a_leading_bom_is_dropped() {
        let records = read(&format!("\u{feff}{HEADER}\na,b,c,d\n"));
        assert_eq!(lines(&records), [2]);
        let err = read_with(format!("\u{feff}\u{feff}{HEADER}\na,b,c,d\n").as_bytes(), 2, 1000).unwrap_err();
        assert!(
            err.contains("missing required column \"product_key\"; the header starts with a second byte-order mark"),
            "{err}"
        );
        let err = read_with(b"\xef\xbb\xbf", 1, 1000).unwrap_err();
        assert!(err.ends_with("line 1: empty file: no header line"), "{err}");
        let err = read_with(b"\n\r\n", 1, 1000).unwrap_err();
        assert!(err.ends_with("line 1: empty file: no header line"), "{err}");
    }

    #[test]
    fn well_formed_files_read_as_the_csv_crate_reads_them() {
        let mut text = format!("{HEADER},note\n");
        for i in 0..300 {
            let note = match i % 5 {
                0 => String::new(),
                1 => "\"\"".to_string(),
                2 => format!("\"{{\"\"k\"\":{i}}},\r\nx\""),
                3 => format!("plain {i}"),
                _ => "\"\"\"\"".to_string(),
            };
            text.push_str(&format!("p{i},\"d,{i}\",s{i},i{i},{note}{}", if i % 7 == 0 { "\r\n" } else { "\n" }));
        }
        let records = read(&text);
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let expected: Vec<Vec<String>> = reader
            .byte_records()
            .map(|r| r.unwrap().iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect())
            .collect();
        assert_eq!(records.iter().map(|r| r.2.clone()).collect::<Vec<_>>(), expected);
        assert!(records.iter().all(|r| r.1.is_none()));
    }
}
