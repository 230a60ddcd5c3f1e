//! Gathering: stage-1 survivors into bucket spools by hash(product, device name), rejects into
//! one spool in input order, blocked-product markers and gateway names on the side.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::check::CheckedBatch;
use crate::error::Error;
use crate::plan::Plan;
use crate::record::{SpooledDevice, encode_reject};
use crate::spool::{Budget, Encoder, Scratch, Spool};

use super::{bucket_hash, fingerprint};

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
    pub(super) budget: Budget,
    pub(super) buckets: Vec<Spool>,
    pub(super) rejects: Spool,
    /// Survivors in input order, as (seq, destination), when some instance has a quota.
    pub(super) quota_order: Option<Spool>,
    /// First blocking marker per product id, in input order.
    pub(super) blocked: Vec<Option<u64>>,
    /// The odd authorized/transferred value of a first blocking marker, by its position.
    pub(super) odd_markings: HashMap<u64, String>,
    /// Fingerprints of every gateway named by a survivor.
    pub(super) gateways: HashSet<u64>,
    pub(super) files: Vec<FileCounts>,
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
            odd_markings: HashMap::default(),
            gateways: HashSet::default(),
            files: vec![FileCounts::default(); plan.inputs.len()],
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
            self.rejects.push_with(|out| encode_reject(reject, out))?;
        }
        for candidate in &batch.candidates {
            let name = candidate.device_name.as_str();
            let stored = SpooledDevice {
                seq: batch.first_seq + u64::from(candidate.index),
                line: candidate.line,
                product: candidate.product,
                destination: candidate.destination,
                billed: candidate.billed,
                source: candidate.source,
                blocks_product: candidate.blocks_product,
                unusual_secret: candidate.unusual_secret,
                device_name: name,
                secret: candidate.secret.get(&batch.arena),
                gateway: candidate.gateway.get(&batch.arena),
            };
            if stored.blocks_product {
                let product = stored.product as usize;
                if self.blocked.len() <= product {
                    self.blocked.resize(product + 1, None);
                }
                let odd = candidate.odd_marking.get(&batch.arena);
                if self.blocked[product].is_none() && !odd.is_empty() {
                    self.odd_markings.insert(stored.seq, odd.to_string());
                }
                self.blocked[product].get_or_insert(stored.seq);
            }
            if !stored.gateway.is_empty() {
                self.gateways.insert(fingerprint(stored.gateway.as_bytes()));
            }
            if let Some(order) = &mut self.quota_order {
                // Where the device is and its home go along: a return takes no quota at home.
                order.push_with(|out| {
                    Encoder(out).u64(stored.seq).u32(stored.destination).u32(stored.billed).u32(stored.source);
                })?;
            }
            let bucket = bucket_hash(stored.product, name.as_bytes()) % self.buckets.len() as u64;
            self.buckets[bucket as usize].push_with(|out| stored.encode(out))?;
        }
        Ok(())
    }
}
