//! The platform's limits, each stated once (docs/wire.md §1): every crate that paces, plans,
//! schedules or emulates reads them here (`Action::qps` gives each call its rate).

/// At most this many device and product distribution jobs of one account in status 0 or 1
/// (initializing, running) at once.
pub const MAX_JOBS_IN_FLIGHT: usize = 10;

/// At most this many devices in one CreateDeviceDistributeJob.
pub const MAX_DEVICES_PER_JOB: usize = 10_000;

/// The largest `PageSize` ListDeviceDistributeJob accepts.
pub const MAX_PAGE_SIZE: u32 = 200;

/// CreateDeviceDistributeJob and DeleteDeviceDistributeJob, calls per second per account.
pub const CREATE_QPS: f64 = 2.0;
/// QueryDeviceDistributeJob, calls per second per account.
pub const QUERY_QPS: f64 = 10.0;
/// QueryDeviceDistributeDetail and ListDeviceDistributeJob, calls per second per account.
pub const DETAIL_AND_LIST_QPS: f64 = 5.0;
/// QueryDeviceProvisioning, calls per second per account.
pub const PROVISIONING_QPS: f64 = 50.0;
