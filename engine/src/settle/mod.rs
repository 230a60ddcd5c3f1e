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

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::Error;
use crate::plan::catalog::InstanceId;

use crate::check::CheckedBatch;
use crate::dictionary::{Dictionaries, Interned};
use crate::plan::Plan;
use crate::reason::Reason;
use crate::record::{Group, Name, Reject, Stored, encode_reject};
use crate::spool::{Budget, Decoder, Encoder, Records, Scratch, Spool};

/// Fixed-key hashing, so a bucket or a gateway fingerprint is the same in every run.
type Fixed = BuildHasherDefault<DefaultHasher>;

fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut hasher = Fixed::default().build_hasher();
    for part in parts {
        std::hash::Hasher::write(&mut hasher, part);
    }
    std::hash::Hasher::finish(&hasher)
}

/// Counts per input file.
#[derive(Debug, Clone, Default)]
pub struct FileCounts {
    /// Input sequence of the file's first record.
    pub first_seq: u64,
    /// Records read.
    pub records: u64,
    /// Non-empty cells per runtime column.
    pub runtime_cells: Vec<u64>,
}

/// Receives checked batches in input order and spools them.
#[derive(Debug)]
pub struct Gather {
    budget: Budget,
    buckets: Vec<Spool>,
    rejects: Spool,
    /// Survivors in input order, as (seq, destination), when some instance has a quota.
    quota_order: Option<Spool>,
    /// First blocking marker per product id, in input order.
    blocked: Vec<Option<u64>>,
    /// Fingerprints of every gateway named by a survivor.
    gateways: HashSet<u64, Fixed>,
    files: Vec<FileCounts>,
    scratch: Vec<u8>,
}

impl Gather {
    /// Starts gathering for `plan` into spools of `scratch`.
    pub fn new(plan: &Plan, scratch: &Scratch, budget: Budget) -> Gather {
        let quotas = (0..plan.catalog.len() as u32).any(|id| plan.catalog.get(id).headroom().is_some());
        Gather {
            budget,
            buckets: (0..budget.buckets).map(|_| scratch.spool()).collect(),
            rejects: scratch.spool(),
            quota_order: quotas.then(|| scratch.spool()),
            blocked: Vec::new(),
            gateways: HashSet::default(),
            files: vec![FileCounts::default(); plan.inputs.len()],
            scratch: Vec::new(),
        }
    }

    /// Takes the next batch in input order.
    pub fn add(&mut self, batch: CheckedBatch) -> Result<(), Error> {
        let file = &mut self.files[batch.file as usize];
        if file.records == 0 {
            file.first_seq = batch.first_seq;
        }
        file.records += batch.records;
        file.runtime_cells.resize(batch.runtime_cells.len(), 0);
        for (total, cells) in file.runtime_cells.iter_mut().zip(&batch.runtime_cells) {
            *total += cells;
        }
        for reject in &batch.rejects {
            self.scratch.clear();
            encode_reject(reject, &mut self.scratch);
            self.rejects.push(&self.scratch)?;
        }
        for candidate in &batch.candidates {
            let name = candidate.device_name.as_str();
            let stored = Stored {
                seq: batch.first_seq + u64::from(candidate.index),
                line: candidate.line,
                product: candidate.product,
                destination: candidate.destination,
                billed: candidate.billed,
                source: candidate.source,
                blocks_product: candidate.blocks_product,
                device_name: name,
                secret: candidate.secret.get(&batch.arena),
                gateway: candidate.gateway.get(&batch.arena),
            };
            if stored.blocks_product {
                let product = stored.product as usize;
                if self.blocked.len() <= product {
                    self.blocked.resize(product + 1, None);
                }
                self.blocked[product].get_or_insert(stored.seq);
            }
            if !stored.gateway.is_empty() {
                self.gateways.insert(fingerprint(&[stored.gateway.as_bytes()]));
            }
            if let Some(order) = &mut self.quota_order {
                self.scratch.clear();
                Encoder(&mut self.scratch).u64(stored.seq).u32(stored.destination);
                order.push(&self.scratch)?;
            }
            let bucket = fingerprint(&[&stored.product.to_le_bytes(), name.as_bytes()]) % self.buckets.len() as u64;
            self.scratch.clear();
            stored.encode(&mut self.scratch);
            self.buckets[bucket as usize].push(&self.scratch)?;
        }
        Ok(())
    }
}

/// Stage-2 verdicts stored in a run ahead of each record: a fixed 14 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Passed duplicates and blocked products (capacity is decided later).
    Alive,
    /// `count` copies with `what` differing; `first` is the first copy's input position.
    Conflict { first: u64, count: u32, what: u8 },
    /// A later identical copy of `first`.
    Copy { first: u64 },
    /// The product is blocked by the marker at `marker`.
    Blocked { marker: u64 },
}

const VERDICT_BYTES: usize = 14;
const CONFLICTS: [&str; 3] =
    ["different secrets and destinations", "different secrets", "different sources or destinations"];

impl Verdict {
    fn encode(self, out: &mut Vec<u8>) {
        let (tag, first, count, what) = match self {
            Verdict::Alive => (0, 0, 0, 0),
            Verdict::Conflict { first, count, what } => (1, first, count, what),
            Verdict::Copy { first } => (2, first, 0, 0),
            Verdict::Blocked { marker } => (3, marker, 0, 0),
        };
        Encoder(out).u8(tag).u64(first).u32(count).u8(what);
    }

    fn decode(bytes: &[u8]) -> (Verdict, Stored<'_>) {
        let mut d = Decoder(bytes);
        let (tag, first, count, what) = (d.u8(), d.u64(), d.u32(), d.u8());
        let verdict = match tag {
            0 => Verdict::Alive,
            1 => Verdict::Conflict { first, count, what },
            2 => Verdict::Copy { first },
            _ => Verdict::Blocked { marker: first },
        };
        (verdict, Stored::decode(&bytes[VERDICT_BYTES..]))
    }
}

impl<'a> Stored<'a> {
    /// The device of a run record (past its stage-2 verdict).
    pub fn from_run(record: &'a [u8]) -> Stored<'a> {
        Stored::decode(&record[VERDICT_BYTES..])
    }
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
    let Gather { budget, buckets, rejects, quota_order, blocked, gateways, files, .. } = gather;
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
        .map(|run| count_run(plan, &interned, run, &full_from, &gateways, &place, scratch, budget))
        .try_fold(empty, |total, counted| counted.map(|counted| total.add(counted)))
        .try_reduce(empty, |a, b| Ok(a.add(b)))?;

    let mut all_rejects = vec![rejects];
    all_rejects.extend(counted.rejects);
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

/// Sorts one bucket by (product key, device name, input order) and decides duplicates and
/// blocked products; rejected records are marked in `gone`.
fn sort_bucket(
    bucket: Spool,
    interned: &Interned,
    blocked: &[Option<u64>],
    gone: &[AtomicU64],
    mut run: Spool,
) -> Result<Spool, Error> {
    let bytes = bucket.into_bytes()?;
    let mut keyed: Vec<(u32, Name, u64, &[u8])> = Records { bytes: &bytes }
        .map(|record| {
            let (product, name, seq) = Stored::key(record);
            (interned.product_rank(product), name, seq, record)
        })
        .collect();
    keyed.sort_unstable_by_key(|&(rank, name, seq, _)| (rank, name, seq));

    let mut verdicts = vec![Verdict::Alive; keyed.len()];
    let mut start = 0;
    for group in keyed.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let verdicts = &mut verdicts[start..start + group.len()];
        start += group.len();
        if let [(_, _, first, head), rest @ ..] = group {
            if rest.is_empty() {
                continue;
            }
            let head = Stored::decode(head);
            let others = || rest.iter().map(|(_, _, _, record)| Stored::decode(record));
            let secrets_differ = others().any(|other| other.secret != head.secret);
            let destinations_differ =
                others().any(|other| (other.destination, other.source) != (head.destination, head.source));
            if secrets_differ || destinations_differ {
                let what = match (secrets_differ, destinations_differ) {
                    (true, true) => 0,
                    (true, false) => 1,
                    _ => 2,
                };
                verdicts.fill(Verdict::Conflict { first: *first, count: group.len() as u32, what });
            } else {
                verdicts[1..].fill(Verdict::Copy { first: *first });
            }
        }
    }
    let mut scratch = Vec::new();
    for (&(_, _, seq, record), verdict) in keyed.iter().zip(&mut verdicts) {
        if *verdict == Verdict::Alive {
            let (product, _, _) = Stored::key(record);
            if let Some(Some(marker)) = blocked.get(product as usize) {
                *verdict = Verdict::Blocked { marker: *marker };
            }
        }
        if *verdict != Verdict::Alive {
            gone[(seq / 64) as usize].fetch_or(1 << (seq % 64), Ordering::Relaxed);
        }
        scratch.clear();
        verdict.encode(&mut scratch);
        scratch.extend_from_slice(record);
        run.push(&scratch)?;
    }
    Ok(run)
}

/// The file (index) and 1-based record number of input position `seq`.
fn place(files: &[FileCounts], seq: u64) -> (usize, u64) {
    let file = files.iter().rposition(|f| f.records > 0 && f.first_seq <= seq).expect("every record is in a file");
    (file, seq - files[file].first_seq + 1)
}

fn is_gone(gone: &[AtomicU64], seq: u64) -> bool {
    gone[(seq / 64) as usize].load(Ordering::Relaxed) & (1 << (seq % 64)) != 0
}

/// Admits the survivors in input order against every instance's quota. Returns, per
/// instance, the input position from which it is full, and the headroom left.
fn capacity(
    plan: &Plan,
    interned: &Interned,
    quota_order: Option<Spool>,
    gone: &[AtomicU64],
    buffer: usize,
) -> Result<Quotas, Error> {
    let mut headroom: Vec<Option<u64>> =
        (0..plan.catalog.len() as u32).map(|id| plan.catalog.get(id).headroom()).collect();
    let mut full_from: Vec<Option<u64>> = headroom.iter().map(|left| (*left == Some(0)).then_some(0)).collect();
    let Some(order) = quota_order else { return Ok(Quotas { full_from, headroom }) };
    let mut reader = order.reader(buffer)?;
    while reader.advance()? {
        let mut d = Decoder(reader.current());
        let (seq, destination) = (d.u64(), d.u32());
        if is_gone(gone, seq) {
            continue;
        }
        let targets = plan.target_sets.get(interned.destinations()[destination as usize].targets);
        if targets.iter().any(|&t| full_from[t as usize].is_some()) {
            continue;
        }
        for &t in targets {
            if let Some(left) = headroom[t as usize].as_mut() {
                *left -= 1;
                if *left == 0 {
                    full_from[t as usize] = Some(seq + 1);
                }
            }
        }
    }
    Ok(Quotas { full_from, headroom })
}

/// Per catalog instance: the input position from which it is full, and the headroom left.
struct Quotas {
    full_from: Vec<Option<u64>>,
    headroom: Vec<Option<u64>>,
}

/// The instance whose quota turns a device away, if any: the first of its targets that was
/// full when its turn came.
fn over_quota(plan: &Plan, interned: &Interned, full_from: &[Option<u64>], device: &Stored) -> Option<InstanceId> {
    let targets = plan.target_sets.get(interned.destinations()[device.destination as usize].targets);
    targets.iter().copied().find(|&t| full_from[t as usize].is_some_and(|from| from <= device.seq))
}

/// What one run contributes.
struct Counted {
    accepted_per_file: Vec<u64>,
    groups: HashMap<Group, u64>,
    gateways: HashMap<String, u32>,
    /// Stage-2 rejects, one spool per run, each in input order.
    rejects: Vec<Spool>,
}

impl Counted {
    fn new(files: usize) -> Counted {
        Counted {
            accepted_per_file: vec![0; files],
            groups: HashMap::new(),
            gateways: HashMap::new(),
            rejects: Vec::new(),
        }
    }

    fn add(mut self, other: Counted) -> Counted {
        for (total, n) in self.accepted_per_file.iter_mut().zip(&other.accepted_per_file) {
            *total += n;
        }
        for (group, n) in other.groups {
            *self.groups.entry(group).or_default() += n;
        }
        self.gateways.extend(other.gateways);
        self.rejects.extend(other.rejects);
        self
    }
}

#[allow(clippy::too_many_arguments)]
fn count_run(
    plan: &Plan,
    interned: &Interned,
    run: &Spool,
    full_from: &[Option<u64>],
    gateways: &HashSet<u64, Fixed>,
    place: &(dyn Fn(u64) -> (usize, u64) + Sync),
    scratch: &Scratch,
    budget: Budget,
) -> Result<Counted, Error> {
    let mut counted = Counted::new(plan.inputs.len());
    let mut spool = scratch.spool();
    let name_of = |seq: u64| {
        let (file, record) = place(seq);
        format!("{} record {record}", plan.inputs[file].name)
    };
    let mut rejects = Vec::new();
    let mut reader = run.reader(budget.read_buffer)?;
    while reader.advance()? {
        let (verdict, device) = Verdict::decode(reader.current());
        let product_key = interned.product_key(device.product);
        let rejected = match verdict {
            Verdict::Conflict { first, count, what } => Some((
                Reason::DuplicateConflict,
                format!(
                    "the device appears {count} times with {} (first at {})",
                    CONFLICTS[what as usize],
                    name_of(first)
                ),
            )),
            Verdict::Copy { first } => Some((Reason::DuplicateRecord, format!("identical to {}", name_of(first)))),
            Verdict::Blocked { marker } => Some((
                Reason::ProductBlocked,
                format!("product {product_key} is marked authorized or transferred ({})", name_of(marker)),
            )),
            Verdict::Alive => over_quota(plan, interned, full_from, &device).map(|t| {
                let instance = plan.catalog.get(t);
                let detail = format!(
                    "{} has no device quota left (device_quota {}, devices_in_use {})",
                    instance.id,
                    instance.device_quota.unwrap_or_default(),
                    instance.devices_in_use
                );
                (Reason::TargetCapacityExceeded, detail)
            }),
        };
        let (file, record) = place(device.seq);
        match rejected {
            Some((reason, detail)) => rejects.push(Reject {
                seq: device.seq,
                file: file as u32,
                record,
                line: device.line,
                product_key: product_key.to_string(),
                device_name: device.device_name.to_string(),
                reason,
                detail,
            }),
            None => {
                counted.accepted_per_file[file] += 1;
                *counted.groups.entry((device.product, device.source, device.destination)).or_default() += 1;
                let key = [product_key.as_bytes(), b"/", device.device_name.as_bytes()];
                if !gateways.is_empty() && gateways.contains(&fingerprint(&key)) {
                    counted.gateways.insert(format!("{product_key}/{}", device.device_name), device.destination);
                }
            }
        }
    }
    rejects.sort_unstable_by_key(|reject| reject.seq);
    let mut bytes = Vec::new();
    for reject in &rejects {
        bytes.clear();
        encode_reject(reject, &mut bytes);
        spool.push(&bytes)?;
    }
    counted.rejects.push(spool);
    Ok(counted)
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
            |record| {
                let (product, name, seq) = Stored::key(&record[VERDICT_BYTES..]);
                (self.interned.product_rank(product), name, seq)
            },
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
