//! The distribution API's requests and response bodies, with the exact keys and casing of
//! docs/wire.md §4.
//!
//! The same types are serialised by the emulator and parsed by the client, so the two agree by
//! construction. Missing keys are tolerated on parsing (as the SDK's `from_map` does); absent
//! optional keys are left out on writing.

use serde::{Deserialize, Serialize};

/// The API version every call names (`x-acs-version`, V2 `Version`).
pub const API_VERSION: &str = "2018-01-20";

/// The calls devdist makes; each has its own per-account QPS limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// CreateDeviceDistributeJob, 2/s.
    CreateDeviceDistributeJob,
    /// QueryDeviceDistributeJob, 10/s.
    QueryDeviceDistributeJob,
    /// QueryDeviceDistributeDetail, 5/s.
    QueryDeviceDistributeDetail,
    /// ListDeviceDistributeJob, 5/s.
    ListDeviceDistributeJob,
    /// QueryDeviceProvisioning, 50/s.
    QueryDeviceProvisioning,
    /// DeleteDeviceDistributeJob, 2/s: devdist never calls it (a distribution cannot be
    /// undone); the emulator serves it.
    DeleteDeviceDistributeJob,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 6] = [
        Action::CreateDeviceDistributeJob,
        Action::QueryDeviceDistributeJob,
        Action::QueryDeviceDistributeDetail,
        Action::ListDeviceDistributeJob,
        Action::QueryDeviceProvisioning,
        Action::DeleteDeviceDistributeJob,
    ];

    /// The name on the wire (`x-acs-action`, V2 `Action`).
    pub fn name(self) -> &'static str {
        match self {
            Action::CreateDeviceDistributeJob => "CreateDeviceDistributeJob",
            Action::QueryDeviceDistributeJob => "QueryDeviceDistributeJob",
            Action::QueryDeviceDistributeDetail => "QueryDeviceDistributeDetail",
            Action::ListDeviceDistributeJob => "ListDeviceDistributeJob",
            Action::QueryDeviceProvisioning => "QueryDeviceProvisioning",
            Action::DeleteDeviceDistributeJob => "DeleteDeviceDistributeJob",
        }
    }

    /// The action of a wire name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The platform's per-account limit in calls per second ([`crate::limits`]).
    pub const fn qps(self) -> f64 {
        use crate::limits::{CREATE_QPS, DETAIL_AND_LIST_QPS, PROVISIONING_QPS, QUERY_QPS};
        match self {
            Action::CreateDeviceDistributeJob | Action::DeleteDeviceDistributeJob => CREATE_QPS,
            Action::QueryDeviceDistributeJob => QUERY_QPS,
            Action::QueryDeviceDistributeDetail | Action::ListDeviceDistributeJob => DETAIL_AND_LIST_QPS,
            Action::QueryDeviceProvisioning => PROVISIONING_QPS,
        }
    }
}

/// A distribution job's `Status` on the wire: a number, 0 to 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum JobStatus {
    /// 0: initializing.
    #[default]
    Initializing,
    /// 1: running.
    Running,
    /// 2: completed (not every device need have succeeded: read the result file).
    Completed,
    /// 3: interrupted.
    Interrupted,
}

impl JobStatus {
    /// Whether the job has ended (completed or interrupted).
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Interrupted)
    }

    /// The number on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<JobStatus> for u8 {
    fn from(status: JobStatus) -> u8 {
        status.code()
    }
}

impl TryFrom<u8> for JobStatus {
    type Error = String;

    fn try_from(code: u8) -> Result<JobStatus, String> {
        match code {
            0 => Ok(JobStatus::Initializing),
            1 => Ok(JobStatus::Running),
            2 => Ok(JobStatus::Completed),
            3 => Ok(JobStatus::Interrupted),
            other => Err(format!("job status {other} is none of 0 to 3")),
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

fn pair(key: impl Into<String>, value: impl Into<String>) -> (String, String) {
    (key.into(), value.into())
}

/// How a job's destination is chosen: its `Strategy` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Exactly one target instance (`Strategy` 0).
    SpecifiedRegion,
    /// One candidate instance per region; the device lands where it connects (`Strategy` 1).
    NearestAccess,
}

impl Strategy {
    /// The name plans and jobs.csv use.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::SpecifiedRegion => "specified_region",
            Strategy::NearestAccess => "nearest_access",
        }
    }

    /// The value of the API's `Strategy` parameter.
    pub fn code(self) -> u8 {
        match self {
            Strategy::SpecifiedRegion => 0,
            Strategy::NearestAccess => 1,
        }
    }

    /// The strategy of a `Strategy` parameter.
    pub fn from_code(code: u8) -> Option<Strategy> {
        [Strategy::SpecifiedRegion, Strategy::NearestAccess].into_iter().find(|s| s.code() == code)
    }
}

/// The request of CreateDeviceDistributeJob: the one type of it, whoever writes or reads it.
/// Its serde form is the one `plan` writes for each job in `jobs/requests.jsonl`
/// (`DeviceName: [...]`, `TargetInstanceConfig: [{TargetInstanceId}]`, docs/plan-folder.md
/// §8.3), so a plan's job parses straight into it; [`params`](Self::params) is the wire form
/// and [`from_params`](CreateDeviceDistributeJob::from_params) the emulator's way back. `S`
/// is `String`, or `&str` for a writer that borrows its text (the planner writes millions).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDeviceDistributeJob<S = String> {
    /// ProductKey: one product per job.
    pub product_key: S,
    /// DeviceName.N, at most 10,000.
    #[serde(rename = "DeviceName")]
    pub device_names: Vec<S>,
    /// SourceInstanceId.
    pub source_instance_id: S,
    /// Strategy: 0 or 1 ([`Strategy::code`]).
    pub strategy: u8,
    /// TargetUid; empty is not sent.
    #[serde(default)]
    pub target_uid: S,
    /// TargetInstanceConfig.N.TargetInstanceId.
    #[serde(rename = "TargetInstanceConfig", with = "target_instance_config")]
    pub target_instance_ids: Vec<S>,
}

/// `TargetInstanceConfig: [{"TargetInstanceId": …}]` as a list of ids.
mod target_instance_config {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Entry<S> {
        #[serde(rename = "TargetInstanceId")]
        target_instance_id: S,
    }

    pub(super) fn serialize<T: Serialize, S: Serializer>(ids: &[T], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ids.iter().map(|id| Entry { target_instance_id: id }))
    }

    pub(super) fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        let entries = Vec::<Entry<T>>::deserialize(d)?;
        Ok(entries.into_iter().map(|e| e.target_instance_id).collect())
    }
}

impl<S: AsRef<str>> CreateDeviceDistributeJob<S> {
    /// The wire parameters, flattened as the SDK does (docs/wire.md §2.2): lists become
    /// `Name.1`, `Name.2`, … (1-based), nested fields `Name.N.Field`.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = Vec::with_capacity(self.device_names.len() + self.target_instance_ids.len() + 4);
        for (i, name) in self.device_names.iter().enumerate() {
            params.push(pair(format!("DeviceName.{}", i + 1), name.as_ref()));
        }
        params.push(pair("ProductKey", self.product_key.as_ref()));
        params.push(pair("SourceInstanceId", self.source_instance_id.as_ref()));
        params.push(pair("Strategy", self.strategy.to_string()));
        for (i, id) in self.target_instance_ids.iter().enumerate() {
            params.push(pair(format!("TargetInstanceConfig.{}.TargetInstanceId", i + 1), id.as_ref()));
        }
        if !self.target_uid.as_ref().is_empty() {
            params.push(pair("TargetUid", self.target_uid.as_ref()));
        }
        params
    }
}

impl CreateDeviceDistributeJob {
    /// The request from its wire parameters (the emulator's side of [`params`](Self::params)):
    /// lists are read in index order; unknown keys are ignored. The error names the parameter.
    pub fn from_params(params: &[(String, String)]) -> Result<Self, String> {
        let mut names: Vec<(u32, &str)> = Vec::new();
        let mut targets: Vec<(u32, &str)> = Vec::new();
        let mut req = CreateDeviceDistributeJob::default();
        let mut strategy = None;
        for (key, value) in params {
            let index = |rest: &str| rest.parse::<u32>().map_err(|_| format!("{key}: bad list index"));
            if let Some(rest) = key.strip_prefix("DeviceName.") {
                names.push((index(rest)?, value));
            } else if let Some(rest) =
                key.strip_prefix("TargetInstanceConfig.").and_then(|r| r.strip_suffix(".TargetInstanceId"))
            {
                targets.push((index(rest)?, value));
            } else {
                match key.as_str() {
                    "ProductKey" => req.product_key = value.clone(),
                    "SourceInstanceId" => req.source_instance_id = value.clone(),
                    "TargetUid" => req.target_uid = value.clone(),
                    "Strategy" => strategy = Some(value.parse::<u8>().map_err(|_| format!("Strategy: {value:?}"))?),
                    _ => {}
                }
            }
        }
        for (name, field) in [("ProductKey", &req.product_key), ("SourceInstanceId", &req.source_instance_id)] {
            if field.is_empty() {
                return Err(format!("Missing{name}"));
            }
        }
        req.strategy = strategy.ok_or("MissingStrategy")?;
        names.sort_unstable();
        targets.sort_unstable();
        req.device_names = names.into_iter().map(|(_, v)| v.to_string()).collect();
        req.target_instance_ids = targets.into_iter().map(|(_, v)| v.to_string()).collect();
        Ok(req)
    }
}

/// The filter of ListDeviceDistributeJob; the client adds `PageSize`, `CurrentPage` and
/// `NextToken` while it walks the pages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListJobs {
    /// ProductKey.
    pub product_key: Option<String>,
    /// Status.
    pub status: Option<JobStatus>,
    /// TargetUid.
    pub target_uid: Option<String>,
    /// JobId.
    pub job_id: Option<String>,
}

impl ListJobs {
    /// The filter's wire parameters (paging left out).
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        if let Some(v) = &self.product_key {
            params.push(pair("ProductKey", v));
        }
        if let Some(v) = self.status {
            params.push(pair("Status", v.to_string()));
        }
        if let Some(v) = &self.target_uid {
            params.push(pair("TargetUid", v));
        }
        if let Some(v) = &self.job_id {
            params.push(pair("JobId", v));
        }
        params
    }
}

/// The fields every response body carries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Common {
    /// RequestId.
    pub request_id: String,
    /// Success: `false` on an HTTP 200 is a business error.
    pub success: bool,
    /// Code: the business error code when `success` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// ErrorMessage: the business error text when `success` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl Common {
    /// A successful answer to request `request_id`.
    pub fn ok(request_id: impl Into<String>) -> Common {
        Common { request_id: request_id.into(), success: true, code: None, error_message: None }
    }
}

/// A response body: the common fields and what is specific to the call. [`Common`] alone is
/// the body of an error or of a call that answers nothing else.
pub trait Body {
    /// The common fields.
    fn common(&self) -> &Common;
}

impl Body for Common {
    fn common(&self) -> &Common {
        self
    }
}

macro_rules! body {
    ($(#[$doc:meta])* $name:ident { $(#[$fdoc:meta])* $field:ident : $ty:ty }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[serde(rename_all = "PascalCase", default)]
        pub struct $name {
            /// RequestId, Success, Code, ErrorMessage.
            #[serde(flatten)]
            pub common: Common,
            $(#[$fdoc])*
            pub $field: $ty,
        }

        impl Body for $name {
            fn common(&self) -> &Common {
                &self.common
            }
        }
    };
}

body!(
    /// CreateDeviceDistributeJob's answer.
    CreateJobBody {
        /// JobId.
        job_id: String
    }
);
body!(
    /// QueryDeviceDistributeJob's answer.
    QueryJobBody {
        /// Data.
        data: JobData
    }
);
body!(
    /// QueryDeviceDistributeDetail's answer.
    DetailBody {
        /// File: URL of the per-device result file, valid 10 minutes.
        file: String
    }
);
body!(
    /// ListDeviceDistributeJob's answer.
    ListJobsBody {
        /// Data.
        data: ListData
    }
);
body!(
    /// QueryDeviceProvisioning's answer.
    ProvisioningBody {
        /// Data.
        data: Provisioning
    }
);
/// A job as QueryDeviceDistributeJob (`Data`) and ListDeviceDistributeJob (`JobInfo.items[]`)
/// describe it. `source_instance_name`, `source_region` and the targets' names and regions are
/// only in the list's items.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobInfo {
    /// GmtCreate, milliseconds since the epoch.
    pub gmt_create: i64,
    /// JobId.
    pub job_id: String,
    /// ProductKey.
    pub product_key: String,
    /// SourceInstanceId.
    pub source_instance_id: String,
    /// SourceInstanceName (list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_instance_name: Option<String>,
    /// SourceRegion (list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_region: Option<String>,
    /// SourceUid.
    pub source_uid: String,
    /// Status.
    pub status: JobStatus,
    /// Strategy.
    pub strategy: u8,
    /// TargetUid.
    pub target_uid: String,
    /// Total: the job's device count.
    pub total: u64,
    /// TargetInstanceConfigs.
    pub target_instance_configs: TargetInstanceConfigs,
}

/// QueryDeviceDistributeJob's `Data`: the same shape as a list item.
pub type JobData = JobInfo;

impl JobInfo {
    /// The job's target instance ids, in order.
    pub fn target_instance_ids(&self) -> Vec<&str> {
        self.target_instance_configs.target_instance_configs.iter().map(|t| t.target_instance_id.as_str()).collect()
    }

    /// Whether the job has ended (completed or interrupted).
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
}

/// `TargetInstanceConfigs: { targetInstanceConfigs: [...] }`: the inner key is lower camel case.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetInstanceConfigs {
    /// The targets.
    #[serde(rename = "targetInstanceConfigs")]
    pub target_instance_configs: Vec<TargetInstanceConfig>,
}

/// One target of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TargetInstanceConfig {
    /// TargetInstanceId.
    pub target_instance_id: String,
    /// TargetInstanceName (list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_instance_name: Option<String>,
    /// TargetRegion (list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_region: Option<String>,
}

/// ListDeviceDistributeJob's `Data`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListData {
    /// Total: jobs matching the filter, over all pages.
    pub total: u64,
    /// NextToken; empty on the last page.
    pub next_token: String,
    /// JobInfo.
    pub job_info: JobItems,
}

/// `JobInfo: { items: [...] }`: `items` is lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobItems {
    /// The page's jobs.
    pub items: Vec<JobInfo>,
}

/// QueryDeviceProvisioning's `Data`: where a device is now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Provisioning {
    /// AliyunUid: the account that holds the device.
    pub aliyun_uid: String,
    /// DeviceName.
    pub device_name: String,
    /// GmtCreate (= GmtModified = now when never distributed).
    pub gmt_create: i64,
    /// GmtModified.
    pub gmt_modified: i64,
    /// ProductKey.
    pub product_key: String,
    /// SourceIotInstanceId.
    pub source_iot_instance_id: String,
    /// SourceRegion.
    pub source_region: String,
    /// TargetIotInstanceId.
    pub target_iot_instance_id: String,
    /// TargetRegion.
    pub target_region: String,
}

/// The POP gateway's error body on HTTP 4xx/5xx (signature, timestamp, nonce, throttling…):
/// `Code`/`Message`, not IoT's `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GatewayErrorBody {
    /// RequestId.
    pub request_id: String,
    /// HostId: the endpoint's host.
    pub host_id: String,
    /// Code, e.g. `Throttling.User`.
    pub code: String,
    /// Message.
    pub message: String,
    /// Recommend: a link to the error centre.
    pub recommend: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(official: Value) -> T {
        let parsed: T = serde_json::from_value(official.clone()).expect("parses the official shape");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), official, "writes back the same keys");
        parsed
    }

    fn create() -> CreateDeviceDistributeJob {
        CreateDeviceDistributeJob {
            product_key: "a1BwAGVxxxx".into(),
            device_names: vec!["dev_001".into(), "dev 002".into(), "dev@003".into()],
            source_instance_id: "iotx-oxssharez200".into(),
            strategy: 1,
            target_uid: "1234567890".into(),
            target_instance_ids: vec!["iotx-oxssharez300".into(), "iotx-oxssharez400".into()],
        }
    }

    #[test]
    fn create_params_flatten_to_vector_a_body() {
        assert_eq!(
            crate::encode::form_encode(&create().params()),
            "DeviceName.1=dev_001&DeviceName.2=dev+002&DeviceName.3=dev%40003&ProductKey=a1BwAGVxxxx\
             &SourceInstanceId=iotx-oxssharez200&Strategy=1&TargetInstanceConfig.1.TargetInstanceId=iotx-oxssharez300\
             &TargetInstanceConfig.2.TargetInstanceId=iotx-oxssharez400&TargetUid=1234567890"
        );
    }

    #[test]
    fn create_from_params_reads_lists_by_index_not_wire_order() {
        let mut req = create();
        req.device_names = (1..=12).map(|i| format!("d{i}")).collect();
        let body = crate::encode::form_encode(&req.params()); // DeviceName.1 < .10 < .2
        let decoded = crate::encode::form_decode(&body).unwrap();
        assert_eq!(CreateDeviceDistributeJob::from_params(&decoded).unwrap(), req);
        let missing: Vec<_> = decoded.into_iter().filter(|(k, _)| k != "Strategy").collect();
        assert_eq!(CreateDeviceDistributeJob::from_params(&missing).unwrap_err(), "MissingStrategy");
    }

    #[test]
    fn create_reads_the_job_request_plan_writes() {
        let from_plan = json!({
            "ProductKey": "a1BwAGVxxxx", "DeviceName": ["dev_001", "dev 002", "dev@003"],
            "SourceInstanceId": "iotx-oxssharez200", "Strategy": 1, "TargetUid": "1234567890",
            "TargetInstanceConfig": [{"TargetInstanceId": "iotx-oxssharez300"}, {"TargetInstanceId": "iotx-oxssharez400"}]
        });
        assert_eq!(round_trip::<CreateDeviceDistributeJob>(from_plan), create());
    }

    #[test]
    fn list_filter_params() {
        let filter =
            ListJobs { product_key: Some("pk".into()), status: Some(JobStatus::Running), ..ListJobs::default() };
        assert_eq!(filter.params(), vec![pair("ProductKey", "pk"), pair("Status", "1")]);
    }

    #[test]
    fn create_and_detail_bodies_round_trip() {
        let body: CreateJobBody = round_trip(json!({"RequestId": "r1", "Success": true, "JobId": "job1"}));
        assert_eq!(body.job_id, "job1");
        assert!(body.common().success);
        let body: DetailBody =
            round_trip(json!({"RequestId": "r2", "Success": true, "File": "https://oss.example/job1/x"}));
        assert_eq!(body.file, "https://oss.example/job1/x");
    }

    #[test]
    fn business_error_body_round_trips() {
        let body: Common = round_trip(json!({
            "RequestId": "r3", "Success": false, "Code": "iot.system.SystemException", "ErrorMessage": "busy"
        }));
        assert_eq!(body.code.as_deref(), Some("iot.system.SystemException"));
        assert_eq!(body.error_message.as_deref(), Some("busy"));
    }

    #[test]
    fn query_job_body_round_trips() {
        let body: QueryJobBody = round_trip(json!({
            "RequestId": "r4", "Success": true,
            "Data": {"GmtCreate": 1704110400000_i64, "JobId": "job1", "ProductKey": "pk", "SourceInstanceId": "iotx-1",
                     "SourceUid": "111", "Status": 2, "Strategy": 1, "TargetUid": "222", "Total": 3,
                     "TargetInstanceConfigs": {"targetInstanceConfigs": [{"TargetInstanceId": "iotx-2"}]}}
        }));
        assert_eq!(body.data.target_instance_ids(), vec!["iotx-2"]);
        assert!(body.data.is_finished());
        assert_eq!(body.data.total, 3);
    }

    #[test]
    fn list_jobs_body_round_trips() {
        let body: ListJobsBody = round_trip(json!({
            "RequestId": "r5", "Success": true,
            "Data": {"Total": 1, "NextToken": "",
                     "JobInfo": {"items": [{"GmtCreate": 1, "JobId": "job1", "ProductKey": "pk",
                         "SourceInstanceId": "iotx-1", "SourceInstanceName": "src", "SourceRegion": "cn-shanghai",
                         "SourceUid": "111", "Status": 1, "Strategy": 0, "TargetUid": "222", "Total": 10,
                         "TargetInstanceConfigs": {"targetInstanceConfigs": [
                             {"TargetInstanceId": "iotx-2", "TargetInstanceName": "dst", "TargetRegion": "cn-beijing"}]}}]}}
        }));
        let item = &body.data.job_info.items[0];
        assert_eq!(item.source_region.as_deref(), Some("cn-shanghai"));
        assert_eq!(
            item.target_instance_configs.target_instance_configs[0].target_region.as_deref(),
            Some("cn-beijing")
        );
    }

    #[test]
    fn provisioning_body_round_trips() {
        let body: ProvisioningBody = round_trip(json!({
            "RequestId": "r6", "Success": true,
            "Data": {"AliyunUid": "222", "DeviceName": "d1", "GmtCreate": 5, "GmtModified": 6, "ProductKey": "pk",
                     "SourceIotInstanceId": "iotx-1", "SourceRegion": "cn-shanghai",
                     "TargetIotInstanceId": "iotx-2", "TargetRegion": "cn-beijing"}
        }));
        assert_eq!(body.data.target_iot_instance_id, "iotx-2");
    }

    #[test]
    fn gateway_error_round_trips_and_missing_keys_are_tolerated() {
        let body: GatewayErrorBody = round_trip(json!({
            "RequestId": "r7", "HostId": "iot.cn-shanghai.aliyuncs.com", "Code": "Throttling.User",
            "Message": "Request was denied due to user flow control.", "Recommend": "https://error-center"
        }));
        assert_eq!(body.code, "Throttling.User");
        let sparse: QueryJobBody = serde_json::from_str(r#"{"Success":true,"Data":{"Status":1}}"#).unwrap();
        assert_eq!(sparse.data.status, JobStatus::Running);
        let bad = serde_json::from_str::<QueryJobBody>(r#"{"Success":true,"Data":{"Status":4}}"#).unwrap_err();
        assert!(bad.to_string().contains("job status 4 is none of 0 to 3"), "{bad}");
    }

    #[test]
    fn action_names_and_limits() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
        assert_eq!(Action::from_name("DeleteDeviceDistributeJob"), Some(Action::DeleteDeviceDistributeJob));
        assert_eq!(Action::from_name("DeleteDevice"), None);
        assert_eq!(Action::CreateDeviceDistributeJob.qps(), 2.0);
    }
}
