//! Where each job stands, as the journal says: one transition function, [`States::apply`],
//! called for every record by replay on start and by the live run right after each append, so
//! a resumed run and a fresh one go through the same code.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::Error;
use crate::folder::{Folder, Names};
use crate::journal::{Binding, DeviceOutcome, End, Outcome, Record};

/// Where a job is in its current attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Cross-account: the console's, never called.
    Console,
    /// Waiting for a window slot.
    Queued,
    /// The intent is journalled but not what the Create did: reconcile before anything else.
    Intent,
    /// Created on the platform, not yet finished.
    Created {
        /// The platform's JobId.
        platform_job_id: String,
    },
    /// Every device settled.
    Done,
}

/// One settled device: 16 bytes, its strings held once by [`States`] (the device's name is
/// the plan's, its code and message are interned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settled {
    /// The attempt that settled it.
    pub attempt: u32,
    /// Its index among the job's planned devices.
    pub device: u32,
    /// Its (code, message), an index into [`States::texts`].
    pub text: u32,
    /// What became of it.
    pub outcome: Outcome,
}

/// One job's progress over all its attempts.
#[derive(Debug, Clone)]
pub(crate) struct JobState {
    /// The current attempt (0 = the plan's job).
    pub attempt: u32,
    /// Where the current attempt is.
    pub stage: Stage,
    /// Devices of the current attempt (not yet settled): indices among the job's planned
    /// devices, in plan order.
    pub remaining: Vec<u32>,
    /// Settled devices, in the order the journal settled them.
    pub settled: Vec<Settled>,
    /// The platform's JobId of each attempt that was created.
    /// (a few at most: a `Vec`, not a map, whose empty table alone would cost more).
    pub platform_ids: Vec<(u32, String)>,
    /// Attempts that ended interrupted.
    pub interrupted: u32,
}

impl JobState {
    /// Settles `outcomes` of `attempt`, which ended so; `names` are the job's planned devices.
    /// Devices left over go to the next attempt, in the plan's order. Err names a device that
    /// was not left to settle.
    fn settle(
        &mut self,
        names: &Names,
        mut texts: Option<&mut Texts>,
        attempt: u32,
        end: End,
        outcomes: &[DeviceOutcome],
    ) -> Result<(), String> {
        let mut left: HashMap<&str, u32> = self.remaining.iter().map(|&d| (names.get(d as usize), d)).collect();
        let mut settled = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            let Some(device) = left.remove(outcome.device.as_str()) else {
                return Err(outcome.device.clone());
            };
            if let Some(texts) = texts.as_deref_mut() {
                let text = texts.intern(&outcome.code, &outcome.message);
                settled.push(Settled { attempt, device, text, outcome: outcome.outcome });
            }
        }
        self.remaining.retain(|d| left.contains_key(names.get(*d as usize)));
        self.settled.extend(settled);
        self.interrupted += u32::from(end == End::Interrupted);
        if self.remaining.is_empty() {
            self.remaining = Vec::new();
            self.stage = Stage::Done;
        } else {
            self.attempt += 1;
            self.stage = Stage::Queued;
        }
        Ok(())
    }
}

/// Every distinct (code, message) the journal settled a device with, each held once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Texts {
    /// By index.
    list: Vec<(String, String)>,
    /// Index by the code's length, the code and the message, written into `key`.
    index: HashMap<String, u32>,
    key: String,
}

impl Texts {
    fn intern(&mut self, code: &str, message: &str) -> u32 {
        use std::fmt::Write;
        self.key.clear();
        let _ = write!(self.key, "{}:{code}{message}", code.len());
        if let Some(&i) = self.index.get(self.key.as_str()) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push((code.to_string(), message.to_string()));
        self.index.insert(self.key.clone(), i);
        i
    }

    /// The code and message of `text`.
    pub(crate) fn get(&self, text: u32) -> (&str, &str) {
        let (code, message) = &self.list[text as usize];
        (code, message)
    }
}

/// Every job's state, in plan order, and every platform job id the journal knows.
#[derive(Debug, Clone)]
pub(crate) struct States<'a> {
    /// The plan's jobs.
    folder: &'a Folder,
    /// Indexed like `Folder::jobs`.
    pub jobs: Vec<JobState>,
    /// Platform JobIds created (or adopted) by this folder's applies.
    pub known: HashSet<String>,
    /// The platform and plan the journal is bound to, once it says.
    pub bound: Option<Binding>,
    /// The codes and messages of settled devices.
    pub texts: Texts,
    /// Settled devices per outcome (console devices are never settled).
    pub tally: Tally,
    /// Whether each settled device is kept in its job's `settled` (results need them; the live
    /// run only counts them).
    pub keep_settled: bool,
    /// Job index by plan job id (borrowed from the plan).
    index: HashMap<&'a str, usize>,
}

impl States<'_> {
    /// The plan's jobs.
    pub(crate) fn folder(&self) -> &Folder {
        self.folder
    }
}

impl<'a> States<'a> {
    /// Every job of `folder` before anything was journalled.
    pub(crate) fn new(folder: &'a Folder) -> States<'a> {
        let index = folder.jobs.iter().enumerate().map(|(i, job)| (job.job_id.as_str(), i)).collect();
        let jobs = folder
            .jobs
            .iter()
            .map(|job| JobState {
                attempt: 0,
                stage: if job.console { Stage::Console } else { Stage::Queued },
                remaining: (0..job.devices.len() as u32).collect(),
                settled: Vec::new(),
                platform_ids: Vec::new(),
                interrupted: 0,
            })
            .collect();
        let tally = Tally::default();
        States {
            folder,
            jobs,
            known: HashSet::new(),
            bound: None,
            texts: Texts::default(),
            tally,
            keep_settled: true,
            index,
        }
    }

    /// Applies `record`, line `line` of `journal` read on start, refusing one that does not
    /// fit what came before.
    pub(crate) fn replay(&mut self, record: &Record, line: usize, journal: &Path) -> Result<(), Error> {
        self.apply(record).map_err(|what| Error::folder(journal, format!("line {line}: {what}")))
    }

    /// The one transition: `record` applied to the job it names, or why the record cannot
    /// follow what came before.
    pub(crate) fn apply(&mut self, record: &Record) -> Result<(), String> {
        let (job, attempt) = match record {
            Record::Bound(binding) => {
                return match &self.bound {
                    Some(bound) if bound != binding => {
                        Err(format!("the journal is bound to {bound:?} and then to {binding:?}"))
                    }
                    _ => {
                        self.bound = Some(binding.clone());
                        Ok(())
                    }
                };
            }
            Record::Intent { job, attempt, .. }
            | Record::Created { job, attempt, .. }
            | Record::NotCreated { job, attempt, .. }
            | Record::Finished { job, attempt, .. } => (job, *attempt),
        };
        let &i = self.index.get(job.as_str()).ok_or_else(|| format!("job {job} is not in jobs.csv"))?;
        let state = &mut self.jobs[i];
        if attempt != state.attempt {
            return Err(format!("attempt {attempt} of {job}, but its current attempt is {}", state.attempt));
        }
        match (record, &state.stage) {
            (Record::Intent { devices, .. }, Stage::Queued) => {
                if *devices != state.remaining.len() as u64 {
                    return Err(format!("{job} has {} devices left, not {devices}", state.remaining.len()));
                }
                state.stage = Stage::Intent;
            }
            (Record::Created { platform_job_id, .. }, Stage::Intent) => {
                if !self.known.insert(platform_job_id.clone()) {
                    return Err(format!("platform job {platform_job_id} is journalled twice"));
                }
                state.platform_ids.push((attempt, platform_job_id.clone()));
                state.stage = Stage::Created { platform_job_id: platform_job_id.clone() };
            }
            (Record::NotCreated { .. }, Stage::Intent) => state.stage = Stage::Queued,
            (Record::Finished { end, outcomes, .. }, Stage::Created { .. } | Stage::Intent) => {
                let names = &self.folder.jobs[i].devices;
                state
                    .settle(names, self.keep_settled.then_some(&mut self.texts), attempt, *end, outcomes)
                    .map_err(|device| format!("device {device} is not left in {job}, or settled twice"))?;
                for outcome in outcomes {
                    self.tally.count(outcome.outcome);
                }
            }
            (_, stage) => return Err(format!("{record:?} cannot follow {stage:?} of {job}")),
        }
        Ok(())
    }
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
    /// Of the failed, those whose code is worth another try ([`devdist_platform::is_retryable_code`]): what
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
