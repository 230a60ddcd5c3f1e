//! The distribution service behind the gateway: jobs, their timeline, the platform's rules and
//! the faults that strike jobs and devices. Pure state: time comes in as [`Now`], so every rule
//! is tested without a clock or a socket.

use std::collections::{BTreeMap, HashMap, HashSet};

use devdist_platform::CODE_DISTRIBUTED;
use devdist_platform::api::{
    CreateDeviceDistributeJob, JobInfo, JobItems, JobStatus, ListData, Provisioning, TargetInstanceConfig,
    TargetInstanceConfigs,
};
use devdist_platform::limits::{MAX_DEVICES_PER_JOB, MAX_JOBS_IN_FLIGHT, MAX_PAGE_SIZE};
use devdist_platform::results::DeviceResult;

use crate::faults::{Fault, Faults};
use crate::world::World;

/// Request parameters, query and form body merged (docs/wire.md §9.1).
pub type Params = BTreeMap<String, String>;

/// The code for a Create beyond `devdist_platform::limits::MAX_JOBS_IN_FLIGHT`. The platform's
/// real code is not published; this one is the emulator's choice (emulator/README.md).
pub const TOO_MANY_JOBS: &str = "iot.distribute.TooManyJobs";
/// The code of a device that failed with a transient cause (`device-fail`, half of them).
pub const DEVICE_RETRYABLE: &str = "iot.system.SystemException";
/// The code of a device that failed for good (`device-fail`, the other half).
pub const DEVICE_PERMANENT: &str = "iot.device.DistributeFailed";

/// A point in time: monotonic milliseconds since the emulator started (drives the job
/// timeline) and wall-clock milliseconds since the epoch (what responses show).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic ms since start.
    pub mono: u64,
    /// Wall-clock ms since the Unix epoch.
    pub wall: u64,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Refused by the API gateway: HTTP 4xx/5xx, `{RequestId, HostId, Code, Message, Recommend}`.
    Gateway {
        /// HTTP status.
        status: u16,
        /// Error code.
        code: String,
        /// Message.
        message: String,
    },
    /// Refused by IoT: HTTP 200, `{RequestId, Success:false, Code, ErrorMessage}`.
    Business {
        /// Error code.
        code: String,
        /// Message.
        message: String,
    },
}

impl Failure {
    /// A gateway error.
    pub fn gateway(status: u16, code: &str, message: impl Into<String>) -> Failure {
        Failure::Gateway { status, code: code.to_string(), message: message.into() }
    }

    /// An IoT business error.
    pub fn business(code: &str, message: impl Into<String>) -> Failure {
        Failure::Business { code: code.to_string(), message: message.into() }
    }

    /// The error code.
    pub fn code(&self) -> &str {
        match self {
            Failure::Gateway { code, .. } | Failure::Business { code, .. } => code,
        }
    }
}

fn missing(name: &str) -> Failure {
    Failure::gateway(400, &format!("Missing{name}"), format!("{name} is mandatory for this action."))
}

fn illegal(message: impl Into<String>) -> Failure {
    Failure::business("iot.system.IllegalRequest", message)
}

/// A device's result in a job that ended (one byte a device): its code and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Distributed: code `"200"` (`devdist_platform::CODE_DISTRIBUTED`).
    Distributed,
    /// Failed with a transient cause ([`DEVICE_RETRYABLE`]).
    Retryable,
    /// Failed for good ([`DEVICE_PERMANENT`]).
    Permanent,
}

impl Outcome {
    /// Its code in the result file.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Distributed => CODE_DISTRIBUTED,
            Outcome::Retryable => DEVICE_RETRYABLE,
            Outcome::Permanent => DEVICE_PERMANENT,
        }
    }

    /// What happened, as the result file says.
    pub fn message(self) -> &'static str {
        match self {
            Outcome::Distributed => "success",
            Outcome::Retryable => "system busy, try again",
            Outcome::Permanent => "the device cannot be distributed",
        }
    }
}

/// A distribution job.
#[derive(Debug, Clone)]
pub struct Job {
    /// The platform's job ID.
    pub id: String,
    /// 1-based creation number.
    pub ordinal: u64,
    /// Product key.
    pub product_key: String,
    /// Source instance.
    pub source_instance: String,
    /// 0 specified region, 1 nearest access.
    pub strategy: u8,
    /// Destination account.
    pub target_uid: String,
    /// Target instances in request order.
    pub targets: Vec<String>,
    /// Its devices in request order, by registration number (the world keeps their names).
    pub devices: Vec<u64>,
    /// Creation time, ms since the epoch.
    pub gmt_create: u64,
    /// Creation time, monotonic ms.
    pub start: u64,
    /// How long the job runs, ms.
    pub duration: u64,
    /// `slow` struck: the duration is ten times the configured one.
    pub slow: bool,
    /// `interrupt` struck: the job ends in status 3.
    pub interrupted: bool,
    /// Per device (parallel to `devices`), its result once the job ends; `None` for a device
    /// an interrupted job never reached (it is not in the result file).
    pub outcomes: Vec<Option<Outcome>>,
    /// Its effects on the devices have been applied.
    pub settled: bool,
    /// DeleteDeviceDistributeJob removed its record.
    pub deleted: bool,
    /// `lost-response` struck its Create: the client was never answered.
    pub lost_response: bool,
}

impl Job {
    /// Status at `mono`: 0 initializing (the first fifth of its duration), 1 running, then
    /// 2 completed or 3 interrupted.
    pub fn status(&self, mono: u64) -> JobStatus {
        let elapsed = mono.saturating_sub(self.start);
        if elapsed >= self.duration {
            if self.interrupted { JobStatus::Interrupted } else { JobStatus::Completed }
        } else if elapsed < self.duration / 5 {
            JobStatus::Initializing
        } else {
            JobStatus::Running
        }
    }

    /// The result file: one [`DeviceResult`] per line, as JSON, for each device the job reached
    /// (names from `world`, which keeps a deleted device's name too).
    pub fn result_file(&self, world: &World) -> String {
        let mut text = String::new();
        for (&number, outcome) in self.devices.iter().zip(&self.outcomes) {
            if let Some(outcome) = outcome {
                let line = DeviceResult {
                    product_key: self.product_key.clone(),
                    device_name: world.device_name(number).to_string(),
                    code: outcome.code().to_string(),
                    message: outcome.message().to_string(),
                };
                text.push_str(&serde_json::to_string(&line).expect("a device result serialises"));
                text.push('\n');
            }
        }
        text
    }
}

/// A result URL handed out by QueryDeviceDistributeDetail.
#[derive(Debug, Clone)]
struct ResultLink {
    job: usize,
    expires: u64,
}

/// What a result URL serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// The file.
    File(String),
    /// The URL expired.
    Expired,
    /// No such URL.
    Unknown,
}

/// The distribution service of one account.
#[derive(Debug)]
pub struct Distribution {
    world: World,
    faults: Faults,
    job_ms: u64,
    url_ms: u64,
    jobs: Vec<Job>,
    by_id: HashMap<String, usize>,
    /// Jobs not settled yet (in status 0/1 at the last settle).
    pending: Vec<usize>,
    /// Creates of the same content so far, so a repeated Create gets fresh fault decisions.
    creates: HashMap<String, u64>,
    /// Detail calls per job so far (each URL gets its own identity).
    details: HashMap<usize, u64>,
    links: HashMap<String, ResultLink>,
    max_in_flight: usize,
}

impl Distribution {
    /// A service over `world`; jobs take `job_ms` (ten times that when `slow` strikes) and
    /// result URLs live `url_ms`.
    pub fn new(world: World, faults: Faults, job_ms: u64, url_ms: u64) -> Distribution {
        Distribution {
            world,
            faults,
            job_ms,
            url_ms,
            jobs: Vec::new(),
            by_id: HashMap::new(),
            pending: Vec::new(),
            creates: HashMap::new(),
            details: HashMap::new(),
            links: HashMap::new(),
            max_in_flight: 0,
        }
    }

    /// The account, instances and devices.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world once every job that ended by `now` has had its effects ([`settle`](Self::settle)):
    /// what the read APIs answer from.
    pub fn settled_world(&mut self, now: Now) -> &World {
        self.settle(now);
        &self.world
    }

    /// [`Distribution::settled_world`], to change (the `churn` fault).
    pub(crate) fn settled_world_mut(&mut self, now: Now) -> &mut World {
        self.settle(now);
        &mut self.world
    }

    /// Every job ever created, in creation order (deleted ones included).
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// The most jobs ever in status 0/1 at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Jobs in status 0/1 now.
    pub fn in_flight(&mut self, now: Now) -> usize {
        self.settle(now);
        self.pending.len()
    }

    /// Applies the effects of every job that ended by `now`: each device whose code is 200
    /// is now in the job's (first) target, moved there when the job ended (`world::Device`).
    pub fn settle(&mut self, now: Now) {
        let jobs = &mut self.jobs;
        let world = &mut self.world;
        self.pending.retain(|&at| {
            let job = &mut jobs[at];
            if !job.status(now.mono).is_finished() {
                return true;
            }
            let done_at = job.gmt_create + job.duration;
            for (&number, outcome) in job.devices.iter().zip(&job.outcomes) {
                if *outcome == Some(Outcome::Distributed) {
                    world.move_numbered(number, &job.targets[0], Some(done_at));
                }
            }
            job.settled = true;
            false
        });
    }

    /// CreateDeviceDistributeJob. Returns the new job's index.
    pub fn create(&mut self, params: &Params, now: Now) -> Result<usize, Failure> {
        self.settle(now);
        let request = parse_create(params)?;
        let numbers = self.check_rules(&request)?;
        let job = self.draw_outcomes(request, numbers, now);
        let at = self.jobs.len();
        self.by_id.insert(job.id.clone(), at);
        self.jobs.push(job);
        self.pending.push(at);
        // Statuses change only with time, so the most jobs in flight is seen right after a Create.
        self.settle(now);
        self.max_in_flight = self.max_in_flight.max(self.pending.len());
        Ok(at)
    }

    /// The platform's rules for a Create that [`parse_create`] read, in order: the first rule
    /// broken is the answer. Its devices' registration numbers when none is.
    fn check_rules(&self, request: &CreateDeviceDistributeJob) -> Result<Vec<u64>, Failure> {
        check_device_count(request)?;
        self.check_target_uid(&request.target_uid)?;
        self.check_instances(request)?;
        check_strategy_targets(request)?;
        self.check_product(request)?;
        let numbers = self.check_devices(request)?;
        self.check_room()?;
        Ok(numbers)
    }

    /// Jobs stay in their account: another account's uid is refused (cross-account jobs are
    /// console-only), an unknown one does not exist.
    fn check_target_uid(&self, target_uid: &str) -> Result<(), Failure> {
        if target_uid == self.world.account {
            return Ok(());
        }
        if !self.world.known_uid(target_uid) {
            return Err(Failure::business("iot.system.UidNotFound", format!("account {target_uid} does not exist")));
        }
        Err(illegal(format!(
            "cross-account distribution (to {target_uid}) can only be done in the console, with a verification code"
        )))
    }

    /// The source and every target are instances the account may use; Strategy 0's one target
    /// is not the source; no two targets share a region. A Strategy 1 candidate may be the
    /// source (nearest access may find the device nearest where it is).
    fn check_instances(&self, request: &CreateDeviceDistributeJob) -> Result<(), Failure> {
        let source = &request.source_instance_id;
        if !self.world.usable(source) {
            return Err(instance_not_found(source));
        }
        let mut regions: Vec<&str> = Vec::new();
        for target in &request.target_instance_ids {
            if !self.world.usable(target) {
                return Err(instance_not_found(target));
            }
            if target == source && request.strategy == 0 && request.target_instance_ids.len() == 1 {
                return Err(Failure::business(
                    "iot.system.InstanceIdSame",
                    format!("the target instance {target} is the source instance"),
                ));
            }
            let region = self.region(target);
            if regions.contains(&region) {
                return Err(illegal(format!("two target instances in region {region}")));
            }
            regions.push(region);
        }
        Ok(())
    }

    /// The product exists in the source instance: it is the home of some of its devices, or
    /// one of them has been distributed there (`World::products`).
    fn check_product(&self, request: &CreateDeviceDistributeJob) -> Result<(), Failure> {
        let (product_key, source) = (&request.product_key, &request.source_instance_id);
        if self.world.product_in(product_key, source) {
            return Ok(());
        }
        Err(Failure::business(
            "iot.prod.NotExistedProduct",
            format!("product {product_key} does not exist in instance {source}"),
        ))
    }

    /// Each device is listed once, registered under the product, and now in the source
    /// instance (`world::Device::location`). Their registration numbers, in request order.
    fn check_devices(&self, request: &CreateDeviceDistributeJob) -> Result<Vec<u64>, Failure> {
        let (product_key, source) = (&request.product_key, &request.source_instance_id);
        let mut seen = HashSet::new();
        let mut numbers = Vec::with_capacity(request.device_names.len());
        for name in &request.device_names {
            if !seen.insert(name.as_str()) {
                return Err(illegal(format!("device {name} is listed twice")));
            }
            let known = self.world.device(product_key, name).filter(|device| device.location() == source.as_str());
            let Some(device) = known else {
                return Err(Failure::business(
                    "iot.device.NotExistedDevice",
                    format!("device {product_key}/{name} does not exist in instance {source}"),
                ));
            };
            numbers.push(device.registered);
        }
        Ok(numbers)
    }

    /// Fewer than `MAX_JOBS_IN_FLIGHT` jobs of the account are initializing or running.
    fn check_room(&self) -> Result<(), Failure> {
        if self.pending.len() < MAX_JOBS_IN_FLIGHT {
            return Ok(());
        }
        Err(Failure::business(
            TOO_MANY_JOBS,
            format!("{MAX_JOBS_IN_FLIGHT} distribution jobs of this account are already initializing or running"),
        ))
    }

    /// The job `request` makes, its fate drawn from the faults: whether it is slow, whether it
    /// is interrupted (and which devices it reached then), and each reached device's outcome.
    /// The draws hang on the request's content and how many identical Creates came before, so
    /// the same calls give the same jobs and a repeated Create gets fresh decisions.
    fn draw_outcomes(&mut self, request: CreateDeviceDistributeJob, numbers: Vec<u64>, now: Now) -> Job {
        let CreateDeviceDistributeJob {
            product_key,
            device_names: devices,
            source_instance_id: source,
            strategy,
            target_uid,
            target_instance_ids: targets,
        } = request;
        let content = content_key(&product_key, &source, strategy, &target_uid, &targets, &devices);
        let repeat = self.creates.entry(content.clone()).or_default();
        *repeat += 1;
        let identity = format!("{content}#{repeat}");
        let ordinal = self.jobs.len() as u64 + 1;
        let faults = &self.faults;
        let slow = faults.hits(Fault::Slow, &[&identity]);
        let interrupted = faults.hits(Fault::Interrupt, &[&identity]);
        let outcomes = devices
            .iter()
            .map(|name| {
                if interrupted && faults.roll("interrupt-reached", &[&identity, name]) >= 0.5 {
                    return None;
                }
                Some(if faults.hits(Fault::DeviceFail, &[&identity, name]) {
                    if faults.roll("device-fail-code", &[&identity, name]) < 0.5 {
                        Outcome::Retryable
                    } else {
                        Outcome::Permanent
                    }
                } else {
                    Outcome::Distributed
                })
            })
            .collect();
        Job {
            id: job_id(faults, ordinal),
            ordinal,
            product_key,
            source_instance: source,
            strategy,
            target_uid,
            targets,
            devices: numbers,
            gmt_create: now.wall,
            start: now.mono,
            duration: if slow { self.job_ms * 10 } else { self.job_ms },
            slow,
            interrupted,
            outcomes,
            settled: false,
            deleted: false,
            lost_response: false,
        }
    }

    /// Marks a job whose Create answer was never sent.
    pub fn lose_response(&mut self, job: usize) {
        self.jobs[job].lost_response = true;
    }

    /// The job named by the `JobId` parameter (not deleted).
    pub fn find(&mut self, params: &Params, now: Now) -> Result<usize, Failure> {
        self.settle(now);
        let id = required(params, "JobId")?;
        match self.by_id.get(&id) {
            Some(&at) if !self.jobs[at].deleted => Ok(at),
            _ => Err(illegal(format!("job {id} does not exist"))),
        }
    }

    /// QueryDeviceDistributeJob's `Data`.
    pub fn query(&mut self, params: &Params, now: Now) -> Result<JobInfo, Failure> {
        let at = self.find(params, now)?;
        Ok(self.job_info(&self.jobs[at], now, false))
    }

    /// QueryDeviceDistributeDetail: a token for the result URL of an ended job.
    pub fn detail(&mut self, params: &Params, now: Now) -> Result<String, Failure> {
        let at = self.find(params, now)?;
        let job = &self.jobs[at];
        if !job.status(now.mono).is_finished() {
            return Err(illegal(format!("job {} has not ended yet", job.id)));
        }
        let asked = self.details.entry(at).or_default();
        *asked += 1;
        let identity = [job.id.as_str(), &asked.to_string()];
        let token = format!("{:016x}{:016x}", self.faults.hash("result-url", &identity), job.ordinal);
        let expires = if self.faults.hits(Fault::ExpireUrl, &identity) {
            now.mono.saturating_sub(1)
        } else {
            now.mono + self.url_ms
        };
        self.links.insert(token.clone(), ResultLink { job: at, expires });
        Ok(token)
    }

    /// What the result URL with `token` serves at `now`.
    pub fn download(&self, token: &str, now: Now) -> Download {
        match self.links.get(token) {
            None => Download::Unknown,
            Some(link) if now.mono >= link.expires => Download::Expired,
            Some(link) => Download::File(self.jobs[link.job].result_file(&self.world)),
        }
    }

    /// DeleteDeviceDistributeJob: removes the record of an ended job.
    pub fn delete(&mut self, params: &Params, now: Now) -> Result<(), Failure> {
        let at = self.find(params, now)?;
        let job = &mut self.jobs[at];
        if !job.status(now.mono).is_finished() {
            return Err(illegal(format!("job {} is still running; a distribution cannot be cancelled", job.id)));
        }
        job.deleted = true;
        Ok(())
    }

    /// ListDeviceDistributeJob's `Data`: newest first, filtered by ProductKey, Status,
    /// TargetUid and JobId; pages by CurrentPage, or by NextToken when given.
    pub fn list(&mut self, params: &Params, now: Now) -> Result<ListData, Failure> {
        self.settle(now);
        let page_params = || {
            Failure::business(
                "iot.common.InvalidPageParams",
                format!("PageSize must be 1 to {MAX_PAGE_SIZE}, CurrentPage 1 or more"),
            )
        };
        let page_size: usize = required(params, "PageSize")?
            .parse()
            .ok()
            .filter(|size| (1..=MAX_PAGE_SIZE as usize).contains(size))
            .ok_or_else(page_params)?;
        let status: Option<JobStatus> = match params.get("Status") {
            None => None,
            Some(text) => Some(
                text.parse::<u8>()
                    .ok()
                    .and_then(|code| JobStatus::try_from(code).ok())
                    .ok_or_else(|| illegal("Status must be 0 to 3"))?,
            ),
        };
        let matching: Vec<&Job> = self
            .jobs
            .iter()
            .rev()
            .filter(|job| !job.deleted)
            .filter(|job| params.get("ProductKey").is_none_or(|pk| *pk == job.product_key))
            .filter(|job| params.get("TargetUid").is_none_or(|uid| *uid == job.target_uid))
            .filter(|job| params.get("JobId").is_none_or(|id| *id == job.id))
            .filter(|job| status.is_none_or(|status| status == job.status(now.mono)))
            .collect();
        // A NextToken names the last job handed out, so pages stay right while jobs are created.
        let skip = match params.get("NextToken").filter(|token| !token.is_empty()) {
            Some(token) => {
                let after: u64 =
                    token.strip_prefix("emu-").and_then(|ordinal| ordinal.parse().ok()).ok_or_else(|| {
                        Failure::business("iot.common.InvalidPageParams", format!("NextToken {token} is not valid"))
                    })?;
                matching.iter().take_while(|job| job.ordinal >= after).count()
            }
            None => {
                let page: usize = params
                    .get("CurrentPage")
                    .map_or(Some(1), |page| page.parse().ok())
                    .filter(|page| *page >= 1)
                    .ok_or_else(page_params)?;
                (page - 1).saturating_mul(page_size)
            }
        };
        let page: Vec<&Job> = matching.iter().skip(skip).take(page_size).copied().collect();
        let next_token = match page.last() {
            Some(last) if skip + page.len() < matching.len() => format!("emu-{}", last.ordinal),
            _ => String::new(),
        };
        let items = page.iter().map(|job| self.job_info(job, now, true)).collect();
        Ok(ListData { total: matching.len() as u64, next_token, job_info: JobItems { items } })
    }

    /// A job as QueryDeviceDistributeJob describes it, or as ListDeviceDistributeJob does when
    /// `listed` (with the source's and the targets' names and regions).
    fn job_info(&self, job: &Job, now: Now, listed: bool) -> JobInfo {
        let name = |id: &str| listed.then(|| id.to_string());
        let region = |id: &str| listed.then(|| self.region(id).to_string());
        let target = |id: &String| TargetInstanceConfig {
            target_instance_id: id.clone(),
            target_instance_name: name(id),
            target_region: region(id),
        };
        JobInfo {
            gmt_create: job.gmt_create as i64,
            job_id: job.id.clone(),
            product_key: job.product_key.clone(),
            source_instance_id: job.source_instance.clone(),
            source_instance_name: name(&job.source_instance),
            source_region: region(&job.source_instance),
            source_uid: self.world.account.clone(),
            status: job.status(now.mono),
            strategy: job.strategy,
            target_uid: job.target_uid.clone(),
            total: job.devices.len() as u64,
            target_instance_configs: TargetInstanceConfigs {
                target_instance_configs: job.targets.iter().map(target).collect(),
            },
        }
    }

    /// QueryDeviceProvisioning's `Data`: the device's last distribution, where it left from and
    /// where it went (so where it is now), and when; for a device never distributed, its home
    /// as both, at `now` (`world::Device::last_distribution`).
    pub fn provisioning(&mut self, params: &Params, now: Now) -> Result<Provisioning, Failure> {
        self.settle(now);
        let product_key = required(params, "ProductKey")?;
        let device_name = required(params, "DeviceName")?;
        let Some(device) = self.world.device(&product_key, &device_name) else {
            return Err(Failure::business(
                "iot.device.NotExistedDevice",
                format!("device {product_key}/{device_name} does not exist"),
            ));
        };
        let (source, target, at) = device.last_distribution();
        let when = at.unwrap_or(now.wall) as i64;
        Ok(Provisioning {
            aliyun_uid: self.world.account.clone(),
            device_name,
            gmt_create: when,
            gmt_modified: when,
            product_key,
            source_iot_instance_id: source.to_string(),
            source_region: self.region(source).to_string(),
            target_iot_instance_id: target.to_string(),
            target_region: self.region(target).to_string(),
        })
    }

    /// The region of instance `id`; empty for an instance that does not exist.
    fn region(&self, id: &str) -> &str {
        self.world.instances.get(id).map_or("", |instance| instance.region.as_str())
    }
}

/// Create's request from its parameters, read by `CreateDeviceDistributeJob::from_params` (the
/// inverse of what the client sends). A required parameter absent or empty is `Missing{Name}`;
/// a `Strategy` other than `0` or `1` and a `TargetAliyunId` in place of `TargetUid` are
/// `iot.system.IllegalRequest`.
fn parse_create(params: &Params) -> Result<CreateDeviceDistributeJob, Failure> {
    let pairs: Vec<(String, String)> = params.iter().map(|(key, value)| (key.clone(), value.clone())).collect();
    let request = CreateDeviceDistributeJob::from_params(&pairs).map_err(|error| unreadable(params, &error))?;
    if request.device_names.is_empty() {
        return Err(missing("DeviceName"));
    }
    if request.target_instance_ids.is_empty() {
        return Err(missing("TargetInstanceConfig"));
    }
    // Exactly `0` or `1` as sent: from_params reads any u8, `01` and `+1` included.
    let strategy = params.get("Strategy").map_or("", String::as_str);
    if !matches!(strategy, "0" | "1") {
        return Err(strategy_not_0_or_1(strategy));
    }
    // from_params reads an absent TargetUid as empty; an empty one sent is an unknown account.
    if !params.contains_key("TargetUid") {
        if params.contains_key("TargetAliyunId") {
            return Err(illegal("TargetAliyunId: the emulator knows accounts by their UID only; give TargetUid"));
        }
        return Err(missing("TargetUid"));
    }
    Ok(request)
}

/// The failure for an `error` of `CreateDeviceDistributeJob::from_params`: `Missing{Name}` as
/// it says, a `Strategy` that is not a number as any other bad Strategy (an empty one as
/// missing), and a list parameter with a bad index (`DeviceName.x`) as an invalid parameter.
fn unreadable(params: &Params, error: &str) -> Failure {
    if let Some(name) = error.strip_prefix("Missing") {
        return missing(name);
    }
    match params.get("Strategy") {
        Some(strategy) if error.starts_with("Strategy") && strategy.is_empty() => missing("Strategy"),
        Some(strategy) if error.starts_with("Strategy") => strategy_not_0_or_1(strategy),
        _ => Failure::gateway(400, "InvalidParameter", error),
    }
}

fn strategy_not_0_or_1(strategy: &str) -> Failure {
    illegal(format!("Strategy must be 0 or 1, not {strategy}"))
}

/// At most `MAX_DEVICES_PER_JOB` devices.
fn check_device_count(request: &CreateDeviceDistributeJob) -> Result<(), Failure> {
    let count = request.device_names.len();
    if count > MAX_DEVICES_PER_JOB {
        return Err(illegal(format!("{count} devices in one job; at most {MAX_DEVICES_PER_JOB}")));
    }
    Ok(())
}

/// Strategy 0 (a specified region) takes exactly one target instance.
fn check_strategy_targets(request: &CreateDeviceDistributeJob) -> Result<(), Failure> {
    let targets = request.target_instance_ids.len();
    if request.strategy == 0 && targets != 1 {
        return Err(illegal(format!("Strategy 0 takes exactly one target instance, not {targets}")));
    }
    Ok(())
}

fn instance_not_found(id: &str) -> Failure {
    Failure::business("iot.system.InstanceNotFound", format!("instance {id} does not exist in this account"))
}

fn required(params: &Params, name: &str) -> Result<String, Failure> {
    params.get(name).filter(|value| !value.is_empty()).cloned().ok_or_else(|| missing(name))
}

fn content_key(pk: &str, source: &str, strategy: u8, uid: &str, targets: &[String], devices: &[String]) -> String {
    let strategy = strategy.to_string();
    let mut parts = vec![pk, source, &strategy, uid];
    parts.extend(targets.iter().map(String::as_str));
    parts.push("|");
    parts.extend(devices.iter().map(String::as_str));
    format!("{:016x}", Faults::none(0).hash("job-content", &parts))
}

/// Job IDs look like the platform's (`UbmsMHmkqv0PiAG****010001`): 10 letters and digits
/// derived from the seed, then the creation number in 8 digits.
fn job_id(faults: &Faults, ordinal: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bits = faults.hash("job-id", &[&ordinal.to_string()]);
    let mut id = String::new();
    for _ in 0..10 {
        id.push(ALPHABET[(bits % 62) as usize] as char);
        bits /= 62;
    }
    format!("{id}{ordinal:08}")
}

#[cfg(test)]
mod tests;
