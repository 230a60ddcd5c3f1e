//! One run of `plan` or `validate`, start to finish: load the plan, check every record in
//! parallel, apply the global rules, cut jobs, write every output, prove the accounting, and
//! move the output folder into place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use devdist_formats::Format;

use crate::check::Secrets;
use crate::check::parallel::{Progress, check_all, open_inputs};
use crate::dictionary::SharedDictionaries;
use crate::emit::grants::{Slots, write_products};
use crate::emit::warnings::Warnings;
use crate::emit::{Outputs, write_accepted};
use crate::error::Error;
use crate::jobs;
use crate::output::{OutputDir, refuse_overlap};
use crate::plan::Plan;
use crate::reason::Reason;
use crate::report::html::{ConsoleJob, PAGE_ROWS, Page};
use crate::report::{Counts, DestinationReport, InputReport, JobsReport, Mode, Report, RunInfo, write_rejects};
use crate::settle::{Gather, settle};
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

/// Runs the plan at `plan_path` into `out_dir`.
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
    let inventories = open_inputs(&plan)?;
    let formats: Vec<&'static str> = inventories.iter().map(|inventory| inventory.format_name()).collect();
    let runtime_names: Vec<Vec<String>> = inventories
        .iter()
        .map(|inventory| {
            let layout = inventory.layout();
            layout.runtime_columns().iter().map(|&c| layout.columns()[c].clone()).collect()
        })
        .collect();
    let bytes: Vec<u64> =
        plan.inputs.iter().map(|input| std::fs::metadata(&input.path).map_or(0, |m| m.len())).collect();
    let threads = options.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|err| Error::invocation(format!("cannot start {threads} threads: {err}")))?;

    pool.install(|| {
        let mut seconds = BTreeMap::new();
        let mut phase = Instant::now();
        let mut lap = |name: &'static str, seconds: &mut BTreeMap<&'static str, f64>| {
            seconds.insert(name, phase.elapsed().as_secs_f64());
            phase = Instant::now();
        };

        let mut out = OutputDir::create(out_dir, options.force)?;
        let expected: u64 = plan
            .inputs
            .iter()
            .zip(&bytes)
            .zip(&formats)
            .map(|((input, &bytes), &format)| match format {
                "parquet" => devdist_formats::parquet_row_count(&input.path).unwrap_or(0).saturating_mul(160),
                _ => bytes,
            })
            .sum();
        // The inputs stay open while the spools are written.
        let open_files = crate::spool::open_file_limit().saturating_sub(plan.inputs.len() as u64);
        let budget = Budget::new(options.memory_budget, expected, threads, open_files);
        let scratch = out.scratch(&budget)?;
        let dictionaries = SharedDictionaries::default();
        let mut gather = Gather::new(&plan, &scratch, budget);
        let memory = budget.records_in_flight;
        let secrets = if options.redact_secrets { Secrets::fingerprint() } else { Secrets::Keep };
        let each = &mut |batch| gather.add(batch);
        check_all(&plan, inventories, &dictionaries, &secrets, threads, memory, progress, each)?;
        lap("read_and_check", &mut seconds);
        crate::cancel::checkpoint()?;
        let mut settled = settle(&plan, gather, dictionaries, &scratch)?;
        if !options.dry_run {
            settled.reduce_runs(&scratch)?;
        }
        let interned = &settled.interned;
        let jobs = jobs::cut(&plan, interned, &settled.groups);
        let slots = Slots::new(&plan, interned);
        let products = slots.products(&plan, interned, &settled.groups);
        lap("global_rules_and_jobs", &mut seconds);

        let rejected = write_rejects(&mut out, &plan, &settled.rejects, budget.read_buffer)?;
        let (rejected_per_file, rejected_per_reason) = (&rejected.per_file, &rejected.per_reason);
        let warnings = Warnings::count(&plan, &settled)?;
        if !options.dry_run {
            let outputs = Outputs { format: options.format, redact_secrets: options.redact_secrets };
            write_accepted(&mut out, &plan, &settled, &jobs, &slots, &scratch, outputs)?;
            write_products(&mut out, &plan, &slots, &products, options.format)?;
            jobs::write_csv(&mut out, &plan, interned, &jobs)?;
        }

        let inputs: Vec<InputReport> = plan
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| InputReport {
                path: input.name.clone(),
                format: formats[i].to_string(),
                bytes: bytes[i],
                records: settled.files[i].records,
                accepted: settled.accepted_per_file[i],
                rejected: rejected_per_file[i],
            })
            .collect();
        let mut runtime: BTreeMap<String, u64> = BTreeMap::new();
        for (names, file) in runtime_names.iter().zip(&settled.files) {
            for (name, cells) in names.iter().zip(&file.runtime_cells) {
                *runtime.entry(name.clone()).or_default() += cells;
            }
        }
        let counts = Counts {
            read: inputs.iter().map(|i| i.records).sum(),
            accepted: settled.accepted(),
            rejected: rejected_per_reason.iter().sum(),
            rejected_by_code: Reason::ALL
                .iter()
                .map(|r| (r, rejected_per_reason[*r as usize]))
                .filter(|(r, n)| *n > 0 || !r.redrive_only())
                .map(|(r, n)| (r.code().to_string(), n))
                .collect(),
        };

        let destinations = slots
            .slots
            .iter()
            .zip(&products)
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
            .collect();
        let console = jobs.jobs.iter().filter(|job| job.console).count() as u64;
        let console_jobs: Vec<ConsoleJob> = jobs
            .jobs
            .iter()
            .filter(|job| job.console)
            .take(PAGE_ROWS)
            .map(|job| ConsoleJob {
                job_id: job.id().to_string(),
                product_key: interned.product_key(job.group.product).to_string(),
                source_instance: plan.catalog.get(job.group.source).id.clone(),
                target_uid: job.destination(interned).uid.to_string(),
                targets: crate::jobs::target_names(&plan, job.destination(interned).targets),
                devices: job.devices,
            })
            .collect();
        let mut report = Report {
            mode: if options.dry_run { Mode::Validate } else { Mode::Plan },
            account: plan.account.clone(),
            inputs,
            warnings: warnings.counts().into_iter().map(|(warning, n)| (warning.code().to_string(), n)).collect(),
            runtime_columns_left_out: runtime,
            destinations,
            jobs: JobsReport {
                jobs: jobs.jobs.len() as u64,
                api: jobs.jobs.len() as u64 - console,
                console,
                waves: jobs.waves() as u64,
                devices_per_job: plan.devices_per_job as u64,
                jobs_per_wave: plan.jobs_per_wave as u64,
            },
            counts,
            outputs: out.files(),
        };
        // report.html lists every other output; report.json then lists report.html too.
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
        lap("write", &mut seconds);

        let total = started.elapsed().as_secs_f64();
        seconds.insert("total", total);
        let input_bytes: u64 = bytes.iter().sum();
        let run = RunInfo {
            tool: "devdist".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            threads,
            records: report.counts.read,
            bytes: input_bytes,
            seconds: seconds.into_iter().map(|(phase, s)| (phase.to_string(), s)).collect(),
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
