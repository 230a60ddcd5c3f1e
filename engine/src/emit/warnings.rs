//! Warnings about accepted devices (docs/inputs.md §6.3): counted, never rejected.
//!
//! A count needs no order, so the warnings are tallied run by run on every core
//! ([`Settled::fold_accepted`]) rather than from the merged stream the writers take: a dry run
//! then merges nothing at all.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::names::is_usual_product_key;
use crate::plan::Plan;
use crate::reason::Warning;
use crate::record::SpooledDevice;
use crate::settle::Settled;

/// Accepted devices per warning, counted device by device.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    counts: [u64; Warning::ALL.len()],
}

impl Warnings {
    /// Counts the warnings of every accepted device.
    pub(crate) fn count(plan: &Plan, settled: &Settled) -> Result<Warnings, Error> {
        settled.fold_accepted(
            Warnings::default,
            |warnings, device| warnings.add(plan, settled, device),
            |mut a, b| {
                for (total, n) in a.counts.iter_mut().zip(b.counts) {
                    *total += n;
                }
                a
            },
        )
    }

    /// Counts the warnings `device` earns.
    fn add(&mut self, plan: &Plan, settled: &Settled, device: &SpooledDevice) {
        let interned = &settled.interned;
        let mut add = |warning: Warning| self.counts[warning as usize] += 1;
        if !is_usual_product_key(interned.product_key(device.product)) {
            add(Warning::UnusualProductKey);
        }
        if device.unusual_secret {
            add(Warning::UnusualDeviceSecret);
        }
        if *interned.destinations()[device.destination as usize].uid != *plan.account {
            add(Warning::ConsoleOnly);
        }
        if !device.gateway.is_empty()
            && settled.gateway_destination(device.gateway).is_some_and(|gateway| gateway != device.destination)
        {
            add(Warning::TopologySplit);
        }
    }

    /// Every warning with its count, zeros included.
    pub(crate) fn counts(&self) -> BTreeMap<Warning, u64> {
        Warning::ALL.into_iter().zip(self.counts).collect()
    }
}
