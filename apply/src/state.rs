//! Where each job stands, as the journal says: one transition function, [`States::apply`],
//! called for every record by replay on start and by the live run right after each append, so
//! a resumed run and a fresh one go through the same code.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::Error;
use crate::folder::Folder;
use crate::journal::{Binding, DeviceOutcome, End, Record};

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

/// One job's progress over all its attempts.
#[derive(Debug, Clone)]
pub(crate) struct JobState {
    /// The current attempt (0 = the plan's job).
    pub attempt: u32,
    /// Where the current attempt is.
    pub stage: Stage,
    /// Devices of the current attempt (not yet settled).
    pub remaining: Vec<String>,
    /// Settled devices with the attempt that settled them.
    pub settled: Vec<(u32, DeviceOutcome)>,
    /// The platform's JobId of each attempt that was created.
    pub platform_ids: HashMap<u32, String>,
    /// Attempts that ended interrupted.
    pub interrupted: u32,
}

impl JobState {
    /// Settles `outcomes` of `attempt`, which ended so. Devices left over go to the next
    /// attempt, in the plan's order. Err names a device that was not left to settle.
    fn settle(&mut self, attempt: u32, end: End, outcomes: &[DeviceOutcome]) -> Result<(), String> {
        let mut left: HashSet<&str> = self.remaining.iter().map(String::as_str).collect();
        for outcome in outcomes {
            if !left.remove(outcome.device.as_str()) {
                return Err(outcome.device.clone());
            }
        }
        let remaining: Vec<String> = self.remaining.iter().filter(|d| left.contains(d.as_str())).cloned().collect();
        self.remaining = remaining;
        self.settled.extend(outcomes.iter().map(|outcome| (attempt, outcome.clone())));
        self.interrupted += u32::from(end == End::Interrupted);
        if self.remaining.is_empty() {
            self.stage = Stage::Done;
        } else {
            self.attempt += 1;
            self.stage = Stage::Queued;
        }
        Ok(())
    }
}

/// Every job's state, in plan order, and every platform job id the journal knows.
#[derive(Debug, Clone)]
pub(crate) struct States {
    /// Indexed like `Folder::jobs`.
    pub jobs: Vec<JobState>,
    /// Platform JobIds created (or adopted) by this folder's applies.
    pub known: HashSet<String>,
    /// The platform and plan the journal is bound to, once it says.
    pub bound: Option<Binding>,
    /// Job index by plan job id.
    index: HashMap<String, usize>,
}

impl States {
    /// Every job of `folder` before anything was journalled.
    pub(crate) fn new(folder: &Folder) -> States {
        let index = folder.jobs.iter().enumerate().map(|(i, job)| (job.job_id.clone(), i)).collect();
        let jobs = folder
            .jobs
            .iter()
            .map(|job| JobState {
                attempt: 0,
                stage: if job.console { Stage::Console } else { Stage::Queued },
                remaining: job.request.device_names.clone(),
                settled: Vec::new(),
                platform_ids: HashMap::new(),
                interrupted: 0,
            })
            .collect();
        States { jobs, known: HashSet::new(), bound: None, index }
    }

    /// Replays `records` over `folder`'s jobs, refusing a journal that does not fit them.
    pub(crate) fn replay(folder: &Folder, records: &[Record], journal: &Path) -> Result<States, Error> {
        let mut states = States::new(folder);
        for (line, record) in records.iter().enumerate() {
            states.apply(record).map_err(|what| Error::folder(journal, format!("line {}: {what}", line + 1)))?;
        }
        Ok(states)
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
                state.platform_ids.insert(attempt, platform_job_id.clone());
                state.stage = Stage::Created { platform_job_id: platform_job_id.clone() };
            }
            (Record::NotCreated { .. }, Stage::Intent) => state.stage = Stage::Queued,
            (Record::Finished { end, outcomes, .. }, Stage::Created { .. } | Stage::Intent) => {
                state
                    .settle(attempt, *end, outcomes)
                    .map_err(|device| format!("device {device} is not left in {job}, or settled twice"))?;
            }
            (_, stage) => return Err(format!("{record:?} cannot follow {stage:?} of {job}")),
        }
        Ok(())
    }
}
