//! Every Parquet twin in fixtures/parquet plans exactly like the CSV it was made from.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use devdist_engine::{NoProgress, Options, Report, run};

const FIXTURES: &str = "../fixtures/parquet";

/// Plans `inventory` (a file in fixtures/parquet) into a fresh folder.
fn plan(dir: &Path, inventory: &str) -> (Report, PathBuf) {
    let work = dir.join(inventory.replace('.', "_"));
    fs::create_dir_all(&work).unwrap();
    fs::copy(Path::new(FIXTURES).join(inventory), work.join(inventory)).unwrap();
    let plan = work.join("plan.toml");
    fs::write(
        &plan,
        format!(
            "account = \"1234567890123456\"\n[inputs]\ninventory = [\"{inventory}\"]\n\
             [limits]\ndevices_per_job = 40\n\
             [[routes]]\nstrategy = \"nearest_access\"\ntargets = [\"iotx-oxssharez500\", \"iotx-oxssharez700\"]\n"
        ),
    )
    .unwrap();
    let out = work.join("out");
    let outcome = run(&plan, &out, &Options::default(), &NoProgress).unwrap();
    (outcome.report, out)
}

/// Manifests, jobs and billing files, by relative path (report.html names the input, so it differs).
fn plan_files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(out).unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if !matches!(relative.as_str(), "report.json" | "run.json" | "rejects.csv" | "report.html") {
                files.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// rejects.csv without the columns that name the file and line, and with the file's name in
/// details replaced: (record, product, device, code, detail).
fn rejects(out: &Path, inventory: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(out.join("rejects.csv")).unwrap();
    reader
        .records()
        .map(|row| {
            row.unwrap()
                .iter()
                .skip(1)
                .enumerate()
                .filter(|(i, _)| *i != 1)
                .map(|(_, v)| v.replace(inventory, "INPUT"))
                .collect()
        })
        .collect()
}

#[test]
fn parquet_twins_plan_like_their_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (csv_report, csv_out) = plan(dir.path(), "devices.csv");
    assert!(csv_report.counts.accepted > 100 && csv_report.counts.rejected > 0, "the fixture exercises both");
    let twins: Vec<String> = fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".parquet"))
        .collect();
    assert!(twins.len() >= 3, "pyarrow, DuckDB and Polars twins");
    for twin in twins {
        let (report, out) = plan(dir.path(), &twin);
        assert_eq!(report.inputs[0].format, "parquet");
        assert_eq!(report.counts, csv_report.counts, "{twin}: counts");
        assert_eq!(report.warnings, csv_report.warnings, "{twin}: warnings");
        assert_eq!(report.destinations, csv_report.destinations, "{twin}: destinations");
        assert_eq!(report.jobs, csv_report.jobs, "{twin}: jobs");
        assert!(plan_files(&out) == plan_files(&csv_out), "{twin}: manifests, jobs or billing differ");
        assert_eq!(rejects(&out, &twin), rejects(&csv_out, "devices.csv"), "{twin}: rejects");
    }
}
