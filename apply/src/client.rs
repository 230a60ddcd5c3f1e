//! The real platform: [`devdist_platform::Client`] behind apply's [`Platform`] trait.

use devdist_platform::{ApiError, Client, ListJobs, api};

use crate::platform::{CallError, CreateJob, DeviceResult, ErrorKind, JobInfo, ListFilter, Platform};

fn error(err: ApiError) -> CallError {
    let kind = match err.kind {
        devdist_platform::ErrorKind::Retryable => ErrorKind::Retryable,
        devdist_platform::ErrorKind::Permanent => ErrorKind::Permanent,
        _ => ErrorKind::Unknown,
    };
    let message = match &err.request_id {
        Some(id) => format!("{} [request id {id}]", err.message),
        None => err.message,
    };
    CallError { kind, http_status: err.http_status, code: err.code, message }
}

fn job(info: api::JobInfo) -> JobInfo {
    JobInfo {
        target_instance_ids: info.target_instance_ids().into_iter().map(str::to_string).collect(),
        job_id: info.job_id,
        status: info.status.code(),
        product_key: info.product_key,
        source_instance_id: info.source_instance_id,
        strategy: info.strategy,
        target_uid: info.target_uid,
        total: info.total,
        gmt_create_ms: u64::try_from(info.gmt_create).unwrap_or(0),
    }
}

impl Platform for Client {
    fn create(&self, request: &CreateJob) -> Result<String, CallError> {
        let request = api::CreateDeviceDistributeJob {
            product_key: request.product_key.clone(),
            device_names: request.device_names.clone(),
            source_instance_id: request.source_instance_id.clone(),
            strategy: request.strategy,
            target_uid: request.target_uid.clone(),
            target_instance_ids: request.target_instance_ids.clone(),
        };
        self.create_device_distribute_job(&request).map_err(error)
    }

    fn query(&self, job_id: &str) -> Result<JobInfo, CallError> {
        self.query_device_distribute_job(job_id).map(job).map_err(error)
    }

    fn detail(&self, job_id: &str) -> Result<String, CallError> {
        self.query_device_distribute_detail(job_id).map_err(error)
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<JobInfo>, CallError> {
        let filter = ListJobs {
            product_key: filter.product_key.clone(),
            status: filter.status.map(|s| devdist_platform::JobStatus::try_from(s).expect("0 to 3")),
            target_uid: filter.target_uid.clone(),
            job_id: None,
        };
        Ok(self.list_device_distribute_jobs(&filter).map_err(error)?.into_iter().map(job).collect())
    }

    fn provisioning(&self, product_key: &str, device_name: &str) -> Result<Option<String>, CallError> {
        let at = self.query_device_provisioning(product_key, device_name).map_err(error)?;
        Ok(Some(at.target_iot_instance_id).filter(|id| !id.is_empty()))
    }

    fn download(&self, url: &str) -> Result<Vec<DeviceResult>, CallError> {
        let rows = self.download_results(url).map_err(error)?;
        Ok(rows
            .into_iter()
            .map(|row| DeviceResult {
                product_key: row.product_key,
                device_name: row.device_name,
                code: row.code,
                message: row.message,
            })
            .collect())
    }
}
