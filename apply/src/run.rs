//! The scheduler: carries out a folder's jobs through a sliding window, journalling every step.
//!
//! A job travels `Queued → Intent → Created → Done` (see ARCHITECTURE.md). Everything runs on
//! one thread; the platform client paces each API to its limit.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use devdist_platform::{
    ApiError, CODE_DISTRIBUTED, CreateDeviceDistributeJob, ErrorKind, JobInfo, JobStatus, ListJobs,
};

use crate::crash::{Crash, CrashPoint};
use crate::error::Error;
use crate::folder::{Folder, PlannedJob};
use crate::journal::{self, DeviceOutcome, End, Journal, Outcome, Record};
use crate::platform::Platform;
use crate::results::{self, Tally};
use crate::state::{Stage, States};

/// A job listed after the intent counts as "created after it" when its GmtCreate is at most
/// this much earlier than our clock said: room for the two clocks to disagree.
pub const CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// How apply paces its polling and reconciles lost answers.
#[derive(Debug)]
pub struct Options {
    /// First wait between two polls of one job; doubles up to `poll_max`.
    pub poll_min: Duration,
    /// Longest wait between two polls of one job.
    pub poll_max: Duration,
    /// Wait between the two listings that decide a lost Create created nothing.
    pub reconcile_wait: Duration,
    /// Stop starting jobs once failed devices pass this share of settled API devices.
    pub max_failure_rate: Option<f64>,
    /// Attempts per job: an interrupted attempt's unfinished devices are re-driven until
    /// this many attempts were made; then they are `unknown`.
    pub max_attempts: u32,
    /// Read calls that keep failing (retryable), and fresh URLs for a result file that keeps
    /// expiring, are tried this many times before apply stops (resumable).
    pub read_attempts: u32,
    /// The crash test hook (empty without the `test-util` feature).
    pub crash: Crash,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            poll_min: Duration::from_secs(2),
            poll_max: Duration::from_secs(30),
            reconcile_wait: Duration::from_secs(5),
            max_failure_rate: None,
            max_attempts: 3,
            read_attempts: 8,
            crash: Crash::never(),
        }
    }
}

/// What a progress display is told after every step.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// API jobs in the plan.
    pub jobs: u64,
    /// API jobs finished.
    pub done: u64,
    /// Jobs of ours in status 0/1.
    pub in_flight: u64,
    /// Jobs not yet created.
    pub queued: u64,
    /// Devices so far.
    pub tally: Tally,
}

/// Receives progress.
pub trait Progress {
    /// Called after each step.
    fn update(&self, snapshot: &Snapshot);
}

/// No progress display.
#[derive(Debug)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: &Snapshot) {}
}

/// What a run ended with.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Devices per outcome.
    pub tally: Tally,
    /// Why apply stopped before the end (exit 5), if it did.
    pub stopped: Option<String>,
    /// Console work items (cross-account jobs).
    pub console_jobs: u64,
    /// Platform jobs created by this run (adopted ones included).
    pub created: u64,
}

impl Applied {
    /// The exit code: 0 every API device distributed, 1 some failed or unknown, 5 stopped.
    pub fn exit_code(&self) -> u8 {
        if self.stopped.is_some() {
            5
        } else if self.tally.failed + self.tally.unknown > 0 {
            1
        } else {
            0
        }
    }
}

struct Flight {
    job: usize,
    platform_job_id: String,
    next_poll: Instant,
    interval: Duration,
}

struct Run<'a, P: Platform> {
    folder: &'a Folder,
    platform: &'a P,
    options: &'a Options,
    journal: Journal,
    states: States,
    queue: VecDeque<usize>,
    flights: Vec<Flight>,
    foreign: usize,
    foreign_listed: Instant,
    create_not_before: Instant,
    created: u64,
    /// Settled devices so far, per outcome (console included).
    tally: Tally,
    progress: &'a dyn Progress,
}

/// Carries out `dir`'s jobs on `platform`, resuming whatever an earlier run journalled.
pub fn apply<P: Platform>(
    dir: &Path,
    platform: &P,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Applied, Error> {
    let folder = Folder::open(dir)?;
    let (journal, records) = Journal::open(dir)?;
    let journal_path = journal::apply_dir(dir).join("journal.jsonl");
    let states = States::replay(&folder, &records, &journal_path)?;
    let queue = (0..folder.jobs.len()).filter(|&i| states.jobs[i].stage == Stage::Queued).collect();
    let now = Instant::now();
    let mut run = Run {
        folder: &folder,
        platform,
        options,
        journal,
        states,
        queue,
        flights: Vec::new(),
        foreign: 0,
        foreign_listed: now,
        create_not_before: now,
        created: 0,
        tally: Tally::default(),
        progress,
    };
    for state in &run.states.jobs {
        for (_, outcome) in &state.settled {
            run.tally.count(outcome.outcome);
        }
    }
    let stopped = match run.drive() {
        Ok(stopped) => stopped,
        Err(Error::Stopped(reason)) => Some(reason),
        Err(Error::Interrupted) => {
            results::write(&folder, &run.states, &options.crash)?;
            return Err(Error::Interrupted);
        }
        Err(err) => return Err(err),
    };
    let tally = results::write(&folder, &run.states, &options.crash)?;
    let console_jobs = folder.jobs.iter().filter(|job| job.console).count() as u64;
    Ok(Applied { tally, stopped, console_jobs, created: run.created })
}

/// Sleeps `wait`, or less when the run is interrupted meanwhile: the main loop's waits last
/// up to `poll_max`, and a signal should not.
fn nap(wait: Duration) {
    let until = Instant::now() + wait;
    while devdist_engine::checkpoint().is_ok() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl<P: Platform> Run<'_, P> {
    /// The main loop; returns why it stopped early, if it did.
    fn drive(&mut self) -> Result<Option<String>, Error> {
        // A journalled intent without an answer: find out what the Create did, first.
        for i in 0..self.folder.jobs.len() {
            match &self.states.jobs[i].stage {
                &Stage::Intent { at_ms } => self.reconcile(i, at_ms)?, // flies it when adopted
                Stage::Created { platform_job_id } => self.fly(i, platform_job_id.clone()),
                _ => {}
            }
        }
        if !self.queue.is_empty() {
            self.count_foreign()?;
        }
        let mut stopped = None;
        loop {
            self.report();
            // Between two steps, never inside one: an intent is always followed by its Create.
            devdist_engine::checkpoint().map_err(|_| Error::Interrupted)?;
            if stopped.is_none() {
                stopped = self.failure_rate_passed();
            }
            while stopped.is_none()
                && !self.queue.is_empty()
                && self.flights.len() + self.foreign < self.folder.jobs_per_wave
                && Instant::now() >= self.create_not_before
            {
                let job = self.queue.pop_front().expect("not empty");
                self.start(job)?;
            }
            let Some(next) = (0..self.flights.len()).min_by_key(|&f| self.flights[f].next_poll) else {
                if self.queue.is_empty() || stopped.is_some() {
                    return Ok(stopped);
                }
                // Blocked by the account's other jobs or by the job limit: wait and look again.
                nap(self.create_not_before.saturating_duration_since(Instant::now()).max(self.options.poll_min));
                if self.foreign > 0 {
                    self.count_foreign()?;
                }
                continue;
            };
            if self.foreign > 0 && self.foreign_listed.elapsed() >= self.options.poll_max {
                self.count_foreign()?;
            }
            nap(self.flights[next].next_poll.saturating_duration_since(Instant::now()));
            devdist_engine::checkpoint().map_err(|_| Error::Interrupted)?;
            self.poll(next)?;
        }
    }

    fn report(&self) {
        let tally = self.tally.clone();
        let api = self.folder.jobs.iter().filter(|job| !job.console).count() as u64;
        let done = self.states.jobs.iter().filter(|s| s.stage == Stage::Done).count() as u64;
        self.progress.update(&Snapshot {
            jobs: api,
            done,
            in_flight: self.flights.len() as u64,
            queued: self.queue.len() as u64,
            tally,
        });
    }

    fn failure_rate_passed(&self) -> Option<String> {
        let limit = self.options.max_failure_rate?;
        let (failed, settled) = (self.tally.failed, self.tally.distributed + self.tally.failed + self.tally.unknown);
        let rate = failed as f64 / settled.max(1) as f64;
        (rate > limit).then(|| {
            format!(
                "{failed} of {settled} settled devices failed ({:.1} %), past --max-failure-rate {limit}",
                rate * 100.0
            )
        })
    }

    fn fly(&mut self, job: usize, platform_job_id: String) {
        let interval = self.options.poll_min;
        self.flights.push(Flight { job, platform_job_id, next_poll: Instant::now() + interval, interval });
    }

    /// Journals `record`, then applies it to the states with the same transition replay
    /// uses; returns the index of its job.
    fn record(&mut self, record: &Record, torn: CrashPoint) -> Result<usize, Error> {
        self.journal.append(record, &self.options.crash, torn)?;
        let job = self
            .states
            .apply(record)
            .map_err(|why| Error::Stopped(format!("a journal record of ours {why} (a bug)")))?;
        if let Record::Finished { outcomes, .. } = record {
            for outcome in outcomes {
                self.tally.count(outcome.outcome);
            }
        }
        Ok(job)
    }

    /// The Create of `job`'s current attempt: the plan's request, with the devices not yet
    /// settled.
    fn request(&self, job: usize) -> CreateDeviceDistributeJob {
        let planned = &self.folder.jobs[job].request;
        CreateDeviceDistributeJob {
            device_names: self.states.jobs[job].remaining.clone(),
            product_key: planned.product_key.clone(),
            source_instance_id: planned.source_instance_id.clone(),
            strategy: planned.strategy,
            target_uid: planned.target_uid.clone(),
            target_instance_ids: planned.target_instance_ids.clone(),
        }
    }

    /// Journals the intent, sends the Create, journals what came of it.
    fn start(&mut self, job: usize) -> Result<(), Error> {
        self.options.crash.check(CrashPoint::BeforeIntent)?;
        let state = &self.states.jobs[job];
        let (id, attempt) = (self.folder.jobs[job].job_id.clone(), state.attempt);
        let at_ms = now_ms();
        let intent = Record::Intent { job: id, attempt, devices: state.remaining.len() as u64, at_ms };
        self.record(&intent, CrashPoint::TornIntent)?;
        self.options.crash.check(CrashPoint::Intent)?;
        match self.platform.create(&self.request(job)) {
            Ok(platform_job_id) => {
                self.options.crash.check(CrashPoint::CreateAnswered)?;
                self.created(job, platform_job_id, false)
            }
            Err(err) if err.is_auth() => {
                self.not_created(job, format!("credentials refused: {err}"))?;
                Err(Error::refused_credentials(&err))
            }
            Err(err) if err.created_nothing() && (err.kind == ErrorKind::Retryable || err.is_job_limit()) => {
                // Throttled before the platform saw it, or the account is at its job limit:
                // nothing exists; try again a little later, first in line.
                self.not_created(job, format!("created nothing: {err}"))?;
                self.queue.push_front(job);
                self.create_not_before = Instant::now() + self.options.poll_min;
                Ok(())
            }
            Err(err) if err.kind == ErrorKind::Permanent => {
                let outcomes = self.states.jobs[job]
                    .remaining
                    .iter()
                    .map(|device| DeviceOutcome {
                        device: device.clone(),
                        outcome: Outcome::Failed,
                        code: err.code.clone(),
                        message: format!("CreateDeviceDistributeJob refused: {}", err.detail()),
                    })
                    .collect();
                self.finish(job, End::Refused, outcomes)
            }
            Err(_) => self.reconcile(job, at_ms),
        }
    }

    fn created(&mut self, job: usize, platform_job_id: String, adopted: bool) -> Result<(), Error> {
        let record = Record::Created {
            job: self.folder.jobs[job].job_id.clone(),
            attempt: self.states.jobs[job].attempt,
            platform_job_id: platform_job_id.clone(),
            adopted,
        };
        self.record(&record, CrashPoint::TornCreated)?;
        self.options.crash.check(CrashPoint::Created)?;
        self.created += 1;
        self.fly(job, platform_job_id);
        Ok(())
    }

    fn not_created(&mut self, job: usize, reason: String) -> Result<(), Error> {
        let record = Record::NotCreated {
            job: self.folder.jobs[job].job_id.clone(),
            attempt: self.states.jobs[job].attempt,
            reason,
        };
        self.record(&record, CrashPoint::TornIntent)?;
        self.options.crash.check(CrashPoint::NotCreated)
    }

    /// A Create whose outcome is unknown: adopt the one job it may have created, or decide
    /// (from two listings `reconcile_wait` apart) that it created nothing, or stop.
    fn reconcile(&mut self, job: usize, at_ms: u64) -> Result<(), Error> {
        let planned = &self.folder.jobs[job];
        let filter = ListJobs {
            product_key: Some(planned.request.product_key.clone()),
            target_uid: Some(planned.request.target_uid.clone()),
            ..ListJobs::default()
        };
        let devices = self.states.jobs[job].remaining.len() as u64;
        for round in 0..2 {
            if round == 1 {
                std::thread::sleep(self.options.reconcile_wait);
            }
            let listed = self.read("ListDeviceDistributeJob", || self.platform.list(&filter))?.map_err(|err| {
                Error::Stopped(format!("cannot reconcile {}: ListDeviceDistributeJob refused: {err}", planned.job_id))
            })?;
            self.options.crash.check(CrashPoint::ReconcileListed)?;
            let candidates: Vec<&JobInfo> = listed
                .iter()
                .filter(|info| matches(info, planned, devices, at_ms) && !self.states.known.contains(&info.job_id))
                .collect();
            match candidates.as_slice() {
                [] => continue,
                [one] => return self.created(job, one.job_id.clone(), true),
                many => {
                    let ids: Vec<&str> = many.iter().map(|info| info.job_id.as_str()).collect();
                    return Err(Error::Stopped(format!(
                        "the answer to the Create of {} (attempt {}) was lost and {} platform jobs match it ({}); \
                         check them with QueryDeviceDistributeJob or the console: apply cannot tell which is its own, \
                         and creating it again could distribute the devices twice",
                        planned.job_id,
                        self.states.jobs[job].attempt,
                        many.len(),
                        ids.join(", ")
                    )));
                }
            }
        }
        let reason = format!(
            "its answer was lost, and no unjournalled job of this product, target account, source, strategy, targets \
             and {devices} devices appeared in two listings {:?} apart: the platform lists a job as soon as Create \
             makes it, so none was made",
            self.options.reconcile_wait
        );
        self.not_created(job, reason)?;
        self.queue.push_front(job);
        Ok(())
    }

    /// Counts the account's jobs in status 0/1 that are not ours.
    fn count_foreign(&mut self) -> Result<(), Error> {
        let mut foreign = 0;
        for status in [JobStatus::Initializing, JobStatus::Running] {
            let filter = ListJobs { status: Some(status), ..ListJobs::default() };
            let listed = self
                .read("ListDeviceDistributeJob", || self.platform.list(&filter))?
                .map_err(|err| Error::Stopped(format!("cannot count the account's running jobs: {err}")))?;
            foreign += listed.iter().filter(|info| !self.states.known.contains(&info.job_id)).count();
        }
        self.foreign = foreign;
        self.foreign_listed = Instant::now();
        self.options.crash.check(CrashPoint::ForeignListed)
    }

    /// Calls a read-only API, waiting and trying again while it fails retryably; the inner
    /// error is a permanent refusal. Refused credentials stop the run.
    fn read<T>(&self, api: &str, call: impl Fn() -> Result<T, ApiError>) -> Result<Result<T, ApiError>, Error> {
        let mut wait = self.options.poll_min;
        for attempt in 1.. {
            match call() {
                Ok(value) => return Ok(Ok(value)),
                Err(err) if err.is_auth() => {
                    return Err(Error::refused_credentials(&err));
                }
                Err(err) if err.kind == ErrorKind::Permanent => return Ok(Err(err)),
                Err(err) if attempt >= self.options.read_attempts => {
                    return Err(Error::Stopped(format!("{api} kept failing ({attempt} tries): {err}")));
                }
                Err(_) => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(self.options.poll_max);
                }
            }
        }
        unreachable!("the loop returns")
    }

    fn poll(&mut self, flight: usize) -> Result<(), Error> {
        let (job, platform_job_id) = (self.flights[flight].job, self.flights[flight].platform_job_id.clone());
        let info = self.read("QueryDeviceDistributeJob", || self.platform.query(&platform_job_id))?;
        self.options.crash.check(CrashPoint::Polled)?;
        let status = match info {
            Ok(info) => info.status,
            Err(err) => {
                // The platform no longer knows the job (deleted by someone): nothing can be
                // said of its devices.
                self.flights.swap_remove(flight);
                let message = format!("QueryDeviceDistributeJob {platform_job_id}: {}", err.detail());
                let outcomes = self.unknown(job, &err.code, &message);
                return self.finish(job, End::Vanished, outcomes);
            }
        };
        let Some(end) = End::of(status) else {
            let f = &mut self.flights[flight];
            f.next_poll = Instant::now() + f.interval;
            f.interval = (f.interval * 2).min(self.options.poll_max);
            return Ok(());
        };
        self.flights.swap_remove(flight);
        let outcomes = self.settle(job, &platform_job_id, end)?;
        self.finish(job, end, outcomes)
    }

    fn unknown(&self, job: usize, code: &str, message: &str) -> Vec<DeviceOutcome> {
        let remaining = &self.states.jobs[job].remaining;
        remaining
            .iter()
            .map(|device| DeviceOutcome {
                device: device.clone(),
                outcome: Outcome::Unknown,
                code: code.to_string(),
                message: message.to_string(),
            })
            .collect()
    }

    /// The outcomes of a job that ended: from its result file, and for devices missing from
    /// it, from QueryDeviceProvisioning. When interrupted, a device that is neither in the
    /// file nor at a target is left for the next attempt (when attempts remain).
    fn settle(&mut self, job: usize, platform_job_id: &str, end: End) -> Result<Vec<DeviceOutcome>, Error> {
        let results = self.result_file(platform_job_id)?;
        self.options.crash.check(CrashPoint::Downloaded)?;
        let planned = &self.folder.jobs[job].request;
        let (interrupted, status) = (end == End::Interrupted, if end == End::Interrupted { 3 } else { 2 });
        let state = &self.states.jobs[job];
        let by_name: HashMap<&str, (&str, &str)> = results
            .iter()
            .filter(|r| r.product_key.is_empty() || r.product_key == planned.product_key)
            .map(|r| (r.device_name.as_str(), (r.code.as_str(), r.message.as_str())))
            .collect();
        let last_attempt = state.attempt + 1 >= self.options.max_attempts;
        let mut outcomes = Vec::with_capacity(state.remaining.len());
        for device in &state.remaining {
            if let Some(&(code, message)) = by_name.get(device.as_str()) {
                let outcome = if code == CODE_DISTRIBUTED { Outcome::Distributed } else { Outcome::Failed };
                outcomes.push(DeviceOutcome {
                    device: device.clone(),
                    outcome,
                    code: code.to_string(),
                    message: message.to_string(),
                });
                continue;
            }
            let at =
                self.read("QueryDeviceProvisioning", || self.platform.provisioning(&planned.product_key, device))?;
            self.options.crash.check(CrashPoint::Provisioning)?;
            let outcome = match at {
                Ok(Some(instance)) if planned.target_instance_ids.contains(&instance) => DeviceOutcome {
                    device: device.clone(),
                    outcome: Outcome::Distributed,
                    code: CODE_DISTRIBUTED.to_string(),
                    message: format!("not in the result file; QueryDeviceProvisioning shows it at {instance}"),
                },
                Ok(_) if interrupted && !last_attempt => continue, // re-driven by the next attempt
                Ok(at) => DeviceOutcome {
                    device: device.clone(),
                    outcome: Outcome::Unknown,
                    code: if interrupted { "interrupted" } else { "not_in_result_file" }.to_string(),
                    message: format!(
                        "not in the result file of {platform_job_id} (status {status}); QueryDeviceProvisioning shows it at {}",
                        at.as_deref().unwrap_or("no target")
                    ),
                },
                Err(err) => DeviceOutcome {
                    device: device.clone(),
                    outcome: Outcome::Unknown,
                    code: err.code.clone(),
                    message: format!("not in the result file; QueryDeviceProvisioning: {}", err.detail()),
                },
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// The rows of a finished job's result file, asking for a fresh URL when one has expired;
    /// empty when the platform has no file for it.
    fn result_file(&self, platform_job_id: &str) -> Result<Vec<devdist_platform::DeviceResult>, Error> {
        let mut last = None;
        for _ in 0..self.options.read_attempts {
            let url = match self.read("QueryDeviceDistributeDetail", || self.platform.detail(platform_job_id))? {
                Ok(url) => url,
                Err(_) => return Ok(Vec::new()),
            };
            self.options.crash.check(CrashPoint::Detail)?;
            match self.read("download", || self.platform.download(&url))? {
                Ok(rows) => return Ok(rows),
                Err(err) => last = Some(err), // expired or refused: ask for a new URL
            }
        }
        let err = last.expect("read_attempts is at least 1");
        Err(Error::Stopped(format!("the result file of {platform_job_id} cannot be downloaded: {err}")))
    }

    fn finish(&mut self, job: usize, end: End, outcomes: Vec<DeviceOutcome>) -> Result<(), Error> {
        let attempt = self.states.jobs[job].attempt;
        let record = Record::Finished { job: self.folder.jobs[job].job_id.clone(), attempt, end, outcomes };
        self.record(&record, CrashPoint::TornFinished)?;
        if self.states.jobs[job].stage == Stage::Queued {
            self.queue.push_front(job);
        }
        self.options.crash.check(CrashPoint::Finished)
    }
}

/// Whether a listed job is the one our lost Create would have made.
fn matches(info: &JobInfo, planned: &PlannedJob, devices: u64, at_ms: u64) -> bool {
    let planned = &planned.request;
    let mut listed = info.target_instance_ids();
    let mut ours: Vec<&str> = planned.target_instance_ids.iter().map(String::as_str).collect();
    listed.sort_unstable();
    ours.sort_unstable();
    info.product_key == planned.product_key
        && info.target_uid == planned.target_uid
        && info.source_instance_id == planned.source_instance_id
        && info.strategy == planned.strategy
        && info.total == devices
        && listed == ours
        && u64::try_from(info.gmt_create).unwrap_or(0) + CLOCK_SKEW_MS >= at_ms
}
