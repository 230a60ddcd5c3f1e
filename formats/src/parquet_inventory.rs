//! Parquet inventories: the same [`Layout`] and reusable [`RecordBatch`]es as CSV, filled from
//! Arrow arrays (SPEC §2.2).
//!
//! Known columns must hold text (plain, large, view or dictionary-encoded strings, or binary),
//! booleans or numbers; they become the bytes a CSV cell would hold (`true`/`false`, decimal
//! text), and nulls become empty fields. Runtime columns may have any type, nested included:
//! their values are never output, so a non-empty cell becomes the 1-byte marker `x` and a null
//! (or an empty string) an empty field, which is all the engine counts.

use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use arrow_array::ArrowPrimitiveType;
use arrow_array::RecordBatch as ArrowBatch;
use arrow_array::array::{Array, BooleanArray, GenericByteArray, GenericByteViewArray, PrimitiveArray};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ByteArrayType, ByteViewType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use csv::ByteRecord;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::{Error, Position};
use crate::inventory::{Field, Layout, RecordBatch};

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
    /// Row groups whose bytes were already reported, and the rows they hold together.
    groups_counted: usize,
    rows_counted: u64,
    /// File bytes outside the row groups (magic, footer), reported with the first batch.
    overhead: u64,
    scratch: Vec<u8>,
}

enum State {
    /// Opened; the reader is built by the first `fill`, with its capacity as batch size.
    Opened(Box<ParquetRecordBatchReaderBuilder<File>>),
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
        let builder = guarded(path, "reading the footer", || ParquetRecordBatchReaderBuilder::try_new(file))?
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
        Ok(ParquetInventory {
            path: path.to_path_buf(),
            layout,
            runtime,
            state: State::Opened(Box::new(builder)),
            pending: None,
            next_record: 1,
            row_groups,
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

    /// Refills `batch` with up to `capacity` records, exactly as [`crate::CsvInventory::fill`]
    /// does (`lines` are all 0: Parquet has no lines). Returns false once the file is done and
    /// the batch is empty.
    pub fn fill(&mut self, batch: &mut RecordBatch, capacity: usize) -> Result<bool, Error> {
        batch.len = 0;
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
        while batch.len < capacity {
            let Some((arrow, row)) = self.pending.take() else {
                match self.next_arrow_batch(capacity, self.next_record + batch.len as u64)? {
                    Some(arrow) => self.pending = Some((arrow, 0)),
                    None => break,
                }
                continue;
            };
            let take = (arrow.num_rows() - row).min(capacity - batch.len);
            let records = &mut batch.records[batch.len..batch.len + take];
            copy_rows(&arrow, row, records, &self.runtime, &mut self.scratch);
            batch.len += take;
            if row + take < arrow.num_rows() {
                self.pending = Some((arrow, row + take));
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

/// The number of rows a Parquet file's footer declares (for `devdist verify`).
pub fn parquet_row_count(path: &Path) -> Result<u64, Error> {
    let file = File::open(path).map_err(|err| Error::io(path, err))?;
    let len = file.metadata().map_err(|err| Error::io(path, err))?.len();
    check_magic(path, &file, len)?;
    let builder = guarded(path, "reading the footer", || ParquetRecordBatchReaderBuilder::try_new(file))?
        .map_err(|err| invalid(path, format!("not a readable Parquet file: {}", describe(&err))))?;
    Ok(builder.metadata().file_metadata().num_rows().max(0) as u64)
}

/// A Parquet file starts and ends with `PAR1`; telling which end is wrong beats the reader's
/// "corrupt footer" for a truncated copy or a file of another format.
fn check_magic(path: &Path, file: &File, len: u64) -> Result<(), Error> {
    use std::io::{Read, Seek, SeekFrom};
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

fn invalid(path: &Path, message: String) -> Error {
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

/// Writes rows `first..first + records.len()` of `arrow` into `records`, reusing them.
fn copy_rows(arrow: &ArrowBatch, first: usize, records: &mut [ByteRecord], runtime: &[bool], scratch: &mut Vec<u8>) {
    let columns: Vec<Column> = arrow
        .columns()
        .iter()
        .zip(runtime)
        .map(|(array, &runtime)| Column {
            nulls: array.logical_nulls(),
            // A runtime column of a nested or other type counts as non-empty wherever non-null.
            cells: (!runtime || readable_as_text(array.data_type())).then(|| cells(array.as_ref())),
            runtime,
        })
        .collect();
    for (offset, record) in records.iter_mut().enumerate() {
        let row = first + offset;
        record.clear();
        for column in &columns {
            if column.nulls.as_ref().is_some_and(|nulls| nulls.is_null(row)) {
                record.push_field(b"");
                continue;
            }
            match &column.cells {
                None => record.push_field(RUNTIME_MARKER),
                Some(cells) if column.runtime => {
                    let empty = cells.cell(row, scratch).is_empty();
                    record.push_field(if empty { b"" } else { RUNTIME_MARKER });
                }
                Some(cells) => record.push_field(cells.cell(row, scratch)),
            }
        }
    }
}

/// One column of an Arrow batch: which cells are null, and how to read the others.
struct Column<'a> {
    nulls: Option<NullBuffer>,
    /// None for a runtime column whose type is not read as text.
    cells: Option<Box<dyn Cells + 'a>>,
    /// Only the emptiness of the cells is kept.
    runtime: bool,
}

/// Reads the text of one non-null cell.
trait Cells {
    /// The cell's bytes, borrowed from the array or written into `scratch`.
    fn cell<'s>(&'s self, row: usize, scratch: &'s mut Vec<u8>) -> &'s [u8];
}

/// How to read the cells of an array whose type passed [`readable_as_text`].
fn cells(array: &dyn Array) -> Box<dyn Cells + '_> {
    use DataType::*;
    match array.data_type() {
        Utf8 => Box::new(array.as_string::<i32>()),
        LargeUtf8 => Box::new(array.as_string::<i64>()),
        Utf8View => Box::new(array.as_string_view()),
        Binary => Box::new(array.as_binary::<i32>()),
        LargeBinary => Box::new(array.as_binary::<i64>()),
        BinaryView => Box::new(array.as_binary_view()),
        Boolean => Box::new(array.as_boolean()),
        Int8 => Box::new(array.as_primitive::<Int8Type>()),
        Int16 => Box::new(array.as_primitive::<Int16Type>()),
        Int32 => Box::new(array.as_primitive::<Int32Type>()),
        Int64 => Box::new(array.as_primitive::<Int64Type>()),
        UInt8 => Box::new(array.as_primitive::<UInt8Type>()),
        UInt16 => Box::new(array.as_primitive::<UInt16Type>()),
        UInt32 => Box::new(array.as_primitive::<UInt32Type>()),
        UInt64 => Box::new(array.as_primitive::<UInt64Type>()),
        Float16 => Box::new(array.as_primitive::<Float16Type>()),
        Float32 => Box::new(array.as_primitive::<Float32Type>()),
        Float64 => Box::new(array.as_primitive::<Float64Type>()),
        Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            // A column null in every row of the batch may come with an empty dictionary, which
            // arrow's key normalisation refuses: every cell is empty.
            if dictionary.values().is_empty() {
                return Box::new(Empty);
            }
            Box::new(DictionaryCells {
                keys: dictionary.normalized_keys(),
                values: cells(dictionary.values().as_ref()),
            })
        }
        // Every cell of a Null array is null, and `open` admits no other type.
        _ => Box::new(Empty),
    }
}

impl<T: ByteArrayType> Cells for &GenericByteArray<T>
where
    T::Native: AsRef<[u8]>,
{
    fn cell<'s>(&'s self, row: usize, _scratch: &'s mut Vec<u8>) -> &'s [u8] {
        self.value(row).as_ref()
    }
}

impl<T: ByteViewType + ?Sized> Cells for &GenericByteViewArray<T>
where
    T::Native: AsRef<[u8]>,
{
    fn cell<'s>(&'s self, row: usize, _scratch: &'s mut Vec<u8>) -> &'s [u8] {
        self.value(row).as_ref()
    }
}

impl Cells for &BooleanArray {
    fn cell<'s>(&'s self, row: usize, _scratch: &'s mut Vec<u8>) -> &'s [u8] {
        if self.value(row) { b"true" } else { b"false" }
    }
}

impl<T: ArrowPrimitiveType> Cells for &PrimitiveArray<T>
where
    T::Native: fmt::Display,
{
    fn cell<'s>(&'s self, row: usize, scratch: &'s mut Vec<u8>) -> &'s [u8] {
        scratch.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(scratch, "{}", self.value(row));
        scratch
    }
}

struct DictionaryCells<'a> {
    keys: Vec<usize>,
    values: Box<dyn Cells + 'a>,
}

impl Cells for DictionaryCells<'_> {
    fn cell<'s>(&'s self, row: usize, scratch: &'s mut Vec<u8>) -> &'s [u8] {
        self.values.cell(self.keys[row], scratch)
    }
}

struct Empty;

impl Cells for Empty {
    fn cell<'s>(&'s self, _row: usize, _scratch: &'s mut Vec<u8>) -> &'s [u8] {
        b""
    }
}

/// An inventory of either format, chosen by the file's extension.
#[derive(Debug)]
pub enum Inventory {
    /// A `.csv` file.
    Csv(crate::inventory::CsvInventory),
    /// A `.parquet` file.
    Parquet(ParquetInventory),
}

impl Inventory {
    /// Opens `path` as CSV or Parquet by its extension (`.csv` / `.parquet`, any case).
    pub fn open(path: &Path) -> Result<Inventory, Error> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => crate::inventory::CsvInventory::open(path).map(Inventory::Csv),
            Some("parquet") => ParquetInventory::open(path).map(Inventory::Parquet),
            _ => Err(invalid(path, "unknown inventory format (expected .csv or .parquet)".to_string())),
        }
    }

    /// The column mapping of this file.
    pub fn layout(&self) -> &Layout {
        match self {
            Inventory::Csv(inventory) => inventory.layout(),
            Inventory::Parquet(inventory) => inventory.layout(),
        }
    }

    /// Refills `batch` with up to `capacity` records; false once the file is done.
    pub fn fill(&mut self, batch: &mut RecordBatch, capacity: usize) -> Result<bool, Error> {
        match self {
            Inventory::Csv(inventory) => inventory.fill(batch, capacity),
            Inventory::Parquet(inventory) => inventory.fill(batch, capacity),
        }
    }

    /// `"csv"` or `"parquet"`, as the report names input formats.
    pub fn format_name(&self) -> &'static str {
        match self {
            Inventory::Csv(_) => "csv",
            Inventory::Parquet(_) => "parquet",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_extension_is_an_error() {
        let err = Inventory::open(Path::new("devices.xlsx")).unwrap_err();
        assert_eq!(err.to_string(), "devices.xlsx: unknown inventory format (expected .csv or .parquet)");
    }

    #[test]
    fn extension_is_case_insensitive() {
        let err = Inventory::open(Path::new("/nonexistent/devices.PARQUET")).unwrap_err();
        assert_eq!(err.to_string(), "/nonexistent/devices.PARQUET: no such file");
    }
}
