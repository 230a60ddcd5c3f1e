//! `devdist apply`: carries out a plan folder's jobs on the platform — paced, journalled,
//! resumable after any crash, no job ever created twice, none skipped, every device ending in
//! exactly one outcome.
//!
//! - [`Folder::open`] reads `jobs/jobs.csv` and `jobs/requests.jsonl` of a folder that verifies;
//! - `journal` keeps `DIR/apply/journal.jsonl`, the only state that survives a crash, and the lock;
//! - [`apply`] drives the jobs through a sliding window over a [`Platform`];
//! - `results` writes `DIR/apply/results.csv` and `summary.json` from the journal alone, and
//!   [`verify`] re-derives them to check nothing was lost or changed.
//!
//! ```no_run
//! use devdist_apply::{FakePlatform, Faults, NoProgress, Options, apply};
//!
//! let platform = FakePlatform::new(Faults::default());
//! let applied = apply("out".as_ref(), &platform, &Options::default(), &NoProgress)?;
//! println!("{} distributed, {} failed", applied.tally.distributed, applied.tally.failed);
//! # Ok::<(), devdist_apply::Error>(())
//! ```
#![deny(missing_docs)]

mod client;
mod crash;
mod error;
mod fake;
mod folder;
mod journal;
mod platform;
mod results;
mod run;
mod schedule;
mod state;

pub use crash::{Crash, POINTS as CRASH_POINTS};
pub use error::Error;
pub use fake::{FakeJob, FakePlatform, Faults};
pub use folder::{Folder, MAX_JOBS_IN_FLIGHT, PlannedJob};
pub use journal::{DeviceOutcome, Outcome, Record};
pub use platform::{CallError, CreateJob, DeviceResult, ErrorKind, JobInfo, ListFilter, Platform};
pub use results::{CONSOLE_ACTION, Tally, verify};
pub use run::{Applied, CLOCK_SKEW_MS, NoProgress, Options, Progress, Snapshot, apply};
pub use schedule::{Schedule, schedule};
