//! The plan folder's files, each spoken by one Rust type (docs/plan-folder.md), as cargo keeps
//! the files it writes and other tools read in `cargo-util-schemas`: engine writes these
//! types, apply, redrive and verify read them, and nobody restates a column or a key.
//!
//! - [`report`]: `report.json` ([`Report`], with the plan's limits) and `run.json`
//!   ([`RunInfo`]);
//! - [`jobs`]: a line of `jobs/requests.jsonl` ([`RequestLine`]: the job and the platform's
//!   own [`CreateDeviceDistributeJob`](devdist_platform::CreateDeviceDistributeJob)) and
//!   `jobs/jobs.csv`, the view of the same job for people ([`JobsRow`]);
//! - [`applied`]: what apply writes: a device's [`Outcome`], a row of `apply/results.csv`
//!   ([`ResultRow`]) and `apply/summary.json` ([`Summary`]);
//! - [`audited`]: what audit writes: a device's [`Verdict`], a row of `audit/audit.csv`
//!   ([`AuditRow`]) and `audit/summary.json` ([`AuditSummary`]).
//!
//! ```
//! use devdist_folder::{JobApi, RequestLine};
//! let line: RequestLine = serde_json::from_str(
//!     r#"{"job_id":"job-1","wave":1,"api":"CreateDeviceDistributeJob","request":{"ProductKey":"pk",
//!        "DeviceName":["d1"],"SourceInstanceId":"iot-a","Strategy":0,"TargetUid":"1",
//!        "TargetInstanceConfig":[{"TargetInstanceId":"iot-b"}]}}"#,
//! )?;
//! assert_eq!(line.api, JobApi::Create);
//! assert_eq!(line.jobs_row().target_instances, "iot-b");
//! # Ok::<(), serde_json::Error>(())
//! ```
#![deny(missing_docs)]

pub mod applied;
pub mod audited;
pub mod jobs;
pub mod report;

pub use applied::{APPLY_DIR, JOURNAL, Outcome, ResultRow, Summary};
pub use audited::{AUDIT_DIR, AuditRow, AuditSummary, Verdict};
pub use jobs::{JobApi, JobsRow, RequestLine};
pub use report::{Counts, DestinationReport, InputReport, JobsReport, Mode, OutputFile, Report, RunInfo};
