//! Warnings about accepted devices (docs/inputs.md §6.3): counted, never rejected, and each
//! warned device listed in `warnings.csv` (docs/plan-folder.md §5) with its row.
//!
//! A count needs no order, so the warnings are tallied run by run on every core
//! ([`Settled::fold_accepted`]) rather than from the merged stream the writers take: a dry run
//! then merges nothing when nothing is warned. The list needs an order: it is one more
//! [`Writer`] of that stream, in (product key, device name) order, and a dry run with warnings
//! merges the runs for it alone ([`list_warned`]). Both take the warnings from [`each_warning`],
//! so the counts and the rows cannot disagree.

use std::collections::BTreeMap;

use devdist_formats::{Format, TableWriter, Value};

use crate::emit::{Context, Writer};
use crate::error::Error;
use crate::jobs::Jobs;
use crate::names::is_usual_product_key;
use crate::output::{Access, Column, OutputDir, text};
use crate::plan::Plan;
use crate::reason::Warning;
use crate::record::{Destination, SpooledDevice};
use crate::report::safe_cell;
use crate::settle::Settled;

/// The file listing every warned device.
pub(crate) const WARNINGS_CSV: &str = "warnings.csv";

const COLUMNS: [Column; 7] = [
    text("source_file"),
    text("record"),
    text("line"),
    text("product_key"),
    text("device_name"),
    text("code"),
    text("detail"),
];

/// Calls `each` with every warning `device` earns, in [`Warning::ALL`] order.
fn each_warning(plan: &Plan, settled: &Settled, device: &SpooledDevice, mut each: impl FnMut(Warning)) {
    let interned = &settled.interned;
    if !is_usual_product_key(interned.product_key(device.product)) {
        each(Warning::UnusualProductKey);
    }
    if device.unusual_secret {
        each(Warning::UnusualDeviceSecret);
    }
    if *interned.destinations()[device.destination as usize].uid != *plan.account {
        each(Warning::ConsoleOnly);
    }
    if !device.gateway.is_empty() {
        match settled.gateway_destination(device.gateway) {
            Some(gateway) if gateway != device.destination => each(Warning::TopologySplit),
            Some(_) => {}
            None => each(Warning::GatewayNotAccepted),
        }
    }
}

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
            |warnings, device| each_warning(plan, settled, device, |warning| warnings.counts[warning as usize] += 1),
            |mut a, b| {
                for (total, n) in a.counts.iter_mut().zip(b.counts) {
                    *total += n;
                }
                a
            },
        )
    }

    /// Every warning with its count, zeros included.
    pub(crate) fn counts(&self) -> BTreeMap<Warning, u64> {
        Warning::ALL.into_iter().zip(self.counts).collect()
    }

    /// Whether no device earned any warning.
    pub(crate) fn none(&self) -> bool {
        self.counts.iter().all(|&n| n == 0)
    }
}

/// `warnings.csv`, filled as accepted devices stream past: one row per (device, warning), in
/// (product key, device name) order, then the order of [`Warning::ALL`]. Values from the
/// inventory go through [`safe_cell`], as in rejects.csv; no secret is ever written.
pub(crate) struct WarnedDevices {
    table: TableWriter,
    /// A record's line, as text.
    line: Vec<u8>,
}

impl WarnedDevices {
    /// Creates `warnings.csv`.
    pub(crate) fn create(out: &OutputDir) -> Result<WarnedDevices, Error> {
        let table = out.table(WARNINGS_CSV, Format::Csv, &COLUMNS, Access::Normal)?;
        Ok(WarnedDevices { table, line: Vec::new() })
    }

    /// Finishes `warnings.csv` and lists it in the report.
    pub(crate) fn finish(self, out: &mut OutputDir) -> Result<(), Error> {
        let written = self.table.finish().map_err(|err| Error::output(&out.staging().join(WARNINGS_CSV), err))?;
        out.add(WARNINGS_CSV, written);
        Ok(())
    }
}

impl Writer for WarnedDevices {
    fn add(&mut self, at: &Context<'_>, device: &SpooledDevice, _job: usize) -> Result<(), Error> {
        let (plan, settled) = (at.plan, at.settled);
        let mut warned = [None; Warning::ALL.len()];
        each_warning(plan, settled, device, |warning| warned[warning as usize] = Some(warning));
        for warning in warned.into_iter().flatten() {
            let (file, record) = settled.locate(device.seq);
            self.line.clear();
            if device.line != 0 {
                devdist_formats::push_int(&mut self.line, device.line);
            }
            let product_key = settled.interned.product_key(device.product);
            let detail = detail(plan, settled, device, warning);
            let row = [
                Value::Str(&safe_cell(&plan.inputs[file].name)),
                Value::Int(record),
                Value::Str(std::str::from_utf8(&self.line).expect("digits")),
                Value::Str(&safe_cell(product_key)),
                Value::Str(&safe_cell(device.device_name)),
                Value::Str(warning.code()),
                Value::Str(&safe_cell(&detail)),
            ];
            self.table.write_row(&row).map_err(|err| Error::output(&at.out.staging().join(WARNINGS_CSV), err))?;
        }
        Ok(())
    }
}

/// What a warning's row says about `device` (never its secret).
fn detail(plan: &Plan, settled: &Settled, device: &SpooledDevice, warning: Warning) -> String {
    let destinations = settled.interned.destinations();
    let to = |destination: u32| shown(plan, &destinations[destination as usize]);
    match warning {
        Warning::TopologySplit => {
            let gateway = settled.gateway_destination(device.gateway).expect("a split gateway is accepted");
            format!("gateway {} goes to {}; this device to {}", device.gateway, to(gateway), to(device.destination))
        }
        Warning::ConsoleOnly => {
            format!(
                "target_uid {} is not account {}: a console job",
                destinations[device.destination as usize].uid, plan.account
            )
        }
        Warning::UnusualProductKey => {
            let length = settled.interned.product_key(device.product).len();
            format!("product_key has {length} characters, not the 11 the platform issues")
        }
        Warning::UnusualDeviceSecret => {
            "device_secret is not the 32 letters and digits the platform issues".to_string()
        }
        Warning::GatewayNotAccepted => {
            format!(
                "gateway {} is not an accepted device of this plan (not in the inventory, or rejected)",
                device.gateway
            )
        }
    }
}

/// A destination as people read it: its instances (joined by `+`) and its account.
fn shown(plan: &Plan, destination: &Destination) -> String {
    let instances: Vec<&str> =
        plan.target_sets.get(destination.targets).iter().map(|&id| plan.catalog.get(id).id.as_str()).collect();
    format!("{} (account {})", instances.join("+"), destination.uid)
}

/// `warnings.csv` of a dry run, which streams no accepted devices otherwise: the runs (reduced
/// when some device is warned, `run.rs`) are merged for it only then; else the file has its
/// header alone.
pub(crate) fn list_warned(
    out: &mut OutputDir,
    plan: &Plan,
    settled: &Settled,
    jobs: &Jobs,
    warnings: &Warnings,
) -> Result<(), Error> {
    let mut list = WarnedDevices::create(out)?;
    if !warnings.none() {
        let at = Context { out: &*out, plan, settled, jobs };
        settled.for_each_accepted(|device| list.add(&at, device, 0))?;
    }
    list.finish(out)
}
