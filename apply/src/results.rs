//! `DIR/apply/results.csv` and `DIR/apply/summary.json`, both computed from the journal alone,
//! and the apply accounting: every device of every job in exactly one outcome (or still
//! pending on the platform).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use devdist_folder::applied::{Accounting, CodeCount, ConsoleWork, Devices, JobSummary, Jobs, Progress};
use devdist_folder::{ResultRow, Summary};
use devdist_platform::is_retryable_code;

use crate::crash::{Crash, CrashPoint};
use crate::error::Error;
use crate::folder::Folder;
use crate::journal::{self, Outcome};
use crate::state::{Stage, States, Tally};

/// What the operator must do for a cross-account job.
pub const CONSOLE_ACTION: &str = "cross-account: create this job in the IoT console (Device distribution); \
the target account receives a verification code, valid 5 minutes";

/// One row of results.csv, borrowed from the plan folder and the journal's states.
pub(crate) type Row<'a> = ResultRow<&'a str>;

/// One row of results.csv by reference (8 bytes, where a [`Row`] has 136): the job's index
/// and, for an API job, the index of the device among its settled ones; for a console job,
/// among its planned ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowAt {
    job: u32,
    at: u32,
}

/// Every row of results.csv in its order, by reference, and the tally.
pub(crate) struct Rows<'s, 'a> {
    folder: &'a Folder,
    states: &'s States<'a>,
    order: Vec<RowAt>,
    /// Devices per outcome.
    pub tally: Tally,
}

impl<'s, 'a> Rows<'s, 'a> {
    /// Every row, sorted by (product_key, device_name, job_id), and the tally; an error when a
    /// device has two outcomes in one job or the accounting does not hold.
    pub(crate) fn of(folder: &'a Folder, states: &'s States<'a>) -> Result<Rows<'s, 'a>, Error> {
        let mut order = Vec::with_capacity(folder.devices() as usize);
        let mut tally = Tally { devices: folder.devices(), ..Tally::default() };
        for (i, (job, state)) in folder.jobs.iter().zip(&states.jobs).enumerate() {
            let job_index = i as u32;
            if state.stage == Stage::Console {
                let devices = job.devices.len();
                order.extend((0..devices as u32).map(|at| RowAt { job: job_index, at }));
                tally.console += devices as u64;
                continue;
            }
            for (at, settled) in state.settled.iter().enumerate() {
                order.push(RowAt { job: job_index, at: at as u32 });
                tally.count(settled.outcome);
                if settled.outcome == Outcome::Failed && is_retryable_code(states.texts.get(settled.text).0) {
                    tally.failed_retryable += 1;
                }
            }
            tally.pending += state.remaining.len() as u64;
        }
        let mut rows = Rows { folder, states, order, tally };
        fn key<'r>(row: &Row<'r>) -> (&'r str, &'r str, &'r str) {
            (row.product_key, row.device_name, row.job_id)
        }
        let mut order = std::mem::take(&mut rows.order);
        order.sort_unstable_by(|a, b| key(&rows.row(*a)).cmp(&key(&rows.row(*b))));
        if let Some(pair) = order.windows(2).find(|pair| key(&rows.row(pair[0])) == key(&rows.row(pair[1]))) {
            let row = rows.row(pair[0]);
            return Err(Error::Stopped(format!(
                "accounting: {}/{} has two outcomes in job {} (a bug in devdist)",
                row.product_key, row.device_name, row.job_id
            )));
        }
        rows.order = order;
        let tally = &rows.tally;
        if !tally.holds() {
            return Err(Error::Stopped(format!(
                "accounting: {} devices in jobs, but {} outcomes + {} pending (a bug in devdist)",
                tally.devices,
                tally.outcomes(),
                tally.pending
            )));
        }
        Ok(rows)
    }

    /// The row `at` stands for.
    fn row(&self, at: RowAt) -> Row<'s> {
        let (job, state) = (&self.folder.jobs[at.job as usize], &self.states.jobs[at.job as usize]);
        let row = |device: &'s str, platform_job_id: &'s str, outcome, code: &'s str, message: &'s str| Row {
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
            return row(job.devices.get(at.at as usize), "", Outcome::Console, "", CONSOLE_ACTION);
        }
        let settled = &state.settled[at.at as usize];
        let platform_job_id = state
            .platform_ids
            .iter()
            .find(|(attempt, _)| *attempt == settled.attempt)
            .map_or("", |(_, id)| id.as_str());
        let (code, message) = self.states.texts.get(settled.text);
        row(job.devices.get(settled.device as usize), platform_job_id, settled.outcome, code, message)
    }

    /// Writes results.csv. Every cell goes through [`devdist_engine::safe_cell`], as in
    /// rejects.csv: the platform's text (JobId, code, message) is not ours, and a terminal
    /// escape or a `=HYPERLINK(…)` in it must not act when the file is `cat` or opened in a
    /// spreadsheet. [`crate::redrive`] reads it back with [`devdist_engine::original_value`].
    pub(crate) fn render(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(Row::COLUMNS)?;
        for &at in &self.order {
            for cell in self.row(at).cells() {
                writer.write_field(devdist_engine::safe_cell(cell).as_bytes())?;
            }
            writer.write_record(None::<&[u8]>)?;
        }
        writer.flush()
    }
}

/// summary.json's value.
pub(crate) fn summary(folder: &Folder, states: &States, tally: &Tally) -> Summary {
    let mut by_code: BTreeMap<(Outcome, &str), u64> = BTreeMap::new();
    for (job, state) in folder.jobs.iter().zip(&states.jobs) {
        if state.stage == Stage::Console {
            *by_code.entry((Outcome::Console, "")).or_default() += job.devices.len() as u64;
        }
        for settled in &state.settled {
            *by_code.entry((settled.outcome, states.texts.get(settled.text).0)).or_default() += 1;
        }
    }
    by_code.retain(|_, devices| *devices > 0);
    let by_code = by_code
        .into_iter()
        .map(|((outcome, code), devices)| CodeCount { code: code.to_string(), devices, outcome })
        .collect();
    let mut per_job = Vec::with_capacity(folder.jobs.len());
    let (mut created, mut finished, mut interrupted) = (0, 0, 0);
    for (job, state) in folder.jobs.iter().zip(&states.jobs) {
        let count = |outcome| state.settled.iter().filter(|s| s.outcome == outcome).count() as u64;
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
        let last = state.platform_ids.iter().max_by_key(|(attempt, _)| *attempt).map(|(_, id)| id.clone());
        per_job.push(JobSummary {
            attempts: state.platform_ids.len() as u64,
            devices: job.devices.len() as u64,
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
            devices: job.devices.len() as u64,
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

fn render_summary(summary: &Summary, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, summary)?;
    out.write_all(b"\n")
}

/// report.html: the page people look at, drawn from the summary alone.
fn render_report(summary: &Summary, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(crate::report::page(summary).as_bytes())
}

/// The states of `folder`'s whole journal, every settled device kept, read a line at a time
/// (never from the checkpoint: the journal is the source).
fn replayed(folder: &Folder) -> Result<States<'_>, Error> {
    let journal_path = journal::apply_dir(&folder.dir).join("journal.jsonl");
    let mut states = States::new(folder);
    journal::read(&folder.dir, |record, line| states.replay(&record, line, &journal_path))?;
    Ok(states)
}

/// Writes results.csv, summary.json and report.html atomically, each streamed; returns the
/// tally.
pub(crate) fn write(folder: &Folder, crash: &Crash) -> Result<Tally, Error> {
    let states = replayed(folder)?;
    let states = &states;
    let rows = Rows::of(folder, states)?;
    let dir = journal::apply_dir(&folder.dir);
    journal::write_atomic_with(&dir.join("results.csv"), crash, CrashPoint::Results, |out| rows.render(out))?;
    let Rows { tally, .. } = rows;
    let summary = summary(folder, states, &tally);
    let never = Crash::never();
    journal::write_atomic_with(&dir.join("summary.json"), &never, CrashPoint::Results, |out| {
        render_summary(&summary, out)
    })?;
    journal::write_atomic_with(&dir.join("report.html"), &never, CrashPoint::Results, |out| {
        render_report(&summary, out)
    })?;
    Ok(tally)
}

/// Files apply writes into `DIR/apply`; `lock` is what applies before the folder lock left.
const APPLY_FILES: [&str; 6] =
    ["journal.jsonl", "results.csv", "summary.json", "report.html", "checkpoint.json", "lock"];

/// What `DIR/apply` holds that apply did not write there. A temporary file of an interrupted
/// write (`results.tmp`, …) is not one: the next apply removes it.
fn strangers(dir: &Path) -> Result<Vec<String>, Error> {
    let folder = journal::apply_dir(dir);
    let entries = std::fs::read_dir(&folder).map_err(|err| Error::folder(&folder, format!("cannot list: {err}")))?;
    let mut found = Vec::new();
    for entry in entries {
        let name = entry.map_err(|err| Error::folder(&folder, format!("cannot list: {err}")))?.file_name();
        let known = name.to_str().is_some_and(|name| {
            APPLY_FILES.contains(&name)
                || ["results.tmp", "summary.tmp", "report.tmp", "checkpoint.tmp"].contains(&name)
        });
        if !known {
            found.push(format!("apply/{}: not a file apply writes", devdist_formats::shown(&name)));
        }
    }
    found.sort();
    Ok(found)
}

/// Everything wrong with `DIR/apply`: results.csv, summary.json and report.html must be exactly what the
/// journal records, and the accounting must hold. Empty when it verifies. Each file is compared
/// as it is rendered, a buffer at a time.
pub fn verify(dir: &Path) -> Result<Vec<String>, Error> {
    let folder = Folder::read(dir)?;
    let states = replayed(&folder)?;
    let mut problems = Vec::new();
    let rows = match Rows::of(&folder, &states) {
        Ok(found) => found,
        Err(err) => return Ok(vec![format!("apply/journal.jsonl: {err}")]),
    };
    let summary = summary(&folder, &states, &rows.tally);
    type Render<'r> = Box<dyn Fn(&mut dyn Write) -> std::io::Result<()> + 'r>;
    let renders: [(&str, Render); 3] = [
        ("results.csv", Box::new(|out| rows.render(out))),
        ("summary.json", Box::new(|out| render_summary(&summary, out))),
        ("report.html", Box::new(|out| render_report(&summary, out))),
    ];
    for (name, render) in renders {
        match devdist_formats::open_inside(dir, &format!("apply/{name}")) {
            Ok(opened) => {
                let mut same = SameAs { file: std::io::BufReader::with_capacity(1 << 20, opened.file), same: true };
                let read = render(&mut same).and_then(|()| same.at_end());
                match read {
                    Ok(true) => {}
                    Ok(false) => problems.push(format!(
                        "apply/{name}: differs from what apply/journal.jsonl records (changed, or apply was killed \
                         after its last write: run the same `devdist apply` again)"
                    )),
                    Err(err) => {
                        problems.push(format!("{}: cannot read: {err}", dir.join("apply").join(name).display()))
                    }
                }
            }
            Err(err) => problems.push(Error::unreadable(&err).to_string()),
        }
    }
    if rows.tally.pending > 0 {
        problems.push(format!("apply: {} devices still pending (apply has not finished)", rows.tally.pending));
    }
    problems.extend(strangers(dir)?);
    Ok(problems)
}

/// A writer that compares what is written with the bytes of `file`, a buffer at a time.
struct SameAs<R> {
    file: R,
    /// Every byte written so far is the file's.
    same: bool,
}

impl<R: std::io::BufRead> SameAs<R> {
    /// Whether everything written was the file and the file has nothing more.
    fn at_end(&mut self) -> std::io::Result<bool> {
        Ok(self.same && self.file.fill_buf()?.is_empty())
    }
}

impl<R: std::io::BufRead> Write for SameAs<R> {
    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<usize> {
        let written = bytes.len();
        while self.same && !bytes.is_empty() {
            let have = self.file.fill_buf()?;
            if have.is_empty() {
                self.same = false;
                break;
            }
            let n = have.len().min(bytes.len());
            self.same = have[..n] == bytes[..n];
            self.file.consume(n);
            bytes = &bytes[n..];
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
