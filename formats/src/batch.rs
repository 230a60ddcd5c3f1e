//! Reusable batches of records.

use csv::ByteRecord;

/// Records read together and handed between threads as one unit. Reused: [`CsvInventory::fill`]
/// overwrites the records in place, so a steady-state run allocates nothing per record.
#[derive(Debug, Default)]
pub struct RecordBatch {
    /// Storage for records; only the first `len` are valid.
    pub records: Vec<ByteRecord>,
    /// Line where each record starts (1-based), 0 where the format has no lines.
    pub lines: Vec<u64>,
    /// What is structurally wrong with each record, parallel to `records` (only the first `len`
    /// are valid): `None` for a well-formed record, otherwise a short description — a quoting
    /// error, or a record longer than 64 MiB. Such a record is `malformed_record` whatever its
    /// fields hold: they are only what a lenient reading made of broken bytes (empty for a
    /// record too long to keep). Formats without quoting (Parquet) leave every entry `None`.
    pub problems: Vec<Option<&'static str>>,
    /// Number of valid records.
    pub len: usize,
    /// 1-based record number of `records[0]` within its file.
    pub first_record: u64,
    /// Input bytes this batch covers, for progress.
    pub bytes: u64,
}

impl RecordBatch {
    /// The valid records.
    pub fn records(&self) -> &[ByteRecord] {
        &self.records[..self.len]
    }
}
