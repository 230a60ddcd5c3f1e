//! The rehearsal end to end: `devdist plan`, then `devdist apply` against a real
//! `devdist emulate`, as an operator runs them. What the emulator itself saw (its stats: every
//! job it created with each device's code, calls and peak rates per API, jobs in flight) is the
//! witness that no job was created twice, no device distributed twice, no limit exceeded and no
//! console job ever called — apply's own files are not taken on trust.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use devdist_testkit::{fixture, walk};

use crate::support::{BIN, stderr};

pub(crate) const AK: &str = "rehearsal-ak";
pub(crate) const SECRET: &str = "rehearsal-secret-c0ffee-5ecret";

/// devdist with the emulator's credentials and no crash hook.
pub(crate) fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("DEVDIST_APPLY_CRASH_AT");
    command
}

pub(crate) fn devdist(args: &[&str]) -> Output {
    command(args).output().expect("devdist runs")
}

/// A running `devdist emulate`, stopped when dropped.
pub(crate) struct Emulator {
    child: Child,
    pub(crate) url: String,
}

impl Emulator {
    pub(crate) fn start(plan: &Path, args: &[&str]) -> Emulator {
        let mut child = Command::new(BIN)
            .arg("emulate")
            .arg(plan)
            .args(args)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("devdist emulate runs");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
        let url = first.trim_end().to_string();
        assert!(url.starts_with("http"), "emulate's first line is its endpoint: {url:?}");
        Emulator { child, url }
    }

    pub(crate) fn stats(&self) -> serde_json::Value {
        let answer = devdist_testkit::emulator_stats(&self.url);
        let body = answer.split_once("\r\n\r\n").expect("an HTTP answer").1;
        serde_json::from_str(body).expect("stats are JSON")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `devdist plan` of `plan` into `dir/name`.
pub(crate) fn plan(plan: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "plan: {}", stderr(&output));
    out
}

/// A small generated inventory with API jobs, console jobs and every kind of destination.
fn generated(dir: &Path, devices: u64) -> PathBuf {
    let input = dir.join("generated");
    let output =
        devdist(&["generate", "--devices", &devices.to_string(), "--seed", "3", "--out", input.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "generate: {}", stderr(&output));
    input.join("plan.toml")
}

/// `devdist apply` with fast polling; extra arguments after.
pub(crate) fn apply_command(dir: &Path, emulator: &Emulator, extra: &[&str]) -> Command {
    let mut args = vec![
        "apply",
        dir.to_str().unwrap(),
        "--endpoint",
        &emulator.url,
        "--poll-min",
        "0.05",
        "--poll-max",
        "0.2",
        "--reconcile-wait",
        "0.2",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    command(&args)
}

pub(crate) fn apply(dir: &Path, emulator: &Emulator, extra: &[&str]) -> Output {
    apply_command(dir, emulator, extra).output().expect("devdist runs")
}

/// results.csv as rows of (product_key, device_name, job_id, outcome, code): the platform's job
/// ids left out, since a resumed run's jobs carry other platform ids than an uninterrupted one's.
fn outcomes(dir: &Path) -> Vec<[String; 5]> {
    let mut reader = csv::Reader::from_path(dir.join("apply/results.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header,
        ["product_key", "device_name", "job_id", "platform_job_id", "target_instances", "outcome", "code", "message"]
    );
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            [0, 1, 2, 5, 6].map(|i| row[i].to_string())
        })
        .collect()
}

/// Devices the emulator distributed (code 200), with how many of its jobs distributed each.
pub(crate) fn distributed_by_emulator(stats: &serde_json::Value) -> BTreeMap<(String, String), usize> {
    let mut distributed = BTreeMap::new();
    for job in stats["jobs"].as_array().unwrap() {
        for device in job["devices"].as_array().unwrap() {
            if device["Code"] == "200" {
                let key =
                    (job["ProductKey"].as_str().unwrap().to_string(), device["DeviceName"].as_str().unwrap().into());
                *distributed.entry(key).or_insert(0) += 1;
            }
        }
    }
    distributed
}

/// The device secrets of a plan folder's manifests.
fn device_secrets(dir: &Path) -> BTreeSet<String> {
    let grants = dir.join("grants");
    let manifests = walk(&grants).into_iter().filter(|path| path.rsplit('/').next() == Some("devices.csv"));
    let secrets =
        manifests.flat_map(|path| devdist_testkit::device_secrets(&std::fs::read(grants.join(path)).unwrap(), 0));
    secrets.map(|secret| String::from_utf8(secret).expect("a UTF-8 secret")).collect()
}

/// Every check that holds after any apply run, whatever the faults:
/// - `devdist verify` re-proves the checksums and apply's accounting;
/// - every device of every job is in results.csv exactly once;
/// - no device was distributed by two platform jobs, and every device the emulator
///   distributed is `distributed` in results.csv (nothing created behind apply's back);
/// - no console (cross-account) job reached the platform;
/// - no access key secret or device secret is in anything apply wrote or printed.
fn check_end_state(dir: &Path, stats: &serde_json::Value, printed: &[&Output]) {
    let verify = devdist(&["verify", dir.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(0), "verify: {}", stderr(&verify));
    let rows = outcomes(dir);
    let devices: BTreeSet<(&str, &str, &str)> =
        rows.iter().map(|row| (row[0].as_str(), row[1].as_str(), row[2].as_str())).collect();
    assert_eq!(devices.len(), rows.len(), "a (device, job) is in results.csv once");
    let jobs_csv = std::fs::read_to_string(dir.join("jobs/jobs.csv")).unwrap();
    let planned: u64 =
        jobs_csv.lines().skip(1).map(|line| line.rsplit(',').next().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(rows.len() as u64, planned, "every device of every job has an outcome");

    let by_emulator = distributed_by_emulator(stats);
    assert!(by_emulator.values().all(|&n| n == 1), "a device was distributed by two platform jobs");
    let distributed: BTreeSet<(String, String)> =
        rows.iter().filter(|row| row[3] == "distributed").map(|row| (row[0].clone(), row[1].clone())).collect();
    let emulated: BTreeSet<(String, String)> = by_emulator.into_keys().collect();
    assert_eq!(distributed, emulated, "results.csv and the platform agree on what was distributed");
    let console_uids: BTreeSet<&str> = jobs_csv
        .lines()
        .skip(1)
        .filter(|line| line.split(',').nth(2) == Some("console"))
        .map(|line| line.split(',').nth(7).unwrap())
        .collect();
    for job in stats["jobs"].as_array().unwrap() {
        assert!(!console_uids.contains(job["TargetUid"].as_str().unwrap()), "a console job was called: {job}");
    }

    let secrets = device_secrets(dir);
    assert!(!secrets.is_empty());
    let mut texts: Vec<String> =
        printed.iter().flat_map(|o| [stderr(o), String::from_utf8_lossy(&o.stdout).into()]).collect();
    for entry in std::fs::read_dir(dir.join("apply")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            texts.push(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned());
        }
    }
    for text in &texts {
        assert!(!text.contains(SECRET), "the access key secret leaked");
        // Secrets are 32 alphanumerics; shorter demo values could occur in names by chance.
        for secret in secrets.iter().filter(|secret| secret.len() >= 16) {
            assert!(!text.contains(secret.as_str()), "a device secret leaked into apply's output");
        }
    }
}

#[test]
fn the_demo_at_the_platforms_own_limits_distributes_every_api_device_once() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    // Jobs stay in status 0/1 for a second, so the window is what keeps them under the cap.
    let emulator = Emulator::start(&demo, &["--job-seconds", "1", "--seed", "1"]);
    let first = apply(&out, &emulator, &[]);
    let stats = emulator.stats();
    check_end_state(&out, &stats, &[&first]);
    // Every API device is distributed, the demo's returns to source and second hops included
    // (each job leaves from where its devices are now); the rest is console work.
    let rows = outcomes(&out);
    for row in &rows {
        assert!(row[3] == "distributed" || row[3] == "console", "unexpected outcome {row:?}");
    }
    assert!(rows.iter().filter(|row| row[3] == "distributed").count() > 3000);
    assert_eq!(first.status.code(), Some(0), "every API device distributed: {}", stderr(&first));
    for (api, counters) in stats["apis"].as_object().unwrap() {
        assert_eq!(counters["throttled"], 0, "{api} was throttled at the default rates");
        assert!(counters["max_per_second"].as_u64() <= counters["limit"].as_u64(), "{api} beyond its limit");
    }
    let in_flight = stats["max_jobs_in_flight"].as_u64().unwrap();
    assert!((1..=10).contains(&in_flight), "jobs in flight at once: {in_flight}");

    // A second run creates nothing and polls nothing: every job is finished in the journal.
    let again = apply(&out, &emulator, &[]);
    assert_eq!(again.status.code(), Some(0));
    let after = emulator.stats();
    assert_eq!(
        after["apis"]["CreateDeviceDistributeJob"]["calls"],
        stats["apis"]["CreateDeviceDistributeJob"]["calls"]
    );
    assert_eq!(after["apis"]["QueryDeviceDistributeJob"]["calls"], stats["apis"]["QueryDeviceDistributeJob"]["calls"]);
    assert_eq!(outcomes(&out), rows);

    // apply/report.html is drawn from summary.json: the same numbers, and the re-drive command.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("apply/summary.json")).unwrap()).unwrap();
    let page = std::fs::read_to_string(out.join("apply/report.html")).unwrap();
    for tile in ["distributed", "failed", "console"] {
        let n = &summary["devices"][tile];
        assert!(page.contains(&format!("id=\"tile-{tile}\"><b>{n}</b>")), "report.html shows {tile} = {n}");
    }
    assert!(page.contains("<span class=\"badge\">DONE</span>"), "nothing failed, nothing to re-drive");
    assert!(!page.contains("InstanceIdSame") && !page.contains("devdist redrive"));
}

#[test]
fn every_fault_kind_ends_in_an_outcome_for_every_device_and_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let plan_file = generated(dir.path(), 3000);
    let out = plan(&plan_file, dir.path(), "out");
    let faults =
        "throttle=0.05,error5xx=0.05,lost-response=0.1,interrupt=0.1,device-fail=0.05,slow=0.05,expire-url=0.2";
    let emulator =
        Emulator::start(&plan_file, &["--job-seconds", "0", "--rate-scale", "50", "--seed", "9", "--faults", faults]);
    let run = apply(&out, &emulator, &["--rate-scale", "50"]);
    assert_eq!(run.status.code(), Some(1), "some devices fail by design: {}", stderr(&run));
    let stats = emulator.stats();
    assert!(stats["lost_responses"].as_u64().unwrap() > 0, "the fault mix lost some Create answers");
    check_end_state(&out, &stats, &[&run]);
    let codes: BTreeSet<String> =
        outcomes(&out).into_iter().filter(|row| row[3] == "failed").map(|row| row[4].clone()).collect();
    assert!(codes.contains("iot.device.DistributeFailed"), "device-fail shows with its platform code: {codes:?}");
}

#[test]
fn apply_killed_at_any_point_resumes_to_the_end_an_uninterrupted_run_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let pristine = plan(&demo, dir.path(), "pristine");
    // Faults that change the path through apply (lost answers, 5xx on Create, expired result
    // URLs, throttling) but not what the platform ends up doing; interrupted jobs (decided
    // by each Create's content) make apply ask QueryDeviceProvisioning and re-drive.
    let emulator_args = [
        "--job-seconds",
        "0",
        "--rate-scale",
        "50",
        "--seed",
        "5",
        "--faults",
        "lost-response=0.3,error5xx=0.2,expire-url=0.3,throttle=0.1,interrupt=0.2",
    ];
    let copy = |name: &str| {
        let to = dir.path().join(name);
        assert!(Command::new("cp").arg("-a").arg(&pristine).arg(&to).status().unwrap().success());
        to
    };
    let baseline = copy("baseline");
    let emulator = Emulator::start(&demo, &emulator_args);
    apply(&baseline, &emulator, &["--rate-scale", "50"]);
    drop(emulator);
    let expected = outcomes(&baseline);

    // The second visit of each point, when some jobs are already done; the account's running
    // jobs are counted, and the results written, once a run before any job has ended.
    let points = [
        ("foreign-listed", 1),
        ("before-intent", 2),
        ("torn-intent", 2),
        ("intent", 2),
        ("create-answered", 2),
        ("torn-created", 2),
        ("created", 2),
        ("reconcile-listed", 2),
        ("not-created", 2),
        ("polled", 2),
        ("detail", 2),
        ("downloaded", 2),
        ("provisioning", 2),
        ("torn-finished", 2),
        ("finished", 2),
        ("checkpoint", 2),
        ("results", 1),
    ];
    assert_eq!(points.len(), devdist_apply::CrashPoint::ALL.len(), "every crash point is tried");
    // One crash-and-resume per point, each with its own emulator and folder copy; they wait on
    // polls and reconciliation more than they compute, so eight run at once.
    let crash_and_resume = |point: &str, visit: u32| -> bool {
        let out = copy(point);
        let emulator = Emulator::start(&demo, &emulator_args);
        let killed = apply_command(&out, &emulator, &["--rate-scale", "50"])
            .env("DEVDIST_APPLY_CRASH_AT", format!("{point}:{visit}"))
            .output()
            .unwrap();
        let resumed = apply(&out, &emulator, &["--rate-scale", "50"]);
        assert_eq!(resumed.status.code(), Some(0), "{point}: resume: {}", stderr(&resumed));
        let stats = emulator.stats();
        check_end_state(&out, &stats, &[&killed, &resumed]);
        assert_eq!(outcomes(&out), expected, "{point}: the resumed run ends elsewhere");
        killed.status.code().is_none()
    };
    let mut crashed = Vec::new();
    for chunk in points.chunks(8) {
        std::thread::scope(|scope| {
            let runs: Vec<_> = chunk
                .iter()
                .map(|&(point, visit)| (point, scope.spawn(move || crash_and_resume(point, visit))))
                .collect();
            for (point, run) in runs {
                if run.join().expect("a point's checks failed (its message is above)") {
                    crashed.push(point);
                }
            }
        });
    }
    assert!(crashed.len() >= 15, "apply died at only {crashed:?}");
}

#[test]
fn a_second_apply_on_the_same_folder_is_refused_while_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    let emulator = Emulator::start(&demo, &["--job-seconds", "30"]);
    let mut first = Command::new(BIN)
        .args(["apply", out.to_str().unwrap(), "--endpoint", &emulator.url, "--quiet"])
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = out.join("apply/journal.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(&journal).map_or(0, |m| m.len()) == 0 {
        assert!(std::time::Instant::now() < deadline, "the first apply never journalled");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let second = apply(&out, &emulator, &[]);
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(second.status.code(), Some(4), "{}", stderr(&second));
    assert!(stderr(&second).contains("lock"), "says why: {}", stderr(&second));
}

#[test]
fn max_failure_rate_stops_new_jobs_and_a_later_run_finishes_them() {
    let dir = tempfile::tempdir().unwrap();
    let plan_file = generated(dir.path(), 2000);
    let out = plan(&plan_file, dir.path(), "out");
    let emulator = Emulator::start(
        &plan_file,
        &["--job-seconds", "0", "--rate-scale", "50", "--seed", "2", "--faults", "device-fail=0.5"],
    );
    let stopped = apply(&out, &emulator, &["--rate-scale", "50", "--max-failure-rate", "0.1"]);
    assert_eq!(stopped.status.code(), Some(5), "{}", stderr(&stopped));
    let created = emulator.stats()["jobs_created"].as_u64().unwrap();
    let api_jobs =
        std::fs::read_to_string(out.join("jobs/jobs.csv")).unwrap().matches(",CreateDeviceDistributeJob,").count();
    assert!((created as usize) < api_jobs, "it stopped starting jobs: {created} of {api_jobs}");
    let finished = apply(&out, &emulator, &["--rate-scale", "50"]);
    assert_eq!(finished.status.code(), Some(1), "{}", stderr(&finished));
    check_end_state(&out, &emulator.stats(), &[&stopped, &finished]);
}

#[test]
fn redrive_then_apply_distributes_what_failed_retryably_and_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let plan_file = generated(dir.path(), 2000);
    let out = plan(&plan_file, dir.path(), "out");
    let emulator = Emulator::start(
        &plan_file,
        &["--job-seconds", "0", "--rate-scale", "50", "--seed", "4", "--faults", "device-fail=0.3"],
    );
    let first = apply(&out, &emulator, &["--rate-scale", "50"]);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let rows = outcomes(&out);
    let key = |row: &[String; 5]| (row[0].clone(), row[1].clone());
    let retryable: BTreeSet<_> = rows
        .iter()
        .filter(|row| row[3] == "unknown" || (row[3] == "failed" && row[4] == "iot.system.SystemException"))
        .map(key)
        .collect();
    let permanent = rows.iter().filter(|row| row[3] == "failed" && !retryable.contains(&key(row))).count();
    assert!(!retryable.is_empty() && permanent > 0, "the fault mix fails both ways");

    let again = dir.path().join("again");
    let redrive = devdist(&["redrive", out.to_str().unwrap(), "--out", again.to_str().unwrap(), "--quiet"]);
    assert!(matches!(redrive.status.code(), Some(0 | 1)), "redrive: {}", stderr(&redrive));
    let rejects = std::fs::read_to_string(again.join("rejects.csv")).unwrap();
    assert_eq!(rejects.matches(",refused_by_platform,").count(), permanent, "permanent failures are rejects");
    let second = apply(&again, &emulator, &["--rate-scale", "50"]);
    assert!(matches!(second.status.code(), Some(0 | 1)), "apply of the redrive: {}", stderr(&second));
    let verify = devdist(&["verify", again.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(0), "verify: {}", stderr(&verify));

    let redriven = outcomes(&again);
    let redriven_devices: BTreeSet<_> = redriven.iter().map(key).collect();
    assert_eq!(redriven_devices, retryable, "the redrive holds exactly the retryable failures, once each");
    let fixed: BTreeSet<_> = redriven.iter().filter(|row| row[3] == "distributed").map(key).collect();
    assert!(!fixed.is_empty(), "some of them are distributed this time");
    let by_emulator = distributed_by_emulator(&emulator.stats());
    assert!(by_emulator.values().all(|&n| n == 1), "a device was distributed by two platform jobs");
    let distributed: BTreeSet<_> = rows.iter().filter(|row| row[3] == "distributed").map(key).chain(fixed).collect();
    assert_eq!(distributed, by_emulator.into_keys().collect(), "the two runs together are what the platform did");
}

#[test]
fn apply_speaks_https_to_an_emulator_it_trusts_through_ca_cert() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    let pem = dir.path().join("ca.pem");
    let emulator = Emulator::start(
        &demo,
        &["--tls", "--cert-out", pem.to_str().unwrap(), "--job-seconds", "0", "--rate-scale", "50"],
    );
    assert!(emulator.url.starts_with("https://"), "{}", emulator.url);
    let untrusted = apply(&out, &emulator, &["--rate-scale", "50"]);
    assert!(!matches!(untrusted.status.code(), Some(0 | 1)), "an unknown certificate must not be trusted");
    let run = apply(&out, &emulator, &["--rate-scale", "50", "--ca-cert", pem.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(outcomes(&out).iter().any(|row| row[3] == "distributed"));
}

#[test]
fn a_dry_run_into_a_closed_pipe_ends_quietly_instead_of_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let out = plan(&fixture("demo/plan.toml"), dir.path(), "out");
    let mut child = command(&["apply", out.to_str().unwrap(), "--dry-run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before devdist has read its folder, as `| head -0` would.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

#[test]
fn an_interrupted_apply_stops_at_once_and_the_next_run_finishes_the_same_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    let emulator = Emulator::start(&demo, &["--job-seconds", "4"]);
    let first = apply_command(&out, &emulator, &[]).stderr(Stdio::piped()).spawn().unwrap();
    let journal = out.join("apply/journal.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while emulator.stats()["jobs_created"].as_u64().unwrap() == 0 {
        assert!(std::time::Instant::now() < deadline, "the first apply never created a job");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let interrupted_at = std::time::Instant::now();
    Command::new("kill").args(["-INT", &first.id().to_string()]).status().unwrap();
    let first = first.wait_with_output().unwrap();
    let took = interrupted_at.elapsed();
    assert_eq!(first.status.code(), Some(130), "{}", stderr(&first));
    assert!(took < std::time::Duration::from_secs(3), "it waited for the platform's jobs: {took:?}");
    assert!(stderr(&first).contains("interrupted"), "says so: {}", stderr(&first));
    assert!(std::fs::metadata(&journal).unwrap().len() > 0);
    assert!(out.join("apply/results.csv").is_file(), "the results so far are written");

    let second = apply(&out, &emulator, &[]);
    assert_eq!(second.status.code(), Some(0), "every API device distributed: {}", stderr(&second));
    check_end_state(&out, &emulator.stats(), &[&first, &second]);
}

#[test]
fn return_of_an_applied_demo_brings_every_distributed_device_home() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    let emulator = Emulator::start(&demo, &["--job-seconds", "0", "--seed", "1"]);
    let first = apply(&out, &emulator, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let distributed: BTreeSet<(String, String)> = outcomes(&out)
        .into_iter()
        .filter(|row| row[3] == "distributed")
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();

    let back = dir.path().join("back");
    let returned = devdist(&["return", out.to_str().unwrap(), "--out", back.to_str().unwrap()]);
    let text = stderr(&returned);
    // The demo's nearest-access devices are left out (where they connected is not recorded),
    // with their reason in rejects.csv; every specified-region device goes home.
    assert_eq!(returned.status.code(), Some(1), "{text}");
    let rejects = devdist_testkit::rejects(&back);
    assert!(!rejects.is_empty() && rejects.iter().all(|r| r.code == "not_returned"), "{rejects:?}");
    assert!(rejects.iter().all(|r| r.detail.contains("nearest access")), "{rejects:?}");
    assert_eq!(devdist(&["verify", back.to_str().unwrap()]).status.code(), Some(0));
    // Every job leaves from where its devices are now for their home.
    let jobs = devdist_testkit::table(&back.join("jobs/jobs.csv"));
    assert!(jobs.iter().all(|job| job["source_instance"] != job["target_instances"]), "{jobs:?}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(back.join("report.json")).unwrap()).unwrap();
    let home: u64 = report["returning_home"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    // The demo's own returns are home already: counted, not planned.
    let already = text.split(" home already").next().unwrap().rsplit(' ').next().unwrap().parse::<u64>().unwrap();
    assert_eq!(already, 8, "{text}");
    assert!(home > 900, "{home}");
    assert_eq!(home + rejects.len() as u64 + already, distributed.len() as u64, "every distributed device once");
    assert!(report["destinations"].as_array().unwrap().is_empty(), "home is no destination: {report}");

    // Applied on the same platform: every device sent home arrives, none twice.
    let second = apply(&back, &emulator, &[]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let rows = outcomes(&back);
    assert_eq!(rows.len() as u64, home);
    assert!(rows.iter().all(|row| row[3] == "distributed"), "{rows:?}");
    assert_eq!(devdist(&["verify", back.to_str().unwrap()]).status.code(), Some(0));
    // The platform's own word: QueryDeviceProvisioning shows each one back at its home.
    let manifests = walk(&back.join("grants"));
    let mut checked = 0;
    for manifest in manifests.iter().filter(|path| path.ends_with("devices.csv")) {
        for row in devdist_testkit::table(&back.join("grants").join(manifest)) {
            let at = provisioning(&emulator, &row["product_key"], &row["device_name"]);
            assert_eq!(at["TargetIotInstanceId"], row["source_instance"].as_str(), "{row:?} is home");
            assert_eq!(at["SourceIotInstanceId"], row["from_instance"].as_str(), "{row:?} came back from there");
            checked += 1;
        }
    }
    assert_eq!(checked, home);

    // And in the words of a client none of us wrote: the official Python SDK asks
    // QueryDeviceProvisioning about a sample of them, spread over every manifest, and each shows
    // its last distribution as the return itself, from where it was to its home (docs/wire.md §9).
    let mut sample = Vec::new();
    for manifest in manifests.iter().filter(|path| path.ends_with("devices.csv")) {
        let rows = devdist_testkit::table(&back.join("grants").join(manifest));
        // Without the secret, which a failed assertion would print.
        sample.extend(rows.into_iter().step_by(40).map(|mut row| {
            row.remove("device_secret");
            row
        }));
    }
    assert!(sample.len() >= 20, "a sample of {} devices", sample.len());
    let seen = sdk_provisioning(&emulator, &sample);
    assert_eq!(seen.len(), sample.len());
    for (row, at) in sample.iter().zip(&seen) {
        assert_eq!(
            (at["ProductKey"].as_str(), at["DeviceName"].as_str()),
            (Some(&*row["product_key"]), Some(&*row["device_name"]))
        );
        assert_eq!(at["TargetIotInstanceId"], row["source_instance"].as_str(), "{row:?} is home: {at}");
        assert_eq!(at["TargetRegion"], row["source_region"].as_str(), "{row:?} is home: {at}");
        assert_eq!(at["SourceIotInstanceId"], row["from_instance"].as_str(), "{row:?} came back from there: {at}");
        assert_ne!(at["SourceIotInstanceId"], at["TargetIotInstanceId"], "a return, not a device never moved: {at}");
        assert_eq!(at["AliyunUid"], row["source_uid"].as_str(), "{at}");
    }
}

/// QueryDeviceProvisioning's `Data` for each of `devices` (manifest rows), asked through the
/// official Python SDK (cli/tests/sdk/provisioning.py), in order.
pub(crate) fn sdk_provisioning(emulator: &Emulator, devices: &[BTreeMap<String, String>]) -> Vec<serde_json::Value> {
    let python = devdist_testkit::official_sdk_python(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/provisioning.py");
    let devices: Vec<[&str; 2]> = devices.iter().map(|row| [&*row["product_key"], &*row["device_name"]]).collect();
    let args = serde_json::json!({
        "endpoint": emulator.url.trim_start_matches("http://"),
        "ak": AK,
        "secret": SECRET,
        "devices": devices,
    });
    let output = Command::new(python).arg(script).arg(args.to_string()).output().expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "provisioning.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).unwrap()
}

/// QueryDeviceProvisioning's `Data` for one device, through the platform client.
fn provisioning(emulator: &Emulator, product_key: &str, device_name: &str) -> serde_json::Value {
    use devdist_platform::{Client, ClientConfig, Credentials, Secret};
    let credentials = Credentials { access_key_id: AK.to_string(), secret: Secret::new(SECRET), token: None };
    let mut config = ClientConfig::new(credentials);
    config.endpoint = emulator.url.clone();
    let client = Client::new(config).unwrap();
    serde_json::to_value(client.query_device_provisioning(product_key, device_name).unwrap()).unwrap()
}
