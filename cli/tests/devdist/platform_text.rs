//! What a hostile or unhappy platform says, and what the operator's own settings hold, as apply
//! prints and writes them: a server on loopback answers every call with what a test chooses
//! (terminal escapes and spreadsheet formulas in its messages, a refused clock, refused
//! credentials). results.csv must stay safe to `cat` and to open, stderr must carry no escape
//! sequence, no secret or password is ever echoed, and the advice printed fits what happened.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, code, demo_plan, stderr};

const SECRET: &str = "platform-text-secret-5ecret";

/// A message with a terminal escape (red text) and a spreadsheet formula (a link) in it.
const HOSTILE: &str = "=HYPERLINK(\"http://x\",\"\u{1b}[31mclick\u{1b}[0m\")";

/// How results.csv writes a refused Create's message with [`HOSTILE`] in it: ESC as `\u{1b}`
/// (a cell that starts with the formula gets a `'` in front: safe_cell's own tests).
const HOSTILE_CELL: &str =
    "CreateDeviceDistributeJob refused: =HYPERLINK(\"http://x\",\"\\u{1b}[31mclick\\u{1b}[0m\") [request id r-2]";

/// An HTTP server on loopback that answers each call with `answer(action)`: (status, JSON body).
fn serve(answer: fn(&str) -> (u16, String)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let (mut length, mut action) = (0, String::new());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let Some((name, value)) = line.split_once(':') else { continue };
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    } else if name.eq_ignore_ascii_case("x-acs-action") {
                        action = value.trim().to_string();
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                // V3 names the action in a header, V2 in the query or the form body.
                let text = format!("{request_line}{}", String::from_utf8_lossy(&body));
                if action.is_empty() {
                    action =
                        text.split("Action=").nth(1).map_or("", |rest| rest.split(['&', ' ']).next().unwrap()).into();
                }
                let action = action.as_str();
                let (status, body) = answer(action);
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = reader.into_inner().write_all(answer.as_bytes());
            });
        }
    });
    url
}

/// The gateway's refusal of a call, with `code` and the hostile message.
fn refused(code: &str) -> (u16, String) {
    let body = serde_json::json!({"RequestId": "r-1", "HostId": "h", "Code": code, "Message": HOSTILE});
    (400, body.to_string())
}

/// An empty listing, and a Create the platform refuses for good with the hostile message.
fn refuses_every_create(action: &str) -> (u16, String) {
    let body = match action {
        "ListDeviceDistributeJob" => serde_json::json!({"RequestId": "r-1", "Success": true, "Code": "",
            "ErrorMessage": "", "Data": {"Total": 0, "NextToken": "", "JobInfo": {"items": []}}}),
        _ => serde_json::json!({"RequestId": "r-2", "Success": false, "Code": "iot.prod.NotExistedProduct",
            "ErrorMessage": HOSTILE}),
    };
    (200, body.to_string())
}

/// devdist with an access key in the environment and HOME at `home`.
fn command(args: &[&str], home: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("HOME", home)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "platform-text-ak")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("ALIBABA_CLOUD_PROFILE")
        .env_remove("DEVDIST_APPLY_CRASH_AT");
    command
}

/// Runs `command` to its end, killing it (and failing) after 60 s: a hang is a failure here.
fn finish(mut command: Command) -> Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("devdist hangs: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The demo planned into `root/demo`.
fn planned(root: &Path) -> PathBuf {
    let dir = root.join("demo");
    let planned = finish(command(&["plan", demo_plan(), "--out", dir.to_str().unwrap(), "--quiet"], root));
    assert_eq!(code(&planned), 1, "{}", stderr(&planned));
    dir
}

fn apply_args<'a>(dir: &'a Path, url: &'a str) -> Vec<&'a str> {
    vec!["apply", dir.to_str().unwrap(), "--endpoint", url, "--poll-min", "0.05", "--poll-max", "0.2"]
}

fn assert_no_escape(output: &Output) {
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        assert!(!bytes.contains(&0x1b), "an ESC byte on {name}: {:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn platform_text_is_made_safe_in_results_csv_and_the_advice_fits_permanent_failures() {
    let root = tempfile::tempdir().unwrap();
    let dir = planned(root.path());
    let url = serve(refuses_every_create);
    let run = finish(command(&apply_args(&dir, &url), root.path()));
    assert_eq!(code(&run), 1, "every API device refused for good: {}", stderr(&run));
    assert_no_escape(&run);

    // results.csv: every failed row carries the message neutralised, and no byte of it acts.
    let bytes = std::fs::read(dir.join("apply/results.csv")).unwrap();
    assert!(!bytes.contains(&0x1b), "an ESC byte in results.csv");
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let mut failed = 0;
    for row in reader.records() {
        let row = row.unwrap();
        for cell in row.iter() {
            assert!(!cell.trim_start().starts_with(['=', '+', '-', '@']), "a formula cell: {cell:?}");
        }
        if &row[5] == "failed" {
            assert_eq!((&row[6], &row[7]), ("iot.prod.NotExistedProduct", HOSTILE_CELL));
            failed += 1;
        }
    }
    assert!(failed > 0, "the demo has API devices");

    // The advice: nothing retryable, so no re-drive; the refusals are said to be for good.
    let text = stderr(&run);
    assert!(!text.contains("devdist redrive"), "{text}");
    assert!(text.contains(&format!("{failed} devices were refused for good")), "{text}");
    let page = std::fs::read_to_string(dir.join("apply/report.html")).unwrap();
    assert!(!page.contains("devdist redrive") && !page.contains("finished,"), "{page}");
    assert!(page.contains("were refused at their Create and made no platform job"), "{page}");

    // What reads results.csv back still does: verify re-derives it byte for byte.
    let verify = finish(command(&["verify", dir.to_str().unwrap()], root.path()));
    assert_eq!(code(&verify), 0, "{}", stderr(&verify));

    // redrive reads it typed and finds nothing to re-drive: it says so and writes nothing.
    let new = root.path().join("again");
    let redrive = finish(command(&["redrive", dir.to_str().unwrap(), "--out", new.to_str().unwrap()], root.path()));
    assert_eq!(code(&redrive), 0, "{}", stderr(&redrive));
    assert!(
        stderr(&redrive).contains(&format!(
            "nothing to re-drive (no device is unknown or failed with a retryable code): 0 distributed, {failed} \
             refused for good"
        )),
        "{}",
        stderr(&redrive)
    );
    assert!(!new.exists(), "no empty plan is written");
    let leftovers: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".devdist-redrive-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // --dry-run of the finished folder: nothing to do, no schedule.
    let dry = finish(command(&["apply", dir.to_str().unwrap(), "--dry-run"], root.path()));
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(out.contains("apply has finished, every device has an outcome: nothing to do"), "{out}");
    assert!(!out.contains("calls at least"), "{out}");

    // summary of the applied folder: the plan's table, then apply's.
    let summary = finish(command(&["summary", dir.to_str().unwrap()], root.path()));
    let text = stderr(&summary);
    assert!(text.contains("devdist plan: "), "{text}");
    assert!(text.contains(&format!(" = 0 distributed + {failed} failed + 0 unknown + ")), "{text}");
    assert!(text.contains("(accounting holds)"), "{text}");
}

#[test]
fn a_refusal_reaches_stderr_escaped_and_a_clock_refusal_blames_the_clock() {
    let root = tempfile::tempdir().unwrap();
    let dir = planned(root.path());
    let url = serve(|_| refused("Forbidden.RAM"));
    let run = finish(command(&apply_args(&dir, &url), root.path()));
    assert_eq!(code(&run), 5, "{}", stderr(&run));
    assert_no_escape(&run);
    let text = stderr(&run);
    assert!(text.contains("the platform refused apply's credentials: Forbidden.RAM (HTTP 400): "), "{text}");
    assert!(text.contains("\\u{1b}[31mclick"), "the escape is shown, not acted on: {text}");
    assert!(!text.contains(SECRET));

    // Another endpoint: a folder of its own (a journal is bound to the endpoint it was written for).
    let other = tempfile::tempdir().unwrap();
    let dir = planned(other.path());
    let url = serve(|_| refused("InvalidTimeStamp.Expired"));
    let run = finish(command(&apply_args(&dir, &url), other.path()));
    assert_eq!(code(&run), 5, "{}", stderr(&run));
    assert_no_escape(&run);
    let text = stderr(&run);
    assert!(text.contains("this machine's clock is off"), "{text}");
    assert!(!text.contains("refused apply's credentials"), "{text}");
}

#[test]
fn an_endpoint_password_is_never_echoed() {
    let root = tempfile::tempdir().unwrap();
    let dir = planned(root.path());
    for endpoint in ["https://operator:hunter2pw@iot.example.com", "operator:hunter2pw@iot.example.com"] {
        let run = finish(command(&["apply", dir.to_str().unwrap(), "--endpoint", endpoint], root.path()));
        assert_eq!(code(&run), 2, "{}", stderr(&run));
        let text = stderr(&run);
        assert!(!text.contains("hunter2pw") && !String::from_utf8_lossy(&run.stdout).contains("hunter2pw"), "{text}");
        assert!(text.contains("***@iot.example.com"), "{text}");
    }
}

#[test]
fn a_ca_cert_or_config_that_is_no_regular_file_is_refused_at_once() {
    let root = tempfile::tempdir().unwrap();
    let dir = planned(root.path());
    let fifo = root.path().join("ca.pem");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let zero = root.path().join("zero.pem");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for ca in [&fifo, &zero] {
        let args =
            ["apply", dir.to_str().unwrap(), "--endpoint", "https://127.0.0.1:9", "--ca-cert", ca.to_str().unwrap()];
        let run = finish(command(&args, root.path()));
        assert_eq!(code(&run), 2, "{}", stderr(&run));
        assert!(
            stderr(&run).contains("not a regular file (a FIFO, a device or a socket): not read"),
            "{}",
            stderr(&run)
        );
    }
    // The aliyun CLI's config as a FIFO: refused, not waited on.
    let aliyun = root.path().join(".aliyun");
    std::fs::create_dir(&aliyun).unwrap();
    assert!(Command::new("mkfifo").arg(aliyun.join("config.json")).status().unwrap().success());
    let args = ["apply", dir.to_str().unwrap(), "--endpoint", "https://127.0.0.1:9", "--profile", "default"];
    let run = finish(command(&args, root.path()));
    assert_eq!(code(&run), 2, "{}", stderr(&run));
    assert!(stderr(&run).contains("config.json: not a regular file"), "{}", stderr(&run));
}

#[test]
fn a_config_others_can_read_is_warned_about_without_its_secret() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = planned(root.path());
    let aliyun = root.path().join(".aliyun");
    std::fs::create_dir(&aliyun).unwrap();
    let config = aliyun.join("config.json");
    let profile = serde_json::json!({"current": "default", "profiles": [{"name": "default", "mode": "AK",
        "access_key_id": "platform-text-ak", "access_key_secret": SECRET}]});
    std::fs::write(&config, profile.to_string()).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = serve(|_| refused("Forbidden.RAM"));
    let mut apply = command(&apply_args(&dir, &url), root.path());
    apply.env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID").env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    let run = finish(apply);
    let text = stderr(&run);
    assert_eq!(code(&run), 5, "the profile was used: {text}");
    assert!(
        text.contains(&format!(
            "devdist: warning: {} holds an access key secret and can be read by others than its owner (mode 0644)",
            config.display()
        )),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut apply = command(&apply_args(&dir, &url), root.path());
    apply.env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID").env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    let run = finish(apply);
    assert!(!stderr(&run).contains("warning"), "{}", stderr(&run));
}

#[test]
fn poll_min_above_poll_max_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = planned(root.path());
    let args = ["apply", dir.to_str().unwrap(), "--poll-min", "5", "--poll-max", "1", "--dry-run"];
    let run = finish(command(&args, root.path()));
    assert_eq!(code(&run), 2, "{}", stderr(&run));
    assert!(stderr(&run).contains("--poll-min 5 is more than --poll-max 1"), "{}", stderr(&run));
}
