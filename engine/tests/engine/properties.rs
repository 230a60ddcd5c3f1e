//! Properties over generated inventories: the same bytes at any thread count, and every
//! record accounted for exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use devdist_engine::{DEFAULT_MEMORY_BUDGET, NoProgress, Options, run};
use devdist_synth::{GenerateOptions, generate};
use proptest::prelude::*;

/// Every file below `dir` but run.json, relative path → bytes.
fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = devdist_testkit::files(dir);
    out.retain(|path, _| path.rsplit('/').next() != Some("run.json"));
    out
}

fn options(threads: usize) -> Options {
    Options { threads, ..Options::default() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn thread_count_and_memory_budget_do_not_change_a_byte(
        devices in 200u64..3000,
        seed in any::<u64>(),
        bad_rate in 0.0f64..0.3,
        more_threads in 3usize..=16,
        some_budget in 1u64..(1 << 20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options_in = GenerateOptions { devices, seed, bad_rate, signed_rate: 0.5, ..GenerateOptions::default() };
        let generated = generate(&options_in, &dir.path().join("inv")).unwrap();
        let mut runs = Vec::new();
        // (threads, memory budget in bytes): the default, a budget so tiny that every record
        // goes through a spool file, a small one that spills part, and a random mix.
        let settings = [(1, DEFAULT_MEMORY_BUDGET), (2, 1), (8, 64 << 10), (more_threads, some_budget)];
        for (run_number, (threads, memory_budget)) in settings.into_iter().enumerate() {
            let out = dir.path().join(format!("out{run_number}"));
            let outcome = run(&generated.plan, &out, &Options { memory_budget, ..options(threads) }, &NoProgress).unwrap();
            runs.push((threads, memory_budget, outcome.run.spilled_bytes, outputs(&out)));
        }
        prop_assert_eq!(runs[0].2, 0, "the default budget holds a small inventory in memory");
        prop_assert!(runs[1].2 > 0, "a one-byte budget spills");
        for (threads, budget, _, files) in &runs[1..] {
            prop_assert!(*files == runs[0].3, "1 thread with the default budget and {} threads with {} bytes differ", threads, budget);
        }
    }

    #[test]
    fn secrets_appear_only_in_owner_only_device_manifests(devices in 100u64..2000, seed in any::<u64>(), bad_rate in 0.0f64..0.5) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let generated = generate(&GenerateOptions { devices, seed, bad_rate, signed_rate: 0.5, ..GenerateOptions::default() }, &dir.path().join("inv")).unwrap();
        let secrets = devdist_testkit::device_secrets(&fs::read(&generated.inventory).unwrap(), 12);
        prop_assert!(secrets.len() as u64 > devices / 2);

        let out = dir.path().join("out");
        run(&generated.plan, &out, &options(2), &NoProgress).unwrap();
        let mut manifests = 0;
        for (path, bytes) in outputs(&out) {
            if path.ends_with("devices.csv") {
                manifests += 1;
                let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
                prop_assert_eq!(mode(&out.join(&path)), 0o600, "{}", path);
                prop_assert_eq!(mode(out.join(&path).parent().unwrap()), 0o700, "{}", path);
            } else {
                prop_assert!(devdist_testkit::find_any(&bytes, &secrets).is_none(), "a secret in {}", path);
            }
        }
        prop_assert!(manifests > 0);

        let redacted = dir.path().join("redacted");
        run(&generated.plan, &redacted, &Options { redact_secrets: true, ..options(2) }, &NoProgress).unwrap();
        for (path, bytes) in outputs(&redacted) {
            prop_assert!(devdist_testkit::find_any(&bytes, &secrets).is_none(), "a secret in redacted {}", path);
        }
    }

    #[test]
    fn every_record_is_accepted_or_rejected_exactly_once(devices in 100u64..3000, seed in any::<u64>(), bad_rate in 0.0f64..0.6) {
        let dir = tempfile::tempdir().unwrap();
        let generated = generate(&GenerateOptions { devices, seed, bad_rate, signed_rate: 0.3, ..GenerateOptions::default() }, &dir.path().join("inv")).unwrap();
        let out = dir.path().join("out");
        let outcome = run(&generated.plan, &out, &options(2), &NoProgress).unwrap();
        let counts = &outcome.report.counts;
        prop_assert_eq!(counts.read, devices);
        prop_assert_eq!(counts.read, counts.accepted + counts.rejected);
        prop_assert_eq!(counts.rejected, counts.rejected_by_code.values().sum::<u64>());

        // Rejected records: each record number at most once.
        let mut numbers = BTreeSet::new();
        for row in devdist_testkit::rejects(&out) {
            prop_assert!(numbers.insert(row.record), "record {} rejected twice", row.record);
        }
        prop_assert_eq!(numbers.len() as u64, counts.rejected);
        prop_assert!(numbers.iter().all(|&n| (1..=devices).contains(&n)));

        // Accepted devices: each exactly once in billing (once per candidate destination).
        let mut billing = csv::Reader::from_path(out.join("billing/reassignments.csv")).unwrap();
        let devices_billed: BTreeSet<(String, String)> =
            billing.records().map(|row| { let row = row.unwrap(); (row[0].to_string(), row[1].to_string()) }).collect();
        prop_assert_eq!(devices_billed.len() as u64, counts.accepted);
    }
}
