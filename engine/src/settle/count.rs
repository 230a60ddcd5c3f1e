//! Counting a run: stage-2 rejects in input order, accepted devices per job group.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::dictionary::Dictionaries;
use crate::error::Error;
use crate::plan::Plan;
use crate::reason::Reason;
use crate::record::{JobGroup, Reject, encode_reject};
use crate::spool::{Budget, Scratch, Spool};

use super::Rejected;
use super::capacity::over_quota;
use super::duplicates::{CONFLICTS, Verdict};
use super::gather::FileCounts;
use super::{GatewayKey, fingerprint, gateway_key};

/// The file (index) and 1-based record number of input position `seq`.
pub(super) fn locate(files: &[FileCounts], seq: u64) -> (usize, u64) {
    let file = files.iter().rposition(|f| f.records > 0 && f.first_seq <= seq).expect("every record is in a file");
    (file, seq - files[file].first_seq + 1)
}

/// What the runs counted so far contribute.
pub(super) struct Counted {
    pub(super) accepted_per_file: Vec<u64>,
    pub(super) groups: HashMap<JobGroup, u64>,
    /// Accepted devices named as gateways, with their destinations.
    pub(super) gateways: Vec<(GatewayKey, u32)>,
    /// Stage-2 rejects, one spool per run, each in input order.
    pub(super) rejects: Vec<Spool>,
}

impl Counted {
    pub(super) fn new(files: usize) -> Counted {
        Counted {
            accepted_per_file: vec![0; files],
            groups: HashMap::default(),
            gateways: Vec::new(),
            rejects: Vec::new(),
        }
    }

    pub(super) fn add(mut self, other: Counted) -> Counted {
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

/// What counting a run reads besides the run: the same for every run.
#[derive(Clone, Copy)]
pub(super) struct Counter<'a> {
    pub(super) plan: &'a Plan,
    pub(super) interned: &'a Dictionaries,
    pub(super) full_from: &'a [Option<u64>],
    pub(super) rejected: &'a Rejected,
    pub(super) gateways: &'a HashSet<u64>,
    pub(super) odd_markings: &'a HashMap<u64, String>,
    pub(super) locate: &'a (dyn Fn(u64) -> (usize, u64) + Sync),
    pub(super) scratch: &'a Scratch,
    pub(super) budget: Budget,
}

/// Counts `run` into `counted`: its stage-2 rejects (one spool, in input order), and its
/// accepted devices per file, per job group and named as gateways.
pub(super) fn count_run(counter: Counter, run: &Spool, counted: &mut Counted) -> Result<(), Error> {
    let Counter { plan, interned, full_from, rejected, gateways, odd_markings, locate, scratch, budget } = counter;
    let mut spool = scratch.spool();
    let name_of = |seq: u64| {
        let (file, record) = locate(seq);
        format!("{} record {record}", plan.inputs[file].name)
    };
    let mut rejects = Vec::new();
    // `product_key/device_name` of the device, as a gateway would name it.
    let mut gateway = String::new();
    let mut reader = run.reader(budget.read_buffer)?;
    while reader.advance()? {
        let (verdict, device) = Verdict::decode(reader.current());
        let product_key = interned.product_key(device.product);
        let reject = match verdict {
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
                match odd_markings.get(&marker) {
                    Some(odd) => format!(
                        "product {product_key} is taken as marked: {odd} ({}) is neither true nor false",
                        name_of(marker)
                    ),
                    None => format!("product {product_key} is marked authorized or transferred ({})", name_of(marker)),
                },
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
        let (file, record) = locate(device.seq);
        match reject {
            Some((reason, detail)) => {
                rejected.insert(device.seq);
                rejects.push(Reject {
                    seq: device.seq,
                    file: file as u32,
                    record,
                    line: device.line,
                    product_key: product_key.to_string(),
                    device_name: device.device_name.to_string(),
                    reason,
                    detail,
                });
            }
            None => {
                counted.accepted_per_file[file] += 1;
                *counted.groups.entry(device.group()).or_default() += 1;
                if !gateways.is_empty() {
                    gateway.clear();
                    gateway.extend([product_key, "/", device.device_name]);
                    if gateways.contains(&fingerprint(gateway.as_bytes())) {
                        counted.gateways.push((gateway_key(gateway.as_bytes()), device.destination));
                    }
                }
            }
        }
    }
    rejects.sort_unstable_by_key(|reject| reject.seq);
    for reject in &rejects {
        spool.push_with(|out| encode_reject(reject, out))?;
    }
    counted.rejects.push(spool);
    Ok(())
}
