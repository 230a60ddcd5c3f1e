//! The Parquet table writer: bounded column chunks and row groups, zstd, no statistics for secrets.

use std::io;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch as ArrowBatch};
use arrow_schema::{DataType, Field as ArrowField, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::{ColumnType, Out, PARQUET_CHUNK_ROWS, PARQUET_CREATED_BY, PARQUET_ROW_GROUP_ROWS, SECRET_COLUMN, Value};

/// A Parquet table being written: bounded memory, at most one chunk of rows in the builders
/// and one row group in the encoder.
#[derive(Debug)]
pub(super) struct ParquetSink {
    /// The file until the schema is known (the first row, or `with_types`).
    pub(super) out: Option<Out>,
    pub(super) writer: Option<ArrowWriter<Out>>,
    pub(super) schema: Option<SchemaRef>,
    pub(super) builders: Vec<ColumnBuilder>,
    pub(super) buffered: usize,
}

#[derive(Debug)]
pub(super) enum ColumnBuilder {
    Str(StringBuilder),
    Int(Int64Builder),
}

impl ParquetSink {
    /// Fixes the schema and starts the encoder.
    pub(super) fn begin(&mut self, columns: &[&'static str], types: &[ColumnType]) -> io::Result<()> {
        let fields: Vec<ArrowField> = columns
            .iter()
            .zip(types)
            .map(|(name, kind)| {
                let data_type = match kind {
                    ColumnType::Str => DataType::Utf8,
                    ColumnType::Int => DataType::Int64,
                };
                ArrowField::new(*name, data_type, false)
            })
            .collect();
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let properties = WriterProperties::builder()
            .set_created_by(PARQUET_CREATED_BY.to_string())
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(io::Error::other)?))
            .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
            // Min/max statistics would copy secrets into the footer and the page index, where
            // metadata tools print them: the secret column has none.
            .set_column_statistics_enabled(ColumnPath::from(SECRET_COLUMN), EnabledStatistics::None)
            .build();
        // The Arrow schema is plain Utf8/Int64: the Parquet schema says it all, so no
        // `ARROW:schema` metadata blob is added.
        let options = ArrowWriterOptions::new().with_properties(properties).with_skip_arrow_metadata(true);
        let out = self.out.take().ok_or_else(|| io::Error::other("Parquet table started twice"))?;
        self.writer = Some(ArrowWriter::try_new_with_options(out, schema.clone(), options).map_err(io::Error::other)?);
        self.schema = Some(schema);
        self.builders = types
            .iter()
            .map(|kind| match kind {
                ColumnType::Str => ColumnBuilder::Str(StringBuilder::with_capacity(PARQUET_CHUNK_ROWS, 1 << 16)),
                ColumnType::Int => ColumnBuilder::Int(Int64Builder::with_capacity(PARQUET_CHUNK_ROWS)),
            })
            .collect();
        Ok(())
    }

    pub(super) fn write_row(&mut self, columns: &[&'static str], row: &[Value]) -> io::Result<()> {
        if row.len() != columns.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("row of {} values for {} columns", row.len(), columns.len()),
            ));
        }
        if self.writer.is_none() {
            let types: Vec<ColumnType> = row
                .iter()
                .map(|value| match value {
                    Value::Str(_) => ColumnType::Str,
                    Value::Int(_) => ColumnType::Int,
                })
                .collect();
            self.begin(columns, &types)?;
        }
        // Check the whole row first so that a bad value leaves every builder the same length.
        for ((value, builder), column) in row.iter().zip(&self.builders).zip(columns) {
            match (value, builder) {
                (Value::Str(_), ColumnBuilder::Int(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("column {column:?} holds integers, not text"),
                    ));
                }
                (Value::Int(n), ColumnBuilder::Int(_)) if i64::try_from(*n).is_err() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("column {column:?}: {n} does not fit a signed 64-bit integer"),
                    ));
                }
                _ => {}
            }
        }
        for (value, builder) in row.iter().zip(&mut self.builders) {
            match (value, builder) {
                (Value::Str(text), ColumnBuilder::Str(b)) => b.append_value(text),
                (Value::Int(n), ColumnBuilder::Str(b)) => {
                    // Writes the digits straight into the builder's value buffer.
                    use std::fmt::Write as _;
                    let _ = write!(b, "{n}");
                    b.append_value("");
                }
                (Value::Int(n), ColumnBuilder::Int(b)) => b.append_value(*n as i64),
                (Value::Str(_), ColumnBuilder::Int(_)) => unreachable!("checked above"),
            }
        }
        self.buffered += 1;
        if self.buffered >= PARQUET_CHUNK_ROWS {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Hands the builders' rows to the encoder, which closes a row group every
    /// [`PARQUET_ROW_GROUP_ROWS`] rows.
    pub(super) fn flush_chunk(&mut self) -> io::Result<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let (Some(writer), Some(schema)) = (self.writer.as_mut(), &self.schema) else { return Ok(()) };
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|builder| match builder {
                ColumnBuilder::Str(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Int(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        let batch = ArrowBatch::try_new(schema.clone(), arrays).map_err(io::Error::other)?;
        writer.write(&batch).map_err(io::Error::other)?;
        self.buffered = 0;
        Ok(())
    }

    /// Writes what is left and the footer; returns the file.
    pub(super) fn finish(mut self, columns: &[&'static str]) -> io::Result<Out> {
        if self.writer.is_none() {
            self.begin(columns, &vec![ColumnType::Str; columns.len()])?;
        }
        self.flush_chunk()?;
        let writer = self.writer.take().ok_or_else(|| io::Error::other("Parquet table not started"))?;
        writer.into_inner().map_err(io::Error::other)
    }
}
