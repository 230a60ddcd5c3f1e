//! The real platform: [`devdist_platform::Client`] behind apply's [`Platform`] trait. The
//! trait speaks the client's own types, so each call is a delegation.

use devdist_platform::{ApiError, Client, CreateDeviceDistributeJob, DeviceResult, JobInfo, ListJobs};

use crate::platform::Platform;

impl Platform for Client {
    fn endpoint(&self) -> String {
        Client::endpoint(self).to_string()
    }

    fn create(&self, request: &CreateDeviceDistributeJob) -> Result<String, ApiError> {
        self.create_device_distribute_job(request)
    }

    fn query(&self, job_id: &str) -> Result<JobInfo, ApiError> {
        self.query_device_distribute_job(job_id)
    }

    fn detail(&self, job_id: &str) -> Result<String, ApiError> {
        self.query_device_distribute_detail(job_id)
    }

    fn list(&self, filter: &ListJobs) -> Result<Vec<JobInfo>, ApiError> {
        self.list_device_distribute_jobs(filter)
    }

    fn provisioning(&self, product_key: &str, device_name: &str) -> Result<Option<String>, ApiError> {
        let at = self.query_device_provisioning(product_key, device_name)?;
        Ok(Some(at.target_iot_instance_id).filter(|id| !id.is_empty()))
    }

    fn download(&self, url: &str) -> Result<Vec<DeviceResult>, ApiError> {
        self.download_results(url)
    }
}
