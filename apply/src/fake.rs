//! An in-memory platform for the scheduler's tests: jobs finish after a few polls, and faults
//! are chosen by device name, so a crashed-and-resumed run meets the same ones.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use devdist_platform::api::{TargetInstanceConfig, TargetInstanceConfigs};
use devdist_platform::{
    ApiError, CODE_DISTRIBUTED, CreateDeviceDistributeJob, DeviceResult, ErrorKind, JobInfo, JobStatus, ListJobs,
};

use crate::platform::Platform;

/// Faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Polls before a job completes.
    pub polls: u32,
    /// A Create whose request holds one of these devices is made, but its answer is lost
    /// (the first time only).
    pub lose_answer: HashSet<String>,
    /// A job holding one of these devices ends in status 3: the device and the first half of
    /// the rest are distributed, the others are not.
    pub interrupt: HashSet<String>,
    /// These devices fail with code `iot.device.Fail`.
    pub fail: HashSet<String>,
    /// These devices are distributed but left out of the result file.
    pub omit: HashSet<String>,
    /// The first URL handed out for each job has already expired.
    pub expire_urls: bool,
    /// Every n-th call of each kind is throttled (0: never).
    pub throttle_every: u32,
    /// Jobs of someone else running in the account at start; they finish after this many
    /// List calls.
    pub foreign: usize,
    /// Extra unjournalled jobs matching a lost Create (ambiguity).
    pub duplicate_lost: bool,
    /// With a lost Create, a stranger's job just like it (product, source, targets, size)
    /// but of other devices appears too.
    pub stranger_lookalike: bool,
    /// A job holding one of these devices is deleted by someone once it has ended: the
    /// platform no longer shows or lists it.
    pub vanish: HashSet<String>,
    /// The result file gives these devices a second row with another code.
    pub twice: HashSet<String>,
    /// The platform's clock is this far ahead of ours (GmtCreate), in milliseconds.
    pub clock_ahead_ms: i64,
}

/// One job on the fake platform.
#[derive(Debug, Clone)]
pub struct FakeJob {
    /// Its info.
    pub info: JobInfo,
    /// Its devices.
    pub devices: Vec<String>,
    /// Queries so far.
    pub polls: u32,
    /// Someone else's.
    pub foreign: bool,
    /// Deleted: no longer shown or listed.
    pub deleted: bool,
}

#[derive(Debug, Default)]
struct State {
    jobs: Vec<FakeJob>,
    lost: HashSet<String>,
    urls: HashMap<String, (String, bool)>,
    at: HashMap<(String, String), String>,
    calls: HashMap<&'static str, u32>,
    lists: usize,
    max_in_flight: usize,
}

/// The fake platform.
#[derive(Debug, Default)]
pub struct FakePlatform {
    faults: Faults,
    state: RefCell<State>,
    endpoint: String,
}

fn error(kind: ErrorKind, code: &str, message: &str) -> ApiError {
    ApiError {
        kind,
        http_status: Some(400),
        code: code.to_string(),
        message: message.to_string(),
        request_id: None,
        retry_after: None,
    }
}

fn targets(ids: &[String]) -> TargetInstanceConfigs {
    let configs = ids
        .iter()
        .map(|id| TargetInstanceConfig { target_instance_id: id.clone(), ..TargetInstanceConfig::default() })
        .collect();
    TargetInstanceConfigs { target_instance_configs: configs }
}

impl FakePlatform {
    /// A platform with these faults.
    pub fn new(faults: Faults) -> FakePlatform {
        let mut state = State::default();
        for n in 0..faults.foreign {
            state.jobs.push(FakeJob {
                info: JobInfo {
                    job_id: format!("foreign-{n}"),
                    status: JobStatus::Running,
                    product_key: "someoneelse".into(),
                    source_instance_id: "iot-other".into(),
                    strategy: 0,
                    target_uid: "1".into(),
                    target_instance_configs: targets(&["iot-other2".into()]),
                    total: 1,
                    ..JobInfo::default()
                },
                devices: vec!["x".into()],
                polls: 0,
                foreign: true,
                deleted: false,
            });
        }
        FakePlatform { faults, state: RefCell::new(state), endpoint: "fake://platform".to_string() }
    }

    /// The same platform answering at another endpoint (a rehearsal's, say).
    pub fn at(mut self, endpoint: &str) -> FakePlatform {
        self.endpoint = endpoint.to_string();
        self
    }

    /// Forgets every job of ours and where devices are: another platform, as production is
    /// to a rehearsal.
    pub fn forget(&self) {
        let mut state = self.state.borrow_mut();
        state.jobs.retain(|job| job.foreign);
        state.at.clear();
    }

    /// Every job ever created, in creation order.
    pub fn jobs(&self) -> Vec<FakeJob> {
        self.state.borrow().jobs.clone()
    }

    /// Calls per API.
    pub fn calls(&self, api: &str) -> u32 {
        self.state.borrow().calls.get(api).copied().unwrap_or(0)
    }

    /// The most jobs in status 0/1 at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.borrow().max_in_flight
    }

    fn call(&self, api: &'static str) -> Result<(), ApiError> {
        let mut state = self.state.borrow_mut();
        let n = state.calls.entry(api).or_default();
        *n += 1;
        if self.faults.throttle_every > 0 && (*n).is_multiple_of(self.faults.throttle_every) {
            return Err(error(ErrorKind::Retryable, "Throttling.User", "Request was denied due to user flow control."));
        }
        Ok(())
    }

    fn interrupted(&self, job: &FakeJob) -> bool {
        job.devices.iter().any(|d| self.faults.interrupt.contains(d))
    }

    fn results(&self, job: &FakeJob) -> Vec<DeviceResult> {
        let interrupted = self.interrupted(job);
        let others = job.devices.iter().filter(|d| !self.faults.interrupt.contains(*d)).count();
        let mut delivered_others = 0;
        let mut rows = Vec::new();
        for device in &job.devices {
            if interrupted && !self.faults.interrupt.contains(device) {
                delivered_others += 1;
                if delivered_others > others / 2 {
                    continue;
                }
            }
            if self.faults.omit.contains(device) {
                continue;
            }
            let (code, message) = if self.faults.fail.contains(device) {
                ("iot.device.Fail", "the device could not be distributed")
            } else {
                (CODE_DISTRIBUTED, "")
            };
            rows.push(DeviceResult {
                product_key: job.info.product_key.clone(),
                device_name: device.clone(),
                code: code.into(),
                message: message.into(),
            });
            if self.faults.twice.contains(device) {
                rows.push(DeviceResult {
                    product_key: job.info.product_key.clone(),
                    device_name: device.clone(),
                    code: "iot.device.Other".into(),
                    message: "a second verdict".into(),
                });
            }
        }
        rows
    }
}

impl Platform for FakePlatform {
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    fn create(&self, request: &CreateDeviceDistributeJob) -> Result<String, ApiError> {
        self.call("CreateDeviceDistributeJob")?;
        let mut state = self.state.borrow_mut();
        let running = state.jobs.iter().filter(|job| !job.info.is_finished()).count();
        if running >= devdist_platform::limits::MAX_JOBS_IN_FLIGHT {
            return Err(error(ErrorKind::Permanent, "iot.distribute.JobLimitExceeded", "too many jobs running"));
        }
        let id = format!("fake-{:04}", state.jobs.len());
        let job = FakeJob {
            info: JobInfo {
                job_id: id.clone(),
                status: JobStatus::Initializing,
                product_key: request.product_key.clone(),
                source_instance_id: request.source_instance_id.clone(),
                strategy: request.strategy,
                target_uid: request.target_uid.clone(),
                target_instance_configs: targets(&request.target_instance_ids),
                total: request.device_names.len() as u64,
                gmt_create: SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
                    + self.faults.clock_ahead_ms,
                ..JobInfo::default()
            },
            devices: request.device_names.clone(),
            polls: 0,
            foreign: false,
            deleted: false,
        };
        let lose = request.device_names.iter().find(|d| self.faults.lose_answer.contains(*d)).cloned();
        if self.faults.duplicate_lost && lose.is_some() {
            let mut twin = job.clone();
            twin.info.job_id = format!("{id}-twin");
            state.jobs.push(twin);
        }
        if self.faults.stranger_lookalike && lose.is_some() {
            let mut stranger = job.clone();
            stranger.info.job_id = format!("{id}-stranger");
            stranger.devices = job.devices.iter().map(|d| format!("{d}-not-ours")).collect();
            stranger.foreign = true;
            state.jobs.push(stranger);
        }
        state.jobs.push(job);
        state.max_in_flight = state.max_in_flight.max(running + 1);
        match lose {
            Some(device) if state.lost.insert(device.clone()) => {
                Err(error(ErrorKind::Unknown, "Transport", "the connection closed before the answer"))
            }
            _ => Ok(id),
        }
    }

    fn query(&self, job_id: &str) -> Result<JobInfo, ApiError> {
        self.call("QueryDeviceDistributeJob")?;
        let interrupted = {
            let state = self.state.borrow();
            let job = state.jobs.iter().find(|job| job.info.job_id == job_id);
            job.map(|job| self.interrupted(job))
        };
        let mut state = self.state.borrow_mut();
        let Some(job) = state.jobs.iter_mut().find(|job| job.info.job_id == job_id && !job.deleted) else {
            return Err(error(ErrorKind::Permanent, "iot.distribute.JobNotFound", "no such job"));
        };
        job.polls += 1;
        if !job.info.is_finished() {
            job.info.status = if job.polls <= self.faults.polls {
                JobStatus::Running
            } else if interrupted == Some(true) {
                JobStatus::Interrupted
            } else {
                JobStatus::Completed
            };
        }
        let info = job.info.clone();
        if info.is_finished() {
            let job = job.clone();
            for row in self.results(&job) {
                if row.is_distributed() {
                    state.at.insert((row.product_key, row.device_name), job.info.target_instance_ids()[0].to_string());
                }
            }
            for device in &job.devices {
                if self.faults.omit.contains(device) {
                    state.at.insert(
                        (job.info.product_key.clone(), device.clone()),
                        job.info.target_instance_ids()[0].to_string(),
                    );
                }
            }
            if job.devices.iter().any(|d| self.faults.vanish.contains(d)) {
                let gone = state.jobs.iter_mut().find(|j| j.info.job_id == job_id).expect("found above");
                gone.deleted = true;
                return Err(error(ErrorKind::Permanent, "iot.distribute.JobNotFound", "no such job"));
            }
        }
        Ok(info)
    }

    fn detail(&self, job_id: &str) -> Result<String, ApiError> {
        self.call("QueryDeviceDistributeDetail")?;
        let mut state = self.state.borrow_mut();
        let n = state.urls.len();
        let first = !state.urls.values().any(|(job, _)| job == job_id);
        let url = format!("fake://result/{n}");
        state.urls.insert(url.clone(), (job_id.to_string(), first && self.faults.expire_urls));
        Ok(url)
    }

    fn list(&self, filter: &ListJobs) -> Result<Vec<JobInfo>, ApiError> {
        self.call("ListDeviceDistributeJob")?;
        let mut state = self.state.borrow_mut();
        state.lists += 1;
        let lists = state.lists;
        for job in state.jobs.iter_mut().filter(|job| job.foreign) {
            if lists > 4 {
                job.info.status = JobStatus::Completed;
            }
        }
        Ok(state
            .jobs
            .iter()
            .filter(|job| !job.deleted)
            .filter(|job| filter.product_key.as_ref().is_none_or(|pk| *pk == job.info.product_key))
            .filter(|job| filter.target_uid.as_ref().is_none_or(|uid| *uid == job.info.target_uid))
            .filter(|job| filter.status.is_none_or(|status| status == job.info.status))
            .map(|job| job.info.clone())
            .collect())
    }

    fn provisioning(&self, product_key: &str, device_name: &str) -> Result<Option<String>, ApiError> {
        self.call("QueryDeviceProvisioning")?;
        Ok(self.state.borrow().at.get(&(product_key.to_string(), device_name.to_string())).cloned())
    }

    fn download(&self, url: &str) -> Result<Vec<DeviceResult>, ApiError> {
        let (job_id, expired) = self.state.borrow().urls.get(url).cloned().expect("a URL we handed out");
        if expired {
            return Err(error(ErrorKind::Permanent, "AccessDenied", "Request has expired."));
        }
        let state = self.state.borrow();
        let job = state.jobs.iter().find(|job| job.info.job_id == job_id).expect("the job exists");
        Ok(self.results(job))
    }
}
