//! Grant manifests (SPEC §4): per destination account and instance, the devices it may use
//! (with their certificates) and the products it gets read-only.

use std::collections::BTreeMap;

use devdist_formats::{ColumnType, Format, Value, Written};
use rayon::prelude::*;

use crate::catalog::InstanceId;
use crate::error::Error;
use crate::global::{Candidates, Ref};
use crate::jobs::Jobs;
use crate::output::{Access, Column, OutputDir, text};
use crate::plan::Plan;

const DEVICE_COLUMNS: [Column; 13] = [
    text("job_id"),
    ("wave", ColumnType::Int),
    text("product_key"),
    text("device_name"),
    text("device_secret"),
    text("source_uid"),
    text("source_region"),
    text("source_instance"),
    text("target_uid"),
    text("target_region"),
    text("target_instance"),
    text("strategy"),
    text("rights"),
];

const PRODUCT_COLUMNS: [Column; 7] = [
    text("product_key"),
    text("source_uid"),
    text("source_instance"),
    text("target_uid"),
    text("target_instance"),
    text("access"),
    ("devices", ColumnType::Int),
];

/// A destination: account and instance.
pub type Destination<'a> = (&'a str, InstanceId);

/// Accepted devices per destination, each list in (product_key, device_name) order.
/// Destinations are ordered by (uid, instance ID).
pub fn by_destination<'a>(
    plan: &'a Plan,
    candidates: &'a Candidates,
    accepted: &[Ref],
) -> Vec<(Destination<'a>, Vec<Ref>)> {
    // Each destination id fans out to one slot per target instance; slots are ordered by value.
    let mut slots: BTreeMap<(&str, &str), (InstanceId, Vec<Ref>)> = BTreeMap::new();
    for destination in candidates.destinations() {
        for &target in plan.target_sets.get(destination.targets) {
            slots.entry((&destination.uid, &plan.catalog.get(target).id)).or_insert_with(|| (target, Vec::new()));
        }
    }
    let index: BTreeMap<(&str, &str), usize> = slots.keys().enumerate().map(|(i, key)| (*key, i)).collect();
    let fan_out: Vec<Vec<usize>> = candidates
        .destinations()
        .iter()
        .map(|d| plan.target_sets.get(d.targets).iter().map(|&t| index[&(&*d.uid, &*plan.catalog.get(t).id)]).collect())
        .collect();
    let mut lists: Vec<Vec<Ref>> = vec![Vec::new(); slots.len()];
    for &at in accepted {
        for &slot in &fan_out[candidates.get(at).candidate.destination as usize] {
            lists[slot].push(at);
        }
    }
    slots.into_iter().zip(lists).map(|(((uid, _), (target, _)), devices)| ((uid, target), devices)).collect()
}

/// Writes `devices.<fmt>` and `products.<fmt>` for every destination, in parallel.
pub fn write(
    out: &mut OutputDir,
    plan: &Plan,
    candidates: &Candidates,
    jobs: &Jobs,
    destinations: &[(Destination, Vec<Ref>)],
    format: Format,
    redact_secrets: bool,
) -> Result<(), Error> {
    let written: Vec<Result<Vec<(String, Written)>, Error>> = destinations
        .par_iter()
        .map(|((uid, target), devices)| {
            let folder = format!("grants/{uid}/{}", plan.catalog.get(*target).id);
            let devices_file = format!("{folder}/devices.{}", format.extension());
            let products_file = format!("{folder}/products.{}", format.extension());
            let a = write_devices(
                out,
                &devices_file,
                plan,
                candidates,
                jobs,
                (uid, *target),
                devices,
                format,
                redact_secrets,
            )?;
            let b = write_products(out, &products_file, plan, candidates, (uid, *target), devices, format)?;
            Ok(vec![(devices_file, a), (products_file, b)])
        })
        .collect();
    for result in written {
        for (path, written) in result? {
            out.add(&path, written);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_devices(
    out: &OutputDir,
    path: &str,
    plan: &Plan,
    candidates: &Candidates,
    jobs: &Jobs,
    (uid, target): Destination,
    devices: &[Ref],
    format: Format,
    redact_secrets: bool,
) -> Result<Written, Error> {
    let columns: Vec<Column> =
        DEVICE_COLUMNS.iter().copied().filter(|(name, _)| !(redact_secrets && *name == "device_secret")).collect();
    let mut table = out.table(path, format, &columns, Access::Secret)?;
    let target = plan.catalog.get(target);
    let fail = |err| Error::output(&out.staging().join(path), err);
    let mut row: Vec<Value> = Vec::with_capacity(columns.len());
    for &at in devices {
        let device = candidates.get(at);
        let source = plan.catalog.get(device.candidate.source);
        let job = jobs.of(at);
        row.clear();
        row.extend([
            Value::Str(&job.id),
            Value::Int(job.wave as u64),
            device.product_key().into(),
            device.device_name().into(),
        ]);
        if !redact_secrets {
            row.push(device.secret().into());
        }
        row.extend([
            Value::Str(&plan.account),
            Value::Str(&source.region),
            Value::Str(&source.id),
            Value::Str(uid),
            Value::Str(&target.region),
            Value::Str(&target.id),
            Value::Str(device.destination().strategy.name()),
            Value::Str("use"),
        ]);
        table.write_row(&row).map_err(fail)?;
    }
    table.finish().map_err(fail)
}

fn write_products(
    out: &OutputDir,
    path: &str,
    plan: &Plan,
    candidates: &Candidates,
    (uid, target): Destination,
    devices: &[Ref],
    format: Format,
) -> Result<Written, Error> {
    let mut products: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for &at in devices {
        let device = candidates.get(at);
        *products.entry((device.product_key(), &plan.catalog.get(device.candidate.source).id)).or_default() += 1;
    }
    let mut table = out.table(path, format, &PRODUCT_COLUMNS, Access::Normal)?;
    let fail = |err| Error::output(&out.staging().join(path), err);
    let target = &plan.catalog.get(target).id;
    for ((product_key, source), count) in products {
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
    table.finish().map_err(fail)
}

/// Number of distinct products among `devices`.
pub fn product_count(candidates: &Candidates, devices: &[Ref]) -> u64 {
    let mut keys: Vec<&str> = devices.iter().map(|&at| candidates.get(at).product_key()).collect();
    keys.dedup();
    keys.len() as u64
}
