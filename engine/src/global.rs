//! Stage 2: the rules that need every record at once (SPEC §3) — duplicates, blocked
//! products, target capacity — applied to the stage-1 survivors in a fixed order, so the
//! result does not depend on how the records were spread over threads.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::plan::{Plan, Strategy, TargetSetId};
use crate::reason::Reason;
use crate::rules::{Candidate, CheckedBatch, Reject};

/// Addresses a candidate: (batch, index in batch). Ordered like the input.
pub type Ref = (u32, u32);

/// A candidate with its arena: the device as the outputs see it.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    /// The compact record.
    pub candidate: &'a Candidate,
    arena: &'a str,
    /// Index of its file in the plan.
    pub file: u32,
}

impl<'a> Device<'a> {
    /// ProductKey.
    pub fn product_key(&self) -> &'a str {
        self.candidate.product_key.get(self.arena)
    }
    /// DeviceName.
    pub fn device_name(&self) -> &'a str {
        self.candidate.device_name.get(self.arena)
    }
    /// DeviceSecret.
    pub fn secret(&self) -> &'a str {
        self.candidate.secret.get(self.arena)
    }
    /// Where the device is distributed to now, or empty.
    pub fn current_instance(&self) -> &'a str {
        self.candidate.current_instance.get(self.arena)
    }
    /// Account billed at `current_instance`, or empty.
    pub fn current_uid(&self) -> &'a str {
        self.candidate.current_uid.get(self.arena)
    }
    /// `product_key/device_name` of the gateway, or empty.
    pub fn gateway(&self) -> &'a str {
        self.candidate.gateway.get(self.arena)
    }
    /// Destination account.
    pub fn target_uid(&self) -> &'a str {
        self.candidate.target_uid.get(self.arena)
    }
    /// The destination as compared by the duplicate and topology rules.
    pub fn destination(&self) -> (Strategy, TargetSetId, &'a str) {
        (self.candidate.strategy, self.candidate.targets, self.target_uid())
    }
}

/// Every stage-1 survivor, in input order.
#[derive(Debug, Default)]
pub struct Candidates {
    batches: Vec<CheckedBatch>,
}

impl Candidates {
    /// Takes the checked batches, which must be in input order.
    pub fn new(batches: Vec<CheckedBatch>) -> Candidates {
        Candidates { batches }
    }

    /// The batches, in input order.
    pub fn batches(&self) -> &[CheckedBatch] {
        &self.batches
    }

    /// The device at `at`.
    pub fn get(&self, at: Ref) -> Device<'_> {
        let batch = &self.batches[at.0 as usize];
        Device { candidate: &batch.candidates[at.1 as usize], arena: &batch.arena, file: batch.file }
    }

    /// Every candidate's address, in input order.
    fn refs(&self) -> Vec<Ref> {
        let mut refs = Vec::with_capacity(self.batches.iter().map(|b| b.candidates.len()).sum());
        for (b, batch) in self.batches.iter().enumerate() {
            refs.extend((0..batch.candidates.len() as u32).map(|i| (b as u32, i)));
        }
        refs
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Rejected,
}

/// Applies the global rules to every candidate.
pub fn settle(plan: &Plan, candidates: &Candidates) -> Settled {
    let mut by_device = candidates.refs();
    by_device.par_sort_unstable_by(|&a, &b| {
        let (x, y) = (candidates.get(a), candidates.get(b));
        (x.product_key(), x.device_name(), a).cmp(&(y.product_key(), y.device_name(), b))
    });
    let mut status: Vec<Vec<Status>> =
        candidates.batches().iter().map(|batch| vec![Status::Pending; batch.candidates.len()]).collect();
    let mut rejects = Vec::new();
    let mut reject = |at: Ref, reason: Reason, detail: String, status: &mut Vec<Vec<Status>>| {
        status[at.0 as usize][at.1 as usize] = Status::Rejected;
        rejects.push(reject_of(candidates.get(at), reason, detail));
    };
    let place = |at: Ref| {
        let device = candidates.get(at);
        format!("{} record {}", plan.inputs[device.file as usize].name, device.candidate.record)
    };

    // Duplicates: group copies of one device.
    for group in by_device.chunk_by(|&a, &b| {
        let (x, y) = (candidates.get(a), candidates.get(b));
        (x.product_key(), x.device_name()) == (y.product_key(), y.device_name())
    }) {
        let [first, rest @ ..] = group else { continue };
        if rest.is_empty() {
            continue;
        }
        let head = candidates.get(*first);
        let secrets_differ = rest.iter().any(|&at| candidates.get(at).secret() != head.secret());
        let destinations_differ = rest.iter().any(|&at| {
            let other = candidates.get(at);
            other.destination() != head.destination() || other.candidate.source != head.candidate.source
        });
        if secrets_differ || destinations_differ {
            let what = match (secrets_differ, destinations_differ) {
                (true, true) => "different secrets and destinations",
                (true, false) => "different secrets",
                _ => "different sources or destinations",
            };
            let detail = format!("the device appears {} times with {what} (first at {})", group.len(), place(*first));
            for &at in group {
                reject(at, Reason::DuplicateConflict, detail.clone(), &mut status);
            }
        } else {
            for &at in rest {
                reject(at, Reason::DuplicateRecord, format!("identical to {}", place(*first)), &mut status);
            }
        }
    }

    // Blocked products: any stage-1 survivor marked authorized or transferred.
    let mut blocked: HashMap<&str, Ref> = HashMap::new();
    for &at in &by_device {
        let device = candidates.get(at);
        if device.candidate.blocks_product {
            blocked.entry(device.product_key()).and_modify(|first| *first = (*first).min(at)).or_insert(at);
        }
    }
    if !blocked.is_empty() {
        for &at in &by_device {
            if status[at.0 as usize][at.1 as usize] != Status::Pending {
                continue;
            }
            let key = candidates.get(at).product_key();
            if let Some(&marker) = blocked.get(key) {
                let detail = format!("product {key} is marked authorized or transferred ({})", place(marker));
                reject(at, Reason::ProductBlocked, detail, &mut status);
            }
        }
    }

    // Capacity: admit in input order; a device needs headroom in every candidate instance.
    let mut headroom: Vec<Option<u64>> =
        (0..plan.catalog.len() as u32).map(|id| plan.catalog.get(id).headroom()).collect();
    for (b, batch) in candidates.batches().iter().enumerate() {
        for (i, candidate) in batch.candidates.iter().enumerate() {
            if status[b][i] != Status::Pending {
                continue;
            }
            let targets = plan.target_sets.get(candidate.targets);
            let full = targets.iter().find(|&&t| headroom[t as usize] == Some(0));
            match full {
                Some(&t) => {
                    let instance = plan.catalog.get(t);
                    let detail = format!(
                        "{} has no device quota left (device_quota {}, devices_in_use {})",
                        instance.id,
                        instance.device_quota.unwrap_or_default(),
                        instance.devices_in_use
                    );
                    reject((b as u32, i as u32), Reason::TargetCapacityExceeded, detail, &mut status);
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
    let accepted = by_device.into_iter().filter(|at| status[at.0 as usize][at.1 as usize] == Status::Pending).collect();
    Settled { accepted, rejects, headroom }
}

fn reject_of(device: Device, reason: Reason, detail: String) -> Reject {
    Reject {
        seq: device.candidate.seq,
        file: device.file,
        record: device.candidate.record,
        line: device.candidate.line,
        product_key: device.product_key().to_string(),
        device_name: device.device_name().to_string(),
        reason,
        detail,
    }
}
