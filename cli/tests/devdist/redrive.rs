//! `devdist redrive` on the demo after an apply whose journal is hand-made: exactly the devices
//! left failed (retryably) or unknown, to the same destinations, with new job ids; permanent
//! refusals in rejects.csv with their platform code; a folder that verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::support::{code, demo_plan, devdist, stderr};

const ACCOUNT: &str = "1234567890123456";
const RETRYABLE: &str = "iot.system.SystemException";
const PERMANENT: &str = "iot.device.DistributeFailed";

type Key = (String, String);

/// Every row of every CSV table named `name` below `dir/grants` (or the one file `dir/name`).
fn rows(dir: &Path, relative: &str) -> Vec<BTreeMap<String, String>> {
    let mut paths = Vec::new();
    if relative == "devices.csv" {
        for uid in fs::read_dir(dir.join("grants")).unwrap() {
            for instance in fs::read_dir(uid.unwrap().path()).unwrap() {
                paths.push(instance.unwrap().path().join("devices.csv"));
            }
        }
    } else {
        paths.push(dir.join(relative));
    }
    paths.into_iter().filter(|p| p.exists()).flat_map(|path| devdist_testkit::table(&path)).collect()
}

fn key(row: &BTreeMap<String, String>) -> Key {
    (row["product_key"].clone(), row["device_name"].clone())
}

/// Device → its manifest rows (one per candidate target), as comparable tuples.
fn destinations(dir: &Path) -> BTreeMap<Key, BTreeSet<Vec<String>>> {
    let mut out: BTreeMap<Key, BTreeSet<Vec<String>>> = BTreeMap::new();
    for row in rows(dir, "devices.csv") {
        let fields = ["device_secret", "source_instance", "source_region", "target_uid", "target_instance", "strategy"];
        out.entry(key(&row)).or_default().insert(fields.iter().map(|f| row[*f].clone()).collect());
    }
    out
}

/// What the hand-made results say about each device of the plan.
struct Scenario {
    redriven: BTreeSet<Key>,
    refused: BTreeMap<Key, String>,
}

/// What the platform did with each API device of `dir`, by device index: unknown / failed
/// retryably / refused for good / distributed. Written as apply's journal (one created,
/// completed platform job per plan job), and applied: `devdist apply` then has nothing to call
/// and derives results.csv, summary.json and the page from the journal, as after a real run.
fn write_results(dir: &Path) -> Scenario {
    // Devices of API jobs: cross-account ones are the console's, never in the journal.
    let devices: BTreeSet<Key> =
        rows(dir, "devices.csv").iter().filter(|row| row["target_uid"] == ACCOUNT).map(key).collect();
    let mut scenario = Scenario { redriven: BTreeSet::new(), refused: BTreeMap::new() };
    let mut outcome_of: BTreeMap<Key, serde_json::Value> = BTreeMap::new();
    for (i, k) in devices.into_iter().enumerate() {
        let (outcome, code, message) = match i % 11 {
            1 => ("unknown", "interrupted", ""),
            2 | 3 => ("failed", RETRYABLE, "system busy, try again"),
            4 => ("failed", PERMANENT, "the device cannot be distributed"),
            6 => ("failed", "iot.system.InstanceIdSame", "same instance"),
            _ => ("distributed", "200", "success"),
        };
        match outcome {
            "unknown" => drop(scenario.redriven.insert(k.clone())),
            "failed" if code == RETRYABLE => drop(scenario.redriven.insert(k.clone())),
            "failed" => drop(scenario.refused.insert(k.clone(), code.to_string())),
            _ => {}
        }
        let record = serde_json::json!({"device": k.1, "outcome": outcome, "code": code, "message": message});
        outcome_of.insert(k, record);
    }
    let mut journal = String::new();
    for line in fs::read_to_string(dir.join("jobs/requests.jsonl")).unwrap().lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        if line["api"] == "console" {
            continue;
        }
        let (job, request) = (line["job_id"].as_str().unwrap(), &line["request"]);
        let product = request["ProductKey"].as_str().unwrap();
        let names = request["DeviceName"].as_array().unwrap();
        let outcomes: Vec<_> = names
            .iter()
            .map(|name| outcome_of[&(product.to_string(), name.as_str().unwrap().to_string())].clone())
            .collect();
        for record in [
            serde_json::json!({"event": "intent", "job": job, "attempt": 0, "devices": names.len(), "at_ms": 0}),
            serde_json::json!({"event": "created", "job": job, "attempt": 0, "platform_job_id": format!("pj-{job}"), "adopted": false}),
            serde_json::json!({"event": "finished", "job": job, "attempt": 0, "end": "completed", "outcomes": outcomes}),
        ] {
            journal.push_str(&format!("{record}\n"));
        }
    }
    fs::write(dir.join("apply/journal.jsonl"), journal).unwrap();
    let applied = std::process::Command::new(env!("CARGO_BIN_EXE_devdist"))
        .args(["apply", dir.to_str().unwrap(), "--endpoint", "http://127.0.0.1:9", "--quiet"])
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-redrive-test")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-a-secret")
        .output()
        .unwrap();
    assert_eq!(code(&applied), 1, "apply derives the results and calls nothing: {}", stderr(&applied));
    scenario
}

/// The demo planned, with an empty `apply/` for a test to write results into by hand.
fn demo_awaiting_results(root: &Path) -> std::path::PathBuf {
    let dir = root.join("demo");
    let planned = devdist(&["plan", demo_plan(), "--out", dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&planned), 1, "{}", stderr(&planned));
    fs::create_dir_all(dir.join("apply")).unwrap();
    dir
}

#[test]
fn redrive_holds_exactly_the_retryable_devices_with_new_job_ids_and_verifies() {
    let root = tempfile::tempdir().unwrap();
    let dir = demo_awaiting_results(root.path());
    let scenario = write_results(&dir);
    assert!(scenario.redriven.len() > 100 && scenario.refused.len() > 50);
    let new = root.path().join("new");
    let redriven = devdist(&["redrive", dir.to_str().unwrap(), "--out", new.to_str().unwrap()]);
    assert_eq!(code(&redriven), 1, "refusals are rejects: {}", stderr(&redriven));
    let text = stderr(&redriven);
    let expected = format!("{} devices re-driven", scenario.redriven.len());
    assert!(text.contains(&expected), "{text}");

    // Exactly the re-driven devices, each with its old certificate, source and destinations.
    let old = destinations(&dir);
    let now = destinations(&new);
    assert_eq!(now.keys().cloned().collect::<BTreeSet<_>>(), scenario.redriven);
    for (device, rows) in &now {
        assert_eq!(rows, &old[device], "{device:?} keeps its destinations");
    }
    // Nothing listed twice: one manifest row per (device, target).
    let manifest_rows = rows(&new, "devices.csv");
    let distinct: BTreeSet<(Key, String)> =
        manifest_rows.iter().map(|r| (key(r), r["target_instance"].clone())).collect();
    assert_eq!(distinct.len(), manifest_rows.len());

    // Permanent refusals are rejects, with the platform's code; nothing else is.
    let rejects = rows(&new, "rejects.csv");
    let refused: BTreeMap<Key, String> = rejects
        .iter()
        .map(|r| {
            assert_eq!(r["code"], "refused_by_platform");
            let platform_code = scenario.refused[&key(r)].clone();
            assert!(r["detail"].contains(&platform_code), "{:?}", r["detail"]);
            (key(r), platform_code)
        })
        .collect();
    assert_eq!(refused, scenario.refused);
    let secrets: BTreeSet<&String> = old.values().flatten().map(|row| &row[0]).collect();
    let rejects_text = fs::read_to_string(new.join("rejects.csv")).unwrap();
    assert!(secrets.iter().all(|s| !rejects_text.contains(&format!(",{s},"))), "no secret in rejects.csv");

    // New job ids, none shared with DIR.
    let job_ids = |d: &Path| rows(d, "jobs/jobs.csv").iter().map(|r| r["job_id"].clone()).collect::<BTreeSet<_>>();
    assert!(job_ids(&dir).is_disjoint(&job_ids(&new)));
    assert!(!job_ids(&new).is_empty());

    // Billed from where DIR said the device is billed now.
    let billing = |d: &Path| -> BTreeMap<(Key, String), (String, String)> {
        rows(d, "billing/reassignments.csv")
            .iter()
            .map(|r| ((key(r), r["to_instance"].clone()), (r["from_uid"].clone(), r["from_instance"].clone())))
            .collect()
    };
    let before = billing(&dir);
    for (row, from) in billing(&new) {
        assert_eq!(before[&row], from, "{row:?}");
    }

    let verified = devdist(&["verify", new.to_str().unwrap()]);
    assert_eq!(code(&verified), 0, "{}", stderr(&verified));
    // The derived inventory (device secrets) is gone.
    let left: Vec<_> = fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "only demo and new remain: {left:?}");
}

#[test]
fn redrive_is_deterministic() {
    let root = tempfile::tempdir().unwrap();
    let dir = demo_awaiting_results(root.path());
    write_results(&dir);
    let mut outputs = Vec::new();
    for name in ["a", "b"] {
        let new = root.path().join(name);
        assert_eq!(code(&devdist(&["redrive", dir.to_str().unwrap(), "--out", new.to_str().unwrap(), "-q"])), 1);
        fs::remove_file(new.join("run.json")).unwrap();
        outputs.push(devdist_testkit::files(&new));
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn redrive_refuses_what_it_cannot_trust_and_says_why() {
    let root = tempfile::tempdir().unwrap();
    let dir = demo_awaiting_results(root.path());
    let new = root.path().join("new");
    let redrive = || devdist(&["redrive", dir.to_str().unwrap(), "--out", new.to_str().unwrap(), "-q"]);

    // Not applied yet.
    let out = redrive();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("apply/journal.jsonl"), "{}", stderr(&out));

    // Results that are not what the journal records (a device the plan does not have, an
    // outcome that is not one of the four): apply's verify refuses them before anything is
    // re-driven.
    for spoil in [
        |text: String| text + "a1BwAGVxxxx,ghost-0001,job-0,pj,iot-x,failed,iot.system.SystemException,busy\n",
        |text: String| text.replacen(",distributed,", ",done,", 1),
    ] {
        write_results(&dir);
        let results = spoil(fs::read_to_string(dir.join("apply/results.csv")).unwrap());
        fs::write(dir.join("apply/results.csv"), &results).unwrap();
        let out = redrive();
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("apply/results.csv: differs from what apply/journal.jsonl records"),
            "{}",
            stderr(&out)
        );
    }

    // Results that are a link to a file elsewhere, or a FIFO (which would never end): not read.
    write_results(&dir);
    let results = dir.join("apply/results.csv");
    let elsewhere = root.path().join("results-elsewhere.csv");
    fs::rename(&results, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &results).unwrap();
    let out = redrive();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("results.csv: is a symbolic link"), "{}", stderr(&out));
    fs::remove_file(&results).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&results).status().expect("mkfifo runs").success());
    let out = redrive();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("results.csv: not a regular file"), "{}", stderr(&out));
    fs::remove_file(&results).unwrap();

    // A tampered plan folder.
    write_results(&dir);
    let jobs = dir.join("jobs/jobs.csv");
    let mut text = fs::read_to_string(&jobs).unwrap();
    text.push('\n');
    fs::write(&jobs, text).unwrap();
    let out = redrive();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("does not verify, refusing to re-drive it"), "{}", stderr(&out));
    assert!(stderr(&out).contains("jobs/jobs.csv: checksum differs"), "{}", stderr(&out));
    assert!(!new.exists());
}

#[test]
fn redrive_needs_the_certificates() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("redacted");
    let planned = devdist(&["plan", demo_plan(), "--out", dir.to_str().unwrap(), "--quiet", "--redact-secrets"]);
    assert_eq!(code(&planned), 1);
    fs::create_dir(dir.join("apply")).unwrap();
    write_results(&dir);
    let out = devdist(&["redrive", dir.to_str().unwrap(), "--out", root.path().join("new").to_str().unwrap()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("no device_secret: DIR was planned with --redact-secrets"), "{}", stderr(&out));
}
