//! What the tests of several devdist crates need, written once: the files below a folder, the
//! rows of rejects.csv, the device secrets of an inventory and where they leak, the path of a
//! fixture, and a Python with the platform's official SDK. Every helper panics on an I/O or parse error: a test that cannot read what it
//! checks has failed.
//!
//! Running the `devdist` binary stays in `cli/tests/devdist/support.rs`: its path comes from
//! `CARGO_BIN_EXE_devdist`, which cargo gives only to the cli package's own integration tests.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use devdist_formats::Field;

/// The official Python SDK the conformance tests drive the emulator with (PyPI).
pub const OFFICIAL_SDK: &str = "alibabacloud-iot20180120==5.1.0";

/// A Python with [`OFFICIAL_SDK`] installed: the venv `tmpdir/sdk-venv` (pass the test's
/// `CARGO_TARGET_TMPDIR`, the same folder for every crate of the workspace), made and filled on
/// first use and reused after. If it cannot be made the test fails; it never skips.
pub fn official_sdk_python(tmpdir: &Path) -> PathBuf {
    use std::process::Command;
    let venv = tmpdir.join("sdk-venv");
    let python = venv.join("bin/python");
    let installed = |python: &Path| {
        Command::new(python)
            .args([
                "-c",
                "import importlib.metadata as m, sys; sys.exit(m.version('alibabacloud-iot20180120') != '5.1.0')",
            ])
            .status()
            .is_ok_and(|status| status.success())
    };
    if installed(&python) {
        return python;
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 must be installed to run the SDK");
    assert!(made.status.success(), "python3 -m venv failed: {}", String::from_utf8_lossy(&made.stderr));
    let pip = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", OFFICIAL_SDK])
        .output()
        .expect("pip runs");
    assert!(pip.status.success(), "pip install {OFFICIAL_SDK} failed:\n{}", String::from_utf8_lossy(&pip.stderr));
    assert!(installed(&python), "{OFFICIAL_SDK} is not importable after pip install");
    python
}

/// The path of `relative` inside the workspace's `fixtures/` folder, whichever crate's test
/// asks and whatever folder it runs in.
pub fn fixture(relative: impl AsRef<Path>) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testkit/ lies in the workspace");
    workspace.join("fixtures").join(relative)
}

/// Copies folder `from` to `to` with everything in it, modes and links kept (`cp -aT`): a test
/// crashes or edits the copy and keeps the original.
pub fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp").arg("-aT").args([from, to]).status().expect("cp runs");
    assert!(status.success(), "cp -aT {} {}: {status}", from.display(), to.display());
}

/// The raw HTTP answer of a running emulator's `GET /_emulator/stats` (`url` as `devdist
/// emulate` printed it, http only).
pub fn emulator_stats(url: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("the emulator listens");
    write!(stream, "GET /_emulator/stats HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Every file below `dir`, as sorted `/`-separated relative paths.
pub fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// Every file below `dir`, relative path (as [`walk`] gives it) → bytes.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir).into_iter().map(|relative| (relative.clone(), fs::read(dir.join(&relative)).unwrap())).collect()
}

/// The rows of a CSV table (an output such as a manifest or billing/reassignments.csv) as maps
/// from column name to value.
pub fn table(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| header.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.into(), v.into())).collect())
        .collect()
}

/// The columns of rejects.csv, in order.
const REJECTS_HEADER: [&str; 7] = ["source_file", "record", "line", "product_key", "device_name", "code", "detail"];

/// A row of rejects.csv. The text cells are as written (a spreadsheet-safe form, README:
/// "Opening rejects.csv in a spreadsheet") unless [`Reject::read_back`] has decoded them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The input file, as the plan names it.
    pub source_file: String,
    /// The record's number in its file, from 1.
    pub record: u64,
    /// The line the record starts on; `None` for inputs without lines (Parquet).
    pub line: Option<u64>,
    /// The record's product key cell.
    pub product_key: String,
    /// The record's device name cell.
    pub device_name: String,
    /// The reason code.
    pub code: String,
    /// The explanation.
    pub detail: String,
}

impl Reject {
    /// The row with its text cells read back to the values they were written from
    /// ([`devdist_engine::original_value`]); panics on a cell that does not read back.
    pub fn read_back(self) -> Reject {
        let text = |cell: String| {
            devdist_engine::original_value(&cell).unwrap_or_else(|| panic!("cell {cell:?} does not read back"))
        };
        Reject {
            source_file: text(self.source_file),
            product_key: text(self.product_key),
            device_name: text(self.device_name),
            detail: text(self.detail),
            ..self
        }
    }

    /// (record, product key, device name, code, detail), every cell as written, with `input`
    /// (the input file's name) replaced by `INPUT`: what two runs over the same records in
    /// different files or formats must agree on.
    pub fn unplaced(&self, input: &str) -> [String; 5] {
        [&self.record.to_string(), &self.product_key, &self.device_name, &self.code, &self.detail]
            .map(|cell| cell.replace(input, "INPUT"))
    }
}

/// The rows of the rejects.csv text `bytes`, in file order; panics unless the header is
/// the seven columns devdist writes.
pub fn parse_rejects(bytes: &[u8]) -> Vec<Reject> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, REJECTS_HEADER);
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Reject {
                source_file: r[0].to_string(),
                record: r[1].parse().unwrap(),
                line: (!r[2].is_empty()).then(|| r[2].parse().unwrap()),
                product_key: r[3].to_string(),
                device_name: r[4].to_string(),
                code: r[5].to_string(),
                detail: r[6].to_string(),
            }
        })
        .collect()
}

/// The rows of `out/rejects.csv` (see [`parse_rejects`]).
pub fn rejects(out: &Path) -> Vec<Reject> {
    parse_rejects(&fs::read(out.join("rejects.csv")).unwrap())
}

/// The DeviceSecret values of a CSV inventory (its column found by any header spelling devdist
/// reads) that are at least `shortest` bytes long, so that a short one cannot match unrelated
/// text by chance. Records that do not parse or lack the column are skipped; an inventory
/// without the column has no secrets.
pub fn device_secrets(inventory: &[u8], shortest: usize) -> BTreeSet<Vec<u8>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(inventory);
    let headers = reader.byte_headers().unwrap().clone();
    let is_secret = |h: &[u8]| std::str::from_utf8(h).ok().and_then(Field::from_header) == Some(Field::DeviceSecret);
    let Some(column) = headers.iter().position(is_secret) else {
        return BTreeSet::new();
    };
    reader
        .byte_records()
        .filter_map(|r| r.ok()?.get(column).map(<[u8]>::to_vec))
        .filter(|secret| secret.len() >= shortest)
        .collect()
}

/// The first of `needles` found in `haystack` (of the shortest length that occurs, then the
/// earliest). Needles are grouped by length and every window looked up, so thousands of them
/// cost no more than a few passes.
pub fn find_any<'n>(haystack: &[u8], needles: &'n BTreeSet<Vec<u8>>) -> Option<&'n [u8]> {
    let mut by_length: BTreeMap<usize, HashSet<&[u8]>> = BTreeMap::new();
    for needle in needles.iter().filter(|needle| !needle.is_empty()) {
        by_length.entry(needle.len()).or_default().insert(needle);
    }
    by_length.iter().find_map(|(length, set)| haystack.windows(*length).find_map(|window| set.get(window).copied()))
}

/// The first file of `files` (by path) that holds any of `needles`, and the needle.
pub fn find_in_files<'f, 'n>(
    files: &'f BTreeMap<String, Vec<u8>>,
    needles: &'n BTreeSet<Vec<u8>>,
) -> Option<(&'f str, &'n [u8])> {
    files.iter().find_map(|(path, bytes)| Some((path.as_str(), find_any(bytes, needles)?)))
}
