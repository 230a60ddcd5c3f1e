//! `DIR/apply/checkpoint.json`: where every job stood after the journal's first N bytes, so
//! that a resumed apply reads only the journal's lines after them before its next Create.
//!
//! It is a cache of the journal, never a source: it holds nothing the journal does not, and a
//! checkpoint that does not fit is ignored (the whole journal is replayed, as before it
//! existed). Crash-safety:
//! - it is written only from states that [`States::apply`] built from journal lines already on
//!   disk (each append is fsync'd before it is applied), so it never runs ahead of the journal;
//! - it is written atomically (a temporary file, fsync'd, renamed, the folder fsync'd): a crash
//!   leaves the old checkpoint or the new one, and a temporary file the next write removes;
//! - it names the journal prefix it was made of (its length, line count, and the length and
//!   SHA-256 of its last line): a journal cut shorter, replaced or edited before that point no
//!   longer fits, and the checkpoint is ignored;
//! - it names the plan (report.json's SHA-256) and its job count, and each job's devices are
//!   checked against the plan's.
//!
//! It leaves out each settled device's outcome (the bulk of the journal): the live run needs
//! only the counts. results.csv, summary.json and the page are derived from the whole journal,
//! read once more at the end, and `verify` never reads the checkpoint.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crash::{Crash, CrashPoint};
use crate::error::Error;
use crate::folder::Folder;
use crate::journal::{self, Binding, Prefix};
use crate::state::{Stage, States};

/// The checkpoint's file name inside `DIR/apply`.
pub(crate) const CHECKPOINT: &str = "checkpoint.json";

/// The file's content, as read.
#[derive(Debug, Deserialize)]
struct Checkpoint {
    /// The SHA-256 of the plan's report.json.
    plan_sha256: String,
    /// The journal prefix it stands for.
    journal: Prefix,
    /// What the journal is bound to.
    bound: Option<Binding>,
    /// Settled devices: distributed, failed, unknown.
    settled: [u64; 3],
    /// Every job, in plan order.
    jobs: Vec<Job>,
}

/// The file's content, as written: the same keys, the jobs serialised one at a time from the
/// states rather than copied first.
#[derive(Serialize)]
struct Written<'s> {
    plan_sha256: &'s str,
    journal: &'s Prefix,
    bound: &'s Option<Binding>,
    settled: [u64; 3],
    jobs: Jobs<'s>,
}

/// Every job of the states, serialised as [`Job`]s.
struct Jobs<'s>(&'s States<'s>);

impl Serialize for Jobs<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let folder = self.0.folder();
        serializer.collect_seq(folder.jobs.iter().zip(&self.0.jobs).map(|(planned, state)| {
            let (stage, platform_job_id) = match &state.stage {
                Stage::Queued => ('q', None),
                Stage::Intent => ('i', None),
                Stage::Created { platform_job_id } => ('c', Some(platform_job_id.as_str())),
                Stage::Done => ('d', None),
                Stage::Console => ('k', None),
            };
            let all = state.remaining.len() == planned.devices.len();
            JobOut {
                attempt: state.attempt,
                stage,
                platform_job_id,
                remaining: (!all).then_some(state.remaining.as_slice()),
                platform_ids: &state.platform_ids,
                interrupted: state.interrupted,
            }
        }))
    }
}

/// One job's state without its settled devices, as read.
#[derive(Debug, Deserialize)]
struct Job {
    #[serde(rename = "a")]
    attempt: u32,
    /// `q` queued, `i` intent, `c` created, `d` done, `k` console.
    #[serde(rename = "s")]
    stage: char,
    /// The platform job of a created attempt.
    #[serde(rename = "p", default)]
    platform_job_id: Option<String>,
    /// Devices left, by index; absent when every planned device is left.
    #[serde(rename = "r", default)]
    remaining: Option<Vec<u32>>,
    /// Each created attempt's platform job, in attempt order.
    #[serde(rename = "ids", default)]
    platform_ids: Vec<(u32, String)>,
    #[serde(rename = "n", default)]
    interrupted: u32,
}

/// One job's state, as written ([`Job`]'s keys).
#[derive(Serialize)]
struct JobOut<'s> {
    #[serde(rename = "a")]
    attempt: u32,
    #[serde(rename = "s")]
    stage: char,
    #[serde(rename = "p", skip_serializing_if = "Option::is_none")]
    platform_job_id: Option<&'s str>,
    #[serde(rename = "r", skip_serializing_if = "Option::is_none")]
    remaining: Option<&'s [u32]>,
    #[serde(rename = "ids", skip_serializing_if = "<[_]>::is_empty")]
    platform_ids: &'s [(u32, String)],
    #[serde(rename = "n", skip_serializing_if = "is_zero")]
    interrupted: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn path(dir: &Path) -> PathBuf {
    journal::apply_dir(dir).join(CHECKPOINT)
}

/// Writes the checkpoint of `states`, made of the journal prefix `prefix`.
pub(crate) fn write(states: &States, prefix: &Prefix, crash: &Crash) -> Result<(), Error> {
    let folder = states.folder();
    let tally = &states.tally;
    let checkpoint = Written {
        plan_sha256: &folder.plan_sha256,
        journal: prefix,
        bound: &states.bound,
        settled: [tally.distributed, tally.failed, tally.unknown],
        jobs: Jobs(states),
    };
    journal::write_atomic_with(&path(&folder.dir), crash, CrashPoint::Checkpoint, |out| {
        serde_json::to_writer(&mut *out, &checkpoint)?;
        out.write_all(b"\n")
    })
}

/// The states the checkpoint of `folder` holds and the journal prefix they stand for, when it
/// exists and fits `file`, the journal (of `length` complete bytes) and the plan; `None` when
/// it does not (the whole journal is then replayed).
pub(crate) fn load<'a>(folder: &'a Folder, file: &std::fs::File, length: u64) -> Option<(States<'a>, Prefix)> {
    let opened = devdist_formats::open_inside(&folder.dir, &format!("apply/{CHECKPOINT}")).ok()?;
    let checkpoint: Checkpoint = serde_json::from_reader(std::io::BufReader::new(opened.file)).ok()?;
    let prefix = checkpoint.journal.clone();
    if checkpoint.plan_sha256 != folder.plan_sha256
        || checkpoint.jobs.len() != folder.jobs.len()
        || prefix.bytes > length
        || prefix.last_bytes > prefix.bytes
        || !ends_with(file, &prefix)
    {
        return None;
    }
    let mut states = States::new(folder);
    states.bound = checkpoint.bound;
    let [distributed, failed, unknown] = checkpoint.settled;
    (states.tally.distributed, states.tally.failed, states.tally.unknown) = (distributed, failed, unknown);
    for ((planned, state), job) in folder.jobs.iter().zip(&mut states.jobs).zip(checkpoint.jobs) {
        let planned_devices = planned.devices.len();
        state.stage = match (job.stage, job.platform_job_id) {
            ('q', None) => Stage::Queued,
            ('i', None) => Stage::Intent,
            ('c', Some(platform_job_id)) => Stage::Created { platform_job_id },
            ('d', None) => Stage::Done,
            ('k', None) => Stage::Console,
            _ => return None,
        };
        if (state.stage == Stage::Console) != planned.console {
            return None;
        }
        if let Some(remaining) = job.remaining {
            // Indices of planned devices, in plan order, each once.
            if remaining.iter().any(|&d| d as usize >= planned_devices) || !remaining.is_sorted_by(|a, b| a < b) {
                return None;
            }
            state.remaining = remaining;
        }
        state.attempt = job.attempt;
        state.interrupted = job.interrupted;
        state.platform_ids = job.platform_ids;
        for (_, id) in &state.platform_ids {
            if !states.known.insert(id.clone()) {
                return None;
            }
        }
    }
    Some((states, prefix))
}

/// Whether the journal `file`'s line that ends at `prefix.bytes` is the one `prefix` names.
fn ends_with(file: &std::fs::File, prefix: &Prefix) -> bool {
    use std::os::unix::fs::FileExt;
    if prefix.bytes == 0 {
        return prefix.lines == 0 && prefix.last_bytes == 0;
    }
    // The byte before the line too: a newline, unless the line is the journal's first.
    let start = prefix.bytes - prefix.last_bytes;
    let from = start.saturating_sub(1);
    let mut bytes = vec![0; (prefix.bytes - from) as usize];
    if file.read_exact_at(&mut bytes, from).is_err() {
        return false;
    }
    let line = if start == 0 {
        &bytes[..]
    } else if bytes[0] == b'\n' {
        &bytes[1..]
    } else {
        return false;
    };
    line.last() == Some(&b'\n') && devdist_platform::sign::sha256_hex(line) == prefix.last_sha256
}
