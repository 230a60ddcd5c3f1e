//! Capacity: the survivors in input order against every instance's quota.

use crate::dictionary::Dictionaries;
use crate::error::Error;
use crate::location::returns_home;
use crate::plan::Plan;
use crate::plan::catalog::InstanceId;
use crate::record::SpooledDevice;
use crate::spool::{Decoder, Spool};

use super::Rejected;

/// Admits the survivors in input order against every instance's quota. Returns, per
/// instance, the input position from which it is full, and the headroom left.
pub(super) fn capacity(
    plan: &Plan,
    interned: &Dictionaries,
    quota_order: Option<Spool>,
    rejected: &Rejected,
    buffer: usize,
) -> Result<Quotas, Error> {
    let mut headroom: Vec<Option<u64>> =
        (0..plan.catalog.len() as u32).map(|id| plan.catalog.get(id).headroom()).collect();
    let mut full_from: Vec<Option<u64>> = headroom.iter().map(|left| (*left == Some(0)).then_some(0)).collect();
    let Some(order) = quota_order else { return Ok(Quotas { full_from, headroom }) };
    let mut reader = order.reader(buffer)?;
    while reader.advance()? {
        let mut d = Decoder(reader.current());
        let (seq, destination, billed, source) = (d.u64(), d.u32(), d.u32(), d.u32());
        if rejected.contains(seq) {
            continue;
        }
        let targets = plan.target_sets.get(interned.destinations()[destination as usize].targets);
        // A device returning home takes no quota there (it never left home's registry).
        let quota_targets = || targets.iter().copied().filter(|&t| !returns_home(billed, source, t));
        if quota_targets().any(|t| full_from[t as usize].is_some()) {
            continue;
        }
        for t in quota_targets() {
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
pub(super) struct Quotas {
    pub(super) full_from: Vec<Option<u64>>,
    pub(super) headroom: Vec<Option<u64>>,
}

/// The instance whose quota turns a device away, if any: the first of its targets that was
/// full when its turn came.
pub(super) fn over_quota(
    plan: &Plan,
    interned: &Dictionaries,
    full_from: &[Option<u64>],
    device: &SpooledDevice,
) -> Option<InstanceId> {
    let targets = plan.target_sets.get(interned.destinations()[device.destination as usize].targets);
    let quota_targets = targets.iter().copied().filter(|&t| !returns_home(device.billed, device.source, t));
    quota_targets.into_iter().find(|&t| full_from[t as usize].is_some_and(|from| from <= device.seq))
}
