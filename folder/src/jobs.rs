//! A plan's jobs: `jobs/requests.jsonl`, one [`RequestLine`] per job in execution order, and
//! `jobs/jobs.csv`, one [`JobsRow`] per job, the same jobs as people read them.

use devdist_platform::{CreateDeviceDistributeJob, Strategy};
use serde::{Deserialize, Serialize};

/// Who can create a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobApi {
    /// Same account: `devdist apply` creates it with CreateDeviceDistributeJob.
    #[serde(rename = "CreateDeviceDistributeJob")]
    Create,
    /// Cross-account: only the console can (the target account confirms with a code).
    #[serde(rename = "console")]
    Console,
}

impl JobApi {
    /// The word in jobs.csv's and requests.jsonl's `api`.
    pub fn name(self) -> &'static str {
        match self {
            JobApi::Create => "CreateDeviceDistributeJob",
            JobApi::Console => "console",
        }
    }
}

/// One line of `jobs/requests.jsonl`: `{"job_id", "wave", "api", "request"}`, where `request`
/// holds exactly CreateDeviceDistributeJob's parameters. `S` is `String` for a reader, `&str`
/// for the planner, which writes it from borrowed text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de> + Default"))]
pub struct RequestLine<S = String> {
    /// The plan's stable job id (`job-` and 16 hex digits).
    pub job_id: S,
    /// 1-based wave.
    pub wave: u64,
    /// Who can create it.
    pub api: JobApi,
    /// The request, devices in device-name order.
    pub request: CreateDeviceDistributeJob<S>,
}

impl<S: AsRef<str>> RequestLine<S> {
    /// The job as jobs.csv shows it.
    pub fn jobs_row(&self) -> JobsRow {
        JobsRow::of(self.job_id.as_ref(), self.wave, self.api, &self.request, self.request.device_names.len() as u64)
    }
}

/// One row of `jobs/jobs.csv`: a job of [`RequestLine`] for people, with its devices counted
/// and its targets `;`-joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsRow {
    /// The plan's job id.
    pub job_id: String,
    /// 1-based wave.
    pub wave: u64,
    /// Who can create it.
    pub api: JobApi,
    /// ProductKey.
    pub product_key: String,
    /// SourceInstanceId.
    pub source_instance: String,
    /// The strategy's name ([`Strategy::name`]).
    pub strategy: String,
    /// The target instances, `;`-joined.
    pub target_instances: String,
    /// TargetUid.
    pub target_uid: String,
    /// Devices in the job.
    pub devices: u64,
}

impl JobsRow {
    /// jobs.csv's header, in column order.
    pub const COLUMNS: [&'static str; 9] = [
        "job_id",
        "wave",
        "api",
        "product_key",
        "source_instance",
        "strategy",
        "target_instances",
        "target_uid",
        "devices",
    ];

    /// The row of a job of `devices` devices whose request (its device names aside) is
    /// `request`.
    pub fn of<S: AsRef<str>>(
        job_id: &str,
        wave: u64,
        api: JobApi,
        request: &CreateDeviceDistributeJob<S>,
        devices: u64,
    ) -> JobsRow {
        let targets: Vec<&str> = request.target_instance_ids.iter().map(AsRef::as_ref).collect();
        JobsRow {
            job_id: job_id.to_string(),
            wave,
            api,
            product_key: request.product_key.as_ref().to_string(),
            source_instance: request.source_instance_id.as_ref().to_string(),
            strategy: Strategy::from_code(request.strategy)
                .map_or_else(|| request.strategy.to_string(), |s| s.name().to_string()),
            target_instances: targets.join(";"),
            target_uid: request.target_uid.as_ref().to_string(),
            devices,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_line_writes_what_an_owned_line_reads_and_jobs_csv_is_its_view() {
        let request = CreateDeviceDistributeJob {
            product_key: "pk",
            device_names: vec!["d1", "d 2"],
            source_instance_id: "iot-a",
            strategy: Strategy::NearestAccess.code(),
            target_uid: "42",
            target_instance_ids: vec!["iot-b", "iot-c"],
        };
        let written = RequestLine { job_id: "job-1", wave: 3, api: JobApi::Create, request };
        let text = serde_json::to_string(&written).unwrap();
        assert_eq!(
            text,
            r#"{"job_id":"job-1","wave":3,"api":"CreateDeviceDistributeJob","request":{"ProductKey":"pk","DeviceName":["d1","d 2"],"SourceInstanceId":"iot-a","Strategy":1,"TargetUid":"42","TargetInstanceConfig":[{"TargetInstanceId":"iot-b"},{"TargetInstanceId":"iot-c"}]}}"#
        );
        let read: RequestLine = serde_json::from_str(&text).unwrap();
        assert_eq!(read.request.device_names, ["d1", "d 2"]);
        assert_eq!(read.jobs_row(), written.jobs_row());
        let row = read.jobs_row();
        assert_eq!(
            (row.strategy.as_str(), row.target_instances.as_str(), row.devices, row.api.name()),
            ("nearest_access", "iot-b;iot-c", 2, "CreateDeviceDistributeJob")
        );
    }
}
