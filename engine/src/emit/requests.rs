//! Job requests: each job's device names collected as accepted devices stream past, and the
//! CreateDeviceDistributeJob parameters built from them.

use std::collections::HashMap;

use serde::Serialize;

use crate::dictionary::Interned;
use crate::jobs::Job;
use crate::plan::Plan;

/// Collects each job's device names as accepted devices stream past in (product key, device
/// name) order, and hands back each request once its last device has passed.
#[derive(Debug, Default)]
pub struct Requests {
    /// Names so far of each job not yet complete, by job index.
    open: HashMap<usize, Vec<String>>,
}

impl Requests {
    /// Notes the next device of `job` (number `index`); returns the job's request as JSON
    /// when this was its last device.
    pub fn add(
        &mut self,
        plan: &Plan,
        interned: &Interned,
        job: &Job,
        index: usize,
        device_name: &str,
    ) -> Option<Vec<u8>> {
        let names = self.open.entry(index).or_default();
        names.push(device_name.to_string());
        if names.len() as u64 != job.devices {
            return None;
        }
        let names = self.open.remove(&index).expect("present");
        let mut json =
            serde_json::to_vec_pretty(&job.request(plan, interned, &names)).expect("a job request serialises");
        json.push(b'\n');
        Some(json)
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
