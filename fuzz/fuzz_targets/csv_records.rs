//! CSV inventories, record path: bytes → `devices.csv` → `CsvInventory::open` + `fill` until
//! done, then the same file through the whole engine (`devdist_engine::run`, one thread, a
//! fixed plan and catalog) and `devdist_engine::verify` on its output.
//!
//! Input: byte 0 is a mode byte, the rest is CSV.
//! - bit 0 clear: a fixed valid header line is prepended (the fuzzer works on records);
//!   set: the bytes are the whole file, header included.
//! - bit 1 set: a full run (manifests, jobs, billing) instead of a dry run.
//! - bits 2-4: batch capacity for the direct read, 1..=8.
//!
//! Checked: nothing panics; the direct read and the engine agree (both fail, or both read the
//! same number of records); read = accepted + rejected in total, per file and per reason code;
//! a successful run's folder verifies; a failed run leaves nothing behind; a distinctive
//! device secret appears in no output but a device manifest.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use devdist_engine::{NoProgress, Options, run, verify};
use devdist_formats::{CsvInventory, Field, RecordBatch};
use libfuzzer_sys::fuzz_target;

const HEADER: &[u8] = b"product_key,device_name,device_secret,source_instance,source_region,current_instance,\
current_uid,target_instance,target_uid,authorized,transferred,gateway,status,sign_client_id,sign_method,\
sign_timestamp,sign_password\n";

const INSTANCES: &str = include_str!("../../fixtures/demo/instances.csv");

const PLAN: &str = r#"account = "1234567890123456"

[inputs]
inventory = ["devices.csv"]
instances = "instances.csv"

[limits]
devices_per_job = 2
jobs_per_wave = 2

[[routes]]
name = "eu-move"
match = { product_key = ["a19yXTCutOV", "a1HpEp5pnG6"] }
strategy = "specified_region"
targets = ["iot-eu0001"]

[[routes]]
name = "global-nearest"
match = { product_key = ["a1MSHFdYvR6", "a1Dqkcu689z", "a1a8XPS96gT"] }
strategy = "nearest_access"
targets = ["iotx-oxssharez400", "iotx-oxssharez500", "iot-jp0001"]

[[routes]]
name = "partner-handover"
match = { product_key = ["a1S7Ah4zLPI"] }
strategy = "specified_region"
targets = ["iot-partner01"]
target_uid = "2345678901234567"

[[routes]]
name = "bj-to-sh"
match = { product_key = ["a1KzTTkoNqF", "a1c14dvEVRo"], source_region = ["cn-beijing"] }
strategy = "specified_region"
targets = ["iot-sh0002"]
"#;

/// What reading the file directly gave: records and the distinctive device secrets, or an
/// error.
fn read_direct(path: &Path, capacity: usize) -> Option<(u64, Vec<Vec<u8>>)> {
    let mut inventory = CsvInventory::open(path).ok()?;
    let secret_column = inventory.layout().column(Field::DeviceSecret);
    let mut secrets = Vec::new();
    // Header names are written to report.json: a secret that is part of one is no leak.
    let mut others: Vec<Vec<u8>> = inventory.layout().columns().iter().map(|name| name.as_bytes().to_vec()).collect();
    let width = inventory.layout().width();
    assert!(width >= 4, "a layout has at least the four required columns");
    let mut batch = RecordBatch::default();
    let mut read = 0u64;
    loop {
        match inventory.fill(&mut batch, capacity) {
            Ok(true) => {
                assert!(batch.len >= 1 && batch.len <= capacity, "batch of {} records, capacity {capacity}", batch.len);
                assert_eq!(batch.first_record, read + 1, "batches must be numbered consecutively");
                for record in batch.records() {
                    if let Some(secret) = secret_column.and_then(|c| record.get(c)) {
                        secrets.push(secret.to_vec());
                    }
                    for (column, field) in record.iter().enumerate() {
                        if Some(column) != secret_column {
                            others.push(field.to_vec());
                        }
                    }
                }
                read += batch.len as u64;
            }
            Ok(false) => {
                assert_eq!(batch.len, 0);
                return Some((read, distinctive(secrets, &others)));
            }
            Err(_) => return None,
        }
    }
}

/// Secrets that cannot show up in an output except by leaking: long, with a letter and a
/// digit and no whitespace (so no message text), and no part of any other cell, a header
/// name, the plan or the catalog.
fn distinctive(mut secrets: Vec<Vec<u8>>, others: &[Vec<u8>]) -> Vec<Vec<u8>> {
    secrets.retain(|secret| {
        secret.len() >= 12
            && secret.iter().any(u8::is_ascii_digit)
            && secret.iter().any(u8::is_ascii_alphabetic)
            && !secret.iter().any(|b| b.is_ascii_whitespace())
            && !others.iter().any(|other| contains(other, secret))
            && !contains(PLAN.as_bytes(), secret)
            && !contains(INSTANCES.as_bytes(), secret)
    });
    secrets.sort();
    secrets.dedup();
    secrets
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Fails if a secret appears in any output file other than a device manifest.
fn assert_no_secret_outside_manifests(dir: &Path, secrets: &[Vec<u8>]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_secret_outside_manifests(&path, secrets);
            continue;
        }
        let is_manifest = path.file_stem().is_some_and(|s| s == "devices")
            && path.components().any(|c| c.as_os_str() == "grants");
        if is_manifest {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            assert!(
                !contains(&bytes, secret),
                "device secret {:?} leaked into {}",
                String::from_utf8_lossy(secret),
                path.display()
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| devdist_fuzz::scratch("csv_records"));
    devdist_fuzz::clear(dir);
    std::fs::write(dir.join("plan.toml"), PLAN).unwrap();
    std::fs::write(dir.join("instances.csv"), INSTANCES).unwrap();
    let csv = dir.join("devices.csv");
    if mode & 1 == 0 {
        std::fs::write(&csv, [HEADER, body].concat()).unwrap();
    } else {
        std::fs::write(&csv, body).unwrap();
    }
    let capacity = 1 + ((mode >> 2) & 7) as usize;
    let direct = read_direct(&csv, capacity);

    let out = dir.join("out");
    let options = Options { threads: 1, dry_run: mode & 2 == 0, ..Options::default() };
    let before = devdist_fuzz::entries(dir);
    match run(&dir.join("plan.toml"), &out, &options, &NoProgress) {
        Ok(outcome) => {
            let counts = &outcome.report.counts;
            assert_eq!(counts.read, counts.accepted + counts.rejected, "read != accepted + rejected: {counts:?}");
            assert_eq!(counts.rejected_by_code.values().sum::<u64>(), counts.rejected, "{counts:?}");
            let inputs = &outcome.report.inputs;
            assert_eq!(inputs.len(), 1);
            assert_eq!(inputs[0].records, inputs[0].accepted + inputs[0].rejected, "{:?}", inputs[0]);
            assert_eq!(inputs[0].records, counts.read);
            let (direct_read, secrets) = direct.clone().unwrap_or_else(|| {
                panic!("the engine read {} records where CsvInventory failed", counts.read)
            });
            assert_eq!(
                direct_read,
                counts.read,
                "the engine read {} records where CsvInventory read {direct_read}",
                counts.read
            );
            let problems = verify(&out).expect("verify cannot read the folder the run just wrote");
            assert!(problems.is_empty(), "the run's folder does not verify: {problems:?}");
            assert_no_secret_outside_manifests(&out, &secrets);
        }
        Err(err) => {
            let message = err.to_string();
            assert!(
                direct.is_none(),
                "CsvInventory read {:?} records but the run failed: {message}",
                direct.map(|d| d.0)
            );
            assert_eq!(devdist_fuzz::entries(dir), before, "a failed run left files behind: {message}");
        }
    }
});
