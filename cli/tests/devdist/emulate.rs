//! `devdist emulate` as a process: the endpoint is the first line on stdout, SIGTERM and SIGINT
//! stop it cleanly, bad invocations exit 2 with a clear message, and the secret never shows.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::BIN;

const SECRET: &str = "emulate-test-secret-f00d";

fn demo_plan() -> PathBuf {
    devdist_testkit::fixture("demo/plan.toml")
}

fn emulate(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("emulate")
        .arg(demo_plan())
        .args(args)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "emulate-test-ak")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN");
    command
}

/// Starts the emulator and reads its first line.
fn spawn(args: &[&str]) -> (Child, String) {
    spawn_command(emulate(args))
}

/// Starts `command` (an [`emulate`] one) and reads its first line.
fn spawn_command(mut command: Command) -> (Child, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("devdist runs");
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    (child, first.trim_end().to_string())
}

/// Sends `signal` and waits (at most 10 s) for the exit; returns its code and stderr.
fn stop(mut child: Child, signal: &str) -> (Option<i32>, String) {
    Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "emulate did not stop on {signal}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn prints_its_endpoint_first_serves_stats_and_stops_on_sigterm_and_sigint() {
    for signal in ["-TERM", "-INT"] {
        let (child, url) = spawn(&["--job-seconds", "0", "--seed", "3"]);
        let port: u16 =
            url.strip_prefix("http://127.0.0.1:").and_then(|port| port.parse().ok()).unwrap_or_else(|| panic!("{url}"));
        assert_ne!(port, 0);
        let answer = devdist_testkit::emulator_stats(&url);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\"jobs_created\":0"), "{answer}");
        let (code, stderr) = stop(child, signal);
        assert_eq!(code, Some(0), "{signal}: {stderr}");
        assert!(stderr.contains("account 1234567890123456"), "{stderr}");
        assert!(stderr.contains("stopped after 0 requests, 0 jobs created"), "{stderr}");
        assert!(!stderr.contains(SECRET), "the secret leaked: {stderr}");
    }
}

#[test]
fn tls_writes_the_authority_pem_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("emulator-ca.pem");
    let (child, url) = spawn(&["--tls", "--cert-out", pem.to_str().unwrap()]);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let (code, stderr) = stop(child, "-TERM");
    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read_to_string(&pem).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{text}");
    assert!(stderr.contains(&format!("--ca-cert {}", pem.display())), "{stderr}");
}

#[test]
fn tls_without_cert_out_writes_the_pem_in_a_private_folder_of_its_own_and_removes_it() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let mut command = emulate(&["--tls"]);
    command.env("TMPDIR", tmp.path());
    let (child, first) = spawn_command(command);
    assert!(first.starts_with("https://127.0.0.1:"), "{first}");
    // While it runs: one new folder, named at random, its owner's only, holding the PEM.
    let folders: Vec<PathBuf> = std::fs::read_dir(tmp.path()).unwrap().map(|entry| entry.unwrap().path()).collect();
    let [folder] = folders.as_slice() else { panic!("one folder in TMPDIR: {folders:?}") };
    let name = folder.file_name().unwrap().to_str().unwrap();
    let port = first.rsplit(':').next().unwrap();
    assert!(name.starts_with("devdist-emulator-") && !name.contains(port), "{name}");
    assert_eq!(std::fs::symlink_metadata(folder).unwrap().permissions().mode() & 0o777, 0o700);
    let pem = folder.join("ca.pem");
    assert!(std::fs::read_to_string(&pem).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    let (code, stderr) = stop(child, "-TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&format!("--ca-cert {}", pem.display())), "{stderr}");
    assert!(!folder.exists(), "emulate removes the folder it made when it stops");
}

#[test]
fn bad_invocations_exit_2_with_what_is_wrong() {
    let cases: [(&[&str], &str); 7] = [
        (&["--faults", "slow=2"], "--faults: the rate of slow must be a number from 0 to 1, not `2`"),
        (&["--faults", "slow=0.1,slow=0.5"], "--faults: slow is named twice; give each fault once, with one rate"),
        (&["--force"], "--cert-out"),
        (&["--faults", "lag=0.1"], "--faults: unknown fault `lag`"),
        (&["--job-seconds=-1"], "--job-seconds must be 0 or more, not -1"),
        (&["--rate-scale", "0"], "--rate-scale must be more than 0"),
        (&["--cert-out", "x.pem"], "--tls"),
    ];
    for (args, message) in cases {
        let output = emulate(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
    let output = emulate(&[]).env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"), "{stderr}");
    let output = Command::new(BIN)
        .args(["emulate", "no-such-plan.toml"])
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "a")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no-such-plan.toml"), "{stderr}");
    assert!(!stderr.contains(SECRET));
}

#[test]
fn cert_out_never_overwrites_a_file_or_writes_through_a_link_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("existing.pem");
    std::fs::write(&existing, "keep me").unwrap();
    let target = dir.path().join("trusted-bundle.pem");
    std::fs::write(&target, "the bundle").unwrap();
    let link = dir.path().join("link.pem");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for path in [&existing, &link] {
        let output = emulate(&["--tls", "--cert-out", path.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("already exists; --force replaces it"), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "the bundle", "nothing written through the link");

    // --force replaces the name: the file, or the link itself (its target is kept).
    for path in [&existing, &link] {
        let (child, url) = spawn(&["--tls", "--cert-out", path.to_str().unwrap(), "--force"]);
        assert!(url.starts_with("https://"), "{url}");
        let (code, stderr) = stop(child, "-TERM");
        assert_eq!(code, Some(0), "{stderr}");
        assert!(!std::fs::symlink_metadata(path).unwrap().file_type().is_symlink());
        assert!(std::fs::read_to_string(path).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "the bundle");
}

#[test]
fn listening_beyond_loopback_is_warned_about() {
    let warning = "not a loopback address: anyone who can reach it can read the stats";
    let (child, url) = spawn(&["--listen", "0.0.0.0:0"]);
    assert!(url.starts_with("http://"), "{url}");
    let (code, stderr) = stop(child, "-TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&format!("devdist emulate: warning: listening on 0.0.0.0:0, {warning}")), "{stderr}");
    let (child, _) = spawn(&[]);
    let (_, stderr) = stop(child, "-TERM");
    assert!(!stderr.contains(warning), "{stderr}");
}
