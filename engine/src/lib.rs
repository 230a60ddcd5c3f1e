//! The devdist engine: everything between reading an inventory and writing a distribution.
//!
//! A run goes through these modules in order:
//! - [`Plan::load`] reads the plan and the instance catalog, reporting every problem at once;
//! - `pipeline` reads records on one thread and checks them on many (`rules`, stage 1);
//! - `global` applies the rules that need every record (duplicates, blocked products,
//!   capacity; stage 2), in input order, whatever the thread count;
//! - `jobs` cuts accepted devices into API jobs and waves;
//! - `grants`, `billing` and `report` write the outputs into an `output` folder that is moved
//!   into place only when complete.
//!
//! ```no_run
//! use devdist_engine::{NoProgress, Options, run};
//!
//! let outcome = run("plan.toml".as_ref(), "out".as_ref(), &Options::default(), &NoProgress)?;
//! println!("{} accepted, {} rejected", outcome.report.counts.accepted, outcome.report.counts.rejected);
//! # Ok::<(), devdist_engine::Error>(())
//! ```
#![deny(missing_docs)]

mod billing;
mod catalog;
mod emit;
mod error;
mod global;
mod grants;
mod intern;
mod jobs;
mod names;
mod output;
mod pipeline;
mod plan;
mod reason;
mod report;
mod report_html;
mod rules;
mod run;
mod signature;
mod spool;
mod synth;
mod verify;
mod warnings;

pub use catalog::{Catalog, Instance, PUBLIC_INSTANCES};
pub use error::Error;
pub use jobs::{JobRequest, TargetInstance};
pub use names::{check_device_name, check_device_secret, check_product_key, is_safe_name};
pub use output::{OutputFile, abandon_outputs, cancel};
pub use pipeline::{NoProgress, Progress};
pub use plan::{Plan, PlanProblems, Problem, Strategy};
pub use reason::{Explanation, Reason, Warning};
pub use report::{Counts, DestinationReport, InputReport, JobsReport, Report, RunInfo};
/// report.html and the apply page: renderers and the data they take.
pub mod html {
    pub use crate::report_html::{
        ApplyAccounting, ApplyCode, ApplyDevices, ApplyJob, ApplyJobs, ApplySummary, ConsoleJob, Page, RejectRow,
        apply_page, esc, render,
    };
}
pub use run::{DEFAULT_MEMORY_BUDGET, Options, Outcome, run};
pub use signature::{Login, Mismatch, sign, verify as verify_signature};
pub use synth::{GenerateOptions, Generated, generate, generate_as};
pub use verify::verify;

/// The pipeline's stages one by one, for benchmarks and tests that time or probe a single
/// stage. `run` is the way to plan; these are its parts.
#[doc(hidden)]
pub mod stages {
    pub use crate::global::{Budget, Gather, Settled, settle};
    pub use crate::jobs::{Jobs, cut as cut_jobs};
    pub use crate::pipeline::{check_all, open_inputs};
    pub use crate::rules::{CheckedBatch, Dictionaries};
    pub use crate::spool::Scratch;
}
