//! Cutting accepted devices into API jobs (SPEC §4): one product, one source, one destination
//! per job, at most `devices_per_job` devices, stable ids, waves of `jobs_per_wave`.

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::InstanceId;
use crate::global::{Candidates, Ref};
use crate::intern::ranks;
use crate::plan::{Plan, Strategy, TargetSetId};

/// One CreateDeviceDistributeJob call (or one console distribution, cross-account).
#[derive(Debug, Clone)]
pub struct Job {
    /// Stable id: a hash of the group and chunk index.
    pub id: String,
    /// 1-based wave.
    pub wave: usize,
    /// Source instance.
    pub source: InstanceId,
    /// ProductKey.
    pub product_key: String,
    /// Strategy.
    pub strategy: Strategy,
    /// Target instances.
    pub targets: TargetSetId,
    /// Destination account.
    pub target_uid: String,
    /// Whether the API can create it (same account) or only the console (cross-account).
    pub console: bool,
    /// The devices, by device name.
    pub devices: Vec<Ref>,
}

/// The jobs in execution order, and each accepted device's job index (by batch, then index).
#[derive(Debug)]
pub struct Jobs {
    /// Jobs in execution order.
    pub jobs: Vec<Job>,
    /// `job_of[batch][index]`: index into `jobs` (unset for devices not accepted).
    pub job_of: Vec<Vec<u32>>,
}

impl Jobs {
    /// The job of an accepted device.
    pub fn of(&self, at: Ref) -> &Job {
        &self.jobs[self.job_of[at.0 as usize][at.1 as usize] as usize]
    }

    /// Number of waves.
    pub fn waves(&self) -> usize {
        self.jobs.last().map_or(0, |job| job.wave)
    }
}

/// Groups `accepted` (ordered by product key and device name) into jobs. Execution order is
/// by product key, then source instance, then destination (strategy, targets, uid).
pub fn cut(plan: &Plan, candidates: &Candidates, accepted: &[Ref]) -> Jobs {
    let target_names = |set: TargetSetId| -> String {
        let ids: Vec<&str> = plan.target_sets.get(set).iter().map(|&t| plan.catalog.get(t).id.as_str()).collect();
        ids.join(";")
    };
    let instances: Vec<&str> = (0..plan.catalog.len() as u32).map(|id| plan.catalog.get(id).id.as_str()).collect();
    let source_rank = ranks(&instances, |id| *id);
    let destination_rank = ranks(candidates.destinations(), |d| (d.strategy, target_names(d.targets), d.uid.clone()));
    // Keys computed once (each needs a random access to the candidate), then sorted; the
    // position in `accepted` breaks ties, so devices keep their name order inside a group.
    let mut ordered: Vec<((u32, u32, u32), usize)> = accepted
        .iter()
        .enumerate()
        .map(|(position, &at)| {
            let c = candidates.get(at).candidate;
            let rank = candidates.product_rank(c.product);
            ((rank, source_rank[c.source as usize], destination_rank[c.destination as usize]), position)
        })
        .collect();
    ordered.par_sort_unstable();

    let mut job_of: Vec<Vec<u32>> =
        candidates.batches().iter().map(|batch| vec![u32::MAX; batch.candidates.len()]).collect();
    let mut jobs = Vec::new();
    for group in ordered.chunk_by(|a, b| a.0 == b.0) {
        let group: Vec<Ref> = group.iter().map(|&(_, position)| accepted[position]).collect();
        let device = candidates.get(group[0]);
        let destination = device.destination();
        let source = device.candidate.source;
        for (chunk, devices) in group.chunks(plan.devices_per_job).enumerate() {
            let index = jobs.len();
            for &at in devices {
                job_of[at.0 as usize][at.1 as usize] = index as u32;
            }
            let identity = format!(
                "{}\n{}\n{}\n{}\n{}\n{chunk}",
                plan.catalog.get(source).id,
                device.product_key(),
                destination.strategy.name(),
                target_names(destination.targets),
                destination.uid
            );
            jobs.push(Job {
                id: format!("job-{}", &hex::encode(Sha256::digest(identity.as_bytes()))[..16]),
                wave: index / plan.jobs_per_wave + 1,
                source,
                product_key: device.product_key().to_string(),
                strategy: destination.strategy,
                targets: destination.targets,
                target_uid: destination.uid.to_string(),
                console: *destination.uid != *plan.account,
                devices: devices.to_vec(),
            });
        }
    }
    Jobs { jobs, job_of }
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
    /// The API request for this job.
    pub fn request<'a>(&'a self, plan: &'a Plan, candidates: &'a Candidates) -> JobRequest<'a> {
        JobRequest {
            product_key: &self.product_key,
            device_name: self.devices.iter().map(|&at| candidates.get(at).device_name()).collect(),
            source_instance_id: &plan.catalog.get(self.source).id,
            strategy: self.strategy.api_value(),
            target_uid: &self.target_uid,
            target_instance_config: plan
                .target_sets
                .get(self.targets)
                .iter()
                .map(|&t| TargetInstance { target_instance_id: &plan.catalog.get(t).id })
                .collect(),
        }
    }
}
