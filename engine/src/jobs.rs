//! Cutting accepted devices into API jobs (SPEC §4): one product, one source, one destination
//! per job, at most `devices_per_job` devices, stable ids, waves of `jobs_per_wave`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use devdist_formats::{HashingWriter, Written};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::global::{Group, Interned};
use crate::intern::ranks;
use crate::output::{Access, OutputDir};
use crate::plan::{Plan, TargetSetId};
use crate::rules::Destination;
use crate::spool::Scratch;

/// One CreateDeviceDistributeJob call (or one console distribution, cross-account). Compact —
/// a big plan has hundreds of thousands — its text comes from the plan and the dictionaries.
#[derive(Debug, Clone)]
pub struct Job {
    /// `job-` and 16 hex digits of a hash of the group and chunk index.
    id: [u8; 20],
    /// 1-based wave.
    pub wave: usize,
    /// Product, source instance and destination.
    pub group: Group,
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
    first: HashMap<Group, usize>,
    devices_per_job: u64,
}

impl Jobs {
    /// Number of waves.
    pub fn waves(&self) -> usize {
        self.jobs.last().map_or(0, |job| job.wave)
    }

    /// The job of the `nth` (0-based, in device-name order) device of `group`.
    pub fn job_of(&self, group: Group, nth: u64) -> usize {
        self.first[&group] + (nth / self.devices_per_job) as usize
    }
}

/// Cuts the accepted devices of every group into jobs. Execution order is by product key,
/// then source instance, then destination (strategy, targets, uid); inside a group, devices
/// go in device-name order, `devices_per_job` at a time.
pub fn cut(plan: &Plan, interned: &Interned, groups: &HashMap<Group, u64>) -> Jobs {
    let target_names = |set: TargetSetId| -> String {
        let ids: Vec<&str> = plan.target_sets.get(set).iter().map(|&t| plan.catalog.get(t).id.as_str()).collect();
        ids.join(";")
    };
    let instances: Vec<&str> = (0..plan.catalog.len() as u32).map(|id| plan.catalog.get(id).id.as_str()).collect();
    let source_rank = ranks(&instances, |id| *id);
    let destination_rank = ranks(interned.destinations(), |d| (d.strategy, target_names(d.targets), d.uid.clone()));
    let mut ordered: Vec<(Group, u64)> = groups.iter().map(|(&group, &n)| (group, n)).collect();
    ordered.sort_unstable_by_key(|&((product, source, destination), _)| {
        (interned.product_rank(product), source_rank[source as usize], destination_rank[destination as usize])
    });

    let per_job = plan.devices_per_job as u64;
    let mut jobs = Vec::new();
    let mut first = HashMap::with_capacity(ordered.len());
    for ((product, source, destination_id), devices) in ordered {
        first.insert((product, source, destination_id), jobs.len());
        let destination = &interned.destinations()[destination_id as usize];
        let product_key = interned.product_key(product);
        for chunk in 0..devices.div_ceil(per_job) {
            let identity = format!(
                "{}\n{}\n{}\n{}\n{}\n{chunk}",
                plan.catalog.get(source).id,
                product_key,
                destination.strategy.name(),
                target_names(destination.targets),
                destination.uid
            );
            let mut id = *b"job-0000000000000000";
            hex::encode_to_slice(&Sha256::digest(identity.as_bytes())[..8], &mut id[4..]).expect("16 digits fit");
            jobs.push(Job {
                id,
                wave: jobs.len() / plan.jobs_per_wave + 1,
                group: (product, source, destination_id),
                console: *destination.uid != *plan.account,
                devices: (devices - chunk * per_job).min(per_job),
            });
        }
    }
    Jobs { jobs, first, devices_per_job: per_job }
}

/// Where the job requests go (SPEC §4): one JSON line per job, in execution order.
pub const REQUESTS: &str = "jobs/requests.jsonl";

/// Writes [`REQUESTS`] as accepted devices stream past in (product key, device name) order.
/// A job is complete once its last device has passed; when a product has several job groups
/// they complete out of execution order, so a line that completes early is parked in a
/// scratch file until the lines before it are written. Memory holds only the names of jobs
/// not yet complete and 12 bytes per parked line.
#[derive(Debug)]
pub struct Requests {
    /// Names so far of each job not yet complete, by job index.
    open: HashMap<usize, Vec<String>>,
    out: HashingWriter<BufWriter<File>>,
    /// The next job to write, by index.
    next: usize,
    /// Lines completed before their turn: job index to (offset, length) in `parked`.
    early: HashMap<usize, (u64, u32)>,
    parked: BufWriter<File>,
    parked_path: PathBuf,
    parked_len: u64,
    line: Vec<u8>,
}

/// One line of [`REQUESTS`].
#[derive(Debug, Serialize)]
struct RequestLine<'a> {
    job_id: &'a str,
    wave: usize,
    api: &'a str,
    request: JobRequest<'a>,
}

impl Requests {
    /// Starts [`REQUESTS`] in `out`, parking early lines in `scratch`.
    pub fn create(out: &OutputDir, scratch: &Scratch) -> Result<Requests, Error> {
        let file = out.create_file(REQUESTS, Access::Normal)?;
        let (parked, parked_path) = scratch.file("requests")?;
        Ok(Requests {
            open: HashMap::new(),
            out: HashingWriter::new(BufWriter::with_capacity(1 << 18, file)),
            next: 0,
            early: HashMap::new(),
            parked: BufWriter::with_capacity(1 << 16, parked),
            parked_path,
            parked_len: 0,
            line: Vec::new(),
        })
    }

    /// Notes the next device of job number `index`; writes the job's line, and every parked
    /// line that follows it, once this was its last device.
    pub fn add(
        &mut self,
        out: &OutputDir,
        plan: &Plan,
        interned: &Interned,
        jobs: &Jobs,
        index: usize,
        device_name: &str,
    ) -> Result<(), Error> {
        let job = &jobs.jobs[index];
        let names = self.open.entry(index).or_default();
        names.push(device_name.to_string());
        if names.len() as u64 != job.devices {
            return Ok(());
        }
        let names = self.open.remove(&index).expect("present");
        self.line.clear();
        let line = RequestLine {
            job_id: job.id(),
            wave: job.wave,
            api: if job.console { "console" } else { "CreateDeviceDistributeJob" },
            request: job.request(plan, interned, &names),
        };
        serde_json::to_writer(&mut self.line, &line).expect("a job request serialises");
        self.line.push(b'\n');
        let requests = out.staging().join(REQUESTS);
        if index != self.next {
            self.parked.write_all(&self.line).map_err(|err| Error::output(&self.parked_path, err))?;
            self.early.insert(index, (self.parked_len, self.line.len() as u32));
            self.parked_len += self.line.len() as u64;
            return Ok(());
        }
        self.out.write_all(&self.line).map_err(|err| Error::output(&requests, err))?;
        self.next += 1;
        while let Some((offset, len)) = self.early.remove(&self.next) {
            self.parked.flush().map_err(|err| Error::output(&self.parked_path, err))?;
            self.line.resize(len as usize, 0);
            self.parked
                .get_ref()
                .read_exact_at(&mut self.line, offset)
                .map_err(|err| Error::output(&self.parked_path, err))?;
            self.out.write_all(&self.line).map_err(|err| Error::output(&requests, err))?;
            self.next += 1;
        }
        Ok(())
    }

    /// Finishes the file and lists it in `out`; every job must have been written.
    pub fn finish(self, out: &mut OutputDir, jobs: &Jobs) -> Result<(), Error> {
        if self.next != jobs.jobs.len() || !self.open.is_empty() {
            return Err(Error::Accounting(format!(
                "{REQUESTS}: {} of {} job requests complete",
                self.next,
                jobs.jobs.len()
            )));
        }
        let path = out.staging().join(REQUESTS);
        let (mut file, sha256) = self.out.finish();
        file.flush().map_err(|err| Error::output(&path, err))?;
        out.add(REQUESTS, Written { rows: jobs.jobs.len() as u64, sha256 });
        Ok(())
    }
}

/// The request parameters of CreateDeviceDistributeJob, with exactly the API's keys.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobRequest<'a> {
    /// ProductKey.
    pub product_key: &'a str,
    /// DeviceName list.
    pub device_name: Vec<&'a str>,
    /// SourceInstanceId.
    pub source_instance_id: &'a str,
    /// Strategy, 0 or 1.
    pub strategy: u8,
    /// TargetUid.
    pub target_uid: &'a str,
    /// TargetInstanceConfig.
    pub target_instance_config: Vec<TargetInstance<'a>>,
}

/// One entry of `TargetInstanceConfig`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetInstance<'a> {
    /// TargetInstanceId.
    pub target_instance_id: &'a str,
}

impl Job {
    /// The stable id.
    pub fn id(&self) -> &str {
        std::str::from_utf8(&self.id).expect("ASCII")
    }

    /// Where the job sends its devices.
    pub fn destination<'a>(&self, interned: &'a Interned) -> &'a Destination {
        &interned.destinations()[self.group.2 as usize]
    }

    /// The API request for this job, whose devices are `names`.
    pub fn request<'a>(&self, plan: &'a Plan, interned: &'a Interned, names: &'a [String]) -> JobRequest<'a> {
        let destination = self.destination(interned);
        JobRequest {
            product_key: interned.product_key(self.group.0),
            device_name: names.iter().map(String::as_str).collect(),
            source_instance_id: &plan.catalog.get(self.group.1).id,
            strategy: destination.strategy.api_value(),
            target_uid: &destination.uid,
            target_instance_config: plan
                .target_sets
                .get(destination.targets)
                .iter()
                .map(|&t| TargetInstance { target_instance_id: &plan.catalog.get(t).id })
                .collect(),
        }
    }
}
