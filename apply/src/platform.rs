//! The calls apply makes, as a trait: the real client (`devdist-platform`) implements it, and
//! so does the in-memory [`crate::fake::FakePlatform`] the scheduler's tests run against.

use std::fmt;

/// How sure we are about a failed call's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Surely not carried out, worth trying again later (throttled, a server error on a read,
    /// a connection that never opened).
    Retryable,
    /// Refused for good (bad request, credentials refused, unknown device…).
    Permanent,
    /// The request may have taken effect (answer lost): a Create must be reconciled.
    Unknown,
}

/// A failed call, with the platform's code and message (never a credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// What the failure means for a retry.
    pub kind: ErrorKind,
    /// HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// The platform's code (`Throttling.User`, `iot.system.SystemException`…) or a transport
    /// error's name.
    pub code: String,
    /// The platform's message.
    pub message: String,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.http_status {
            Some(status) => write!(f, "{} (HTTP {status}): {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl CallError {
    /// The platform refused our credentials or signature: nothing will work until the operator
    /// fixes them.
    pub fn is_auth(&self) -> bool {
        const AUTH: [&str; 7] = [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "InvalidSecurityToken",
            "Forbidden",
            "InvalidTimeStamp",
            "IncompleteSignature",
            "NoPermission",
        ];
        AUTH.iter().any(|prefix| self.code.starts_with(prefix))
    }

    /// A Create that certainly did not create a job: the client only says Retryable or
    /// Permanent of a Create the platform cannot have carried out.
    pub fn created_nothing(&self) -> bool {
        self.kind != ErrorKind::Unknown
    }

    /// The account already has its maximum of jobs running: try again when one finishes.
    pub fn is_job_limit(&self) -> bool {
        let code = self.code.to_ascii_lowercase();
        ["limit", "exceed", "toomany", "too_many"].iter().any(|word| code.contains(word))
    }
}

/// The request of CreateDeviceDistributeJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateJob {
    /// ProductKey.
    pub product_key: String,
    /// DeviceName.N.
    pub device_names: Vec<String>,
    /// SourceInstanceId.
    pub source_instance_id: String,
    /// Strategy (0, 1).
    pub strategy: u8,
    /// TargetUid.
    pub target_uid: String,
    /// TargetInstanceConfig.N.TargetInstanceId.
    pub target_instance_ids: Vec<String>,
}

/// A job as QueryDeviceDistributeJob or ListDeviceDistributeJob shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// JobId.
    pub job_id: String,
    /// 0 initializing, 1 running, 2 completed, 3 interrupted.
    pub status: u8,
    /// ProductKey.
    pub product_key: String,
    /// SourceInstanceId.
    pub source_instance_id: String,
    /// Strategy.
    pub strategy: u8,
    /// TargetUid.
    pub target_uid: String,
    /// Target instance ids.
    pub target_instance_ids: Vec<String>,
    /// Devices.
    pub total: u64,
    /// Creation time, milliseconds since the Unix epoch.
    pub gmt_create_ms: u64,
}

/// ListDeviceDistributeJob's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// ProductKey.
    pub product_key: Option<String>,
    /// TargetUid.
    pub target_uid: Option<String>,
    /// Status.
    pub status: Option<u8>,
}

/// One row of a job's result file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceResult {
    /// ProductKey.
    pub product_key: String,
    /// DeviceName.
    pub device_name: String,
    /// `200` when distributed.
    pub code: String,
    /// Why not, when not.
    pub message: String,
}

/// The distribution calls apply makes. Implementations pace themselves to the platform's
/// per-API limits and retry retryable errors a few times before giving up; a Create whose
/// answer was lost comes back as [`ErrorKind::Unknown`], never retried.
pub trait Platform {
    /// CreateDeviceDistributeJob: the platform's JobId.
    fn create(&self, request: &CreateJob) -> Result<String, CallError>;
    /// QueryDeviceDistributeJob.
    fn query(&self, job_id: &str) -> Result<JobInfo, CallError>;
    /// QueryDeviceDistributeDetail: the URL of the result file.
    fn detail(&self, job_id: &str) -> Result<String, CallError>;
    /// ListDeviceDistributeJob, every page.
    fn list(&self, filter: &ListFilter) -> Result<Vec<JobInfo>, CallError>;
    /// QueryDeviceProvisioning: the instance the device is distributed to now, if any.
    fn provisioning(&self, product_key: &str, device_name: &str) -> Result<Option<String>, CallError>;
    /// Downloads and parses a result file.
    fn download(&self, url: &str) -> Result<Vec<DeviceResult>, CallError>;
}
