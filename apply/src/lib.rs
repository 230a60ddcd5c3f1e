//! `devdist apply`: carries out a plan folder's jobs on the platform — paced, journalled,
//! resumable after any crash, no job ever created twice, none skipped, every device ending in
//! exactly one outcome.
//!
//! - [`Folder::open`] reads `jobs/jobs.csv` and `jobs/requests.jsonl` of a folder that verifies;
//! - `journal` keeps `DIR/apply/journal.jsonl`, the only state that survives a crash, and the lock;
//! - [`apply`] drives the jobs through a sliding window over a [`Platform`];
//! - `results` writes `DIR/apply/results.csv` and `summary.json` from the journal alone, and
//!   [`verify`] re-derives them to check nothing was lost or changed;
//! - [`audit`] asks the platform where every device is now and writes `DIR/audit/`
//!   ([`verify_audit`] checks it).
//!
//! The platform is any [`Platform`]: `devdist_platform::Client` for the real one (or the
//! emulator), and with the `test-util` feature an in-memory `FakePlatform` and crash points.
//!
//! ```no_run
//! use devdist_apply::{NoProgress, Options, apply};
//! use devdist_platform::{Client, ClientConfig, Credentials};
//!
//! let client = Client::new(ClientConfig::new(Credentials::load(None)?))?;
//! let applied = apply("out".as_ref(), &client, &Options::default(), &NoProgress)?;
//! println!("{} distributed, {} failed", applied.tally.distributed, applied.tally.failed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod audit;
mod checkpoint;
mod client;
mod crash;
mod error;
#[cfg(feature = "test-util")]
mod fake;
mod folder;
mod journal;
mod platform;
mod readers;
mod redrive;
mod report;
mod results;
mod returning;
mod run;
mod schedule;
mod state;

pub use audit::{AuditProgress, Audited, Reader, audit, verify as verify_audit};
pub use crash::{CRASH_AT, Crash, CrashPoint};
pub use error::Error;
#[cfg(feature = "test-util")]
pub use fake::{FakeJob, FakePlatform, Faults};
pub use folder::{Folder, Names, PlannedJob};
pub use journal::{Binding, DeviceOutcome, End, Outcome, Record};
pub use platform::Platform;
pub use redrive::{Prepared, prepare as prepare_redrive};
pub use results::{CONSOLE_ACTION, verify};
pub use returning::{Filter as ReturnFilter, Returned, prepare as prepare_return};
pub use run::{Applied, NoProgress, Options, Progress, Snapshot, apply};
pub use schedule::{Schedule, schedule};
pub use state::Tally;
