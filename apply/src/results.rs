//! `DIR/apply/results.csv` and `DIR/apply/summary.json`, both computed from the journal alone,
//! and the apply accounting: every device of every job in exactly one outcome (or still
//! pending on the platform).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use devdist_engine::html::{ApplySummary, apply_page};
use serde::Deserialize;
use serde_json::json;

use crate::crash::{Crash, CrashPoint};
use crate::error::Error;
use crate::folder::Folder;
use crate::journal::{self, Outcome};
use crate::state::{Stage, States};

/// What the operator must do for a cross-account job.
pub const CONSOLE_ACTION: &str = "cross-account: create this job in the IoT console (Device distribution); \
the target account receives a verification code, valid 5 minutes";

/// One row of results.csv, borrowed from the plan folder and the journal's states: a
/// million-device apply builds a million of them at the end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Row<'a> {
    /// ProductKey.
    pub product_key: &'a str,
    /// DeviceName.
    pub device_name: &'a str,
    /// Plan job id.
    pub job_id: &'a str,
    /// The platform's JobId of the attempt that settled it (empty for console and refused).
    pub platform_job_id: &'a str,
    /// Target instances (written `;`-joined).
    pub targets: &'a [String],
    /// The outcome.
    pub outcome: Outcome,
    /// The platform's code.
    pub code: &'a str,
    /// The platform's message.
    pub message: &'a str,
}

/// Devices per outcome, and the accounting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Devices in every job of the plan.
    pub devices: u64,
    /// Distributed.
    pub distributed: u64,
    /// Failed.
    pub failed: u64,
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
            targets: &job.request.target_instance_ids,
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

/// results.csv's bytes.
pub(crate) fn render_results(rows: &[Row]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "product_key",
            "device_name",
            "job_id",
            "platform_job_id",
            "target_instances",
            "outcome",
            "code",
            "message",
        ])
        .expect("in memory");
    for row in rows {
        let targets = row.targets.join(";");
        writer
            .write_record([
                row.product_key,
                row.device_name,
                row.job_id,
                row.platform_job_id,
                &targets,
                row.outcome.name(),
                row.code,
                row.message,
            ])
            .expect("in memory");
    }
    writer.into_inner().expect("in memory")
}

/// summary.json's value.
pub(crate) fn summary(folder: &Folder, states: &States, rows: &[Row], tally: &Tally) -> serde_json::Value {
    let mut by_code: BTreeMap<(Outcome, &str), u64> = BTreeMap::new();
    for row in rows {
        *by_code.entry((row.outcome, row.code)).or_default() += 1;
    }
    let by_code: Vec<_> = by_code
        .into_iter()
        .map(|((outcome, code), devices)| json!({"outcome": outcome.name(), "code": code, "devices": devices}))
        .collect();
    let mut per_job = Vec::with_capacity(folder.jobs.len());
    let (mut created, mut finished, mut interrupted) = (0, 0, 0);
    for (job, state) in folder.jobs.iter().zip(&states.jobs) {
        let count = |outcome| state.settled.iter().filter(|(_, s)| s.outcome == outcome).count();
        let status = match &state.stage {
            Stage::Console => "console",
            Stage::Queued if state.attempt == 0 => "queued",
            Stage::Queued => "redrive_queued",
            Stage::Intent { .. } => "creating",
            Stage::Created { .. } => "in_flight",
            Stage::Done => "finished",
        };
        created += state.platform_ids.len();
        finished += usize::from(state.stage == Stage::Done);
        interrupted += state.interrupted;
        let last = state.platform_ids.iter().max_by_key(|(attempt, _)| **attempt).map(|(_, id)| id.as_str());
        per_job.push(json!({
            "job_id": job.job_id,
            "platform_job_id": last,
            "status": status,
            "attempts": state.platform_ids.len(),
            "devices": job.request.device_names.len(),
            "distributed": count(Outcome::Distributed),
            "failed": count(Outcome::Failed),
            "unknown": count(Outcome::Unknown),
        }));
    }
    let console_work: Vec<_> = folder
        .jobs
        .iter()
        .filter(|job| job.console)
        .map(|job| {
            json!({
                "job_id": job.job_id,
                "product_key": job.request.product_key,
                "source_instance": job.request.source_instance_id,
                "target_uid": job.request.target_uid,
                "target_instances": job.request.target_instance_ids.join(";"),
                "devices": job.request.device_names.len(),
                "action": CONSOLE_ACTION,
            })
        })
        .collect();
    let api = folder.jobs.iter().filter(|job| !job.console).count();
    json!({
        "jobs": {
            "total": folder.jobs.len(),
            "api": api,
            "console": folder.jobs.len() - api,
            "created": created,
            "finished": finished,
            "interrupted": interrupted,
        },
        "devices": {
            "total": tally.devices,
            "distributed": tally.distributed,
            "failed": tally.failed,
            "unknown": tally.unknown,
            "console": tally.console,
            "pending": tally.pending,
        },
        "by_code": by_code,
        "per_job": per_job,
        "console_work": console_work,
        "accounting": {
            "devices_in_jobs": tally.devices,
            "outcomes": tally.outcomes(),
            "pending": tally.pending,
            "holds": tally.holds(),
        },
        "redrive_command": format!("devdist redrive {} --out NEW", folder.dir.display()),
    })
}

fn render_summary(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("a summary serialises");
    bytes.push(b'\n');
    bytes
}

/// report.html: the page people look at, drawn from summary.json's value alone.
fn render_report(value: &serde_json::Value) -> Vec<u8> {
    let summary = ApplySummary::deserialize(value).expect("summary() has every field the page reads");
    apply_page(&summary).into_bytes()
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
    Ok(problems)
}
