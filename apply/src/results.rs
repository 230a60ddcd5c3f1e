//! `DIR/apply/results.csv` and `DIR/apply/summary.json`, both computed from the journal alone,
//! and the apply accounting: every device of every job in exactly one outcome (or still
//! pending on the platform).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use devdist_folder::applied::{Accounting, CodeCount, ConsoleWork, Devices, JobSummary, Jobs, Progress};
use devdist_folder::{ResultRow, Summary};
use devdist_platform::is_retryable_code;

use crate::crash::{Crash, CrashPoint};
use crate::error::Error;
use crate::folder::Folder;
use crate::journal::{self, Outcome};
use crate::state::{Stage, States};

/// What the operator must do for a cross-account job.
pub const CONSOLE_ACTION: &str = "cross-account: create this job in the IoT console (Device distribution); \
the target account receives a verification code, valid 5 minutes";

/// Devices per outcome, and the accounting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Devices in every job of the plan.
    pub devices: u64,
    /// Distributed.
    pub distributed: u64,
    /// Failed.
    pub failed: u64,
    /// Of the failed, those whose code is worth another try ([`is_retryable_code`]): what
    /// `devdist redrive` re-sends with the unknown ones. Counted in the final tally only
    /// ([`Applied`](crate::Applied)'s), not in a progress snapshot's.
    pub failed_retryable: u64,
    /// Unknown.
    pub unknown: u64,
    /// Console.
    pub console: u64,
    /// Not settled yet (still on the platform or not yet created).
    pub pending: u64,
}

impl Tally {
    /// Devices with an outcome.
    pub fn outcomes(&self) -> u64 {
        self.distributed + self.failed + self.unknown + self.console
    }

    /// Counts one device.
    pub fn count(&mut self, outcome: Outcome) {
        *match outcome {
            Outcome::Distributed => &mut self.distributed,
            Outcome::Failed => &mut self.failed,
            Outcome::Unknown => &mut self.unknown,
            Outcome::Console => &mut self.console,
        } += 1;
    }

    /// Every device is in exactly one outcome or pending.
    pub fn holds(&self) -> bool {
        self.devices == self.outcomes() + self.pending
    }
}

/// One row of results.csv, borrowed from the plan folder and the journal's states: a
/// million-device apply builds a million of them at the end.
pub(crate) type Row<'a> = ResultRow<&'a str>;

/// Every row, sorted by (product_key, device_name, job_id), and the tally.
pub(crate) fn rows<'a>(folder: &'a Folder, states: &'a States) -> Result<(Vec<Row<'a>>, Tally), Error> {
    let mut rows = Vec::with_capacity(folder.devices() as usize);
    let mut tally = Tally { devices: folder.devices(), ..Tally::default() };
    for (job, state) in folder.jobs.iter().zip(&states.jobs) {
        let row = |device: &'a str, platform_job_id: &'a str, outcome, code: &'a str, message: &'a str| Row {
            product_key: &job.request.product_key,
            device_name: device,
            job_id: &job.job_id,
            platform_job_id,
            target_instances: &job.targets,
            outcome,
            code,
            message,
        };
        if state.stage == Stage::Console {
            rows.extend(
                job.request.device_names.iter().map(|device| row(device, "", Outcome::Console, "", CONSOLE_ACTION)),
            );
            tally.console += job.request.device_names.len() as u64;
            continue;
        }
        for (attempt, settled) in &state.settled {
            let platform_job_id = state.platform_ids.get(attempt).map_or("", String::as_str);
            rows.push(row(&settled.device, platform_job_id, settled.outcome, &settled.code, &settled.message));
            tally.count(settled.outcome);
            if settled.outcome == Outcome::Failed && is_retryable_code(&settled.code) {
                tally.failed_retryable += 1;
            }
        }
        tally.pending += state.remaining.len() as u64;
    }
    rows.sort_unstable();
    let mut seen = HashSet::with_capacity(rows.len());
    for row in &rows {
        if !seen.insert((&row.product_key, &row.device_name, &row.job_id)) {
            return Err(Error::Stopped(format!(
                "accounting: {}/{} has two outcomes in job {} (a bug in devdist)",
                row.product_key, row.device_name, row.job_id
            )));
        }
    }
    if !tally.holds() {
        return Err(Error::Stopped(format!(
            "accounting: {} devices in jobs, but {} outcomes + {} pending (a bug in devdist)",
            tally.devices,
            tally.outcomes(),
            tally.pending
        )));
    }
    Ok((rows, tally))
}

/// results.csv's bytes. Every cell goes through [`devdist_engine::safe_cell`], as in
/// rejects.csv: the platform's text (JobId, code, message) is not ours, and a terminal escape or
/// a `=HYPERLINK(…)` in it must not act when the file is `cat` or opened in a spreadsheet.
/// [`crate::redrive`] reads it back with [`devdist_engine::original_value`].
pub(crate) fn render_results(rows: &[Row]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(Row::COLUMNS).expect("in memory");
    for row in rows {
        for cell in row.cells() {
            writer.write_field(devdist_engine::safe_cell(cell).as_bytes()).expect("in memory");
        }
        writer.write_record(None::<&[u8]>).expect("in memory");
    }
    writer.into_inner().expect("in memory")
}

/// summary.json's value.
pub(crate) fn summary(folder: &Folder, states: &States, rows: &[Row], tally: &Tally) -> Summary {
    let mut by_code: BTreeMap<(Outcome, &str), u64> = BTreeMap::new();
    for row in rows {
        *by_code.entry((row.outcome, row.code)).or_default() += 1;
    }
    let by_code = by_code
        .into_iter()
        .map(|((outcome, code), devices)| CodeCount { code: code.to_string(), devices, outcome })
        .collect();
    let mut per_job = Vec::with_capacity(folder.jobs.len());
    let (mut created, mut finished, mut interrupted) = (0, 0, 0);
    for (job, state) in folder.jobs.iter().zip(&states.jobs) {
        let count = |outcome| state.settled.iter().filter(|(_, s)| s.outcome == outcome).count() as u64;
        let status = match &state.stage {
            Stage::Console => Progress::Console,
            Stage::Queued if state.attempt == 0 => Progress::Queued,
            Stage::Queued => Progress::RedriveQueued,
            Stage::Intent => Progress::Creating,
            Stage::Created { .. } => Progress::InFlight,
            Stage::Done => Progress::Finished,
        };
        created += state.platform_ids.len() as u64;
        finished += u64::from(state.stage == Stage::Done);
        interrupted += u64::from(state.interrupted);
        let last = state.platform_ids.iter().max_by_key(|(attempt, _)| **attempt).map(|(_, id)| id.clone());
        per_job.push(JobSummary {
            attempts: state.platform_ids.len() as u64,
            devices: job.request.device_names.len() as u64,
            distributed: count(Outcome::Distributed),
            failed: count(Outcome::Failed),
            job_id: job.job_id.clone(),
            platform_job_id: last,
            status,
            unknown: count(Outcome::Unknown),
        });
    }
    let console_work = folder
        .jobs
        .iter()
        .filter(|job| job.console)
        .map(|job| ConsoleWork {
            action: CONSOLE_ACTION.to_string(),
            devices: job.request.device_names.len() as u64,
            job_id: job.job_id.clone(),
            product_key: job.request.product_key.clone(),
            source_instance: job.request.source_instance_id.clone(),
            target_instances: job.targets.clone(),
            target_uid: job.request.target_uid.clone(),
        })
        .collect();
    let api = folder.jobs.iter().filter(|job| !job.console).count() as u64;
    let total = folder.jobs.len() as u64;
    Summary {
        accounting: Accounting {
            devices_in_jobs: tally.devices,
            holds: tally.holds(),
            outcomes: tally.outcomes(),
            pending: tally.pending,
        },
        by_code,
        console_work,
        devices: Devices {
            console: tally.console,
            distributed: tally.distributed,
            failed: tally.failed,
            pending: tally.pending,
            total: tally.devices,
            unknown: tally.unknown,
        },
        jobs: Jobs { api, console: total - api, created, finished, interrupted, total },
        per_job,
        // DIR, not the path this run was given: the folder's files say the same wherever it
        // is and however it is reached (`./out`, an absolute path, after `mv`).
        redrive_command: "devdist redrive DIR --out NEW".to_string(),
    }
}

fn render_summary(summary: &Summary) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(summary).expect("a summary serialises");
    bytes.push(b'\n');
    bytes
}

/// report.html: the page people look at, drawn from the summary alone.
fn render_report(summary: &Summary) -> Vec<u8> {
    crate::report::page(summary).into_bytes()
}

/// Writes results.csv, summary.json and report.html atomically; returns the tally.
pub(crate) fn write(folder: &Folder, states: &States, crash: &Crash) -> Result<Tally, Error> {
    let (rows, tally) = rows(folder, states)?;
    let dir = journal::apply_dir(&folder.dir);
    journal::write_atomic(&dir.join("results.csv"), &render_results(&rows), crash, CrashPoint::Results)?;
    let summary = summary(folder, states, &rows, &tally);
    journal::write_atomic(&dir.join("summary.json"), &render_summary(&summary), &Crash::never(), CrashPoint::Results)?;
    journal::write_atomic(&dir.join("report.html"), &render_report(&summary), &Crash::never(), CrashPoint::Results)?;
    Ok(tally)
}

/// Files apply writes into `DIR/apply`; `lock` is what applies before the folder lock left.
const APPLY_FILES: [&str; 5] = ["journal.jsonl", "results.csv", "summary.json", "report.html", "lock"];

/// What `DIR/apply` holds that apply did not write there. A temporary file of an interrupted
/// write (`results.tmp`, …) is not one: the next apply removes it.
fn strangers(dir: &Path) -> Result<Vec<String>, Error> {
    let folder = journal::apply_dir(dir);
    let entries = std::fs::read_dir(&folder).map_err(|err| Error::folder(&folder, format!("cannot list: {err}")))?;
    let mut found = Vec::new();
    for entry in entries {
        let name = entry.map_err(|err| Error::folder(&folder, format!("cannot list: {err}")))?.file_name();
        let known = name.to_str().is_some_and(|name| {
            APPLY_FILES.contains(&name) || ["results.tmp", "summary.tmp", "report.tmp"].contains(&name)
        });
        if !known {
            found.push(format!("apply/{}: not a file apply writes", devdist_formats::shown(&name)));
        }
    }
    found.sort();
    Ok(found)
}

/// Everything wrong with `DIR/apply`: results.csv, summary.json and report.html must be exactly what the
/// journal records, and the accounting must hold. Empty when it verifies.
pub fn verify(dir: &Path) -> Result<Vec<String>, Error> {
    let folder = Folder::read(dir)?;
    let journal_path = journal::apply_dir(dir).join("journal.jsonl");
    let records = journal::read(dir)?;
    let states = States::replay(&folder, &records, &journal_path)?;
    let mut problems = Vec::new();
    let (rows, tally) = match rows(&folder, &states) {
        Ok(found) => found,
        Err(err) => return Ok(vec![format!("apply/journal.jsonl: {err}")]),
    };
    let summary = summary(&folder, &states, &rows, &tally);
    for (name, expected) in [
        ("results.csv", render_results(&rows)),
        ("summary.json", render_summary(&summary)),
        ("report.html", render_report(&summary)),
    ] {
        match crate::folder::read_file(dir, &format!("apply/{name}")) {
            Ok(bytes) if bytes == expected => {}
            Ok(_) => problems.push(format!(
                "apply/{name}: differs from what apply/journal.jsonl records (changed, or apply was killed \
                 after its last write: run the same `devdist apply` again)"
            )),
            Err(err) => problems.push(err.to_string()),
        }
    }
    if tally.pending > 0 {
        problems.push(format!("apply: {} devices still pending (apply has not finished)", tally.pending));
    }
    problems.extend(strangers(dir)?);
    Ok(problems)
}
