//! One criterion bench per pipeline stage, over a generated inventory of [`RECORDS`] records
//! (`devdist generate` with seed 1, bad rate 0.01, every record signed).
//!
//! | group | what is timed |
//! |---|---|
//! | `csv_parse` | `CsvInventory::fill` over the whole file, 4096-record batches |
//! | `rules` | `stages::check_all` with 1 worker: reading and stage 1, per-record rules |
//! | `signature` | `verify_signature` of one fixed hmacsha256 login |
//! | `global` | `stages::settle` on the stage-1 candidates: duplicates, blocked products, capacity |
//! | `manifest` | `TableWriter` writing one device-manifest row per record, CSV and Parquet |
//! | `parquet_read` | `Inventory::open` on a Parquet twin of the inventory, then `fill` to the end |
//!
//! Generating the inventory, opening files, building candidates and dropping results are all
//! outside the timed part. Every bench declares `Throughput::Elements` and asserts what it
//! produced, so it cannot silently time nothing. After the run, the mean cost of the rules
//! bench minus the parse bench is printed: what stage 1 adds on top of parsing.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group};
use devdist_engine::stages::{
    Budget, CheckedBatch, Gather, Scratch, Secrets, SharedDictionaries, check_all, open_inputs, settle,
};
use devdist_engine::{Login, NoProgress, Plan, sign, verify_signature};
use devdist_formats::{ColumnType, CsvInventory, Format, Inventory, RecordBatch, TableWriter, Value};
use devdist_synth::{GenerateOptions, generate};

/// Records in the generated inventory.
const RECORDS: u64 = 100_000;
/// Records per batch, as the pipeline reads them.
const BATCH: usize = 4096;
/// Bytes of records in flight in stage 1: what a run at the default memory budget allows.
const IN_FLIGHT: usize = (devdist_engine::DEFAULT_MEMORY_BUDGET / 8) as usize;
/// Criterion samples per bench: few, so the whole suite runs in a few minutes on 2 cores.
const SAMPLES: usize = 10;

/// The generated inputs, shared by every bench; removed at the end of `main`.
struct Fixture {
    dir: PathBuf,
    plan: PathBuf,
    csv: PathBuf,
    parquet: PathBuf,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("devdist-bench-").tempdir().expect("create a temporary folder");
        let dir = dir.keep();
        let options = GenerateOptions {
            devices: RECORDS,
            seed: 1,
            bad_rate: 0.01,
            signed_rate: 1.0,
            ..GenerateOptions::default()
        };
        let generated = generate(&options, &dir).expect("generate the inventory");
        assert_eq!(generated.records, RECORDS);
        let parquet = dir.join("devices.parquet");
        assert_eq!(parquet_twin(&generated.inventory, &parquet), RECORDS);
        Fixture { plan: generated.plan, csv: generated.inventory, parquet, dir }
    })
}

/// Writes every record of the CSV inventory `csv` to `parquet`, all columns as text, with the
/// same column names. Returns the rows written.
fn parquet_twin(csv: &Path, parquet: &Path) -> u64 {
    let mut inventory = CsvInventory::open(csv).expect("open the CSV inventory");
    // TableWriter wants 'static column names; a handful leaked once per bench run.
    let columns: Vec<&'static str> =
        inventory.layout().columns().iter().map(|name| &*Box::leak(name.clone().into_boxed_str())).collect();
    let types = vec![ColumnType::Str; columns.len()];
    let file = File::create(parquet).expect("create the Parquet twin");
    let mut writer = TableWriter::with_types(file, Format::Parquet, &columns, &types).expect("start the Parquet twin");
    let mut batch = RecordBatch::default();
    while inventory.fill(&mut batch, BATCH).expect("read the CSV inventory") {
        for record in batch.records() {
            // Deliberately broken records may hold bytes that are not UTF-8 (made lossy, as a
            // Parquet string must be UTF-8) or too few or too many fields (padded or cut to
            // the header's width, as a table can only hold that).
            let cells: Vec<_> = record.iter().map(String::from_utf8_lossy).collect();
            let mut row: Vec<Value> = cells.iter().map(|cell| Value::Str(cell)).collect();
            row.resize(columns.len(), Value::Str(""));
            writer.write_row(&row).expect("write the Parquet twin");
        }
    }
    writer.finish().expect("finish the Parquet twin").rows
}

/// Few samples, short phases; flat sampling because one iteration reads a whole file.
fn quick(group: &mut BenchmarkGroup<'_, WallTime>, elements: u64) {
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(elements));
}

/// (iterations, time) of every call criterion made to a timed routine, by bench name.
static CALLS: Mutex<BTreeMap<&'static str, Vec<(u64, Duration)>>> = Mutex::new(BTreeMap::new());

fn log_call(name: &'static str, iters: u64, elapsed: Duration) {
    CALLS.lock().expect("log lock").entry(name).or_default().push((iters, elapsed));
}

/// Mean seconds per iteration over the last [`SAMPLES`] calls (criterion's measurement
/// samples; the calls before them are its warm-up). None unless the bench was measured.
fn measured_mean(name: &str) -> Option<f64> {
    let calls = CALLS.lock().expect("log lock");
    let calls = calls.get(name)?;
    let samples = calls.get(calls.len().checked_sub(SAMPLES)?..)?;
    let iters: u64 = samples.iter().map(|&(iters, _)| iters).sum();
    let time: Duration = samples.iter().map(|&(_, time)| time).sum();
    Some(time.as_secs_f64() / iters as f64)
}

/// Reads the whole CSV inventory in batches, as the pipeline's reader thread does.
fn csv_parse(c: &mut Criterion) {
    let fixture = fixture();
    let mut group = c.benchmark_group("csv_parse");
    quick(&mut group, RECORDS);
    let mut batch = RecordBatch::default();
    group.bench_function("fill", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let mut inventory = CsvInventory::open(&fixture.csv).expect("open the inventory");
                let start = Instant::now();
                let mut records = 0;
                while inventory.fill(&mut batch, BATCH).expect("parse the inventory") {
                    records += batch.len as u64;
                }
                elapsed += start.elapsed();
                assert_eq!(records, RECORDS);
            }
            log_call("csv_parse", iters, elapsed);
            elapsed
        })
    });
    group.finish();
}

/// Stage 1 with one worker: the reader thread parses, the worker applies the per-record rules
/// (names, signature, routes, instances), the calling thread collects.
fn rules(c: &mut Criterion) {
    let fixture = fixture();
    let plan = Plan::load(&fixture.plan).expect("load the plan");
    let mut group = c.benchmark_group("rules");
    quick(&mut group, RECORDS);
    group.bench_function("check_all_1_worker", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let inventories = open_inputs(&plan).expect("open the inventory");
                let dictionaries = SharedDictionaries::default();
                let start = Instant::now();
                let (mut read, mut candidates, mut rejects) = (0, 0, 0);
                check_all(&plan, inventories, &dictionaries, &Secrets::Keep, 1, IN_FLIGHT, &NoProgress, &mut |batch| {
                    read += batch.records;
                    candidates += batch.candidates.len();
                    rejects += batch.rejects.len();
                    Ok(())
                })
                .expect("check");
                elapsed += start.elapsed();
                assert_eq!(read, RECORDS);
                assert_eq!((candidates + rejects) as u64, RECORDS);
                assert!(candidates as u64 > RECORDS * 9 / 10 && rejects > 0, "{candidates} passed, {rejects} failed");
            }
            log_call("rules", iters, elapsed);
            elapsed
        })
    });
    group.finish();
}

/// One login of the generated inventory's kind, hmacsha256, verified.
fn signature(c: &mut Criterion) {
    let (product_key, device_name, secret) = ("a1xW93PLUUj", "tracker-00000000", "vrxPaUp02KC9w2zqnrd9KPPQz3TLoYlb");
    let client_id = format!("{product_key}.{device_name}");
    let timestamp = "1704827356652";
    let password =
        sign("hmacsha256", &client_id, device_name, product_key, timestamp, secret).expect("hmacsha256 is known");
    let login = Login { method: "hmacsha256", client_id: &client_id, timestamp, password: &password };
    let wrong = Login { password: "00", ..login };
    assert!(verify_signature(&wrong, product_key, device_name, secret).is_err());

    let mut group = c.benchmark_group("signature");
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    group.bench_function("verify_hmacsha256", |b| {
        b.iter(|| {
            let verdict = verify_signature(black_box(&login), product_key, device_name, black_box(secret));
            assert!(verdict.is_ok());
        })
    });
    group.finish();
}

/// Every batch of stage 1 over the plan's inventory (2 workers), ids in `dictionaries`.
fn checked_batches(plan: &Plan, dictionaries: &SharedDictionaries) -> Vec<CheckedBatch> {
    let mut batches = Vec::new();
    check_all(
        plan,
        open_inputs(plan).expect("open"),
        dictionaries,
        &Secrets::Keep,
        2,
        IN_FLIGHT,
        &NoProgress,
        &mut |batch| {
            batches.push(batch);
            Ok(())
        },
    )
    .expect("check");
    batches
}

/// Stage 2 on the batches of stage 1, checked afresh (untimed) before each timed run: spooling
/// the candidates into buckets (in memory: the budget is ample), sorting each bucket
/// (duplicates, blocked products), capacity in input order, and counting per job group.
fn global(c: &mut Criterion) {
    let fixture = fixture();
    let plan = Plan::load(&fixture.plan).expect("load the plan");
    let count: usize =
        checked_batches(&plan, &SharedDictionaries::default()).iter().map(|batch| batch.candidates.len()).sum();
    assert!(count as u64 > RECORDS * 9 / 10, "{count} candidates");

    let mut group = c.benchmark_group("global");
    quick(&mut group, count as u64);
    group.bench_function("settle", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                // Ids in the batches refer to the dictionaries they were checked with.
                let dictionaries = SharedDictionaries::default();
                let batches = checked_batches(&plan, &dictionaries);
                let folder = tempfile::tempdir().expect("a scratch folder");
                let budget = Budget::new(1 << 30, 1 << 26, 2, 1024);
                let scratch = Scratch::create(folder.path().join("scratch"), &budget).expect("scratch");
                let start = Instant::now();
                let mut gather = Gather::new(&plan, &scratch, budget);
                for batch in batches {
                    gather.add(batch).expect("spool");
                }
                let settled = settle(&plan, gather, dictionaries, &scratch).expect("settle");
                elapsed += start.elapsed();
                assert!(settled.accepted() as usize <= count && settled.accepted() > count as u64 * 9 / 10);
            }
            elapsed
        })
    });
    group.finish();
}

/// Columns of a device grant manifest (`grants/<uid>/<instance>/devices.csv`).
const MANIFEST_COLUMNS: [&str; 13] = [
    "job_id",
    "wave",
    "product_key",
    "device_name",
    "device_secret",
    "source_uid",
    "source_region",
    "source_instance",
    "target_uid",
    "target_region",
    "target_instance",
    "strategy",
    "rights",
];

/// A device manifest of one row per inventory record, written to a file in a temporary folder.
fn manifest(c: &mut Criterion) {
    let fixture = fixture();
    // (product_key, device_name, device_secret, source_instance, source_region) of every record.
    let mut devices = Vec::with_capacity(RECORDS as usize);
    let mut inventory = CsvInventory::open(&fixture.csv).expect("open the inventory");
    let mut batch = RecordBatch::default();
    while inventory.fill(&mut batch, BATCH).expect("read the inventory") {
        for record in batch.records() {
            let cell = |i| String::from_utf8_lossy(record.get(i).unwrap_or_default()).into_owned();
            devices.push([cell(0), cell(1), cell(2), cell(3), cell(4)]);
        }
    }
    assert_eq!(devices.len() as u64, RECORDS);
    let job_ids: Vec<String> = (0..RECORDS / 10_000 + 1).map(|job| format!("{job:032x}")).collect();
    let mut types = [ColumnType::Str; MANIFEST_COLUMNS.len()];
    types[1] = ColumnType::Int;

    let mut group = c.benchmark_group("manifest");
    quick(&mut group, RECORDS);
    for format in [Format::Csv, Format::Parquet] {
        // One file overwritten by every iteration, in a folder of its own.
        let path = fixture.dir.join(format!("manifest.{}", format.extension()));
        group.bench_function(format.extension(), |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let file = File::create(&path).expect("create the manifest");
                    let start = Instant::now();
                    let mut writer =
                        TableWriter::with_types(file, format, &MANIFEST_COLUMNS, &types).expect("start the manifest");
                    for (i, [product_key, device_name, secret, source, region]) in devices.iter().enumerate() {
                        let job = i / 10_000;
                        let row = [
                            Value::Str(&job_ids[job]),
                            Value::Int(job as u64 / 10 + 1),
                            Value::Str(product_key),
                            Value::Str(device_name),
                            Value::Str(secret),
                            Value::Str("1234567890123456"),
                            Value::Str(region),
                            Value::Str(source),
                            Value::Str("1234567890123456"),
                            Value::Str("cn-shanghai"),
                            Value::Str("iotx-oxssharez600"),
                            Value::Str("specified_region"),
                            Value::Str("device"),
                        ];
                        writer.write_row(&row).expect("write a row");
                    }
                    let written = writer.finish().expect("finish the manifest");
                    elapsed += start.elapsed();
                    assert_eq!(written.rows, RECORDS);
                    assert_eq!(written.sha256.len(), 64);
                }
                elapsed
            })
        });
    }
    group.finish();
}

/// The Parquet twin of the inventory read to the end through `Inventory`, as the pipeline's
/// reader would.
fn parquet_read(c: &mut Criterion) {
    let fixture = fixture();
    let mut group = c.benchmark_group("parquet_read");
    quick(&mut group, RECORDS);
    let mut batch = RecordBatch::default();
    group.bench_function("fill", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let mut inventory = Inventory::open(&fixture.parquet).expect("open the Parquet inventory");
                assert_eq!(inventory.format_name(), "parquet");
                let start = Instant::now();
                let mut records = 0;
                while inventory.fill(&mut batch, BATCH).expect("read the Parquet inventory") {
                    records += batch.len as u64;
                }
                elapsed += start.elapsed();
                assert_eq!(records, RECORDS);
            }
            elapsed
        })
    });
    group.finish();
}

/// What stage 1's rules add on top of parsing, from the two benches' measured means. The
/// rules bench parses on its own reader thread, so on 2 cores part of the parse overlaps the
/// checks: the difference is a floor on the rules' cost, not their CPU time.
fn report_rules_over_parse() {
    let (Some(parse), Some(rules)) = (measured_mean("csv_parse"), measured_mean("rules")) else {
        return;
    };
    let per_record = |seconds: f64| seconds / RECORDS as f64 * 1e9;
    println!(
        "\nrules minus csv_parse: {:.1} ms per {RECORDS} records ({:.0} ns/record): \
         check_all (1 worker) {:.1} ms = {:.2} M rec/s, parse alone {:.1} ms = {:.2} M rec/s",
        (rules - parse) * 1e3,
        per_record(rules - parse),
        rules * 1e3,
        RECORDS as f64 / rules / 1e6,
        parse * 1e3,
        RECORDS as f64 / parse / 1e6,
    );
}

criterion_group!(stages, csv_parse, rules, signature, global, manifest, parquet_read);

fn main() {
    // The fixture lives in a static, which is never dropped: remove its folder even when a
    // bench's assertion fails.
    let outcome = std::panic::catch_unwind(stages);
    if let Some(fixture) = FIXTURE.get() {
        let _ = fs::remove_dir_all(&fixture.dir);
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    Criterion::default().configure_from_args().final_summary();
    report_rules_over_parse();
}
