//! Every Parquet twin in fixtures/parquet plans exactly like the CSV it was made from.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use devdist_engine::{NoProgress, Options, Report, run};

/// Plans `inventory` (a file in fixtures/parquet) into a fresh folder.
fn plan(dir: &Path, inventory: &str) -> (Report, PathBuf) {
    let work = dir.join(inventory.replace('.', "_"));
    fs::create_dir_all(&work).unwrap();
    fs::copy(devdist_testkit::fixture("parquet").join(inventory), work.join(inventory)).unwrap();
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
    let mut files = devdist_testkit::files(out);
    files.retain(|relative, _| {
        !matches!(relative.as_str(), "report.json" | "run.json" | "rejects.csv" | "warnings.csv" | "report.html")
    });
    files
}

/// warnings.csv without the columns that name the file and line: (record, product, device,
/// code, detail).
fn warned(out: &Path) -> Vec<[String; 5]> {
    let rows = devdist_testkit::table(&out.join("warnings.csv"));
    rows.iter().map(|row| ["record", "product_key", "device_name", "code", "detail"].map(|c| row[c].clone())).collect()
}

/// rejects.csv without the columns that name the file and line, and with the file's name in
/// details replaced: (record, product, device, code, detail).
fn rejects(out: &Path, inventory: &str) -> Vec<[String; 5]> {
    devdist_testkit::rejects(out).iter().map(|row| row.unplaced(inventory)).collect()
}

#[test]
fn parquet_twins_plan_like_their_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (csv_report, csv_out) = plan(dir.path(), "devices.csv");
    assert!(csv_report.counts.accepted > 100 && csv_report.counts.rejected > 0, "the fixture exercises both");
    let twins: Vec<String> = fs::read_dir(devdist_testkit::fixture("parquet"))
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
        assert_eq!(warned(&out), warned(&csv_out), "{twin}: warned devices");
    }
}
