//! Parquet inventories: bytes → `devices.parquet` → `ParquetInventory::open` + `fill` until
//! done. Errors are fine; panics that devdist does not turn into errors are not. Also checks
//! that a file read to its end yields the rows its footer promises and that batches are
//! numbered consecutively.
//!
//! Input: byte 0 picks the batch capacity (1..=64), the rest is the file.
#![no_main]

use std::sync::OnceLock;
use std::path::PathBuf;

use devdist_formats::{ParquetInventory, RecordBatch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, file)) = data.split_first() else { return };
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| devdist_fuzz::scratch("parquet_reader"));
    let path = dir.join("devices.parquet");
    std::fs::write(&path, file).expect("cannot write the scratch file");
    let capacity = 1 + (mode as usize % 64);

    let _ = devdist_fuzz::only_uncaught_panics(|| {
        let Ok(mut inventory) = ParquetInventory::open(&path) else { return };
        let width = inventory.layout().width();
        let promised = inventory.rows();
        let mut batch = RecordBatch::default();
        let mut read = 0u64;
        loop {
            match inventory.fill(&mut batch, capacity) {
                Ok(true) => {
                    assert!(batch.len <= capacity, "batch of {} records over capacity {capacity}", batch.len);
                    assert_eq!(batch.first_record, read + 1, "batches must be numbered consecutively");
                    for record in batch.records() {
                        assert_eq!(record.len(), width, "a Parquet record has one field per column");
                    }
                    read += batch.len as u64;
                }
                Ok(false) => {
                    assert_eq!(batch.len, 0);
                    assert_eq!(read, promised, "read to the end, but not the rows the footer promised");
                    break;
                }
                Err(_) => break,
            }
        }
    });
});
