//! Parquet inventories read exactly like their CSV twin, broken Parquet files are errors that
//! name the file, and Parquet output tables round-trip and are deterministic.
//!
//! The fixtures are in `fixtures/parquet/` (see `make_parquet.py` there and fixtures/README.md).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, RecordBatch as ArrowBatch};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use devdist_formats::{
    ColumnType, CsvInventory, Field, Format, Inventory, Layout, PARQUET_CREATED_BY, ParquetInventory, RecordBatch,
    TableWriter, Value,
};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use sha2::{Digest, Sha256};

const TWINS: [&str; 5] = [
    "devices.pyarrow-dict-snappy.parquet",
    "devices.pyarrow-large-zstd.parquet",
    "devices.pyarrow-view-plain-brotli.parquet",
    "devices.duckdb-gzip.parquet",
    "devices.polars-pascal-lz4.parquet",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/parquet").join(name)
}

/// One record as the engine sees it: the known fields' bytes, and per runtime column (by
/// lower-case name) whether the cell is non-empty.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    known: Vec<(Field, Vec<u8>)>,
    runtime: Vec<(String, bool)>,
}

/// Reads every record of an inventory, checking the batch bookkeeping on the way.
fn read_all(inventory: &mut Inventory, capacity: usize) -> (Layout, Vec<Seen>, u64) {
    let layout = inventory.layout().clone();
    // A batch that held CSV records before: lines must be reset, records reused.
    let mut batch = RecordBatch::default();
    batch.lines = vec![99; capacity];
    let mut seen = Vec::new();
    let mut bytes = 0;
    while inventory.fill(&mut batch, capacity).unwrap() {
        assert!(batch.len <= capacity);
        assert_eq!(batch.first_record, seen.len() as u64 + 1);
        if inventory.format_name() == "parquet" {
            assert!(batch.lines[..batch.len].iter().all(|&line| line == 0));
        }
        bytes += batch.bytes;
        for record in batch.records() {
            assert_eq!(record.len(), layout.width());
            let known = Field::ALL
                .into_iter()
                .filter_map(|field| layout.column(field).map(|c| (field, record[c].to_vec())))
                .collect();
            let mut runtime: Vec<(String, bool)> = layout
                .runtime_columns()
                .iter()
                .map(|&c| (layout.columns()[c].to_ascii_lowercase(), !record[c].is_empty()))
                .collect();
            runtime.sort();
            seen.push(Seen { known, runtime });
        }
    }
    bytes += batch.bytes;
    assert_eq!(batch.len, 0);
    (layout, seen, bytes)
}

fn csv_twin() -> Vec<Seen> {
    let mut inventory = Inventory::open(&fixture("devices.csv")).unwrap();
    assert_eq!(inventory.format_name(), "csv");
    let (_, seen, _) = read_all(&mut inventory, 4096);
    assert_eq!(seen.len(), 200);
    seen
}

#[test]
fn every_twin_reads_exactly_like_the_csv() {
    let expected = csv_twin();
    for name in TWINS {
        let path = fixture(name);
        for capacity in [1, 7, 50, 64, 4096] {
            let mut inventory = Inventory::open(&path).unwrap();
            assert_eq!(inventory.format_name(), "parquet");
            let (layout, mut seen, bytes) = read_all(&mut inventory, capacity);
            assert_eq!(bytes, fs::metadata(&path).unwrap().len(), "{name}: progress bytes add up to the file");
            assert_eq!(seen.len(), expected.len(), "{name}");
            if name.contains("large-zstd") {
                // The extra nested runtime column: null on every third row, from the first.
                assert!(layout.columns().iter().any(|c| c == "tags"));
                for (i, record) in seen.iter_mut().enumerate() {
                    let at = record.runtime.iter().position(|(c, _)| c == "tags").unwrap();
                    assert_eq!(record.runtime.remove(at).1, i % 3 != 0, "{name}: tags of record {}", i + 1);
                }
            }
            for (i, (got, want)) in seen.iter().zip(&expected).enumerate() {
                assert_eq!(got, want, "{name} (capacity {capacity}): record {}", i + 1);
            }
        }
    }
}

#[test]
fn nulls_read_as_empty_fields() {
    let path = fixture("devices.pyarrow-dict-snappy.parquet");
    // The fixture really stores nulls (not empty strings) in target_instance.
    let file = File::open(&path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut nulls = 0;
    for arrow in reader {
        let arrow = arrow.unwrap();
        nulls += arrow.column_by_name("target_instance").unwrap().logical_null_count();
    }
    assert_eq!(nulls, 160);
    let mut inventory = ParquetInventory::open(&path).unwrap();
    assert_eq!(inventory.rows(), 200);
    let column = inventory.layout().column(Field::TargetInstance).unwrap();
    let mut batch = RecordBatch::default();
    let mut empty = 0;
    while inventory.fill(&mut batch, 33).unwrap() {
        empty += batch.records().iter().filter(|r| r[column].is_empty()).count();
    }
    assert_eq!(empty, 160);
}

#[test]
fn booleans_and_integers_read_as_text() {
    let mut inventory = Inventory::open(&fixture("devices.duckdb-gzip.parquet")).unwrap();
    let (layout, seen, _) = read_all(&mut inventory, 4096);
    assert!(layout.column(Field::Authorized).is_some());
    let authorized: Vec<&[u8]> = seen
        .iter()
        .filter_map(|s| s.known.iter().find(|(f, _)| *f == Field::Authorized).map(|(_, v)| v.as_slice()))
        .collect();
    assert_eq!(authorized.iter().filter(|v| **v == b"true").count(), 3);
    assert!(authorized.contains(&&b"false"[..]));
    let timestamp = &seen[3].known.iter().find(|(f, _)| *f == Field::SignTimestamp).unwrap().1;
    assert_eq!(timestamp, b"1716897938000");
}

#[test]
fn pascal_case_header_in_another_order_maps_to_the_same_fields() {
    let inventory = ParquetInventory::open(&fixture("devices.polars-pascal-lz4.parquet")).unwrap();
    let layout = inventory.layout();
    assert_eq!(layout.columns()[0], "shadow");
    assert_eq!(layout.column(Field::SourceInstance).map(|c| layout.columns()[c].as_str()), Some("IotInstanceId"));
    assert_eq!(layout.runtime_columns().len(), 2);
}

fn copy_to(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let bytes = fs::read(fixture("devices.pyarrow-dict-snappy.parquet")).unwrap();
    (dir.join(name), bytes)
}

/// Opens and reads the whole file; the error if any step failed.
fn read_error(path: &Path) -> Option<String> {
    let mut inventory = match Inventory::open(path) {
        Ok(inventory) => inventory,
        Err(err) => return Some(err.to_string()),
    };
    let mut batch = RecordBatch::default();
    loop {
        match inventory.fill(&mut batch, 64) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(err) => return Some(err.to_string()),
        }
    }
}

#[test]
fn truncated_and_corrupt_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();

    let (truncated, bytes) = copy_to(dir.path(), "truncated.parquet");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_error(&truncated).expect("a truncated file is an error");
    assert!(err.starts_with(&format!("{}: ", truncated.display())), "{err}");
    assert!(err.contains("does not end with PAR1 (truncated"), "{err}");

    let (corrupt, mut bytes) = copy_to(dir.path(), "corrupt-footer.parquet");
    let footer_len = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap()) as usize;
    let footer_start = bytes.len() - 8 - footer_len;
    for b in &mut bytes[footer_start..footer_start + 64] {
        *b = 0xff;
    }
    fs::write(&corrupt, &bytes).unwrap();
    let err = read_error(&corrupt).expect("a corrupt footer is an error");
    assert!(err.starts_with(&format!("{}: ", corrupt.display())), "{err}");

    let (magic, mut bytes) = copy_to(dir.path(), "bad-magic.parquet");
    let end = bytes.len();
    bytes[end - 4..].copy_from_slice(b"PAR0");
    fs::write(&magic, &bytes).unwrap();
    let err = read_error(&magic).expect("bad magic is an error");
    assert!(err.starts_with(&format!("{}: not a readable Parquet file", magic.display())), "{err}");

    let empty = dir.path().join("empty.parquet");
    fs::write(&empty, b"").unwrap();
    let err = read_error(&empty).expect("an empty file is an error");
    assert!(err.starts_with(&format!("{}: ", empty.display())), "{err}");

    let csv_named_parquet = dir.path().join("devices.parquet");
    fs::copy(fixture("devices.csv"), &csv_named_parquet).unwrap();
    let err = read_error(&csv_named_parquet).expect("CSV is not Parquet");
    assert!(err.ends_with("not a readable Parquet file: it does not start with PAR1"), "{err}");
}

#[test]
fn damaged_bytes_anywhere_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let original = fs::read(fixture("devices.pyarrow-large-zstd.parquet")).unwrap();
    let path = dir.path().join("damaged.parquet");
    let step = original.len() / 97;
    for at in (0..original.len()).step_by(step.max(1)) {
        let mut bytes = original.clone();
        for b in &mut bytes[at..(at + 16).min(original.len())] {
            *b ^= 0x5a;
        }
        fs::write(&path, &bytes).unwrap();
        // Ok (damage in a statistic or padding) or an error naming the file: never a panic.
        if let Some(err) = read_error(&path) {
            assert!(err.starts_with(&format!("{}: ", path.display())), "{err}");
        }
    }
}

fn write_parquet(path: &Path, schema: Schema, columns: Vec<ArrayRef>) {
    let file = File::create(path).unwrap();
    let schema = Arc::new(schema);
    let mut writer = ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    writer.write(&ArrowBatch::try_new(schema, columns).unwrap()).unwrap();
    writer.close().unwrap();
}

fn strings(values: &[&str]) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for v in values {
        builder.append_value(v);
    }
    Arc::new(builder.finish())
}

#[test]
fn a_known_column_of_another_type_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong-type.parquet");
    let mut names = ListBuilder::new(Int32Builder::new());
    names.values().append_value(1);
    names.append(true);
    let list: ArrayRef = Arc::new(names.finish());
    let schema = Schema::new(vec![
        ArrowField::new("product_key", DataType::Utf8, false),
        ArrowField::new("device_name", list.data_type().clone(), true),
        ArrowField::new("device_secret", DataType::Utf8, false),
        ArrowField::new("source_instance", DataType::Utf8, false),
        // A runtime column may be nested: no error for it.
        ArrowField::new("history", list.data_type().clone(), true),
    ]);
    let columns = vec![strings(&["pk"]), list.clone(), strings(&["s"]), strings(&["i"]), list];
    write_parquet(&path, schema, columns);
    let err = Inventory::open(&path).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: column \"device_name\" has type List(", path.display())), "{err}");
    assert!(err.ends_with("expected a string"), "{err}");
}

#[test]
fn a_missing_required_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-secret.parquet");
    let schema = Schema::new(vec![
        ArrowField::new("ProductKey", DataType::Utf8, false),
        ArrowField::new("DeviceName", DataType::Utf8, false),
        ArrowField::new("IotInstanceId", DataType::Utf8, false),
    ]);
    write_parquet(&path, schema, vec![strings(&["pk"]), strings(&["dn"]), strings(&["i"])]);
    let err = Inventory::open(&path).unwrap_err().to_string();
    assert_eq!(err, format!("{}: missing required column \"device_secret\"", path.display()));
}

#[test]
fn all_null_known_column_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("null-type.parquet");
    let schema = Schema::new(vec![
        ArrowField::new("product_key", DataType::Utf8, false),
        ArrowField::new("device_name", DataType::Utf8, false),
        ArrowField::new("device_secret", DataType::Utf8, false),
        ArrowField::new("source_instance", DataType::Utf8, false),
        ArrowField::new("target_instance", DataType::Null, true),
    ]);
    let nulls: ArrayRef = Arc::new(arrow_array::NullArray::new(2));
    let columns = vec![strings(&["pk", "pk"]), strings(&["a", "b"]), strings(&["s", "s"]), strings(&["i", "i"]), nulls];
    write_parquet(&path, schema, columns);
    let mut inventory = Inventory::open(&path).unwrap();
    let (_, seen, _) = read_all(&mut inventory, 10);
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.known.iter().any(|(f, v)| *f == Field::TargetInstance && v.is_empty())));
}

#[test]
fn csv_inventory_is_unchanged_through_the_enum() {
    let mut direct = CsvInventory::open(&fixture("devices.csv")).unwrap();
    let mut batch = RecordBatch::default();
    assert!(direct.fill(&mut batch, 10).unwrap());
    assert_eq!(&batch.lines[..3], &[2, 3, 4]);
    assert_eq!(csv_twin().len(), 200);
}

const OUT_COLUMNS: [&str; 4] = ["product_key", "device_name", "devices", "note"];

fn write_table(path: &Path, rows: u64) -> devdist_formats::Written {
    let file = File::create(path).unwrap();
    let mut table = TableWriter::new(file, Format::Parquet, &OUT_COLUMNS).unwrap();
    for i in 0..rows {
        let name = format!("dev-{i:06}");
        let note = if i % 3 == 0 { "" } else { "x,\"y\"\né" };
        table.write_row(&[Value::Str("a1BwAGVeu01"), Value::Str(&name), Value::Int(i * 7), Value::Str(note)]).unwrap();
    }
    table.finish().unwrap()
}

#[test]
fn parquet_output_round_trips_and_is_deterministic() {
    assert_eq!("parquet".parse::<Format>(), Ok(Format::Parquet));
    assert_eq!(Format::Parquet.extension(), "parquet");
    let dir = tempfile::tempdir().unwrap();
    let rows = 70_000;
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    let written = write_table(&a, rows);
    assert_eq!(written.rows, rows);
    let bytes = fs::read(&a).unwrap();
    assert_eq!(written.sha256, hex(&Sha256::digest(&bytes)));
    assert_eq!(write_table(&b, rows), written);
    assert_eq!(fs::read(&b).unwrap(), bytes, "same rows, same bytes");
    if let Some(keep) = std::env::var_os("DEVDIST_KEEP_PARQUET") {
        fs::copy(&a, Path::new(&keep).join("table.parquet")).unwrap();
    }

    let reader = SerializedFileReader::new(File::open(&a).unwrap()).unwrap();
    let metadata = reader.metadata();
    assert_eq!(metadata.file_metadata().created_by(), Some(PARQUET_CREATED_BY));
    assert_eq!(metadata.num_row_groups(), 2, "row groups of at most 64k rows");
    assert_eq!(metadata.row_group(0).num_rows(), 65_536);

    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&a).unwrap()).unwrap();
    let types: Vec<DataType> = builder.schema().fields().iter().map(|f| f.data_type().clone()).collect();
    assert_eq!(types, [DataType::Utf8, DataType::Utf8, DataType::Int64, DataType::Utf8]);
    let mut i = 0u64;
    for arrow in builder.with_batch_size(10_000).build().unwrap() {
        let arrow = arrow.unwrap();
        let (pk, name, devices, note) = (
            arrow.column(0).as_string::<i32>(),
            arrow.column(1).as_string::<i32>(),
            arrow.column(2).as_primitive::<Int64Type>(),
            arrow.column(3).as_string::<i32>(),
        );
        for row in 0..arrow.num_rows() {
            assert_eq!(pk.value(row), "a1BwAGVeu01");
            assert_eq!(name.value(row), format!("dev-{i:06}"));
            assert_eq!(devices.value(row), (i * 7) as i64);
            assert_eq!(note.value(row), if i.is_multiple_of(3) { "" } else { "x,\"y\"\né" });
            i += 1;
        }
    }
    assert_eq!(i, rows);
}

#[test]
fn parquet_output_keeps_secrets_out_of_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devices.parquet");
    let columns = ["device_name", "device_secret"];
    let mut table = TableWriter::new(File::create(&path).unwrap(), Format::Parquet, &columns).unwrap();
    table.write_row(&[Value::Str("dev-1"), Value::Str("S3cretS3cretS3cretS3cretS3cret01")]).unwrap();
    table.finish().unwrap();
    let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    let group = reader.metadata().row_group(0);
    assert!(group.column(0).statistics().is_some_and(|s| s.min_bytes_opt().is_some()));
    assert!(group.column(1).statistics().is_none_or(|s| s.min_bytes_opt().is_none()));
    // The footer (not compressed) holds the name's statistics but nothing of the secret.
    let bytes = fs::read(&path).unwrap();
    let footer_len = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap()) as usize;
    let footer = &bytes[bytes.len() - 8 - footer_len..];
    let holds = |needle: &[u8]| footer.windows(needle.len()).any(|w| w == needle);
    assert!(holds(b"dev-1"));
    assert!(!holds(b"S3cret"));
}

#[test]
fn parquet_output_types_can_be_given_and_empty_tables_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.parquet");
    let types = [ColumnType::Str, ColumnType::Str, ColumnType::Int, ColumnType::Str];
    let table = TableWriter::with_types(File::create(&path).unwrap(), Format::Parquet, &OUT_COLUMNS, &types).unwrap();
    let written = table.finish().unwrap();
    assert_eq!(written.rows, 0);
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    assert_eq!(builder.schema().field(2).data_type(), &DataType::Int64);
    assert_eq!(builder.metadata().file_metadata().num_rows(), 0);

    // Integers are written as text in a text column; text in an integer column is refused.
    let path = dir.path().join("typed.parquet");
    let mut table =
        TableWriter::with_types(File::create(&path).unwrap(), Format::Parquet, &OUT_COLUMNS, &types).unwrap();
    table.write_row(&[Value::Str("pk"), Value::Int(12), Value::Int(3), Value::Str("")]).unwrap();
    let err = table.write_row(&[Value::Str("pk"), Value::Str("d"), Value::Str("3"), Value::Str("")]).unwrap_err();
    assert_eq!(err.to_string(), "column \"devices\" holds integers, not text");
    assert_eq!(table.finish().unwrap().rows, 1);
    let mut reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap().build().unwrap();
    let arrow = reader.next().unwrap().unwrap();
    assert_eq!(arrow.num_rows(), 1);
    assert_eq!(arrow.column(1).as_string::<i32>().value(0), "12");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Found by fuzzing: a batch in which a dictionary-encoded column is null in every row carries
/// an empty dictionary, which used to panic (exit 101) instead of reading empty cells.
#[test]
fn all_null_dictionary_batches_read_as_empty_cells() {
    let files = [
        "../fuzz/regressions/parquet_reader/null-dictionary-column.parquet",
        "../fixtures/parquet/devices.pyarrow-dict-snappy.parquet",
    ];
    for file in files {
        for capacity in 1..=8 {
            let mut inventory = devdist_formats::ParquetInventory::open(std::path::Path::new(file)).unwrap();
            let mut batch = devdist_formats::RecordBatch::default();
            let mut records = 0;
            while inventory.fill(&mut batch, capacity).unwrap() {
                records += batch.len as u64;
            }
            assert_eq!(records, inventory.rows(), "{file} at capacity {capacity}");
        }
    }
}

/// `fuzz/regressions/parquet_reader/page-header-skip-hang.fuzz`: a page header whose unknown
/// field declares a huge list at the end of the file. parquet 59 and 60 skip it element by
/// element without noticing that the file ended: the first read never returned (for batches
/// of 1 to 64 records; 4096 failed at once on this file, but a file crafted for 4096 hangs the
/// same way). It must fail, naming the file, and quickly.
#[test]
fn a_page_header_skipping_past_the_end_of_the_file_fails_at_once() {
    let fuzz =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/parquet_reader/page-header-skip-hang.fuzz");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devices.parquet");
    fs::write(&path, &fs::read(fuzz).unwrap()[1..]).unwrap();
    for capacity in [1, 4, 16, 64, 4096] {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let file = path.clone();
        // On its own thread, so that a hang fails the test instead of stalling it.
        std::thread::spawn(move || {
            let mut inventory = Inventory::open(&file).unwrap();
            let mut batch = RecordBatch::default();
            let result = loop {
                match inventory.fill(&mut batch, capacity) {
                    Ok(true) => continue,
                    Ok(false) => break Ok(()),
                    Err(err) => break Err(err.to_string()),
                }
            };
            let _ = done_tx.send(result);
        });
        let result = done_rx.recv_timeout(std::time::Duration::from_secs(20)).expect("the read ends");
        let err = result.expect_err("the file is broken");
        assert!(
            err.starts_with(&format!("{}: cannot read the Parquet data from record 1 on", path.display())),
            "{err}"
        );
    }
}

/// A STRING column whose second value is not UTF-8, written with the low-level writer (Arrow
/// would refuse to build such an array).
fn write_invalid_utf8(path: &Path) {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    let schema = parse_message_type(
        "message devices { required binary product_key (STRING); required binary device_name (STRING);
         required binary device_secret (STRING); required binary source_instance (STRING); }",
    )
    .unwrap();
    let props = Arc::new(WriterProperties::builder().build());
    let mut writer = SerializedFileWriter::new(File::create(path).unwrap(), Arc::new(schema), props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let columns: [[&[u8]; 3]; 4] = [
        [b"a1", b"a1", b"a1"],
        [b"dev-0001", b"dev-\xff\xfe02", b"dev-0003"],
        [b"s1", b"s2", b"s3"],
        [b"iot-1", b"iot-1", b"iot-1"],
    ];
    for values in columns {
        let mut column = group.next_column().unwrap().unwrap();
        let values: Vec<ByteArray> = values.iter().map(|v| ByteArray::from(v.to_vec())).collect();
        column.typed::<ByteArrayType>().write_batch(&values, None, None).unwrap();
        column.close().unwrap();
    }
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn a_string_column_that_is_not_utf8_fails_the_file_by_name_and_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devices.parquet");
    write_invalid_utf8(&path);
    let err = read_error(&path).expect("invalid UTF-8 in a STRING column");
    assert!(err.starts_with(&format!("{}: cannot read the Parquet data from record 1 on", path.display())), "{err}");
    assert!(err.contains("UTF-8") || err.contains("utf-8") || err.contains("utf8"), "{err}");
}
