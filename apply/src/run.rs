//! The scheduler: carries out a folder's jobs through a sliding window, journalling every step.
//!
//! A job travels `Queued → Intent → Created → Done` (see ARCHITECTURE.md). Everything runs on
//! one thread; the platform client paces each API to its limit.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use devdist_platform::codes::{CODE_INTERRUPTED, CODE_JOB_VANISHED, CODE_NOT_IN_RESULT_FILE};
use devdist_platform::{
    ApiError, CODE_DISTRIBUTED, CreateDeviceDistributeJob, ErrorKind, JobInfo, JobStatus, ListJobs,
};

use crate::checkpoint;
use crate::crash::{Crash, CrashPoint};
use crate::error::Error;
use crate::folder::{Folder, PlannedJob};
use crate::journal::{self, Binding, DeviceOutcome, End, Journal, Outcome, PlanLock, Prefix, Record};
use crate::platform::Platform;
use crate::results;
use crate::state::{Stage, States, Tally};

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
    /// Platform jobs the operator names as a plan job's own (plan job id → platform JobId):
    /// the way forward when a lost Create matches jobs apply cannot tell apart.
    pub adopt: HashMap<String, String>,
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
            adopt: HashMap::new(),
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
    /// A line the operator should read now (waiting on someone else's jobs, say).
    fn note(&self, _line: &str) {}
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
    states: States<'a>,
    queue: VecDeque<usize>,
    flights: Vec<Flight>,
    foreign: usize,
    foreign_listed: Instant,
    /// What the operator was last told of others' jobs (their count), so it is said once.
    foreign_said: usize,
    /// Products whose platform jobs were compared with the plan's in this run.
    swept: HashSet<String>,
    /// Platform jobs that look like one of ours, by what their result files name (empty: none
    /// named) once they ended; `None` when a device they distributed is no longer at their
    /// targets (an old job of the same devices, sent home since): nobody's to adopt.
    lookalikes: HashMap<String, Option<Vec<String>>>,
    create_not_before: Instant,
    created: u64,
    /// The journal prefix the checkpoint on disk stands for.
    checkpointed: Prefix,
    /// Attempts finished since the last checkpoint.
    finished_since: usize,
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
    let journal_path = journal::apply_dir(dir).join("journal.jsonl");
    // Resumed from the checkpoint when it fits, then the journal's lines after it.
    let fresh = || (States::new(&folder), Prefix::default());
    let (mut journal, (mut states, checkpointed)) = Journal::open(
        dir,
        |file, length| {
            let (states, prefix) = checkpoint::load(&folder, file, length).unwrap_or_else(fresh);
            ((states, prefix.clone()), prefix)
        },
        |(states, _), record, line| states.replay(&record, line, &journal_path),
    )?;
    // The live run counts what it settles; results are derived from the whole journal.
    states.keep_settled = false;
    let binding = Binding {
        endpoint: platform.endpoint(),
        account: folder.account.clone(),
        plan_sha256: folder.plan_sha256.clone(),
    };
    match &states.bound {
        Some(bound) if *bound != binding => return Err(rebound(dir, &journal_path, bound, &binding)),
        Some(_) => {}
        None => {
            let record = Record::Bound(binding.clone());
            journal.append(&record, &Crash::never(), CrashPoint::TornIntent)?;
            states.apply(&record).map_err(|why| Error::folder(&journal_path, why))?;
        }
    }
    // Copies of this folder (`cp -a`, a second operator) share no journal: one at a time.
    let _plan_lock = PlanLock::acquire(&binding, dir)?;
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
        foreign_said: 0,
        swept: HashSet::new(),
        lookalikes: HashMap::new(),
        create_not_before: now,
        created: 0,
        tally: Tally::default(),
        checkpointed,
        finished_since: 0,
        progress,
    };
    run.tally = run.states.tally.clone();
    let stopped = match run.drive() {
        Ok(stopped) => stopped,
        Err(Error::Stopped(reason)) => Some(reason),
        Err(Error::Interrupted) => {
            run.checkpoint()?;
            // The run's states go before results are derived from the journal again.
            drop(run);
            results::write(&folder, &options.crash)?;
            return Err(Error::Interrupted);
        }
        Err(err) => return Err(err),
    };
    run.checkpoint()?;
    let created = run.created;
    drop(run);
    let tally = results::write(&folder, &options.crash)?;
    let console_jobs = folder.jobs.iter().filter(|job| job.console).count() as u64;
    Ok(Applied { tally, stopped, console_jobs, created })
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

/// A journal bound to another endpoint or plan than this run's.
fn rebound(dir: &Path, journal: &Path, bound: &Binding, now: &Binding) -> Error {
    let what = if bound.endpoint != now.endpoint {
        format!("records an apply against {:?}; this run is against {:?}", bound.endpoint, now.endpoint)
    } else {
        format!(
            "records an apply of another plan (report.json {:.12}…, this folder's is {:.12}…)",
            bound.plan_sha256, now.plan_sha256
        )
    };
    let dir = devdist_formats::shown(dir);
    Error::folder(
        journal,
        format!(
            "{what}. A journal is what one platform did for one plan: continued elsewhere, it would take those \
             jobs for these. To apply this plan there, plan it again into a new folder (the same inputs give the \
             same jobs), or first move this folder's record aside: mv {dir}/apply SOMEWHERE-ELSE"
        ),
    )
}

impl<'a, P: Platform> Run<'a, P> {
    /// The main loop; returns why it stopped early, if it did.
    fn drive(&mut self) -> Result<Option<String>, Error> {
        // A journalled intent without an answer: find out what the Create did, first.
        for i in 0..self.folder.jobs.len() {
            match &self.states.jobs[i].stage {
                Stage::Intent => self.reconcile(i)?, // flies it when adopted
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
                && devdist_engine::checkpoint().is_ok()
                && self.flights.len() + self.foreign < self.folder.jobs_per_wave
                && Instant::now() >= self.create_not_before
            {
                let job = self.queue.pop_front().expect("not empty");
                let product = &self.folder.jobs[job].request.product_key;
                if !self.swept.contains(product) {
                    // Whatever became of the journal or of copies of this folder: the
                    // platform's own jobs say what exists already.
                    self.queue.push_front(job);
                    self.sweep(job)?;
                    continue;
                }
                self.start(job)?;
            }
            let Some(next) = (0..self.flights.len()).min_by_key(|&f| self.flights[f].next_poll) else {
                if self.queue.is_empty() || stopped.is_some() {
                    return Ok(stopped);
                }
                // Blocked by the account's other jobs or by the job limit: wait and look again,
                // less often the longer it lasts.
                let since = self.foreign_listed.elapsed().min(self.options.poll_max);
                nap(self
                    .create_not_before
                    .saturating_duration_since(Instant::now())
                    .max(self.options.poll_min)
                    .max(since));
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
    /// uses.
    fn record(&mut self, record: &Record, torn: CrashPoint) -> Result<(), Error> {
        self.journal.append(record, &self.options.crash, torn)?;
        self.states.apply(record).map_err(|why| Error::Stopped(format!("a journal record of ours {why} (a bug)")))?;
        if let Record::Finished { outcomes, .. } = record {
            for outcome in outcomes {
                self.tally.count(outcome.outcome);
            }
            // A sixteenth of the jobs: at most about 16 checkpoints a run, whatever its size.
            self.finished_since += 1;
            if self.finished_since >= (self.folder.jobs.len() / 16).max(1) {
                self.checkpoint()?;
            }
        }
        Ok(())
    }

    /// Writes the checkpoint of the states now, unless the one on disk already is.
    fn checkpoint(&mut self) -> Result<(), Error> {
        if *self.journal.prefix() != self.checkpointed {
            checkpoint::write(&self.states, self.journal.prefix(), &self.options.crash)?;
            self.checkpointed = self.journal.prefix().clone();
        }
        self.finished_since = 0;
        Ok(())
    }

    /// The Create of `job`'s current attempt: the plan's request, with the devices not yet
    /// settled.
    fn request(&self, job: usize) -> CreateDeviceDistributeJob {
        let planned = &self.folder.jobs[job].request;
        CreateDeviceDistributeJob {
            device_names: self.remaining_names(job).map(str::to_string).collect(),
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
                let outcomes = self
                    .remaining_names(job)
                    .map(|device| DeviceOutcome {
                        device: device.to_string(),
                        outcome: Outcome::Failed,
                        code: err.code.clone(),
                        message: format!("CreateDeviceDistributeJob refused: {}", err.detail()),
                    })
                    .collect();
                self.finish(job, End::Refused, outcomes)
            }
            Err(_) => self.reconcile(job),
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

    /// A Create whose outcome is unknown: adopt the one job it created, or decide (from two
    /// listings `reconcile_wait` apart) that it created nothing, or stop. Jobs that look like
    /// it are told apart by their devices ([`Run::ours`]), never by comparing clocks.
    fn reconcile(&mut self, job: usize) -> Result<(), Error> {
        let planned = &self.folder.jobs[job];
        if let Some(named) = self.options.adopt.get(&planned.job_id) {
            let named = named.clone();
            let listed = self.listed(job)?;
            if !listed.iter().any(|info| info.job_id == named && matches(info, planned, self.remaining(job))) {
                return Err(Error::Stopped(format!(
                    "--adopt {}={named}: the platform lists no job {named} of this product, source, strategy, targets \
                     and {} devices that another run of this folder has not taken",
                    planned.job_id,
                    self.remaining(job)
                )));
            }
            return self.created(job, named, true);
        }
        for round in 0..2 {
            if round == 1 {
                nap(self.options.reconcile_wait);
            }
            let listed = self.listed(job)?;
            self.options.crash.check(CrashPoint::ReconcileListed)?;
            let (ours, undecided) = self.ours(job, &listed)?;
            match (ours.as_slice(), undecided.as_slice()) {
                ([], []) => continue,
                ([one], _) => return self.created(job, one.clone(), true),
                (found, _) => return Err(self.ambiguous(job, if found.is_empty() { &undecided } else { found })),
            }
        }
        let devices = self.remaining(job);
        let reason = format!(
            "its answer was lost, and no job of ours with this product, target account, source, strategy, targets \
             and {devices} devices appeared in two listings {:?} apart: the platform lists a job as soon as Create \
             makes it, so none was made",
            self.options.reconcile_wait
        );
        self.not_created(job, reason)?;
        self.queue.push_front(job);
        Ok(())
    }

    /// Before the first Create of a product in this run: every platform job of the product
    /// that no journal line of this folder names and that is one of the product's queued jobs
    /// ([`Run::ours`]) is adopted, so that a lost journal, a re-planned folder or a copy of it
    /// never has a job created twice.
    fn sweep(&mut self, first: usize) -> Result<(), Error> {
        let product = self.folder.jobs[first].request.product_key.clone();
        let filter = ListJobs { product_key: Some(product.clone()), ..ListJobs::default() };
        let listed = self.read("ListDeviceDistributeJob", || self.platform.list(&filter))?.map_err(|err| {
            Error::Stopped(format!("cannot compare the platform's jobs of product {product} with the plan's: {err}"))
        })?;
        self.swept.insert(product.clone());
        let unaccounted = listed.iter().any(|info| !self.states.known.contains(&info.job_id));
        if !unaccounted {
            return Ok(());
        }
        let queued: Vec<usize> =
            self.queue.iter().copied().filter(|&j| self.folder.jobs[j].request.product_key == product).collect();
        for job in queued {
            let (ours, undecided) = self.ours(job, &listed)?;
            let found = match (ours.as_slice(), undecided.as_slice()) {
                ([], []) => continue,
                ([one], _) => one.clone(),
                (found, _) => return Err(self.ambiguous(job, if found.is_empty() { &undecided } else { found })),
            };
            let state = &self.states.jobs[job];
            let intent = Record::Intent {
                job: self.folder.jobs[job].job_id.clone(),
                attempt: state.attempt,
                devices: state.remaining.len() as u64,
                at_ms: now_ms(),
            };
            self.record(&intent, CrashPoint::TornIntent)?;
            self.queue.retain(|&j| j != job);
            self.progress.note(&format!(
                "{}: the platform already has its job {found}, which no journal line of this folder names (a lost \
                 journal, a re-planned folder or a copy of it): adopted, not created again",
                self.folder.jobs[job].job_id
            ));
            self.created(job, found, true)?;
        }
        Ok(())
    }

    /// The names of the devices the current attempt of `job` still holds, in plan order.
    fn remaining_names(&self, job: usize) -> impl Iterator<Item = &'a str> + use<'a, '_, P> {
        let names = &self.folder.jobs[job].devices;
        self.states.jobs[job].remaining.iter().map(move |&d| names.get(d as usize))
    }

    /// Devices the current attempt of `job` still holds.
    fn remaining(&self, job: usize) -> u64 {
        self.states.jobs[job].remaining.len() as u64
    }

    /// The platform's jobs of `job`'s product and target account.
    fn listed(&self, job: usize) -> Result<Vec<JobInfo>, Error> {
        let planned = &self.folder.jobs[job];
        let filter = ListJobs {
            product_key: Some(planned.request.product_key.clone()),
            target_uid: Some(planned.request.target_uid.clone()),
            ..ListJobs::default()
        };
        self.read("ListDeviceDistributeJob", || self.platform.list(&filter))?.map_err(|err| {
            Error::Stopped(format!("cannot reconcile {}: ListDeviceDistributeJob refused: {err}", planned.job_id))
        })
    }

    /// Of the `listed` jobs that look like `job`'s current attempt (same product, target
    /// account, source, strategy, targets and size) and that no journal line names: those
    /// that are its own, and those that cannot be told. A look-alike is waited for until it
    /// ends; it is `job`'s own when its result file names only devices of the attempt and,
    /// where it distributed one, the device is at one of its targets now (an old job of the
    /// same devices that were sent home since is not). A stranger's job of other devices is
    /// never taken, however alike.
    fn ours(&mut self, job: usize, listed: &[JobInfo]) -> Result<(Vec<String>, Vec<String>), Error> {
        let planned = &self.folder.jobs[job];
        let candidates: Vec<String> = listed
            .iter()
            .filter(|info| !self.states.known.contains(&info.job_id) && matches(info, planned, self.remaining(job)))
            .map(|info| info.job_id.clone())
            .collect();
        for id in &candidates {
            if !self.lookalikes.contains_key(id) {
                let named = self.named_by(job, id)?;
                self.lookalikes.insert(id.clone(), named);
            }
        }
        let mine: HashSet<&str> = self.remaining_names(job).collect();
        let (mut ours, mut undecided) = (Vec::new(), Vec::new());
        for id in candidates {
            let Some(Some(named)) = self.lookalikes.get(&id) else { continue };
            if named.is_empty() {
                undecided.push(id);
            } else if named.iter().all(|device| mine.contains(device.as_str())) {
                ours.push(id);
            }
        }
        Ok((ours, undecided))
    }

    /// The devices of `job`'s product that look-alike `id` names in its result file, once it
    /// has ended; `None` when one it distributed is not at one of its targets now.
    fn named_by(&self, job: usize, id: &str) -> Result<Option<Vec<String>>, Error> {
        self.until_ended(job, id)?;
        let rows = self.result_file(id)?;
        let planned = &self.folder.jobs[job].request;
        let rows: Vec<&devdist_platform::DeviceResult> =
            rows.iter().filter(|r| r.product_key.is_empty() || r.product_key == planned.product_key).collect();
        if let Some(moved) = rows.iter().find(|r| r.code == CODE_DISTRIBUTED) {
            let product = &planned.product_key;
            let at =
                self.read("QueryDeviceProvisioning", || self.platform.provisioning(product, &moved.device_name))?;
            if !matches!(at, Ok(Some(at)) if planned.target_instance_ids.contains(&at)) {
                return Ok(None);
            }
        }
        Ok(Some(rows.into_iter().map(|r| r.device_name.clone()).collect()))
    }

    /// Polls platform job `id` until it has ended (a look-alike of `job` whose devices are
    /// only known from its result file), saying once what apply waits for.
    fn until_ended(&self, job: usize, id: &str) -> Result<(), Error> {
        let mut wait = self.options.poll_min;
        let mut said = false;
        loop {
            let info = self.read("QueryDeviceDistributeJob", || self.platform.query(id))?;
            match info {
                Ok(info) if info.is_finished() => return Ok(()),
                Ok(_) => {}
                Err(err) => {
                    return Err(Error::Stopped(format!(
                        "platform job {id} looks like {} but cannot be queried: {}",
                        self.folder.jobs[job].job_id,
                        err.detail()
                    )));
                }
            }
            if !said {
                self.progress.note(&format!(
                    "waiting for platform job {id} to end: it looks like {} (same product, source, targets and size), \
                     and only its result file tells whether it holds the same devices",
                    self.folder.jobs[job].job_id
                ));
                said = true;
            }
            nap(wait);
            devdist_engine::checkpoint().map_err(|_| Error::Interrupted)?;
            wait = (wait * 2).min(self.options.poll_max);
        }
    }

    /// Several platform jobs that may each be `job`'s: apply cannot choose, the operator can.
    fn ambiguous(&self, job: usize, ids: &[String]) -> Error {
        let planned = &self.folder.jobs[job];
        Error::Stopped(format!(
            "{} platform jobs may be the one of {} (attempt {}): {}. Their result files do not tell them apart \
             (the same devices, or none named), and creating it again could distribute the devices twice. Check \
             them in the console or with QueryDeviceDistributeJob, then name the right one: \
             devdist apply {} --adopt {}=JOBID",
            ids.len(),
            planned.job_id,
            self.states.jobs[job].attempt,
            ids.join(", "),
            devdist_formats::shown(&self.folder.dir),
            planned.job_id,
        ))
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
        if foreign != self.foreign_said && foreign + self.flights.len() >= self.folder.jobs_per_wave {
            self.progress.note(&format!(
                "waiting: {foreign} distribution jobs of others are running in the account, and the plan allows {} \
                 at once; apply starts its next job when they end",
                self.folder.jobs_per_wave
            ));
            self.foreign_said = foreign;
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
                    // Nothing of it is journalled yet: an interruption here is like a crash.
                    nap(wait);
                    devdist_engine::checkpoint().map_err(|_| Error::Interrupted)?;
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
            Err(err) => return self.vanished(flight, &err),
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

    /// QueryDeviceDistributeJob refused to show a job we created. When the platform still
    /// lists it, the answer was a fluke: poll again later. When it lists it no more (deleted
    /// by someone), where its devices are now says what it did: at a target, distributed; at
    /// the same place in two looks `poll_max` apart, not moved by it ([`CODE_JOB_VANISHED`]);
    /// moving meanwhile, it may still be running: stop, and a later run looks again.
    fn vanished(&mut self, flight: usize, err: &ApiError) -> Result<(), Error> {
        let (job, id) = (self.flights[flight].job, self.flights[flight].platform_job_id.clone());
        let listed = self.listed(job)?;
        if listed.iter().any(|info| info.job_id == id) {
            let f = &mut self.flights[flight];
            f.next_poll = Instant::now() + f.interval;
            f.interval = (f.interval * 2).min(self.options.poll_max);
            return Ok(());
        }
        self.flights.swap_remove(flight);
        let planned = &self.folder.jobs[job].request;
        let (product, targets) = (planned.product_key.clone(), planned.target_instance_ids.clone());
        let devices: Vec<String> = self.remaining_names(job).map(str::to_string).collect();
        let mut looks: Vec<Vec<Option<String>>> = Vec::new();
        for round in 0..2 {
            if round == 1 {
                nap(self.options.poll_max);
                devdist_engine::checkpoint().map_err(|_| Error::Interrupted)?;
            }
            let mut at = Vec::with_capacity(devices.len());
            for device in &devices {
                let found = self.read("QueryDeviceProvisioning", || self.platform.provisioning(&product, device))?;
                at.push(found.map_err(|e| {
                    Error::Stopped(format!(
                        "platform job {id} is gone ({}), and QueryDeviceProvisioning of {device} refused: {}",
                        err.detail(),
                        e.detail()
                    ))
                })?);
            }
            looks.push(at);
        }
        if looks[0] != looks[1] {
            return Err(Error::Stopped(format!(
                "platform job {id} is gone ({}), and some of its devices moved while apply looked: it may still be \
                 running (a distribution cannot be cancelled)",
                err.detail()
            )));
        }
        let outcomes = devices
            .iter()
            .zip(&looks[1])
            .map(|(device, at)| match at {
                Some(at) if targets.contains(at) => DeviceOutcome {
                    device: device.clone(),
                    outcome: Outcome::Distributed,
                    code: CODE_DISTRIBUTED.to_string(),
                    message: format!("platform job {id} is gone; QueryDeviceProvisioning shows it at {at}"),
                },
                at => DeviceOutcome {
                    device: device.clone(),
                    outcome: Outcome::Failed,
                    code: CODE_JOB_VANISHED.to_string(),
                    message: format!(
                        "platform job {id} is gone ({}); QueryDeviceProvisioning shows it at {}, twice {:?} apart: \
                         not moved by it",
                        err.detail(),
                        at.as_deref().unwrap_or("no target"),
                        self.options.poll_max
                    ),
                },
            })
            .collect();
        self.finish(job, End::Vanished, outcomes)
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
        // A device the file gives two different codes is settled like one it leaves out.
        let mut by_name: HashMap<&str, Option<(&str, &str)>> = HashMap::new();
        for r in results.iter().filter(|r| r.product_key.is_empty() || r.product_key == planned.product_key) {
            let verdict = Some((r.code.as_str(), r.message.as_str()));
            let entry = by_name.entry(r.device_name.as_str()).or_insert(verdict);
            if entry.is_some_and(|(code, _)| code != r.code) {
                *entry = None;
            }
        }
        let last_attempt = state.attempt + 1 >= self.options.max_attempts;
        let mut outcomes = Vec::with_capacity(state.remaining.len());
        for device in self.remaining_names(job) {
            let verdict = by_name.get(device);
            if let Some(&Some((code, message))) = verdict {
                let outcome = if code == CODE_DISTRIBUTED { Outcome::Distributed } else { Outcome::Failed };
                outcomes.push(DeviceOutcome {
                    device: device.to_string(),
                    outcome,
                    code: code.to_string(),
                    message: message.to_string(),
                });
                continue;
            }
            let why =
                if verdict.is_some() { "given two verdicts by the result file" } else { "not in the result file" };
            let at =
                self.read("QueryDeviceProvisioning", || self.platform.provisioning(&planned.product_key, device))?;
            self.options.crash.check(CrashPoint::Provisioning)?;
            let outcome = match at {
                Ok(Some(instance)) if planned.target_instance_ids.contains(&instance) => DeviceOutcome {
                    device: device.to_string(),
                    outcome: Outcome::Distributed,
                    code: CODE_DISTRIBUTED.to_string(),
                    message: format!("{why}; QueryDeviceProvisioning shows it at {instance}"),
                },
                Ok(_) if interrupted && !last_attempt => continue, // re-driven by the next attempt
                Ok(at) => DeviceOutcome {
                    device: device.to_string(),
                    outcome: Outcome::Unknown,
                    code: if interrupted { CODE_INTERRUPTED } else { CODE_NOT_IN_RESULT_FILE }.to_string(),
                    message: format!(
                        "{why} of {platform_job_id} (status {status}); QueryDeviceProvisioning shows it at {}",
                        at.as_deref().unwrap_or("no target")
                    ),
                },
                Err(err) => DeviceOutcome {
                    device: device.to_string(),
                    outcome: Outcome::Unknown,
                    code: err.code.clone(),
                    message: format!("{why}; QueryDeviceProvisioning: {}", err.detail()),
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

/// Whether a listed job looks like the Create of `planned` with `devices` devices: the same
/// product, target account, source, strategy, targets and size. Looks only: [`Run::ours`]
/// tells by the devices.
fn matches(info: &JobInfo, planned: &PlannedJob, devices: u64) -> bool {
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
}
