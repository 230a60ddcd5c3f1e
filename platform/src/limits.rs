//! The platform's limits, each stated once (docs/wire.md §1): every crate that paces, plans,
//! schedules or emulates reads them here.

use crate::api::Action;

/// At most this many device and product distribution jobs of one account in status 0 or 1
/// (initializing, running) at once.
pub const MAX_JOBS_IN_FLIGHT: usize = 10;

/// At most this many devices in one CreateDeviceDistributeJob.
pub const MAX_DEVICES_PER_JOB: usize = 10_000;

/// The largest `PageSize` ListDeviceDistributeJob accepts.
pub const MAX_PAGE_SIZE: u32 = 200;

/// The per-account limit of `action`, in calls per second.
pub const fn qps(action: Action) -> f64 {
    match action {
        Action::CreateDeviceDistributeJob | Action::DeleteDeviceDistributeJob => 2.0,
        Action::QueryDeviceDistributeJob => 10.0,
        Action::QueryDeviceDistributeDetail | Action::ListDeviceDistributeJob => 5.0,
        Action::QueryDeviceProvisioning => 50.0,
    }
}
