//! `apply --dry-run`: the schedule a folder needs, and the least time the platform's limits
//! allow for it.

use devdist_platform::Action;

use crate::folder::Folder;

/// The calls apply makes (never DeleteDeviceDistributeJob: a distribution is not undone).
const CALLED: [Action; 5] = [
    Action::CreateDeviceDistributeJob,
    Action::QueryDeviceDistributeJob,
    Action::QueryDeviceDistributeDetail,
    Action::ListDeviceDistributeJob,
    Action::QueryDeviceProvisioning,
];

/// What carrying out a folder takes, at the least.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// All jobs.
    pub jobs: u64,
    /// Jobs apply creates.
    pub api: u64,
    /// Cross-account jobs for the console.
    pub console: u64,
    /// Devices in API jobs.
    pub api_devices: u64,
    /// Waves.
    pub waves: u64,
    /// Jobs in status 0/1 at once, at most.
    pub window: u64,
    /// The fewest calls per API (no retries, every job finished at its first poll, every
    /// device in its result file), with each API's limit after `--rate-scale`.
    pub calls: Vec<(&'static str, u64, f64)>,
    /// The least time in seconds the limits allow: the busiest API's calls over its limit.
    pub least_seconds: f64,
}

/// The schedule of `folder` with every limit multiplied by `rate_scale`.
pub fn schedule(folder: &Folder, rate_scale: f64) -> Schedule {
    let api = folder.jobs.iter().filter(|job| !job.console).count() as u64;
    let api_devices = folder.jobs.iter().filter(|job| !job.console).map(|job| job.devices.len() as u64).sum();
    let calls: Vec<(&'static str, u64, f64)> = CALLED
        .iter()
        .map(|&action| {
            let n = match action {
                Action::ListDeviceDistributeJob if api > 0 => 2, // the account's jobs in status 0 and 1
                Action::QueryDeviceProvisioning | Action::ListDeviceDistributeJob => 0,
                _ => api,
            };
            (action.name(), n, action.qps() * rate_scale)
        })
        .collect();
    let least_seconds = calls.iter().map(|&(_, n, qps)| n as f64 / qps).fold(0.0, f64::max);
    Schedule {
        jobs: folder.jobs.len() as u64,
        api,
        console: folder.jobs.len() as u64 - api,
        api_devices,
        waves: folder.jobs.last().map_or(0, |job| job.wave),
        window: folder.jobs_per_wave as u64,
        calls,
        least_seconds,
    }
}
