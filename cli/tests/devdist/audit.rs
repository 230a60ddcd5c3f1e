//! `devdist audit` against a real `devdist emulate`, after applies with faults. The witnesses
//! are the emulator's own: its stats (every job it ran, with each device's code), and
//! QueryDeviceProvisioning asked by the test itself for every device and, for a sample, by the
//! official Python SDK. audit's own files are not taken on trust.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use devdist_testkit::{fixture, walk};

use crate::rehearsal::{AK, Emulator, SECRET, apply, devdist, distributed_by_emulator, plan, sdk_provisioning};
use crate::support::stderr;

const FAULTS: &str = "device-fail=0.05,lost-response=0.1,interrupt=0.1";

fn audit(dir: &Path, emulator: &Emulator) -> Output {
    devdist(&["audit", dir.to_str().unwrap(), "--endpoint", &emulator.url, "--rate-scale", "50"])
}

fn verify(dir: &Path) -> Output {
    devdist(&["verify", dir.to_str().unwrap()])
}

/// audit.csv's rows, by (product_key, device_name).
fn rows(dir: &Path) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let table = devdist_testkit::table(&dir.join("audit/audit.csv"));
    let rows: BTreeMap<_, _> =
        table.iter().map(|row| ((row["product_key"].clone(), row["device_name"].clone()), row.clone())).collect();
    assert_eq!(rows.len(), table.len(), "one row per device");
    rows
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("audit/summary.json")).unwrap()).unwrap()
}

/// Every device of the plan's manifests, each once, with its device secret.
fn planned(dir: &Path) -> BTreeMap<(String, String), String> {
    let mut devices = BTreeMap::new();
    for manifest in walk(&dir.join("grants")).iter().filter(|path| path.ends_with("devices.csv")) {
        for row in devdist_testkit::table(&dir.join("grants").join(manifest)) {
            devices.insert((row["product_key"].clone(), row["device_name"].clone()), row["device_secret"].clone());
        }
    }
    devices
}

/// The demo planned into `dir/out` and applied under the fault mix, on a running emulator.
fn applied_with_faults(dir: &Path) -> (PathBuf, Emulator) {
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir, "out");
    let emulator =
        Emulator::start(&demo, &["--job-seconds", "0", "--rate-scale", "50", "--seed", "9", "--faults", FAULTS]);
    let run = apply(&out, &emulator, &["--rate-scale", "50"]);
    assert_eq!(run.status.code(), Some(1), "some devices fail by design: {}", stderr(&run));
    (out, emulator)
}

/// The platform client, with the emulator's credentials.
fn client(emulator: &Emulator) -> devdist_platform::Client {
    use devdist_platform::{Client, ClientConfig, Credentials, Secret};
    let credentials = Credentials { access_key_id: AK.to_string(), secret: Secret::new(SECRET), token: None };
    let mut config = ClientConfig::new(credentials);
    config.endpoint = emulator.url.clone();
    config.rate_scale = 50.0;
    Client::new(config).unwrap()
}

#[test]
fn audit_after_a_faulty_apply_gives_every_device_the_emulators_own_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let (out, emulator) = applied_with_faults(dir.path());
    let audited = audit(&out, &emulator);
    let text = stderr(&audited);
    assert_eq!(audited.status.code(), Some(1), "failed and console devices are not placed: {text}");
    assert!(!text.contains("WARNING"), "apply's results are the platform's: {text}");
    assert_eq!(verify(&out).status.code(), Some(0), "{}", stderr(&verify(&out)));

    let planned = planned(&out);
    let rows = rows(&out);
    assert_eq!(rows.keys().collect::<Vec<_>>(), planned.keys().collect::<Vec<_>>(), "every device once");
    let stats = emulator.stats();
    let by_emulator = distributed_by_emulator(&stats);
    assert!(by_emulator.values().all(|&n| n == 1));
    let client = client(&emulator);
    let mut verdicts: BTreeMap<&str, u64> = BTreeMap::new();
    for (key, row) in &rows {
        let at = client.query_device_provisioning(&key.0, &key.1).unwrap();
        assert_eq!(row["observed_instance"], at.target_iot_instance_id, "{row:?}");
        let targets: Vec<&str> = row["expected_target"].split(';').collect();
        if by_emulator.contains_key(key) {
            assert_eq!(row["verdict"], "placed", "the emulator distributed it: {row:?}");
            assert!(targets.contains(&at.target_iot_instance_id.as_str()), "{row:?}");
            assert_eq!(row["apply_outcome"], "distributed", "{row:?}");
        } else {
            assert_eq!(row["verdict"], "not_placed", "the emulator never moved it: {row:?}");
            assert_eq!(row["observed_instance"], row["expected_from"], "{row:?}");
            assert_ne!(row["apply_outcome"], "distributed", "{row:?}");
        }
        assert_eq!(row["disagreement"], "", "{row:?}");
        *verdicts.entry(&row["verdict"]).or_default() += 1;
    }
    let failed = rows.values().filter(|row| row["apply_outcome"] == "failed").count();
    assert!(failed > 0, "device-fail failed some devices");
    assert!(rows.values().any(|row| row["note"].starts_with("nearest access: at candidate ")));
    let s = summary(&out);
    assert_eq!(s["verdicts"]["placed"], verdicts["placed"]);
    assert_eq!(s["verdicts"]["not_placed"], verdicts["not_placed"]);
    assert_eq!(s["devices"], rows.len());
    assert!(s["settled"]["sweep"].as_u64().unwrap() > 0 && s["settled"]["provisioning"].as_u64().unwrap() > 0);
    assert!(s["products"].as_array().unwrap().iter().any(|p| p["listed"] == true));

    // In the words of a client none of us wrote: the official SDK agrees on a sample.
    let sample: Vec<BTreeMap<String, String>> = rows.values().step_by(60).cloned().collect();
    assert!(sample.len() >= 40, "{}", sample.len());
    for (row, at) in sample.iter().zip(sdk_provisioning(&emulator, &sample)) {
        assert_eq!(at["TargetIotInstanceId"], row["observed_instance"].as_str(), "{row:?}: {at}");
    }

    // Repeatable, and read-only: a second audit says the same and the emulator ran no new job.
    // (Only the times may differ: a seeded device's record shows the time of the call.)
    let again = audit(&out, &emulator);
    assert_eq!(again.status.code(), Some(1));
    let timeless = |rows: BTreeMap<(String, String), BTreeMap<String, String>>| {
        let mut rows = rows;
        rows.values_mut().for_each(|row| drop(row.remove("observed_at")));
        rows
    };
    assert!(timeless(rows.clone()) == timeless(self::rows(&out)), "a second audit gives other verdicts");
    assert_eq!(emulator.stats()["jobs"].as_array().unwrap().len(), stats["jobs"].as_array().unwrap().len());

    // No secret in anything audit wrote or printed.
    let mut texts = vec![text, stderr(&again)];
    for name in ["audit.csv", "summary.json", "report.html"] {
        texts.push(std::fs::read_to_string(out.join("audit").join(name)).unwrap());
    }
    for text in &texts {
        assert!(!text.contains(SECRET), "the access key secret leaked");
        for secret in planned.values().filter(|secret| secret.len() >= 16) {
            assert!(!text.contains(secret.as_str()), "a device secret leaked");
        }
    }
}

#[test]
fn a_journal_claiming_a_failed_device_distributed_is_a_loud_disagreement_and_redrive_follows_audit() {
    let dir = tempfile::tempdir().unwrap();
    let (out, emulator) = applied_with_faults(dir.path());
    // The journal now says a failed device was distributed; apply re-derives its results from
    // it, so that verify passes: only the platform can tell.
    let journal = out.join("apply/journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let at = text.find(r#","outcome":"failed","#).expect("a failed device");
    let start = text[..at].rfind(r#"{"device":""#).unwrap();
    let device = text[start + 11..at - 1].to_string();
    let end = start + text[start..].find('}').unwrap() + 1;
    let tampered = format!(
        "{}{{\"device\":\"{device}\",\"outcome\":\"distributed\",\"code\":\"200\",\"message\":\"success\"}}{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&journal, tampered).unwrap();
    let rerun = apply(&out, &emulator, &["--rate-scale", "50"]);
    assert_eq!(rerun.status.code(), Some(1), "{}", stderr(&rerun));
    assert_eq!(verify(&out).status.code(), Some(0), "apply's files agree with the tampered journal");

    let audited = audit(&out, &emulator);
    let said = stderr(&audited);
    assert_eq!(audited.status.code(), Some(1), "{said}");
    assert!(said.contains("WARNING: the platform disagrees with apply's results for 1 devices"), "{said}");
    assert!(said.contains(&format!("/{device}: apply distributed, platform not_placed")), "{said}");
    let audited_rows = rows(&out);
    let disagreeing: Vec<_> = audited_rows.values().filter(|row| !row["disagreement"].is_empty()).collect();
    assert_eq!(disagreeing.len(), 1, "{disagreeing:?}");
    let row = disagreeing[0];
    assert_eq!(
        (row["device_name"].as_str(), row["verdict"].as_str(), row["apply_outcome"].as_str()),
        (device.as_str(), "not_placed", "distributed")
    );
    assert_eq!(row["disagreement"], "applied_not_placed");
    assert_eq!(summary(&out)["disagreements"]["applied_not_placed"], 1);
    let page = std::fs::read_to_string(out.join("audit/report.html")).unwrap();
    let warned = page.find("The platform disagrees with apply").expect("the page says it");
    assert!(warned < page.find("id=\"first\"").unwrap(), "the disagreement comes first");
    assert!(page.contains(&format!("<td class=\"mono name\">{device}</td><td>not_placed</td><td>applied_not_placed")));
    assert_eq!(verify(&out).status.code(), Some(0));

    // redrive takes the platform's word: the device apply calls distributed is re-driven.
    let new = dir.path().join("redrive");
    let redrive = devdist(&["redrive", out.to_str().unwrap(), "--out", new.to_str().unwrap()]);
    let said = stderr(&redrive);
    assert!(said.contains("1 devices take DIR/audit's verdict"), "{said}");
    let requests = std::fs::read_to_string(new.join("jobs/requests.jsonl")).unwrap();
    assert!(requests.contains(&format!("\"{device}\"")), "re-driven: {requests}");
    let second = apply(&new, &emulator, &["--rate-scale", "50"]);
    assert!(matches!(second.status.code(), Some(0 | 1)), "{}", stderr(&second));
    audit(&new, &emulator);
    let new_rows = rows(&new);
    let row = new_rows.values().find(|row| row["device_name"] == device).unwrap();
    assert!(matches!(row["verdict"].as_str(), "placed" | "not_placed"), "{row:?}");
    assert_eq!(row["disagreement"], "", "{row:?}");
}

#[test]
fn verify_names_a_changed_audit_file_the_page_renders_and_return_follows_audit() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    let emulator = Emulator::start(&demo, &["--job-seconds", "0", "--rate-scale", "50", "--seed", "1"]);
    let run = apply(&out, &emulator, &["--rate-scale", "50"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let audited = audit(&out, &emulator);
    assert_eq!(audited.status.code(), Some(1), "console devices are not placed: {}", stderr(&audited));
    let s = summary(&out);

    // The page, offline, in a browser.
    let seen = crate::report::browse(&out.join("audit/report.html"), &["--dump-dom"]);
    assert_eq!(seen.console, Vec::<String>::new(), "console messages");
    assert_eq!(seen.page_requests, Vec::<String>::new(), "network requests");
    for key in ["placed", "not_placed"] {
        let n = s["verdicts"][key].as_u64().unwrap();
        assert!(seen.dom.contains(&format!("<div class=\"tile\" id=\"tile-{key}\"><b>{n}</b>")), "{key} = {n}");
    }

    // One byte changed in any of audit's files is named.
    for (name, problem, near) in [
        ("audit.csv", "audit/audit.csv: checksum differs", &b"placed"[..]),
        ("report.html", "audit/report.html: checksum differs", b"placed"),
        ("summary.json", "audit/report.html: is not the page audit/summary.json draws", b"127.0.0.1"),
    ] {
        let path = out.join("audit").join(name);
        let original = std::fs::read(&path).unwrap();
        let mut changed = original.clone();
        let at = original.windows(near.len()).position(|w| w == near).expect("a byte to change") + 1;
        changed[at] ^= 0x01;
        std::fs::write(&path, &changed).unwrap();
        let checked = verify(&out);
        assert_eq!(checked.status.code(), Some(1), "{name}");
        assert!(stderr(&checked).contains(problem), "{name}: {}", stderr(&checked));
        std::fs::write(&path, &original).unwrap();
    }
    assert_eq!(verify(&out).status.code(), Some(0));

    // return follows audit: nearest-access devices go home from the candidate audit saw.
    let back = dir.path().join("back");
    let returned = devdist(&["return", out.to_str().unwrap(), "--out", back.to_str().unwrap()]);
    assert_eq!(returned.status.code(), Some(0), "nothing left out: {}", stderr(&returned));
    let home = apply(&back, &emulator, &["--rate-scale", "50"]);
    assert_eq!(home.status.code(), Some(0), "{}", stderr(&home));
    assert_eq!(audit(&back, &emulator).status.code(), Some(0), "every device sent home is home");
    // And the plan's own audit now sees them returned (the emulator overwrites the record).
    audit(&out, &emulator);
    let rows = rows(&out);
    let placed_before = s["verdicts"]["placed"].as_u64().unwrap();
    let returned = rows.values().filter(|row| row["verdict"] == "returned").count() as u64;
    let still = rows.values().filter(|row| row["verdict"] == "placed").count() as u64;
    assert!(returned > 900, "{returned}");
    assert_eq!(returned + still, placed_before, "every placed device is returned, or was a return itself");
    let row = rows.values().find(|row| row["verdict"] == "returned").unwrap();
    assert!(row["note"].contains("record overwritten"), "{row:?}");
    let new: BTreeSet<&str> = rows.values().map(|row| row["verdict"].as_str()).collect();
    assert!(!new.contains("elsewhere"), "{new:?}");
}

#[test]
fn audit_refuses_a_validate_folder_a_changed_plan_and_missing_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let validated = dir.path().join("validated");
    let output = devdist(&["validate", demo.to_str().unwrap(), "--out", validated.to_str().unwrap(), "--quiet"]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", stderr(&output));
    // No platform is needed to refuse: the endpoint is never called.
    let unreachable = ["--endpoint", "http://127.0.0.1:9"];
    let refused = devdist(&[&["audit", validated.to_str().unwrap()][..], &unreachable].concat());
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("written by `devdist validate`"), "{}", stderr(&refused));

    let out = plan(&demo, dir.path(), "out");
    let jobs = out.join("jobs/jobs.csv");
    let mut bytes = std::fs::read(&jobs).unwrap();
    bytes.push(b'\n');
    std::fs::write(&jobs, bytes).unwrap();
    let refused = devdist(&[&["audit", out.to_str().unwrap()][..], &unreachable].concat());
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("does not verify"), "{}", stderr(&refused));
    assert!(!out.join("audit").exists());

    let bare = std::process::Command::new(crate::support::BIN)
        .args(["audit", out.to_str().unwrap(), "--endpoint", "http://127.0.0.1:9"])
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(2), "{}", stderr(&bare));
}
