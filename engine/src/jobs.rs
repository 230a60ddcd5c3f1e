//! Cutting accepted devices into API jobs (docs/plan-folder.md §8.1): one product, one source, one destination
//! per job, at most `devices_per_job` devices, stable ids, waves of `jobs_per_wave`.

use rustc_hash::FxHashMap as HashMap;

use sha2::{Digest, Sha256};

use devdist_folder::{JobApi, JobsRow};
use devdist_formats::Format;

use crate::dictionary::{Dictionaries, ranks};
use crate::error::Error;
use crate::location::Location;
use crate::output::OutputDir;
use crate::plan::{Plan, TargetSetId};
use crate::record::{AT_SOURCE, Destination, JobGroup};

/// One CreateDeviceDistributeJob call (or one console distribution, cross-account). Compact —
/// a big plan has hundreds of thousands — its text comes from the plan and the dictionaries.
#[derive(Debug, Clone)]
pub struct Job {
    /// `job-` and 16 hex digits of a hash of the group and chunk index.
    id: [u8; 20],
    /// 1-based wave.
    pub wave: usize,
    /// Product, source instance and destination.
    pub group: JobGroup,
    /// Whether the API can create it (same account) or only the console (cross-account).
    pub console: bool,
    /// Number of devices.
    pub devices: u64,
}

/// The jobs in execution order, and where each job group's jobs start.
#[derive(Debug)]
pub struct Jobs {
    /// Jobs in execution order.
    pub jobs: Vec<Job>,
    /// Index of each group's first job in `jobs`.
    first: HashMap<JobGroup, usize>,
    devices_per_job: u64,
}

impl Jobs {
    /// Number of waves.
    pub fn waves(&self) -> usize {
        self.jobs.last().map_or(0, |job| job.wave)
    }

    /// The job of the `nth` (0-based, in device-name order) device of `group`.
    pub fn job_of(&self, group: JobGroup, nth: u64) -> usize {
        self.first[&group] + (nth / self.devices_per_job) as usize
    }
}

/// Cuts the accepted devices of every group into jobs. Execution order is by product key,
/// then source instance, then destination (strategy, targets, uid); inside a group, devices
/// go in device-name order, `devices_per_job` at a time.
pub fn cut(plan: &Plan, interned: &Dictionaries, groups: &HashMap<JobGroup, u64>) -> Jobs {
    let target_names = |set: TargetSetId| target_names(plan, set);
    let instances: Vec<&str> = (0..plan.catalog.len() as u32).map(|id| plan.catalog.get(id).id.as_str()).collect();
    let source_rank = ranks(&instances, |id| *id);
    let destination_rank = ranks(interned.destinations(), |d| (d.strategy, target_names(d.targets), d.uid.clone()));
    let mut ordered: Vec<(JobGroup, u64)> = groups.iter().map(|(&group, &n)| (group, n)).collect();
    // Execution order: product, where the devices are now, their home, destination.
    let from = |group: &JobGroup| Location::of(plan, interned, group.billed, group.source);
    ordered.sort_by_cached_key(|(group, _)| {
        let now = from(group);
        (
            interned.product_rank(group.product),
            now.instance.to_string(),
            now.uid.to_string(),
            source_rank[group.source as usize],
            destination_rank[group.destination as usize],
        )
    });

    let per_job = plan.devices_per_job as u64;
    let mut jobs = Vec::new();
    let mut first = HashMap::with_capacity_and_hasher(ordered.len(), Default::default());
    for (group, devices) in ordered {
        let JobGroup { product, source, billed, destination: destination_id } = group;
        first.insert(group, jobs.len());
        let destination = &interned.destinations()[destination_id as usize];
        let product_key = interned.product_key(product);
        let now = from(&group);
        for chunk in 0..devices.div_ceil(per_job) {
            let mut identity = format!(
                "{}\n{}\n{}\n{}\n{}\n{chunk}",
                now.instance,
                product_key,
                destination.strategy.name(),
                target_names(destination.targets),
                destination.uid
            );
            if billed != AT_SOURCE {
                // Away from home: the home and the account billed now tell groups apart (the
                // ids of devices at home are what they always were).
                identity.push_str(&format!("\nnow {} home {}", now.uid, plan.catalog.get(source).id));
            }
            if let Some(salt) = &plan.redrive_of {
                identity.push_str("\nredrive_of ");
                identity.push_str(salt);
            }
            if let Some(salt) = &plan.return_of {
                identity.push_str("\nreturn_of ");
                identity.push_str(salt);
            }
            let mut id = *b"job-0000000000000000";
            hex::encode_to_slice(&Sha256::digest(identity.as_bytes())[..8], &mut id[4..]).expect("16 digits fit");
            jobs.push(Job {
                id,
                wave: jobs.len() / plan.jobs_per_wave + 1,
                group,
                console: *destination.uid != *plan.account || now.foreign(plan),
                devices: (devices - chunk * per_job).min(per_job),
            });
        }
    }
    Jobs { jobs, first, devices_per_job: per_job }
}

impl Job {
    /// The stable id.
    pub fn id(&self) -> &str {
        std::str::from_utf8(&self.id).expect("ASCII")
    }

    /// Who can create it.
    pub fn api(&self) -> JobApi {
        if self.console { JobApi::Console } else { JobApi::Create }
    }

    /// Where the job's devices are now: its `SourceInstanceId`.
    pub(crate) fn from<'a>(&self, plan: &'a Plan, interned: &'a Dictionaries) -> Location<'a> {
        Location::of(plan, interned, self.group.billed, self.group.source)
    }

    /// Where the job sends its devices.
    pub fn destination<'a>(&self, interned: &'a Dictionaries) -> &'a Destination {
        &interned.destinations()[self.group.destination as usize]
    }
}

/// Writes jobs/jobs.csv: one row per job, in execution order, each the [`JobsRow`] view of the
/// job's request line.
pub(crate) fn write_csv(out: &mut OutputDir, plan: &Plan, interned: &Dictionaries, jobs: &Jobs) -> Result<(), Error> {
    use devdist_formats::Value;
    let path = "jobs/jobs.csv";
    let columns = JobsRow::COLUMNS.map(crate::output::text);
    let fail = |err| Error::output(&out.staging().join(path), err);
    let mut table = out.table(path, Format::Csv, &columns, crate::output::Access::Normal)?;
    for job in &jobs.jobs {
        let row = JobsRow::of(job.id(), job.wave as u64, job.api(), &job.request(plan, interned, &[]), job.devices);
        let cells = [
            Value::Str(&row.job_id),
            Value::Int(row.wave),
            Value::Str(row.api.name()),
            Value::Str(&row.product_key),
            Value::Str(&row.source_instance),
            Value::Str(&row.strategy),
            Value::Str(&row.target_instances),
            Value::Str(&row.target_uid),
            Value::Int(row.devices),
        ];
        table.write_row(&cells).map_err(fail)?;
    }
    let written = table.finish().map_err(fail)?;
    out.add(path, written);
    Ok(())
}

/// A set of target instances as jobs.csv writes them, `;`-separated.
pub(crate) fn target_names(plan: &Plan, set: TargetSetId) -> String {
    let ids: Vec<&str> = plan.target_sets.get(set).iter().map(|&t| plan.catalog.get(t).id.as_str()).collect();
    ids.join(";")
}
