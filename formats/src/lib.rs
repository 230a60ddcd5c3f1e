//! Reading device inventories and instance catalogs, and writing output tables.
//!
//! This crate turns bytes into records and rows into bytes. It knows column names and file
//! formats (CSV and Parquet inventories, CSV/JSON Lines/Parquet tables); it knows nothing of
//! distribution rules or threads (that is `devdist-engine`). [`Inventory::open`] picks the
//! reader by extension; both fill the same reusable [`RecordBatch`]es.
//!
//! ```no_run
//! use devdist_formats::{CsvInventory, Field, RecordBatch};
//!
//! let mut inventory = CsvInventory::open("devices.csv".as_ref())?;
//! let name_column = inventory.layout().column(Field::DeviceName).unwrap();
//! let mut batch = RecordBatch::default();
//! while inventory.fill(&mut batch, 4096)? {
//!     for record in batch.records() {
//!         let _name = record.get(name_column);
//!     }
//! }
//! # Ok::<(), devdist_formats::Error>(())
//! ```
#![deny(missing_docs)]

mod batch;
mod catalog;
mod csv;
mod error;
mod file;
mod inventory;
mod layout;
mod parquet;
mod table;

pub use ::csv::ByteRecord;
pub use batch::{RecordBatch, record_size};
pub use catalog::{CATALOG_COLUMN_MEANINGS, CATALOG_COLUMNS, CatalogRow, read_catalog};
pub use csv::CsvInventory;
pub use error::{Error, ErrorKind, Position, describe_io, is_invisible, shown};
pub use file::{FileInside, create_new, open_inside, read_inside, require_regular_file};
pub use inventory::Inventory;
pub use layout::{Field, Layout};
pub use parquet::{ParquetInventory, RUNTIME_MARKER, parquet_file_row_count, parquet_row_count};
pub use table::{
    ColumnType, Format, HashingWriter, PARQUET_CREATED_BY, PARQUET_ROW_GROUP_ROWS, TableWriter, Value, Written,
    push_csv_field, push_int,
};
