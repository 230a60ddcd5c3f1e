//! An inventory of either format, picked by extension.

use std::path::Path;

use crate::batch::RecordBatch;
use crate::csv::CsvInventory;
use crate::error::Error;
use crate::layout::Layout;
use crate::parquet::{ParquetInventory, invalid};

/// An inventory of either format, chosen by the file's extension.
#[derive(Debug)]
pub enum Inventory {
    /// A `.csv` file.
    Csv(CsvInventory),
    /// A `.parquet` file.
    Parquet(ParquetInventory),
}

impl Inventory {
    /// Opens `path` as CSV or Parquet by its extension (`.csv` / `.parquet`, any case).
    pub fn open(path: &Path) -> Result<Inventory, Error> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => CsvInventory::open(path).map(Inventory::Csv),
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
