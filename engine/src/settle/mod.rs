//! Stage 2: the rules that need every record at once (SPEC §3) — duplicates, blocked
//! products, target capacity — in bounded memory, with a result that does not depend on the
//! thread count or the memory budget.
//!
//! ```text
//! gather:   stage-1 survivors ─▶ bucket spools by hash(product, device name)
//!           stage-1 rejects   ─▶ reject spool (input order)
//! sort:     each bucket, alone ─▶ sorted run (product key, device name, input order), with
//!           its duplicate and blocked verdicts
//! capacity: survivors in input order ─▶ for each instance, the record from which it is full
//! count:    each run ─▶ stage-2 rejects (input order), accepted devices per job group
//! ```
//! Copies of a device share a bucket, so duplicates are found bucket by bucket. Blocked
//! products and capacity are decided from small global tables. The outputs then read the runs
//! merged ([`Settled::for_each_accepted`]): every accepted device in (product key, device
//! name) order.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::AtomicU64;

use rayon::prelude::*;

use crate::dictionary::{Dictionaries, Interned};
use crate::error::Error;
use crate::plan::Plan;
use crate::record::{Group, Name, Stored, reject_seq};
use crate::spool::{Scratch, Spool};

mod capacity;
mod count;
mod duplicates;
mod gather;

use capacity::{Quotas, capacity, over_quota};
use count::{Counted, count_run, place};
use duplicates::{VERDICT_BYTES, Verdict, sort_bucket};
pub(crate) use gather::FileCounts;
pub use gather::Gather;

/// Fixed-key hashing, so a bucket or a gateway fingerprint is the same in every run.
pub(super) type Fixed = BuildHasherDefault<DefaultHasher>;

pub(super) fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut hasher = Fixed::default().build_hasher();
    for part in parts {
        std::hash::Hasher::write(&mut hasher, part);
    }
    std::hash::Hasher::finish(&hasher)
}

/// The outcome of stage 2.
#[derive(Debug)]
pub struct Settled {
    /// The dictionaries.
    pub interned: Interned,
    /// Per input file: first sequence, records, runtime cells.
    pub files: Vec<FileCounts>,
    /// Accepted records per input file.
    pub accepted_per_file: Vec<u64>,
    /// Accepted devices per job group.
    pub groups: HashMap<Group, u64>,
    /// Quota headroom left per catalog instance after admitting the accepted devices.
    pub headroom: Vec<Option<u64>>,
    /// Rejects, each spool in input order: stage 1's, then one per bucket.
    pub rejects: Vec<Spool>,
    runs: Vec<Spool>,
    /// Per instance: the input position from which it is full.
    full_from: Vec<Option<u64>>,
    /// Destination of each accepted device named as a gateway, by `product_key/device_name`.
    gateways: HashMap<String, u32>,
    read_buffer: usize,
}

/// Applies the global rules to everything `gather` received.
pub fn settle(plan: &Plan, gather: Gather, dictionaries: Dictionaries, scratch: &Scratch) -> Result<Settled, Error> {
    let interned = Interned::new(dictionaries);
    let Gather { budget, buckets, rejects, quota_order, blocked, odd_markings, gateways, files, .. } = gather;
    // Input positions run from 0 across all files.
    let records: u64 = files.iter().map(|file| file.records).sum();
    let gone: Vec<AtomicU64> = (0..records.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();

    let runs: Vec<Spool> = buckets
        .into_par_iter()
        .map(|bucket| sort_bucket(bucket, &interned, &blocked, &gone, scratch.spool()))
        .collect::<Result<_, _>>()?;

    let Quotas { full_from, headroom } = capacity(plan, &interned, quota_order, &gone, budget.read_buffer)?;

    let place = |seq: u64| place(&files, seq);
    // Each run's counts are folded in as soon as they are made: a run touches most job
    // groups, so keeping every run's own table until the end would cost runs x groups.
    let empty = || Counted::new(plan.inputs.len());
    let counted = runs
        .par_iter()
        .map(|run| count_run(plan, &interned, run, &full_from, &gateways, &odd_markings, &place, scratch, budget))
        .try_fold(empty, |total, counted| counted.map(|counted| total.add(counted)))
        .try_reduce(empty, |a, b| Ok(a.add(b)))?;

    // Each is merged with one open file per spool: no more than FAN_IN.
    let mut all_rejects = vec![rejects];
    all_rejects.extend(counted.rejects);
    let all_rejects = crate::spool::reduce(all_rejects, reject_seq, scratch, budget.read_buffer)?;
    let runs = crate::spool::reduce(runs, |record| run_key(&interned, record), scratch, budget.read_buffer)?;
    Ok(Settled {
        interned,
        accepted_per_file: counted.accepted_per_file,
        files,
        groups: counted.groups,
        headroom,
        rejects: all_rejects,
        runs,
        full_from,
        gateways: counted.gateways,
        read_buffer: budget.read_buffer,
    })
}

/// The order of a sorted run's records: (product key, device name, input position).
fn run_key(interned: &Interned, record: &[u8]) -> (u32, Name, u64) {
    let (product, name, seq) = Stored::key(&record[VERDICT_BYTES..]);
    (interned.product_rank(product), name, seq)
}

impl Settled {
    /// Calls `each` on every accepted device in (product key, device name) order, with its
    /// run record (see [`Stored::from_run`]).
    pub fn for_each_accepted(
        &self,
        plan: &Plan,
        mut each: impl FnMut(&[u8], &Stored) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let readers = self.runs.iter().map(|run| run.reader(self.read_buffer)).collect::<Result<Vec<_>, _>>()?;
        crate::spool::merge(
            readers,
            |record| run_key(&self.interned, record),
            |record| {
                let (verdict, device) = Verdict::decode(record);
                if verdict == Verdict::Alive && over_quota(plan, &self.interned, &self.full_from, &device).is_none() {
                    each(record, &device)?;
                }
                Ok(())
            },
        )
    }

    /// The destination of the accepted device `product_key/device_name`, if it is accepted
    /// and some device names it as gateway.
    pub fn gateway_destination(&self, gateway: &str) -> Option<u32> {
        self.gateways.get(gateway).copied()
    }

    /// Accepted devices in total.
    pub fn accepted(&self) -> u64 {
        self.accepted_per_file.iter().sum()
    }
}
