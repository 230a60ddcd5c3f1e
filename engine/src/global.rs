//! Stage 2: the rules that need every record at once (SPEC §3) — duplicates, blocked
//! products, target capacity — applied to the stage-1 survivors in a fixed order, so the
//! result does not depend on how the records were spread over threads.

use rayon::prelude::*;

use crate::intern::ranks;
use crate::plan::Plan;
use crate::reason::Reason;
use crate::rules::{AT_SOURCE, Billed, Candidate, CheckedBatch, Destination, Dictionaries, Name, Reject};

/// Addresses a candidate: (batch, index in batch). Ordered like the input.
pub type Ref = (u32, u32);

/// Every stage-1 survivor in input order, with the dictionaries their ids refer to.
#[derive(Debug)]
pub struct Candidates {
    batches: Vec<CheckedBatch>,
    products: Vec<Box<str>>,
    product_rank: Vec<u32>,
    products_by_rank: Vec<u32>,
    destinations: Vec<Destination>,
    billed: Vec<Billed>,
}

impl Candidates {
    /// Takes the checked batches, which must be in input order, and the filled dictionaries.
    pub fn new(batches: Vec<CheckedBatch>, dictionaries: Dictionaries) -> Candidates {
        let products = dictionaries.products.into_values();
        let product_rank = ranks(&products, |key| key.clone());
        let mut products_by_rank = vec![0u32; products.len()];
        for (id, &rank) in product_rank.iter().enumerate() {
            products_by_rank[rank as usize] = id as u32;
        }
        Candidates {
            batches,
            products,
            product_rank,
            products_by_rank,
            destinations: dictionaries.destinations.into_values(),
            billed: dictionaries.billed.into_values(),
        }
    }

    /// The batches, in input order.
    pub fn batches(&self) -> &[CheckedBatch] {
        &self.batches
    }

    /// Where moved devices are billed now, by id.
    pub fn billed_table(&self) -> &[Billed] {
        &self.billed
    }

    /// Every destination, by id.
    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    /// The device at `at`.
    pub fn get(&self, at: Ref) -> Device<'_> {
        let batch = &self.batches[at.0 as usize];
        Device { candidate: &batch.candidates[at.1 as usize], batch, file: batch.file, all: self }
    }

    /// The position of a device in (product_key, device_name) order, as a sortable key.
    fn order_key(&self, at: Ref) -> (u32, Name, Ref) {
        let candidate = &self.batches[at.0 as usize].candidates[at.1 as usize];
        (self.product_rank[candidate.product as usize], candidate.device_name, at)
    }

    /// The id of a product key, if any candidate has it.
    pub fn product_id(&self, key: &str) -> Option<u32> {
        let by_rank = &self.products_by_rank;
        by_rank.binary_search_by(|&id| (*self.products[id as usize]).cmp(key)).ok().map(|at| by_rank[at])
    }

    /// Rank of a product id in product-key order.
    pub fn product_rank(&self, product: u32) -> u32 {
        self.product_rank[product as usize]
    }

    fn refs(&self) -> Vec<Ref> {
        let mut refs = Vec::with_capacity(self.batches.iter().map(|b| b.candidates.len()).sum());
        for (b, batch) in self.batches.iter().enumerate() {
            refs.extend((0..batch.candidates.len() as u32).map(|i| (b as u32, i)));
        }
        refs
    }
}

/// A candidate as the outputs see it, its ids resolved.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    /// The compact record.
    pub candidate: &'a Candidate,
    batch: &'a CheckedBatch,
    /// Index of its file in the plan.
    pub file: u32,
    all: &'a Candidates,
}

impl<'a> Device<'a> {
    /// ProductKey.
    pub fn product_key(&self) -> &'a str {
        &self.all.products[self.candidate.product as usize]
    }
    /// Position in input order across all files.
    pub fn seq(&self) -> u64 {
        self.batch.first_seq + u64::from(self.candidate.index)
    }
    /// 1-based record number in its file.
    pub fn record(&self) -> u64 {
        self.batch.first_record + u64::from(self.candidate.index)
    }
    /// DeviceName.
    pub fn device_name(&self) -> &'a str {
        self.candidate.device_name.as_str()
    }
    /// DeviceSecret.
    pub fn secret(&self) -> &'a str {
        self.candidate.secret.get(&self.batch.arena)
    }
    /// `product_key/device_name` of the gateway, or empty.
    pub fn gateway(&self) -> &'a str {
        self.candidate.gateway.get(&self.batch.arena)
    }
    /// Where the device goes.
    pub fn destination(&self) -> &'a Destination {
        &self.all.destinations[self.candidate.destination as usize]
    }
    /// Destination account.
    pub fn target_uid(&self) -> &'a str {
        &self.destination().uid
    }
    /// Where the device is billed now, when it is not at its source.
    pub fn billed(&self) -> Option<&'a Billed> {
        match self.candidate.billed {
            AT_SOURCE => None,
            id => Some(&self.all.billed[id as usize]),
        }
    }
}

/// The outcome of stage 2.
#[derive(Debug)]
pub struct Settled {
    /// Accepted devices ordered by (product_key, device_name).
    pub accepted: Vec<Ref>,
    /// Records rejected in stage 2, in input order.
    pub rejects: Vec<Reject>,
    /// Quota headroom left per catalog instance after admitting the accepted devices.
    pub headroom: Vec<Option<u64>>,
}

/// Applies the global rules to every candidate.
pub fn settle(plan: &Plan, candidates: &Candidates) -> Settled {
    let mut keyed: Vec<(u32, Name, Ref)> = candidates.refs().into_iter().map(|at| candidates.order_key(at)).collect();
    keyed.par_sort_unstable();

    let mut rejected: Vec<Vec<bool>> =
        candidates.batches().iter().map(|batch| vec![false; batch.candidates.len()]).collect();
    let mut rejects = Vec::new();
    let mut reject = |at: Ref, reason: Reason, detail: String, rejected: &mut Vec<Vec<bool>>| {
        rejected[at.0 as usize][at.1 as usize] = true;
        rejects.push(reject_of(candidates.get(at), reason, detail));
    };
    let place = |at: Ref| {
        let device = candidates.get(at);
        format!("{} record {}", plan.inputs[device.file as usize].name, device.record())
    };

    // Duplicates: copies of one device are adjacent in `keyed`.
    for group in keyed.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let [(_, _, first), rest @ ..] = group else { continue };
        if rest.is_empty() {
            continue;
        }
        let head = candidates.get(*first);
        let secrets_differ = rest.iter().any(|&(_, _, at)| candidates.get(at).secret() != head.secret());
        let destinations_differ = rest.iter().any(|&(_, _, at)| {
            let other = candidates.get(at).candidate;
            (other.destination, other.source) != (head.candidate.destination, head.candidate.source)
        });
        if secrets_differ || destinations_differ {
            let what = match (secrets_differ, destinations_differ) {
                (true, true) => "different secrets and destinations",
                (true, false) => "different secrets",
                _ => "different sources or destinations",
            };
            let detail = format!("the device appears {} times with {what} (first at {})", group.len(), place(*first));
            for &(_, _, at) in group {
                reject(at, Reason::DuplicateConflict, detail.clone(), &mut rejected);
            }
        } else {
            for &(_, _, at) in rest {
                reject(at, Reason::DuplicateRecord, format!("identical to {}", place(*first)), &mut rejected);
            }
        }
    }

    // Blocked products: any stage-1 survivor marked authorized or transferred; the first
    // marker in input order is named.
    let mut blocked: Vec<Option<Ref>> = Vec::new();
    for (b, batch) in candidates.batches().iter().enumerate() {
        for (i, candidate) in batch.candidates.iter().enumerate() {
            if candidate.blocks_product {
                let product = candidate.product as usize;
                if blocked.len() <= product {
                    blocked.resize(product + 1, None);
                }
                blocked[product].get_or_insert((b as u32, i as u32));
            }
        }
    }
    if !blocked.is_empty() {
        for &(_, _, at) in &keyed {
            if rejected[at.0 as usize][at.1 as usize] {
                continue;
            }
            let device = candidates.get(at);
            if let Some(Some(marker)) = blocked.get(device.candidate.product as usize) {
                let detail = format!(
                    "product {} is marked authorized or transferred ({})",
                    device.product_key(),
                    place(*marker)
                );
                reject(at, Reason::ProductBlocked, detail, &mut rejected);
            }
        }
    }

    // Capacity: admit in input order; a device needs headroom in every candidate instance.
    let mut headroom: Vec<Option<u64>> =
        (0..plan.catalog.len() as u32).map(|id| plan.catalog.get(id).headroom()).collect();
    for (b, batch) in candidates.batches().iter().enumerate() {
        for (i, candidate) in batch.candidates.iter().enumerate() {
            if rejected[b][i] {
                continue;
            }
            let targets = plan.target_sets.get(candidates.destinations()[candidate.destination as usize].targets);
            match targets.iter().find(|&&t| headroom[t as usize] == Some(0)) {
                Some(&t) => {
                    let instance = plan.catalog.get(t);
                    let detail = format!(
                        "{} has no device quota left (device_quota {}, devices_in_use {})",
                        instance.id,
                        instance.device_quota.unwrap_or_default(),
                        instance.devices_in_use
                    );
                    reject((b as u32, i as u32), Reason::TargetCapacityExceeded, detail, &mut rejected);
                }
                None => {
                    for &t in targets {
                        if let Some(left) = headroom[t as usize].as_mut() {
                            *left -= 1;
                        }
                    }
                }
            }
        }
    }

    rejects.sort_by_key(|r| r.seq);
    let accepted =
        keyed.into_iter().map(|(_, _, at)| at).filter(|at| !rejected[at.0 as usize][at.1 as usize]).collect();
    Settled { accepted, rejects, headroom }
}

fn reject_of(device: Device, reason: Reason, detail: String) -> Reject {
    Reject {
        seq: device.seq(),
        file: device.file,
        record: device.record(),
        line: device.candidate.line,
        product_key: device.product_key().to_string(),
        device_name: device.device_name().to_string(),
        reason,
        detail,
    }
}
