//! The scheduler against the in-memory platform: every fault kind, the window, the failure
//! rate, ambiguity, and a crash at every hook point followed by a resume.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use devdist_apply::{Crash, CrashPoint, Error, FakePlatform, Faults, Folder, NoProgress, Options, apply, verify};

/// A planned folder of `devices` generated devices (about a tenth go to another account).
fn planned(devices: u64, seed: u64) -> (tempfile::TempDir, PathBuf) {
    // Every journal line is fsync'd: on tmpfs where there is one, so the many runs stay quick.
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
    let options = devdist_synth::GenerateOptions { devices, seed, ..devdist_synth::GenerateOptions::default() };
    let generated = devdist_synth::generate(&options, &root.path().join("in")).unwrap();
    let out = root.path().join("out");
    devdist_engine::run(&generated.plan, &out, &devdist_engine::Options::default(), &devdist_engine::NoProgress)
        .unwrap();
    (root, out)
}

fn fast() -> Options {
    Options {
        poll_min: Duration::from_millis(1),
        poll_max: Duration::from_millis(4),
        reconcile_wait: Duration::from_millis(1),
        read_attempts: 50,
        ..Options::default()
    }
}

/// Devices of the plan's API jobs, by name.
fn api_devices(dir: &Path) -> Vec<String> {
    let folder = Folder::open(dir).unwrap();
    folder.jobs.iter().filter(|job| !job.console).flat_map(|job| job.devices.iter().map(String::from)).collect()
}

/// Each device's appearances in the fake's own jobs (ours only).
fn appearances(platform: &FakePlatform) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for job in platform.jobs().iter().filter(|job| !job.foreign) {
        for device in &job.devices {
            *seen.entry(device.clone()).or_insert(0) += 1;
        }
    }
    seen
}

fn results(dir: &Path) -> String {
    fs::read_to_string(dir.join("apply/results.csv")).unwrap()
}

/// results.csv rows with this outcome.
fn rows_with(dir: &Path, outcome: &str) -> usize {
    results(dir).lines().filter(|line| line.split(',').nth(5) == Some(outcome)).count()
}

#[test]
fn no_faults_every_api_device_is_distributed_once_and_console_jobs_are_never_called() {
    let (_root, dir) = planned(600, 1);
    let platform = FakePlatform::new(Faults { polls: 2, ..Faults::default() });
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    let folder = Folder::open(&dir).unwrap();
    let api = api_devices(&dir);
    assert!(folder.jobs.iter().any(|job| job.console), "the generated plan has console jobs");
    assert_eq!(applied.tally.distributed, api.len() as u64);
    assert_eq!(applied.tally.failed + applied.tally.unknown, 0);
    assert_eq!(applied.exit_code(), 0);
    let seen = appearances(&platform);
    assert_eq!(seen.len(), api.len(), "exactly the API devices reached the platform");
    assert!(seen.values().all(|&n| n == 1), "each device in exactly one job");
    let console_devices: HashSet<&str> =
        folder.jobs.iter().filter(|job| job.console).flat_map(|job| job.devices.iter()).collect();
    assert!(seen.keys().all(|d| !console_devices.contains(d.as_str())), "a console job reached the API");
    assert_eq!(platform.jobs().len(), folder.jobs.iter().filter(|job| !job.console).count());
    assert!(platform.max_in_flight() <= folder.jobs_per_wave, "{} in flight", platform.max_in_flight());
    assert_eq!(rows_with(&dir, "console"), console_devices.len());
    assert_eq!(results(&dir).lines().count() - 1, folder.devices() as usize);
    assert_eq!(verify(&dir).unwrap(), Vec::<String>::new());

    // A second run has nothing left to do and calls nothing.
    let before = platform.calls("QueryDeviceDistributeJob");
    let again = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(again.created, 0);
    assert_eq!(platform.calls("QueryDeviceDistributeJob"), before, "finished jobs are polled again");
}

#[test]
fn lost_answers_are_adopted_not_created_again() {
    let (_root, dir) = planned(300, 2);
    let api = api_devices(&dir);
    let lose: HashSet<String> = api.iter().step_by(7).cloned().collect();
    let platform = FakePlatform::new(Faults { polls: 1, lose_answer: lose, ..Faults::default() });
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(applied.tally.distributed, api.len() as u64);
    assert!(appearances(&platform).values().all(|&n| n == 1), "a lost Create was created again");
    let journal = fs::read_to_string(dir.join("apply/journal.jsonl")).unwrap();
    assert!(journal.contains("\"adopted\":true"));
}

#[test]
fn two_jobs_matching_a_lost_answer_stop_with_exit_5_and_name_them() {
    let (_root, dir) = planned(200, 3);
    let lose: HashSet<String> = api_devices(&dir).into_iter().take(1).collect();
    let platform = FakePlatform::new(Faults { polls: 1, lose_answer: lose, duplicate_lost: true, ..Faults::default() });
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(applied.exit_code(), 5);
    let reason = applied.stopped.unwrap();
    assert!(reason.contains("fake-0000-twin") && reason.contains("fake-0000"), "{reason}");
}

#[test]
fn interrupted_jobs_redrive_their_unfinished_devices_as_new_jobs() {
    let (_root, dir) = planned(400, 4);
    let api = api_devices(&dir);
    let interrupt: HashSet<String> = api.iter().step_by(11).cloned().collect();
    let platform = FakePlatform::new(Faults { polls: 1, interrupt, ..Faults::default() });
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(applied.tally.distributed, api.len() as u64);
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("apply/summary.json")).unwrap()).unwrap();
    let interrupted = summary["jobs"]["interrupted"].as_u64().unwrap();
    assert!(interrupted > 0);
    // Every device in exactly one job per attempt: the interrupted ones' leftovers twice.
    let seen = appearances(&platform);
    assert!(seen.values().all(|&n| n <= 2));
    assert_eq!(summary["accounting"]["holds"], true);
    assert_eq!(verify(&dir).unwrap(), Vec::<String>::new());
}

#[test]
fn failed_omitted_throttled_and_expired_all_end_in_the_right_outcome() {
    let (_root, dir) = planned(400, 5);
    let api = api_devices(&dir);
    let fail: HashSet<String> = api.iter().step_by(5).cloned().collect();
    let omit: HashSet<String> = api.iter().skip(1).step_by(9).filter(|d| !fail.contains(*d)).cloned().collect();
    let faults =
        Faults { polls: 1, fail: fail.clone(), omit, expire_urls: true, throttle_every: 4, ..Faults::default() };
    let platform = FakePlatform::new(faults);
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(applied.tally.failed, fail.len() as u64);
    assert_eq!(applied.tally.distributed, (api.len() - fail.len()) as u64);
    assert_eq!(applied.exit_code(), 1);
    assert_eq!(rows_with(&dir, "failed"), fail.len());
    assert!(results(&dir).contains("not in the result file; QueryDeviceProvisioning shows it at"));
    assert!(appearances(&platform).values().all(|&n| n == 1));
}

#[test]
fn jobs_of_someone_else_running_in_the_account_narrow_the_window() {
    let (_root, dir) = planned(300, 6);
    let platform = FakePlatform::new(Faults { polls: 3, foreign: 8, ..Faults::default() });
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(applied.exit_code(), 0);
    assert!(platform.max_in_flight() <= Folder::open(&dir).unwrap().jobs_per_wave);
}

#[test]
fn max_failure_rate_stops_new_jobs_and_a_later_run_continues() {
    let (_root, dir) = planned(400, 7);
    let api = api_devices(&dir);
    let fail: HashSet<String> = api.iter().step_by(2).cloned().collect();
    let platform = FakePlatform::new(Faults { polls: 1, fail: fail.clone(), ..Faults::default() });
    let options = Options { max_failure_rate: Some(0.2), ..fast() };
    let applied = apply(&dir, &platform, &options, &NoProgress).unwrap();
    assert_eq!(applied.exit_code(), 5);
    assert!(applied.stopped.unwrap().contains("--max-failure-rate 0.2"));
    assert!(applied.tally.pending > 0, "it stopped early");
    assert!(applied.tally.holds());
    assert!(!verify(&dir).unwrap().is_empty(), "verify says devices are pending");
    let rest = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(rest.tally.pending, 0);
    assert_eq!(rest.tally.failed, fail.len() as u64);
    assert!(appearances(&platform).values().all(|&n| n == 1));
}

/// The end state of an uninterrupted run with these faults.
fn faults(api: &[String]) -> Faults {
    Faults {
        polls: 1,
        lose_answer: api.iter().step_by(13).cloned().collect(),
        interrupt: api.iter().skip(3).step_by(17).cloned().collect(),
        fail: api.iter().skip(1).step_by(6).cloned().collect(),
        omit: api.iter().skip(2).step_by(19).cloned().collect(),
        throttle_every: 7,
        ..Faults::default()
    }
}

#[test]
fn a_crash_at_every_point_then_a_resume_ends_like_an_uninterrupted_run() {
    let (_root, dir) = planned(150, 8);
    let api = api_devices(&dir);
    let reference = {
        let copy = dir.with_file_name("reference");
        devdist_testkit::copy_dir(&dir, &copy);
        let platform = FakePlatform::new(faults(&api));
        apply(&copy, &platform, &fast(), &NoProgress).unwrap();
        results_without_platform_ids(&copy)
    };
    for point in CrashPoint::ALL.iter().map(|point| point.name()) {
        // Once per run: the count of the account's jobs at start, and results.csv.
        let nths: &[u32] = if ["foreign-listed", "results"].contains(&point) { &[1] } else { &[1, 3] };
        for &nth in nths {
            let copy = dir.with_file_name(format!("crash-{point}-{nth}"));
            devdist_testkit::copy_dir(&dir, &copy);
            let platform = FakePlatform::new(faults(&api));
            let crash = Options { crash: Crash::parse(&format!("{point}:{nth}"), false).unwrap(), ..fast() };
            match apply(&copy, &platform, &crash, &NoProgress) {
                Err(Error::Crashed(at)) => assert_eq!(at, point),
                other => panic!("{point}:{nth} did not crash: {other:?}"),
            }
            let resumed = apply(&copy, &platform, &fast(), &NoProgress)
                .unwrap_or_else(|err| panic!("resume after {point}:{nth}: {err}"));
            assert_eq!(resumed.tally.pending, 0, "{point}:{nth}");
            assert_eq!(results_without_platform_ids(&copy), reference, "{point}:{nth}");
            let seen = appearances(&platform);
            let redriven = fs::read_to_string(copy.join("apply/journal.jsonl"))
                .unwrap()
                .matches("\"end\":\"interrupted\"")
                .count();
            let extra: usize = seen.values().map(|&n| n - 1).sum();
            assert!(seen.values().all(|&n| n <= 2), "{point}:{nth}: a job was created twice");
            assert!(extra <= redriven * 250, "{point}:{nth}");
            assert_eq!(verify(&copy).unwrap(), Vec::<String>::new(), "{point}:{nth}");
        }
    }
}

/// results.csv without the platform_job_id column (ids depend on creation order).
fn results_without_platform_ids(dir: &Path) -> Vec<String> {
    results(dir)
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split(',').collect();
            fields.remove(3);
            fields.join(",")
        })
        .collect()
}

#[test]
fn apply_acts_only_on_the_plan_files_their_checksums_vouch_for() {
    let (_root, dir) = planned(600, 13);
    assert!(Folder::read(&dir).is_ok());
    // A device renamed after the plan (and after a verify): the counts still agree, the bytes
    // do not.
    let requests = dir.join("jobs/requests.jsonl");
    let text = fs::read_to_string(&requests).unwrap();
    let name = Folder::read(&dir).unwrap().jobs[0].devices.get(0).to_string();
    let renamed = text.replacen(&format!("\"{name}\""), "\"not-planned-0001\"", 1);
    assert_ne!(renamed, text);
    fs::write(&requests, &renamed).unwrap();
    let err = Folder::read(&dir).unwrap_err().to_string();
    assert!(err.contains("requests.jsonl: is not the file report.json lists"), "{err}");
    fs::write(&requests, &text).unwrap();
    assert!(Folder::read(&dir).is_ok());

    let report = dir.join("report.json");
    let mut bytes = fs::read(&report).unwrap();
    bytes.push(b'\n');
    fs::write(&report, &bytes).unwrap();
    let err = Folder::read(&dir).unwrap_err().to_string();
    assert!(err.contains("report.json: is not the report run.json records"), "{err}");
}

/// The platform jobs of ours that hold each device, in the fake's own records: the witness.
fn jobs_per_device(platform: &FakePlatform) -> Vec<usize> {
    appearances(platform).into_values().collect()
}

#[test]
fn a_journal_is_bound_to_its_endpoint_and_a_rehearsed_folder_is_refused_on_another() {
    let (_root, dir) = planned(200, 21);
    let rehearsal = FakePlatform::new(Faults { polls: 1, ..Faults::default() }).at("http://127.0.0.1:7777");
    apply(&dir, &rehearsal, &fast(), &NoProgress).unwrap();
    let production = FakePlatform::new(Faults { polls: 1, ..Faults::default() }).at("https://iot.example.com");
    let err = apply(&dir, &production, &fast(), &NoProgress).unwrap_err();
    assert_eq!(err.exit_code(), 3);
    let text = err.to_string();
    assert!(text.contains("records an apply against \"http://127.0.0.1:7777\""), "{text}");
    assert!(text.contains("mv ") && text.contains("plan it again"), "{text}");
    assert_eq!(production.jobs().len(), 0, "production was not called on the rehearsal's journal");
    // Moved aside, the rehearsal's record no longer speaks for production: every job is created there.
    fs::rename(dir.join("apply"), dir.with_file_name("rehearsal-apply")).unwrap();
    let applied = apply(&dir, &production, &fast(), &NoProgress).unwrap();
    assert_eq!(applied.tally.distributed, api_devices(&dir).len() as u64);
    assert!(jobs_per_device(&production).iter().all(|&n| n == 1));
}

#[test]
fn an_emptied_or_lost_journal_adopts_the_platforms_jobs_instead_of_creating_them_again() {
    let (_root, dir) = planned(300, 22);
    let platform = FakePlatform::new(Faults { polls: 1, ..Faults::default() });
    let first = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    let created = platform.jobs().len();
    let expected = results_without_platform_ids(&dir);
    for lose in ["empty", "remove"] {
        if lose == "empty" {
            fs::write(dir.join("apply/journal.jsonl"), b"").unwrap();
        } else {
            fs::remove_dir_all(dir.join("apply")).unwrap();
        }
        let again = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
        assert_eq!(platform.jobs().len(), created, "{lose}: no job was created again");
        assert_eq!(again.tally.distributed, first.tally.distributed, "{lose}");
        assert_eq!(again.created, first.created, "{lose}: every job adopted");
        assert_eq!(results_without_platform_ids(&dir), expected, "{lose}");
        assert_eq!(verify(&dir).unwrap(), Vec::<String>::new());
    }
}

#[test]
fn a_lost_create_is_told_by_its_devices_not_by_clocks_or_by_a_strangers_look_alike() {
    let (_root, dir) = planned(300, 23);
    let api = api_devices(&dir);
    let lose: HashSet<String> = api.iter().step_by(7).cloned().collect();
    // The platform's clock 15 minutes ahead, and behind: a clock comparison would misjudge one.
    for ahead in [15 * 60 * 1000, -15 * 60 * 1000] {
        let copy = dir.with_file_name(format!("clock{ahead}"));
        devdist_testkit::copy_dir(&dir, &copy);
        let faults = Faults {
            polls: 1,
            lose_answer: lose.clone(),
            stranger_lookalike: true,
            clock_ahead_ms: ahead,
            ..Faults::default()
        };
        let platform = FakePlatform::new(faults);
        let applied = apply(&copy, &platform, &fast(), &NoProgress).unwrap();
        assert_eq!(applied.tally.distributed, api.len() as u64, "{ahead}");
        assert!(jobs_per_device(&platform).iter().all(|&n| n == 1), "{ahead}: a lost Create was created again");
        let journal = fs::read_to_string(copy.join("apply/journal.jsonl")).unwrap();
        assert!(journal.contains("\"adopted\":true"), "{ahead}");
        assert!(!journal.contains("-stranger"), "{ahead}: a stranger's job was adopted");
    }
}

#[test]
fn two_jobs_of_the_same_devices_stop_and_the_operator_names_the_right_one() {
    let (_root, dir) = planned(200, 24);
    let lose: HashSet<String> = api_devices(&dir).into_iter().take(1).collect();
    let platform = FakePlatform::new(Faults { polls: 1, lose_answer: lose, duplicate_lost: true, ..Faults::default() });
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(applied.exit_code(), 5);
    let reason = applied.stopped.unwrap();
    assert!(reason.contains("--adopt"), "{reason}");
    let job = Folder::open(&dir).unwrap().jobs.iter().find(|job| !job.console).unwrap().job_id.clone();
    let adopt = [(job.clone(), "fake-0000".to_string())].into_iter().collect();
    let wrong = Options { adopt: [(job.clone(), "fake-9999".to_string())].into_iter().collect(), ..fast() };
    let refused = apply(&dir, &platform, &wrong, &NoProgress).unwrap();
    assert!(refused.stopped.unwrap().contains("lists no job fake-9999"));
    let named = apply(&dir, &platform, &Options { adopt, ..fast() }, &NoProgress).unwrap();
    assert_eq!(named.tally.pending, 0);
    assert_eq!(named.exit_code(), 0);
    let journal = fs::read_to_string(dir.join("apply/journal.jsonl")).unwrap();
    assert!(journal.contains("\"platform_job_id\":\"fake-0000\",\"adopted\":true"), "{journal}");
}

#[test]
fn a_job_deleted_by_someone_settles_its_devices_where_the_platform_shows_them() {
    let (_root, dir) = planned(300, 25);
    let api = api_devices(&dir);
    let vanish: HashSet<String> = api.iter().step_by(5).cloned().collect();
    let platform = FakePlatform::new(Faults { polls: 1, vanish, ..Faults::default() });
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    assert_eq!(applied.tally.unknown, 0, "no guessed unknown");
    assert_eq!(applied.tally.distributed, api.len() as u64);
    assert!(results(&dir).contains("is gone; QueryDeviceProvisioning shows it at"));
    let journal = fs::read_to_string(dir.join("apply/journal.jsonl")).unwrap();
    assert!(journal.contains("\"end\":\"vanished\""));
    assert_eq!(verify(&dir).unwrap(), Vec::<String>::new());
}

#[test]
fn a_device_given_two_verdicts_is_settled_by_where_it_is_not_by_the_last_row() {
    let (_root, dir) = planned(200, 26);
    let api = api_devices(&dir);
    let twice: HashSet<String> = api.iter().step_by(9).cloned().collect();
    let platform = FakePlatform::new(Faults { polls: 1, twice: twice.clone(), ..Faults::default() });
    let applied = apply(&dir, &platform, &fast(), &NoProgress).unwrap();
    // The fake distributed them (code 200 first, and at their target): the last row's
    // "iot.device.Other" must not win, and where they are says distributed.
    assert_eq!(applied.tally.distributed, api.len() as u64);
    assert!(!results(&dir).contains("iot.device.Other"));
    assert_eq!(results(&dir).matches("given two verdicts by the result file").count(), twice.len());
}

/// What apply told the operator.
#[derive(Default)]
struct Notes(std::cell::RefCell<Vec<String>>);

impl devdist_apply::Progress for Notes {
    fn update(&self, _: &devdist_apply::Snapshot) {}
    fn note(&self, line: &str) {
        self.0.borrow_mut().push(line.to_string());
    }
}

#[test]
fn waiting_on_someone_elses_jobs_is_said_at_once_and_once_per_change() {
    let (_root, dir) = planned(300, 27);
    let window = Folder::open(&dir).unwrap().jobs_per_wave;
    let platform = FakePlatform::new(Faults { polls: 3, foreign: window, ..Faults::default() });
    let notes = Notes::default();
    let applied = apply(&dir, &platform, &fast(), &notes).unwrap();
    assert_eq!(applied.exit_code(), 0);
    let notes = notes.0.into_inner();
    let waiting: Vec<&String> = notes.iter().filter(|line| line.starts_with("waiting:")).collect();
    assert_eq!(waiting.len(), 1, "{notes:?}");
    assert!(waiting[0].contains(&format!("{window} distribution jobs of others are running")), "{notes:?}");
}

#[test]
fn a_resume_starts_from_the_checkpoint_and_ignores_one_that_does_not_fit_the_journal() {
    let (_root, dir) = planned(150, 28);
    let api = api_devices(&dir);
    // A copy of the plan whose apply was killed while writing its second checkpoint: the
    // first stands, for fewer lines than the journal has; and the platform it ran on.
    let crashed = |name: &str| {
        let copy = dir.with_file_name(name);
        devdist_testkit::copy_dir(&dir, &copy);
        let platform = FakePlatform::new(faults(&api));
        let crash = Options { crash: Crash::parse("checkpoint:2", false).unwrap(), ..fast() };
        match apply(&copy, &platform, &crash, &NoProgress) {
            Err(Error::Crashed(at)) => assert_eq!(at, "checkpoint"),
            other => panic!("did not crash: {other:?}"),
        }
        assert!(copy.join("apply/checkpoint.tmp").exists());
        (copy, platform)
    };
    let (copy, platform) = crashed("believed");
    let path = copy.join("apply/checkpoint.json");
    let written: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let journal = fs::read(copy.join("apply/journal.jsonl")).unwrap();
    let made_of = written["journal"]["bytes"].as_u64().unwrap();
    assert!(0 < made_of && made_of < journal.len() as u64, "{made_of} of {} bytes", journal.len());
    // Settled counts no journal line gives: a resume that believes them stops at once on the
    // failure rate, which shows it started from the checkpoint and not from the journal's start.
    let forged = |sha: Option<&str>| {
        let mut forged = written.clone();
        forged["settled"] = serde_json::json!([0, 1_000_000, 0]);
        if let Some(sha) = sha {
            forged["journal"]["last_sha256"] = sha.into();
        }
        forged
    };
    fs::write(&path, forged(None).to_string()).unwrap();
    let rate = Options { max_failure_rate: Some(0.5), ..fast() };
    let stopped = apply(&copy, &platform, &rate, &NoProgress).unwrap().stopped.unwrap();
    let failed: u64 = stopped.split(' ').next().unwrap().parse().unwrap();
    assert!(failed >= 1_000_000 && stopped.contains("settled devices failed"), "{stopped}");

    // The same checkpoint naming another last line, one that is not JSON, or none: the whole
    // journal is replayed, and the run ends like any other, nothing created twice.
    for (name, bytes) in [
        ("other-line", forged(Some(&"0".repeat(64))).to_string().into_bytes()),
        ("garbage", b"{\"plan_sha256\":".to_vec()),
        ("none", Vec::new()),
    ] {
        let (copy, platform) = crashed(name);
        let at = copy.join("apply/checkpoint.json");
        if bytes.is_empty() {
            fs::remove_file(&at).unwrap()
        } else {
            fs::write(&at, bytes).unwrap()
        }
        let resumed = apply(&copy, &platform, &fast(), &NoProgress).unwrap();
        assert_eq!((resumed.tally.pending, resumed.stopped), (0, None), "{name}");
        assert!(appearances(&platform).values().all(|&n| n <= 2), "{name}: a job was created twice");
        assert_eq!(verify(&copy).unwrap(), Vec::<String>::new(), "{name}");
    }
}
