//! The memory budget: how much the spools may hold, and how many buckets stage 2 sorts.

/// How much memory the spools may hold, and how many buckets share the candidates.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Buckets of candidates; each is sorted in memory on its own.
    pub buckets: usize,
    /// Bytes all spools together keep in memory before they continue on disk.
    pub spool_memory: u64,
    /// Smallest write of a spool to its file.
    pub min_write: usize,
    /// Read buffer per spool when spools are merged.
    pub read_buffer: usize,
    /// Bytes of records read and not yet handed to the spools (stage 1): an eighth.
    pub records_in_flight: usize,
}

impl Budget {
    /// Plans for `bytes` of memory, about `expected` bytes of spooled candidates, and
    /// `threads` buckets sorted at once. Half the budget is for spools; a sorted bucket takes
    /// about twice its spooled size, and `threads` of them share a quarter; an eighth is for the
    /// records being read and checked.
    pub fn new(bytes: u64, expected: u64, threads: usize) -> Budget {
        let per_bucket = (bytes / (8 * threads.max(1) as u64)).max(1);
        let buckets = expected.div_ceil(per_bucket).clamp(threads.max(1) as u64, 1024);
        let spool_memory = bytes / 2;
        // Buckets, their runs and their reject spools, plus two: each may hold a buffer.
        let spools = 3 * buckets + 2;
        let min_write = (spool_memory / (4 * spools)).clamp(1, 64 << 10) as usize;
        let read_buffer = ((bytes / 8) / (buckets + 1)).clamp(4096, 1 << 18) as usize;
        let records_in_flight = usize::try_from(bytes / 8).unwrap_or(usize::MAX);
        Budget { buckets: buckets as usize, spool_memory, min_write, read_buffer, records_in_flight }
    }
}
