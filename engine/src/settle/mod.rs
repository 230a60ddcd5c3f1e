//! Stage 2: the rules that need every record at once (docs/inputs.md §6.2) — duplicates, blocked
//! products, target capacity — in bounded memory, with a result that does not depend on the
//! thread count or the memory budget.
//!
//! ```text
//! gather:   stage-1 survivors ─▶ bucket spools by hash(product, device name)
//!           stage-1 rejects   ─▶ reject spool (input order)
//! sort:     each bucket, alone (split first if over its sort share) ─▶ sorted run (product
//!           key, device name, input order), with its duplicate and blocked verdicts
//! capacity: survivors in input order ─▶ for each instance, the record from which it is full
//! count:    each run ─▶ stage-2 rejects (input order), accepted devices per job group
//! ```
//! Copies of a device share a bucket, so duplicates are found bucket by bucket. Blocked
//! products and capacity are decided from small global tables. The outputs then read the runs
//! merged ([`Settled::reduce_runs`], [`Settled::for_each_accepted`]): every accepted device in
//! (product key, device name) order. Counts read them run by run (`Settled::fold_accepted`).

use rustc_hash::FxHashMap as HashMap;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::dictionary::{Dictionaries, SharedDictionaries};
use crate::error::Error;
use crate::plan::Plan;
use crate::record::{JobGroup, Name, SpooledDevice, reject_seq};
use crate::spool::{Scratch, Spool};

mod capacity;
mod count;
mod duplicates;
mod gather;

use capacity::{Quotas, capacity};
use count::{Counted, Counter, count_run};
use duplicates::{past_verdict, sort_bucket, split};
pub(crate) use gather::FileCounts;
pub use gather::Gather;

/// Fixed-key hashing, so a bucket or a gateway fingerprint is the same in every run. FxHash,
/// not SipHash: this runs once or twice per record, and neither use needs collision
/// resistance (outputs never depend on the bucket, and a gateway fingerprint only decides
/// which names are looked up by their full text). Unlike SipHash, FxHash is not a stream:
/// the same bytes split into other writes hash differently, so each takes one fixed shape.
type Fixed = BuildHasherDefault<rustc_hash::FxHasher>;

/// The fingerprint of a gateway's `product_key/device_name`.
pub(super) fn fingerprint(text: &[u8]) -> u64 {
    Fixed::default().hash_one(text)
}

/// What stage 2 keeps of an accepted gateway's `product_key/device_name`: 128 bits of its
/// SHA-256, equal for equal names and (but for a 2⁻¹²⁸ chance per pair) only for them. A
/// million gateways take 20 bytes each this way; as `String` keys of a map they took ~100.
pub(super) type GatewayKey = [u8; 16];

pub(super) fn gateway_key(text: &[u8]) -> GatewayKey {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(text);
    digest[..16].try_into().expect("SHA-256 has 32 bytes")
}

/// The bucket hash of a device: its product id and name, so that copies share a bucket.
pub(super) fn bucket_hash(product: u32, name: &[u8]) -> u64 {
    Fixed::default().hash_one((product, name))
}

/// The input positions stage 2 rejects, one bit each: set by the duplicate and blocked-product
/// verdicts as buckets are sorted, and by capacity as runs are counted. A device is accepted
/// exactly when its bit is clear after counting.
#[derive(Debug)]
pub(super) struct Rejected(Vec<AtomicU64>);

impl Rejected {
    fn new(records: u64) -> Rejected {
        Rejected((0..records.div_ceil(64)).map(|_| AtomicU64::new(0)).collect())
    }

    pub(super) fn insert(&self, seq: u64) {
        self.0[(seq / 64) as usize].fetch_or(1 << (seq % 64), Ordering::Relaxed);
    }

    pub(super) fn contains(&self, seq: u64) -> bool {
        self.0[(seq / 64) as usize].load(Ordering::Relaxed) & (1 << (seq % 64)) != 0
    }
}

/// The outcome of stage 2.
#[derive(Debug)]
pub struct Settled {
    /// The dictionaries.
    pub interned: Dictionaries,
    /// Per input file: first sequence, records, runtime cells.
    pub files: Vec<FileCounts>,
    /// Accepted records per input file.
    pub accepted_per_file: Vec<u64>,
    /// Accepted devices per job group.
    pub groups: HashMap<JobGroup, u64>,
    /// Quota headroom left per catalog instance after admitting the accepted devices.
    pub headroom: Vec<Option<u64>>,
    /// Rejects, each spool in input order: stage 1's, then one per bucket.
    pub rejects: Vec<Spool>,
    runs: Vec<Spool>,
    /// Every input position stage 2 rejected.
    rejected: Rejected,
    /// Each accepted device named as a gateway, by the [`GatewayKey`] of its
    /// `product_key/device_name`, with its destination; sorted by key.
    gateways: Vec<(GatewayKey, u32)>,
    read_buffer: usize,
    /// Runs merged at once ([`crate::spool::Budget::fan_in`]).
    fan_in: usize,
}

/// Applies the global rules to everything `gather` received.
pub fn settle(
    plan: &Plan,
    gather: Gather,
    dictionaries: SharedDictionaries,
    scratch: &Scratch,
) -> Result<Settled, Error> {
    let interned = Dictionaries::new(dictionaries);
    let Gather { budget, buckets, rejects, quota_order, blocked, odd_markings, gateways, files, .. } = gather;
    // Input positions run from 0 across all files.
    let records: u64 = files.iter().map(|file| file.records).sum();
    let rejected = Rejected::new(records);

    let divisor = buckets.len() as u64;
    let runs: Vec<Vec<Spool>> = buckets
        .into_par_iter()
        .map(|bucket| {
            let parts = split(bucket, divisor, &budget, scratch)?;
            parts.into_iter().map(|part| sort_bucket(part, &interned, &blocked, &rejected, scratch.spool())).collect()
        })
        .collect::<Result<_, _>>()?;
    let runs: Vec<Spool> = runs.into_iter().flatten().collect();

    let Quotas { full_from, headroom } = capacity(plan, &interned, quota_order, &rejected, budget.read_buffer)?;

    let locate = |seq: u64| count::locate(&files, seq);
    // Runs count straight into their fold's tally, a few per thread: a run touches most job
    // groups, so a table per run would cost runs x groups to add up (quadratic in the input,
    // since both grow with it: a fifth of the global phase's CPU at 50 M records).
    let counter = Counter {
        plan,
        interned: &interned,
        full_from: &full_from,
        rejected: &rejected,
        gateways: &gateways,
        odd_markings: &odd_markings,
        locate: &locate,
        scratch,
        budget,
    };
    let empty = || Counted::new(plan.inputs.len());
    let counted = runs
        .par_iter()
        .try_fold(empty, |mut total, run| count_run(counter, run, &mut total).map(|()| total))
        .try_reduce(empty, |a, b| Ok(a.add(b)))?;

    // Each is merged with one open file per spool: no more than the budget's fan-in.
    let mut all_rejects = vec![rejects];
    all_rejects.extend(counted.rejects);
    let all_rejects = crate::spool::reduce(all_rejects, reject_seq, scratch, budget.read_buffer)?;
    Ok(Settled {
        interned,
        accepted_per_file: counted.accepted_per_file,
        files,
        groups: counted.groups,
        headroom,
        rejects: all_rejects,
        runs,
        rejected,
        gateways: {
            let mut gateways = counted.gateways;
            gateways.sort_unstable();
            gateways
        },
        read_buffer: budget.read_buffer,
        fan_in: budget.fan_in,
    })
}

/// The order of a sorted run's records: (product key, device name, input position).
fn run_key(interned: &Dictionaries, record: &[u8]) -> (u32, Name, u64) {
    let (product, name, seq) = SpooledDevice::key(past_verdict(record));
    (interned.product_rank(product), name, seq)
}

impl Settled {
    /// Makes the runs few enough for [`Settled::for_each_accepted`], which merges them with one
    /// open file each: merges groups of them until at most the budget's fan-in are left. A dry
    /// run never merges, and so skips this pass over every accepted device.
    pub fn reduce_runs(&mut self, scratch: &Scratch) -> Result<(), Error> {
        let runs = std::mem::take(&mut self.runs);
        let interned = &self.interned;
        self.runs = crate::spool::reduce(runs, |record| run_key(interned, record), scratch, self.read_buffer)?;
        Ok(())
    }

    /// Calls `each` on every accepted device in (product key, device name) order; after
    /// [`Settled::reduce_runs`].
    pub fn for_each_accepted(&self, mut each: impl FnMut(&SpooledDevice) -> Result<(), Error>) -> Result<(), Error> {
        debug_assert!(self.runs.len() <= self.fan_in, "reduce_runs comes first");
        let readers = self.runs.iter().map(|run| run.reader(self.read_buffer)).collect::<Result<Vec<_>, _>>()?;
        crate::spool::merge(
            readers,
            |record| run_key(&self.interned, record),
            |record| {
                let device = SpooledDevice::from_run(record);
                if !self.rejected.contains(device.seq) {
                    each(&device)?;
                }
                Ok(())
            },
        )
    }

    /// Folds every accepted device into a tally, run by run on the thread pool and in no
    /// particular order: for counts, which need no merge. `add` folds one device in,
    /// `combine` two tallies.
    pub(crate) fn fold_accepted<T: Send>(
        &self,
        empty: impl Fn() -> T + Sync + Send,
        add: impl Fn(&mut T, &SpooledDevice) + Sync + Send,
        combine: impl Fn(T, T) -> T + Sync + Send,
    ) -> Result<T, Error> {
        let tally_run = |run: &Spool| -> Result<T, Error> {
            let mut tally = empty();
            let mut reader = run.reader(self.read_buffer)?;
            while reader.advance()? {
                let device = SpooledDevice::from_run(reader.current());
                if !self.rejected.contains(device.seq) {
                    add(&mut tally, &device);
                }
            }
            Ok(tally)
        };
        self.runs
            .par_iter()
            .map(tally_run)
            .try_fold(&empty, |total, tally| tally.map(|tally| combine(total, tally)))
            .try_reduce(&empty, |a, b| Ok(combine(a, b)))
    }

    /// The input file (index in the plan) and 1-based record number of input position `seq`.
    pub(crate) fn locate(&self, seq: u64) -> (usize, u64) {
        count::locate(&self.files, seq)
    }

    /// The destination of the accepted device `product_key/device_name`, if it is accepted
    /// and some device names it as gateway.
    pub fn gateway_destination(&self, gateway: &str) -> Option<u32> {
        let key = gateway_key(gateway.as_bytes());
        let at = self.gateways.binary_search_by_key(&key, |&(key, _)| key).ok()?;
        Some(self.gateways[at].1)
    }

    /// Accepted devices in total.
    pub fn accepted(&self) -> u64 {
        self.accepted_per_file.iter().sum()
    }
}
