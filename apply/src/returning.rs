//! `devdist return DIR… --out NEW`: the inputs of a new plan that sends back to its home
//! instance every device the runs DIR… (a plan and its redrives, in that order) distributed,
//! as the platform confirmed it in apply's results. Planned with [`devdist_engine::run`], NEW
//! is a plan folder like any other (`verify` and `apply` accept it): each returning device
//! leaves from where it is now (the instance it was distributed to) for its home, billing goes
//! back, no quota is taken and no product granted at home (docs/inputs.md §1.4).
//!
//! Every device of DIR's API jobs is in the derived inventory; the ones not sent home are
//! NEW's rejects (`not_returned`), each with why: not confirmed distributed (failed, unknown,
//! no outcome yet), or distributed by nearest access (which candidate it connected to is not
//! recorded). Devices of console jobs, devices whose distribution was itself a return (home
//! already), and those the `--product` / `--target` filters leave out, are counted, not listed.
//!
//! When a DIR has an audit that verifies and is newer than its apply results (`devdist audit`,
//! `crate::audit::overrule`), audit's verdicts win: a `placed` device goes home from where
//! the platform showed it (a nearest-access device too: audit saw its candidate), a `returned`
//! one is home already, `not_placed` and `elsewhere` ones are `not_returned` with audit's reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use devdist_engine::Error;
use devdist_platform::sign::sha256_hex;

use crate::folder::Folder;
use crate::redrive::{self, DerivedRow, Device, Key, Verdict};

/// What [`prepare`] found and wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Returned {
    /// The derived plan, inside the folder given to [`prepare`].
    pub plan: PathBuf,
    /// Devices sent home.
    pub returning: u64,
    /// Devices left out with why (NEW's `not_returned` rejects).
    pub not_returned: u64,
    /// Devices of console (cross-account) jobs: the console's.
    pub console: u64,
    /// Devices the `--product` and `--target` filters leave out.
    pub filtered: u64,
    /// Devices whose last distribution was itself a return: home already.
    pub already_home: u64,
}

/// Which devices to send home: all, or only these products, or only those now in these
/// instances.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these product keys (all when empty).
    pub products: Vec<String>,
    /// Only devices now in these instances (all when empty).
    pub targets: Vec<String>,
}

/// Checks every DIR (plan and apply) and writes the derived inputs into `into` (a private,
/// empty folder that the caller removes: the inventory holds device secrets).
pub fn prepare(dirs: &[PathBuf], into: &Path, filter: &Filter) -> Result<Returned, crate::Error> {
    let Some(first) = dirs.first() else {
        return Err(crate::Error::invocation("return: name at least one applied plan folder"));
    };
    for dir in dirs {
        redrive::verified(dir, "return")?;
    }
    Ok(derive(first, dirs, into, filter)?)
}

/// One device over every DIR: distributed in any of them wins; else its last verdict.
struct Seen {
    verdict: Verdict,
    device: Device,
    /// Audit's verdict, and where it showed the device, when DIR's audit is accepted.
    audited: Option<(devdist_folder::Verdict, String)>,
}

fn derive(first: &Path, dirs: &[PathBuf], into: &Path, filter: &Filter) -> Result<Returned, Error> {
    let folder = Folder::read(first).map_err(|err| Error::invocation(err.to_string()))?;
    let account = folder.account.clone();
    let mut seen: BTreeMap<Key, Seen> = BTreeMap::new();
    let mut salt_input = Vec::new();
    for dir in dirs {
        let (report, report_bytes) = devdist_engine::read_report(dir)?;
        if report.account != account {
            return Err(Error::invocation(format!(
                "{} plans for account {}, {} for {account}: one return is for one account",
                devdist_formats::shown(dir),
                report.account,
                devdist_formats::shown(first)
            )));
        }
        let results_path = dir.join("apply").join("results.csv");
        let results_bytes = redrive::read(dir, "apply/results.csv")?;
        let verdicts = redrive::read_results(&results_path, &results_bytes)?;
        let (verdicts, audit, _) = crate::audit::overrule(dir, verdicts)?;
        let (mut devices, _) = redrive::plan_devices(dir, &verdicts, &results_path)?;
        for (key, verdict) in verdicts {
            let device = devices.remove(&key).expect("plan_devices has every device with a verdict");
            let audited = audit.as_ref().and_then(|audit| audit.get(&key)).cloned();
            match seen.get(&key) {
                Some(earlier) if earlier.verdict == Verdict::Distributed => {}
                _ => drop(seen.insert(key, Seen { verdict, device, audited })),
            }
        }
        salt_input.extend_from_slice(&report_bytes);
        salt_input.extend_from_slice(&results_bytes);
    }

    let mut returned = Returned::default();
    let mut rows = Vec::new();
    for (key, Seen { verdict, device, audited }) in &seen {
        use devdist_folder::Verdict as Audit;
        let observed = match audited {
            Some((Audit::Placed, at)) => Some(at.as_str()),
            _ => None,
        };
        let now = observed.unwrap_or_else(|| device.targets.keys().next().map_or("", String::as_str));
        let wanted = (filter.products.is_empty() || filter.products.contains(&key.0))
            && (filter.targets.is_empty() || filter.targets.iter().any(|t| t == now));
        if !wanted {
            returned.filtered += 1;
            continue;
        }
        let why = match verdict {
            Verdict::Console => {
                returned.console += 1;
                continue;
            }
            Verdict::Distributed
                if now == device.source_instance || audited.as_ref().is_some_and(|a| a.0 == Audit::Returned) =>
            {
                returned.already_home += 1;
                continue;
            }
            Verdict::Distributed if device.strategy == "nearest_access" && observed.is_none() => {
                "distributed by nearest access: which candidate it connected to is not recorded"
            }
            Verdict::Distributed => "",
            Verdict::Refused(why) if audited.as_ref().is_some_and(|a| a.0 == Audit::Elsewhere) => why.as_str(),
            Verdict::Unknown if audited.as_ref().is_some_and(|a| a.0 == Audit::NotPlaced) => {
                "not placed: audit found it where it was planned to leave from"
            }
            Verdict::Refused(_) | Verdict::FailedRetryable => "not distributed: apply's results show it failed",
            Verdict::Unknown => "not confirmed distributed: apply's results show it unknown",
        };
        if why.is_empty() {
            returned.returning += 1;
        } else {
            returned.not_returned += 1;
        }
        rows.push(if why.is_empty() {
            // It is now where it was sent, billed to that account; it goes home, to the account.
            DerivedRow {
                key,
                device,
                current_instance: now,
                current_uid: &device.target_uid,
                target_instance: &device.source_instance,
                target_uid: &account,
                left_out: "",
            }
        } else {
            // As it was planned, so that only its reason rejects it.
            DerivedRow::again(key, device, Some(why))
        });
    }
    let salt = sha256_hex(&salt_input)[..16].to_string();
    let (devices_per_job, jobs_per_wave) = (folder.devices_per_job as u64, folder.jobs_per_wave as u64);
    redrive::write_inventory(&into.join("devices.csv"), &rows)?;
    redrive::write_catalog(&into.join("instances.csv"), &account, &rows)?;
    returned.plan = into.join("plan.toml");
    redrive::write_plan(&returned.plan, &account, ("return_of", &salt), devices_per_job, jobs_per_wave, &rows)?;
    Ok(returned)
}
