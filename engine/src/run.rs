//! One run of `plan` or `validate`, start to finish: load the plan, check every record in
//! parallel, apply the global rules, cut jobs, write every output, prove the accounting, and
//! move the output folder into place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use devdist_formats::Format;

use crate::check::Secrets;
use crate::check::parallel::{Progress, check_all, open_inputs};
use crate::dictionary::{Dictionaries, SharedDictionaries};
use crate::emit::grants::{Products, Slots, write_products};
use crate::emit::warnings::{Warnings, list_warned};
use crate::emit::{Outputs, write_accepted};
use crate::error::Error;
use crate::jobs;
use crate::location::returns_home;
use crate::output::{OutputDir, refuse_applied, refuse_overlap};
use crate::plan::Plan;
use crate::reason::Reason;
use crate::report::html::{ConsoleJob, PAGE_ROWS, Page};
use crate::report::{
    Counts, DestinationReport, InputReport, JobsReport, Mode, Rejected, Report, RunInfo, write_rejects,
};
use crate::settle::{Gather, Settled, settle};
use crate::spool::Budget;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Format of manifests and billing reassignments.
    pub format: Format,
    /// Replace an existing output folder.
    pub force: bool,
    /// Leave the device_secret column out of device manifests.
    pub redact_secrets: bool,
    /// Validate only: write report.json, run.json and rejects.csv.
    pub dry_run: bool,
    /// Memory, in bytes, that spooled records may take before they go to disk (beside DIR).
    /// The outputs are the same at any budget.
    pub memory_budget: u64,
}

/// The default memory budget: 256 MiB. A run's peak memory is about the budget plus 56
/// bytes per job, ~100 per device named as a gateway, and the open output tables.
pub const DEFAULT_MEMORY_BUDGET: u64 = 256 << 20;

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            format: Format::Csv,
            force: false,
            redact_secrets: false,
            dry_run: false,
            memory_budget: DEFAULT_MEMORY_BUDGET,
        }
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The report written to report.json.
    pub report: Report,
    /// The timings written to run.json.
    pub run: RunInfo,
    /// The output folder.
    pub out: PathBuf,
    /// What the user should know that is not an error (another process's DIR replaced, say).
    pub notes: Vec<String>,
}

/// What is known of each inventory before its records are read.
struct InputFacts {
    /// `csv` or `parquet`, per input.
    formats: Vec<&'static str>,
    /// The runtime columns' names, per input.
    runtime_names: Vec<Vec<String>>,
    /// File sizes, per input.
    bytes: Vec<u64>,
}

impl InputFacts {
    /// Bytes the records will take in the spools, roughly: a CSV's size, or 160 per Parquet
    /// row (its encoded size says little). Only sizes the buckets; never changes an output.
    fn expected_bytes(&self, plan: &Plan) -> u64 {
        let sizes = plan.inputs.iter().zip(&self.bytes).zip(&self.formats);
        sizes
            .map(|((input, &bytes), &format)| match format {
                "parquet" => devdist_formats::parquet_row_count(&input.path).unwrap_or(0).saturating_mul(160),
                _ => bytes,
            })
            .sum()
    }
}

/// Per phase, seconds since the last lap.
struct Laps {
    seconds: BTreeMap<String, f64>,
    phase: Instant,
}

impl Laps {
    fn lap(&mut self, name: &str) {
        self.seconds.insert(name.to_string(), self.phase.elapsed().as_secs_f64());
        self.phase = Instant::now();
    }
}

/// Runs the plan at `plan_path` into `out_dir`, phase by phase: load and refuse what cannot
/// work; read and check every record (stage 1); settle (stage 2) and cut jobs; write every
/// output; build and prove the report; write report.html, report.json and run.json; move the
/// folder into place.
pub fn run(plan_path: &Path, out_dir: &Path, options: &Options, progress: &dyn Progress) -> Result<Outcome, Error> {
    let started = Instant::now();
    let plan = Plan::load(plan_path)?;
    let mut read: Vec<&Path> = vec![plan_path];
    read.extend(plan.inputs.iter().map(|input| input.path.as_path()));
    read.extend(plan.catalog.file());
    refuse_overlap(out_dir, &read)?;
    if std::fs::symlink_metadata(out_dir).is_ok() && !options.force {
        let shown = devdist_formats::shown(out_dir);
        return Err(Error::invocation(format!("{shown}: already exists; pass --force to replace it")));
    }
    refuse_applied(out_dir)?;
    let inventories = open_inputs(&plan)?;
    let facts = InputFacts {
        formats: inventories.iter().map(|inventory| inventory.format_name()).collect(),
        runtime_names: inventories
            .iter()
            .map(|inventory| {
                let layout = inventory.layout();
                layout.runtime_columns().iter().map(|&c| layout.columns()[c].clone()).collect()
            })
            .collect(),
        bytes: plan.inputs.iter().map(|input| std::fs::metadata(&input.path).map_or(0, |m| m.len())).collect(),
    };
    let threads = options.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|err| Error::invocation(format!("cannot start {threads} threads: {err}")))?;

    pool.install(|| {
        let mut laps = Laps { seconds: BTreeMap::new(), phase: Instant::now() };
        let mut out = OutputDir::create(out_dir, options.force)?;
        // The inputs stay open while the spools are written.
        let open_files = crate::spool::open_file_limit().saturating_sub(plan.inputs.len() as u64);
        let budget = Budget::new(options.memory_budget, facts.expected_bytes(&plan), threads, open_files);
        let scratch = out.scratch(&budget)?;
        let dictionaries = SharedDictionaries::default();
        let mut gather = Gather::new(&plan, &scratch, budget);
        let memory = budget.records_in_flight;
        let secrets = if options.redact_secrets { Secrets::fingerprint() } else { Secrets::Keep };
        let each = &mut |batch| gather.add(batch);
        check_all(&plan, inventories, &dictionaries, &secrets, threads, memory, progress, each)?;
        laps.lap("read_and_check");
        crate::cancel::checkpoint()?;
        let mut settled = settle(&plan, gather, dictionaries, &scratch)?;
        let warnings = Warnings::count(&plan, &settled)?;
        // A dry run merges the accepted devices only to list the warned ones.
        if !options.dry_run || !warnings.none() {
            settled.reduce_runs(&scratch)?;
        }
        let interned = &settled.interned;
        let jobs = jobs::cut(&plan, interned, &settled.groups);
        let slots = Slots::new(&plan, interned);
        let products = slots.products(&plan, interned, &settled.groups);
        laps.lap("global_rules_and_jobs");

        let rejected = write_rejects(&mut out, &plan, &settled.rejects, budget.read_buffer)?;
        if !options.dry_run {
            let outputs = Outputs { format: options.format, redact_secrets: options.redact_secrets };
            write_accepted(&mut out, &plan, &settled, &jobs, &slots, &scratch, outputs)?;
            write_products(&mut out, &plan, &slots, &products, options.format)?;
            jobs::write_csv(&mut out, &plan, interned, &jobs)?;
        } else {
            list_warned(&mut out, &plan, &settled, &jobs, &warnings)?;
        }

        let inputs = input_reports(&plan, &facts, &settled, &rejected);
        let mut report = Report {
            mode: if options.dry_run { Mode::Validate } else { Mode::Plan },
            account: plan.account.clone(),
            counts: counts(&inputs, &settled, &rejected),
            inputs,
            warnings: warnings.counts().into_iter().map(|(warning, n)| (warning.code().to_string(), n)).collect(),
            runtime_columns_left_out: runtime_columns(&facts, &settled),
            columns_that_may_be_fields: facts
                .runtime_names
                .iter()
                .flatten()
                .filter_map(|name| Some((name.clone(), devdist_formats::Field::may_mean(name)?.name().to_string())))
                .collect(),
            destinations: destinations(&plan, interned, &slots, &products, &settled),
            returning_home: returning_home(&plan, interned, &settled),
            jobs: jobs_report(&plan, &jobs),
            outputs: out.files(),
        };
        // report.html lists every other output; report.json then lists report.html too.
        let console_jobs = console_jobs(&plan, interned, &jobs);
        let page = Page { report: &report, first_rejects: &rejected.first, console_jobs: &console_jobs };
        let html = crate::report::html::render(&page);
        let html_sha256 = out.write_raw("report.html", html.as_bytes())?;
        out.add("report.html", devdist_formats::Written { rows: 0, sha256: html_sha256 });
        report.outputs = out.files();
        let problems = report.accounting_problems();
        if !problems.is_empty() {
            return Err(Error::Accounting(problems.join("; ")));
        }
        drop(settled);
        let spilled_bytes = scratch.spilled();
        drop(scratch);
        let json = serde_json::to_vec_pretty(&report).expect("a report serialises");
        let report_sha256 = out.write_raw("report.json", &[json.as_slice(), b"\n"].concat())?;
        laps.lap("write");

        let total = started.elapsed().as_secs_f64();
        laps.seconds.insert("total".to_string(), total);
        let input_bytes: u64 = facts.bytes.iter().sum();
        let run = RunInfo {
            tool: "devdist".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            threads,
            records: report.counts.read,
            bytes: input_bytes,
            seconds: laps.seconds,
            records_per_second: report.counts.read as f64 / total.max(1e-9),
            megabytes_per_second: input_bytes as f64 / 1e6 / total.max(1e-9),
            report_sha256,
            memory_budget: options.memory_budget,
            spilled_bytes,
        };
        let json = serde_json::to_vec_pretty(&run).expect("run info serialises");
        out.write_raw("run.json", &[json.as_slice(), b"\n"].concat())?;
        let notes = out.commit()?.into_iter().collect();
        Ok(Outcome { report, run, out: out_dir.to_path_buf(), notes })
    })
}

/// Each inventory's records: read, accepted, rejected.
fn input_reports(plan: &Plan, facts: &InputFacts, settled: &Settled, rejected: &Rejected) -> Vec<InputReport> {
    plan.inputs
        .iter()
        .enumerate()
        .map(|(i, input)| InputReport {
            path: input.name.clone(),
            format: facts.formats[i].to_string(),
            bytes: facts.bytes[i],
            records: settled.files[i].records,
            accepted: settled.accepted_per_file[i],
            rejected: rejected.per_file[i],
        })
        .collect()
}

/// Non-empty cells per runtime column name, over every input.
fn runtime_columns(facts: &InputFacts, settled: &Settled) -> BTreeMap<String, u64> {
    let mut runtime: BTreeMap<String, u64> = BTreeMap::new();
    for (names, file) in facts.runtime_names.iter().zip(&settled.files) {
        for (name, cells) in names.iter().zip(&file.runtime_cells) {
            *runtime.entry(name.clone()).or_default() += cells;
        }
    }
    runtime
}

/// The totals, and rejects per code (every code but redrive's own, zeros included).
fn counts(inputs: &[InputReport], settled: &Settled, rejected: &Rejected) -> Counts {
    Counts {
        read: inputs.iter().map(|i| i.records).sum(),
        accepted: settled.accepted(),
        rejected: rejected.per_reason.iter().sum(),
        rejected_by_code: Reason::ALL
            .iter()
            .map(|r| (r, rejected.per_reason[*r as usize]))
            .filter(|(r, n)| *n > 0 || !r.redrive_only())
            .map(|(r, n)| (r.code().to_string(), n))
            .collect(),
    }
}

/// Whether every accepted device that reaches slot (`uid`, `target`) is returning home there.
fn only_returns(plan: &Plan, interned: &Dictionaries, settled: &Settled, uid: &str, target: u32) -> bool {
    let mut reaching = settled.groups.keys().filter(|group| {
        let destination = &interned.destinations()[group.destination as usize];
        *destination.uid == *uid && plan.target_sets.get(destination.targets).contains(&target)
    });
    reaching.clone().next().is_some() && reaching.all(|group| returns_home(group.billed, group.source, target))
}

/// Per destination account and instance: devices, products and quota headroom.
fn destinations(
    plan: &Plan,
    interned: &Dictionaries,
    slots: &Slots,
    products: &[Products],
    settled: &Settled,
) -> Vec<DestinationReport> {
    slots
        .slots
        .iter()
        .zip(products)
        // A slot only returning devices reach is their home, not a destination.
        .filter(|&(&(uid, target), products)| {
            !products.is_empty() || !only_returns(plan, interned, settled, uid, target)
        })
        .map(|(&(uid, target), products)| {
            let instance = plan.catalog.get(target);
            let distinct: BTreeSet<&str> = products.keys().map(|(product_key, _)| *product_key).collect();
            DestinationReport {
                uid: uid.to_string(),
                instance: instance.id.clone(),
                region: instance.region.clone(),
                devices: products.values().sum(),
                products: distinct.len() as u64,
                quota_headroom_before: instance.headroom(),
                quota_headroom_after: settled.headroom[target as usize],
            }
        })
        .collect()
}

/// Devices returning to their home instance, by home: a specified-region device away from
/// home whose one target is home, or a nearest-access one with home among its candidates.
fn returning_home(plan: &Plan, interned: &Dictionaries, settled: &Settled) -> BTreeMap<String, u64> {
    let mut returning = BTreeMap::new();
    for (group, &n) in &settled.groups {
        let targets = plan.target_sets.get(interned.destinations()[group.destination as usize].targets);
        if targets.iter().any(|&t| returns_home(group.billed, group.source, t)) {
            *returning.entry(plan.catalog.get(group.source).id.clone()).or_default() += n;
        }
    }
    returning
}

/// The jobs and the limits they were cut with.
fn jobs_report(plan: &Plan, jobs: &jobs::Jobs) -> JobsReport {
    let console = jobs.jobs.iter().filter(|job| job.console).count() as u64;
    JobsReport {
        jobs: jobs.jobs.len() as u64,
        api: jobs.jobs.len() as u64 - console,
        console,
        waves: jobs.waves() as u64,
        devices_per_job: plan.devices_per_job as u64,
        jobs_per_wave: plan.jobs_per_wave as u64,
    }
}

/// The first cross-account jobs, for report.html.
fn console_jobs(plan: &Plan, interned: &Dictionaries, jobs: &jobs::Jobs) -> Vec<ConsoleJob> {
    let console = jobs.jobs.iter().filter(|job| job.console).take(PAGE_ROWS);
    console
        .map(|job| ConsoleJob {
            job_id: job.id().to_string(),
            product_key: interned.product_key(job.group.product).to_string(),
            source_instance: job.from(plan, interned).instance.to_string(),
            target_uid: job.destination(interned).uid.to_string(),
            targets: crate::jobs::target_names(plan, job.destination(interned).targets),
            devices: job.devices,
        })
        .collect()
}
