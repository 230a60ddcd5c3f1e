//! `devdist export` against a real `devdist emulate` of the demo: the file holds the demo's
//! devices with their secrets; plan reads it; a round trip through plan and apply shows where
//! the distributed devices are now; killed at any instant and run again under faults it ends
//! with the same bytes; no secret anywhere but the file; hostile arguments refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use devdist_testkit::{fixture, walk};

use crate::rehearsal::{Emulator, command, devdist};
use crate::support::{code, stderr};

/// The demo catalog's instances: its file's and the public ones every catalog has.
fn instances() -> Vec<String> {
    let catalog = std::fs::read_to_string(fixture("demo/instances.csv")).unwrap();
    let listed = catalog.lines().skip(1).map(|line| line.split(',').next().unwrap().to_string());
    listed.chain(devdist_engine::PUBLIC_INSTANCES.iter().map(|(id, _)| id.to_string())).collect()
}

fn export_args(emulator: &Emulator, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["export".to_string()];
    for instance in instances() {
        args.extend(["--instance".to_string(), instance]);
    }
    let out = out.to_str().unwrap().to_string();
    args.extend(["--out".into(), out, "--endpoint".into(), emulator.url.clone(), "--quiet".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn export(emulator: &Emulator, out: &Path, extra: &[&str]) -> Output {
    let args = export_args(emulator, out, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    devdist(&args)
}

/// The demo emulated at 100 times the platform's limits, with `extra` arguments.
fn emulated(extra: &[&str]) -> Emulator {
    let mut args = vec!["--rate-scale", "100"];
    args.extend_from_slice(extra);
    Emulator::start(Path::new(crate::support::demo_plan()), &args)
}

/// The demo emulated, FILE `dir/name`, and the arguments of its export.
fn prepared(dir: &Path, name: &str) -> (Emulator, PathBuf, Vec<String>) {
    let emulator = emulated(&[]);
    let out = dir.join(name);
    let args = export_args(&emulator, &out, &["--rate-scale", "100"]);
    (emulator, out, args)
}

/// Rows of an exported CSV by (product_key, device_name): the column → value map.
fn rows(path: &Path) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let mut rows = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let map: BTreeMap<String, String> = header.iter().cloned().zip(row.iter().map(str::to_string)).collect();
        let key = (map["product_key"].clone(), map["device_name"].clone());
        assert!(rows.insert(key, map).is_none(), "a device is in the file twice");
    }
    rows
}

fn info(out: &Path) -> serde_json::Value {
    let path = PathBuf::from(format!("{}.export.json", out.display()));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The demo inventories' devices as the emulator registers them: home in the catalog, first
/// record of a device wins; (product, name) → (secret, home).
fn demo_devices() -> BTreeMap<(String, String), (String, String)> {
    let catalog: BTreeSet<String> = instances().into_iter().collect();
    let mut devices = BTreeMap::new();
    for file in ["demo/devices.csv", "demo/more/devices-pascal.csv"] {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(fixture(file)).unwrap();
        let header: Vec<String> = reader
            .byte_headers()
            .unwrap()
            .iter()
            .map(|h| String::from_utf8_lossy(h).to_lowercase().replace('_', ""))
            .collect();
        let at = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str())).unwrap();
        let (pk, dn, secret, source) =
            (at(&["productkey"]), at(&["devicename"]), at(&["devicesecret"]), at(&["sourceinstance", "iotinstanceid"]));
        for record in reader.byte_records() {
            let Ok(record) = record else { continue };
            let cell = |i: usize| String::from_utf8_lossy(record.get(i).unwrap_or_default()).trim().to_string();
            let (pk, dn, secret, source) = (cell(pk), cell(dn), cell(secret), cell(source));
            if pk.is_empty() || dn.is_empty() || !catalog.contains(&source) {
                continue;
            }
            devices.entry((pk, dn)).or_insert((secret, source));
        }
    }
    devices
}

#[test]
fn a_fault_free_export_holds_the_demo_devices_with_their_secrets_and_plan_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulated(&[]);
    let out = dir.path().join("inventory.csv");
    let output = export(&emulator, &out, &["--rate-scale", "100"]);
    assert_eq!(code(&output), 1, "the demo has hostile devices: {}", stderr(&output));
    let exported = rows(&out);
    let info = info(&out);
    assert_eq!(info["rows"].as_u64().unwrap() as usize, exported.len());
    let not_written: BTreeSet<(String, String)> = info["unread"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["product_key"].as_str().unwrap().to_string(), p["device_name"].as_str().unwrap().to_string()))
        .collect();
    let flagged: BTreeSet<&str> =
        info["flagged"].as_array().unwrap().iter().map(|f| f["product_key"].as_str().unwrap()).collect();
    let expected = demo_devices();
    for (key, (secret, home)) in &expected {
        if flagged.contains(key.0.as_str()) || not_written.contains(key) {
            assert!(!exported.contains_key(key), "{key:?} is both written and listed as not written");
            continue;
        }
        let row = exported.get(key).unwrap_or_else(|| panic!("{key:?} is missing from the export"));
        assert_eq!(&row["device_secret"], secret, "{key:?}'s secret");
        assert_eq!(&row["source_instance"], home, "{key:?}'s home");
    }
    for key in exported.keys() {
        assert!(expected.contains_key(key), "{key:?} was exported but is not a demo device");
    }
    assert!(exported.len() > 1400, "most of the demo is exported: {}", exported.len());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!dir.path().join("inventory.csv.export").exists(), "the journal folder is removed");

    // plan reads it with no column warning.
    std::fs::copy(fixture("demo/instances.csv"), dir.path().join("instances.csv")).unwrap();
    let plan = std::fs::read_to_string(fixture("demo/plan.toml"))
        .unwrap()
        .replace(r#"inventory = ["devices.csv", "more/devices-pascal.csv"]"#, r#"inventory = ["inventory.csv"]"#);
    std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
    let planned = devdist(&[
        "plan",
        dir.path().join("plan.toml").to_str().unwrap(),
        "--out",
        dir.path().join("p").to_str().unwrap(),
        "--quiet",
    ]);
    assert!(matches!(code(&planned), 0 | 1), "plan: {}", stderr(&planned));
    no_column_warning(&dir.path().join("p"));
    assert!(!stderr(&planned).contains("column"), "plan warned about a column: {}", stderr(&planned));
}

#[test]
fn export_plan_apply_export_again_shows_where_the_distributed_devices_are() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulated(&["--job-seconds", "0"]);
    let first = dir.path().join("before.csv");
    let output = export(&emulator, &first, &["--rate-scale", "100"]);
    assert!(matches!(code(&output), 0 | 1), "{}", stderr(&output));
    std::fs::copy(fixture("demo/instances.csv"), dir.path().join("instances.csv")).unwrap();
    let plan = std::fs::read_to_string(fixture("demo/plan.toml"))
        .unwrap()
        .replace(r#"inventory = ["devices.csv", "more/devices-pascal.csv"]"#, r#"inventory = ["before.csv"]"#);
    std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
    let folder = crate::rehearsal::plan(&dir.path().join("plan.toml"), dir.path(), "p");
    let applied = crate::rehearsal::apply(&folder, &emulator, &["--rate-scale", "100"]);
    assert_eq!(code(&applied), 0, "apply: {}", stderr(&applied));
    let second = dir.path().join("after.csv");
    let output = export(&emulator, &second, &["--rate-scale", "100"]);
    assert!(matches!(code(&output), 0 | 1), "{}", stderr(&output));
    let (before, after) = (rows(&first), rows(&second));
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "the same devices");
    let mut results = csv::Reader::from_path(folder.join("apply/results.csv")).unwrap();
    let mut distributed = 0;
    for row in results.records() {
        let row = row.unwrap();
        let key = (row[0].to_string(), row[1].to_string());
        let (was, now) = (&before[&key], &after[&key]);
        assert_eq!(was["source_instance"], now["source_instance"], "{key:?} keeps its home");
        assert_eq!(was["device_secret"], now["device_secret"]);
        if &row[5] == "distributed" {
            distributed += 1;
            let targets: Vec<&str> = row[4].split(';').collect();
            assert!(
                targets.contains(&now["current_instance"].as_str()),
                "{key:?} is now in {}",
                now["current_instance"]
            );
        } else {
            assert_eq!(was["current_instance"], now["current_instance"], "{key:?} did not move");
        }
    }
    assert!(distributed > 1000, "{distributed}");
}

/// Runs the export, killing it after `delays` (one run each), then lets it finish.
fn killed_and_resumed(emulator: &Emulator, out: &Path, extra: &[&str], delays: &[u64]) -> Vec<Output> {
    let args = export_args(emulator, out, extra);
    let mut printed = Vec::new();
    let mut killed_with_pages = 0;
    for &delay in delays {
        let mut child = command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL: no checkpoint, no cleanup
        printed.push(child.wait_with_output().unwrap());
        if out.exists() {
            break;
        }
        let journal = PathBuf::from(format!("{}.export/journal.jsonl", out.display()));
        let pages = std::fs::read_to_string(&journal).unwrap_or_default().matches(r#""record":"page""#).count();
        killed_with_pages += usize::from(pages > 0);
    }
    assert!(killed_with_pages > 0, "no kill came after a page was checkpointed: {delays:?}");
    let last = devdist(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(matches!(code(&last), 0 | 1), "the resumed export: {}", stderr(&last));
    printed.push(last);
    printed
}

#[test]
fn killed_at_random_instants_and_resumed_under_faults_the_file_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Path::new(crate::support::demo_plan());
    let clean = emulated(&[]);
    let reference = dir.path().join("reference.csv");
    let output = export(&clean, &reference, &["--rate-scale", "100"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let reference_bytes = std::fs::read(&reference).unwrap();
    // The demo's hostile secrets of a character or two would be found in any text.
    let secrets: Vec<String> =
        rows(&reference).values().map(|row| row["device_secret"].clone()).filter(|s| s.len() >= 8).collect();
    for seed in [1u64, 2, 3] {
        let faulty = Emulator::start(
            plan,
            &["--rate-scale", "20", "--seed", &seed.to_string(), "--faults", "throttle=0.1,error5xx=0.1"],
        );
        // Deterministic instants from the seed: early (listing products), mid-sweep, late.
        let delays: Vec<u64> = (0..4).map(|i| 40 + (seed * 97 + i * 173) % 600).collect();
        let out = dir.path().join(format!("resumed-{seed}.csv"));
        let printed = killed_and_resumed(&faulty, &out, &["--rate-scale", "20"], &delays);
        assert_eq!(std::fs::read(&out).unwrap(), reference_bytes, "seed {seed}: the resumed file differs");
        let info = info(&out);
        let problems: Vec<&serde_json::Value> =
            info["unread"].as_array().unwrap().iter().filter(|p| p["api"] != "export").collect();
        assert!(problems.is_empty(), "seed {seed}: calls failed for good: {problems:?}");
        no_secret_beside(dir.path(), &out, &secrets, &printed);
    }
}

/// No device secret in any file beside `out` (export.json, anything left), nor in what was
/// printed.
fn no_secret_beside(dir: &Path, out: &Path, secrets: &[String], printed: &[Output]) {
    let name = out.file_name().unwrap().to_str().unwrap();
    let mut texts = Vec::new();
    for path in walk(dir) {
        if path == name || path.ends_with(".csv") && !path.contains(".export") {
            continue; // the exports themselves
        }
        texts.push((path.clone(), String::from_utf8_lossy(&std::fs::read(dir.join(&path)).unwrap()).into_owned()));
    }
    for output in printed {
        texts.push(("stderr".into(), stderr(output)));
    }
    for (path, text) in &texts {
        for secret in secrets {
            assert!(!text.contains(secret.as_str()), "a device secret is in {path}");
        }
        assert!(!text.contains("rehearsal-secret"), "the access key secret is in {path}");
    }
}

#[test]
fn hostile_outputs_and_instance_ids_are_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulated(&[]);
    let run = |out: &Path, instance: &str, extra: &[&str]| {
        let mut args =
            vec!["export", "--instance", instance, "--out", out.to_str().unwrap(), "--endpoint", &emulator.url];
        args.extend_from_slice(extra);
        command(&args).output().unwrap()
    };
    // A symbolic link: never written through, even with --force.
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let output = run(&link, "iot-sh0001", extra);
        assert_eq!(code(&output), 4, "{}", stderr(&output));
        assert!(stderr(&output).contains("symbolic link"), "{}", stderr(&output));
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    // A folder.
    let folder = dir.path().join("folder.csv");
    std::fs::create_dir(&folder).unwrap();
    let output = run(&folder, "iot-sh0001", &[]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    // An existing file: not without --force, and not with it when devdist did not write it.
    let existing = dir.path().join("existing.csv");
    std::fs::write(&existing, "mine").unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let output = run(&existing, "iot-sh0001", extra);
        assert_eq!(code(&output), 4, "{}", stderr(&output));
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "mine");
    // A file devdist wrote is replaced with --force.
    let mine = dir.path().join("mine.csv");
    assert!(matches!(code(&run(&mine, "iot-sh0001", &["--rate-scale", "100"])), 0 | 1));
    let again = run(&mine, "iot-sh0001", &["--rate-scale", "100", "--force"]);
    assert!(matches!(code(&again), 0 | 1), "{}", stderr(&again));
    // Instance IDs with path characters or a terminal escape: exit 2, shown escaped.
    for instance in ["../etc", "iot/a", "iot-\u{1b}[31mred", ""] {
        let output = run(&dir.path().join("x.csv"), instance, &[]);
        assert_eq!(code(&output), 2, "{instance:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains('\u{1b}'), "an escape reached the terminal");
    }
    // A folder named like the journal that devdist did not make: neither used nor removed.
    let theirs = dir.path().join("theirs.csv.export");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), "keep").unwrap();
    let output = run(&dir.path().join("theirs.csv"), "iot-sh0001", &["--rate-scale", "100"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(theirs.join("notes.txt")).unwrap(), "keep");
    // An export.json beside FILE that devdist did not write, or a link there.
    let info = dir.path().join("other.csv.export.json");
    std::fs::write(&info, "{}").unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let output = run(&dir.path().join("other.csv"), "iot-sh0001", extra);
        assert_eq!(code(&output), 4, "{}", stderr(&output));
    }
    assert_eq!(std::fs::read_to_string(&info).unwrap(), "{}");
    std::os::unix::fs::symlink(&victim, dir.path().join("linked.csv.export.json")).unwrap();
    let output = run(&dir.path().join("linked.csv"), "iot-sh0001", &["--force"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    // Another extension.
    let output = run(&dir.path().join("x.txt"), "iot-sh0001", &[]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    // Nothing was left behind by the refused runs.
    let planted = ["mine", "theirs", "other", "linked"];
    let left: Vec<String> = walk(dir.path())
        .into_iter()
        .filter(|p| p.contains(".export") && !planted.iter().any(|name| p.starts_with(name)))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_journal_of_other_arguments_is_refused_not_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(Path::new(crate::support::demo_plan()), &["--rate-scale", "2"]);
    let out = dir.path().join("inv.csv");
    let args = export_args(&emulator, &out, &["--rate-scale", "2"]);
    let mut child = command(&args.iter().map(String::as_str).collect::<Vec<_>>()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let _ = child.kill();
    let _ = child.wait();
    assert!(dir.path().join("inv.csv.export").is_dir(), "the journal folder is kept for a resume");
    let output =
        command(&["export", "--instance", "iot-sh0001", "--out", out.to_str().unwrap(), "--endpoint", &emulator.url])
            .output()
            .unwrap();
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("other arguments"), "{}", stderr(&output));
}

/// A fault-free export of the demo: its bytes.
fn fault_free(dir: &Path) -> Vec<u8> {
    let clean = emulated(&[]);
    let reference = dir.join("reference.csv");
    let output = export(&clean, &reference, &["--rate-scale", "100"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    std::fs::read(&reference).unwrap()
}

#[test]
fn under_churn_products_are_swept_again_and_the_file_equals_a_fault_free_export() {
    let dir = tempfile::tempdir().unwrap();
    let reference = fault_free(dir.path());
    let mut swept_again = 0;
    for seed in [5u64, 6] {
        let emulator = emulated(&["--seed", &seed.to_string(), "--faults", "churn=0.05"]);
        let out = dir.path().join(format!("churn-{seed}.csv"));
        let output = export(&emulator, &out, &["--rate-scale", "100"]);
        assert!(matches!(code(&output), 0 | 1), "{}", stderr(&output));
        let stats = emulator.stats();
        let churned = stats["churn"]["created"].as_u64().unwrap() + stats["churn"]["deleted"].as_u64().unwrap();
        assert!(churned > 0, "seed {seed}: the emulator churned nothing: {}", stats["churn"]);
        let info = info(&out);
        let products = info["products"].as_array().unwrap();
        swept_again += products.iter().filter(|p| p["sweeps"].as_u64().unwrap() > 1).count();
        // The emulator undoes each change within a few calls, so sweeping again converges: every
        // product ends consistent and the file is the fault-free one. A product still changing
        // after five sweeps would say so in `changes`.
        let changing: Vec<&serde_json::Value> = products.iter().filter(|p| p["consistent"] == false).collect();
        assert!(changing.is_empty(), "seed {seed}: products still changing after their sweeps: {changing:?}");
        assert_eq!(std::fs::read(&out).unwrap(), reference, "seed {seed}: not the fault-free file");
    }
    assert!(swept_again > 0, "churn made no product be swept again");
}

#[test]
fn a_stalled_call_is_cut_off_at_the_call_timeout_and_retried_and_the_file_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let reference = fault_free(dir.path());
    // A stalled call is held a minute: only the client's --call-timeout ends it in time.
    let emulator = emulated(&["--seed", "9", "--faults", "stall=0.03", "--stall-seconds", "60"]);
    let out = dir.path().join("stall.csv");
    let started = std::time::Instant::now();
    let output = export(&emulator, &out, &["--rate-scale", "100", "--call-timeout", "0.5"]);
    assert_eq!(code(&output), 1, "only the demo's hostile devices: {}", stderr(&output));
    let stalled = emulator.stats()["stalled"].as_u64().unwrap();
    assert!(stalled > 0, "nothing stalled");
    assert!(started.elapsed() < Duration::from_secs(45), "{stalled} stalled calls took {:?}", started.elapsed());
    assert_eq!(std::fs::read(&out).unwrap(), reference);
    let bad = export(&emulator, &dir.path().join("x.csv"), &["--call-timeout", "0"]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
}

#[test]
fn refused_credentials_exit_3_without_the_key_and_the_same_command_then_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let (_emulator, out, args) = prepared(dir.path(), "inv.csv");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let refused = command(&args).env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret-0ff1ce").output().unwrap();
    assert_eq!(code(&refused), 3, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("refused the credentials"), "{}", stderr(&refused));
    assert!(!stderr(&refused).contains("not-the-secret-0ff1ce"), "the key's secret was printed");
    assert!(!out.exists());
    let finished = devdist(&args);
    assert_eq!(code(&finished), 1, "{}", stderr(&finished));
    assert!(out.exists() && !dir.path().join("inv.csv.export").exists());
}

#[test]
fn a_product_that_keeps_changing_is_written_and_export_json_says_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    // Every page after a first one changes the world: no sweep of a product of several pages
    // ever holds, so after its sweeps export says what changed between the last two.
    let emulator = emulated(&["--seed", "3", "--faults", "churn=1"]);
    let out = dir.path().join("churning.csv");
    let output = export(&emulator, &out, &["--rate-scale", "100"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let info = info(&out);
    let changing: Vec<&serde_json::Value> =
        info["products"].as_array().unwrap().iter().filter(|p| p["consistent"] == false).collect();
    assert!(!changing.is_empty(), "no product was seen changing");
    for product in changing {
        assert_eq!(product["sweeps"], 5, "{product}");
        let changes = &product["changes"];
        let totals = changes["totals"].as_object().unwrap();
        assert_eq!(totals.len(), product["instances"].as_array().unwrap().len(), "{product}");
        assert!(!changes["pages"].as_object().unwrap().is_empty(), "the totals that moved: {product}");
        assert!(changes["created"].is_array() && changes["deleted"].is_array(), "{product}");
    }
}

#[test]
fn an_export_stopped_while_placing_its_files_finishes_without_reading_again() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, out, args) = prepared(dir.path(), "placed.csv");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(code(&devdist(&args)), 1);
    let bytes = std::fs::read(&out).unwrap();
    let info_path = dir.path().join("placed.csv.export.json");
    let sha = info(&out)["sha256"].as_str().unwrap().to_string();
    // The state of a run killed after FILE was renamed into place: the journal folder with its
    // binding and `finished`, export.json still inside.
    let journal = dir.path().join("placed.csv.export");
    std::fs::create_dir(&journal).unwrap();
    let bound = serde_json::json!({"record": "bound", "version": 1, "endpoint": emulator.url, "instances": instances(),
        "products": [], "format": "csv"});
    let finished = serde_json::json!({"record": "finished", "sha256": sha});
    std::fs::write(journal.join("journal.jsonl"), format!("{bound}\n{finished}\n")).unwrap();
    std::fs::rename(&info_path, journal.join("export.json")).unwrap();
    let calls_before = emulator.stats()["requests"].as_u64().unwrap();
    let again = devdist(&args);
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    assert_eq!(emulator.stats()["requests"].as_u64().unwrap(), calls_before, "nothing was read again");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert!(info_path.is_file() && !journal.exists());
}

#[test]
fn a_parquet_export_of_some_products_holds_the_same_rows_as_the_csv_and_plan_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = emulated(&[]);
    let products = ["--product", "a1HpEp5pnG6", "--product", "a19yXTCutOV", "--rate-scale", "100"];
    let (csv, parquet) = (dir.path().join("some.csv"), dir.path().join("some.parquet"));
    for out in [&csv, &parquet] {
        let output = export(&emulator, out, &products);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    }
    let rows = rows(&csv);
    assert!(rows.keys().all(|(pk, _)| pk == "a1HpEp5pnG6" || pk == "a19yXTCutOV"));
    assert_eq!(info(&parquet)["rows"].as_u64().unwrap() as usize, rows.len());
    std::fs::copy(fixture("demo/instances.csv"), dir.path().join("instances.csv")).unwrap();
    for file in ["some.csv", "some.parquet"] {
        let plan = std::fs::read_to_string(fixture("demo/plan.toml"))
            .unwrap()
            .replace(r#"inventory = ["devices.csv", "more/devices-pascal.csv"]"#, &format!("inventory = [{file:?}]"));
        let path = dir.path().join(format!("{file}.toml"));
        std::fs::write(&path, plan).unwrap();
        let folder = dir.path().join(format!("{file}.plan"));
        let planned = devdist(&["plan", path.to_str().unwrap(), "--out", folder.to_str().unwrap(), "--quiet"]);
        assert!(matches!(code(&planned), 0 | 1), "plan: {}", stderr(&planned));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join("report.json")).unwrap()).unwrap();
        assert_eq!(report["counts"]["read"].as_u64().unwrap() as usize, rows.len(), "{file}");
        no_column_warning(&folder);
    }
}

/// plan took no column of the export for a field it is not (report.json
/// `columns_that_may_be_fields`), and warned of none.
fn no_column_warning(folder: &Path) {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("report.json")).unwrap()).unwrap();
    let lookalikes = &report["columns_that_may_be_fields"];
    let none = lookalikes.as_array().map(Vec::is_empty).or_else(|| lookalikes.as_object().map(|m| m.is_empty()));
    assert_eq!(none, Some(true), "plan warned about columns: {lookalikes}");
    let warnings = std::fs::read_to_string(folder.join("warnings.csv")).unwrap_or_default();
    assert!(!warnings.contains("column"), "{warnings}");
}
