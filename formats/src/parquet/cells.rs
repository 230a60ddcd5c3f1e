//! Arrow arrays as CSV cells: the bytes a CSV file would hold for each value.

use std::fmt;
use std::io::Write as _;

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

use super::{RUNTIME_MARKER, readable_as_text};
use crate::batch::record_size;

/// Writes rows `first..first + records.len()` of `arrow` into `records`, reusing them, and
/// stops after the row that brings them to `room` bytes (by [`record_size`]). Returns the
/// number of rows written (at least one).
pub(super) fn copy_rows(
    arrow: &ArrowBatch,
    first: usize,
    records: &mut [ByteRecord],
    runtime: &[bool],
    scratch: &mut Vec<u8>,
    room: usize,
) -> usize {
    let mut taken = 0;
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
        taken += record_size(record);
        if taken >= room {
            return offset + 1;
        }
    }
    records.len()
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
