//! Writing output tables: CSV or JSON Lines, each file hashed (SHA-256) and its rows counted
//! as it is written, so reports never re-read what was just written.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The format of a manifest or billing table (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Comma-separated values with a header line.
    #[default]
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// File extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            "parquet" => Err("--format parquet is not supported yet (csv, jsonl)".to_string()),
            other => Err(format!("unknown format {other:?} (expected csv or jsonl)")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// One cell of an output row.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Text, UTF-8.
    Str(&'a str),
    /// A count or number.
    Int(u64),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Value<'a> {
        Value::Str(text)
    }
}

impl From<u64> for Value<'_> {
    fn from(n: u64) -> Self {
        Value::Int(n)
    }
}

/// What a finished table file holds, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Data rows (not counting a header).
    pub rows: u64,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Writes rows to one file in one format.
#[derive(Debug)]
pub struct TableWriter {
    format: Format,
    columns: Vec<&'static str>,
    out: HashingWriter<BufWriter<File>>,
    line: Vec<u8>,
    rows: u64,
}

impl TableWriter {
    /// Starts a table in `file` (created by the caller with the permissions it needs).
    pub fn new(file: File, format: Format, columns: &[&'static str]) -> io::Result<TableWriter> {
        let out = HashingWriter::new(BufWriter::with_capacity(1 << 18, file));
        let mut writer = TableWriter { format, columns: columns.to_vec(), out, line: Vec::new(), rows: 0 };
        if format == Format::Csv {
            let header: Vec<Value> = columns.iter().map(|c| Value::Str(c)).collect();
            writer.encode_csv(&header);
            writer.out.write_all(&writer.line)?;
        }
        Ok(writer)
    }

    /// Appends one row; `row` has one value per column.
    pub fn write_row(&mut self, row: &[Value]) -> io::Result<()> {
        debug_assert_eq!(row.len(), self.columns.len());
        match self.format {
            Format::Csv => self.encode_csv(row),
            Format::Jsonl => self.encode_json(row),
        }
        self.rows += 1;
        self.out.write_all(&self.line)
    }

    /// Flushes and returns the row count and checksum.
    pub fn finish(self) -> io::Result<Written> {
        let (inner, digest) = self.out.finish();
        let file = inner.into_inner().map_err(|err| err.into_error())?;
        file.sync_all()?;
        Ok(Written { rows: self.rows, sha256: digest })
    }

    fn encode_csv(&mut self, row: &[Value]) {
        self.line.clear();
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            match value {
                Value::Str(text) => push_csv_field(&mut self.line, text),
                Value::Int(n) => self.line.extend_from_slice(n.to_string().as_bytes()),
            }
        }
        self.line.push(b'\n');
    }

    fn encode_json(&mut self, row: &[Value]) {
        self.line.clear();
        self.line.push(b'{');
        for (i, (column, value)) in self.columns.iter().zip(row).enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            push_json_string(&mut self.line, column);
            self.line.push(b':');
            match value {
                Value::Str(text) => push_json_string(&mut self.line, text),
                Value::Int(n) => self.line.extend_from_slice(n.to_string().as_bytes()),
            }
        }
        self.line.extend_from_slice(b"}\n");
    }
}

/// Appends `text` as a CSV field, quoted only when it has to be.
pub fn push_csv_field(out: &mut Vec<u8>, text: &str) {
    let needs_quotes = text.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !needs_quotes {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A writer that hashes everything it passes on.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter { inner, hasher: Sha256::new() }
    }

    /// Returns the inner writer and the hex digest of all bytes written.
    pub fn finish(self) -> (W, String) {
        (self.inner, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(format: Format) -> (String, Written) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let file = File::create(&path).unwrap();
        let mut table = TableWriter::new(file, format, &["name", "note", "n"]).unwrap();
        table.write_row(&["a".into(), "x,\"y\"".into(), 7u64.into()]).unwrap();
        let written = table.finish().unwrap();
        (std::fs::read_to_string(&path).unwrap(), written)
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let (text, written) = write(Format::Csv);
        assert_eq!(text, "name,note,n\na,\"x,\"\"y\"\"\",7\n");
        assert_eq!(written.rows, 1);
        assert_eq!(written.sha256, hex::encode(Sha256::digest(text.as_bytes())));
    }

    #[test]
    fn jsonl_escapes_strings() {
        let (text, _) = write(Format::Jsonl);
        assert_eq!(text, "{\"name\":\"a\",\"note\":\"x,\\\"y\\\"\",\"n\":7}\n");
    }
}
