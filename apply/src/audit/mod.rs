//! `devdist audit DIR`: where the platform says every device of DIR is now, independent of
//! apply's journal, written into `DIR/audit/` (docs/plan-folder.md §14).
//!
//! What DIR expects of a device comes from its device manifests (`grants/*/*/devices.*`):
//! `from_instance` (where it was when planned), `target_instance` (one row per candidate of a
//! nearest-access device) and `source_instance` (home). Each folder is audited by itself:
//! `devdist audit DIR…` audits each DIR into its own `DIR/audit/`, so a plan and its return
//! are two audits, each true of its own plan (verdicts in [`verdict`]).
//!
//! The calls, all reads, paced by the client to the platform's limits:
//!
//! 1. ListDistributedDevice, one sweep per (product, `from_instance`) of DIR, page by page
//!    (200 a page); the call has no target filter, so each listed record is matched to DIR's
//!    device client-side. A record is a device's last distribution: it says where it is now.
//! 2. QueryDeviceProvisioning for every device no sweep listed (never moved, returned with a
//!    cleared record, or left from somewhere DIR did not plan).
//! 3. ListDistributedProduct per `from_instance` (all products, paged): which (product,
//!    source, target) the platform lists, kept for DIR's products.
//!
//! Memory: DIR's devices, each with its expectation and observation (instance names interned),
//! about 450 B a device at peak (91 MB at 200,000 devices, measured), and one page of a sweep.
//! Nothing grows with the account's other devices: a sweep's records that are not DIR's are
//! dropped page by page.
//!
//! `redrive` and `return` take audit's verdicts over apply's outcomes when `DIR/audit/`
//! verifies and was made from the `apply/results.csv` DIR has now ([`accepted`]).

mod output;
mod page;
mod verdict;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use devdist_folder::Outcome;
use devdist_folder::audited::{ApiCount, AuditSummary, Settled, Verdict};
use devdist_platform::api::{DistributedDevices, DistributedProducts, ListDistributedDevice, ListDistributedProduct};
use devdist_platform::limits::MAX_DISTRIBUTED_PAGE_SIZE;
use devdist_platform::{Action, ApiError, Client, Provisioning};

use crate::error::Error;
use crate::readers::{self, Key};

pub use output::verify;
pub(crate) use output::{Accepted, accepted};

/// The reads audit makes, as a trait over platform's own types: the real client implements
/// it, and the tests an in-memory platform.
pub trait Reader {
    /// Where the calls go (`scheme://host[:port]`, no credentials).
    fn endpoint(&self) -> String;
    /// One page of ListDistributedDevice.
    fn distributed_devices(&self, request: &ListDistributedDevice) -> Result<DistributedDevices, ApiError>;
    /// One page of ListDistributedProduct.
    fn distributed_products(&self, request: &ListDistributedProduct) -> Result<DistributedProducts, ApiError>;
    /// QueryDeviceProvisioning.
    fn provisioning(&self, product_key: &str, device_name: &str) -> Result<Provisioning, ApiError>;
    /// Calls made so far to the three read APIs, retries included.
    fn calls(&self) -> Vec<ApiCount>;
}

impl Reader for Client {
    fn endpoint(&self) -> String {
        Client::endpoint(self).to_string()
    }

    fn distributed_devices(&self, request: &ListDistributedDevice) -> Result<DistributedDevices, ApiError> {
        self.list_distributed_device(request)
    }

    fn distributed_products(&self, request: &ListDistributedProduct) -> Result<DistributedProducts, ApiError> {
        self.list_distributed_product(request)
    }

    fn provisioning(&self, product_key: &str, device_name: &str) -> Result<Provisioning, ApiError> {
        self.query_device_provisioning(product_key, device_name)
    }

    fn calls(&self) -> Vec<ApiCount> {
        let stats = self.stats();
        [Action::ListDistributedDevice, Action::QueryDeviceProvisioning, Action::ListDistributedProduct]
            .into_iter()
            .map(|action| {
                let calls = stats.apis.get(&action).copied().unwrap_or_default();
                ApiCount { api: action.name().to_string(), calls: calls.calls, retries: calls.retries }
            })
            .collect()
    }
}

/// How far an audit got: devices settled of all.
pub trait AuditProgress {
    /// `settled` of `devices` have been located.
    fn settled(&self, settled: u64, devices: u64);
}

/// No progress shown.
impl AuditProgress for () {
    fn settled(&self, _: u64, _: u64) {}
}

/// What [`audit`] found; the same figures are in `DIR/audit/summary.json`.
#[derive(Debug, Clone)]
pub struct Audited {
    /// The summary written.
    pub summary: AuditSummary,
}

impl Audited {
    /// Every device placed and no disagreement with apply: exit 0.
    pub fn all_placed(&self) -> bool {
        let s = &self.summary;
        s.verdicts.placed == s.devices && s.disagreements.total() == 0
    }
}

/// Instance names and uids, each held once.
#[derive(Debug, Default)]
pub(crate) struct Names {
    index: HashMap<String, u32>,
    list: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(name.to_string());
        self.index.insert(name.to_string(), id);
        id
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        &self.list[id as usize]
    }
}

/// Where the platform showed a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not located yet.
    Not,
    /// The platform does not know it.
    Unknown,
    /// A distribution record, or (`recorded` false) where it always was.
    At { instance: u32, source: u32, uid: u32, at_ms: i64, recorded: bool, by: Settled },
}

/// One device of DIR.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) home: u32,
    pub(crate) from: u32,
    /// Sorted, each once.
    pub(crate) targets: Vec<u32>,
    /// apply's reading of its rows in results.csv.
    pub(crate) apply: Option<readers::Verdict>,
    pub(crate) seen: Seen,
}

/// DIR's devices, sorted, with what is expected of each.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) names: Names,
    pub(crate) devices: BTreeMap<Key, Entry>,
}

/// Reads every device manifest of `dir` into a [`Plan`].
pub(crate) fn expected(dir: &Path) -> Result<Plan, devdist_engine::Error> {
    let mut plan = Plan::default();
    for manifest in readers::manifests(dir, "devices")? {
        readers::for_rows(dir, &manifest, |row| {
            let key = (row.get("product_key")?.to_string(), row.get("device_name")?.to_string());
            let target = plan.names.id(row.get("target_instance")?);
            match plan.devices.get_mut(&key) {
                Some(entry) => {
                    if let Err(at) = entry.targets.binary_search(&target) {
                        entry.targets.insert(at, target);
                    }
                }
                None => {
                    let home = plan.names.id(row.get("source_instance")?);
                    let from = plan.names.id(row.get("from_instance")?);
                    let entry = Entry { home, from, targets: vec![target], apply: None, seen: Seen::Not };
                    plan.devices.insert(key, entry);
                }
            }
            Ok(())
        })?;
    }
    Ok(plan)
}

/// apply's outcome of each device, from `apply/results.csv` when DIR has one (the best of a
/// device's rows, as redrive reads them), and the file's SHA-256.
fn apply_outcomes(dir: &Path, plan: &mut Plan) -> Result<String, devdist_engine::Error> {
    let relative = "apply/results.csv";
    if !dir.join(relative).exists() {
        return Ok(String::new());
    }
    let path = dir.join(relative);
    let open = || devdist_formats::open_inside(dir, relative).map_err(|e| devdist_engine::Error::Input(vec![e]));
    let unreadable = |e| devdist_engine::Error::Input(vec![devdist_formats::Error::io(&path, e)]);
    // Two streaming passes, so that the file is never held whole: its SHA-256, then its rows.
    let mut hashing = devdist_formats::HashingWriter::new(std::io::sink());
    std::io::copy(&mut open()?.file, &mut hashing).map_err(unreadable)?;
    let (_, sha256) = hashing.finish();
    let input = std::io::BufReader::with_capacity(1 << 16, open()?.file);
    readers::each_result(&path, input, |key, verdict| {
        let Some(entry) = plan.devices.get_mut(&key) else {
            return Err(devdist_engine::Error::Input(vec![devdist_formats::Error::invalid(
                &path,
                devdist_formats::Position::line(0),
                format!("{}/{} is in no device manifest: results of another plan?", key.0, key.1),
            )]));
        };
        match &entry.apply {
            Some(old) if old.rank() <= verdict.rank() => {}
            _ => entry.apply = Some(verdict),
        }
        Ok(())
    })?;
    Ok(sha256)
}

/// A platform error that stops the audit (exit 3).
fn stopped(what: &str, err: &ApiError) -> Error {
    if err.is_auth() {
        return Error::Unreadable(format!("the platform refused audit's credentials at {what}: {err}"));
    }
    Error::Unreadable(format!("{what} failed after retries: {err}"))
}

/// Asks `reader` where every device of `dir` is and writes `dir/audit/` (built in a staging
/// folder inside DIR and renamed into place, replacing only audit's own previous folder).
/// `dir` must verify as a plan folder. Read-only on the platform.
pub fn audit(dir: &Path, reader: &dyn Reader, progress: &dyn AuditProgress) -> Result<Audited, Error> {
    // A staging folder left by a killed audit is audit's own: it goes first, or DIR would not
    // verify (it is not listed in report.json).
    output::remove_staging(dir)?;
    crate::folder::refuse_unverified(dir)?;
    let (report, _) = devdist_engine::read_report(dir)?;
    if report.mode != devdist_folder::Mode::Plan {
        let why = format!("written by `devdist {}`, which plans no devices; audit needs a plan folder", report.mode);
        return Err(Error::folder(&dir.join("report.json"), why));
    }
    let audited_at = devdist_platform::sign::timestamp(std::time::SystemTime::now());
    let mut plan = expected(dir)?;
    let apply_results_sha256 = apply_outcomes(dir, &mut plan)?;
    let devices = plan.devices.len() as u64;
    let mut settled = 0;
    progress.settled(0, devices);

    // 1. One sweep per (product, where its devices were planned to leave from).
    let groups: BTreeSet<(String, u32)> = plan.devices.iter().map(|((pk, _), e)| (pk.clone(), e.from)).collect();
    for (product_key, from) in &groups {
        let source = plan.names.name(*from).to_string();
        pages(|page| {
            let request = ListDistributedDevice {
                product_key: Some(product_key.clone()),
                source_instance_id: Some(source.clone()),
                current_page: page,
                page_size: MAX_DISTRIBUTED_PAGE_SIZE,
                ..ListDistributedDevice::default()
            };
            let data = reader.distributed_devices(&request).map_err(|e| stopped("ListDistributedDevice", &e))?;
            let count = data.info.items.len() as u64;
            for item in data.info.items {
                if item.product_key != *product_key {
                    continue;
                }
                let key = (item.product_key, item.device_name);
                let Some(entry) = plan.devices.get(&key) else { continue };
                if entry.seen != Seen::Not {
                    continue;
                }
                let seen = Seen::At {
                    instance: plan.names.id(&item.target_instance_id),
                    source: plan.names.id(&item.source_instance_id),
                    uid: plan.names.id(&item.target_uid),
                    at_ms: item.gmt_modified,
                    recorded: true,
                    by: Settled::Sweep,
                };
                plan.devices.get_mut(&key).expect("looked up above").seen = seen;
                settled += 1;
            }
            progress.settled(settled, devices);
            Ok((count, data.total))
        })?;
    }

    // 2. QueryDeviceProvisioning for the rest.
    let Plan { names, devices: entries } = &mut plan;
    for ((product_key, device_name), entry) in entries.iter_mut().filter(|(_, e)| e.seen == Seen::Not) {
        entry.seen = match reader.provisioning(product_key, device_name) {
            Ok(at) if at.target_iot_instance_id.is_empty() => Seen::Unknown,
            Ok(at) => {
                let recorded = at.source_iot_instance_id != at.target_iot_instance_id;
                Seen::At {
                    instance: names.id(&at.target_iot_instance_id),
                    source: names.id(if recorded { &at.source_iot_instance_id } else { "" }),
                    uid: names.id(&at.aliyun_uid),
                    at_ms: if recorded { at.gmt_modified } else { 0 },
                    recorded,
                    by: Settled::Provisioning,
                }
            }
            Err(err) if err.code == "iot.device.NotExistedDevice" => Seen::Unknown,
            Err(err) => return Err(stopped("QueryDeviceProvisioning", &err)),
        };
        settled += 1;
        if settled % 256 == 0 {
            progress.settled(settled, devices);
        }
    }
    progress.settled(settled, devices);

    // 3. ListDistributedProduct per source instance (a few calls, not one per product), kept
    // for DIR's products only.
    let products: BTreeSet<&str> = groups.iter().map(|(pk, _)| pk.as_str()).collect();
    let sources: BTreeSet<u32> = groups.iter().map(|(_, from)| *from).collect();
    let mut listed: BTreeSet<(String, String, String)> = BTreeSet::new();
    for from in sources {
        let source = plan.names.name(from).to_string();
        pages(|page| {
            let request = ListDistributedProduct {
                source_instance_id: Some(source.clone()),
                current_page: page,
                page_size: MAX_DISTRIBUTED_PAGE_SIZE,
                ..ListDistributedProduct::default()
            };
            let data = reader.distributed_products(&request).map_err(|e| stopped("ListDistributedProduct", &e))?;
            let count = data.info.items.len() as u64;
            listed.extend(
                data.info
                    .items
                    .into_iter()
                    .filter(|p| products.contains(p.product_key.as_str()))
                    .map(|p| (p.product_key, p.source_instance_id, p.target_instance_id)),
            );
            Ok((count, data.total))
        })?;
    }

    let summary = output::write(
        dir,
        &plan,
        &listed,
        output::Run { audited_at, endpoint: reader.endpoint(), apply_results_sha256, calls: reader.calls() },
    )?;
    Ok(Audited { summary })
}

/// Walks the pages of a ListDistributed* call: `each` reads page n (from 1) and returns its
/// items and the call's `Total`. It stops at an empty page or once n pages of 200 cover the
/// total. Rows may shift while devices move (newest first): a device a sweep misses is asked
/// about by name afterwards.
fn pages(mut each: impl FnMut(u32) -> Result<(u64, u64), Error>) -> Result<(), Error> {
    let mut page = 1;
    loop {
        let (count, total) = each(page)?;
        if count == 0 || u64::from(page) * u64::from(MAX_DISTRIBUTED_PAGE_SIZE) >= total {
            return Ok(());
        }
        page += 1;
    }
}

impl readers::Verdict {
    /// The apply outcome this reading of results.csv stands for.
    fn outcome(&self) -> Outcome {
        match self {
            readers::Verdict::Distributed => Outcome::Distributed,
            readers::Verdict::Refused(_) | readers::Verdict::FailedRetryable => Outcome::Failed,
            readers::Verdict::Unknown => Outcome::Unknown,
            readers::Verdict::Console => Outcome::Console,
        }
    }
}

/// The verdict of one device of `plan`, with its note.
pub(crate) fn judge(names: &Names, entry: &Entry) -> (Verdict, String) {
    let targets: Vec<String> = entry.targets.iter().map(|&t| names.name(t).to_string()).collect();
    let expected = verdict::Expected { home: names.name(entry.home), from: names.name(entry.from), targets: &targets };
    let observed = match entry.seen {
        Seen::Not | Seen::Unknown => verdict::Observed::Unknown,
        Seen::At { instance, source, recorded: true, .. } => {
            verdict::Observed::Record { instance: names.name(instance), source: names.name(source) }
        }
        Seen::At { instance, .. } => verdict::Observed::NoRecord { instance: names.name(instance) },
    };
    verdict::judge(&expected, &observed)
}

/// redrive's reading of each device's rows in results.csv.
pub(crate) type Verdicts = BTreeMap<Key, readers::Verdict>;

/// [`overrule`]'s answer: the verdicts, audit's own when it was accepted, and how many it changed.
pub(crate) type Overruled = (Verdicts, Option<Accepted>, u64);

/// redrive's reading of each device with audit's verdicts taken over apply's, when DIR's audit
/// is [`accepted`]; and how many devices audit changed:
///
/// | audit | apply's reading | becomes |
/// |---|---|---|
/// | `placed`, `returned` | anything but console | distributed (done) |
/// | `not_placed` | distributed | unknown (re-driven) |
/// | `elsewhere` | anything but console or refused | refused, with where audit saw it |
///
/// Everything else stays as apply's results say.
pub(crate) fn overrule(dir: &Path, mut verdicts: Verdicts) -> Result<Overruled, devdist_engine::Error> {
    use readers::Verdict as Apply;
    let Some(audit) = accepted(dir)? else { return Ok((verdicts, None, 0)) };
    let mut changed = 0;
    for (key, verdict) in &mut verdicts {
        let Some((seen, at)) = audit.get(key) else { continue };
        let new = match (seen, &*verdict) {
            (_, Apply::Console) | (Verdict::Placed | Verdict::Returned, Apply::Distributed) => continue,
            (Verdict::Placed | Verdict::Returned, _) => Apply::Distributed,
            (Verdict::NotPlaced, Apply::Distributed) => Apply::Unknown,
            (Verdict::NotPlaced, _) | (Verdict::Elsewhere, Apply::Refused(_)) => continue,
            (Verdict::Elsewhere, _) if at.is_empty() => {
                Apply::Refused("audit: the platform does not know this device".to_string())
            }
            (Verdict::Elsewhere, _) => {
                Apply::Refused(format!("audit: the platform shows it in {at}, not where it was planned from"))
            }
        };
        *verdict = new;
        changed += 1;
    }
    Ok((verdicts, Some(audit), changed))
}

#[cfg(test)]
mod tests;
