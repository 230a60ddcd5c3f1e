//! Parquet inventories: the same [`Layout`] and reusable [`RecordBatch`]es as CSV, filled from
//! Arrow arrays (docs/inputs.md §3.6).
//!
//! Known columns must hold text (plain, large, view or dictionary-encoded strings, or binary),
//! booleans or numbers; they become the bytes a CSV cell would hold (`true`/`false`, decimal
//! text), and nulls become empty fields. Runtime columns may have any type, nested included:
//! their values are never output, so a non-empty cell becomes the 1-byte marker `x` and a null
//! (or an empty string) an empty field, which is all the engine counts.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch as ArrowBatch;
use arrow_schema::{DataType, Schema};
use csv::ByteRecord;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::file::reader::{ChunkReader, Length};

use crate::batch::RecordBatch;
use crate::error::{Error, Position};
use crate::layout::{Field, Layout};

mod cells;

use cells::copy_rows;

/// What a non-empty cell of a runtime column reads as: never output, only counted as non-empty.
pub const RUNTIME_MARKER: &[u8] = b"x";

/// A Parquet inventory opened, its schema checked and mapped to a [`Layout`].
pub struct ParquetInventory {
    path: PathBuf,
    layout: Layout,
    /// Per column: true when it is a runtime column (only its emptiness is read).
    runtime: Vec<bool>,
    state: State,
    /// The Arrow batch being handed out, and the next row of it to hand out.
    pending: Option<(ArrowBatch, usize)>,
    next_record: u64,
    /// (rows, compressed bytes) of each row group, in file order.
    row_groups: Vec<(u64, u64)>,
    /// Uncompressed bytes per row of the widest row group.
    row_bytes: u64,
    /// Row groups whose bytes were already reported, and the rows they hold together.
    groups_counted: usize,
    rows_counted: u64,
    /// File bytes outside the row groups (magic, footer), reported with the first batch.
    overhead: u64,
    scratch: Vec<u8>,
}

enum State {
    /// Opened; the reader is built by the first `fill`, with its capacity as batch size.
    Opened(Box<ParquetRecordBatchReaderBuilder<EndedFile>>),
    Reading(ParquetRecordBatchReader),
    Done,
}

impl fmt::Debug for ParquetInventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetInventory")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .field("next_record", &self.next_record)
            .field("row_groups", &self.row_groups.len())
            .finish_non_exhaustive()
    }
}

impl ParquetInventory {
    /// Opens `path`, reads its footer and maps its top-level column names. Fails, naming the
    /// file, when it is not a readable Parquet file or a known column has an unusable type.
    pub fn open(path: &Path) -> Result<ParquetInventory, Error> {
        let file = File::open(path).map_err(|err| Error::io(path, err))?;
        let metadata = file.metadata().map_err(|err| Error::io(path, err))?;
        if metadata.is_dir() {
            return Err(Error::io(path, std::io::Error::from(std::io::ErrorKind::IsADirectory)));
        }
        let file_len = metadata.len();
        check_magic(path, &file, file_len)?;
        let again = file.try_clone().map_err(|err| Error::io(path, err))?;
        let builder =
            guarded(path, "reading the footer", || ParquetRecordBatchReaderBuilder::try_new(EndedFile(file)))?
                .and_then(|builder| text_as_views(builder, again))
                .map_err(|err| invalid(path, format!("not a readable Parquet file: {}", describe(&err))))?;
        let schema = builder.schema().clone();
        let names: Vec<String> = schema.fields().iter().map(|field| field.name().clone()).collect();
        let layout = Layout::from_names(path, Position::default(), &names)?;
        let mut problems = Vec::new();
        for field in Field::ALL {
            if let Some(column) = layout.column(field) {
                let data_type = schema.field(column).data_type();
                if !readable_as_text(data_type) {
                    problems.push(format!("column {:?} has type {data_type}, expected a string", names[column]));
                }
            }
        }
        if !problems.is_empty() {
            return Err(invalid(path, problems.join("; ")));
        }
        let mut runtime = vec![false; names.len()];
        for &column in layout.runtime_columns() {
            runtime[column] = true;
        }
        let row_groups: Vec<(u64, u64)> = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|group| {
                let bytes: i64 = group.columns().iter().map(|c| c.compressed_size()).sum();
                (u64::try_from(group.num_rows()).unwrap_or(0), u64::try_from(bytes).unwrap_or(0))
            })
            .collect();
        let in_groups: u64 = row_groups.iter().map(|g| g.1).sum();
        let row_bytes = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|group| {
                u64::try_from(group.total_byte_size()).unwrap_or(0)
                    / u64::try_from(group.num_rows()).unwrap_or(0).max(1)
            })
            .max()
            .unwrap_or(0);
        Ok(ParquetInventory {
            path: path.to_path_buf(),
            layout,
            runtime,
            state: State::Opened(Box::new(builder)),
            pending: None,
            next_record: 1,
            row_groups,
            row_bytes,
            groups_counted: 0,
            rows_counted: 0,
            overhead: file_len.saturating_sub(in_groups),
            scratch: Vec::new(),
        })
    }

    /// The column mapping of this file.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of rows the footer promises.
    pub fn rows(&self) -> u64 {
        self.row_groups.iter().map(|g| g.0).sum()
    }

    /// Refills `batch` with up to `capacity` records within [`RecordBatch::max_bytes`], exactly
    /// as [`crate::CsvInventory::fill`] does (`lines` are all 0: Parquet has no lines). Returns false once the file is done and
    /// the batch is empty.
    pub fn fill(&mut self, batch: &mut RecordBatch, capacity: usize) -> Result<bool, Error> {
        batch.len = 0;
        batch.payload = 0;
        batch.first_record = self.next_record;
        batch.bytes = std::mem::take(&mut self.overhead);
        if batch.records.len() < capacity {
            batch.records.resize_with(capacity, ByteRecord::new);
        }
        batch.lines.clear();
        batch.lines.resize(capacity, 0);
        // Parquet has no CSV quoting: no record is structurally broken.
        batch.problems.clear();
        batch.problems.resize(capacity, None);
        while batch.has_room(capacity) {
            let Some((arrow, row)) = self.pending.take() else {
                let rows = self.rows_per_read(capacity, batch.max_bytes);
                match self.next_arrow_batch(rows, self.next_record + batch.len as u64)? {
                    Some(arrow) => self.pending = Some((arrow, 0)),
                    None => break,
                }
                continue;
            };
            let take = (arrow.num_rows() - row).min(capacity - batch.len);
            let records = &mut batch.records[batch.len..batch.len + take];
            let room = batch.max_bytes - batch.payload;
            let copied = copy_rows(&arrow, row, records, &self.runtime, &mut self.scratch, room);
            let from = batch.len;
            batch.len += copied;
            batch.added(from);
            if row + copied < arrow.num_rows() {
                self.pending = Some((arrow, row + copied));
            }
        }
        self.next_record += batch.len as u64;
        let done = self.next_record - 1;
        while self.groups_counted < self.row_groups.len()
            && (self.rows_counted < done || (batch.len == 0 && matches!(self.state, State::Done)))
        {
            let (rows, bytes) = self.row_groups[self.groups_counted];
            self.rows_counted += rows;
            batch.bytes += bytes;
            self.groups_counted += 1;
        }
        Ok(batch.len > 0)
    }

    /// Rows the Parquet reader decodes at once (fixed by the first call): `capacity`, or fewer
    /// when that many rows of the widest row group (by its uncompressed size) would take more
    /// than `max_bytes`, so that the decoded Arrow batch stays within about a record batch.
    fn rows_per_read(&self, capacity: usize, max_bytes: usize) -> usize {
        let row_bytes = self.row_bytes.max(1);
        capacity.min(usize::try_from(max_bytes as u64 / row_bytes).unwrap_or(usize::MAX)).max(1)
    }

    /// The next non-empty Arrow batch, whose first row is record `record`, or None at the end
    /// of the file.
    fn next_arrow_batch(&mut self, capacity: usize, record: u64) -> Result<Option<ArrowBatch>, Error> {
        loop {
            let state = std::mem::replace(&mut self.state, State::Done);
            let mut reader = match state {
                State::Done => return Ok(None),
                State::Reading(reader) => reader,
                State::Opened(builder) => {
                    let size = capacity.max(1);
                    guarded(&self.path, "starting to read", move || builder.with_batch_size(size).build())?.map_err(
                        |err| invalid(&self.path, format!("cannot read the Parquet data: {}", describe(&err))),
                    )?
                }
            };
            let next = guarded(&self.path, "reading data", || reader.next())?;
            match next {
                None => return Ok(None),
                Some(Err(err)) => {
                    return Err(invalid(
                        &self.path,
                        format!("cannot read the Parquet data from record {record} on: {}", describe(&err)),
                    ));
                }
                Some(Ok(arrow)) => {
                    self.state = State::Reading(reader);
                    if arrow.num_rows() > 0 {
                        return Ok(Some(arrow));
                    }
                }
            }
        }
    }
}

/// The inventory file as the Parquet reader reads it, but where reading at the end of the
/// file fails instead of returning no bytes. parquet 59 (and 60) skips unknown fields of a
/// page header by copying their declared length from the file and does not check that any
/// bytes came: a header declaring a list of 2^31 elements at the end of the file looped for
/// hours (`fuzz/regressions/parquet_reader/page-header-skip-hang.fuzz`). With the end of the
/// file an error, every skipped element that takes bytes on the wire costs bytes of the file,
/// so a crafted header costs at most the file's size. A well-formed file never needs to read
/// past its end: the footer follows the data, and every page is read by its length.
#[derive(Debug)]
struct EndedFile(File);

/// The same reader, with every text column read as views into the decoded pages (`Utf8View`)
/// rather than copied into one buffer per batch: each cell is only borrowed once, on its way
/// into a record.
fn text_as_views(
    builder: ParquetRecordBatchReaderBuilder<EndedFile>,
    file: File,
) -> parquet::errors::Result<ParquetRecordBatchReaderBuilder<EndedFile>> {
    let schema = builder.schema();
    let text = |data_type: &DataType| matches!(data_type, DataType::Utf8 | DataType::LargeUtf8);
    if !schema.fields().iter().any(|field| text(field.data_type())) {
        return Ok(builder);
    }
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|field| match text(field.data_type()) {
            true => Arc::new(field.as_ref().clone().with_data_type(DataType::Utf8View)),
            false => Arc::clone(field),
        })
        .collect();
    let views = Schema::new_with_metadata(fields, schema.metadata().clone());
    let options = ArrowReaderOptions::new().with_schema(Arc::new(views));
    let metadata = ArrowReaderMetadata::try_new(Arc::clone(builder.metadata()), options)?;
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(EndedFile(file), metadata))
}

impl Length for EndedFile {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

impl ChunkReader for EndedFile {
    type T = BufReader<NoReadAtEnd>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let mut file = self.0.try_clone()?;
        file.seek(SeekFrom::Start(start))?;
        Ok(BufReader::new(NoReadAtEnd(file)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        self.0.get_bytes(start, length)
    }
}

/// A file whose read at its end is an error (see [`EndedFile`]).
#[derive(Debug)]
struct NoReadAtEnd(File);

impl Read for NoReadAtEnd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 if !buf.is_empty() => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the Parquet reader asked for bytes past the end of the file",
            )),
            n => Ok(n),
        }
    }
}

/// The number of rows a Parquet file's footer declares (for `devdist verify`).
pub fn parquet_row_count(path: &Path) -> Result<u64, Error> {
    parquet_file_row_count(path, File::open(path).map_err(|err| Error::io(path, err))?)
}

/// [`parquet_row_count`] of a file already open (`path` names it in errors).
pub fn parquet_file_row_count(path: &Path, file: File) -> Result<u64, Error> {
    let len = file.metadata().map_err(|err| Error::io(path, err))?.len();
    check_magic(path, &file, len)?;
    let builder = guarded(path, "reading the footer", || ParquetRecordBatchReaderBuilder::try_new(file))?
        .map_err(|err| invalid(path, format!("not a readable Parquet file: {}", describe(&err))))?;
    Ok(builder.metadata().file_metadata().num_rows().max(0) as u64)
}

/// A Parquet file starts and ends with `PAR1`; telling which end is wrong beats the reader's
/// "corrupt footer" for a truncated copy or a file of another format.
fn check_magic(path: &Path, file: &File, len: u64) -> Result<(), Error> {
    const MAGIC: &[u8; 4] = b"PAR1";
    if len < 12 {
        return Err(invalid(path, format!("not a readable Parquet file: only {len} bytes long")));
    }
    let (mut head, mut tail) = ([0u8; 4], [0u8; 4]);
    let mut reader = file;
    let mut read = |at: u64, buf: &mut [u8; 4]| reader.seek(SeekFrom::Start(at)).and_then(|_| reader.read_exact(buf));
    read(0, &mut head).map_err(|err| Error::io(path, err))?;
    read(len - 4, &mut tail).map_err(|err| Error::io(path, err))?;
    if &head != MAGIC {
        return Err(invalid(path, "not a readable Parquet file: it does not start with PAR1".to_string()));
    }
    if &tail != MAGIC {
        return Err(invalid(
            path,
            "not a readable Parquet file: it does not end with PAR1 (truncated, or still being written)".to_string(),
        ));
    }
    Ok(())
}

/// The reader's message without its `Parquet error: ` prefix.
fn describe(err: &impl fmt::Display) -> String {
    let text = err.to_string();
    text.strip_prefix("Parquet error: ").map(str::to_string).unwrap_or(text)
}

pub(crate) fn invalid(path: &Path, message: String) -> Error {
    Error::invalid(path, Position::default(), message)
}

/// Runs a call into the Parquet reader, turning a panic on a corrupt file into an error. The
/// panic's own message is left out: it might quote file content, and secrets live there.
fn guarded<T>(path: &Path, doing: &str, call: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(call))
        .map_err(|_| invalid(path, format!("corrupt Parquet file: the reader failed while {doing}")))
}

/// Whether a known column of this type can be read as the text of a CSV cell.
fn readable_as_text(data_type: &DataType) -> bool {
    match data_type {
        DataType::Dictionary(_, values) => scalar_as_text(values),
        other => scalar_as_text(other),
    }
}

fn scalar_as_text(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Null | Utf8
            | LargeUtf8
            | Utf8View
            | Binary
            | LargeBinary
            | BinaryView
            | Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float16
            | Float32
            | Float64
    )
}
