//! Reusable batches of records.

use csv::ByteRecord;

/// Records read together and handed between threads as one unit. Reused: [`CsvInventory::fill`]
/// overwrites the records in place, so a steady-state run allocates nothing per record.
///
/// A batch is bounded in records (the `capacity` passed to `fill`) and in bytes
/// ([`RecordBatch::max_bytes`]): `fill` stops after the record that brings the batch's
/// [`RecordBatch::payload`] to the byte bound, so a batch holds at most that bound plus one
/// record (every batch holds at least one). What the recycled records keep allocated between
/// uses is bounded by [`RecordBatch::release`].
///
/// [`CsvInventory::fill`]: crate::CsvInventory::fill
#[derive(Debug)]
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
    /// `fill` stops once the records read take this many bytes in memory (see
    /// [`record_size`]). Unbounded unless set.
    pub max_bytes: usize,
    /// Bytes the valid records take in memory, by [`record_size`].
    pub payload: usize,
    /// Per slot of `records`: the largest [`record_size`] it held since it was last released
    /// (what its buffers may keep allocated, up to the factor of their growth).
    held: Vec<usize>,
    /// Sum of `held`.
    held_total: usize,
}

impl Default for RecordBatch {
    fn default() -> RecordBatch {
        RecordBatch {
            records: Vec::new(),
            lines: Vec::new(),
            problems: Vec::new(),
            len: 0,
            first_record: 0,
            bytes: 0,
            max_bytes: usize::MAX,
            payload: 0,
            held: Vec::new(),
            held_total: 0,
        }
    }
}

/// Bytes a record takes in memory: its field bytes and one field boundary (8 bytes) per field.
pub fn record_size(record: &ByteRecord) -> usize {
    record.as_slice().len() + 8 * record.len()
}

impl RecordBatch {
    /// An empty batch that `fill` stops filling at `max_bytes`.
    pub fn with_max_bytes(max_bytes: usize) -> RecordBatch {
        RecordBatch { max_bytes, ..RecordBatch::default() }
    }

    /// The valid records.
    pub fn records(&self) -> &[ByteRecord] {
        &self.records[..self.len]
    }

    /// Whether `fill` may add another record: below `capacity` records and below
    /// [`RecordBatch::max_bytes`].
    pub(crate) fn has_room(&self, capacity: usize) -> bool {
        self.len < capacity && self.payload < self.max_bytes
    }

    /// Accounts for records `from..len` just filled in.
    pub(crate) fn added(&mut self, from: usize) {
        if self.held.len() < self.records.len() {
            self.held.resize(self.records.len(), 0);
        }
        for (record, held) in self.records[from..self.len].iter().zip(&mut self.held[from..self.len]) {
            let size = record_size(record);
            self.payload += size;
            if size > *held {
                self.held_total += size - *held;
                *held = size;
            }
        }
    }

    /// Frees the buffers of records that keep more than their share once the batch as a
    /// whole keeps more than `limit` bytes: every slot that held more than `limit` divided by
    /// the number of slots starts afresh. Afterwards the batch keeps at most about `limit`
    /// (times the growth factor of a buffer, 2). Call it once a batch's records are no longer
    /// needed; slots of ordinary size keep their buffers, so a steady run allocates nothing.
    pub fn release(&mut self, limit: usize) {
        if self.held_total <= limit {
            return;
        }
        let share = limit / self.held.len().max(1);
        for (record, held) in self.records.iter_mut().zip(&mut self.held) {
            if *held > share {
                *record = ByteRecord::new();
                self.held_total -= *held;
                *held = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bytes: usize) -> ByteRecord {
        let mut record = ByteRecord::new();
        record.push_field(&vec![b'x'; bytes]);
        record
    }

    #[test]
    fn release_frees_only_what_keeps_more_than_its_share() {
        let mut batch = RecordBatch { records: (0..8).map(|_| record(10)).collect(), ..RecordBatch::default() };
        batch.len = 8;
        batch.added(0);
        assert_eq!((batch.payload, batch.held_total), (8 * 18, 8 * 18));
        batch.records[3] = record(5000);
        batch.len = 4;
        batch.added(3);
        assert_eq!(batch.held_total, 7 * 18 + 5008);
        // Within the limit: nothing is freed.
        batch.release(8 * 1024);
        assert_eq!(batch.records[3].as_slice().len(), 5000);
        // Beyond it: only the slot above its share (1024 / 8 bytes).
        batch.release(1024);
        assert_eq!(batch.held_total, 7 * 18);
        assert_eq!(batch.records[3].len(), 0);
        assert_eq!(batch.records[2].as_slice().len(), 10);
    }
}
