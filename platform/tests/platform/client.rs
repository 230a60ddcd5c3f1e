//! The client against a scripted HTTP listener on 127.0.0.1: the exact bytes it sends (re-verified
//! with the gateway's algorithm), retries, throttling, error classes, paging, downloads, secrets.

use devdist_platform::api::{
    BatchQueryDeviceDetail, GetThingTopo, ListDistributedDevice, ListDistributedProduct, ListJobs, QueryDevice,
    QueryProductList,
};
use devdist_platform::encode::{form_decode, form_encode};
use devdist_platform::{Client, ClientConfig, CreateDeviceDistributeJob, Credentials, ErrorKind, Scheme, Secret, sign};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "sekrit/+= value";
const TOKEN: &str = "tok3n+/=&x";

/// What the listener does with the next request.
enum Reply {
    /// Answer with this status, extra headers and body.
    Answer(u16, Vec<(&'static str, String)>, String),
    /// Read the request, then close the connection without a word.
    Drop,
}

fn ok(body: &str) -> Reply {
    Reply::Answer(200, vec![], body.to_string())
}

/// One request as it arrived.
#[derive(Debug, Clone)]
struct Captured {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn query(&self) -> Vec<(String, String)> {
        self.target.split_once('?').map_or(vec![], |(_, q)| form_decode(q).unwrap())
    }

    fn body_params(&self) -> Vec<(String, String)> {
        form_decode(std::str::from_utf8(&self.body).unwrap()).unwrap()
    }
}

struct Server {
    endpoint: String,
    seen: Arc<Mutex<Vec<Captured>>>,
}

impl Server {
    /// Serves `replies` in order, one connection each, then stops listening.
    fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for reply in replies {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let captured = read_request(&mut reader);
                log.lock().unwrap().push(captured);
                let mut stream = stream;
                match reply {
                    Reply::Drop => drop(stream),
                    Reply::Answer(status, headers, body) => {
                        let mut out =
                            format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                        for (k, v) in headers {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        out.push_str(&body);
                        stream.write_all(out.as_bytes()).unwrap();
                    }
                }
            }
        });
        Server { endpoint, seen }
    }

    fn seen(&self) -> Vec<Captured> {
        self.seen.lock().unwrap().clone()
    }

    fn host(&self) -> &str {
        self.endpoint.strip_prefix("http://").unwrap()
    }
}

fn read_request(reader: &mut impl BufRead) -> Captured {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let length = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Captured { method, target, headers, body }
}

/// The gateway's V3 check (docs/wire.md §3.1) over the bytes that arrived: the body hash,
/// then the signature over whatever `SignedHeaders` lists. Returns the signed header names.
fn verify_v3(req: &Captured, secret: &str) -> Vec<String> {
    let auth = sign::parse_v3_authorization(req.header("authorization").expect("Authorization")).expect("V3 form");
    let body_sha = sign::sha256_hex(&req.body);
    assert_eq!(req.header("x-acs-content-sha256"), Some(body_sha.as_str()), "body hash");
    let signed: Vec<(String, String)> = auth
        .signed_headers
        .iter()
        .map(|name| (name.clone(), req.header(name).unwrap_or_else(|| panic!("signed {name} not sent")).to_string()))
        .collect();
    let canonical = sign::v3_canonical_request(&req.method, &req.query(), &signed, &body_sha);
    assert_eq!(auth.signature, sign::v3_signature(secret, &sign::v3_string_to_sign(&canonical)), "V3 signature");
    auth.signed_headers
}

/// The gateway's V2 check (§1.6): query (without Signature) and form body, merged.
fn verify_v2(req: &Captured, secret: &str) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = req.query();
    let signature = params.iter().position(|(k, _)| k == "Signature").map(|i| params.remove(i).1).expect("Signature");
    params.extend(req.body_params());
    assert_eq!(signature, sign::v2_signature(secret, &sign::v2_string_to_sign(&req.method, &params)), "V2 signature");
    params
}

fn credentials(token: Option<&str>) -> Credentials {
    Credentials { access_key_id: "testid".into(), secret: Secret::new(SECRET), token: token.map(Secret::new) }
}

fn client(server: &Server, scheme: Scheme, token: Option<&str>, max_attempts: u32) -> Client {
    let mut config = ClientConfig::new(credentials(token));
    config.endpoint = server.endpoint.clone();
    config.scheme = scheme;
    config.rate_scale = 100.0;
    config.max_attempts = max_attempts;
    Client::new(config).unwrap()
}

fn create_request() -> CreateDeviceDistributeJob {
    CreateDeviceDistributeJob {
        product_key: "a1BwAGVxxxx".into(),
        device_names: (1..=12).map(|i| format!("dev {i}@x")).collect(),
        source_instance_id: "iotx-oxssharez200".into(),
        strategy: 1,
        target_uid: "1234567890".into(),
        target_instance_ids: vec!["iotx-oxssharez300".into(), "iotx-oxssharez400".into()],
    }
}

const CREATED: &str = r#"{"RequestId":"r1","Success":true,"JobId":"job-1"}"#;
const QUERIED: &str = r#"{"RequestId":"r2","Success":true,"Data":{"JobId":"job-1","Status":1,"Total":12,
    "TargetInstanceConfigs":{"targetInstanceConfigs":[{"TargetInstanceId":"iotx-oxssharez300"}]}}}"#;

#[test]
fn v3_create_signs_exactly_host_content_type_and_x_acs_headers() {
    let server = Server::start(vec![ok(CREATED)]);
    let job_id = client(&server, Scheme::V3, None, 3).create_device_distribute_job(&create_request()).unwrap();
    assert_eq!(job_id, "job-1");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!((req.method.as_str(), req.target.as_str()), ("POST", "/"));
    assert_eq!(req.body, form_encode(&create_request().params()).into_bytes(), "every parameter in the form body");
    assert_eq!(
        verify_v3(req, SECRET).join(";"),
        "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    );
    assert_eq!(req.header("host"), Some(server.host()));
    assert_eq!(req.header("x-acs-action"), Some("CreateDeviceDistributeJob"));
    assert_eq!(req.header("x-acs-version"), Some("2018-01-20"));
    assert_eq!(req.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(req.header("x-acs-signature-nonce").unwrap().len(), 32);
    let date = sign::parse_timestamp(req.header("x-acs-date").unwrap()).expect("x-acs-date format");
    let skew = date.elapsed().unwrap_or_default();
    assert!(skew < Duration::from_secs(5), "x-acs-date is now: {skew:?}");
}

#[test]
fn v3_sts_signs_the_token_headers() {
    let server = Server::start(vec![ok(QUERIED)]);
    let job = client(&server, Scheme::V3, Some(TOKEN), 3).query_device_distribute_job("job-1").unwrap();
    assert_eq!(
        (job.status, job.total, job.target_instance_ids()),
        (devdist_platform::JobStatus::Running, 12, vec!["iotx-oxssharez300"])
    );
    let req = &server.seen()[0];
    let signed = verify_v3(req, SECRET);
    assert!(signed.contains(&"x-acs-security-token".to_string()) && signed.contains(&"x-acs-accesskey-id".to_string()));
    assert_eq!(req.header("x-acs-security-token"), Some(TOKEN));
    assert_eq!(req.body_params(), vec![("JobId".to_string(), "job-1".to_string())]);
}

#[test]
fn v2_puts_common_parameters_in_the_query_and_signs_the_body_too() {
    let server = Server::start(vec![ok(CREATED), ok(QUERIED)]);
    let client = client(&server, Scheme::V2, Some(TOKEN), 3);
    client.create_device_distribute_job(&create_request()).unwrap();
    client.query_device_distribute_job("job-1").unwrap();
    let seen = server.seen();
    let params = verify_v2(&seen[0], SECRET);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("Action"), Some("CreateDeviceDistributeJob"));
    assert_eq!(get("SecurityToken"), Some(TOKEN));
    assert_eq!(get("AccessKeyId"), Some("testid"));
    assert_eq!(get("DeviceName.12"), Some("dev 12@x"));
    assert!(seen[0].query().iter().all(|(k, _)| !k.starts_with("DeviceName")), "device names stay in the body");
    verify_v2(&seen[1], SECRET);
    assert_ne!(seen[0].query(), seen[1].query(), "new nonce and action per call");
}

#[test]
fn throttling_is_retried_after_the_time_the_platform_asks_with_a_new_nonce() {
    let throttled = r#"{"RequestId":"t1","HostId":"h","Code":"Throttling.User","Message":"Request was denied due to user flow control.","Recommend":""}"#;
    let server = Server::start(vec![
        Reply::Answer(400, vec![("x-acs-retry-after", "400".into())], throttled.into()),
        ok(CREATED),
    ]);
    let client = client(&server, Scheme::V3, None, 3);
    let start = Instant::now();
    assert_eq!(client.create_device_distribute_job(&create_request()).unwrap(), "job-1");
    assert!(start.elapsed() >= Duration::from_millis(400), "waited {:?}", start.elapsed());
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0].header("x-acs-signature-nonce"), seen[1].header("x-acs-signature-nonce"));
    verify_v3(&seen[1], SECRET);
    let stats = client.stats().apis[&devdist_platform::api::Action::CreateDeviceDistributeJob];
    assert_eq!((stats.calls, stats.retries, stats.throttled), (2, 1, 1));
}

#[test]
fn throttling_that_never_ends_gives_up_as_retryable() {
    let throttled = r#"{"RequestId":"t1","Code":"Throttling.User","Message":"slow down"}"#;
    let server = Server::start((0..3).map(|_| Reply::Answer(400, vec![], throttled.into())).collect());
    let err = client(&server, Scheme::V3, None, 3).query_device_distribute_job("job-1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable);
    assert_eq!(err.to_string(), "Throttling.User (HTTP 400): slow down [request id t1]");
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn success_false_on_http_200_is_a_permanent_business_error() {
    let body = r#"{"RequestId":"r9","Success":false,"Code":"iot.prod.NotExistedProduct","ErrorMessage":"The product does not exist."}"#;
    let server = Server::start(vec![ok(body)]);
    let err = client(&server, Scheme::V3, None, 5).create_device_distribute_job(&create_request()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert_eq!(err.to_string(), "iot.prod.NotExistedProduct (HTTP 200): The product does not exist. [request id r9]");
    assert_eq!(server.seen().len(), 1, "not retried");
}

#[test]
fn system_exception_is_retried_on_reads_but_unknown_on_create() {
    let busy = r#"{"RequestId":"r9","Success":false,"Code":"iot.system.SystemException","ErrorMessage":"busy"}"#;
    let server = Server::start(vec![ok(busy), ok(QUERIED)]);
    assert_eq!(client(&server, Scheme::V3, None, 3).query_device_distribute_job("job-1").unwrap().total, 12);
    assert_eq!(server.seen().len(), 2);

    let server = Server::start(vec![ok(busy), ok(CREATED)]);
    let err = client(&server, Scheme::V3, None, 3).create_device_distribute_job(&create_request()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unknown);
    assert_eq!(server.seen().len(), 1, "a Create that may exist is never sent twice");
}

#[test]
fn a_connection_dropped_after_the_request_is_unknown_for_create_and_never_retried() {
    let server = Server::start(vec![Reply::Drop, ok(CREATED)]);
    let err = client(&server, Scheme::V3, None, 5).create_device_distribute_job(&create_request()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unknown, "{err}");
    assert_eq!(err.code, "transport.io");
    assert!(err.to_string().ends_with("(the request may have been carried out)"), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn a_server_error_on_create_is_unknown_but_on_a_read_is_retried() {
    let internal = r#"{"RequestId":"e1","Code":"InternalError","Message":"oops"}"#;
    let server = Server::start(vec![Reply::Answer(500, vec![], internal.into()), ok(CREATED)]);
    let err = client(&server, Scheme::V3, None, 5).create_device_distribute_job(&create_request()).unwrap_err();
    assert_eq!((err.kind, err.http_status, err.code.as_str()), (ErrorKind::Unknown, Some(500), "InternalError"));
    assert_eq!(server.seen().len(), 1);

    let server = Server::start(vec![Reply::Drop, Reply::Answer(503, vec![], "<html>down</html>".into()), ok(QUERIED)]);
    assert_eq!(client(&server, Scheme::V3, None, 5).query_device_distribute_job("job-1").unwrap().job_id, "job-1");
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn a_refused_connection_is_retried_even_for_create_then_reported_retryable() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = ClientConfig::new(credentials(None));
    config.endpoint = format!("http://127.0.0.1:{port}");
    config.max_attempts = 2;
    let client = Client::new(config).unwrap();
    let err = client.create_device_distribute_job(&create_request()).unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::Retryable, "transport.connect"), "{err}");
    let stats = client.stats().total();
    assert_eq!((stats.calls, stats.retries), (2, 1));
}

#[test]
fn list_walks_every_page() {
    let item = |i: usize| format!(r#"{{"JobId":"job-{i}","ProductKey":"pk","Status":2,"Total":1}}"#);
    let page = |items: Vec<String>, token: &str| {
        ok(&format!(
            r#"{{"RequestId":"l","Success":true,"Data":{{"Total":201,"NextToken":"{token}","JobInfo":{{"items":[{}]}}}}}}"#,
            items.join(",")
        ))
    };
    let server = Server::start(vec![page((0..200).map(item).collect(), "next-2"), page(vec![item(200)], "")]);
    let filter = ListJobs { product_key: Some("pk".into()), ..ListJobs::default() };
    let jobs = client(&server, Scheme::V3, None, 3).list_device_distribute_jobs(&filter).unwrap();
    assert_eq!(jobs.len(), 201);
    assert_eq!(jobs[200].job_id, "job-200");
    let seen = server.seen();
    let second = seen[1].body_params();
    for expected in [("ProductKey", "pk"), ("PageSize", "200"), ("CurrentPage", "2"), ("NextToken", "next-2")] {
        assert!(second.contains(&(expected.0.into(), expected.1.into())), "{expected:?} in {second:?}");
    }
}

#[test]
fn provisioning_sends_both_keys() {
    let body = r#"{"RequestId":"p","Success":true,"Data":{"AliyunUid":"222","DeviceName":"d 1","ProductKey":"pk","TargetIotInstanceId":"iotx-2"}}"#;
    let server = Server::start(vec![ok(body)]);
    let p = client(&server, Scheme::V3, None, 3).query_device_provisioning("pk", "d 1").unwrap();
    assert_eq!(p.target_iot_instance_id, "iotx-2");
    let params = server.seen()[0].body_params();
    assert_eq!(params, vec![("DeviceName".into(), "d 1".into()), ("ProductKey".into(), "pk".into())]);
}

#[test]
fn download_is_a_plain_get_and_an_expired_url_says_so() {
    let lines = "{\"ProductKey\":\"pk\",\"DeviceName\":\"d1\",\"Code\":\"200\"}\n{\"ProductKey\":\"pk\",\"DeviceName\":\"d2\",\"Code\":\"9201\",\"Message\":\"x\"}\n";
    let expired =
        "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>";
    let server = Server::start(vec![ok(lines), Reply::Answer(403, vec![], expired.into())]);
    let client = client(&server, Scheme::V3, None, 3);
    let url = format!("{}/results/job-1?Expires=1&Signature=abc", server.endpoint);
    let results = client.download_results(&url).unwrap();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_distributed() && !results[1].is_distributed());
    let err = client.download_results(&url).unwrap_err();
    assert_eq!((err.kind, err.code.as_str(), err.http_status), (ErrorKind::Permanent, "AccessDenied", Some(403)));
    let seen = server.seen();
    assert_eq!((seen[0].method.as_str(), seen[0].target.as_str()), ("GET", "/results/job-1?Expires=1&Signature=abc"));
    assert!(seen[0].header("authorization").is_none() && seen[0].header("x-acs-signature-nonce").is_none());
}

#[test]
fn secrets_appear_in_no_error_and_no_debug_output() {
    // The gateway echoes its string-to-sign; under V2 with STS it holds the token, encoded twice.
    let mut params = vec![("SecurityToken".to_string(), TOKEN.to_string()), ("Secret".into(), SECRET.into())];
    params.push(("x".into(), "y".into()));
    let echoed = sign::v2_string_to_sign("POST", &params);
    let body = serde_json::json!({
        "RequestId": "s1", "Code": "SignatureDoesNotMatch",
        "Message": format!("Specified signature is not matched with our calculation. server string to sign is:{echoed} raw {TOKEN} {SECRET} form {}", form_encode(&params)),
    });
    let server = Server::start(vec![Reply::Answer(400, vec![], body.to_string())]);
    let client = client(&server, Scheme::V2, Some(TOKEN), 3);
    let err = client.query_device_distribute_job("job-1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent);
    let shown = format!("{err} {err:?} {client:?} {:?}", credentials(Some(TOKEN)));
    for secret in [TOKEN, SECRET, "tok3n%2B", "tok3n%252B", "tok3n%2B%2F", "sekrit%2F", "sekrit%252F", "sekrit%2F%2B"] {
        assert!(!shown.contains(secret), "{secret:?} leaked in {shown}");
    }
    assert!(err.message.contains("server string to sign is:POST&%2F&Secret%3D***"), "{}", err.message);
}

#[test]
fn the_client_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Client>();
}

#[test]
fn a_pager_that_never_ends_is_an_error_not_an_endless_loop() {
    let item = |i: usize| format!(r#"{{"JobId":"job-{i}","ProductKey":"pk","Status":2,"Total":1}}"#);
    let full = |total: u64, token: &str| {
        let items: Vec<String> = (0..200).map(item).collect();
        ok(&format!(
            r#"{{"RequestId":"l","Success":true,"Data":{{"Total":{total},"NextToken":"{token}","JobInfo":{{"items":[{}]}}}}}}"#,
            items.join(",")
        ))
    };
    let filter = ListJobs::default();
    // The same NextToken again.
    let server = Server::start(vec![full(0, "t"), full(0, "t"), full(0, "t")]);
    let err = client(&server, Scheme::V3, None, 1).list_device_distribute_jobs(&filter).unwrap_err();
    assert_eq!(err.code, "client.EndlessPager", "{err}");
    assert!(err.message.contains("repeats a NextToken"), "{err}");
    assert_eq!(server.seen().len(), 2);
    // Fresh tokens and full pages that never say how many there are: cut off at the cap.
    let pages = devdist_platform::client::MAX_LIST_PAGES as usize;
    let server = Server::start((0..=pages).map(|n| full(0, &format!("t{n}"))).collect());
    let mut config = ClientConfig::new(credentials(None));
    config.endpoint = server.endpoint.clone();
    config.rate_scale = 1000.0;
    let err = Client::new(config).unwrap().list_device_distribute_jobs(&filter).unwrap_err();
    assert!(err.message.contains(&format!("more than {pages} pages")), "{err}");
    assert_eq!(server.seen().len(), pages);
}

#[test]
fn a_server_that_drips_its_answer_is_cut_off_by_the_call_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                read_request(&mut reader);
                let mut stream = stream;
                // Headers promise a long body, which comes a byte every 200 ms: every read
                // succeeds well within the read timeout.
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
                while stream.write_all(b" ").is_ok() {
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        }
    });
    let mut config = ClientConfig::new(credentials(None));
    config.endpoint = endpoint;
    config.max_attempts = 1;
    config.call_timeout = Duration::from_secs(2);
    let client = Client::new(config).unwrap();
    let started = Instant::now();
    let err = client.query_device_distribute_job("job-1").unwrap_err();
    assert_eq!(err.code, "transport.timeout", "{err}");
    assert!(started.elapsed() < Duration::from_secs(6), "cut off after {:?}", started.elapsed());
}

#[test]
fn an_unreachable_endpoint_is_said_at_once_and_once() {
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = ClientConfig::new(credentials(None));
    config.endpoint = format!("http://127.0.0.1:{port}");
    config.max_attempts = 3;
    config.notify = Some(|line| SAID.lock().unwrap().push(line.to_string()));
    let client = Client::new(config).unwrap();
    client.query_device_distribute_job("job-1").unwrap_err();
    let said = SAID.lock().unwrap().clone();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with(&format!("cannot reach http://127.0.0.1:{port}")), "{said:?}");
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn query_device_reads_the_top_level_paging_fields_and_the_device_info() {
    let body = r#"{"RequestId":"q","Success":true,"NextToken":"tok-2","Page":3,"PageCount":9,"PageSize":2,"Total":17,
        "Data":{"DeviceInfo":[{"DeviceName":"d9","DeviceSecret":"s9","ProductKey":"pk","GmtCreate":"2024-01-01 00:00:00","IotId":"i9"},
                              {"DeviceName":"d8","DeviceSecret":"s8","ProductKey":"pk"}]}}"#;
    let server = Server::start(vec![ok(body)]);
    let request = QueryDevice {
        product_key: "pk".into(),
        iot_instance_id: Some("iot-a".into()),
        current_page: 3,
        page_size: 2,
        next_token: Some("tok-1".into()),
    };
    let page = client(&server, Scheme::V3, None, 3).query_device(&request).unwrap();
    assert_eq!(
        (page.next_token.as_str(), page.page, page.page_count, page.page_size, page.total),
        ("tok-2", 3, 9, 2, 17)
    );
    let names: Vec<&str> = page.data.device_info.iter().map(|d| d.device_name.as_str()).collect();
    assert_eq!(names, ["d9", "d8"]);
    assert_eq!(
        (page.data.device_info[0].device_secret.as_str(), page.data.device_info[0].iot_id.as_str()),
        ("s9", "i9")
    );
    let seen = server.seen();
    assert_eq!(seen[0].header("x-acs-action"), Some("QueryDevice"));
    assert_eq!(
        seen[0].body_params(),
        params(&[
            ("CurrentPage", "3"),
            ("IotInstanceId", "iot-a"),
            ("NextToken", "tok-1"),
            ("PageSize", "2"),
            ("ProductKey", "pk")
        ])
    );
}

#[test]
fn deep_pages_of_query_device_are_paced_at_the_deep_tier() {
    let body = r#"{"RequestId":"q","Success":true,"Data":{"DeviceInfo":[]}}"#;
    let time = |current_page: u32| {
        let server = Server::start((0..4).map(|_| ok(body)).collect());
        let mut config = ClientConfig::new(credentials(None));
        config.endpoint = server.endpoint.clone();
        config.rate_scale = 10.0; // shallow 500/s: 2.2 ms apart; deep 20/s: 55 ms apart
        let client = Client::new(config).unwrap();
        let request = QueryDevice { product_key: "pk".into(), current_page, page_size: 50, ..QueryDevice::default() };
        let start = Instant::now();
        for _ in 0..4 {
            client.query_device(&request).unwrap();
        }
        start.elapsed()
    };
    let deep = time(2000); // 2000 × 50 = 100,000 rows: the 2 QPS tier
    assert!(deep >= Duration::from_millis(165), "4 deep pages in {deep:?}");
    let shallow = time(1999);
    assert!(shallow < Duration::from_millis(165), "4 shallow pages in {shallow:?}");
}

#[test]
fn product_list_detail_and_topo_parse_their_official_shapes() {
    let products = r#"{"RequestId":"a","Success":true,"Data":{"CurrentPage":1,"PageCount":1,"PageSize":200,"Total":1,
        "List":{"ProductInfo":[{"ProductKey":"pk","ProductName":"meter","NodeType":1,"AuthType":"secret","DataFormat":1,"DeviceCount":3,"GmtCreate":5}]}}}"#;
    let details = r#"{"RequestId":"b","Success":true,"Data":{"Data":[{"DeviceName":"d 1","DeviceSecret":"s1","ProductKey":"pk","NodeType":0,"Region":"cn-shanghai"}]}}"#;
    let topo = r#"{"RequestId":"c","Success":true,"Data":{"CurrentPage":1,"PageCount":1,"PageSize":50,"Total":1,
        "List":{"deviceInfo":[{"ProductKey":"sub","DeviceName":"s1","IotId":"i1"}]}}}"#;
    let server = Server::start(vec![ok(products), ok(details), ok(topo)]);
    let client = client(&server, Scheme::V2, None, 3);
    let page =
        client.query_product_list(&QueryProductList { current_page: 1, page_size: 200, ..Default::default() }).unwrap();
    let product = &page.list.product_info[0];
    assert_eq!(
        (product.product_key.as_str(), product.node_type, product.auth_type.as_str(), product.device_count),
        ("pk", 1, "secret", 3)
    );
    let request = BatchQueryDeviceDetail {
        product_key: "pk".into(),
        device_names: vec!["d 1".into(), "gone".into()],
        iot_instance_id: None,
    };
    let found = client.batch_query_device_detail(&request).unwrap();
    assert_eq!(found.len(), 1, "an unknown name is simply absent");
    assert_eq!((found[0].device_name.as_str(), found[0].device_secret.as_str()), ("d 1", "s1"));
    let request = GetThingTopo {
        product_key: "gw".into(),
        device_name: "g1".into(),
        page_no: 1,
        page_size: 50,
        ..Default::default()
    };
    let subs = client.get_thing_topo(&request).unwrap();
    assert_eq!((subs.total, subs.list.device_info[0].device_name.as_str()), (1, "s1"));
    let seen = server.seen();
    let actions: Vec<String> =
        seen.iter().map(|r| r.query().into_iter().find(|(k, _)| k == "Action").unwrap().1).collect();
    assert_eq!(actions, ["QueryProductList", "BatchQueryDeviceDetail", "GetThingTopo"]);
    let sent = seen[1].body_params();
    assert_eq!(sent, params(&[("DeviceName.1", "d 1"), ("DeviceName.2", "gone"), ("ProductKey", "pk")]));
}

fn distributed_page(total: u64, names: impl Iterator<Item = usize>) -> Reply {
    let items: Vec<String> = names
        .map(|i| format!(r#"{{"ProductKey":"pk","DeviceName":"d{i}","SourceInstanceId":"iot-a","TargetInstanceId":"iot-b","GmtCreate":{i}}}"#))
        .collect();
    ok(&format!(
        r#"{{"RequestId":"l","Success":true,"Data":{{"Total":{total},"Info":{{"items":[{}]}}}}}}"#,
        items.join(",")
    ))
}

#[test]
fn distributed_devices_are_walked_by_page_number_until_total() {
    let server = Server::start(vec![distributed_page(201, 0..200), distributed_page(201, 200..201)]);
    let filter = ListDistributedDevice { source_instance_id: Some("iot-a".into()), ..Default::default() };
    let devices = client(&server, Scheme::V3, None, 3).list_distributed_devices(&filter).unwrap();
    assert_eq!(devices.len(), 201);
    assert_eq!((devices[200].device_name.as_str(), devices[200].target_instance_id.as_str()), ("d200", "iot-b"));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].body_params(),
        params(&[("CurrentPage", "2"), ("PageSize", "200"), ("SourceInstanceId", "iot-a")])
    );
    assert_eq!(seen[1].header("x-acs-action"), Some("ListDistributedDevice"));
}

#[test]
fn a_distributed_device_listing_that_never_ends_is_cut_off() {
    let pages = devdist_platform::client::MAX_LIST_PAGES as usize;
    let server = Server::start((0..=pages).map(|_| distributed_page(0, 0..200)).collect());
    let mut config = ClientConfig::new(credentials(None));
    config.endpoint = server.endpoint.clone();
    config.rate_scale = 1000.0;
    let err = Client::new(config).unwrap().list_distributed_devices(&ListDistributedDevice::default()).unwrap_err();
    assert_eq!(err.code, "client.EndlessPager", "{err}");
    assert!(err.message.starts_with("ListDistributedDevice: more than"), "{err}");
    assert_eq!(server.seen().len(), pages);
}

#[test]
fn one_page_of_distributed_products() {
    let body = r#"{"RequestId":"p","Success":true,"Data":{"Total":3,"Info":{"items":[{"ProductKey":"pk","SourceInstanceId":"iot-a",
        "SourceRegion":"cn-shanghai","TargetInstanceId":"iot-b","TargetRegion":"cn-beijing","TargetUid":"1","GmtCreate":7}]}}}"#;
    let server = Server::start(vec![ok(body)]);
    let request = ListDistributedProduct {
        target_instance_id: Some("iot-b".into()),
        current_page: 1,
        page_size: 1,
        ..Default::default()
    };
    let page = client(&server, Scheme::V3, None, 3).list_distributed_product(&request).unwrap();
    assert_eq!(page.total, 3);
    assert_eq!((page.info.items[0].target_region.as_str(), page.info.items[0].gmt_create), ("cn-beijing", 7));
    assert_eq!(
        server.seen()[0].body_params(),
        params(&[("CurrentPage", "1"), ("PageSize", "1"), ("TargetInstanceId", "iot-b")])
    );
}
