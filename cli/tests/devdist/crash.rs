//! Crash safety and tamper evidence of the `devdist` binary (docs/plan-folder.md §2.2, §1.2).
//!
//! - `devdist plan` is SIGKILLed at many points of a run: DIR is then absent or complete, and a
//!   killed `--force` run leaves the previous DIR (or the complete new one), never a mix.
//! - A full disk or a read-only folder gives exit 4, a message naming the path, and nothing left.
//! - `devdist verify` notices a flipped byte in every output, a missing file, an extra file and
//!   a broken count, and names the file.
//!
//! The mount tests need root (they mount small tmpfs folders); they print a note and pass
//! without checking anything when that is not possible.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use devdist_testkit::{files, fixture, walk};

use crate::support::{BIN, code, demo_plan, devdist, stderr};

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// `devdist verify DIR` exits 0.
fn verifies(dir: &Path) -> Result<(), String> {
    let output = devdist(&["verify", text(dir)]);
    match output.status.code() {
        Some(0) => Ok(()),
        _ => Err(format!("verify {}: {:?}\n{}", dir.display(), output.status, stderr(&output))),
    }
}

/// Names in `folder`, sorted.
fn names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(folder).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The staging names of an output folder called `out` start with this, and end with the pid:
/// `.devdist-partial-` and the FNV-1a hash of the name, so they stay short whatever `out` is.
fn staging_prefix(out: &str) -> String {
    let hash = out
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
    format!(".devdist-partial-{hash:016x}-")
}

/// Whether `name` is the staging folder of an output folder called `out`.
fn is_staging(name: &str, out: &str) -> bool {
    name.strip_prefix(&staging_prefix(out))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// The staging folder process `pid` builds for `out`.
fn staging_of(out: &Path, pid: u32) -> PathBuf {
    let name = out.file_name().unwrap().to_string_lossy();
    out.with_file_name(format!("{}{pid}", staging_prefix(&name)))
}

/// Entries of `parent` other than `out`; panics if any is not a staging folder of `out`.
fn leftovers(parent: &Path, out: &str) -> BTreeSet<String> {
    let others: BTreeSet<String> = names(parent).into_iter().filter(|name| name != out).collect();
    for name in &others {
        assert!(is_staging(name, out), "{name}: left beside {out} and not a staging folder of it");
    }
    others
}

/// A fixed-seed xorshift64 generator.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// SIGKILL at many points

/// Runs `plan` to completion into `out` (plans here always reject a few records: exit 1).
fn plan_to_completion(plan: &Path, out: &Path, force: bool) -> Duration {
    let mut args = vec!["plan", text(plan), "--out", text(out), "--quiet"];
    if force {
        args.push("--force");
    }
    let started = Instant::now();
    let output = devdist(&args);
    let took = started.elapsed();
    assert!(matches!(code(&output), 0 | 1), "plan {}: {}", plan.display(), stderr(&output));
    took
}

fn generate(devices: usize, seed: u64, bad_rate: &str, out: &Path) -> PathBuf {
    let output = devdist(&[
        "generate",
        "--devices",
        &devices.to_string(),
        "--seed",
        &seed.to_string(),
        "--bad-rate",
        bad_rate,
        "--out",
        text(out),
    ]);
    assert_eq!(code(&output), 0, "generate: {}", stderr(&output));
    out.join("plan.toml")
}

/// When to SIGKILL a run.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// This long after it started.
    After(Duration),
    /// This long after the named file appears in its staging folder: report.json and run.json
    /// are written last, just before the folder is moved into place.
    Seen(&'static str, Duration),
}

/// How a killed run went.
#[derive(Debug, Default)]
struct Killed {
    /// It had exited before the kill.
    finished: bool,
    /// The awaited file appeared in the staging folder.
    seen: bool,
}

/// Starts `plan`, SIGKILLs it at `kill`, and reaps it.
fn plan_and_kill(plan: &Path, out: &Path, force: bool, kill: Kill) -> Killed {
    let mut args = vec!["plan", text(plan), "--out", text(out), "--quiet"];
    if force {
        args.push("--force");
    }
    let started = Instant::now();
    let mut child =
        Command::new(BIN).args(&args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let mut killed = Killed::default();
    match kill {
        Kill::After(delay) => {
            sleep(delay);
            killed.finished = child.try_wait().unwrap().is_some();
        }
        Kill::Seen(file, extra) => {
            let staging = staging_of(out, child.id());
            loop {
                if staging.join(file).exists() {
                    killed.seen = true;
                    sleep(extra);
                    break;
                }
                if child.try_wait().unwrap().is_some() {
                    killed.finished = true;
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(60), "plan {} does not finish", plan.display());
                sleep(Duration::from_micros(50));
            }
        }
    }
    // On Unix `Child::kill` sends SIGKILL: no handler, no Drop, no cleanup can run.
    let _ = child.kill();
    child.wait().unwrap();
    killed
}

/// Kill points: delays spread over a run of `full`, and the moments just before the commit.
fn kill_points(full: Duration) -> Vec<Kill> {
    let mut points: Vec<Kill> = (0..12).map(|i| Kill::After(full.mul_f64(f64::from(i) / 11.0))).collect();
    for (file, micros) in
        [("report.json", 0), ("report.json", 500), ("report.json", 2_000), ("run.json", 0), ("run.json", 300)]
    {
        points.push(Kill::Seen(file, Duration::from_micros(micros)));
    }
    points
}

#[test]
fn sigkill_at_many_points_leaves_no_partial_output() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().join("work");
    fs::create_dir(&parent).unwrap();
    let out = parent.join("out");

    // The new plan: big enough that a debug run takes at least half a second.
    let mut devices = 40_000;
    let mut plan = generate(devices, 1, "0.01", &dir.path().join("gen-new"));
    let reference = dir.path().join("reference-new");
    let fastest =
        |plan: &Path| plan_to_completion(plan, &reference, true).min(plan_to_completion(plan, &reference, true));
    let mut full = fastest(&plan);
    if full < Duration::from_millis(500) {
        devices = ((devices as f64 * 0.7 / full.as_secs_f64()) as usize).min(400_000);
        plan = generate(devices, 1, "0.01", &dir.path().join("gen-new-bigger"));
        full = fastest(&plan);
    }
    verifies(&reference).unwrap();
    let new_report = fs::read(reference.join("report.json")).unwrap();

    // The previous result, from another seed and size so that every file differs.
    let old_plan = generate(devices / 2, 2, "0.02", &dir.path().join("gen-old"));
    let previous = dir.path().join("reference-old");
    plan_to_completion(&old_plan, &previous, false);
    verifies(&previous).unwrap();
    let old_report = fs::read(previous.join("report.json")).unwrap();
    assert_ne!(old_report, new_report);

    let (mut finished, mut seen) = (0, 0);
    let mut tally = |killed: Killed| {
        finished += usize::from(killed.finished);
        seen += usize::from(killed.seen);
    };

    // Fresh runs: DIR is absent or the complete result.
    let (mut absent, mut complete) = (0, 0);
    for kill in kill_points(full) {
        tally(plan_and_kill(&plan, &out, false, kill));
        if out.exists() {
            verifies(&out).unwrap_or_else(|err| panic!("killed at {kill:?}: partial DIR: {err}"));
            assert!(fs::read(out.join("report.json")).unwrap() == new_report, "killed at {kill:?}: another report");
            complete += 1;
            fs::remove_dir_all(&out).unwrap();
        } else {
            absent += 1;
        }
        leftovers(&parent, "out");
    }
    let fresh_leftovers = leftovers(&parent, "out");

    // `--force` runs over the previous result: DIR is always complete, old or new.
    devdist_testkit::copy_dir(&previous, &out);
    let (mut old, mut new) = (0, 0);
    for kill in kill_points(full) {
        tally(plan_and_kill(&plan, &out, true, kill));
        assert!(out.exists(), "killed at {kill:?}: a --force run lost the previous DIR");
        verifies(&out).unwrap_or_else(|err| panic!("killed --force run at {kill:?}: partial DIR: {err}"));
        let report = fs::read(out.join("report.json")).unwrap();
        if report == old_report {
            old += 1;
        } else if report == new_report {
            new += 1;
            fs::remove_dir_all(&out).unwrap();
            devdist_testkit::copy_dir(&previous, &out);
        } else {
            panic!("killed --force run at {kill:?}: report.json is neither the old nor the new one");
        }
        leftovers(&parent, "out");
    }
    let before = leftovers(&parent, "out");

    // A complete run afterwards: it must not leave its own staging folder; say whether it
    // cleans up the ones killed runs left behind.
    plan_to_completion(&plan, &out, true);
    verifies(&out).unwrap();
    assert!(fs::read(out.join("report.json")).unwrap() == new_report);
    let after = leftovers(&parent, "out");
    assert!(after.is_subset(&before), "the complete run left its own staging folder: {after:?}");
    eprintln!(
        "sigkill: {devices} records, full run {full:?}; fresh runs: {absent} absent, {complete} complete; \
         --force runs: {old} old, {new} new; {finished} runs had finished before the kill, {seen} were killed \
         after report.json/run.json appeared in staging; staging folders left by killed runs: {} \
         after the fresh runs, {} new and {} in all after the --force runs, {} still there after one more complete run; test took {:?}",
        fresh_leftovers.len(),
        before.difference(&fresh_leftovers).count(),
        before.len(),
        after.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Full disk, read-only folder

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A mounted tmpfs, unmounted on drop (also when the test fails).
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs at `at` with `options`, or says why not (the caller skips the test).
    fn tmpfs(at: &Path, options: &str) -> Option<Mount> {
        if !is_root() {
            eprintln!("skipped: not root, cannot mount a tmpfs at {}", at.display());
            return None;
        }
        fs::create_dir_all(at).unwrap();
        let output = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs", text(at)]).output();
        match output {
            Ok(output) if output.status.success() => Some(Mount(at.to_path_buf())),
            Ok(output) => {
                eprintln!("skipped: mount -t tmpfs -o {options} failed: {}", stderr(&output).trim());
                None
            }
            Err(err) => {
                eprintln!("skipped: cannot run mount: {err}");
                None
            }
        }
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount").args(["-o", &format!("remount,{options}"), text(&self.0)]).status().unwrap();
        assert!(status.success(), "remount {options} {}", self.0.display());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.0).status().is_ok_and(|status| status.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Exit 4 with `devdist: error: cannot write output: PATH: REASON`, PATH inside `folder`.
fn assert_cannot_write(output: &Output, folder: &Path, reason: &str) {
    let message = stderr(output);
    assert_eq!(code(output), 4, "{message}");
    let rest = message
        .strip_prefix("devdist: error: cannot write output: ")
        .unwrap_or_else(|| panic!("unexpected message: {message}"));
    assert!(rest.starts_with(text(folder)), "the message does not name a path in {}: {message}", folder.display());
    assert!(message.contains(reason), "the message does not say {reason:?}: {message}");
    assert_eq!(message.lines().count(), 1, "one line expected: {message}");
}

#[test]
fn disk_full_exits_4_without_partial_dir() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    // The demo writes about 2.3 MB: it cannot fit in 1 MB.
    let Some(_mount) = Mount::tmpfs(&small, "size=1m") else { return };
    let out = small.join("out");
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet"]);
    assert_cannot_write(&output, &small, "No space left on device");
    assert_eq!(names(&small), Vec::<String>::new(), "no DIR and no staging folder may be left");
}

#[test]
fn disk_full_while_spilling_exits_4_without_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let plan = generate(20_000, 5, "0.01", &dir.path().join("gen"));
    let small = dir.path().join("small");
    // 20,000 records spill about 2 MB at a one-MiB budget: more than the 1 MB mount holds.
    let Some(_mount) = Mount::tmpfs(&small, "size=1m") else { return };
    let out = small.join("out");
    let output = devdist(&["plan", text(&plan), "--out", text(&out), "--quiet", "--memory-budget", "1"]);
    assert_cannot_write(&output, &small, "No space left on device");
    assert!(stderr(&output).contains("/.scratch/spool-"), "not a spool file: {}", stderr(&output));
    assert_eq!(names(&small), Vec::<String>::new(), "no DIR, staging or scratch folder may be left");
}

#[test]
fn disk_full_during_a_force_run_keeps_the_previous_dir() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    // Room for one demo output (about 2.3 MB) but not for two.
    let Some(_mount) = Mount::tmpfs(&small, "size=3m") else { return };
    let out = small.join("out");
    let first = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet"]);
    assert_eq!(code(&first), 1, "{}", stderr(&first));
    let before = files(&out);
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet", "--force"]);
    assert_cannot_write(&output, &small, "No space left on device");
    assert_eq!(names(&small), ["out"], "no staging folder may be left");
    let after = files(&out);
    assert!(before == after, "the previous DIR changed");
    verifies(&out).unwrap();
}

#[test]
fn read_only_parent_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("ro");
    let Some(_mount) = Mount::tmpfs(&folder, "ro,size=1m") else { return };
    let out = folder.join("out");
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet"]);
    assert_cannot_write(&output, &folder, "Read-only file system");
    assert_eq!(names(&folder), Vec::<String>::new());
}

#[test]
fn read_only_parent_with_force_keeps_the_previous_dir() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("ro");
    let Some(mount) = Mount::tmpfs(&folder, "size=4m") else { return };
    let out = folder.join("out");
    let first = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet"]);
    assert_eq!(code(&first), 1, "{}", stderr(&first));
    let report = fs::read(out.join("report.json")).unwrap();
    mount.remount("ro");
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet", "--force"]);
    assert_cannot_write(&output, &folder, "Read-only file system");
    assert_eq!(names(&folder), ["out"]);
    assert_eq!(fs::read(out.join("report.json")).unwrap(), report);
    verifies(&out).unwrap();
}

/// SIGTERM (`kill`, service managers) and SIGINT (Ctrl-C) can run code, unlike SIGKILL:
/// the issue asks that temporary files be cleaned on every such exit path.
#[test]
fn sigterm_and_sigint_clean_the_staging_folder() {
    let dir = tempfile::tempdir().unwrap();
    let plan = generate(60_000, 3, "0.01", &dir.path().join("gen"));
    let reference = dir.path().join("reference");
    let full = plan_to_completion(&plan, &reference, false);
    let parent = dir.path().join("work");
    fs::create_dir(&parent).unwrap();
    let out = parent.join("out");
    // SIGINT runs spill every record to the scratch folder (a one-MiB budget is far below
    // what 60,000 records take), so its spool files must go too.
    for (signal, budget) in [("-TERM", "256"), ("-INT", "1")] {
        for share in [0.3, 0.5, 0.7, 0.9] {
            let mut child = Command::new(BIN)
                .args(["plan", text(&plan), "--out", text(&out), "--quiet", "--memory-budget", budget])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            sleep(full.mul_f64(share));
            let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
            child.wait().unwrap();
            if out.exists() {
                verifies(&out).unwrap();
                fs::remove_dir_all(&out).unwrap();
            }
            let left = leftovers(&parent, "out");
            assert!(left.is_empty(), "kill {signal} after {:.0}% of a run left {left:?}", share * 100.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tamper evidence

/// The demo planned once with `format`, and the files its report.json lists.
fn planned_demo(dir: &Path, format: &str) -> (PathBuf, Vec<String>) {
    let out = dir.join(format!("demo-{format}"));
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet", "--format", format]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    verifies(&out).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    let listed: Vec<String> =
        report["outputs"].as_array().unwrap().iter().map(|file| file["path"].as_str().unwrap().to_string()).collect();
    let mut expected = listed.clone();
    expected.extend(["report.json".to_string(), "run.json".to_string()]);
    expected.sort();
    assert_eq!(walk(&out), expected, "report.json lists every output file");
    (out, listed)
}

/// Runs verify on a tampered `out`: it must find problems (exit 1) and the message must contain
/// `needle`. Verify reading a damaged report.json may also give exit 3.
fn assert_detected(out: &Path, what: &str, needle: &str, codes: &[i32]) {
    let output = devdist(&["verify", text(out)]);
    let message = stderr(&output);
    let status = output.status.code();
    assert!(
        status.is_some_and(|c| codes.contains(&c)),
        "{what}: verify gave {:?}, expected {codes:?}\n{message}",
        output.status
    );
    assert!(message.contains(needle), "{what}: verify does not say {needle:?}:\n{message}");
}

#[test]
fn verify_detects_random_byte_flips_in_every_output() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0;
    // Three flips per file for the default CSV outputs, one for the JSON Lines and Parquet ones.
    for (format, flips) in [("csv", 3), ("jsonl", 1), ("parquet", 1)] {
        let (out, listed) = planned_demo(dir.path(), format);
        let mut targets = listed.clone();
        targets.push("report.json".to_string());
        for path in &targets {
            let file = out.join(path);
            let original = fs::read(&file).unwrap();
            assert!(!original.is_empty(), "{path} is empty");
            for _ in 0..flips {
                let offset = random.below(original.len());
                let mask = 1 + random.below(255) as u8;
                let mut bytes = original.clone();
                bytes[offset] ^= mask;
                fs::write(&file, &bytes).unwrap();
                let what = format!("{format}: {path} byte {offset} ^ {mask:#04x}");
                if path == "report.json" {
                    assert_detected(&out, &what, "report.json", &[1, 3]);
                } else {
                    assert_detected(&out, &what, &format!("{}/{path}: checksum differs", text(&out)), &[1]);
                }
                runs += 1;
            }
            fs::write(&file, &original).unwrap();
        }
        verifies(&out).unwrap();
    }
    eprintln!("byte flips: {runs} tampered folders detected in {:?}", started.elapsed());
}

#[test]
fn verify_detects_missing_extra_files_and_broken_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (out, listed) = planned_demo(dir.path(), "csv");

    for path in &listed {
        let file = out.join(path);
        let (original, permissions) = (fs::read(&file).unwrap(), fs::metadata(&file).unwrap().permissions());
        fs::remove_file(&file).unwrap();
        assert_detected(&out, &format!("deleted {path}"), &format!("{}/{path}: missing", text(&out)), &[1]);
        fs::write(&file, original).unwrap();
        fs::set_permissions(&file, permissions).unwrap();
    }
    verifies(&out).unwrap();

    let manifest = listed.iter().find(|path| path.ends_with("/devices.csv")).expect("a devices manifest");
    let grant_folder = Path::new(manifest).parent().unwrap().to_str().unwrap().to_string();
    let extras = [
        "extra.txt".to_string(),
        ".hidden".to_string(),
        "report.json.bak".to_string(),
        format!("{grant_folder}/devices.csv.orig"),
        format!("{grant_folder}/extra.csv"),
        "jobs/job-0000000000000000.json".to_string(),
        "billing/new/deep/file.csv".to_string(),
        "grants/9999999999999999/iot-x/devices.csv".to_string(),
    ];
    for extra in &extras {
        let file = out.join(extra);
        let created = file.parent().unwrap().ancestors().find(|folder| folder.exists()).unwrap().to_path_buf();
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::copy(out.join(manifest), &file).unwrap();
        assert_detected(
            &out,
            &format!("extra {extra}"),
            &format!("{}/{extra}: not listed in report.json", text(&out)),
            &[1],
        );
        fs::remove_file(&file).unwrap();
        // Remove the folders this extra file needed.
        let mut folder = file.parent().unwrap().to_path_buf();
        while folder != created {
            fs::remove_dir(&folder).unwrap();
            folder = folder.parent().unwrap().to_path_buf();
        }
    }
    verifies(&out).unwrap();

    let report_path = out.join("report.json");
    let original = fs::read(&report_path).unwrap();
    let edit = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut report: serde_json::Value = serde_json::from_slice(&original).unwrap();
        change(&mut report);
        fs::write(&report_path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    };
    let bump = |value: &mut serde_json::Value| *value = (value.as_u64().unwrap() + 1).into();

    edit(&|report| bump(&mut report["counts"]["accepted"]));
    assert_detected(&out, "counts.accepted + 1", "report.json: ", &[1]);
    assert_detected(&out, "counts.accepted + 1", "accepted", &[1]);

    edit(&|report| bump(&mut report["counts"]["rejected"]));
    assert_detected(&out, "counts.rejected + 1", "rejected", &[1]);

    edit(&|report| {
        let by_code = report["counts"]["rejected_by_code"].as_object_mut().unwrap();
        let first = by_code.keys().next().unwrap().clone();
        bump(&mut by_code[&first]);
    });
    assert_detected(&out, "a per-code count + 1", "report.json: rejects per code", &[1]);

    edit(&|report| bump(&mut report["inputs"][0]["accepted"]));
    assert_detected(&out, "inputs[0].accepted + 1", "report.json: ", &[1]);

    for path in [manifest.as_str(), "rejects.csv", "jobs/jobs.csv", "billing/summary.csv"] {
        edit(&|report| {
            let outputs = report["outputs"].as_array_mut().unwrap();
            let file = outputs.iter_mut().find(|file| file["path"] == path).unwrap();
            bump(&mut file["rows"]);
        });
        assert_detected(&out, &format!("{path} rows + 1"), &format!("{}/{path}: ", text(&out)), &[1]);
        assert_detected(&out, &format!("{path} rows + 1"), "report.json says", &[1]);
    }

    fs::write(&report_path, &original).unwrap();
    verifies(&out).unwrap();
}

/// report.json is the root of trust: a changed report.json is a changed file, whichever field
/// changed: run.json records its checksum.
#[test]
fn verify_detects_edits_to_any_report_field() {
    type Edit = fn(&mut serde_json::Value);
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = planned_demo(dir.path(), "csv");
    let report_path = out.join("report.json");
    let original = fs::read(&report_path).unwrap();
    let edits: [(&str, Edit); 7] = [
        ("mode", |r| r["mode"] = "validate".into()),
        ("account", |r| r["account"] = "9999999999999999".into()),
        ("inputs[0].bytes", |r| r["inputs"][0]["bytes"] = 1.into()),
        ("warnings", |r| r["warnings"]["console_only"] = 1.into()),
        ("runtime_columns_left_out", |r| r["runtime_columns_left_out"]["Firmware"] = 1.into()),
        ("destinations[0].devices", |r| r["destinations"][0]["devices"] = 1.into()),
        ("jobs.waves", |r| r["jobs"]["waves"] = 1.into()),
    ];
    let mut undetected = Vec::new();
    for (field, change) in edits {
        let mut report: serde_json::Value = serde_json::from_slice(&original).unwrap();
        change(&mut report);
        fs::write(&report_path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
        if devdist(&["verify", text(&out)]).status.success() {
            undetected.push(field);
        }
    }
    fs::write(&report_path, &original).unwrap();
    assert!(undetected.is_empty(), "verify passes with these report.json fields changed: {undetected:?}");
}

// ---------------------------------------------------------------------------------------------
// A run never destroys what it did not create

/// The demo's plan and inputs copied into `dir/x`; returns the folder.
fn demo_copy(dir: &Path) -> PathBuf {
    let x = dir.join("x");
    devdist_testkit::copy_dir(&fixture("demo"), &x);
    fs::remove_dir_all(x.join("golden")).unwrap();
    x
}

#[test]
fn an_output_folder_that_is_contains_or_lies_inside_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let x = demo_copy(dir.path());
    let plan = x.join("plan.toml");
    std::os::unix::fs::symlink(&x, dir.path().join("link")).unwrap();
    let before = files(&x);
    let cases: [(&str, PathBuf, &str); 9] = [
        ("plan", x.clone(), "contains"),
        ("plan", dir.path().to_path_buf(), "contains"),
        ("plan", x.join("devices.csv"), "is"),
        ("plan", x.join("instances.csv"), "is"),
        ("plan", x.join("plan.toml"), "is"),
        ("plan", dir.path().join("link"), "contains"),
        ("plan", x.join("gone/../.."), "contains"),
        ("plan", x.join("devices.csv/inside"), "lies inside"),
        ("validate", dir.path().join("link/more"), "contains"),
    ];
    for (command, out, relation) in cases {
        let output = devdist(&[command, text(&plan), "--out", text(&out), "--quiet", "--force"]);
        let message = stderr(&output);
        assert_eq!(code(&output), 2, "{command} --out {}: {message}", out.display());
        let expected = format!("devdist: error: --out {}: {relation} ", out.display());
        assert!(message.starts_with(&expected), "{command} --out {}: {message}", out.display());
        assert!(message.contains("which this run reads"), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(files(&x) == before, "{command} --out {}: an input changed", out.display());
    }
    // A folder beside the inputs is fine.
    let output = devdist(&["plan", text(&plan), "--out", text(&x.join("out")), "--quiet"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
}

/// Starts `plan` into `out`, waits for its staging folder, runs `meanwhile`, and waits for it.
fn plan_and_meanwhile(plan: &Path, out: &Path, force: bool, meanwhile: impl FnOnce()) -> Output {
    let mut args = vec!["plan", text(plan), "--out", text(out), "--quiet", "--threads", "1"];
    if force {
        args.push("--force");
    }
    let child = Command::new(BIN).args(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let staging = staging_of(out, child.id());
    let started = Instant::now();
    while !staging.exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "no staging folder appears");
        sleep(Duration::from_micros(200));
    }
    meanwhile();
    child.wait_with_output().unwrap()
}

#[test]
fn a_dir_that_appears_during_a_run_is_never_replaced_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let plan = generate(40_000, 1, "0.01", &dir.path().join("gen"));
    let parent = dir.path().join("work");
    fs::create_dir(&parent).unwrap();
    let out = parent.join("out");

    // Another run's DIR appears while this one runs: it stays, this run's output goes.
    let output = plan_and_meanwhile(&plan, &out, false, || {
        fs::create_dir(&out).unwrap();
        fs::write(out.join("theirs.txt"), "another run").unwrap();
    });
    let message = stderr(&output);
    assert_eq!(code(&output), 4, "{message}");
    assert!(
        message
            .starts_with(&format!("devdist: error: cannot write output: {}: appeared while this run", out.display())),
        "{message}"
    );
    assert_eq!(names(&out), ["theirs.txt"]);
    assert!(leftovers(&parent, "out").is_empty());
    fs::remove_dir_all(&out).unwrap();

    // With --force the new output replaces it, and the run says so.
    let output = plan_and_meanwhile(&plan, &out, true, || {
        fs::create_dir(&out).unwrap();
        fs::write(out.join("theirs.txt"), "another run").unwrap();
    });
    let message = stderr(&output);
    assert_eq!(code(&output), 1, "{message}");
    assert!(
        message.contains(&format!("devdist: note: {} was created by another process while this run", out.display())),
        "{message}"
    );
    verifies(&out).unwrap();
    assert!(!out.join("theirs.txt").exists());
    assert!(leftovers(&parent, "out").is_empty());
}

#[test]
fn force_replaces_a_file_without_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::write(&out, "a file").unwrap();
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet", "--force"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    verifies(&out).unwrap();
    assert_eq!(names(dir.path()), ["out"], "nothing left beside DIR");
}

#[test]
fn force_never_descends_into_a_file_system_mounted_inside_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet"]);
    assert_eq!(code(&first), 1, "{}", stderr(&first));
    let Some(_mount) = Mount::tmpfs(&out.join("mounted"), "size=1m") else { return };
    fs::write(out.join("mounted/keep.txt"), "on another file system").unwrap();
    let before = files(&out);
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet", "--force"]);
    let message = stderr(&output);
    assert_eq!(code(&output), 4, "{message}");
    assert_eq!(
        message.trim_end(),
        format!(
            "devdist: error: cannot write output: {}: another file system is mounted inside the DIR to replace; DIR \
             was left as it is",
            out.join("mounted").display()
        )
    );
    assert!(files(&out) == before, "the previous DIR changed");
    assert_eq!(names(dir.path()), ["out"], "no staging folder may be left");
}

#[test]
fn force_reports_what_of_the_previous_dir_it_could_not_remove() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet"]);
    assert_eq!(code(&first), 1, "{}", stderr(&first));
    let stuck = out.join("stuck.txt");
    fs::write(&stuck, "immutable").unwrap();
    if !Command::new("chattr").arg("+i").arg(&stuck).status().is_ok_and(|status| status.success()) {
        eprintln!("skipped: chattr +i is not possible here");
        return;
    }
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet", "--force"]);
    let left: Vec<String> = names(dir.path()).into_iter().filter(|name| name != "out").collect();
    for name in &left {
        let _ = Command::new("chattr").arg("-i").arg(dir.path().join(name).join("stuck.txt")).status();
    }
    let message = stderr(&output);
    assert_eq!(code(&output), 4, "{message}");
    assert_eq!(left.len(), 1, "{left:?}");
    let remains = dir.path().join(&left[0]);
    assert!(
        message.starts_with(&format!("devdist: error: cannot write output: {}: ", remains.join("stuck.txt").display())),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "{} holds this run's output, and what is left of the previous one is in {}",
            out.display(),
            remains.display()
        )),
        "{message}"
    );
    verifies(&out).unwrap();
    assert_eq!(names(&remains), ["stuck.txt"], "everything else of the previous DIR is removed");
}

#[test]
fn output_names_up_to_255_bytes_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d".repeat(255));
    let output = devdist(&["plan", demo_plan(), "--out", text(&out), "--quiet"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    verifies(&out).unwrap();
}

/// Waits for `child`'s staging folder of `out` to hold spool files, then sends it `signals`.
fn signal_when_spilling(child: &std::process::Child, out: &Path, signals: &[&str]) {
    let scratch = staging_of(out, child.id()).join(".scratch");
    let started = Instant::now();
    while fs::read_dir(&scratch).map_or(true, |entries| entries.count() == 0) {
        assert!(started.elapsed() < Duration::from_secs(30), "no spool file appears");
        sleep(Duration::from_micros(200));
    }
    for signal in signals {
        let _ = Command::new("kill").args([*signal, &child.id().to_string()]).status();
    }
}

#[test]
fn every_catchable_signal_removes_the_staging_folder_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let plan = generate(60_000, 3, "0.01", &dir.path().join("gen"));
    let parent = dir.path().join("work");
    fs::create_dir(&parent).unwrap();
    let out = parent.join("out");
    let cases: [&[&str]; 10] = [
        &["-HUP"],
        &["-USR1"],
        &["-USR2"],
        &["-ALRM"],
        &["-QUIT"],
        &["-PWR"],
        &["-RTMIN+3"],
        &["-INT", "-INT"],
        &["-TERM", "-TERM"],
        &["-TERM", "-HUP", "-USR1"],
    ];
    for signals in cases {
        // A one-MiB budget spills every record to the scratch folder: spooled secrets.
        let child = Command::new(BIN)
            .args(["plan", text(&plan), "--out", text(&out), "--quiet", "--memory-budget", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        signal_when_spilling(&child, &out, signals);
        let output = child.wait_with_output().unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(130), "{signals:?}: {:?} {message}", output.status);
        assert_eq!(message, "devdist: error: interrupted; no output was written\n", "{signals:?}");
        assert!(!out.exists(), "{signals:?}");
        assert!(leftovers(&parent, "out").is_empty(), "{signals:?} left {:?}", names(&parent));
    }
}

#[test]
fn a_closed_stderr_after_the_commit_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(BIN)
        .args(["plan", demo_plan(), "--out", text(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The summary goes to a pipe nobody reads: writing it fails with EPIPE.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
    verifies(&out).unwrap();
}

// ---------------------------------------------------------------------------------------------
// generate leaves nothing partial

fn generate_args(devices: &str, out: &Path) -> Vec<String> {
    ["generate", "--devices", devices, "--seed", "9", "--out", text(out)].map(String::from).to_vec()
}

#[test]
fn generate_stops_on_the_first_signal_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    for signals in [&["-INT"][..], &["-TERM", "-TERM"], &["-HUP"]] {
        let child = Command::new(BIN)
            .args(generate_args("50000000", &out))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let staging = staging_of(&out.join("generate"), child.id());
        let started = Instant::now();
        while fs::metadata(staging.join("devices.csv")).map_or(true, |meta| meta.len() == 0) {
            assert!(started.elapsed() < Duration::from_secs(30), "generate writes nothing");
            sleep(Duration::from_millis(1));
        }
        for signal in signals {
            let _ = Command::new("kill").args([*signal, &child.id().to_string()]).status();
        }
        let signalled = Instant::now();
        let output = child.wait_with_output().unwrap();
        assert!(signalled.elapsed() < Duration::from_secs(5), "{signals:?}: generate did not stop");
        assert_eq!(output.status.code(), Some(130), "{signals:?}: {}", stderr(&output));
        assert_eq!(stderr(&output), "devdist: error: interrupted; no output was written\n");
        assert_eq!(names(&out), Vec::<String>::new(), "{signals:?}: generate left files");
    }
}

#[test]
fn generate_refuses_to_overwrite_without_force_and_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("plan.toml"), "mine").unwrap();
    let output = devdist(&generate_args("100", &out).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!("devdist: error: {}: already exists; pass --force to replace it\n", out.join("plan.toml").display())
    );
    assert_eq!(names(&out), ["plan.toml"]);
    assert_eq!(fs::read_to_string(out.join("plan.toml")).unwrap(), "mine");
    let mut args = generate_args("100", &out);
    args.push("--force".to_string());
    let output = devdist(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(names(&out), ["devices.csv", "instances.csv", "plan.toml"]);

    // A size beyond what generate can hold is an invocation error, not an abort.
    let output = devdist(
        &generate_args("1000000000000000", &dir.path().join("huge")).iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert_eq!(stderr(&output), "devdist: error: --devices 1000000000000000: at most 10000000000 records\n");
    assert!(!dir.path().join("huge").exists());

    // A full disk: exit 4 and nothing left.
    let small = dir.path().join("small");
    let Some(_mount) = Mount::tmpfs(&small, "size=1m") else { return };
    let output = devdist(&generate_args("100000", &small).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).contains("No space left on device"), "{}", stderr(&output));
    assert_eq!(names(&small), Vec::<String>::new());
}
