//! The emulator as a running service: HTTP requests in, gateway, meter, faults and the
//! distribution service in order, the official response shapes out.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use devdist_platform::Credentials;
use devdist_platform::api::{
    Action, Common, CreateJobBody, DetailBody, DeviceDetailBody, DeviceDetails, DevicePageBody, DistributedDevicesBody,
    DistributedProductsBody, GatewayErrorBody, JobStatus, Lane, ListJobsBody, ProductListBody, ProvisioningBody,
    QueryJobBody, ThingTopoBody,
};
use serde::Serialize;
use serde_json::Value;

use crate::churn::Churn;
use crate::distribution::{Distribution, Download, Failure, Now, Outcome, Params};
use crate::faults::{Fault, Faults};
use crate::gateway::{Call, Gateway};
use crate::http::{Handler, Reply, Request, Response, Server};
use crate::meter::{ApiStats, Meter};
use crate::registry;
use crate::world::World;

/// The host name error bodies carry, as the real gateway does.
pub const HOST_ID: &str = "iot.cn-shanghai.aliyuncs.com";
/// How long a result URL stays valid unless `expire-url` strikes (docs/wire.md §9.3).
pub const RESULT_URL_SECONDS: u64 = 600;
/// Where the emulator serves result files.
pub const RESULTS_PATH: &str = "/_emulator/results/";
/// The introspection endpoint.
pub const STATS_PATH: &str = "/_emulator/stats";
/// How long the `stall` fault holds a read call before it hangs up, unless `--stall-seconds`
/// says otherwise: longer than the client's whole call may take (`ClientConfig::call_timeout`,
/// 30 s), so the client gives up first.
pub const STALL_SECONDS: f64 = 40.0;

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Injected faults and the seed their decisions derive from.
    pub faults: Faults,
    /// How long a job takes from Create to its end, in seconds (0: ended at once).
    pub job_seconds: f64,
    /// Multiplies every QPS limit.
    pub rate_scale: f64,
    /// How long result URLs stay valid, in seconds.
    pub url_seconds: u64,
    /// The account's access key (and STS token).
    pub credentials: Credentials,
    /// Serve HTTPS with this certificate chain and key instead of HTTP.
    pub tls: Option<crate::tls::Identity>,
    /// How long the `stall` fault holds a read call before it closes the connection, in seconds.
    pub stall_seconds: f64,
}

impl Config {
    /// Loopback, any port, no faults, jobs of one second, the platform's limits, plain HTTP.
    pub fn new(credentials: Credentials) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: Faults::none(0),
            job_seconds: 1.0,
            rate_scale: 1.0,
            url_seconds: RESULT_URL_SECONDS,
            credentials,
            tls: None,
            stall_seconds: STALL_SECONDS,
        }
    }
}

#[derive(Debug)]
struct State {
    gateway: Gateway,
    distribution: Distribution,
    meter: Meter,
    /// Occurrences of each call identity so far (a retried call gets fresh fault decisions).
    occurrences: HashMap<u64, u64>,
    requests: u64,
    lost_responses: u64,
    /// Refused calls per error code.
    refused: BTreeMap<String, u64>,
    /// Read calls the `stall` fault held, then hung up on.
    stalled: u64,
    /// The `churn` fault's changes of the world.
    churn: Churn,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    faults: Faults,
    stall: Duration,
    scheme: &'static str,
    fallback_host: String,
    started: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> Now {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
        Now { mono: self.started.elapsed().as_millis() as u64, wall }
    }
}

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    server: Server,
    shared: Arc<Shared>,
    url: String,
}

impl Emulator {
    /// Starts serving `world` as configured.
    pub fn start(world: World, config: Config) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let job_ms = (config.job_seconds * 1000.0).round() as u64;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                gateway: Gateway::new(config.credentials.clone()),
                distribution: Distribution::new(world, config.faults.clone(), job_ms, config.url_seconds * 1000),
                meter: Meter::new(config.rate_scale),
                occurrences: HashMap::new(),
                requests: 0,
                lost_responses: 0,
                refused: BTreeMap::new(),
                stalled: 0,
                churn: Churn::default(),
            }),
            faults: config.faults.clone(),
            stall: Duration::from_secs_f64(config.stall_seconds.max(0.0)),
            scheme,
            fallback_host: addr.to_string(),
            started: Instant::now(),
        });
        let tls = config.tls.as_ref().map(crate::tls::Identity::server_config).transpose()?;
        let handling = Arc::clone(&shared);
        let handler: Handler = Arc::new(move |request| handle(&handling, &request));
        let server = Server::spawn(listener, tls, handler)?;
        Ok(Emulator { server, shared, url: format!("{scheme}://{addr}") })
    }

    /// The endpoint, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What `GET /_emulator/stats` serves.
    pub fn stats(&self) -> Value {
        stats(&self.shared, true, |stats| serde_json::to_value(stats).expect("the stats serialise"))
    }

    /// Stops accepting connections.
    pub fn shutdown(mut self) {
        self.server.shutdown();
    }
}

fn handle(shared: &Shared, request: &Request) -> Reply {
    if request.path == STATS_PATH {
        // Written straight from the counters: at a million devices a JSON tree of every job's
        // devices would take gigabytes. `?jobs=0` leaves the jobs out.
        let jobs = !request.query.split('&').any(|pair| pair == "jobs=0");
        return answer(200, "application/json", stats(shared, jobs, |stats| to_json(stats)));
    }
    if let Some(token) = request.path.strip_prefix(RESULTS_PATH) {
        return download(shared, token);
    }
    if request.path != "/" {
        return gateway_error(&Failure::gateway(404, "InvalidAction.NotFound", "Specified api is not found."), "");
    }
    api_call(shared, request)
}

fn api_call(shared: &Shared, request: &Request) -> Reply {
    let now = shared.now();
    let mut guard = shared.lock();
    let state = &mut *guard;
    state.requests += 1;
    let request_id = request_id(&shared.faults, state.requests);
    let call = Call { method: &request.method, query: &request.query, headers: &request.headers, body: &request.body };
    let result = state.gateway.authenticate(&call, now).and_then(|call| {
        let action = Action::from_name(&call.action).ok_or_else(|| {
            Failure::gateway(400, "InvalidAction.NotFound", format!("Specified api {} is not found.", call.action))
        })?;
        Ok((action, call.params))
    });
    let (action, params) = match result {
        Ok(found) => found,
        Err(failure) => return refuse(state, &failure, &request_id),
    };
    let lane = Lane::of_params(action, |name| params.get(name).map(String::as_str));
    if !state.meter.admit_lane(lane, now.mono) {
        return refuse(state, &throttled(), &request_id);
    }
    let identity = call_identity(action, &params);
    let occurrence = state.occurrences.entry(identity).or_default();
    *occurrence += 1;
    let occurrence = *occurrence;
    if throttle_burst(&shared.faults, identity, occurrence) {
        state.meter.stats_mut(action).fault_throttled += 1;
        return refuse(state, &throttled(), &request_id);
    }
    let call_id = [format!("{identity:016x}"), occurrence.to_string()];
    let call_id = [call_id[0].as_str(), call_id[1].as_str()];
    if shared.faults.hits(Fault::Error5xx, &call_id) {
        state.meter.stats_mut(action).errors_5xx += 1;
        let failure = if shared.faults.roll("error5xx-kind", &call_id) < 0.5 {
            Failure::gateway(500, "InternalError", "The request processing has failed due to some unknown error.")
        } else {
            Failure::gateway(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            )
        };
        return refuse(state, &failure, &request_id);
    }
    if is_read(action) && shared.faults.hits(Fault::Stall, &call_id) {
        state.meter.stats_mut(action).stalled += 1;
        state.stalled += 1;
        return Reply::Stall(shared.stall);
    }
    let answering = Instant::now();
    if is_read(action) {
        let world = state.distribution.settled_world_mut(now);
        state.churn.tick(world, action, &params);
        if state.churn.strike(world, &shared.faults, action, &params, &call_id, now) {
            state.meter.stats_mut(action).churned += 1;
        }
    }
    let distribution = &mut state.distribution;
    let common = Common::ok(request_id.as_str());
    let body = match action {
        Action::CreateDeviceDistributeJob => distribution.create(&params, now).map(|at| {
            if shared.faults.hits(Fault::LostResponse, &call_id) {
                distribution.lose_response(at);
                None
            } else {
                Some(to_json(&CreateJobBody { common, job_id: distribution.jobs()[at].id.clone() }))
            }
        }),
        Action::QueryDeviceDistributeJob => {
            distribution.query(&params, now).map(|data| Some(to_json(&QueryJobBody { common, data })))
        }
        Action::QueryDeviceDistributeDetail => distribution.detail(&params, now).map(|token| {
            let host = host(request).unwrap_or(&shared.fallback_host);
            let file = format!("{}://{host}{RESULTS_PATH}{token}", shared.scheme);
            Some(to_json(&DetailBody { common, file }))
        }),
        Action::ListDeviceDistributeJob => {
            distribution.list(&params, now).map(|data| Some(to_json(&ListJobsBody { common, data })))
        }
        Action::DeleteDeviceDistributeJob => distribution.delete(&params, now).map(|()| Some(to_json(&common))),
        Action::QueryDeviceProvisioning => {
            distribution.provisioning(&params, now).map(|data| Some(to_json(&ProvisioningBody { common, data })))
        }
        Action::QueryProductList => registry::product_list(distribution.settled_world(now), &params)
            .map(|data| Some(to_json(&ProductListBody { common, data }))),
        Action::QueryDevice => registry::query_device(distribution.settled_world(now), &params)
            .map(|page| Some(to_json(&DevicePageBody { common, ..page }))),
        Action::BatchQueryDeviceDetail => registry::device_details(distribution.settled_world(now), &params)
            .map(|data| Some(to_json(&DeviceDetailBody { common, data: DeviceDetails { data } }))),
        Action::GetThingTopo => registry::thing_topo(distribution.settled_world(now), &params)
            .map(|data| Some(to_json(&ThingTopoBody { common, data }))),
        Action::ListDistributedDevice => registry::distributed_devices(distribution.settled_world(now), &params, now)
            .map(|data| Some(to_json(&DistributedDevicesBody { common, data }))),
        Action::ListDistributedProduct => registry::distributed_products(distribution.settled_world(now), &params, now)
            .map(|data| Some(to_json(&DistributedProductsBody { common, data }))),
    };
    state.meter.stats_mut(action).answer_us += answering.elapsed().as_micros() as u64;
    match body {
        Err(failure) => refuse(state, &failure, &request_id),
        Ok(None) => {
            state.lost_responses += 1;
            Reply::Hangup
        }
        Ok(Some(body)) => answer(200, "application/json", body),
    }
}

/// The read APIs (PLATFORM-API.md §7): the calls `stall` and `churn` strike.
fn is_read(action: Action) -> bool {
    matches!(
        action,
        Action::QueryProductList
            | Action::QueryDevice
            | Action::BatchQueryDeviceDetail
            | Action::GetThingTopo
            | Action::ListDistributedDevice
            | Action::ListDistributedProduct
            | Action::QueryDeviceProvisioning
    )
}

/// A response body as JSON.
fn to_json(body: &impl Serialize) -> String {
    serde_json::to_string(body).expect("response bodies serialise")
}

fn host(request: &Request) -> Option<&str> {
    request.headers.iter().find(|(name, _)| name == "host").map(|(_, value)| value.as_str())
}

fn throttled() -> Failure {
    Failure::gateway(400, "Throttling.User", "Request was denied due to user flow control.")
}

/// Bursts of three: a burst starts at an occurrence of a call with probability rate/3 and
/// throttles it and the next two occurrences, so about `rate` of all calls are throttled.
fn throttle_burst(faults: &Faults, identity: u64, occurrence: u64) -> bool {
    let rate = faults.rate(Fault::Throttle);
    let identity = format!("{identity:016x}");
    rate > 0.0
        && (occurrence.saturating_sub(2).max(1)..=occurrence)
            .any(|start| faults.roll(Fault::Throttle.name(), &[&identity, &start.to_string()]) < rate / 3.0)
}

/// A call's identity: its action and business parameters (not its nonce or time).
fn call_identity(action: Action, params: &Params) -> u64 {
    let mut parts = vec![action.name()];
    for (key, value) in params {
        parts.push(key);
        parts.push(value);
    }
    Faults::none(0).hash("call", &parts)
}

fn request_id(faults: &Faults, n: u64) -> String {
    let hex = format!("{:016X}{:016X}", faults.hash("request-id", &[&n.to_string()]), n);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn refuse(state: &mut State, failure: &Failure, request_id: &str) -> Reply {
    *state.refused.entry(failure.code().to_string()).or_default() += 1;
    match failure {
        Failure::Business { code, message } => {
            let body = Common {
                request_id: request_id.to_string(),
                success: false,
                code: Some(code.clone()),
                error_message: Some(message.clone()),
            };
            answer(200, "application/json", to_json(&body))
        }
        Failure::Gateway { .. } => gateway_error(failure, request_id),
    }
}

fn gateway_error(failure: &Failure, request_id: &str) -> Reply {
    let Failure::Gateway { status, code, message } = failure else { unreachable!("gateway errors only") };
    let body = GatewayErrorBody {
        request_id: request_id.to_string(),
        host_id: HOST_ID.to_string(),
        code: code.clone(),
        message: message.clone(),
        recommend: format!("https://error-center.aliyun.com/status/search?Keyword={code}&source=PopGw"),
    };
    answer(*status, "application/json", to_json(&body))
}

fn answer(status: u16, content_type: &'static str, body: String) -> Reply {
    Reply::Answer(Response { status, content_type, body: body.into_bytes() })
}

/// Result files are served like expired or missing OSS objects when they are.
fn download(shared: &Shared, token: &str) -> Reply {
    let now = shared.now();
    let oss_error = |status, code: &str, message: &str| {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>{code}</Code>\n  <Message>{message}</Message>\n</Error>\n"
        );
        answer(status, "application/xml", body)
    };
    match shared.lock().distribution.download(token, now) {
        Download::File(text) => answer(200, "application/octet-stream", text),
        Download::Expired => oss_error(403, "AccessDenied", "Request has expired."),
        Download::Unknown => oss_error(404, "NoSuchKey", "The specified key does not exist."),
    }
}

/// What `GET /_emulator/stats` serves (emulator/README.md, "Introspection").
#[derive(Serialize)]
struct Stats<'a> {
    requests: u64,
    /// By action name.
    apis: BTreeMap<&'static str, ApiStats>,
    refused: &'a BTreeMap<String, u64>,
    lost_responses: u64,
    stalled: u64,
    churn: ChurnStats,
    jobs_created: usize,
    jobs_in_flight: usize,
    max_jobs_in_flight: usize,
    uptime_ms: u64,
    jobs: Vec<JobStats<'a>>,
}

/// What the `churn` fault did: transient devices registered, devices deleted, changes in force.
#[derive(Serialize)]
struct ChurnStats {
    created: u64,
    deleted: u64,
    pending: usize,
}

/// A job in the stats: its parameters under the platform's names, then what befell it.
#[derive(Serialize)]
struct JobStats<'a> {
    #[serde(rename = "JobId")]
    id: &'a str,
    ordinal: u64,
    #[serde(rename = "ProductKey")]
    product_key: &'a str,
    #[serde(rename = "SourceInstanceId")]
    source_instance: &'a str,
    #[serde(rename = "Strategy")]
    strategy: u8,
    #[serde(rename = "TargetUid")]
    target_uid: &'a str,
    #[serde(rename = "TargetInstanceIds")]
    targets: &'a [String],
    #[serde(rename = "Status")]
    status: JobStatus,
    #[serde(rename = "GmtCreate")]
    gmt_create: u64,
    deleted: bool,
    lost_response: bool,
    slow: bool,
    interrupted: bool,
    devices: Vec<DeviceStats<'a>>,
}

/// A device of a job in the stats: its code, `null` while (or if never) reached.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeviceStats<'a> {
    device_name: &'a str,
    code: Option<&'a str>,
}

/// The stats, with every job when `jobs`, handed to `write`.
fn stats<R>(shared: &Shared, jobs: bool, write: impl FnOnce(&Stats<'_>) -> R) -> R {
    let now = shared.now();
    let mut state = shared.lock();
    let in_flight = state.distribution.in_flight(now);
    let jobs_created = state.distribution.jobs().len();
    let listed = if jobs { state.distribution.jobs() } else { &[] };
    let jobs: Vec<JobStats<'_>> = listed
        .iter()
        .map(|job| JobStats {
            id: &job.id,
            ordinal: job.ordinal,
            product_key: &job.product_key,
            source_instance: &job.source_instance,
            strategy: job.strategy,
            target_uid: &job.target_uid,
            targets: &job.targets,
            status: job.status(now.mono),
            gmt_create: job.gmt_create,
            deleted: job.deleted,
            lost_response: job.lost_response,
            slow: job.slow,
            interrupted: job.interrupted,
            devices: job
                .devices
                .iter()
                .zip(&job.outcomes)
                .map(|(&number, outcome)| DeviceStats {
                    device_name: state.distribution.world().device_name(number),
                    code: outcome.map(Outcome::code),
                })
                .collect(),
        })
        .collect();
    let stats = Stats {
        requests: state.requests,
        apis: state.meter.stats(),
        refused: &state.refused,
        lost_responses: state.lost_responses,
        stalled: state.stalled,
        churn: {
            let (created, deleted, pending) = state.churn.counts();
            ChurnStats { created, deleted, pending }
        },
        jobs_created,
        jobs_in_flight: in_flight,
        max_jobs_in_flight: state.distribution.max_in_flight(),
        uptime_ms: now.mono,
        jobs,
    };
    write(&stats)
}
