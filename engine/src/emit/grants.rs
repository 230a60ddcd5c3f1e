//! Grant manifests (docs/plan-folder.md §6): per destination account and instance, the devices it may use
//! (with their certificates) and the products it gets read-only.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::ops::Range;

use devdist_formats::{ColumnType, Format, TableWriter, Value};

use crate::dictionary::Dictionaries;
use crate::emit::{Context, Writer};
use crate::error::Error;
use crate::location::{Location, returns_home};
use crate::output::{Access, Column, OutputDir, text};
use crate::plan::Plan;
use crate::plan::catalog::InstanceId;
use crate::record::{JobGroup, SpooledDevice};

const DEVICE_COLUMNS: [Column; 14] = [
    text("job_id"),
    ("wave", ColumnType::Int),
    text("product_key"),
    text("device_name"),
    text("device_secret"),
    text("source_uid"),
    text("source_region"),
    text("source_instance"),
    text("from_instance"),
    text("target_uid"),
    text("target_region"),
    text("target_instance"),
    text("strategy"),
    text("rights"),
];

/// Position of `device_secret` in [`DEVICE_COLUMNS`].
const SECRET: usize = 4;

const PRODUCT_COLUMNS: [Column; 7] = [
    text("product_key"),
    text("source_uid"),
    text("source_instance"),
    text("target_uid"),
    text("target_instance"),
    text("access"),
    ("devices", ColumnType::Int),
];

/// The most device manifests open at once: a plan may have any number of destinations, and
/// each open manifest holds a file (and its write buffer), so they are written in windows of
/// this many slots, one pass over the accepted devices per window.
const WINDOW: usize = 256;

/// One (account, instance) a destination fans out to: one device manifest.
pub(crate) type Slot<'a> = (&'a str, InstanceId);

/// Every (account, instance) a destination fans out to, ordered by value, with the slots of
/// each destination id.
#[derive(Debug)]
pub(crate) struct Slots<'a> {
    /// The destinations, ordered by (uid, instance ID).
    pub slots: Vec<Slot<'a>>,
    /// Slot indexes per destination id.
    pub fan_out: Vec<Vec<usize>>,
}

impl<'a> Slots<'a> {
    /// The slots of every destination in `interned`.
    pub(crate) fn new(plan: &'a Plan, interned: &'a Dictionaries) -> Slots<'a> {
        let mut slots: BTreeMap<(&str, &str), InstanceId> = BTreeMap::new();
        for destination in interned.destinations() {
            for &target in plan.target_sets.get(destination.targets) {
                slots.insert((&destination.uid, &plan.catalog.get(target).id), target);
            }
        }
        let index: BTreeMap<(&str, &str), usize> = slots.keys().enumerate().map(|(i, key)| (*key, i)).collect();
        let fan_out = interned
            .destinations()
            .iter()
            .map(|d| {
                plan.target_sets.get(d.targets).iter().map(|&t| index[&(&*d.uid, &*plan.catalog.get(t).id)]).collect()
            })
            .collect();
        Slots { slots: slots.into_iter().map(|((uid, _), target)| (uid, target)).collect(), fan_out }
    }

    /// Per slot: (product key, source instance) → accepted devices.
    pub(crate) fn products(
        &self,
        plan: &'a Plan,
        interned: &'a Dictionaries,
        groups: &HashMap<JobGroup, u64>,
    ) -> Vec<Products<'a>> {
        let mut products = vec![Products::new(); self.slots.len()];
        for (&JobGroup { product, source, billed, destination }, &n) in groups {
            for &slot in &self.fan_out[destination as usize] {
                if returns_home(billed, source, self.slots[slot].1) {
                    continue; // home's own product is not read-only at home
                }
                let key = (interned.product_key(product), plan.catalog.get(source).id.as_str());
                *products[slot].entry(key).or_default() += n;
            }
        }
        products
    }

    /// The windows of slots whose manifests are written together, in slot order; at least one.
    pub(crate) fn windows(&self) -> impl Iterator<Item = Range<usize>> + use<> {
        let len = self.slots.len();
        (0..len.div_ceil(WINDOW).max(1)).map(move |w| w * WINDOW..((w + 1) * WINDOW).min(len))
    }

    fn folder(&self, plan: &Plan, slot: usize) -> String {
        let (uid, target) = self.slots[slot];
        format!("grants/{uid}/{}", plan.catalog.get(target).id)
    }
}

/// Accepted devices per (product key, source instance) of one slot.
pub(crate) type Products<'a> = BTreeMap<(&'a str, &'a str), u64>;

/// The device manifests of a window of slots, one open table per slot, filled as accepted
/// devices stream past in (product key, device name) order.
pub(crate) struct Manifests<'a> {
    plan: &'a Plan,
    slots: &'a Slots<'a>,
    window: Range<usize>,
    tables: Vec<(String, TableWriter)>,
    redact_secrets: bool,
}

impl<'a> Manifests<'a> {
    /// Creates `devices.<fmt>` for every slot of `window` (one of [`Slots::windows`]).
    pub(crate) fn create(
        out: &OutputDir,
        plan: &'a Plan,
        slots: &'a Slots<'a>,
        window: Range<usize>,
        format: Format,
        redact_secrets: bool,
    ) -> Result<Manifests<'a>, Error> {
        let mut columns = DEVICE_COLUMNS.to_vec();
        if redact_secrets {
            columns.remove(SECRET);
        }
        let tables = window
            .clone()
            .map(|slot| {
                let path = format!("{}/devices.{}", slots.folder(plan, slot), format.extension());
                let table = out.table(&path, format, &columns, Access::Secret)?;
                Ok((path, table))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Manifests { plan, slots, window, tables, redact_secrets })
    }

    /// Finishes every manifest and lists it in `out`.
    pub(crate) fn finish(self, out: &mut OutputDir) -> Result<(), Error> {
        for (path, table) in self.tables {
            let written = table.finish().map_err(|err| Error::output(&out.staging().join(&path), err))?;
            out.add(&path, written);
        }
        Ok(())
    }
}

impl Writer for Manifests<'_> {
    /// Adds `device`, in job `job`, to the manifest of each of its target instances in the
    /// window.
    fn add(&mut self, at: &Context<'_>, device: &SpooledDevice, job: usize) -> Result<(), Error> {
        let (out, interned, job) = (at.out, &at.settled.interned, &at.jobs.jobs[job]);
        let plan = self.plan;
        let source = plan.catalog.get(device.source);
        let from = Location::of(plan, interned, device.billed, device.source).instance;
        let destination = &interned.destinations()[device.destination as usize];
        let fan_out = &self.slots.fan_out[device.destination as usize];
        for &slot in fan_out.iter().filter(|slot| self.window.contains(slot)) {
            let (uid, target) = self.slots.slots[slot];
            let target = plan.catalog.get(target);
            let mut row = [
                Value::Str(job.id()),
                Value::Int(job.wave as u64),
                Value::Str(interned.product_key(device.product)),
                Value::Str(device.device_name),
                Value::Str(device.secret),
                Value::Str(&plan.account),
                Value::Str(&source.region),
                Value::Str(&source.id),
                Value::Str(from),
                Value::Str(uid),
                Value::Str(&target.region),
                Value::Str(&target.id),
                Value::Str(destination.strategy.name()),
                Value::Str("use"),
            ];
            let mut len = row.len();
            if self.redact_secrets {
                row.copy_within(SECRET + 1.., SECRET);
                len -= 1;
            }
            let (path, table) = &mut self.tables[slot - self.window.start];
            let written = table.write_row(&row[..len]);
            written.map_err(|err| Error::output(&out.staging().join(&*path), err))?;
        }
        Ok(())
    }
}

/// Writes `products.<fmt>` for every slot that grants a product.
pub(crate) fn write_products(
    out: &mut OutputDir,
    plan: &Plan,
    slots: &Slots,
    products: &[Products],
    format: Format,
) -> Result<(), Error> {
    for (slot, products) in products.iter().enumerate() {
        if products.is_empty() {
            continue; // only devices returning home reach it: no product is granted there
        }
        let (uid, target) = slots.slots[slot];
        let path = format!("{}/products.{}", slots.folder(plan, slot), format.extension());
        let mut table = out.table(&path, format, &PRODUCT_COLUMNS, Access::Normal)?;
        let fail = |err| Error::output(&out.staging().join(&path), err);
        let target = &plan.catalog.get(target).id;
        for (&(product_key, source), &count) in products {
            let row = [
                Value::Str(product_key),
                Value::Str(&plan.account),
                Value::Str(source),
                Value::Str(uid),
                Value::Str(target),
                Value::Str("read_only"),
                Value::Int(count),
            ];
            table.write_row(&row).map_err(fail)?;
        }
        let written = table.finish().map_err(fail)?;
        out.add(&path, written);
    }
    Ok(())
}
