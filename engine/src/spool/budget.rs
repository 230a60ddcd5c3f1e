//! The budget: how much memory the spools may hold, how many files they may keep open, and how
//! many buckets stage 2 sorts.

/// How much memory the spools may hold, how many files they may open, and how many buckets
/// share the candidates.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Buckets of candidates; each is sorted in memory on its own.
    pub buckets: usize,
    /// Spooled bytes of one bucket sorted at once: a bucket found larger is split first
    /// (`settle::split`), since `buckets` comes from an estimate and is capped at 1024.
    pub sort_share: u64,
    /// Bytes all spools together keep in memory before they continue on disk.
    pub spool_memory: u64,
    /// Smallest write of a spool to its file.
    pub min_write: usize,
    /// Read buffer per spool when spools are merged.
    pub read_buffer: usize,
    /// Bytes of records read and not yet handed to the spools (stage 1): an eighth.
    pub records_in_flight: usize,
    /// Spools that may keep their file open between writes; the others open it for each write.
    pub kept_open: usize,
    /// Spools merged at once, one open file each; more are merged in stages.
    pub fan_in: usize,
}

/// Open files set aside for all but spools: the window of open device manifests (256, see
/// emit::grants), the other outputs, the standard streams and what the libraries open.
const OTHER_FILES: u64 = 256 + 128;

impl Budget {
    /// Plans for `bytes` of memory, about `expected` bytes of spooled candidates, `threads`
    /// buckets sorted at once, and `open_files` files open at once (the process's limit, less
    /// the inputs). Half the memory is for spools; a sorted bucket takes about twice its spooled
    /// size, and `threads` of them share a quarter; an eighth is for the records being read and
    /// checked. The files left after [`OTHER_FILES`] are shared evenly by spools kept open and
    /// spools being merged, which can be open at the same time.
    pub fn new(bytes: u64, expected: u64, threads: usize, open_files: u64) -> Budget {
        let per_bucket = (bytes / (8 * threads.max(1) as u64)).max(1);
        let buckets = expected.div_ceil(per_bucket).clamp(threads.max(1) as u64, 1024);
        let spool_memory = bytes / 2;
        // Buckets, their runs and their reject spools, plus two: each may hold a buffer.
        let spools = 3 * buckets + 2;
        let min_write = (spool_memory / (4 * spools)).clamp(1, 64 << 10) as usize;
        let read_buffer = ((bytes / 8) / (buckets + 1)).clamp(4096, 1 << 18) as usize;
        let records_in_flight = usize::try_from(bytes / 8).unwrap_or(usize::MAX);
        // More than all of a run's spools, or than a merge of every bucket's run, gains nothing.
        let share = open_files.saturating_sub(OTHER_FILES) / 2;
        let kept_open = share.min(spools) as usize;
        let fan_in = share.clamp(16, 1024) as usize;
        Budget {
            buckets: buckets as usize,
            sort_share: per_bucket,
            spool_memory,
            min_write,
            read_buffer,
            records_in_flight,
            kept_open,
            fan_in,
        }
    }
}

/// The files this process may have open at once: its soft limit, first raised as far as the
/// hard limit allows (as Go's runtime does), since a default of 1024 would otherwise make large
/// runs merge their spools in stages.
pub(crate) fn open_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // Unlimited (None) is taken as this many; more open files would not be used.
    let wanted = limit.maximum.unwrap_or(1 << 16).min(1 << 16);
    if limit.current.is_some_and(|current| current < wanted)
        && setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: limit.maximum }).is_ok()
    {
        return wanted;
    }
    limit.current.unwrap_or(1 << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spools_and_everything_else_fit_a_limit_of_1024_open_files() {
        for (bytes, expected) in [(1 << 20, 20 << 20), (256 << 20, 17 << 30), (1 << 30, 1 << 20)] {
            let budget = Budget::new(bytes, expected, 8, 1024);
            assert!(budget.kept_open + budget.fan_in + OTHER_FILES as usize <= 1024, "{budget:?}");
            assert!(budget.fan_in >= 128, "{budget:?}");
        }
    }

    #[test]
    fn with_room_for_files_every_bucket_is_kept_open_and_merged_at_once() {
        let budget = Budget::new(256 << 20, 17 << 30, 2, 20_000);
        assert_eq!(budget.buckets, 1024);
        assert_eq!(budget.kept_open, 3 * 1024 + 2);
        assert_eq!(budget.fan_in, 1024);
    }

    #[test]
    fn a_tiny_limit_still_merges_in_stages_of_sixteen() {
        let budget = Budget::new(256 << 20, 17 << 30, 2, 100);
        assert_eq!((budget.kept_open, budget.fan_in), (0, 16));
    }
}
