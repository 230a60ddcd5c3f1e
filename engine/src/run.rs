//! One run of `plan` or `validate`, start to finish: load the plan, check every record in
//! parallel, apply the global rules, cut jobs, write every output, prove the accounting, and
//! move the output folder into place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use devdist_formats::{Format, Written};
use rayon::prelude::*;

use crate::error::Error;
use crate::global::{Candidates, settle};
use crate::grants;
use crate::jobs::{self, Jobs};
use crate::output::OutputDir;
use crate::pipeline::{Progress, check_all, open_inputs};
use crate::plan::Plan;
use crate::reason::Reason;
use crate::report::{Counts, DestinationReport, InputReport, JobsReport, Report, RunInfo, write_rejects};
use crate::rules::{Dictionaries, Reject};
use crate::{billing, warnings};

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
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            format: Format::Csv,
            force: false,
            redact_secrets: false,
            dry_run: false,
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
}

/// Runs the plan at `plan_path` into `out_dir`.
pub fn run(plan_path: &Path, out_dir: &Path, options: &Options, progress: &dyn Progress) -> Result<Outcome, Error> {
    let started = Instant::now();
    let plan = Plan::load(plan_path)?;
    if out_dir.exists() && !options.force {
        return Err(Error::invocation(format!("{}: already exists; pass --force to replace it", out_dir.display())));
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

        let dictionaries = Dictionaries::default();
        let batches = check_all(&plan, inventories, &dictionaries, threads, progress)?;
        let candidates = Candidates::new(batches, dictionaries);
        lap("read_and_check", &mut seconds);
        crate::output::checkpoint()?;
        let settled = settle(&plan, &candidates);
        let jobs = jobs::cut(&plan, &candidates, &settled.accepted);
        let destinations = grants::by_destination(&plan, &candidates, &settled.accepted);
        lap("global_rules_and_jobs", &mut seconds);

        let stage1 = candidates.batches().iter().flat_map(|batch| batch.rejects.iter());
        let rejects = merge_by_seq(stage1, settled.rejects.iter());
        let mut out = OutputDir::create(out_dir, options.force)?;
        write_rejects(&mut out, &plan, &rejects)?;
        if !options.dry_run {
            grants::write(&mut out, &plan, &candidates, &jobs, &destinations, options.format, options.redact_secrets)?;
            write_jobs(&mut out, &plan, &candidates, &jobs)?;
            billing::write(&mut out, &plan, &candidates, &settled.accepted, options.format)?;
        }

        let mut inputs: Vec<InputReport> = plan
            .inputs
            .iter()
            .zip(&bytes)
            .zip(&formats)
            .map(|((input, &bytes), format)| InputReport {
                path: input.name.clone(),
                format: format.to_string(),
                bytes,
                records: 0,
                accepted: 0,
                rejected: 0,
            })
            .collect();
        let mut runtime: BTreeMap<String, u64> = BTreeMap::new();
        for batch in candidates.batches() {
            inputs[batch.file as usize].records += batch.records;
        }
        for batch in candidates.batches() {
            for (name, cells) in runtime_names[batch.file as usize].iter().zip(&batch.runtime_cells) {
                *runtime.entry(name.clone()).or_default() += cells;
            }
        }
        for &at in &settled.accepted {
            inputs[candidates.get(at).file as usize].accepted += 1;
        }
        let mut by_code: BTreeMap<String, u64> = Reason::ALL.iter().map(|r| (r.code().to_string(), 0)).collect();
        for reject in &rejects {
            inputs[reject.file as usize].rejected += 1;
            *by_code.entry(reject.reason.code().to_string()).or_default() += 1;
        }
        let counts = Counts {
            read: inputs.iter().map(|i| i.records).sum(),
            accepted: settled.accepted.len() as u64,
            rejected: rejects.len() as u64,
            rejected_by_code: by_code,
        };
        prove_accounting(&inputs, &counts)?;

        let destinations = destinations
            .iter()
            .map(|((uid, target), devices)| {
                let instance = plan.catalog.get(*target);
                DestinationReport {
                    uid: uid.to_string(),
                    instance: instance.id.clone(),
                    region: instance.region.clone(),
                    devices: devices.len() as u64,
                    products: grants::product_count(&candidates, devices),
                    quota_headroom_after: settled.headroom[*target as usize],
                }
            })
            .collect();
        let console = jobs.jobs.iter().filter(|job| job.console).count() as u64;
        let report = Report {
            mode: if options.dry_run { "validate" } else { "plan" }.to_string(),
            account: plan.account.clone(),
            inputs,
            warnings: warnings::count(&plan, &candidates, &settled.accepted)
                .into_iter()
                .map(|(warning, n)| (warning.code().to_string(), n))
                .collect(),
            runtime_columns_left_out: runtime,
            destinations,
            jobs: JobsReport {
                jobs: jobs.jobs.len() as u64,
                api: jobs.jobs.len() as u64 - console,
                console,
                waves: jobs.waves() as u64,
            },
            counts,
            outputs: out.files(),
        };
        let json = serde_json::to_vec_pretty(&report).expect("a report serialises");
        let report_sha256 = out.write_raw("report.json", &[json.as_slice(), b"\n"].concat())?;
        lap("write", &mut seconds);

        let total = started.elapsed().as_secs_f64();
        seconds.insert("total", total);
        let input_bytes: u64 = bytes.iter().sum();
        let run = RunInfo {
            tool: "devdist",
            version: env!("CARGO_PKG_VERSION"),
            threads,
            records: report.counts.read,
            bytes: input_bytes,
            seconds,
            records_per_second: report.counts.read as f64 / total.max(1e-9),
            megabytes_per_second: input_bytes as f64 / 1e6 / total.max(1e-9),
            report_sha256,
        };
        let json = serde_json::to_vec_pretty(&run).expect("run info serialises");
        out.write_raw("run.json", &[json.as_slice(), b"\n"].concat())?;
        out.commit()?;
        Ok(Outcome { report, run, out: out_dir.to_path_buf() })
    })
}

fn merge_by_seq<'a>(a: impl Iterator<Item = &'a Reject>, b: impl Iterator<Item = &'a Reject>) -> Vec<&'a Reject> {
    let mut all: Vec<&Reject> = a.chain(b).collect();
    all.sort_by_key(|reject| reject.seq);
    all
}

fn prove_accounting(inputs: &[InputReport], counts: &Counts) -> Result<(), Error> {
    for input in inputs {
        if input.records != input.accepted + input.rejected {
            return Err(Error::Accounting(format!(
                "{}: {} records read, but {} accepted + {} rejected",
                input.path, input.records, input.accepted, input.rejected
            )));
        }
    }
    if counts.read != counts.accepted + counts.rejected {
        return Err(Error::Accounting(format!(
            "{} records read, but {} accepted + {} rejected",
            counts.read, counts.accepted, counts.rejected
        )));
    }
    Ok(())
}

fn write_jobs(out: &mut OutputDir, plan: &Plan, candidates: &Candidates, jobs: &Jobs) -> Result<(), Error> {
    use devdist_formats::Value;
    let path = "jobs/jobs.csv";
    let columns = [
        "job_id",
        "wave",
        "api",
        "product_key",
        "source_instance",
        "strategy",
        "target_instances",
        "target_uid",
        "devices",
    ]
    .map(crate::output::text);
    let fail = |err| Error::output(&out.staging().join(path), err);
    let mut table = out.table(path, Format::Csv, &columns, crate::output::Access::Normal)?;
    for job in &jobs.jobs {
        let targets: Vec<&str> =
            plan.target_sets.get(job.targets).iter().map(|&t| plan.catalog.get(t).id.as_str()).collect();
        let targets = targets.join(";");
        let row = [
            Value::Str(&job.id),
            Value::Int(job.wave as u64),
            Value::Str(if job.console { "console" } else { "CreateDeviceDistributeJob" }),
            Value::Str(&job.product_key),
            Value::Str(&plan.catalog.get(job.source).id),
            Value::Str(job.strategy.name()),
            Value::Str(&targets),
            Value::Str(&job.target_uid),
            Value::Int(job.devices.len() as u64),
        ];
        table.write_row(&row).map_err(fail)?;
    }
    let written = table.finish().map_err(fail)?;
    out.add(path, written);
    // One small file per job: serialised and created in parallel, listed in job order.
    let requests: Vec<Result<(String, Written), Error>> = jobs
        .jobs
        .par_iter()
        .map(|job| {
            let mut json = serde_json::to_vec_pretty(&job.request(plan, candidates)).expect("a job request serialises");
            json.push(b'\n');
            let path = format!("jobs/{}.json", job.id);
            let sha256 = out.write_raw(&path, &json)?;
            Ok((path, Written { rows: job.devices.len() as u64, sha256 }))
        })
        .collect();
    for request in requests {
        let (path, written) = request?;
        out.add(&path, written);
    }
    Ok(())
}
