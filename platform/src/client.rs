//! A blocking client of the distribution API: signs, paces, retries and classifies errors.
//!
//! Every call is a `POST /` with all its parameters in the form body (docs/wire.md §2.1, §10:
//! the gateway reads them from either place), signed with V3 (the SDK's default) or V2. Each
//! attempt is re-signed with a new nonce and date. Retries follow [`ErrorKind`]: a
//! CreateDeviceDistributeJob is retried only when it surely was not carried out, because a
//! distribution cannot be cancelled.

use crate::api::{
    API_VERSION, Action, BatchQueryDeviceDetail, Body, Common, CreateDeviceDistributeJob, CreateJobBody, DetailBody,
    DeviceDetail, DeviceDetailBody, DevicePageBody, DistributedDevice, DistributedDevices, DistributedDevicesBody,
    DistributedProducts, DistributedProductsBody, GetThingTopo, JobData, JobInfo, Lane, ListDistributedDevice,
    ListDistributedProduct, ListJobs, ListJobsBody, ProductListBody, ProductPage, Provisioning, ProvisioningBody,
    QueryDevice, QueryJobBody, QueryProductList, ThingTopoBody, TopoPage,
};
use crate::credentials::Credentials;
use crate::encode::{form_encode, percent_encode};
use crate::error::{ApiError, ErrorKind, is_retryable_code, refused_at_gateway};
use crate::limits::{MAX_DISTRIBUTED_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::pace::Pace;
use crate::results::{self, DeviceResult};
use crate::sign;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Where every distribution API lives, whatever the regions involved.
pub const DEFAULT_ENDPOINT: &str = "https://iot.cn-shanghai.aliyuncs.com";

/// The largest response body read (a result file of 10,000 devices is about 1 MB).
const MAX_BODY_BYTES: u64 = 64 << 20;
/// The first retry waits about this long; each further one twice as long.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// No retry waits longer than this, whatever the platform asks.
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// The signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// ACS3-HMAC-SHA256, the official SDK's default.
    #[default]
    V3,
    /// The RPC HMAC-SHA1 scheme (`SignatureVersion=1.0`).
    V2,
}

/// How to reach the platform.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://host[:port]` or `http://host[:port]` (the emulator without `--tls`).
    pub endpoint: String,
    /// Who calls.
    pub credentials: Credentials,
    /// How calls are signed.
    pub scheme: Scheme,
    /// Multiplies every per-API limit: below 1 leaves room for other tools on the account,
    /// above 1 only makes sense against the emulator.
    pub rate_scale: f64,
    /// A PEM file of the CA to trust instead of the built-in Mozilla roots (the emulator's
    /// `--tls` certificate).
    pub ca_cert: Option<PathBuf>,
    /// Attempts per call, the first included (at least 1).
    pub max_attempts: u32,
    /// Connecting, TLS included.
    pub connect_timeout: Duration,
    /// Each read of the answer.
    pub read_timeout: Duration,
    /// The whole of one attempt: connect, send, answer. A server that drips its answer a
    /// byte at a time is cut off here, not after the answer's length in seconds.
    pub call_timeout: Duration,
    /// Told, at once, when the endpoint cannot be reached (and when it can be again): the
    /// client retries quietly otherwise, and an operator should not wait minutes for a word.
    pub notify: Option<fn(&str)>,
}

impl ClientConfig {
    /// The defaults: the real endpoint, V3, the platform's limits, 6 attempts, the SDK's
    /// timeouts (connect 5 s, read 10 s), 30 s for a whole attempt.
    pub fn new(credentials: Credentials) -> ClientConfig {
        ClientConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            credentials,
            scheme: Scheme::V3,
            rate_scale: 1.0,
            ca_cert: None,
            max_attempts: 6,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            notify: None,
        }
    }
}

/// Counters of one API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiCalls {
    /// Requests sent, retries included.
    pub calls: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Answers that said `Throttling*`.
    pub throttled: u64,
}

/// What the client did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Per API.
    pub apis: BTreeMap<Action, ApiCalls>,
    /// Result-file downloads, retries included.
    pub downloads: u64,
}

impl CallStats {
    /// The sum over every API.
    pub fn total(&self) -> ApiCalls {
        self.apis.values().fold(ApiCalls::default(), |sum, a| ApiCalls {
            calls: sum.calls + a.calls,
            retries: sum.retries + a.retries,
            throttled: sum.throttled + a.throttled,
        })
    }
}

/// The platform client. `Send + Sync`: share one between threads so that they share its pacers.
#[derive(Debug)]
pub struct Client {
    /// `scheme://authority/`.
    base_url: String,
    /// The authority, as signed in `host`.
    host: String,
    credentials: Credentials,
    scheme: Scheme,
    max_attempts: u32,
    /// Pooled connections, for reads and downloads.
    agent: ureq::Agent,
    /// A new connection per request, for Create: a failure to connect then tells "not sent"
    /// apart from "answer lost" (a stale pooled connection would blur the two).
    fresh: ureq::Agent,
    pace: Pace,
    stats: Mutex<CallStats>,
    notify: Option<fn(&str)>,
    /// Whether the last attempt failed to reach the endpoint (said once per streak).
    unreachable: std::sync::atomic::AtomicBool,
}

impl Client {
    /// A client; fails on a bad endpoint, rate scale or CA file.
    pub fn new(config: ClientConfig) -> Result<Client, ApiError> {
        let (scheme_name, rest) = config
            .endpoint
            .split_once("://")
            .filter(|(s, _)| *s == "https" || *s == "http")
            .ok_or_else(|| ApiError::client("BadEndpoint", bad_endpoint(&config.endpoint)))?;
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains(['/', '?', '#', '@']) {
            return Err(ApiError::client("BadEndpoint", bad_endpoint(&config.endpoint)));
        }
        if !(config.rate_scale.is_finite() && config.rate_scale > 0.0) {
            return Err(ApiError::client(
                "BadRateScale",
                format!("rate scale {} is not a positive number", config.rate_scale),
            ));
        }
        if config.max_attempts == 0 {
            return Err(ApiError::client("BadAttempts", "max_attempts must be at least 1"));
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &config.ca_cert {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&read_ca(path)?));
        }
        let tls = tls.build();
        let agent_config = |idle: usize| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_connect(Some(config.connect_timeout))
                .timeout_per_read(Some(config.read_timeout))
                .timeout_global(Some(config.call_timeout))
                .max_idle_connections(idle)
                .user_agent(concat!("devdist/", env!("CARGO_PKG_VERSION")))
                .tls_config(tls.clone())
                .build()
                .new_agent()
        };
        Ok(Client {
            base_url: format!("{scheme_name}://{host}/"),
            host: host.to_string(),
            credentials: config.credentials,
            scheme: config.scheme,
            max_attempts: config.max_attempts,
            agent: agent_config(10),
            fresh: agent_config(0),
            pace: Pace::new(config.rate_scale),
            stats: Mutex::new(CallStats::default()),
            notify: config.notify,
            unreachable: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Where the calls go: `scheme://host[:port]`, as configured (never credentials).
    pub fn endpoint(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// Creates a job; returns its JobId.
    ///
    /// NOT retried when the outcome is [`ErrorKind::Unknown`] (a distribution cannot be
    /// cancelled): the caller reconciles. Retried only when surely not carried out (throttling,
    /// nonce used, connection refused before sending).
    pub fn create_device_distribute_job(&self, req: &CreateDeviceDistributeJob) -> Result<String, ApiError> {
        let body: CreateJobBody = self.call(Action::CreateDeviceDistributeJob, req.params())?;
        if body.job_id.is_empty() {
            return Err(ApiError {
                kind: ErrorKind::Unknown,
                http_status: Some(200),
                code: "client.NoJobId".into(),
                message: "CreateDeviceDistributeJob succeeded without a JobId".into(),
                request_id: Some(body.common.request_id),
                retry_after: None,
            });
        }
        Ok(body.job_id)
    }

    /// A job's status and counts.
    pub fn query_device_distribute_job(&self, job_id: &str) -> Result<JobData, ApiError> {
        let body: QueryJobBody = self.call(Action::QueryDeviceDistributeJob, vec![pair("JobId", job_id)])?;
        Ok(body.data)
    }

    /// The URL of a finished job's per-device result file (valid 10 minutes).
    pub fn query_device_distribute_detail(&self, job_id: &str) -> Result<String, ApiError> {
        let body: DetailBody = self.call(Action::QueryDeviceDistributeDetail, vec![pair("JobId", job_id)])?;
        Ok(body.file)
    }

    /// Every job matching `filter`, all pages walked. A pager that does not end (a token seen
    /// before, or past [`MAX_LIST_PAGES`]) is an error, not a loop that holds every page in
    /// memory.
    pub fn list_device_distribute_jobs(&self, filter: &ListJobs) -> Result<Vec<JobInfo>, ApiError> {
        walk_pages(Action::ListDeviceDistributeJob, MAX_PAGE_SIZE, |page, token| {
            let mut params = filter.params();
            params.push(pair("PageSize", MAX_PAGE_SIZE.to_string()));
            params.push(pair("CurrentPage", page.to_string()));
            if !token.is_empty() {
                params.push(pair("NextToken", token));
            }
            let body: ListJobsBody = self.call(Action::ListDeviceDistributeJob, params)?;
            Ok(Page { items: body.data.job_info.items, total: body.data.total, next_token: body.data.next_token })
        })
    }

    /// One page of an instance's products, newest first; deep pages are paced at the deep
    /// tier's limit ([`Lane`]).
    pub fn query_product_list(&self, request: &QueryProductList) -> Result<ProductPage, ApiError> {
        let body: ProductListBody = self.call_in(request.lane(), request.params())?;
        Ok(body.data)
    }

    /// One page of a product's devices, newest first, with the paging fields (`NextToken`,
    /// `Page`, `PageCount`, `PageSize`, `Total`); deep pages are paced at the deep tier's limit.
    pub fn query_device(&self, request: &QueryDevice) -> Result<DevicePageBody, ApiError> {
        self.call_in(request.lane(), request.params())
    }

    /// The details of up to 100 devices of one product; unknown names are left out of the
    /// answer, and a name the platform will not show fails the whole call.
    pub fn batch_query_device_detail(&self, request: &BatchQueryDeviceDetail) -> Result<Vec<DeviceDetail>, ApiError> {
        let body: DeviceDetailBody = self.call(Action::BatchQueryDeviceDetail, request.params())?;
        Ok(body.data.data)
    }

    /// One page of a gateway's sub-devices.
    pub fn get_thing_topo(&self, request: &GetThingTopo) -> Result<TopoPage, ApiError> {
        let body: ThingTopoBody = self.call(Action::GetThingTopo, request.params())?;
        Ok(body.data)
    }

    /// One page of the distributed devices matching `request` (no filter on the target).
    pub fn list_distributed_device(&self, request: &ListDistributedDevice) -> Result<DistributedDevices, ApiError> {
        let body: DistributedDevicesBody = self.call(Action::ListDistributedDevice, request.params())?;
        Ok(body.data)
    }

    /// Every distributed device matching `filter` (its paging ignored), all pages of 200
    /// walked, with the same protection against an endless pager as
    /// [`list_device_distribute_jobs`](Self::list_device_distribute_jobs).
    pub fn list_distributed_devices(&self, filter: &ListDistributedDevice) -> Result<Vec<DistributedDevice>, ApiError> {
        walk_pages(Action::ListDistributedDevice, MAX_DISTRIBUTED_PAGE_SIZE, |page, _| {
            let request =
                ListDistributedDevice { current_page: page, page_size: MAX_DISTRIBUTED_PAGE_SIZE, ..filter.clone() };
            let data = self.list_distributed_device(&request)?;
            Ok(Page { items: data.info.items, total: data.total, next_token: String::new() })
        })
    }

    /// One page of the distributed products matching `request`.
    pub fn list_distributed_product(&self, request: &ListDistributedProduct) -> Result<DistributedProducts, ApiError> {
        let body: DistributedProductsBody = self.call(Action::ListDistributedProduct, request.params())?;
        Ok(body.data)
    }

    /// Where a device is now.
    pub fn query_device_provisioning(&self, product_key: &str, device_name: &str) -> Result<Provisioning, ApiError> {
        let params = vec![pair("ProductKey", product_key), pair("DeviceName", device_name)];
        let body: ProvisioningBody = self.call(Action::QueryDeviceProvisioning, params)?;
        Ok(body.data)
    }

    /// Downloads and parses a result file: a plain GET, no signing (the URL carries its own).
    /// An expired URL is a [`ErrorKind::Permanent`] error with the storage's code
    /// (`AccessDenied`, HTTP 403): ask for a new URL.
    pub fn download_results(&self, url: &str) -> Result<Vec<DeviceResult>, ApiError> {
        let mut attempt = 1;
        loop {
            self.lock_stats().downloads += 1;
            let result = self.download_once(url);
            match result {
                Err(e) if e.kind == ErrorKind::Retryable && attempt < self.max_attempts => {
                    std::thread::sleep(backoff(attempt, e.retry_after));
                    attempt += 1;
                }
                other => return other.map_err(|e| self.redact(e)),
            }
        }
    }

    /// What the client did so far.
    pub fn stats(&self) -> CallStats {
        self.lock_stats().clone()
    }

    fn lock_stats(&self) -> std::sync::MutexGuard<'_, CallStats> {
        self.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One call with its retries.
    fn call<T: DeserializeOwned + Body>(&self, action: Action, params: Vec<(String, String)>) -> Result<T, ApiError> {
        self.call_in(Lane::of(action), params)
    }

    /// One call with its retries, paced under `lane`.
    fn call_in<T: DeserializeOwned + Body>(&self, lane: Lane, params: Vec<(String, String)>) -> Result<T, ApiError> {
        let action = lane.action;
        let mut attempt = 1;
        loop {
            self.pace.acquire_lane(lane);
            let result = self.attempt::<T>(action, &params);
            let mut stats = self.lock_stats();
            let api = stats.apis.entry(action).or_default();
            api.calls += 1;
            api.retries += u64::from(attempt > 1);
            api.throttled += u64::from(result.as_ref().is_err_and(ApiError::is_throttling));
            drop(stats);
            self.say_reach(&result);
            match result {
                Err(e) if e.kind == ErrorKind::Retryable && attempt < self.max_attempts => {
                    std::thread::sleep(backoff(attempt, e.retry_after));
                    attempt += 1;
                }
                other => return other.map_err(|e| self.redact(e)),
            }
        }
    }

    /// Tells `notify` when the endpoint stops answering at the transport level, and when it
    /// answers again: once per streak.
    fn say_reach<T>(&self, result: &Result<T, ApiError>) {
        use std::sync::atomic::Ordering;
        let Some(notify) = self.notify else { return };
        let down = result.as_ref().is_err_and(|e| e.code.starts_with("transport."));
        if self.unreachable.swap(down, Ordering::Relaxed) != down {
            let err = result.as_ref().err().map(|e| format!(": {}; trying again", e.message)).unwrap_or_default();
            let word = if down { "cannot reach" } else { "reached again" };
            notify(&format!("{word} {}{err}", self.endpoint()));
        }
    }

    /// One signed request and its answer.
    fn attempt<T: DeserializeOwned + Body>(&self, action: Action, params: &[(String, String)]) -> Result<T, ApiError> {
        let idempotent = action != Action::CreateDeviceDistributeJob;
        let body = form_encode(params);
        let date = sign::timestamp(SystemTime::now());
        let nonce = format!("{:032x}", rand::random::<u128>());
        let (url, headers) = match self.scheme {
            Scheme::V3 => (self.base_url.clone(), self.v3_headers(action, &body, date, nonce)),
            Scheme::V2 => self.v2_request(action, params, date, nonce),
        };
        let agent = if idempotent { &self.agent } else { &self.fresh };
        let mut request = agent.post(&url);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        let mut response = request.send(body.as_bytes()).map_err(|e| transport_error(e, idempotent))?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let retry_after = header("x-acs-retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis);
        let header_request_id = header("x-acs-request-id");
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| transport_error(e, idempotent))?;
        interpret(status, &bytes, retry_after, header_request_id, idempotent)
    }

    /// The V3 headers: exactly `host`, `content-type` and the `x-acs-*` ones are signed.
    fn v3_headers(&self, action: Action, body: &str, date: String, nonce: String) -> Vec<(String, String)> {
        let body_sha = sign::sha256_hex(body.as_bytes());
        let mut signed = vec![
            pair("host", &self.host),
            pair("content-type", "application/x-www-form-urlencoded"),
            pair("x-acs-action", action.name()),
            pair("x-acs-version", API_VERSION),
            pair("x-acs-date", date),
            pair("x-acs-signature-nonce", nonce),
            pair("x-acs-content-sha256", &body_sha),
        ];
        if let Some(token) = &self.credentials.token {
            signed.push(pair("x-acs-accesskey-id", &self.credentials.access_key_id));
            signed.push(pair("x-acs-security-token", token.expose()));
        }
        let canonical = sign::v3_canonical_request("POST", &[], &signed, &body_sha);
        let signature = sign::v3_signature(self.credentials.secret.expose(), &sign::v3_string_to_sign(&canonical));
        let authorization =
            sign::v3_authorization(&self.credentials.access_key_id, &sign::v3_signed_header_names(&signed), &signature);
        signed.push(pair("accept", "application/json"));
        signed.push(pair("authorization", authorization));
        signed
    }

    /// The V2 URL (common parameters and `Signature` in the query) and headers.
    fn v2_request(
        &self,
        action: Action,
        params: &[(String, String)],
        date: String,
        nonce: String,
    ) -> (String, Vec<(String, String)>) {
        let mut common = vec![
            pair("Action", action.name()),
            pair("Format", "json"),
            pair("Version", API_VERSION),
            pair("Timestamp", date),
            pair("SignatureNonce", nonce),
        ];
        if let Some(token) = &self.credentials.token {
            common.push(pair("SecurityToken", token.expose()));
        }
        common.push(pair("SignatureMethod", "HMAC-SHA1"));
        common.push(pair("SignatureVersion", "1.0"));
        common.push(pair("AccessKeyId", &self.credentials.access_key_id));
        let signed: Vec<(String, String)> = common.iter().chain(params).cloned().collect();
        let signature = sign::v2_signature(self.credentials.secret.expose(), &sign::v2_string_to_sign("POST", &signed));
        common.push(pair("Signature", signature));
        let query: Vec<String> =
            common.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
        let headers = vec![
            pair("host", &self.host),
            pair("content-type", "application/x-www-form-urlencoded"),
            pair("accept", "application/json"),
            pair("x-acs-action", action.name()),
            pair("x-acs-version", API_VERSION),
        ];
        (format!("{}?{}", self.base_url, query.join("&")), headers)
    }

    fn download_once(&self, url: &str) -> Result<Vec<DeviceResult>, ApiError> {
        let mut response = self.agent.get(url).call().map_err(|e| transport_error(e, true))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| transport_error(e, true))?;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&bytes);
            let code = xml_field(&text, "Code").unwrap_or_else(|| format!("HTTP{status}"));
            let message = xml_field(&text, "Message").unwrap_or_else(|| excerpt(&text));
            let kind = if status >= 500 { ErrorKind::Retryable } else { ErrorKind::Permanent };
            return Err(ApiError {
                kind,
                http_status: Some(status),
                code,
                message: format!("result file download: {message}"),
                request_id: xml_field(&text, "RequestId"),
                retry_after: None,
            });
        }
        results::parse(&bytes).map_err(|e| ApiError {
            kind: ErrorKind::Permanent,
            http_status: Some(status),
            code: "client.BadResultFile".into(),
            message: e.to_string(),
            request_id: None,
            retry_after: None,
        })
    }

    /// Removes the secret and the token, raw and percent-encoded once or twice (the V2
    /// string-to-sign the gateway echoes holds the token encoded twice), from an error's text.
    fn redact(&self, mut error: ApiError) -> ApiError {
        let secrets = std::iter::once(&self.credentials.secret).chain(&self.credentials.token);
        for secret in secrets.map(|s| s.expose()).filter(|s| !s.is_empty()) {
            let once = percent_encode(secret);
            let twice = percent_encode(&once);
            let form = form_encode(&[(String::new(), secret.to_string())]);
            for form in [twice.as_str(), once.as_str(), &form[1..], secret] {
                error.message = error.message.replace(form, "***");
            }
        }
        error
    }
}

fn pair(key: impl Into<String>, value: impl Into<String>) -> (String, String) {
    (key.into(), value.into())
}

/// Why `endpoint` is refused, without the password of a `user:password@` in it: the endpoint
/// is echoed in errors, and a password typed into it must not reach a terminal or a log.
fn bad_endpoint(endpoint: &str) -> String {
    let (prefix, rest) = match endpoint.find("://") {
        Some(at) => endpoint.split_at(at + 3),
        None => ("", endpoint),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!(
            "endpoint {:?} is not http(s)://HOST[:PORT] (a user or password in it is never sent)",
            format!("{prefix}***{}", &rest[at..])
        ),
        None => format!("endpoint {endpoint:?} is not http(s)://HOST[:PORT]"),
    }
}

fn read_ca(path: &std::path::Path) -> Result<Vec<ureq::tls::Certificate<'static>>, ApiError> {
    let (pem, _) = crate::file::read_regular(path, crate::file::CA_LIMIT)
        .map_err(|e| ApiError::client("BadCaCert", format!("{}: {e}", path.display())))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(ApiError::client("BadCaCert", format!("{}: {e}", path.display()))),
        }
    }
    if certs.is_empty() {
        return Err(ApiError::client("BadCaCert", format!("{}: no PEM certificate in it", path.display())));
    }
    Ok(certs)
}

/// The wait before attempt `attempt + 1`: what the platform asked for, else exponential
/// (200 ms, 400 ms, …) with jitter (between half and all of it), capped.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(BACKOFF_CAP);
    }
    let full = BACKOFF_BASE.saturating_mul(1 << (attempt - 1).min(16)).min(BACKOFF_CAP);
    full.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}

/// The most pages one listing may take: 200,000 jobs at 200 a page.
pub const MAX_LIST_PAGES: u32 = 1_000;

/// One page of a listing, as [`walk_pages`] needs it.
struct Page<T> {
    items: Vec<T>,
    /// Total over all pages; 0 when the API did not say.
    total: u64,
    /// The token of the next page; empty when none (or the API pages by number only).
    next_token: String,
}

/// Every item of a listing of `page_size` a page: `fetch(page, token)` gives page `page` (from 1), `token` being the
/// `NextToken` of the page before (empty on the first). It ends at an empty page, when `Total`
/// items were collected, or (when `Total` is 0) at a short page. A pager that does not end (a
/// token seen before, or past [`MAX_LIST_PAGES`]) is an `EndlessPager` error, not a loop that
/// holds every page in memory.
fn walk_pages<T>(
    action: Action,
    page_size: u32,
    mut fetch: impl FnMut(u32, &str) -> Result<Page<T>, ApiError>,
) -> Result<Vec<T>, ApiError> {
    let mut all = Vec::new();
    let mut token = String::new();
    let mut tokens = std::collections::HashSet::new();
    let endless = |why: String| ApiError::client("EndlessPager", format!("{}: {why}", action.name()));
    for page in 1u32.. {
        if page > MAX_LIST_PAGES {
            return Err(endless(format!("more than {MAX_LIST_PAGES} pages")));
        }
        if !token.is_empty() && !tokens.insert(token.clone()) {
            return Err(endless(format!("page {page} repeats a NextToken of an earlier page")));
        }
        let Page { items, total, next_token } = fetch(page, &token)?;
        let got = items.len();
        all.extend(items);
        let last = got == 0 || (total > 0 && all.len() as u64 >= total) || (total == 0 && got < page_size as usize);
        if last {
            break;
        }
        token = next_token;
    }
    Ok(all)
}

/// Retryable or not, by the platform's code; for a Create, "retryable" narrows to what the
/// gateway refused before the service saw it, and any other server failure is Unknown.
fn classify(code: &str, status: u16, idempotent: bool) -> ErrorKind {
    let refused_at_gateway = refused_at_gateway(code);
    let server_failure = is_retryable_code(code) || status >= 500;
    if refused_at_gateway || (server_failure && idempotent) {
        ErrorKind::Retryable
    } else if server_failure {
        ErrorKind::Unknown
    } else {
        ErrorKind::Permanent
    }
}

/// A transport failure: retryable when the request surely never left (no connection), else
/// Unknown for a Create and retryable for the idempotent reads.
fn transport_error(error: ureq::Error, idempotent: bool) -> ApiError {
    use ureq::Error as E;
    use ureq::Timeout as T;
    let (code, kind) = match &error {
        E::HostNotFound | E::ConnectionFailed | E::Timeout(T::Resolve | T::Connect) => {
            ("transport.connect", ErrorKind::Retryable)
        }
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => ("transport.connect", ErrorKind::Retryable),
        E::Io(io) if refused_handshake(io) => ("transport.setup", ErrorKind::Permanent),
        E::Tls(_) | E::Rustls(_) | E::Pem(_) | E::BadUri(_) | E::RequireHttpsOnly(_) | E::TlsRequired => {
            ("transport.setup", ErrorKind::Permanent)
        }
        E::Timeout(_) => ("transport.timeout", if idempotent { ErrorKind::Retryable } else { ErrorKind::Unknown }),
        _ => ("transport.io", if idempotent { ErrorKind::Retryable } else { ErrorKind::Unknown }),
    };
    ApiError {
        kind,
        http_status: None,
        code: code.into(),
        message: error.to_string(),
        request_id: None,
        retry_after: None,
    }
}

/// Whether `io` is a TLS handshake that failed on the certificate or the protocol: nothing was
/// sent, and trying again will not help.
fn refused_handshake(io: &std::io::Error) -> bool {
    use rustls::Error as R;
    let tls = io.get_ref().and_then(|inner| inner.downcast_ref::<R>());
    matches!(
        tls,
        Some(R::InvalidCertificate(_) | R::NoCertificatesPresented | R::PeerIncompatible(_) | R::UnsupportedNameType)
    )
}

/// An answer: a 2xx body whose `Success` is true, or the error it carries.
fn interpret<T: DeserializeOwned + Body>(
    status: u16,
    bytes: &[u8],
    retry_after: Option<Duration>,
    header_request_id: Option<String>,
    idempotent: bool,
) -> Result<T, ApiError> {
    let error = |code: String, message: String, request_id: Option<String>| ApiError {
        kind: classify(&code, status, idempotent),
        http_status: Some(status),
        code,
        message,
        request_id: request_id.filter(|id| !id.is_empty()).or_else(|| header_request_id.clone()),
        retry_after,
    };
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<T>(bytes) {
            Ok(body) if body.common().success => Ok(body),
            Ok(body) => {
                let Common { request_id, code, error_message, .. } = body.common().clone();
                let code = code.filter(|c| !c.is_empty()).unwrap_or_else(|| "client.SuccessFalse".into());
                let message = error_message.unwrap_or_else(|| "Success is false".into());
                Err(error(code, message, Some(request_id)))
            }
            Err(e) => Err(ApiError {
                // Answered but unreadable: for a Create the job may exist.
                kind: if idempotent { ErrorKind::Retryable } else { ErrorKind::Unknown },
                http_status: Some(status),
                code: "client.BadResponse".into(),
                message: format!("unreadable answer ({e}): {}", excerpt(&String::from_utf8_lossy(bytes))),
                request_id: header_request_id,
                retry_after,
            }),
        };
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let field = |names: &[&str]| {
        let json = json.as_ref()?;
        names.iter().find_map(|n| json.get(n)?.as_str().map(str::to_string))
    };
    let code = field(&["Code", "code"]).unwrap_or_else(|| format!("HTTP{status}"));
    let message =
        field(&["Message", "message", "ErrorMessage"]).unwrap_or_else(|| excerpt(&String::from_utf8_lossy(bytes)));
    Err(error(code, message, field(&["RequestId", "requestId"])))
}

/// The text of `<name>…</name>` in an XML error body (object storage answers in XML).
fn xml_field(text: &str, name: &str) -> Option<String> {
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(text[start..end].to_string())
}

/// The first 300 characters of an unexpected body, on one line.
fn excerpt(text: &str) -> String {
    let one_line: String = text.chars().take(300).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.trim().is_empty() { "(empty body)".into() } else { one_line }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify("Throttling.User", 400, false), ErrorKind::Retryable);
        assert_eq!(classify("SignatureNonceUsed", 400, false), ErrorKind::Retryable);
        assert_eq!(classify("InternalError", 500, true), ErrorKind::Retryable);
        assert_eq!(classify("InternalError", 500, false), ErrorKind::Unknown);
        assert_eq!(classify("iot.system.SystemException", 200, true), ErrorKind::Retryable);
        assert_eq!(classify("iot.system.SystemException", 200, false), ErrorKind::Unknown);
        assert_eq!(classify("HTTP502", 502, false), ErrorKind::Unknown);
        assert_eq!(classify("iot.prod.NotExistedProduct", 200, false), ErrorKind::Permanent);
        assert_eq!(classify("SignatureDoesNotMatch", 400, true), ErrorKind::Permanent);
    }

    #[test]
    fn backoff_grows_with_jitter_and_obeys_retry_after() {
        for attempt in 1..=4 {
            let full = BACKOFF_BASE * (1 << (attempt - 1));
            let wait = backoff(attempt, None);
            assert!(wait >= full / 2 && wait <= full, "attempt {attempt}: {wait:?}");
        }
        assert!(backoff(30, None) <= BACKOFF_CAP);
        assert_eq!(backoff(1, Some(Duration::from_millis(1500))), Duration::from_millis(1500));
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), BACKOFF_CAP);
    }

    #[test]
    fn xml_fields_of_an_oss_error() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>";
        assert_eq!(xml_field(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(xml_field(body, "Message").as_deref(), Some("Request has expired."));
        assert_eq!(xml_field(body, "RequestId"), None);
    }

    #[test]
    fn bad_configuration_is_refused() {
        let creds =
            Credentials { access_key_id: "AK".into(), secret: crate::credentials::Secret::new("s"), token: None };
        let with = |f: &dyn Fn(&mut ClientConfig)| {
            let mut config = ClientConfig::new(creds.clone());
            f(&mut config);
            Client::new(config).map(|_| ()).unwrap_err().to_string()
        };
        assert_eq!(
            with(&|c| c.endpoint = "iot.cn-shanghai.aliyuncs.com".into()),
            "client.BadEndpoint: endpoint \"iot.cn-shanghai.aliyuncs.com\" is not http(s)://HOST[:PORT]"
        );
        assert_eq!(with(&|c| c.rate_scale = 0.0), "client.BadRateScale: rate scale 0 is not a positive number");
        assert_eq!(with(&|c| c.max_attempts = 0), "client.BadAttempts: max_attempts must be at least 1");
        let missing = with(&|c| c.ca_cert = Some("/nonexistent/ca.pem".into()));
        assert!(missing.starts_with("client.BadCaCert: /nonexistent/ca.pem: "), "{missing}");
    }

    #[test]
    fn an_endpoint_password_is_never_echoed() {
        let creds =
            Credentials { access_key_id: "AK".into(), secret: crate::credentials::Secret::new("s"), token: None };
        for (endpoint, shown) in [
            ("https://admin:hunter2pw@iot.example.com", "https://***@iot.example.com"),
            ("https://admin:hunter2pw@iot.example.com/x?y@z", "https://***@iot.example.com/x?y@z"),
            ("admin:hunter2pw@iot.example.com", "***@iot.example.com"),
            ("ftp://admin:hunter2pw@a@iot.example.com:80", "ftp://***@iot.example.com:80"),
        ] {
            let config = ClientConfig { endpoint: endpoint.into(), ..ClientConfig::new(creds.clone()) };
            let err = Client::new(config).map(|_| ()).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains("hunter2pw"), "{text}");
            assert_eq!(
                err.to_string(),
                format!(
                    "client.BadEndpoint: endpoint {shown:?} is not http(s)://HOST[:PORT] (a user or password in it \
                     is never sent)"
                )
            );
        }
    }

    #[test]
    fn a_ca_cert_is_read_only_when_a_regular_file_of_sane_size() {
        let dir = tempfile::tempdir().unwrap();
        let creds =
            Credentials { access_key_id: "AK".into(), secret: crate::credentials::Secret::new("s"), token: None };
        let refused = |path: &std::path::Path| {
            let config = ClientConfig { ca_cert: Some(path.to_path_buf()), ..ClientConfig::new(creds.clone()) };
            let (sent, received) = std::sync::mpsc::channel();
            std::thread::spawn(move || sent.send(Client::new(config).map(|_| ()).unwrap_err().to_string()));
            received.recv_timeout(Duration::from_secs(10)).expect("reading the CA file hangs")
        };
        let zero = dir.path().join("zero.pem");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let fifo = dir.path().join("fifo.pem");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        for path in [&zero, &fifo] {
            assert_eq!(
                refused(path),
                format!(
                    "client.BadCaCert: {}: not a regular file (a FIFO, a device or a socket): not read",
                    path.display()
                )
            );
        }
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'A'; (1 << 20) + 1]).unwrap();
        assert_eq!(refused(&big), format!("client.BadCaCert: {}: larger than 1 MiB: not read", big.display()));
    }
}
