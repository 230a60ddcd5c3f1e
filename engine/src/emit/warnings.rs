//! Warnings about accepted devices (SPEC §3): counted, never rejected.

use std::collections::BTreeMap;

use crate::emit::{Context, Writer};
use crate::error::Error;
use crate::names::is_usual_product_key;
use crate::reason::Warning;
use crate::record::SpooledDevice;

/// Accepted devices per warning, counted device by device.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    counts: [u64; Warning::ALL.len()],
}

impl Writer for Warnings {
    /// Counts the warnings `device` earns.
    fn add(&mut self, at: &Context<'_>, device: &SpooledDevice, _job: usize) -> Result<(), Error> {
        let (plan, settled) = (at.plan, at.settled);
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
        Ok(())
    }
}

impl Warnings {
    /// Every warning with its count, zeros included.
    pub(crate) fn counts(&self) -> BTreeMap<Warning, u64> {
        Warning::ALL.into_iter().zip(self.counts).collect()
    }
}
