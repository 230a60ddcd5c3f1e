//! `devdist redrive DIR --out NEW`: the inputs of a new plan holding exactly the devices of DIR
//! that the platform did not distribute but may on another try.
//!
//! [`prepare`] first verifies DIR as a plan and as an apply (results.csv, summary.json and the
//! page must be exactly what the journal records), then reads DIR's apply results
//! (`apply/results.csv`, typed), its device manifests (the certificates and destinations), its
//! billing reassignments (where each device is billed now) and report.json (the plan's limits),
//! and writes into a private folder a derived inventory, instance catalog and plan. Planning
//! that plan with [`devdist_engine::run`] gives NEW: everything `plan` writes, so `verify` and
//! `apply` accept it. Per device, over all its rows in results.csv:
//!
//! | outcome | goes to |
//! |---|---|
//! | `distributed` in any row | nowhere: it is done |
//! | `failed` with a code the platform refuses for good, in any row | NEW's rejects.csv (`refused_by_platform`, with the code) |
//! | `failed` with a retryable code, or `unknown` | NEW's jobs, same destination and strategy |
//! | `console` | nowhere: the operator does it in the console |
//!
//! The plan carries `redrive_of` (a hash of DIR's report and results), folded into every job
//! id, so NEW's jobs never share an id with DIR's. Devices with no row yet (apply not finished)
//! are counted, not re-driven.
//!
//! When DIR has an audit (`DIR/audit/`, `devdist audit`) that verifies and was made from the
//! apply results DIR has now, the platform's word wins over apply's: a device audit found
//! `placed` or `returned` is done, one `not_placed` that apply called distributed is re-driven,
//! one `elsewhere` is rejected with where it is (`crate::audit::overrule`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use devdist_engine::{Error, PUBLIC_INSTANCES, is_safe_name};
use devdist_platform::sign::sha256_hex;

use crate::folder::Folder;
pub(crate) use crate::readers::{Key, Verdict, read, read_results};
use crate::readers::{for_rows, invalid, manifests};

/// What [`prepare`] found and wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// The derived plan, inside the folder given to [`prepare`].
    pub plan: PathBuf,
    /// Devices put back into jobs: failed with a retryable code.
    pub failed_retryable: u64,
    /// Devices put back into jobs: outcome unknown.
    pub unknown: u64,
    /// Devices the platform refused for good: rejected in the new plan.
    pub refused: u64,
    /// Devices distributed: left out.
    pub distributed: u64,
    /// Devices of console (cross-account) jobs: left out.
    pub console: u64,
    /// Devices of DIR without any outcome yet: left out.
    pub pending: u64,
    /// Devices whose apply outcome DIR's audit overruled (`DIR/audit/`, when newer).
    pub by_audit: u64,
}

/// One device as DIR's manifests and billing describe it.
#[derive(Debug, Default)]
pub(crate) struct Device {
    pub(crate) secret: String,
    pub(crate) source_instance: String,
    pub(crate) source_region: String,
    pub(crate) target_uid: String,
    pub(crate) strategy: String,
    /// Target instance → region (every candidate of a nearest-access device).
    pub(crate) targets: BTreeMap<String, String>,
    pub(crate) current_instance: String,
    pub(crate) current_uid: String,
}

/// Checks DIR and writes the derived inputs into `into` (a private, empty folder that the
/// caller removes: the inventory holds device secrets). Which platform codes are worth another
/// try is [`devdist_platform::is_retryable_code`]'s to say.
pub fn prepare(dir: &Path, into: &Path) -> Result<Prepared, crate::Error> {
    verified(dir, "re-drive")?;
    Ok(derive(dir, into)?)
}

/// Refuses a DIR whose plan or apply does not verify: acting on results that no longer match
/// the journal would re-send, or send back, what the platform may not have done.
pub(crate) fn verified(dir: &Path, what: &str) -> Result<(), crate::Error> {
    let mut problems = devdist_engine::verify(dir)?;
    if problems.is_empty() {
        problems = crate::verify(dir)?;
        problems.extend(crate::audit::verify(dir)?);
    }
    if !problems.is_empty() {
        return Err(crate::Error::invocation(format!(
            "{}: does not verify, refusing to {what} it:\n  {}",
            devdist_formats::shown(dir),
            problems.join("\n  ")
        )));
    }
    Ok(())
}

/// The derived inputs of a DIR that verifies.
fn derive(dir: &Path, into: &Path) -> Result<Prepared, Error> {
    let (report, report_bytes) = devdist_engine::read_report(dir)?;
    let folder = Folder::read(dir).map_err(|err| Error::invocation(err.to_string()))?;
    let account = report.account;
    let results_path = dir.join("apply").join("results.csv");
    let results_bytes = read(dir, "apply/results.csv")?;
    let verdicts = read_results(&results_path, &results_bytes)?;
    // audit's verdicts win over apply's outcomes when DIR's audit is newer (crate::audit).
    let (verdicts, _, by_audit) = crate::audit::overrule(dir, verdicts)?;

    let (devices, pending) = plan_devices(dir, &verdicts, &results_path)?;

    let mut prepared = Prepared { pending, by_audit, ..Prepared::default() };
    let mut chosen: Vec<(&Key, &Device, Option<&str>)> = Vec::new();
    for (key, verdict) in &verdicts {
        let device = &devices[key];
        match verdict {
            Verdict::Distributed => prepared.distributed += 1,
            Verdict::Console => prepared.console += 1,
            Verdict::Refused(why) => {
                prepared.refused += 1;
                chosen.push((key, device, Some(why)));
            }
            Verdict::Unknown => {
                prepared.unknown += 1;
                chosen.push((key, device, None));
            }
            Verdict::FailedRetryable => {
                prepared.failed_retryable += 1;
                chosen.push((key, device, None));
            }
        }
    }

    let salt = sha256_hex(&[report_bytes.as_slice(), results_bytes.as_slice()].concat())[..16].to_string();
    let (devices_per_job, jobs_per_wave) = (folder.devices_per_job as u64, folder.jobs_per_wave as u64);
    let rows: Vec<DerivedRow> = chosen.iter().map(|&(key, device, why)| DerivedRow::again(key, device, why)).collect();
    write_inventory(&into.join("devices.csv"), &rows)?;
    write_catalog(&into.join("instances.csv"), &account, &rows)?;
    prepared.plan = into.join("plan.toml");
    write_plan(&prepared.plan, &account, ("redrive_of", &salt), devices_per_job, jobs_per_wave, &rows)?;
    Ok(prepared)
}

/// Every device of DIR's manifests, with its billing now, and how many have no verdict yet.
/// A verdict for a device no manifest has is an error (results of another plan).
pub(crate) fn plan_devices<V>(
    dir: &Path,
    verdicts: &BTreeMap<Key, V>,
    results_path: &Path,
) -> Result<(HashMap<Key, Device>, u64), Error> {
    let mut devices: HashMap<Key, Device> = HashMap::new();
    let mut pending = 0;
    for manifest in manifests(dir, "devices")? {
        for_rows(dir, &manifest, |row| {
            let key = (row.get("product_key")?.to_string(), row.get("device_name")?.to_string());
            let known = devices.contains_key(&key);
            if !known && !verdicts.contains_key(&key) {
                pending += 1;
            }
            let device = devices.entry(key).or_default();
            if !known {
                let redacted = |_| {
                    let why = "no device_secret: DIR was planned with --redact-secrets, and a new plan needs the certificates";
                    invalid(row.path, row.line, why)
                };
                device.secret = row.get("device_secret").map_err(redacted)?.to_string();
                device.source_instance = row.get("source_instance")?.to_string();
                device.source_region = row.get("source_region")?.to_string();
                device.target_uid = row.get("target_uid")?.to_string();
                device.strategy = row.get("strategy")?.to_string();
            }
            device.targets.insert(row.get("target_instance")?.to_string(), row.get("target_region")?.to_string());
            Ok(())
        })?;
    }
    if let Some((key, _)) = verdicts.iter().find(|(key, _)| !devices.contains_key(*key)) {
        return Err(Error::Input(vec![devdist_formats::Error::invalid(
            results_path,
            devdist_formats::Position::line(0),
            format!(
                "{}/{} is in no device manifest of {}: results of another plan?",
                key.0,
                key.1,
                devdist_formats::shown(dir)
            ),
        )]));
    }
    for billing in manifests(dir, "billing")? {
        for_rows(dir, &billing, |row| {
            let key = (row.get("product_key")?.to_string(), row.get("device_name")?.to_string());
            if let Some(device) = devices.get_mut(&key) {
                let from = row.get("from_instance")?;
                if from != device.source_instance {
                    device.current_instance = from.to_string();
                    device.current_uid = row.get("from_uid")?.to_string();
                }
            }
            Ok(())
        })?;
    }

    Ok((devices, pending))
}

/// Writes `text` to a new file readable by its owner only (it may hold device secrets).
fn write_all(path: &Path, text: &[u8]) -> Result<(), Error> {
    let mut file = devdist_formats::create_new(path, true).map_err(|e| Error::output(path, e))?;
    file.write_all(text).and_then(|()| file.sync_all()).map_err(|e| Error::output(path, e))
}

/// One row of a derived inventory: a device, where it is now, where it goes, and why it is
/// left out (empty when it is not).
pub(crate) struct DerivedRow<'a> {
    pub(crate) key: &'a Key,
    pub(crate) device: &'a Device,
    pub(crate) current_instance: &'a str,
    pub(crate) current_uid: &'a str,
    /// The per-row target; empty for a nearest-access device (its route names the targets).
    pub(crate) target_instance: &'a str,
    pub(crate) target_uid: &'a str,
    pub(crate) left_out: &'a str,
}

impl<'a> DerivedRow<'a> {
    /// The device again, as it was planned: same destination, same place now.
    pub(crate) fn again(key: &'a Key, device: &'a Device, left_out: Option<&'a str>) -> DerivedRow<'a> {
        // A specified-region device keeps its one target per row; nearest-access ones get
        // theirs from the plan's routes (a row names one instance only).
        let target_instance = match device.strategy.as_str() {
            "specified_region" => device.targets.keys().next().map_or("", String::as_str),
            _ => "",
        };
        DerivedRow {
            key,
            device,
            current_instance: &device.current_instance,
            current_uid: &device.current_uid,
            target_instance,
            target_uid: &device.target_uid,
            left_out: left_out.unwrap_or_default(),
        }
    }
}

pub(crate) fn write_inventory(path: &Path, rows: &[DerivedRow]) -> Result<(), Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    use devdist_formats::Field;
    // The planner's own names of the fields, so the derived plan reads them as meant.
    let header = [
        Field::ProductKey,
        Field::DeviceName,
        Field::DeviceSecret,
        Field::SourceInstance,
        Field::SourceRegion,
        Field::CurrentInstance,
        Field::CurrentUid,
        Field::TargetInstance,
        Field::TargetUid,
        Field::PlatformCode,
    ]
    .map(Field::name);
    let fail = |e: csv::Error| Error::output(path, std::io::Error::other(e.to_string()));
    out.write_record(header).map_err(fail)?;
    for row in rows {
        let device = row.device;
        out.write_record([
            row.key.0.as_str(),
            &row.key.1,
            &device.secret,
            &device.source_instance,
            &device.source_region,
            row.current_instance,
            row.current_uid,
            row.target_instance,
            row.target_uid,
            row.left_out,
        ])
        .map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| Error::output(path, std::io::Error::other(e.to_string())))?;
    write_all(path, &bytes)
}

/// Every instance the devices name that is not built in: sources belong to the account;
/// targets to their target account. No quotas: the devices re-driven were counted once.
pub(crate) fn write_catalog(path: &Path, account: &str, rows: &[DerivedRow]) -> Result<(), Error> {
    let mut instances: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for DerivedRow { device, .. } in rows {
        instances.entry(&device.source_instance).or_insert((&device.source_region, account));
        for (target, region) in &device.targets {
            instances.entry(target).or_insert((region, &device.target_uid));
        }
    }
    let mut text = devdist_formats::CATALOG_COLUMNS.join(",") + "\n";
    for (id, (region, owner)) in instances {
        if !PUBLIC_INSTANCES.iter().any(|public| public.0 == id) {
            text.push_str(&format!("{id},{region},standard,{owner},,0\n"));
        }
    }
    write_all(path, text.as_bytes())
}

/// The plan of a derived inventory: `kind` is `redrive_of` or `return_of`, with its salt.
pub(crate) fn write_plan(
    path: &Path,
    account: &str,
    (kind, salt): (&str, &str),
    devices_per_job: u64,
    jobs_per_wave: u64,
    rows: &[DerivedRow],
) -> Result<(), Error> {
    // One route per (product, source) of nearest-access devices without a per-row target: the
    // original routes matched on nothing finer, so these reproduce them.
    let mut routes: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    let nearest = rows.iter().filter(|row| row.device.strategy == "nearest_access" && row.target_instance.is_empty());
    for DerivedRow { key: (product_key, _), device, .. } in nearest {
        let targets = device.targets.keys().map(String::as_str).collect();
        let previous = routes.insert((product_key, &device.source_instance), targets);
        if previous.is_some_and(|p| p != device.targets.keys().map(String::as_str).collect()) {
            return Err(Error::invocation(format!(
                "{product_key} from {}: nearest-access devices with different targets cannot be re-planned",
                device.source_instance
            )));
        }
    }
    let quoted = |s: &str| -> Result<String, Error> {
        if is_safe_name(s) {
            Ok(format!("\"{s}\""))
        } else {
            Err(Error::invocation(format!("{s:?} is not a safe name; cannot write it into a plan")))
        }
    };
    let mut text = format!(
        "# Written by devdist; planned into the new folder and removed.\n\
         account = {}\n{kind} = {}\n\n[inputs]\ninventory = [\"devices.csv\"]\ninstances = \"instances.csv\"\n\n\
         [limits]\ndevices_per_job = {devices_per_job}\njobs_per_wave = {jobs_per_wave}\n",
        quoted(account)?,
        quoted(salt)?,
    );
    for (i, ((product_key, source), targets)) in routes.iter().enumerate() {
        let targets: Vec<String> = targets.iter().map(|t| quoted(t)).collect::<Result<_, _>>()?;
        text.push_str(&format!(
            "\n[[routes]]\nname = \"nearest-{}\"\nmatch = {{ product_key = [{}], source_instance = [{}] }}\n\
             strategy = \"nearest_access\"\ntargets = [{}]\n",
            i + 1,
            quoted(product_key)?,
            quoted(source)?,
            targets.join(", ")
        ));
    }
    write_all(path, text.as_bytes())
}
