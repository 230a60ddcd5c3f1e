//! The `devdist` binary end to end: the demo against its golden outputs, every exit code, the
//! exact text of common errors, secrets, job requests and tamper evidence.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;

use devdist_testkit::{files, fixture};

use crate::support::{code, demo_plan, devdist, stderr};

fn plan_demo(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["plan", demo_plan(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend(extra);
    devdist(&args)
}

/// The deterministic outputs of a run: everything but run.json.
fn deterministic(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut all = files(dir);
    all.remove("run.json").expect("run.json is written");
    all
}

#[test]
fn demo_matches_the_reviewed_golden_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = plan_demo(&out, &["--threads", "2"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let produced = deterministic(&out);
    let golden_dir = fixture("demo/golden");
    if std::env::var_os("DEVDIST_BLESS").is_some() {
        let _ = fs::remove_dir_all(&golden_dir);
        for (path, bytes) in &produced {
            let target = golden_dir.join(path);
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::write(target, bytes).unwrap();
        }
    }
    let golden = files(&golden_dir);
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&produced), names(&golden), "the set of output files changed");
    for (path, bytes) in &produced {
        assert!(
            bytes == &golden[path],
            "{path} differs from {}/{path} (DEVDIST_BLESS=1 to accept)",
            golden_dir.display()
        );
    }
}

/// The (file, record, line, code) of every reject that fixtures/demo/EXPECTED.md predicts. That
/// file comes from an independent model of docs/inputs.md §6 in make_demo.py, not from devdist.
fn expected_demo_rejects() -> BTreeSet<(String, u64, u64, String)> {
    let text = fs::read_to_string(fixture("demo/EXPECTED.md")).unwrap();
    let section = text.split("## Records per code").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut expected = BTreeSet::new();
    let mut code = String::new();
    for line in section.lines() {
        if let Some(heading) = line.strip_prefix("### `") {
            code = heading.trim_end_matches('`').to_string();
        } else if let Some((file, places)) = line.strip_prefix("- ").and_then(|l| l.split_once(": ")) {
            // "record (Lline)" entries; a file with none says so in words.
            for place in places.split(", ").filter(|p| p.contains(" (L")) {
                let (record, line) = place.trim_end_matches(')').split_once(" (L").unwrap();
                expected.insert((file.to_string(), record.parse().unwrap(), line.parse().unwrap(), code.clone()));
            }
        }
    }
    expected
}

#[test]
fn demo_rejects_match_the_independent_model_record_by_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(code(&plan_demo(&out, &[])), 1);
    let actual: BTreeSet<(String, u64, u64, String)> = devdist_testkit::rejects(&out)
        .into_iter()
        .map(|row| (row.source_file, row.record, row.line.expect("a CSV line"), row.code))
        .collect();
    let expected = expected_demo_rejects();
    assert_eq!(expected.len(), 128);
    assert_eq!(actual, expected);
}

/// warnings.csv lists, record by record, the warned devices that fixtures/demo/EXPECTED.md's
/// independent model predicts (every list it spells out; "too many to list" only by count).
#[test]
fn demo_warned_devices_match_the_independent_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(code(&plan_demo(&out, &[])), 1);
    let mut actual: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for row in devdist_testkit::table(&out.join("warnings.csv")) {
        let file = if row["source_file"] == "devices.csv" { "devices.csv" } else { "pascal" };
        actual.entry((row["code"].clone(), file.to_string())).or_default().insert(row["record"].parse().unwrap());
    }
    let text = fs::read_to_string(fixture("demo/EXPECTED.md")).unwrap();
    let section = text.split("## Warnings").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut compared = 0;
    for line in section.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let code = cells[0].trim_start_matches("| `").trim_end_matches('`');
        for part in cells[4].trim_end_matches(" |").split("; ") {
            let (file, records) = part.split_once(": ").unwrap();
            let got = actual.get(&(code.to_string(), file.to_string())).cloned().unwrap_or_default();
            if let Some(many) = records.strip_suffix(" records (too many to list)") {
                assert_eq!(got.len(), many.parse::<usize>().unwrap(), "{code} in {file}");
                continue;
            }
            let expected: BTreeSet<u64> =
                records.split(", ").filter(|r| *r != "—").map(|r| r.parse().unwrap()).collect();
            assert_eq!(got, expected, "{code} in {file}");
            compared += 1;
        }
    }
    assert_eq!(compared, 8, "every spelled-out list was compared");
}

#[test]
fn demo_has_every_reason_code_and_warning_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(code(&plan_demo(&out, &[])), 1);
    let report: serde_json::Value = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    let by_code = report["counts"]["rejected_by_code"].as_object().unwrap();
    let plannable = devdist_engine::Reason::ALL.iter().filter(|reason| !reason.redrive_only()).count();
    assert_eq!(by_code.len(), plannable);
    for (code, n) in by_code {
        assert!(n.as_u64().unwrap() > 0, "the demo has no {code} reject");
    }
    for (warning, n) in report["warnings"].as_object().unwrap() {
        assert!(n.as_u64().unwrap() > 0, "the demo has no {warning} warning");
    }
    let verified = devdist(&["verify", out.to_str().unwrap()]);
    assert_eq!(code(&verified), 0, "{}", stderr(&verified));
}

#[test]
fn thread_counts_give_identical_bytes_on_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<_> = ["1", "2", "8"]
        .iter()
        .map(|threads| {
            let out = dir.path().join(format!("out{threads}"));
            assert_eq!(code(&plan_demo(&out, &["--threads", threads])), 1);
            deterministic(&out)
        })
        .collect();
    assert!(runs[0] == runs[1] && runs[1] == runs[2]);
}

/// The demo inventories, in both header spellings.
const DEMO_INVENTORIES: [&str; 2] = ["demo/devices.csv", "demo/more/devices-pascal.csv"];

/// Values of the named columns (any header spelling) in the demo inventories.
fn demo_column_values(wanted: &[&str]) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    for file in DEMO_INVENTORIES {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(fixture(file)).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(|h| h.to_lowercase().replace('_', "")).collect();
        let columns: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, h)| wanted.iter().any(|w| w.replace('_', "") == **h))
            .map(|(i, _)| i)
            .collect();
        for record in reader.byte_records() {
            let record = record.unwrap();
            for &column in &columns {
                if let Some(value) = record.get(column).and_then(|v| std::str::from_utf8(v).ok()) {
                    values.insert(value.to_string());
                }
            }
        }
    }
    values
}

/// Fails if any needle occurs in any haystack.
fn assert_absent(haystacks: &BTreeMap<String, Vec<u8>>, needles: &BTreeSet<Vec<u8>>, what: &str) {
    if let Some((name, found)) = devdist_testkit::find_in_files(haystacks, needles) {
        panic!("{what} {:?} appears in {name}", String::from_utf8_lossy(found));
    }
}

#[test]
fn secrets_appear_only_in_device_manifests() {
    // Short values could occur by chance inside other text; every demo secret of 8+ characters is checked.
    let secrets: BTreeSet<Vec<u8>> = DEMO_INVENTORIES
        .iter()
        .flat_map(|file| devdist_testkit::device_secrets(&fs::read(fixture(file)).unwrap(), 8))
        .collect();
    assert!(secrets.len() > 3000);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = devdist(&["plan", demo_plan(), "--out", out.to_str().unwrap()]);
    let mut outputs = files(&out);
    outputs.retain(|path, _| !path.ends_with("/devices.csv"));
    outputs.insert("stderr".to_string(), output.stderr.clone());
    outputs.insert("stdout".to_string(), output.stdout.clone());
    assert_absent(&outputs, &secrets, "secret");

    let redacted = dir.path().join("redacted");
    let output = devdist(&["plan", demo_plan(), "--out", redacted.to_str().unwrap(), "--redact-secrets"]);
    assert_eq!(code(&output), 1);
    assert_absent(&files(&redacted), &secrets, "secret");
}

#[test]
fn runtime_values_appear_in_no_output() {
    let runtime = ["status", "last_online", "shadow", "tags", "firmware", "tsl_data"];
    // Long values only (short ones like "online" could occur by chance), every third of them.
    let values: BTreeSet<Vec<u8>> =
        demo_column_values(&runtime).into_iter().filter(|v| v.len() >= 12).step_by(3).map(String::into_bytes).collect();
    assert!(values.len() > 100, "the demo has runtime values to look for");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    assert_absent(&files(&out), &values, "runtime value");
}

#[test]
fn manifests_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut checked = 0;
    for path in files(&out).keys().filter(|p| p.ends_with("devices.csv")) {
        let path = out.join(path);
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        assert_eq!(mode(path.parent().unwrap()), 0o700, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 4);
}

/// A line of jobs/requests.jsonl, its request read by the platform client's own type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestLine {
    job_id: String,
    wave: u64,
    api: String,
    request: devdist_platform::CreateDeviceDistributeJob,
}

/// CreateDeviceDistributeJob's parameters as the SDK names them (docs/wire.md §4), and
/// nothing else: written out here, not taken from our type, so a rename there fails here.
const REQUEST_KEYS: [&str; 6] =
    ["DeviceName", "ProductKey", "SourceInstanceId", "Strategy", "TargetInstanceConfig", "TargetUid"];

#[test]
fn job_requests_are_one_line_per_job_in_execution_order_with_exactly_the_api_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    let mut jobs = csv::Reader::from_path(out.join("jobs/jobs.csv")).unwrap();
    let text = fs::read_to_string(out.join("jobs/requests.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "the last line ends");
    let mut lines = text.lines();
    let mut seen = 0;
    for row in jobs.records() {
        let row = row.unwrap();
        let line_text = lines.next().expect("a request line for every job");
        let line: RequestLine = serde_json::from_str(line_text).unwrap();
        let written = serde_json::from_str::<serde_json::Value>(line_text).unwrap()["request"].clone();
        let keys: Vec<&str> = written.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, REQUEST_KEYS);
        assert_eq!(
            written["TargetInstanceConfig"][0].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["TargetInstanceId"]
        );
        assert_eq!(serde_json::to_value(&line.request).unwrap(), written, "read back, nothing lost or added");
        assert_eq!(
            (line.job_id.as_str(), line.wave.to_string(), line.api.as_str()),
            (&row[0], row[1].to_string(), &row[2])
        );
        let request = line.request;
        assert_eq!(request.product_key, &row[3]);
        assert_eq!(request.source_instance_id, &row[4]);
        assert_eq!(request.strategy, if &row[5] == "specified_region" { 0 } else { 1 });
        assert_eq!(request.device_names.len().to_string(), &row[8]);
        assert!(request.device_names.len() <= 500, "the demo's devices_per_job is 500");
        assert!(request.device_names.windows(2).all(|w| w[0] < w[1]), "sorted by device name");
        assert_eq!(request.target_instance_ids.join(";"), &row[6]);
        assert_eq!(request.target_uid, &row[7]);
        seen += 1;
    }
    assert_eq!(lines.next(), None, "no line without a job");
    assert_eq!(seen, 26);
    let listed = files(&out);
    assert!(!listed.keys().any(|path| path.starts_with("jobs/job-")), "no file per job");
}

#[test]
fn validate_is_a_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = devdist(&["validate", demo_plan(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    assert_eq!(
        files(&out).keys().collect::<Vec<_>>(),
        ["rejects.csv", "report.html", "report.json", "run.json", "warnings.csv"]
    );
    let report: serde_json::Value = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["counts"]["rejected"], 128);
    // The dry run lists the warned devices as the plan does, byte for byte.
    let planned = dir.path().join("planned");
    plan_demo(&planned, &[]);
    let listed = fs::read(out.join("warnings.csv")).unwrap();
    assert_eq!(listed, fs::read(planned.join("warnings.csv")).unwrap());
    let warned: u64 = report["warnings"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert!(warned > 0 && devdist_testkit::table(&out.join("warnings.csv")).len() as u64 == warned, "{report}");
    assert_eq!(report["mode"], "validate");
    assert_eq!(code(&devdist(&["verify", out.to_str().unwrap()])), 0);
}

#[test]
fn jsonl_manifests_verify() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(code(&plan_demo(&out, &["--format", "jsonl"])), 1);
    let all = files(&out);
    let manifest = all.iter().find(|(p, _)| p.ends_with("devices.jsonl")).expect("a jsonl manifest");
    for line in String::from_utf8_lossy(manifest.1).lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(row["rights"], "use");
    }
    assert_eq!(code(&devdist(&["verify", out.to_str().unwrap()])), 0);
}

#[test]
fn verify_names_changed_missing_and_extra_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    let manifest = out.join("grants/1234567890123456/iot-eu0001/devices.csv");
    let mut bytes = fs::read(&manifest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&manifest, bytes).unwrap();
    fs::remove_file(out.join("billing/summary.csv")).unwrap();
    fs::write(out.join("jobs/extra.json"), "{}").unwrap();
    let output = devdist(&["verify", out.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(text.contains("grants/1234567890123456/iot-eu0001/devices.csv: checksum differs"), "{text}");
    assert!(text.contains("billing/summary.csv: missing"), "{text}");
    assert!(text.contains("jobs/extra.json: not listed in report.json"), "{text}");
}

/// A folder with a plan over one small inventory.
fn small_plan(dir: &Path, inventory: &str) -> PathBuf {
    let plan = dir.join("plan.toml");
    fs::write(
        &plan,
        "account = \"1234567890123456\"\n[inputs]\ninventory = [\"devices.csv\"]\n\
         [[routes]]\nstrategy = \"specified_region\"\ntargets = [\"iotx-oxssharez700\"]\n",
    )
    .unwrap();
    fs::write(dir.join("devices.csv"), inventory).unwrap();
    plan
}

const HEADER: &str = "product_key,device_name,device_secret,source_instance\n";
const GOOD_ROW: &str = "a1BwAGVeu01,meter-0001,Xk3vQ9mZp2Lr8sT1wY6bN4cJ7hF0dG5a,iotx-oxssharez200\n";

/// Every secret of [`spilling_inventory`] starts so; nothing else does.
const SECRET: &str = "zzSECRET";

/// 20,000 devices (enough to spill at a one-MiB budget), among them copies with equal secrets,
/// copies with different secrets, and unusual (short) secrets.
fn spilling_inventory() -> String {
    let mut rows = String::from(HEADER);
    for n in 0..20_000u32 {
        let secret = if n % 100 == 7 { format!("{SECRET}{n:012}") } else { format!("{SECRET}{n:024}") };
        rows.push_str(&format!("a1BwAGVeu01,meter-{n:05},{secret},iotx-oxssharez200\n"));
        match n % 1000 {
            1 => rows.push_str(&format!("a1BwAGVeu01,meter-{n:05},{secret},iotx-oxssharez200\n")),
            2 => rows.push_str(&format!("a1BwAGVeu01,meter-{n:05},{SECRET}{:024},iotx-oxssharez200\n", n + 1)),
            _ => {}
        }
    }
    rows
}

/// With `--redact-secrets` no secret is written anywhere, not even to the spool files of the
/// scratch folder: every write system call of the run is traced with `strace` and searched for
/// the secrets (the test prints a note and checks nothing when `strace` cannot trace here).
#[test]
fn redact_secrets_writes_no_secret_even_to_spool_files() {
    let dir = tempfile::tempdir().unwrap();
    let plan = small_plan(dir.path(), &spilling_inventory());
    let (redacted, kept, trace) = (dir.path().join("redacted"), dir.path().join("kept"), dir.path().join("trace"));
    let [plan, redacted, kept, trace] = [&plan, &redacted, &kept, &trace].map(|path| path.to_str().unwrap());
    // -y names each descriptor's file; -s shows whole buffers (spools write at most 64 KiB).
    let traced = Command::new("strace")
        .args(["-f", "-qq", "-y", "-s", "1048576", "-e", "trace=write,writev,pwrite64,pwritev,pwritev2", "-o", trace])
        .args([env!("CARGO_BIN_EXE_devdist"), "plan", plan, "--out", redacted, "--quiet", "--memory-budget", "1"])
        .arg("--redact-secrets")
        .output();
    // CI installs strace (.ci/run); a machine that cannot trace fails here rather than pass
    // without having looked.
    let traced = traced.expect("strace runs (apt-get install strace)");
    let traced_nothing = fs::metadata(trace).map_or(true, |m| m.len() == 0);
    assert!(!traced_nothing, "strace could not trace devdist: {}", stderr(&traced).trim());
    // Exit 1: the copies are rejected.
    assert_eq!(code(&traced), 1, "{}", stderr(&traced));
    let trace = fs::read_to_string(trace).unwrap();
    assert!(trace.contains("/.scratch/spool-"), "the run wrote no spool file: the test checks nothing");
    let leaks: Vec<&str> = trace.lines().filter(|line| line.contains(SECRET)).collect();
    assert!(leaks.is_empty(), "{} writes carry a secret, the first: {:.300}", leaks.len(), leaks[0]);

    // The secrets still decide duplicates and warnings as without --redact-secrets.
    let output = devdist(&["plan", plan, "--out", kept, "--quiet", "--memory-budget", "1"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let read = |out: &str, name: &str| fs::read_to_string(Path::new(out).join(name)).unwrap();
    let warnings =
        |out: &str| serde_json::from_str::<serde_json::Value>(&read(out, "report.json")).unwrap()["warnings"].clone();
    assert!(read(kept, "rejects.csv").contains("different secrets"));
    assert_eq!(read(kept, "rejects.csv"), read(redacted, "rejects.csv"));
    assert_eq!(warnings(kept), warnings(redacted));
    assert_ne!(warnings(kept)["unusual_device_secret"], 0);
}

#[test]
fn exit_0_when_nothing_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let plan = small_plan(dir.path(), &format!("{HEADER}{GOOD_ROW}"));
    let out = dir.path().join("out");
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(stderr(&output).contains("1 records read = 1 accepted + 0 rejected (accounting holds)"));
    let manifest = fs::read_to_string(out.join("grants/1234567890123456/iotx-oxssharez700/devices.csv")).unwrap();
    assert!(manifest.contains(",meter-0001,"));
}

#[test]
fn exit_2_for_a_bad_plan_lists_every_problem_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    fs::write(
        &plan,
        "account = \"1234567890123456\"\nbogus = 1\n[inputs]\ninventory = [\"devices.csv\", \"x.txt\"]\n\
         [limits]\ndevices_per_job = 20000\n[[routes]]\nname = \"a\"\nstrategy = \"nearest\"\n\
         targets = [\"iot-nope\", \"../x\"]\n",
    )
    .unwrap();
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    let p = plan.display();
    let expected = format!(
        "devdist: error: {p}: 6 problems in the plan\n\
         {p}:2:1: unknown key `bogus` (expected one of: account, inputs, limits, routes)\n\
         {p}:4:29: \"x.txt\": unknown inventory format (expected .csv or .parquet, a folder of them, or a glob)\n\
         {p}:6:19: `limits.devices_per_job` must be a whole number from 1 to 10000\n\
         {p}:9:12: route \"a\": `strategy` must be \"specified_region\" or \"nearest_access\"\n\
         {p}:10:12: route \"a\": target \"iot-nope\" is not in the instance catalog\n\
         {p}:10:24: `routes.targets` \"../x\" is not a safe name (1-128 characters of A-Z a-z 0-9 _ - ., not . or ..)\n"
    );
    assert_eq!(stderr(&output), expected);
    assert!(!dir.path().join("o").exists());
}

/// An `account` that owns none of the instances the catalog gives owners to is a plan error
/// (docs/inputs.md §2.1), not a run of nothing but `not_owner` rejects; a catalog whose other
/// owners are only route destinations, or one the account does own, plans.
#[test]
fn exit_2_for_an_account_that_owns_nothing_the_catalog_lists() {
    let dir = tempfile::tempdir().unwrap();
    let header = "instance_id,region,edition,owner_uid,device_quota,devices_in_use\n";
    let catalog = |owners: &[&str]| {
        let rows: String = owners
            .iter()
            .enumerate()
            .map(|(n, owner)| format!("iot-bj{n:04},cn-beijing,standard,{owner},,0\n"))
            .collect();
        fs::write(dir.path().join("instances.csv"), format!("{header}{rows}")).unwrap();
    };
    fs::write(
        dir.path().join("devices.csv"),
        "product_key,device_name,device_secret,source_instance\n\
         a1BwAGVeu01,dev-0001,SeCrEt0123456789abcdefABCDEF0123,iot-bj0000\n",
    )
    .unwrap();
    let plan = dir.path().join("plan.toml");
    let write_plan = |routes: &str| {
        fs::write(
            &plan,
            format!(
                "account = \"1234567890123456\"\n[inputs]\ninventory = [\"devices.csv\"]\ninstances = \"instances.csv\"\n{routes}"
            ),
        )
        .unwrap()
    };
    let run = |name: &str| devdist(&["plan", plan.to_str().unwrap(), "--out", dir.path().join(name).to_str().unwrap()]);
    let route = "[[routes]]\nstrategy = \"specified_region\"\ntargets = [\"iotx-oxssharez700\"]\n";
    write_plan(route);
    let p = plan.display();

    // Seven other accounts: the message names the first five and how many more.
    catalog(&["7", "1111111111111111", "2", "3", "4", "5", "6"]);
    let output = run("o");
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let expected = format!(
        "devdist: error: {p}: 1 problem in the plan\n\
         {p}:1:11: `account` \"1234567890123456\" owns none of the instances instances.csv lists (their owner_uid is \
         accounts \"1111111111111111\", \"2\", \"3\", \"4\", \"5\", and 2 more): every device in them would be rejected \
         as not_owner. Set `account` to the UID that owns the source devices, or correct owner_uid in instances.csv\n"
    );
    assert_eq!(stderr(&output), expected);
    assert!(!dir.path().join("o").exists());

    // validate says the same.
    let output = devdist(&["validate", plan.to_str().unwrap(), "--out", dir.path().join("v").to_str().unwrap()]);
    assert_eq!((code(&output), stderr(&output)), (2, expected));

    // One owner, said in the singular.
    catalog(&["1111111111111111"]);
    let output = run("o");
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("(their owner_uid is account \"1111111111111111\")"), "{}", stderr(&output));

    // The account owns one of them: a plan, whose other device is a plain not_owner reject.
    catalog(&["1111111111111111", "1234567890123456"]);
    let output = run("owned");
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let rejects = devdist_testkit::rejects(&dir.path().join("owned"));
    assert_eq!(rejects.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(), ["not_owner"]);

    // The other account's instances are where a route sends devices: destinations, not sources.
    catalog(&["1111111111111111"]);
    write_plan(&format!(
        "{route}[[routes]]\nstrategy = \"specified_region\"\ntargets = [\"iot-bj0000\"]\ntarget_uid = \"1111111111111111\"\n"
    ));
    let output = run("destination");
    assert_eq!(code(&output), 1, "{}", stderr(&output));

    // A catalog that states no owner never refuses.
    write_plan(route);
    catalog(&[""]);
    let output = run("public");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn exit_2_for_bad_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let plan = small_plan(dir.path(), &format!("{HEADER}{GOOD_ROW}"));
    let output = devdist(&["plan", plan.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("--out <OUT>"));

    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert_eq!(
        stderr(&output),
        format!("devdist: error: {}: already exists; pass --force to replace it\n", out.display())
    );

    let output = devdist(&["plan", "missing.toml", "--out", out.to_str().unwrap()]);
    assert_eq!((code(&output), stderr(&output).as_str()), (2, "devdist: error: missing.toml: no such file\n"));

    let elsewhere = dir.path().join("elsewhere");
    for budget in ["0", "-1", "lots"] {
        let output =
            devdist(&["plan", plan.to_str().unwrap(), "--out", elsewhere.to_str().unwrap(), "--memory-budget", budget]);
        assert_eq!(code(&output), 2, "--memory-budget {budget}: {}", stderr(&output));
        assert!(!elsewhere.exists());
    }
}

#[test]
fn usage_and_help_show_what_is_optional_and_every_format() {
    for command in ["plan", "validate"] {
        let output = devdist(&[command, "--quiet", "--force", "--threads", "2"]);
        assert_eq!(code(&output), 2);
        let usage = format!("Usage: devdist {command} [OPTIONS] --out <OUT> <PLAN>\n");
        assert!(stderr(&output).contains(&usage), "{}", stderr(&output));
    }
    let help = String::from_utf8(devdist(&["plan", "--help"]).stdout).unwrap();
    assert!(help.contains("[possible values: csv, jsonl, parquet]"), "{help}");
}

#[test]
fn file_names_from_the_plan_are_escaped_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    // An OSC-8 hyperlink and a colour in the name: a terminal would act on both.
    let name = "dev\u{1b}]8;;x\u{7}ice\u{1b}[31m\ns.csv";
    let shown = "dev\\u{1b}]8;;x\\u{7}ice\\u{1b}[31m\\ns.csv";
    let plan = dir.path().join("plan.toml");
    let toml_name = name.replace('\u{1b}', "\\u001b").replace('\u{7}', "\\u0007").replace('\n', "\\n");
    fs::write(
        &plan,
        format!(
            "account = \"1234567890123456\"\n[inputs]\ninventory = [\"{toml_name}\"]\n\
             [[routes]]\nstrategy = \"specified_region\"\ntargets = [\"iotx-oxssharez700\"]\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert_eq!(stderr(&output), format!("devdist: error: {}/{shown}: no such file\n", dir.path().display()));

    fs::write(dir.path().join(name), format!("{HEADER}{GOOD_ROW}")).unwrap();
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let summary = stderr(&output);
    assert!(summary.contains(&format!("  {shown} ")), "{summary}");
    assert!(!summary.contains('\u{1b}') && !summary.contains('\u{7}'), "{summary:?}");
}

#[test]
fn exit_3_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let plan = small_plan(dir.path(), "ProductKey,device_name,status\n");
    let out = dir.path().join("out");
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 3);
    let inventory = dir.path().join("devices.csv");
    assert_eq!(
        stderr(&output),
        format!(
            "devdist: error: {}: line 1: missing required columns \"device_secret\", \"source_instance\"\n",
            inventory.display()
        )
    );

    fs::remove_file(&inventory).unwrap();
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 3);
    assert_eq!(stderr(&output), format!("devdist: error: {}: no such file\n", inventory.display()));
    assert!(!out.exists());
}

#[test]
fn exit_4_when_the_output_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let plan = small_plan(dir.path(), &format!("{HEADER}{GOOD_ROW}"));
    let blocker = dir.path().join("file");
    fs::write(&blocker, "not a folder").unwrap();
    let out = blocker.join("out");
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).starts_with("devdist: error: cannot write output: "), "{}", stderr(&output));
}

#[test]
fn rejected_records_are_positioned_in_rejects_csv() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = format!("{HEADER}{GOOD_ROW}\"a1BwAGVeu01\",\"bad/name\",\"s\",\"iotx-oxssharez200\"\nx,y\n");
    let plan = small_plan(dir.path(), &inventory);
    let out = dir.path().join("out");
    let output = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    assert_eq!(
        fs::read_to_string(out.join("rejects.csv")).unwrap(),
        "source_file,record,line,product_key,device_name,code,detail\n\
         devices.csv,2,3,a1BwAGVeu01,bad/name,invalid_device_name,device_name character 4 is not one of A-Z a-z 0-9 _ - @ . :\n\
         devices.csv,3,4,,,malformed_record,\"expected 4 fields as in the header, found 2\"\n"
    );
}

/// `generate --devices 20000 --seed 7 --format F --out DIR`, which must succeed.
fn generate_seed_7(format: &str, dir: &Path) {
    let args = ["generate", "--devices", "20000", "--seed", "7", "--format", format, "--out", dir.to_str().unwrap()];
    let output = devdist(&args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

/// [`generate_seed_7`] then `plan`: the generated folder and the plan's output folder.
fn generate_and_plan(dir: &Path, format: &str) -> (PathBuf, PathBuf) {
    let (input, out) = (dir.join(format!("{format}-in")), dir.join(format!("{format}-out")));
    generate_seed_7(format, &input);
    let output =
        devdist(&["plan", input.join("plan.toml").to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    (input, out)
}

#[test]
fn generated_csv_and_parquet_plan_to_the_same_distribution() {
    let dir = tempfile::tempdir().unwrap();
    let (csv_in, csv_out) = generate_and_plan(dir.path(), "csv");
    let (parquet_in, parquet_out) = generate_and_plan(dir.path(), "parquet");
    assert!(parquet_in.join("devices.parquet").is_file());
    assert!(!parquet_in.join("devices.csv").exists());
    let plan = fs::read_to_string(parquet_in.join("plan.toml")).unwrap();
    assert!(plan.contains("inventory = [\"devices.parquet\"]"), "{plan}");
    assert_eq!(plan, fs::read_to_string(csv_in.join("plan.toml")).unwrap().replace("devices.csv", "devices.parquet"));

    // The same seed again: the same bytes.
    let again = dir.path().join("again");
    generate_seed_7("parquet", &again);
    assert_eq!(files(&again), files(&parquet_in));

    // The same report but for the input's name, format and size; the same manifests, jobs and
    // billing, byte for byte.
    let report = |out: &Path| -> serde_json::Value {
        let mut report: serde_json::Value =
            serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
        report.as_object_mut().unwrap().remove("inputs").expect("report.json lists its inputs");
        // report.html shows the inputs too, and warnings.csv their names and lines, so their
        // checksums differ with them (the rows of warnings.csv are compared below).
        report["outputs"].as_array_mut().unwrap().retain(|file| file["path"] != "report.html");
        for file in report["outputs"].as_array_mut().unwrap() {
            if file["path"] == "warnings.csv" {
                file.as_object_mut().unwrap().remove("sha256");
            }
        }
        report
    };
    let csv_report = report(&csv_out);
    assert_eq!(csv_report["counts"]["read"], 20000);
    assert_eq!(csv_report["counts"]["rejected"], 0);
    assert_eq!(report(&parquet_out), csv_report);
    let mut csv_files = deterministic(&csv_out);
    let mut parquet_files = deterministic(&parquet_out);
    for page in ["report.json", "report.html", "warnings.csv"] {
        csv_files.remove(page);
        parquet_files.remove(page);
    }
    // The same warned devices, but for the file's name and the line (none in Parquet).
    let warned = |out: &Path, input: &str| {
        let mut rows = devdist_testkit::table(&out.join("warnings.csv"));
        for row in &mut rows {
            assert_eq!(row.remove("source_file").as_deref(), Some(input));
            row.remove("line");
        }
        rows
    };
    let csv_warned = warned(&csv_out, "devices.csv");
    assert!(csv_warned.iter().any(|row| row["code"] == "topology_split"), "the generator splits topologies");
    assert_eq!(warned(&parquet_out, "devices.parquet"), csv_warned);
    assert!(csv_files.keys().filter(|path| path.starts_with("grants/") && path.ends_with("/devices.csv")).count() > 3);
    assert_eq!(csv_files.keys().collect::<Vec<_>>(), parquet_files.keys().collect::<Vec<_>>());
    for (path, bytes) in &csv_files {
        assert!(bytes == &parquet_files[path], "{path} differs between the CSV and the Parquet run");
    }
}

#[test]
fn generate_rejects_jsonl_inventories() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("in");
    let output = devdist(&["generate", "--devices", "10", "--format", "jsonl", "--out", out.to_str().unwrap()]);
    assert_eq!(
        (code(&output), stderr(&output).as_str()),
        (2, "devdist: error: --format jsonl: generate writes csv or parquet\n")
    );
    assert!(!out.exists());
}

/// `devdist` under an open-file limit of 1024 (`prlimit`).
fn devdist_at_1024_files(args: &[&str]) -> Output {
    Command::new("prlimit")
        .arg("--nofile=1024")
        .arg(env!("CARGO_BIN_EXE_devdist"))
        .args(args)
        .output()
        .expect("prlimit runs devdist")
}

#[test]
fn three_thousand_destinations_plan_under_a_1024_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut catalog, mut inventory) = (
        String::from("instance_id,region,edition,owner_uid,device_quota,devices_in_use\n"),
        String::from(HEADER.trim_end()),
    );
    inventory.push_str(",target_instance\n");
    for n in 0..3000 {
        catalog.push_str(&format!("iot-d{n:04},eu-central-1,standard,1234567890123456,,0\n"));
        inventory.push_str(&format!(
            "a1BwAGVeu01,meter-{n:04},Xk3vQ9mZp2Lr8sT1wY6bN4cJ7hF0dG5a,iotx-oxssharez200,iot-d{n:04}\n"
        ));
    }
    let plan = dir.path().join("plan.toml");
    fs::write(
        &plan,
        "account = \"1234567890123456\"\n[inputs]\ninventory = [\"devices.csv\"]\ninstances = \"instances.csv\"\n",
    )
    .unwrap();
    fs::write(dir.path().join("instances.csv"), catalog).unwrap();
    fs::write(dir.path().join("devices.csv"), inventory).unwrap();
    let out = dir.path().join("out");
    let output = devdist_at_1024_files(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    for n in [0, 255, 256, 2999] {
        let manifest =
            fs::read_to_string(out.join(format!("grants/1234567890123456/iot-d{n:04}/devices.csv"))).unwrap();
        assert_eq!(manifest.lines().count(), 2, "{manifest}");
        assert!(manifest.contains(&format!(",meter-{n:04},")), "{manifest}");
    }
    let verified = devdist_at_1024_files(&["verify", out.to_str().unwrap()]);
    assert_eq!(code(&verified), 0, "{}", stderr(&verified));
}

#[test]
fn a_thousand_spilled_buckets_plan_under_a_1024_open_file_limit() {
    // At 1 MiB and 8 threads a bucket is meant to hold 16 KiB of the input, so 20 MB of input
    // gives the most buckets (1024), and the budget makes every one of them, its sorted run
    // and its reject spool continue in a file.
    let dir = tempfile::tempdir().unwrap();
    let mut inventory = String::from(HEADER.trim_end());
    inventory.push_str(",padding\n");
    let padding = "p".repeat(1000);
    for n in 0..20_000 {
        inventory.push_str(&format!(
            "a1BwAGVeu01,meter-{n:05},Xk3vQ9mZp2Lr8sT1wY6bN4cJ7hF0dG5a,iotx-oxssharez200,{padding}\n"
        ));
    }
    let plan = small_plan(dir.path(), &inventory);
    let out = dir.path().join("out");
    let plan = plan.to_str().unwrap();
    let args = ["plan", plan, "--out", out.to_str().unwrap(), "--quiet", "--threads", "8", "--memory-budget", "1"];
    let output = devdist_at_1024_files(&args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let manifest = fs::read_to_string(out.join("grants/1234567890123456/iotx-oxssharez700/devices.csv")).unwrap();
    assert_eq!(manifest.lines().count(), 20_001);
    let verified = devdist_at_1024_files(&["verify", out.to_str().unwrap()]);
    assert_eq!(code(&verified), 0, "{}", stderr(&verified));
    // The runs were merged in stages to stay under the limit: the bytes are those of one merge.
    let roomy = dir.path().join("roomy");
    let output = devdist(&["plan", plan, "--out", roomy.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(deterministic(&out) == deterministic(&roomy), "the memory budget changed the outputs");
}

/// `devdist verify DIR` in at most 2 GB of address space, failing the test if it runs past 60 s
/// (a FIFO once made it wait forever, `/dev/zero` took all memory).
fn verify_bounded(dir: &Path) -> Output {
    use std::process::Stdio;
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -v 2000000; exec \"$0\" verify \"$1\""])
        .arg(env!("CARGO_BIN_EXE_devdist"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("devdist verify still running after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Rewrites report.json's list of outputs with `edit` and records the new report.json's
/// checksum in run.json, so that what `edit` did is all that is wrong.
fn relist(out: &Path, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    use sha2::Digest;
    let mut report: serde_json::Value = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    edit(report["outputs"].as_array_mut().unwrap());
    let text = serde_json::to_vec_pretty(&report).unwrap();
    fs::write(out.join("report.json"), &text).unwrap();
    let mut run: serde_json::Value = serde_json::from_slice(&fs::read(out.join("run.json")).unwrap()).unwrap();
    run["report_sha256"] = hex::encode(sha2::Sha256::digest(&text)).into();
    fs::write(out.join("run.json"), serde_json::to_vec_pretty(&run).unwrap()).unwrap();
}

/// The problems verify printed, without the folder in front; its exit code must be 1.
fn verify_problems(out: &Path) -> Vec<String> {
    let output = verify_bounded(out);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let prefix = format!("{}/", out.display());
    text.lines().filter_map(|line| line.strip_prefix(&prefix)).map(str::to_string).collect()
}

#[test]
fn verify_reads_no_listed_path_outside_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    let outside = dir.path().join("outside.csv");
    fs::write(&outside, "a,b\n1,2\n").unwrap();
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"a,b\n1,2\n"));
    let absolute = outside.to_str().unwrap().to_string();
    relist(&out, |outputs| {
        for path in ["../outside.csv", absolute.as_str()] {
            outputs.push(serde_json::json!({"path": path, "rows": 1, "sha256": sha256}));
        }
    });
    let inside =
        format!("not a path inside {} (absolute, or with an empty, \".\" or \"..\" part): not read", out.display());
    assert_eq!(verify_problems(&out), [format!("../outside.csv: {inside}"), format!("{absolute}: {inside}")]);
}

#[test]
fn verify_follows_no_link_out_of_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    // The same bytes, but outside DIR: a listed file that is a link, and one below a linked folder.
    fs::copy(out.join("billing/summary.csv"), dir.path().join("summary.csv")).unwrap();
    fs::remove_file(out.join("billing/summary.csv")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("summary.csv"), out.join("billing/summary.csv")).unwrap();
    fs::rename(out.join("jobs"), dir.path().join("jobs")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("jobs"), out.join("jobs")).unwrap();
    let problems = verify_problems(&out);
    let link = "links are not followed";
    for expected in [
        format!("billing/summary.csv: is a symbolic link: {link}"),
        format!("jobs/jobs.csv: passes through a symbolic link (jobs): {link}"),
        format!("jobs/requests.jsonl: passes through a symbolic link (jobs): {link}"),
    ] {
        assert!(problems.contains(&expected), "{expected:?} not in {problems:#?}");
    }
}

#[test]
fn verify_does_not_read_a_link_to_dev_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    fs::remove_file(out.join("rejects.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", out.join("rejects.csv")).unwrap();
    assert_eq!(verify_problems(&out), ["rejects.csv: is a symbolic link: links are not followed"]);
}

#[test]
fn verify_does_not_wait_on_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    fs::remove_file(out.join("billing/reassignments.csv")).unwrap();
    assert!(Command::new("mkfifo").arg(out.join("billing/reassignments.csv")).status().unwrap().success());
    assert_eq!(verify_problems(&out), ["billing/reassignments.csv: not a regular file"]);
}

#[test]
fn verify_finds_devices_manifests_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out, &[]);
    let verified = verify_bounded(&out);
    assert_eq!(code(&verified), 0, "{}", stderr(&verified));
    let manifest = fs::read_dir(out.join("grants")).unwrap().next().unwrap().unwrap().path();
    let uid = manifest.file_name().unwrap().to_str().unwrap().to_string();
    let instance = fs::read_dir(&manifest).unwrap().next().unwrap().unwrap().file_name();
    let instance = instance.to_str().unwrap();
    let chmod = |path: &str, mode| fs::set_permissions(out.join(path), fs::Permissions::from_mode(mode)).unwrap();
    chmod(&format!("grants/{uid}/{instance}/devices.csv"), 0o644);
    chmod(&format!("grants/{uid}"), 0o755);
    chmod("grants", 0o711);
    assert_eq!(
        verify_problems(&out),
        [
            format!("grants/{uid}/{instance}/devices.csv: mode 0644, not 0600 (it holds device secrets)"),
            "grants/: mode 0711, not 0700 (it holds device secrets)".to_string(),
            format!("grants/{uid}/: mode 0755, not 0700 (it holds device secrets)"),
        ]
    );
}
