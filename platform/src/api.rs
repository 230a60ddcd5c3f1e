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
    /// QueryProductList, 50/s; 2/s on a deep page ([`Lane`]).
    QueryProductList,
    /// QueryDevice, 50/s; 2/s on a deep page ([`Lane`]).
    QueryDevice,
    /// BatchQueryDeviceDetail, 5/s.
    BatchQueryDeviceDetail,
    /// GetThingTopo, 500/s.
    GetThingTopo,
    /// ListDistributedDevice, 5/s.
    ListDistributedDevice,
    /// ListDistributedProduct, 5/s.
    ListDistributedProduct,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 12] = [
        Action::CreateDeviceDistributeJob,
        Action::QueryDeviceDistributeJob,
        Action::QueryDeviceDistributeDetail,
        Action::ListDeviceDistributeJob,
        Action::QueryDeviceProvisioning,
        Action::DeleteDeviceDistributeJob,
        Action::QueryProductList,
        Action::QueryDevice,
        Action::BatchQueryDeviceDetail,
        Action::GetThingTopo,
        Action::ListDistributedDevice,
        Action::ListDistributedProduct,
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
            Action::QueryProductList => "QueryProductList",
            Action::QueryDevice => "QueryDevice",
            Action::BatchQueryDeviceDetail => "BatchQueryDeviceDetail",
            Action::GetThingTopo => "GetThingTopo",
            Action::ListDistributedDevice => "ListDistributedDevice",
            Action::ListDistributedProduct => "ListDistributedProduct",
        }
    }

    /// The action of a wire name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The platform's per-account limit in calls per second ([`crate::limits`]).
    pub const fn qps(self) -> f64 {
        use crate::limits::{
            BATCH_DETAIL_QPS, CREATE_QPS, DETAIL_AND_LIST_QPS, DISTRIBUTED_LIST_QPS, PROVISIONING_QPS,
            QUERY_DEVICE_QPS, QUERY_PRODUCT_LIST_QPS, QUERY_QPS, THING_TOPO_QPS,
        };
        match self {
            Action::CreateDeviceDistributeJob | Action::DeleteDeviceDistributeJob => CREATE_QPS,
            Action::QueryDeviceDistributeJob => QUERY_QPS,
            Action::QueryDeviceDistributeDetail | Action::ListDeviceDistributeJob => DETAIL_AND_LIST_QPS,
            Action::QueryDeviceProvisioning => PROVISIONING_QPS,
            Action::QueryProductList => QUERY_PRODUCT_LIST_QPS,
            Action::QueryDevice => QUERY_DEVICE_QPS,
            Action::BatchQueryDeviceDetail => BATCH_DETAIL_QPS,
            Action::GetThingTopo => THING_TOPO_QPS,
            Action::ListDistributedDevice | Action::ListDistributedProduct => DISTRIBUTED_LIST_QPS,
        }
    }

    /// Whether the action's deep pages (`CurrentPage × PageSize` ≥
    /// [`DEEP_PAGE_ROWS`](crate::limits::DEEP_PAGE_ROWS)) have their own, lower limit.
    pub const fn has_deep_tier(self) -> bool {
        matches!(self, Action::QueryProductList | Action::QueryDevice)
    }
}

/// What a call is paced (client) and metered (emulator) under: its action, and for the
/// listings with a deep tier, whether the page is deep. A deep page has its own limit,
/// [`DEEP_PAGE_QPS`](crate::limits::DEEP_PAGE_QPS), apart from the action's shallow pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lane {
    /// The call.
    pub action: Action,
    /// A deep page of an action with a deep tier.
    pub deep: bool,
}

impl From<Action> for Lane {
    fn from(action: Action) -> Lane {
        Lane::of(action)
    }
}

impl Lane {
    /// The lane of every call of `action` but deep pages.
    pub const fn of(action: Action) -> Lane {
        Lane { action, deep: false }
    }

    /// The lane of a call of `action` asking for page `current_page` of `page_size` rows.
    pub fn of_page(action: Action, current_page: u64, page_size: u64) -> Lane {
        let deep = action.has_deep_tier() && current_page.saturating_mul(page_size) >= crate::limits::DEEP_PAGE_ROWS;
        Lane { action, deep }
    }

    /// The lane of a call from its wire parameters: `CurrentPage` (default 1) and `PageSize`
    /// (default [`DEFAULT_PAGE_SIZE`](crate::limits::DEFAULT_PAGE_SIZE)) as numbers;
    /// unreadable ones count as their defaults.
    pub fn of_params<'a>(action: Action, mut param: impl FnMut(&str) -> Option<&'a str>) -> Lane {
        let number = |value: Option<&str>, default| value.and_then(|v| v.parse::<u64>().ok()).unwrap_or(default);
        let page = number(param("CurrentPage"), 1);
        let size = number(param("PageSize"), crate::limits::DEFAULT_PAGE_SIZE.into());
        Lane::of_page(action, page, size)
    }

    /// Every lane: each action's, and the deep one of each action with a deep tier.
    pub fn all() -> impl Iterator<Item = Lane> {
        Action::ALL.into_iter().flat_map(|action| {
            let deep = action.has_deep_tier().then_some(Lane { action, deep: true });
            std::iter::once(Lane::of(action)).chain(deep)
        })
    }

    /// The lane's limit in calls per second per account.
    pub fn qps(self) -> f64 {
        if self.deep { crate::limits::DEEP_PAGE_QPS } else { self.action.qps() }
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

/// `Name.1`, `Name.2`, … for a list parameter, as the SDK flattens it.
fn push_list<S: AsRef<str>>(params: &mut Vec<(String, String)>, name: &str, values: &[S]) {
    for (i, value) in values.iter().enumerate() {
        params.push(pair(format!("{name}.{}", i + 1), value.as_ref()));
    }
}

fn push_some(params: &mut Vec<(String, String)>, name: &str, value: &Option<String>) {
    if let Some(value) = value {
        params.push(pair(name, value));
    }
}

/// The request of QueryProductList: one page of an instance's products, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryProductList {
    /// IotInstanceId; `None` for the region's default instance.
    pub iot_instance_id: Option<String>,
    /// CurrentPage, from 1.
    pub current_page: u32,
    /// PageSize, 1 to [`MAX_PRODUCT_PAGE_SIZE`](crate::limits::MAX_PRODUCT_PAGE_SIZE).
    pub page_size: u32,
}

impl QueryProductList {
    /// The wire parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![pair("CurrentPage", self.current_page.to_string())];
        push_some(&mut params, "IotInstanceId", &self.iot_instance_id);
        params.push(pair("PageSize", self.page_size.to_string()));
        params
    }

    /// What the call is paced under (deep pages are slower).
    pub fn lane(&self) -> Lane {
        Lane::of_page(Action::QueryProductList, self.current_page.into(), self.page_size.into())
    }
}

/// The request of QueryDevice: one page of a product's devices, newest first. By
/// `CurrentPage` up to [`MAX_CURRENT_PAGE_ROWS`](crate::limits::MAX_CURRENT_PAGE_ROWS) rows;
/// past them, with the `NextToken` of the page before.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryDevice {
    /// ProductKey.
    pub product_key: String,
    /// IotInstanceId; `None` for the region's default instance.
    pub iot_instance_id: Option<String>,
    /// CurrentPage, from 1.
    pub current_page: u32,
    /// PageSize, 1 to [`MAX_DEVICE_PAGE_SIZE`](crate::limits::MAX_DEVICE_PAGE_SIZE).
    pub page_size: u32,
    /// NextToken of the page before; `None` (or empty) on the first page.
    pub next_token: Option<String>,
}

impl QueryDevice {
    /// The wire parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![pair("CurrentPage", self.current_page.to_string())];
        push_some(&mut params, "IotInstanceId", &self.iot_instance_id);
        if let Some(token) = self.next_token.as_ref().filter(|token| !token.is_empty()) {
            params.push(pair("NextToken", token));
        }
        params.push(pair("PageSize", self.page_size.to_string()));
        params.push(pair("ProductKey", &self.product_key));
        params
    }

    /// What the call is paced under (deep pages are slower).
    pub fn lane(&self) -> Lane {
        Lane::of_page(Action::QueryDevice, self.current_page.into(), self.page_size.into())
    }
}

/// The request of BatchQueryDeviceDetail: up to
/// [`MAX_DETAIL_NAMES`](crate::limits::MAX_DETAIL_NAMES) devices of one product.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchQueryDeviceDetail {
    /// ProductKey.
    pub product_key: String,
    /// DeviceName.N.
    pub device_names: Vec<String>,
    /// IotInstanceId; `None` for the region's default instance.
    pub iot_instance_id: Option<String>,
}

impl BatchQueryDeviceDetail {
    /// The wire parameters (`DeviceName.N` flattened, §2.2).
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = Vec::with_capacity(self.device_names.len() + 2);
        push_list(&mut params, "DeviceName", &self.device_names);
        push_some(&mut params, "IotInstanceId", &self.iot_instance_id);
        params.push(pair("ProductKey", &self.product_key));
        params
    }
}

/// The request of GetThingTopo: one page of a gateway's sub-devices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetThingTopo {
    /// ProductKey of the gateway.
    pub product_key: String,
    /// DeviceName of the gateway.
    pub device_name: String,
    /// IotInstanceId; `None` for the region's default instance.
    pub iot_instance_id: Option<String>,
    /// PageNo, from 1.
    pub page_no: u32,
    /// PageSize, 1 to [`MAX_TOPO_PAGE_SIZE`](crate::limits::MAX_TOPO_PAGE_SIZE).
    pub page_size: u32,
}

impl GetThingTopo {
    /// The wire parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![pair("DeviceName", &self.device_name)];
        push_some(&mut params, "IotInstanceId", &self.iot_instance_id);
        params.push(pair("PageNo", self.page_no.to_string()));
        params.push(pair("PageSize", self.page_size.to_string()));
        params.push(pair("ProductKey", &self.product_key));
        params
    }
}

/// The request of ListDistributedDevice: one page of the distributed devices. It has no
/// filter on the target: compare the target fields of the items.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListDistributedDevice {
    /// ProductKey.
    pub product_key: Option<String>,
    /// DeviceName.
    pub device_name: Option<String>,
    /// SourceInstanceId.
    pub source_instance_id: Option<String>,
    /// TargetUid.
    pub target_uid: Option<String>,
    /// CurrentPage, from 1.
    pub current_page: u32,
    /// PageSize, 1 to [`MAX_DISTRIBUTED_PAGE_SIZE`](crate::limits::MAX_DISTRIBUTED_PAGE_SIZE).
    pub page_size: u32,
}

impl ListDistributedDevice {
    /// The wire parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![pair("CurrentPage", self.current_page.to_string())];
        push_some(&mut params, "DeviceName", &self.device_name);
        params.push(pair("PageSize", self.page_size.to_string()));
        push_some(&mut params, "ProductKey", &self.product_key);
        push_some(&mut params, "SourceInstanceId", &self.source_instance_id);
        push_some(&mut params, "TargetUid", &self.target_uid);
        params
    }
}

/// The request of ListDistributedProduct: one page of the distributed products.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListDistributedProduct {
    /// ProductKey.
    pub product_key: Option<String>,
    /// SourceInstanceId.
    pub source_instance_id: Option<String>,
    /// TargetInstanceId.
    pub target_instance_id: Option<String>,
    /// TargetUid.
    pub target_uid: Option<String>,
    /// CurrentPage, from 1.
    pub current_page: u32,
    /// PageSize, 1 to [`MAX_DISTRIBUTED_PAGE_SIZE`](crate::limits::MAX_DISTRIBUTED_PAGE_SIZE).
    pub page_size: u32,
}

impl ListDistributedProduct {
    /// The wire parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![pair("CurrentPage", self.current_page.to_string())];
        params.push(pair("PageSize", self.page_size.to_string()));
        push_some(&mut params, "ProductKey", &self.product_key);
        push_some(&mut params, "SourceInstanceId", &self.source_instance_id);
        push_some(&mut params, "TargetInstanceId", &self.target_instance_id);
        push_some(&mut params, "TargetUid", &self.target_uid);
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

body!(
    /// QueryProductList's answer.
    ProductListBody {
        /// Data.
        data: ProductPage
    }
);
body!(
    /// BatchQueryDeviceDetail's answer.
    DeviceDetailBody {
        /// Data.
        data: DeviceDetails
    }
);
body!(
    /// GetThingTopo's answer.
    ThingTopoBody {
        /// Data.
        data: TopoPage
    }
);
body!(
    /// ListDistributedDevice's answer.
    DistributedDevicesBody {
        /// Data.
        data: DistributedDevices
    }
);
body!(
    /// ListDistributedProduct's answer.
    DistributedProductsBody {
        /// Data.
        data: DistributedProducts
    }
);

/// QueryProductList's `Data`: one page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProductPage {
    /// CurrentPage.
    pub current_page: u64,
    /// PageCount.
    pub page_count: u64,
    /// PageSize.
    pub page_size: u64,
    /// Total: products over all pages.
    pub total: u64,
    /// List.
    pub list: ProductList,
}

/// `List: { ProductInfo: [...] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProductList {
    /// The page's products, newest first.
    pub product_info: Vec<ProductInfo>,
}

/// A product as QueryProductList lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProductInfo {
    /// ProductKey.
    pub product_key: String,
    /// ProductName.
    pub product_name: String,
    /// NodeType: 0 a device, 1 a gateway.
    pub node_type: u32,
    /// AuthType: `secret` (a DeviceSecret per device), `id2`, `x509`.
    pub auth_type: String,
    /// DataFormat: 0 pass-through, 1 Alink JSON.
    pub data_format: u32,
    /// DeviceCount.
    pub device_count: u64,
    /// GmtCreate, ms since the epoch.
    pub gmt_create: i64,
    /// Description.
    pub description: String,
}

/// QueryDevice's answer: the page's paging fields are at the top level, beside `Data`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DevicePageBody {
    /// RequestId, Success, Code, ErrorMessage.
    #[serde(flatten)]
    pub common: Common,
    /// Data.
    pub data: DevicePage,
    /// NextToken: give it to ask for the next page; empty on the last.
    pub next_token: String,
    /// Page: the page's number.
    pub page: u64,
    /// PageCount.
    pub page_count: u64,
    /// PageSize.
    pub page_size: u64,
    /// Total: the product's devices.
    pub total: u64,
}

impl Body for DevicePageBody {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// QueryDevice's `Data: { DeviceInfo: [...] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DevicePage {
    /// The page's devices, newest first.
    pub device_info: Vec<DeviceInfo>,
}

/// A device as QueryDevice lists it. Times are strings here, unlike every other API's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceInfo {
    /// DeviceId (deprecated by the platform; IotId replaces it).
    pub device_id: String,
    /// DeviceName.
    pub device_name: String,
    /// DeviceSecret; empty for a product whose AuthType has none.
    pub device_secret: String,
    /// DeviceStatus: `ONLINE`, `OFFLINE`, `UNACTIVE`, `DISABLE`.
    pub device_status: String,
    /// DeviceType.
    pub device_type: String,
    /// GmtCreate, a date as text.
    pub gmt_create: String,
    /// GmtModified, a date as text.
    pub gmt_modified: String,
    /// IotId.
    pub iot_id: String,
    /// Nickname.
    pub nickname: String,
    /// ProductKey.
    pub product_key: String,
    /// UtcCreate, a UTC date as text.
    pub utc_create: String,
    /// UtcModified, a UTC date as text.
    pub utc_modified: String,
}

/// BatchQueryDeviceDetail's `Data: { Data: [...] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceDetails {
    /// The devices found; an unknown name is left out.
    pub data: Vec<DeviceDetail>,
}

/// A device as BatchQueryDeviceDetail describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceDetail {
    /// DeviceName.
    pub device_name: String,
    /// DeviceSecret.
    pub device_secret: String,
    /// FirmwareVersion.
    pub firmware_version: String,
    /// GmtActive, a date as text.
    pub gmt_active: String,
    /// GmtCreate, a date as text.
    pub gmt_create: String,
    /// IotId.
    pub iot_id: String,
    /// Nickname.
    pub nickname: String,
    /// NodeType: 0 a device, 1 a gateway.
    pub node_type: u32,
    /// ProductKey.
    pub product_key: String,
    /// ProductName.
    pub product_name: String,
    /// Region.
    pub region: String,
    /// Status: `ONLINE`, `OFFLINE`, `UNACTIVE`, `DISABLE`.
    pub status: String,
    /// UtcActive.
    pub utc_active: String,
    /// UtcCreate.
    pub utc_create: String,
}

/// GetThingTopo's `Data`: one page of a gateway's sub-devices.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopoPage {
    /// CurrentPage.
    pub current_page: u64,
    /// PageCount.
    pub page_count: u64,
    /// PageSize.
    pub page_size: u64,
    /// Total: sub-devices over all pages.
    pub total: u64,
    /// List.
    pub list: TopoList,
}

/// `List: { deviceInfo: [...] }`: `deviceInfo` is lower camel case.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TopoList {
    /// The page's sub-devices.
    #[serde(rename = "deviceInfo")]
    pub device_info: Vec<TopoDevice>,
}

/// A sub-device of a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopoDevice {
    /// ProductKey.
    pub product_key: String,
    /// DeviceName.
    pub device_name: String,
    /// IotId.
    pub iot_id: String,
}

/// ListDistributedDevice's `Data`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DistributedDevices {
    /// Total: devices matching the filter, over all pages.
    pub total: u64,
    /// Info.
    pub info: DistributedDeviceItems,
}

/// `Info: { items: [...] }`: `items` is lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributedDeviceItems {
    /// The page's devices.
    pub items: Vec<DistributedDevice>,
}

/// A device's distribution as ListDistributedDevice shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DistributedDevice {
    /// DeviceName.
    pub device_name: String,
    /// GmtCreate, ms since the epoch.
    pub gmt_create: i64,
    /// GmtModified, ms since the epoch.
    pub gmt_modified: i64,
    /// ProductKey.
    pub product_key: String,
    /// SourceInstanceId: where the device left from.
    pub source_instance_id: String,
    /// SourceInstanceName.
    pub source_instance_name: String,
    /// SourceRegion.
    pub source_region: String,
    /// SourceUid.
    pub source_uid: String,
    /// TargetAliyunId.
    pub target_aliyun_id: String,
    /// TargetInstanceId: where it went.
    pub target_instance_id: String,
    /// TargetInstanceName.
    pub target_instance_name: String,
    /// TargetRegion.
    pub target_region: String,
    /// TargetUid.
    pub target_uid: String,
}

/// ListDistributedProduct's `Data`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DistributedProducts {
    /// Total: products matching the filter, over all pages.
    pub total: u64,
    /// Info.
    pub info: DistributedProductItems,
}

/// `Info: { items: [...] }`: `items` is lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributedProductItems {
    /// The page's products.
    pub items: Vec<DistributedProduct>,
}

/// A product's distribution as ListDistributedProduct shows it: a
/// [`DistributedDevice`] without `DeviceName` and `GmtModified`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DistributedProduct {
    /// GmtCreate, ms since the epoch.
    pub gmt_create: i64,
    /// ProductKey.
    pub product_key: String,
    /// SourceInstanceId.
    pub source_instance_id: String,
    /// SourceInstanceName.
    pub source_instance_name: String,
    /// SourceRegion.
    pub source_region: String,
    /// SourceUid.
    pub source_uid: String,
    /// TargetAliyunId.
    pub target_aliyun_id: String,
    /// TargetInstanceId.
    pub target_instance_id: String,
    /// TargetInstanceName.
    pub target_instance_name: String,
    /// TargetRegion.
    pub target_region: String,
    /// TargetUid.
    pub target_uid: String,
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
    fn read_requests_flatten_in_key_order() {
        let detail = BatchQueryDeviceDetail {
            product_key: "pk".into(),
            device_names: vec!["d 1".into(), "d2".into()],
            iot_instance_id: Some("iot-a".into()),
        };
        assert_eq!(
            crate::encode::form_encode(&detail.params()),
            "DeviceName.1=d+1&DeviceName.2=d2&IotInstanceId=iot-a&ProductKey=pk"
        );
        let devices = QueryDevice {
            product_key: "pk".into(),
            current_page: 201,
            page_size: 50,
            next_token: Some("tok".into()),
            ..QueryDevice::default()
        };
        assert_eq!(
            crate::encode::form_encode(&devices.params()),
            "CurrentPage=201&NextToken=tok&PageSize=50&ProductKey=pk"
        );
        let listed = ListDistributedDevice {
            source_instance_id: Some("iot-b".into()),
            current_page: 1,
            page_size: 200,
            ..ListDistributedDevice::default()
        };
        assert_eq!(crate::encode::form_encode(&listed.params()), "CurrentPage=1&PageSize=200&SourceInstanceId=iot-b");
        let topo = GetThingTopo {
            product_key: "gw".into(),
            device_name: "g1".into(),
            page_no: 2,
            page_size: 50,
            ..GetThingTopo::default()
        };
        assert_eq!(crate::encode::form_encode(&topo.params()), "DeviceName=g1&PageNo=2&PageSize=50&ProductKey=gw");
    }

    #[test]
    fn deep_pages_have_their_own_lane_at_two_calls_a_second() {
        assert_eq!(Lane::of_page(Action::QueryDevice, 1999, 50), Lane::of(Action::QueryDevice));
        let deep = Lane::of_page(Action::QueryDevice, 2000, 50);
        assert!(deep.deep);
        assert_eq!((deep.qps(), Lane::of(Action::QueryDevice).qps()), (2.0, 50.0));
        assert!(Lane::of_page(Action::QueryProductList, 500, 200).deep);
        assert!(!Lane::of_page(Action::ListDistributedDevice, 1000, 200).deep, "no deep tier");
        let params = [("CurrentPage", "2000"), ("PageSize", "50")];
        let get = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        assert_eq!(Lane::of_params(Action::QueryDevice, get), deep);
        assert_eq!(Lane::of_params(Action::QueryDevice, |_| None), Lane::of(Action::QueryDevice));
        let default_size = |name: &str| (name == "CurrentPage").then_some("10000");
        assert!(Lane::of_params(Action::QueryDevice, default_size).deep, "10,000 pages of the default 10 rows");
        assert_eq!(Lane::all().count(), Action::ALL.len() + 2);
    }

    #[test]
    fn read_bodies_round_trip_with_the_official_casing() {
        let products: ProductListBody = round_trip(json!({
            "RequestId": "r1", "Success": true,
            "Data": {"CurrentPage": 1, "PageCount": 1, "PageSize": 10, "Total": 1,
                     "List": {"ProductInfo": [{"ProductKey": "pk", "ProductName": "meter", "NodeType": 1,
                         "AuthType": "secret", "DataFormat": 1, "DeviceCount": 3, "GmtCreate": 5, "Description": ""}]}}
        }));
        assert_eq!(products.data.list.product_info[0].node_type, 1);
        let devices: DevicePageBody = round_trip(json!({
            "RequestId": "r2", "Success": true,
            "Data": {"DeviceInfo": [{"DeviceId": "x", "DeviceName": "d1", "DeviceSecret": "s", "DeviceStatus": "UNACTIVE",
                "DeviceType": "", "GmtCreate": "c", "GmtModified": "m", "IotId": "i", "Nickname": "",
                "ProductKey": "pk", "UtcCreate": "uc", "UtcModified": "um"}]},
            "NextToken": "t", "Page": 1, "PageCount": 2, "PageSize": 1, "Total": 2
        }));
        assert_eq!((devices.next_token.as_str(), devices.data.device_info[0].device_secret.as_str()), ("t", "s"));
        let details: DeviceDetailBody = round_trip(json!({
            "RequestId": "r3", "Success": true,
            "Data": {"Data": [{"DeviceName": "d1", "DeviceSecret": "s", "FirmwareVersion": "", "GmtActive": "",
                "GmtCreate": "c", "IotId": "i", "Nickname": "", "NodeType": 0, "ProductKey": "pk",
                "ProductName": "meter", "Region": "cn-shanghai", "Status": "UNACTIVE", "UtcActive": "", "UtcCreate": "uc"}]}
        }));
        assert_eq!(details.data.data[0].region, "cn-shanghai");
        let topo: ThingTopoBody = round_trip(json!({
            "RequestId": "r4", "Success": true,
            "Data": {"CurrentPage": 1, "PageCount": 1, "PageSize": 50, "Total": 1,
                     "List": {"deviceInfo": [{"ProductKey": "sub", "DeviceName": "s1", "IotId": "i"}]}}
        }));
        assert_eq!(topo.data.list.device_info[0].device_name, "s1");
        let item = json!({"DeviceName": "d1", "GmtCreate": 5, "GmtModified": 6, "ProductKey": "pk",
            "SourceInstanceId": "iot-a", "SourceInstanceName": "a", "SourceRegion": "cn-shanghai", "SourceUid": "1",
            "TargetAliyunId": "1", "TargetInstanceId": "iot-b", "TargetInstanceName": "b",
            "TargetRegion": "cn-beijing", "TargetUid": "1"});
        let distributed: DistributedDevicesBody =
            round_trip(json!({"RequestId": "r5", "Success": true, "Data": {"Total": 1, "Info": {"items": [item]}}}));
        assert_eq!(distributed.data.info.items[0].target_instance_id, "iot-b");
        let mut product = item.clone();
        product.as_object_mut().unwrap().retain(|key, _| key != "DeviceName" && key != "GmtModified");
        let products: DistributedProductsBody =
            round_trip(json!({"RequestId": "r6", "Success": true, "Data": {"Total": 1, "Info": {"items": [product]}}}));
        assert_eq!(products.data.info.items[0].source_region, "cn-shanghai");
        // The wrong casing is not read: `Items`, `DeviceInfo` under List.
        let wrong: DistributedDevicesBody =
            serde_json::from_value(json!({"Success": true, "Data": {"Total": 1, "Info": {"Items": [{}]}}})).unwrap();
        assert!(wrong.data.info.items.is_empty());
        let wrong: ThingTopoBody =
            serde_json::from_value(json!({"Success": true, "Data": {"List": {"DeviceInfo": [{}]}}})).unwrap();
        assert!(wrong.data.list.device_info.is_empty());
    }

    #[test]
    fn action_names_and_limits() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
        assert_eq!(Action::from_name("DeleteDeviceDistributeJob"), Some(Action::DeleteDeviceDistributeJob));
        assert_eq!(Action::from_name("DeleteDevice"), None);
        assert_eq!(Action::CreateDeviceDistributeJob.qps(), 2.0);
        assert_eq!(Action::from_name("GetThingTopo"), Some(Action::GetThingTopo));
        assert_eq!((Action::GetThingTopo.qps(), Action::ListDistributedDevice.qps()), (500.0, 5.0));
    }
}
