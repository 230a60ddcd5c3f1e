//! The devdist engine: everything between reading an inventory and writing a distribution.
//!
//! A run goes through these modules in order, one folder per stage:
//! - `plan` reads the plan and the instance catalog ([`Plan::load`]), reporting every problem
//!   at once;
//! - `check` reads records on one thread and checks them on many (stage 1);
//! - `settle` applies the rules that need every record (duplicates, blocked products,
//!   capacity; stage 2), in input order, whatever the thread count, through `spool`s;
//! - `jobs` cuts accepted devices into API jobs and waves;
//! - `emit` and `report` write the outputs into an `output` folder that is moved into place
//!   only when complete.
//!
//! `record` holds the record model every stage shares.
//!
//! ```no_run
//! use devdist_engine::{NoProgress, Options, run};
//!
//! let outcome = run("plan.toml".as_ref(), "out".as_ref(), &Options::default(), &NoProgress)?;
//! println!("{} accepted, {} rejected", outcome.report.counts.accepted, outcome.report.counts.rejected);
//! # Ok::<(), devdist_engine::Error>(())
//! ```
#![deny(missing_docs)]

// One module per stage (plan, check, settle, spool, jobs, emit, report, output); `record`,
// `dictionary`, `error`, `cancel`, `names` and `reason` are shared by every stage.
mod check;
mod emit;
mod jobs;
mod output;
mod plan;
mod report;
mod run;
mod settle;
mod spool;
mod verify;

mod cancel;
mod dictionary;
mod error;
mod location;
mod names;
mod reason;
mod record;

pub use cancel::{cancel, checkpoint};
pub use check::parallel::{NoProgress, Progress};
pub use check::signature::{Login, Mismatch, login_mac, sign, verify as verify_signature};
pub use error::{Error, PlanProblems, Problem};
pub use names::{check_device_name, check_device_secret, check_product_key, is_safe_name};
pub use output::{OutputFile, StagedFiles, abandon_outputs, refuse_overlap, rename};
pub use plan::catalog::{Catalog, EDITIONS, Instance, PUBLIC_INSTANCES};
pub use plan::keys::{INTERNAL_PLAN_KEYS, PLAN_EXAMPLE, PLAN_KEYS, PlanKey};
pub use plan::{Plan, Strategy};
pub use reason::{Explanation, Reason, Warning};
pub use report::{Counts, DestinationReport, InputReport, JobsReport, Mode, Report, RunInfo, read as read_report};
pub use report::{original_value, safe_cell};
/// report.html, and the kit other pages are drawn with (apply's page uses it).
pub mod html {
    pub use crate::report::html::{ConsoleJob, Page, RejectRow, bar_chart, console_table, esc, head, render, tiles};
}
pub use run::{DEFAULT_MEMORY_BUDGET, Options, Outcome, run};
pub use verify::verify;

/// The pipeline's stages one by one, for benchmarks and tests that time or probe a single
/// stage. `run` is the way to plan; these are its parts.
#[doc(hidden)]
pub mod stages {
    pub use crate::check::parallel::{check_all, open_inputs};
    pub use crate::check::{CheckedBatch, Secrets};
    pub use crate::dictionary::SharedDictionaries;
    pub use crate::jobs::{Jobs, cut as cut_jobs};
    pub use crate::record::JobGroup;
    pub use crate::settle::{Gather, Settled, settle};
    pub use crate::spool::Budget;
    pub use crate::spool::Scratch;
}
