//! The emulator over real sockets: calls signed with the client's own signer
//! (`devdist_platform::sign`), each call-level fault as a client sees it, result downloads,
//! the stats endpoint, and HTTPS with the throwaway certificate authority.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use devdist_emulator::{Config, Emulator, Faults, Identity, World};
use devdist_platform::encode::form_encode;
use devdist_platform::{Credentials, Secret, sign};
use serde_json::Value;

const PK: &str = "a1product01";

fn credentials() -> Credentials {
    Credentials { access_key_id: "http-ak".into(), secret: Secret::new("http-secret"), token: None }
}

fn world() -> World {
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/plan.toml");
    let mut world = World::from_plan(&plan).unwrap();
    for n in 1..=20 {
        world.add_device(PK, &format!("dev-{n:04}"), "iotx-oxssharez200", None);
    }
    world
}

fn start(faults: &str, job_seconds: f64) -> Emulator {
    let mut config = Config::new(credentials());
    config.faults = Faults::parse(faults, 11).unwrap();
    config.job_seconds = job_seconds;
    config.rate_scale = 100.0;
    Emulator::start(world(), config).unwrap()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of now, from date(1) so the test shares no date code with the emulator.
fn utc_now() -> String {
    let output = Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]).output().expect("date runs");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Sends one V3-signed call; `None` when the connection closed without an answer.
fn call(addr: &str, action: &str, params: &[(&str, &str)]) -> Option<(u16, Value)> {
    static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nonce = format!("nonce-{}-{}", std::process::id(), NONCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let body = form_encode(&pairs);
    let body_hash = sign::sha256_hex(body.as_bytes());
    let signed: Vec<(String, String)> = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("host", addr),
        ("x-acs-action", action),
        ("x-acs-content-sha256", &body_hash),
        ("x-acs-date", &utc_now()),
        ("x-acs-signature-nonce", &nonce),
        ("x-acs-version", "2018-01-20"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let canonical = sign::v3_canonical_request("POST", &[], &signed, &body_hash);
    let signature = sign::v3_signature("http-secret", &sign::v3_string_to_sign(&canonical));
    let authorization = sign::v3_authorization("http-ak", &sign::v3_signed_header_names(&signed), &signature);
    let mut request = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in &signed {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "authorization: {authorization}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    let (status, body) = exchange(addr, request.as_bytes())?;
    Some((status, serde_json::from_slice(&body).unwrap()))
}

/// Writes a request, reads the whole answer (the request asks to close); `None` if nothing came.
fn exchange(addr: &str, request: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    if answer.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text[9..12].parse().unwrap();
    let at = text.find("\r\n\r\n").unwrap() + 4;
    Some((status, answer[at..].to_vec()))
}

fn get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    exchange(addr, format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes()).unwrap()
}

fn addr(emulator: &Emulator) -> String {
    emulator.url().trim_start_matches("http://").to_string()
}

fn create(addr: &str, devices: &[&str]) -> Option<(u16, Value)> {
    let mut params = vec![
        ("ProductKey", PK),
        ("SourceInstanceId", "iotx-oxssharez200"),
        ("Strategy", "0"),
        ("TargetUid", "1234567890123456"),
        ("TargetInstanceConfig.1.TargetInstanceId", "iotx-oxssharez300"),
    ];
    let names: Vec<String> = (1..=devices.len()).map(|n| format!("DeviceName.{n}")).collect();
    params.extend(names.iter().map(String::as_str).zip(devices.iter().copied()));
    call(addr, "CreateDeviceDistributeJob", &params)
}

fn stats(emulator: &Emulator) -> Value {
    let (status, body) = get(&format!("{}/_emulator/stats", emulator.url()));
    assert_eq!(status, 200);
    let served: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served["jobs"], emulator.stats()["jobs"]);
    // `?jobs=0`: the same counters, no job listed.
    let (status, body) = get(&format!("{}/_emulator/stats?jobs=0", emulator.url()));
    let brief: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, &brief["jobs"], &brief["jobs_created"]),
        (200, &serde_json::json!([]), &served["jobs_created"])
    );
    served
}

#[test]
fn a_job_travels_create_query_detail_download_over_http() {
    let emulator = start("", 0.0);
    let addr = addr(&emulator);
    let (status, created) = create(&addr, &["dev-0001", "dev-0002"]).unwrap();
    assert_eq!((status, &created["Success"]), (200, &Value::Bool(true)), "{created}");
    let job_id = created["JobId"].as_str().unwrap();
    let (_, queried) = call(&addr, "QueryDeviceDistributeJob", &[("JobId", job_id)]).unwrap();
    assert_eq!((queried["Data"]["Status"].as_u64(), queried["Data"]["Total"].as_u64()), (Some(2), Some(2)));
    let (_, detail) = call(&addr, "QueryDeviceDistributeDetail", &[("JobId", job_id)]).unwrap();
    let file = detail["File"].as_str().unwrap();
    assert!(file.starts_with(&format!("http://{addr}/_emulator/results/")), "{file}");
    let (status, text) = get(file);
    assert_eq!(status, 200);
    let lines: Vec<Value> =
        String::from_utf8(text).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[1]["DeviceName"].as_str(), lines[1]["Code"].as_str()), (Some("dev-0002"), Some("200")));
    let (status, missing) = get(&format!("{}/_emulator/results/nosuchtoken", emulator.url()));
    assert_eq!(status, 404);
    assert!(String::from_utf8(missing).unwrap().contains("<Code>NoSuchKey</Code>"));
    // A business error is HTTP 200 with Success false; a gateway error 4xx with HostId.
    let (status, refused) = create(&addr, &["dev-9999"]).unwrap();
    assert_eq!(
        (status, refused["Success"].as_bool(), refused["Code"].as_str()),
        (200, Some(false), Some("iot.device.NotExistedDevice"))
    );
    let (status, missing) = call(&addr, "QueryDeviceDistributeJob", &[]).unwrap();
    assert_eq!(
        (status, missing["Code"].as_str(), missing["HostId"].as_str()),
        (400, Some("MissingJobId"), Some("iot.cn-shanghai.aliyuncs.com"))
    );
    let (status, unknown) = call(&addr, "DescribeInstances", &[]).unwrap();
    assert_eq!((status, unknown["Code"].as_str()), (400, Some("InvalidAction.NotFound")));
    let stats = stats(&emulator);
    assert_eq!(stats["jobs_created"], 1);
    assert_eq!(stats["jobs"][0]["devices"][0]["Code"], "200");
    assert_eq!(stats["apis"]["CreateDeviceDistributeJob"]["calls"], 2);
}

#[test]
fn lost_response_creates_the_job_and_closes_the_connection_without_a_word() {
    let emulator = start("lost-response=1", 0.0);
    let addr = addr(&emulator);
    assert_eq!(create(&addr, &["dev-0001"]), None, "no answer at all");
    let stats = stats(&emulator);
    assert_eq!((stats["jobs_created"].as_u64(), stats["lost_responses"].as_u64()), (Some(1), Some(1)));
    assert_eq!(stats["jobs"][0]["lost_response"], true);
    // The job exists and can be found the way apply looks for it.
    let (_, listed) = call(&addr, "ListDeviceDistributeJob", &[("PageSize", "10"), ("ProductKey", PK)]).unwrap();
    assert_eq!(listed["Data"]["JobInfo"]["items"][0]["JobId"], stats["jobs"][0]["JobId"]);
    // Other calls are answered.
    let (status, _) =
        call(&addr, "QueryDeviceProvisioning", &[("ProductKey", PK), ("DeviceName", "dev-0001")]).unwrap();
    assert_eq!(status, 200);
}

#[test]
fn error5xx_answers_500_or_503_and_does_nothing() {
    let emulator = start("error5xx=1", 0.0);
    let addr = addr(&emulator);
    let mut statuses = Vec::new();
    for n in 1..=8 {
        let name = format!("dev-{n:04}");
        let (status, body) = create(&addr, &[&name]).unwrap();
        let expected = if status == 500 { "InternalError" } else { "ServiceUnavailable" };
        assert_eq!(body["Code"], expected, "{status} {body}");
        statuses.push(status);
    }
    assert!(statuses.contains(&500) && statuses.contains(&503), "{statuses:?}");
    let stats = stats(&emulator);
    assert_eq!(stats["jobs_created"], 0, "a 5xx Create creates nothing");
    assert_eq!(stats["apis"]["CreateDeviceDistributeJob"]["errors_5xx"], 8);
}

#[test]
fn throttle_bursts_refuse_calls_within_the_limits_and_repeats_get_through() {
    let emulator = start("throttle=0.5", 0.0);
    let addr = addr(&emulator);
    let mut codes = Vec::new();
    for _ in 0..30 {
        let (status, body) =
            call(&addr, "QueryDeviceProvisioning", &[("ProductKey", PK), ("DeviceName", "dev-0001")]).unwrap();
        codes.push(if status == 200 {
            "ok".to_string()
        } else {
            format!("{status} {}", body["Code"].as_str().unwrap())
        });
    }
    let throttled = codes.iter().filter(|code| *code == "400 Throttling.User").count();
    assert!(throttled >= 3 && codes.contains(&"ok".to_string()), "{codes:?}");
    assert_eq!(throttled + codes.iter().filter(|code| *code == "ok").count(), 30);
    let stats = stats(&emulator);
    assert_eq!(stats["apis"]["QueryDeviceProvisioning"]["fault_throttled"].as_u64(), Some(throttled as u64));
    assert_eq!(stats["apis"]["QueryDeviceProvisioning"]["throttled"], 0, "within the QPS limit");
    // The same calls against the same seed give the same answers.
    let again = start("throttle=0.5", 0.0);
    let addr = self::addr(&again);
    let replay: Vec<bool> = (0..30)
        .map(|_| {
            call(&addr, "QueryDeviceProvisioning", &[("ProductKey", PK), ("DeviceName", "dev-0001")]).unwrap().0 == 200
        })
        .collect();
    assert_eq!(replay, codes.iter().map(|code| code == "ok").collect::<Vec<_>>());
}

#[test]
fn the_qps_limit_throttles_a_burst_and_the_stats_show_the_peak() {
    let mut config = Config::new(credentials());
    config.job_seconds = 0.0;
    let emulator = Emulator::start(world(), config).unwrap();
    let addr = addr(&emulator);
    // Detail allows 5 calls a second; 12 back to back cross at most one second boundary.
    let statuses: Vec<u16> =
        (0..12).map(|_| call(&addr, "QueryDeviceDistributeDetail", &[("JobId", "x")]).unwrap().0).collect();
    let throttled = statuses.iter().filter(|status| **status == 400).count();
    assert!(throttled >= 2, "{statuses:?}");
    let stats = stats(&emulator);
    let detail = &stats["apis"]["QueryDeviceDistributeDetail"];
    assert_eq!(detail["throttled"].as_u64(), Some(throttled as u64));
    assert_eq!(detail["limit"], 5);
    assert!(detail["max_per_second"].as_u64().unwrap() >= 6);
    assert_eq!(stats["refused"]["Throttling.User"].as_u64(), Some(throttled as u64));
}

#[test]
fn tls_serves_with_a_certificate_its_authority_pem_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::generate().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, &identity.ca_pem).unwrap();
    let mut config = Config::new(credentials());
    config.tls = Some(identity);
    let emulator = Emulator::start(world(), config).unwrap();
    assert!(emulator.url().starts_with("https://127.0.0.1:"), "{}", emulator.url());
    // Python's ssl module checks the chain and the IP address against the certificate.
    let script = "import ssl, sys, urllib.request, json\n\
                  ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
                  print(json.load(urllib.request.urlopen(sys.argv[1] + '/_emulator/stats', context=ctx))['jobs_created'])\n\
                  try:\n    urllib.request.urlopen(sys.argv[1] + '/_emulator/stats', context=ssl.create_default_context())\n    print('trusted without the CA')\n\
                  except urllib.error.URLError as err:\n    print('refused without the CA')\n";
    let output = Command::new("python3").args(["-c", script, emulator.url()]).arg(&pem).output().expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "0\nrefused without the CA\n");
}
