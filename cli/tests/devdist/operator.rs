//! An operator's own export, as Spark writes it: a folder of Parquet part files (one Snappy, one
//! uncompressed) beside `_SUCCESS` and `.crc` files, with the platform's PascalCase column names.
//! devdist reads the parts, skips the markers, warns about the columns it will not guess, and
//! honours the per-row targets once the columns carry its own names.

use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::support::{code, devdist, stderr};

const ACCOUNT: &str = "1234567890123456";
const SH: &str = "iotx-oxssharez200"; // the devices' home
const JP: &str = "iotx-oxssharez300"; // where some are now
const US: &str = "iotx-oxssharez600"; // the route's target
const EU: &str = "iotx-oxssharez700"; // the per-row target
const PK: &str = "a1BwAGVeu01";

/// One part file: every column a string, as Spark writes an export of text.
fn write_part(path: &Path, names: &[&str], rows: &[Vec<String>], compression: Compression) {
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect::<Vec<_>>()));
    let columns: Vec<ArrayRef> = (0..names.len())
        .map(|c| {
            let mut builder = StringBuilder::new();
            for row in rows {
                builder.append_value(&row[c]);
            }
            Arc::new(builder.finish()) as ArrayRef
        })
        .collect();
    let props = WriterProperties::builder().set_compression(compression).build();
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema.clone(), Some(props)).unwrap();
    writer.write(&RecordBatch::try_new(schema, columns).unwrap()).unwrap();
    writer.close().unwrap();
}

/// The export folder `dir/export` with the columns named `names` (certificate, source, then
/// target and current instance), and a plan that routes everything to US.
fn export(dir: &Path, names: [&str; 6]) {
    let export = dir.join("export");
    fs::create_dir_all(&export).unwrap();
    // Six devices: the even ones are now in JP; every one asks for EU on its row.
    let row = |n: usize| {
        let current = if n.is_multiple_of(2) { JP } else { "" };
        vec![PK.into(), format!("dev-{n:04}"), format!("Secret{n:026}"), SH.into(), EU.into(), current.into()]
    };
    let first: Vec<Vec<String>> = (0..3).map(row).collect();
    let second: Vec<Vec<String>> = (3..6).map(row).collect();
    let uuid = "c0ffee00-1234-4bcd-8ef0-123456789abc-c000";
    write_part(&export.join(format!("part-00000-{uuid}.snappy.parquet")), &names, &first, Compression::SNAPPY);
    write_part(&export.join(format!("part-00001-{uuid}.parquet")), &names, &second, Compression::UNCOMPRESSED);
    fs::write(export.join("_SUCCESS"), b"").unwrap();
    fs::write(export.join(format!(".part-00000-{uuid}.snappy.parquet.crc")), b"crc\x00\x01").unwrap();
    fs::write(export.join(format!("part-00001-{uuid}.parquet.crc")), b"crc\x00\x02").unwrap();
    fs::write(
        dir.join("plan.toml"),
        format!(
            "account = \"{ACCOUNT}\"\n[inputs]\ninventory = [\"export\"]\n\
             [[routes]]\nstrategy = \"specified_region\"\ntargets = [\"{US}\"]\n"
        ),
    )
    .unwrap();
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap()
}

/// (source_instance, target_instances, devices) of every job.
fn jobs(out: &Path) -> Vec<(String, String, String)> {
    devdist_testkit::table(&out.join("jobs/jobs.csv"))
        .into_iter()
        .map(|job| (job["source_instance"].clone(), job["target_instances"].clone(), job["devices"].clone()))
        .collect()
}

/// (SourceInstanceId, target instances, device names) of every request.
fn requests(out: &Path) -> Vec<(String, Vec<String>, Vec<String>)> {
    let text = fs::read_to_string(out.join("jobs/requests.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            let request = &line["request"];
            let strings = |value: &serde_json::Value| -> Vec<String> {
                value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
            };
            let targets =
                request["TargetInstanceConfig"].as_array().unwrap().iter().map(|t| t["TargetInstanceId"].clone());
            (
                request["SourceInstanceId"].as_str().unwrap().to_string(),
                strings(&serde_json::Value::Array(targets.collect())),
                strings(&request["DeviceName"]),
            )
        })
        .collect()
}

#[test]
fn a_spark_export_with_platform_column_names_warns_and_with_devdists_names_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let platform = dir.path().join("platform");
    export(
        &platform,
        ["ProductKey", "DeviceName", "DeviceSecret", "IotInstanceId", "TargetInstanceId", "CurrentInstanceId"],
    );
    let out = platform.join("out");
    let output = devdist(&["plan", platform.join("plan.toml").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stderr(&output);
    for (column, field) in [("TargetInstanceId", "target_instance"), ("CurrentInstanceId", "current_instance")] {
        let warning = format!("warning: column {column:?} may be meant as {field}: it was read as runtime data");
        assert!(text.contains(&warning), "{warning}\nin\n{text}");
    }
    let read = report(&out);
    // Only the two part files are inputs: the markers and checksums are skipped.
    let inputs: Vec<&str> = read["inputs"].as_array().unwrap().iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    assert!(inputs[0].starts_with("export/part-00000-") && inputs[0].ends_with(".snappy.parquet"), "{inputs:?}");
    assert!(inputs[1].starts_with("export/part-00001-") && inputs[1].ends_with(".parquet"), "{inputs:?}");
    assert_eq!(read["counts"]["accepted"], 6, "{read}");
    assert_eq!(
        read["columns_that_may_be_fields"],
        serde_json::json!({"CurrentInstanceId": "current_instance", "TargetInstanceId": "target_instance"})
    );
    // The per-row columns decided nothing: every device follows the route, from its home.
    assert_eq!(jobs(&out), [(SH.to_string(), US.to_string(), "6".to_string())]);
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Column <code>TargetInstanceId</code> may be meant as <code>target_instance</code>"));

    // The same export with the columns renamed to devdist's names: the rows decide.
    let renamed = dir.path().join("renamed");
    export(
        &renamed,
        ["ProductKey", "DeviceName", "DeviceSecret", "IotInstanceId", "target_instance", "current_instance"],
    );
    let out = renamed.join("out");
    let output = devdist(&["plan", renamed.join("plan.toml").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(!stderr(&output).contains("may be meant"), "{}", stderr(&output));
    let read = report(&out);
    assert_eq!(read["columns_that_may_be_fields"], serde_json::json!({}));
    // The even devices leave from JP, where they are now; the odd ones from home; all for EU.
    let mut got = jobs(&out);
    got.sort();
    assert_eq!(
        got,
        [(SH.to_string(), EU.to_string(), "3".to_string()), (JP.to_string(), EU.to_string(), "3".to_string())]
    );
    let mut sent = requests(&out);
    sent.sort();
    let names = |ns: [usize; 3]| ns.map(|n| format!("dev-{n:04}")).to_vec();
    assert_eq!(
        sent,
        [
            (SH.to_string(), vec![EU.to_string()], names([1, 3, 5])),
            (JP.to_string(), vec![EU.to_string()], names([0, 2, 4])),
        ]
    );
    assert_eq!(code(&devdist(&["verify", out.to_str().unwrap()])), 0);
}
