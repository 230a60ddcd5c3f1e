//! Warnings about accepted devices (SPEC §3): counted, never rejected.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::global::{Candidates, Ref};
use crate::names::{is_usual_device_secret, is_usual_product_key};
use crate::plan::Plan;
use crate::reason::Warning;
use crate::rules::Name;

/// Accepted devices per warning; every warning is listed, zeros included.
pub fn count(plan: &Plan, candidates: &Candidates, accepted: &[Ref]) -> BTreeMap<Warning, u64> {
    let per_chunk = accepted.par_chunks(1 << 14).map(|chunk| count_chunk(plan, candidates, accepted, chunk));
    let totals = per_chunk.reduce(|| [0; Warning::ALL.len()], |a, b| std::array::from_fn(|i| a[i] + b[i]));
    Warning::ALL.into_iter().zip(totals).collect()
}

/// Warnings among `chunk`, a part of `accepted`, indexed like [`Warning::ALL`].
fn count_chunk(plan: &Plan, candidates: &Candidates, accepted: &[Ref], chunk: &[Ref]) -> [u64; Warning::ALL.len()] {
    let mut counts = [0; Warning::ALL.len()];
    let mut add = |warning: Warning| counts[warning as usize] += 1;
    for &at in chunk {
        let device = candidates.get(at);
        if !is_usual_product_key(device.product_key()) {
            add(Warning::UnusualProductKey);
        }
        if !is_usual_device_secret(device.secret()) {
            add(Warning::UnusualDeviceSecret);
        }
        if device.target_uid() != plan.account {
            add(Warning::ConsoleOnly);
        }
        let Some((product_key, device_name)) = device.gateway().split_once('/') else { continue };
        let Some(product) = candidates.product_id(product_key) else { continue };
        if device_name.len() > 32 {
            continue;
        }
        // `accepted` is ordered by (product rank, device name): the gateway is found by search.
        let wanted = (candidates.product_rank(product), Name::new(device_name));
        let found = accepted.binary_search_by(|&other| {
            let other = candidates.get(other).candidate;
            (candidates.product_rank(other.product), other.device_name).cmp(&wanted)
        });
        if let Ok(gateway) = found {
            if candidates.get(accepted[gateway]).candidate.destination != device.candidate.destination {
                add(Warning::TopologySplit);
            }
        }
    }
    counts
}
