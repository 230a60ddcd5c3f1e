//! Writing output tables: CSV, JSON Lines or Parquet, each file hashed (SHA-256) and its rows
//! counted as it is written, so reports never re-read what was just written.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;

mod hashing;
mod parquet;
mod text;

pub use hashing::HashingWriter;
use parquet::ParquetSink;
use text::push_json_string;
pub use text::{push_csv_field, push_int};

/// The format of a manifest or billing table (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Comma-separated values with a header line.
    #[default]
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet: typed columns, zstd-compressed, row groups of at most
    /// [`PARQUET_ROW_GROUP_ROWS`] rows.
    Parquet,
}

impl Format {
    /// File extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            "parquet" => Ok(Format::Parquet),
            other => Err(format!("unknown format {other:?} (expected csv, jsonl or parquet)")),
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

/// The type of an output column; matters only for Parquet, whose columns are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text: Parquet `BYTE_ARRAY` (UTF8), Arrow `Utf8`.
    Str,
    /// A count or number: Parquet `INT64`, Arrow `Int64`.
    Int,
}

/// The most rows a Parquet row group of an output table holds.
pub const PARQUET_ROW_GROUP_ROWS: usize = 64 * 1024;

/// Rows collected in column builders before they are handed to the Parquet encoder.
const PARQUET_CHUNK_ROWS: usize = 8192;

/// `created_by` of every Parquet file devdist writes: fixed, so the same rows give the same bytes.
pub const PARQUET_CREATED_BY: &str = "devdist";

/// The output column that holds device secrets: Parquet writes no statistics for it.
const SECRET_COLUMN: &str = "device_secret";

/// What a finished table file holds, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Data rows (not counting a header).
    pub rows: u64,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
}

type Out = HashingWriter<BufWriter<File>>;

/// Writes rows to one file in one format.
#[derive(Debug)]
pub struct TableWriter {
    format: Format,
    columns: Vec<&'static str>,
    sink: Sink,
    line: Vec<u8>,
    rows: u64,
}

#[derive(Debug)]
enum Sink {
    /// CSV and JSON Lines: each row encoded into `line` and written.
    Text(Out),
    /// Parquet: rows gathered in column builders, encoded a chunk at a time.
    Parquet(Box<ParquetSink>),
}

impl TableWriter {
    /// Starts a table in `file` (created by the caller with the permissions it needs). For
    /// Parquet the column types are taken from the first row (all text if no row comes); use
    /// [`TableWriter::with_types`] to fix them.
    pub fn new(file: File, format: Format, columns: &[&'static str]) -> io::Result<TableWriter> {
        TableWriter::start(file, format, columns, None)
    }

    /// [`TableWriter::new`] with the type of each column given, so that even an empty Parquet
    /// table has the right schema. `types` has one entry per column.
    pub fn with_types(
        file: File,
        format: Format,
        columns: &[&'static str],
        types: &[ColumnType],
    ) -> io::Result<TableWriter> {
        if types.len() != columns.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} column types for {} columns", types.len(), columns.len()),
            ));
        }
        TableWriter::start(file, format, columns, Some(types))
    }

    fn start(
        file: File,
        format: Format,
        columns: &[&'static str],
        types: Option<&[ColumnType]>,
    ) -> io::Result<TableWriter> {
        let out = HashingWriter::new(BufWriter::with_capacity(1 << 18, file));
        let sink = match format {
            Format::Csv | Format::Jsonl => Sink::Text(out),
            Format::Parquet => {
                let mut sink =
                    ParquetSink { out: Some(out), writer: None, schema: None, builders: Vec::new(), buffered: 0 };
                if let Some(types) = types {
                    sink.begin(columns, types)?;
                }
                Sink::Parquet(Box::new(sink))
            }
        };
        let mut writer = TableWriter { format, columns: columns.to_vec(), sink, line: Vec::new(), rows: 0 };
        if format == Format::Csv {
            let header: Vec<Value> = columns.iter().map(|c| Value::Str(c)).collect();
            writer.encode_csv(&header);
            if let Sink::Text(out) = &mut writer.sink {
                out.write_all(&writer.line)?;
            }
        }
        Ok(writer)
    }

    /// Appends one row; `row` has one value per column.
    pub fn write_row(&mut self, row: &[Value]) -> io::Result<()> {
        debug_assert_eq!(row.len(), self.columns.len());
        match self.format {
            Format::Csv => self.encode_csv(row),
            Format::Jsonl => self.encode_json(row),
            Format::Parquet => {
                if let Sink::Parquet(sink) = &mut self.sink {
                    sink.write_row(&self.columns, row)?;
                }
                self.rows += 1;
                return Ok(());
            }
        }
        self.rows += 1;
        match &mut self.sink {
            Sink::Text(out) => out.write_all(&self.line),
            Sink::Parquet(_) => unreachable!("text formats write through a text sink"),
        }
    }

    /// Flushes and returns the row count and checksum.
    pub fn finish(self) -> io::Result<Written> {
        let out = match self.sink {
            Sink::Text(out) => out,
            Sink::Parquet(sink) => sink.finish(&self.columns)?,
        };
        let (inner, digest) = out.finish();
        // Flushed, not fsynced: the output folder is made atomic by renaming it into place.
        inner.into_inner().map_err(|err| err.into_error())?;
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
                Value::Int(n) => push_int(&mut self.line, *n),
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
                Value::Int(n) => push_int(&mut self.line, *n),
            }
        }
        self.line.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

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
