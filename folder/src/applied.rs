//! What `devdist apply` writes into `DIR/apply/` besides its journal: a device's [`Outcome`],
//! a row of `results.csv` ([`ResultRow`]) and `summary.json` ([`Summary`]). apply derives all
//! of them from its journal alone; redrive and the apply page read them back typed.
//!
//! Struct fields are in alphabetical order where that is the order summary.json has always
//! had (it was written from sorted maps), so folders applied before keep verifying.

use serde::{Deserialize, Serialize};

/// The folder inside a plan folder that apply writes, relative to it.
pub const APPLY_DIR: &str = "apply";

/// apply's journal, relative to the plan folder: what the platform did for this folder. A
/// folder holding one is never replaced or re-planned (`--force` included): without it, a
/// later apply could create every job again.
pub const JOURNAL: &str = "apply/journal.jsonl";

/// What became of one device in one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The platform reports code 200 for it, or QueryDeviceProvisioning shows it at a target.
    Distributed,
    /// The platform reports another code.
    Failed,
    /// Neither could be established.
    Unknown,
    /// Cross-account: the operator creates it in the console.
    Console,
}

impl Outcome {
    /// The word in results.csv and summary.json.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Distributed => "distributed",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
            Outcome::Console => "console",
        }
    }
}

/// One row of `apply/results.csv`: one device of one job. `S` is `&str` for apply, which
/// borrows every text from the plan and the journal (a million-device apply writes a million),
/// and `String` for a reader.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResultRow<S = String> {
    /// ProductKey.
    pub product_key: S,
    /// DeviceName.
    pub device_name: S,
    /// The plan's job id.
    pub job_id: S,
    /// The platform's JobId of the attempt that settled it (empty for console and refused).
    pub platform_job_id: S,
    /// The job's target instances, `;`-joined.
    pub target_instances: S,
    /// The outcome.
    pub outcome: Outcome,
    /// The platform's code (`200` when distributed).
    pub code: S,
    /// The platform's message, or how the outcome was established.
    pub message: S,
}

impl<S: AsRef<str>> ResultRow<S> {
    /// results.csv's header, in column order.
    pub const COLUMNS: [&'static str; 8] =
        ["product_key", "device_name", "job_id", "platform_job_id", "target_instances", "outcome", "code", "message"];

    /// The row's cells, in [`COLUMNS`](Self::COLUMNS) order.
    pub fn cells(&self) -> [&str; 8] {
        [
            self.product_key.as_ref(),
            self.device_name.as_ref(),
            self.job_id.as_ref(),
            self.platform_job_id.as_ref(),
            self.target_instances.as_ref(),
            self.outcome.name(),
            self.code.as_ref(),
            self.message.as_ref(),
        ]
    }
}

/// `apply/summary.json`: an apply's figures, from which its page is drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Every device in a job has exactly one outcome (or is pending).
    pub accounting: Accounting,
    /// Devices per (outcome, platform code).
    pub by_code: Vec<CodeCount>,
    /// The cross-account jobs the operator creates in the console.
    pub console_work: Vec<ConsoleWork>,
    /// Devices by outcome.
    pub devices: Devices,
    /// Jobs by how far they got.
    pub jobs: Jobs,
    /// One entry per job, in execution order.
    pub per_job: Vec<JobSummary>,
    /// The command that re-drives the failed and unknown devices.
    pub redrive_command: String,
}

/// Devices in jobs against outcomes recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    /// Devices in every job of the plan.
    pub devices_in_jobs: u64,
    /// Whether `devices_in_jobs = outcomes + pending`.
    pub holds: bool,
    /// Devices with an outcome.
    pub outcomes: u64,
    /// Devices not settled yet.
    pub pending: u64,
}

/// Devices with one outcome and platform code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeCount {
    /// The platform's code.
    pub code: String,
    /// Devices.
    pub devices: u64,
    /// The outcome.
    pub outcome: Outcome,
}

/// A cross-account job: what to enter in the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleWork {
    /// What to do.
    pub action: String,
    /// Devices in the job.
    pub devices: u64,
    /// The plan's job id.
    pub job_id: String,
    /// ProductKey.
    pub product_key: String,
    /// SourceInstanceId.
    pub source_instance: String,
    /// The target instances, `;`-joined.
    pub target_instances: String,
    /// TargetUid.
    pub target_uid: String,
}

/// Devices of an apply, by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Devices {
    /// Console-only.
    pub console: u64,
    /// Distributed.
    pub distributed: u64,
    /// Failed.
    pub failed: u64,
    /// Not settled yet.
    pub pending: u64,
    /// Devices in every job.
    pub total: u64,
    /// Unknown.
    pub unknown: u64,
}

/// Jobs of an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jobs {
    /// Jobs the API creates.
    pub api: u64,
    /// Cross-account jobs.
    pub console: u64,
    /// Platform jobs created (every attempt counts).
    pub created: u64,
    /// Jobs whose every device is settled.
    pub finished: u64,
    /// Attempts that ended interrupted.
    pub interrupted: u64,
    /// All jobs.
    pub total: u64,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// Cross-account: the console's.
    Console,
    /// Not created yet.
    Queued,
    /// An interrupted attempt's devices wait for the next attempt.
    RedriveQueued,
    /// The Create's intent is journalled, its answer not.
    Creating,
    /// Created, not finished.
    InFlight,
    /// Every device settled.
    Finished,
}

impl Progress {
    /// The word in summary.json.
    pub fn name(self) -> &'static str {
        match self {
            Progress::Console => "console",
            Progress::Queued => "queued",
            Progress::RedriveQueued => "redrive_queued",
            Progress::Creating => "creating",
            Progress::InFlight => "in_flight",
            Progress::Finished => "finished",
        }
    }
}

/// One job's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    /// Platform jobs created for it.
    pub attempts: u64,
    /// Devices in the job.
    pub devices: u64,
    /// Distributed.
    pub distributed: u64,
    /// Failed.
    pub failed: u64,
    /// The plan's job id.
    pub job_id: String,
    /// The platform's JobId of its last attempt; `null` until one was created.
    pub platform_job_id: Option<String>,
    /// Where it stands.
    pub status: Progress,
    /// Unknown.
    pub unknown: u64,
}
