//! The calls apply makes, as a trait over platform's own types: the real client
//! (`devdist_platform::Client`, client.rs) implements it, and so does the in-memory
//! `FakePlatform` (feature `test-util`) the scheduler's tests run against.

use devdist_platform::{ApiError, CreateDeviceDistributeJob, DeviceResult, JobInfo, ListJobs};

/// The distribution calls apply makes. Implementations pace themselves to the platform's
/// per-API limits and retry retryable errors a few times before giving up; a Create whose
/// answer was lost comes back as [`devdist_platform::ErrorKind::Unknown`], never retried.
pub trait Platform {
    /// Where the calls go (`scheme://host[:port]`, no credentials): what a journal is bound to.
    fn endpoint(&self) -> String;
    /// CreateDeviceDistributeJob: the platform's JobId.
    fn create(&self, request: &CreateDeviceDistributeJob) -> Result<String, ApiError>;
    /// QueryDeviceDistributeJob.
    fn query(&self, job_id: &str) -> Result<JobInfo, ApiError>;
    /// QueryDeviceDistributeDetail: the URL of the result file.
    fn detail(&self, job_id: &str) -> Result<String, ApiError>;
    /// ListDeviceDistributeJob, every page.
    fn list(&self, filter: &ListJobs) -> Result<Vec<JobInfo>, ApiError>;
    /// QueryDeviceProvisioning: the instance the device is distributed to now, if any.
    fn provisioning(&self, product_key: &str, device_name: &str) -> Result<Option<String>, ApiError>;
    /// Downloads and parses a result file.
    fn download(&self, url: &str) -> Result<Vec<DeviceResult>, ApiError>;
}
