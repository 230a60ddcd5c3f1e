//! Billing reassignment (SPEC §3, §4): for each device and candidate destination, who is
//! billed now and who will be, and a summary per (from, to, effective).

use std::collections::{BTreeMap, HashMap};

use devdist_formats::{ColumnType, Format, Value};

use crate::catalog::InstanceId;
use crate::error::Error;
use crate::global::{Candidates, Device, Ref};
use crate::output::{Access, Column, OutputDir, text};
use crate::plan::{Plan, Strategy};
use crate::rules::AT_SOURCE;

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

/// Where a device is billed now: `current_instance` (billed to `current_uid`, default the
/// account) when set, else its source instance (billed to the owner, the account).
pub fn billed_now<'a>(plan: &'a Plan, device: &Device<'a>) -> (&'a str, &'a str) {
    match device.billed() {
        None => (&plan.account, &plan.catalog.get(device.candidate.source).id),
        Some(billed) => (&billed.uid, &billed.instance),
    }
}

fn effective(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::SpecifiedRegion => "immediate",
        Strategy::NearestAccess => "on_connect",
    }
}

/// Writes `billing/reassignments.<fmt>` and `billing/summary.csv`.
pub fn write(
    out: &mut OutputDir,
    plan: &Plan,
    candidates: &Candidates,
    accepted: &[Ref],
    format: Format,
) -> Result<(), Error> {
    let path = format!("billing/reassignments.{}", format.extension());
    let fail = |err| Error::output(&out.staging().join(&path), err);
    let mut table = out.table(&path, format, &REASSIGNMENT_COLUMNS, Access::Normal)?;
    // Counted by ids on the hot path, turned into text once at the end.
    let mut counts: HashMap<(u32, u32, u32, InstanceId), u64> = HashMap::new();
    for &at in accepted {
        let device = candidates.get(at);
        let (from_uid, from_instance) = billed_now(plan, &device);
        let destination = device.destination();
        let effective = effective(destination.strategy);
        for &target in plan.target_sets.get(destination.targets) {
            let c = device.candidate;
            *counts.entry((c.billed, c.source, c.destination, target)).or_default() += 1;
            let target = plan.catalog.get(target);
            let row = [
                Value::Str(device.product_key()),
                Value::Str(device.device_name()),
                Value::Str(from_uid),
                Value::Str(from_instance),
                Value::Str(device.target_uid()),
                Value::Str(&target.region),
                Value::Str(&target.id),
                Value::Str(effective),
            ];
            table.write_row(&row).map_err(fail)?;
        }
    }
    let mut summary: BTreeMap<(&str, &str, &str, &str, &str), u64> = BTreeMap::new();
    for ((billed, source, destination, target), devices) in counts {
        let (from_uid, from_instance) = match billed {
            AT_SOURCE => (plan.account.as_str(), plan.catalog.get(source).id.as_str()),
            id => {
                let billed = &candidates.billed_table()[id as usize];
                (&*billed.uid, &*billed.instance)
            }
        };
        let destination = &candidates.destinations()[destination as usize];
        let to = (&*destination.uid, plan.catalog.get(target).id.as_str(), effective(destination.strategy));
        *summary.entry((from_uid, from_instance, to.0, to.1, to.2)).or_default() += devices;
    }
    let written = table.finish().map_err(fail)?;
    out.add(&path, written);

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
