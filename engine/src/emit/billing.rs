//! Billing reassignment (docs/inputs.md §1.4, docs/plan-folder.md §7): for each device and candidate destination, who is
//! billed now and who will be, and a summary per (from, to, effective).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use devdist_formats::{ColumnType, Format, TableWriter, Value};

use crate::dictionary::Dictionaries;
use crate::emit::{Context, Writer};
use crate::error::Error;
use crate::location::Location;
use crate::output::{Access, Column, OutputDir, text};
use crate::plan::catalog::InstanceId;
use crate::plan::{Plan, Strategy};
use crate::record::SpooledDevice;

const REASSIGNMENT_COLUMNS: [Column; 8] = [
    text("product_key"),
    text("device_name"),
    text("from_uid"),
    text("from_instance"),
    text("to_uid"),
    text("to_region"),
    text("to_instance"),
    text("effective"),
];
const SUMMARY_COLUMNS: [Column; 6] = [
    text("from_uid"),
    text("from_instance"),
    text("to_uid"),
    text("to_instance"),
    text("effective"),
    ("devices", ColumnType::Int),
];

/// Where a device is billed now: where it is ([`Location`]).
fn billed_now<'a>(plan: &'a Plan, interned: &'a Dictionaries, billed: u32, source: InstanceId) -> (&'a str, &'a str) {
    let now = Location::of(plan, interned, billed, source);
    (now.uid, now.instance)
}

fn effective(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::SpecifiedRegion => "immediate",
        Strategy::NearestAccess => "on_connect",
    }
}

/// `billing/reassignments.<fmt>`, filled as accepted devices stream past in (product key,
/// device name) order, and the counts behind `billing/summary.csv`.
pub(crate) struct Reassignments {
    path: String,
    table: TableWriter,
    /// Devices per (billed, source, destination, target) ids; turned into text at the end.
    counts: HashMap<(u32, InstanceId, u32, InstanceId), u64>,
}

impl Reassignments {
    /// Creates the reassignments table.
    pub(crate) fn create(out: &OutputDir, format: Format) -> Result<Reassignments, Error> {
        let path = format!("billing/reassignments.{}", format.extension());
        let table = out.table(&path, format, &REASSIGNMENT_COLUMNS, Access::Normal)?;
        Ok(Reassignments { path, table, counts: HashMap::default() })
    }

    /// Finishes the reassignments and writes `billing/summary.csv`.
    pub(crate) fn finish(self, out: &mut OutputDir, plan: &Plan, interned: &Dictionaries) -> Result<(), Error> {
        let written = self.table.finish().map_err(|err| Error::output(&out.staging().join(&self.path), err))?;
        out.add(&self.path, written);

        let mut summary: BTreeMap<(&str, &str, &str, &str, &str), u64> = BTreeMap::new();
        for ((billed, source, destination, target), devices) in self.counts {
            let (from_uid, from_instance) = billed_now(plan, interned, billed, source);
            let destination = &interned.destinations()[destination as usize];
            let to = (&*destination.uid, plan.catalog.get(target).id.as_str(), effective(destination.strategy));
            *summary.entry((from_uid, from_instance, to.0, to.1, to.2)).or_default() += devices;
        }
        let path = "billing/summary.csv";
        let fail = |err| Error::output(&out.staging().join(path), err);
        let mut table = out.table(path, Format::Csv, &SUMMARY_COLUMNS, Access::Normal)?;
        for ((from_uid, from_instance, to_uid, to_instance, effective), devices) in summary {
            let row = [from_uid, from_instance, to_uid, to_instance, effective].map(Value::Str);
            let mut full = row.to_vec();
            full.push(Value::Int(devices));
            table.write_row(&full).map_err(fail)?;
        }
        let written = table.finish().map_err(fail)?;
        out.add(path, written);
        Ok(())
    }
}

impl Writer for Reassignments {
    /// One row per candidate target of `device`.
    fn add(&mut self, at: &Context<'_>, device: &SpooledDevice, _job: usize) -> Result<(), Error> {
        let (out, plan, interned) = (at.out, at.plan, &at.settled.interned);
        let (from_uid, from_instance) = billed_now(plan, interned, device.billed, device.source);
        let destination = &interned.destinations()[device.destination as usize];
        let effective = effective(destination.strategy);
        for &target in plan.target_sets.get(destination.targets) {
            *self.counts.entry((device.billed, device.source, device.destination, target)).or_default() += 1;
            let target = plan.catalog.get(target);
            let row = [
                Value::Str(interned.product_key(device.product)),
                Value::Str(device.device_name),
                Value::Str(from_uid),
                Value::Str(from_instance),
                Value::Str(&destination.uid),
                Value::Str(&target.region),
                Value::Str(&target.id),
                Value::Str(effective),
            ];
            self.table.write_row(&row).map_err(|err| Error::output(&out.staging().join(&self.path), err))?;
        }
        Ok(())
    }
}
