//! Cutting accepted devices into API jobs (SPEC §4): one product, one source, one destination
//! per job, at most `devices_per_job` devices, stable ids, waves of `jobs_per_wave`.

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::InstanceId;
use crate::global::{Candidates, Ref};
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

/// Groups `accepted` (ordered by product key and device name) into jobs.
pub fn cut(plan: &Plan, candidates: &Candidates, accepted: &[Ref]) -> Jobs {
    let target_names = |set: TargetSetId| -> String {
        let ids: Vec<&str> = plan.target_sets.get(set).iter().map(|&t| plan.catalog.get(t).id.as_str()).collect();
        ids.join(";")
    };
    // Target sets ranked by their names, so groups sort by what they say, not by set id.
    let names: Vec<String> = (0..plan.target_sets.len() as TargetSetId).map(target_names).collect();
    let mut by_name: Vec<usize> = (0..names.len()).collect();
    by_name.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut rank = vec![0u32; names.len()];
    for (position, &set) in by_name.iter().enumerate() {
        rank[set] = position as u32;
    }
    let key = |at: Ref| {
        let device = candidates.get(at);
        let c = device.candidate;
        let source = plan.catalog.get(c.source).id.as_str();
        (source, device.product_key(), c.strategy, rank[c.targets as usize], device.target_uid())
    };
    let mut ordered = accepted.to_vec();
    // Stable: devices keep their name order inside a group.
    ordered.par_sort_by(|&a, &b| key(a).cmp(&key(b)));

    let mut job_of: Vec<Vec<u32>> =
        candidates.batches().iter().map(|batch| vec![u32::MAX; batch.candidates.len()]).collect();
    let mut jobs = Vec::new();
    for group in ordered.chunk_by(|&a, &b| key(a) == key(b)) {
        let (source, product_key, strategy, _, target_uid) = key(group[0]);
        let targets = candidates.get(group[0]).candidate.targets;
        for (chunk, devices) in group.chunks(plan.devices_per_job).enumerate() {
            let index = jobs.len();
            for &at in devices {
                job_of[at.0 as usize][at.1 as usize] = index as u32;
            }
            let identity = format!(
                "{source}\n{product_key}\n{}\n{}\n{target_uid}\n{chunk}",
                strategy.name(),
                target_names(targets)
            );
            jobs.push(Job {
                id: format!("job-{}", &hex::encode(Sha256::digest(identity.as_bytes()))[..16]),
                wave: index / plan.jobs_per_wave + 1,
                source: plan.catalog.find(source).expect("source is in the catalog"),
                product_key: product_key.to_string(),
                strategy,
                targets,
                target_uid: target_uid.to_string(),
                console: target_uid != plan.account,
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
