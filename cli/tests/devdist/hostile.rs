//! The hostile-input corpus: every folder in `fixtures/hostile/` is one case, run here by one
//! test that collects every failure and reports them all at once, naming the case.
//!
//! A case folder holds `plan.toml`, its inputs and `expect.toml` (see fixtures/hostile/README.md):
//!
//! ```toml
//! exit = 1                                   # the exit code docs/plan-folder.md §1.2 requires
//! stderr_first_line = ""                     # first stderr line, case folder written as {dir}
//! stderr_also = ["{dir}/plan.toml:3:1: …"]   # optional: further lines that must appear
//! rejects = [["malformed_record", 2, 3]]     # optional: (code, record, line or "") of every reject
//! reject_rows = [["devices.csv", "2", "3", "a1BwAGVeu01", "'=1+1", "invalid_device_name", "…"]]
//!                                            # optional: every row of rejects.csv, all seven cells
//! accepted = 1                               # optional: report.json counts.accepted
//! generate = "fifo-inventory"                # optional: built at run time (big or special files)
//! known_bug = "…"                            # optional: the case is skipped (and printed)
//! ```
//!
//! Files named `*.in` are written without the suffix after decoding `\r`, `\n`, `\t`, `\0`, `\\`
//! and `\xNN`, so CR, NUL and non-UTF-8 bytes never have to be committed raw.
//!
//! Every case runs `devdist plan <case>/plan.toml --out <tmp>/out --quiet --threads 2` under
//! `timeout 20` and a 4 GiB address-space limit. Besides its expectations, every case must not
//! panic, must not hang, must not print `zzSECRET` (the marker every fixture secret starts with)
//! anywhere but in device manifests, must not write `zzRUNTIME` (the marker of runtime values)
//! anywhere, and, when it exits 0 or 1, its output folder must pass `devdist verify`. Its
//! rejects.csv must be safe to open: no control byte but the line ends, no invisible character,
//! no cell that a spreadsheet would take for a formula (README, "Opening rejects.csv in a
//! spreadsheet").
//!
//! `HOSTILE_CASE=substring` runs only matching cases; `HOSTILE_KNOWN_BUGS=1` also runs the
//! known-bug cases and prints how they fare (without failing).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const TIMEOUT_SECONDS: &str = "20";
const MEMORY_LIMIT_KIB: &str = "4194304";
const SECRET_MARKER: &str = "zzSECRET";
const RUNTIME_MARKER: &str = "zzRUNTIME";

fn corpus() -> PathBuf {
    devdist_testkit::fixture("hostile")
}

// ---------------------------------------------------------------------------------------------
// expect.toml

/// What a case expects (see the module's header); an unknown key is an error, so a misspelt
/// expectation cannot be silently ignored.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    exit: i32,
    stderr_first_line: String,
    #[serde(default)]
    stderr_also: Vec<String>,
    rejects: Option<Vec<RejectRow>>,
    reject_rows: Option<Vec<[String; 7]>>,
    accepted: Option<u64>,
    generate: Option<String>,
    known_bug: Option<String>,
}

/// One reject as the corpus pins it: code, record number, line (`""` when there is none).
#[derive(Debug, serde::Deserialize)]
struct RejectRow(String, u64, Line);

#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum Line {
    Number(u64),
    None(String),
}

impl RejectRow {
    /// (code, record, line) as rejects.csv writes them.
    fn cells(&self) -> (String, u64, String) {
        let line = match &self.2 {
            Line::Number(n) => n.to_string(),
            Line::None(text) => text.clone(),
        };
        (self.0.clone(), self.1, line)
    }
}

fn read_expect(path: &Path) -> Result<Expect, String> {
    let text = fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    toml::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Preparing a case folder.

/// Decodes the escapes of a `*.in` file into bytes.
fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        match text.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = text.get(i + 2..i + 4).ok_or("short \\x escape")?;
                let hex = std::str::from_utf8(hex).map_err(|_| "bad \\x escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad \\x escape")?);
                i += 2;
            }
            other => return Err(format!("unknown escape \\{:?} in a .in file", other.map(|b| *b as char))),
        }
        i += 2;
    }
    Ok(out)
}

fn copy_case(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let source = entry.path();
        if source.is_dir() {
            copy_case(&source, &to.join(&name))?;
        } else if let Some(stem) = name.strip_suffix(".in") {
            let bytes = fs::read(&source).map_err(|e| e.to_string())?;
            let decoded = unescape(&bytes).map_err(|e| format!("{name}: {e}"))?;
            fs::write(to.join(stem), decoded).map_err(|e| e.to_string())?;
        } else if name != "expect.toml" {
            fs::copy(&source, to.join(&name)).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(())
}

const HEADER: &str = "product_key,device_name,device_secret,source_instance";
const SECRET: &str = "zzSECRETk3vQ9mZp2Lr8sT1wY6bN4cJ7";

fn good_row(n: u32) -> String {
    format!("a1BwAGVeu01,meter-{n:04},{SECRET},iotx-oxssharez200")
}

const TEN_MB: usize = 10 * 1024 * 1024;

fn mkfifo(path: &Path) -> Result<(), String> {
    let status = Command::new("mkfifo").arg(path).status().map_err(|e| format!("mkfifo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("mkfifo {} failed", path.display())) }
}

fn symlink(target: &str, link: &Path) -> Result<(), String> {
    std::os::unix::fs::symlink(target, link).map_err(|e| format!("symlink {}: {e}", link.display()))
}

/// Builds what a case asks for in `expect.toml`'s `generate`.
fn generate(name: &str, dir: &Path) -> Result<(), String> {
    let write = |file: &str, bytes: &[u8]| fs::write(dir.join(file), bytes).map_err(|e| format!("{file}: {e}"));
    let mkdir = |file: &str| fs::create_dir(dir.join(file)).map_err(|e| format!("{file}: {e}"));
    match name {
        // A 10 MB value in a runtime column of an otherwise good record.
        "big-field-runtime" => {
            let mut text = format!("{HEADER},status\n{},{RUNTIME_MARKER}", good_row(1)).into_bytes();
            text.resize(text.len() + TEN_MB, b'x');
            text.extend_from_slice(format!("\n{},ok\n", good_row(2)).as_bytes());
            write("devices.csv", &text)
        }
        // A 10 MB device_name.
        "big-field-device-name" => {
            let mut text = format!("{HEADER}\n{}\na1BwAGVeu01,", good_row(1)).into_bytes();
            text.resize(text.len() + TEN_MB, b'n');
            text.extend_from_slice(format!(",{SECRET},iotx-oxssharez200\n{}\n", good_row(3)).as_bytes());
            write("devices.csv", &text)
        }
        // A 10 MB quoted field whose closing quote never comes.
        "big-field-unterminated" => {
            let mut text = format!("{HEADER},status\n{},ok\n{},\"", good_row(1), good_row(2)).into_bytes();
            text.resize(text.len() + TEN_MB, b'q');
            text.push(b'\n');
            write("devices.csv", &text)
        }
        // 100,000 columns: the required four last, the rest runtime; one good record, one short.
        "wide-100k-columns" => {
            let mut text = String::new();
            for column in 0..99_996 {
                let _ = write!(text, "c{column},");
            }
            text.push_str(HEADER);
            text.push('\n');
            text.push_str(&",".repeat(99_996));
            text.push_str(&good_row(1));
            text.push('\n');
            text.push_str(&good_row(2));
            text.push('\n');
            write("devices.csv", text.as_bytes())
        }
        // 10,000 records (more than two batches of 4096), every 1000th with a bad device name.
        "many-records" => {
            let mut text = format!("{HEADER}\n");
            for record in 1..=10_000 {
                let name = if record % 1000 == 0 { format!("bad/{record}") } else { format!("meter-{record:05}") };
                let _ = writeln!(text, "a1BwAGVeu01,{name},{SECRET},iotx-oxssharez200");
            }
            write("devices.csv", text.as_bytes())
        }
        // A 12 MB header line (one name, none of the required columns) over one record.
        "huge-header-line" => {
            let mut text = vec![b'h'; 12 * 1024 * 1024];
            text.extend_from_slice(format!("\n{}\n", good_row(1)).as_bytes());
            write("devices.csv", &text)
        }
        // More than 64 MiB (the record limit) of blank lines between two good records.
        "blank-lines-past-record-limit" => {
            let mut text = format!("{HEADER}\n{}\n", good_row(1)).into_bytes();
            text.extend(std::iter::repeat_n(b"\r\n".as_slice(), 33 << 20).flatten());
            text.extend_from_slice(format!("{}\n", good_row(2)).as_bytes());
            write("devices.csv", &text)
        }
        // 100,000 routes, one product key each; 20,000 records, all for the last 1,000 routes.
        "routes-100k" => {
            let mut plan = String::from("account = \"1234567890123456\"\n[inputs]\ninventory = [\"devices.csv\"]\n");
            for route in 0..100_000 {
                let _ = write!(
                    plan,
                    "[[routes]]\nmatch = {{ product_key = [\"p{route:07}\"], source_instance = [\"iotx-oxssharez200\"] }}\n\
                     strategy = \"specified_region\"\ntargets = [\"iotx-oxssharez700\"]\n"
                );
            }
            let mut devices = format!("{HEADER}\n");
            for record in 0..20_000 {
                let product = 99_999 - record % 1000;
                let _ = writeln!(devices, "p{product:07},meter-{record:05},{SECRET},iotx-oxssharez200");
            }
            write("plan.toml", plan.as_bytes())?;
            write("devices.csv", devices.as_bytes())
        }
        "inventory-is-directory" => mkdir("devices.csv"),
        "inventory-is-fifo" => mkfifo(&dir.join("devices.csv")),
        "plan-is-directory" => mkdir("plan.toml"),
        "plan-is-fifo" => mkfifo(&dir.join("plan.toml")),
        "catalog-is-directory" => mkdir("instances.csv"),
        "catalog-is-fifo" => mkfifo(&dir.join("instances.csv")),
        "inventory-symlink-loop" => symlink("devices.csv", &dir.join("devices.csv")),
        "inventory-dangling-symlink" => symlink("nowhere/devices.csv", &dir.join("devices.csv")),
        "inventory-dev-null" => symlink("/dev/null", &dir.join("devices.csv")),
        "inventory-dev-zero" => symlink("/dev/zero", &dir.join("devices.csv")),
        other => Err(format!("unknown generator {other:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case.

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

struct Ran {
    code: Option<i32>,
    stderr: String,
}

/// Runs devdist under a time and memory limit.
fn devdist(args: &[&str]) -> Result<Ran, String> {
    let script = format!("ulimit -v {MEMORY_LIMIT_KIB} 2>/dev/null; exec timeout -k 5 {TIMEOUT_SECONDS} \"$@\"");
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_devdist"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .map_err(|e| format!("cannot run devdist: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    Ok(Ran { code: output.status.code(), stderr })
}

/// Runs one case; returns every way it differs from its expectations.
fn run_case(source: &Path, expect: &Expect) -> Result<Vec<String>, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let case = tmp.path().join("case");
    let out = tmp.path().join("out");
    copy_case(source, &case)?;
    if let Some(name) = &expect.generate {
        generate(name, &case)?;
    }
    let plan = case.join("plan.toml");
    let ran = devdist(&["plan", plan.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--threads", "2"])?;
    let mut problems = Vec::new();
    let stderr = ran.stderr.replace(out.to_str().unwrap(), "{out}").replace(case.to_str().unwrap(), "{dir}");
    let code = match ran.code {
        Some(124 | 137) => {
            problems.push(format!("timed out after {TIMEOUT_SECONDS} s (a hang?); stderr: {stderr:?}"));
            return Ok(problems);
        }
        Some(code) => code,
        None => {
            problems.push(format!("killed by a signal; stderr: {stderr:?}"));
            return Ok(problems);
        }
    };
    for bad in ["panicked", "RUST_BACKTRACE", "memory allocation of"] {
        if stderr.contains(bad) {
            problems.push(format!("stderr contains {bad:?}: {stderr:?}"));
        }
    }
    if code != expect.exit {
        problems.push(format!("exit {code}, expected {}", expect.exit));
    }
    let first = stderr.lines().next().unwrap_or("");
    if first != expect.stderr_first_line {
        problems.push(format!(
            "stderr first line\n      got:      {first:?}\n      expected: {:?}",
            expect.stderr_first_line
        ));
    }
    for line in &expect.stderr_also {
        if !stderr.lines().any(|l| l == line) {
            problems.push(format!("stderr lacks the line {line:?}; stderr: {stderr:?}"));
        }
    }
    if contains(stderr.as_bytes(), SECRET_MARKER) {
        problems.push(format!("a secret appears on stderr: {stderr:?}"));
    }
    // A run that fails writes no output folder (checked below): nothing to look into.
    let written = if out.exists() { devdist_testkit::files(&out) } else { BTreeMap::new() };
    for (path, bytes) in &written {
        if !path.contains("/devices.") && contains(bytes, SECRET_MARKER) {
            problems.push(format!("a secret appears in {path}"));
        }
        if contains(bytes, RUNTIME_MARKER) {
            problems.push(format!("a runtime value appears in {path}"));
        }
    }
    if code == 0 || code == 1 {
        let verified = devdist(&["verify", out.to_str().unwrap()])?;
        if verified.code != Some(0) {
            problems.push(format!("devdist verify exits {:?}: {}", verified.code, verified.stderr));
        }
    } else if out.exists() {
        problems.push(format!("exit {code}, but the output folder exists"));
    }
    let rows = written.get("rejects.csv").map(|bytes| reject_rows(bytes, &mut problems));
    if let Some(wanted) = &expect.rejects {
        match &rows {
            None => problems.push("no rejects.csv".to_string()),
            Some(rows) => {
                let got: Vec<(String, u64, String)> =
                    rows.iter().map(|row| (row[5].clone(), row[1].parse().unwrap_or(0), row[2].clone())).collect();
                let wanted: Vec<_> = wanted.iter().map(RejectRow::cells).collect();
                if got != wanted {
                    problems.push(format!(
                        "rejects (code, record, line)\n      got:      {got:?}\n      expected: {wanted:?}"
                    ));
                }
            }
        }
    }
    if let Some(wanted) = &expect.reject_rows {
        match &rows {
            None => problems.push("no rejects.csv".to_string()),
            Some(got) if !got.iter().eq(wanted.iter()) => {
                problems.push(format!("rejects.csv rows\n      got:      {got:?}\n      expected: {wanted:?}"))
            }
            Some(_) => {}
        }
    }
    if let Some(wanted) = expect.accepted {
        let report: Option<serde_json::Value> = written.get("report.json").and_then(|b| serde_json::from_slice(b).ok());
        match report.as_ref().and_then(|r| r["counts"]["accepted"].as_u64()) {
            Some(got) if got == wanted => {}
            got => problems.push(format!("accepted {got:?}, expected {wanted}")),
        }
    }
    Ok(problems)
}

/// The rows of rejects.csv, each cell as text; notes every way the file is unsafe to open in a
/// spreadsheet or print on a terminal: a control byte other than the line ends, a cell with an
/// invisible character, one that starts (after spaces) like a formula, or one that does not read
/// back to the value it was written from.
fn reject_rows(bytes: &[u8], problems: &mut Vec<String>) -> Vec<Vec<String>> {
    if let Some(at) = bytes.iter().position(|&b| (b < 0x20 && b != b'\n') || b == 0x7f) {
        problems.push(format!("rejects.csv has the control byte {:#04x} at offset {at}", bytes[at]));
    }
    let mut rows = Vec::new();
    for row in csv::ReaderBuilder::new().from_reader(bytes).byte_records() {
        match row {
            Ok(row) => rows.push(row.iter().map(|cell| String::from_utf8_lossy(cell).into_owned()).collect::<Vec<_>>()),
            Err(err) => problems.push(format!("rejects.csv does not parse: {err}")),
        }
    }
    for cell in rows.iter().flatten() {
        if cell.chars().any(devdist_formats::is_invisible) {
            problems.push(format!("a rejects.csv cell has an invisible character: {cell:?}"));
        }
        if cell.trim_start_matches(' ').starts_with(['=', '+', '-', '@', '\t', '\r']) {
            problems.push(format!("a rejects.csv cell starts like a formula: {cell:?}"));
        }
        if devdist_engine::original_value(cell).is_none() {
            problems.push(format!("a rejects.csv cell does not read back to a value: {cell:?}"));
        }
    }
    rows
}

#[test]
fn hostile_inputs_get_exact_exit_codes_and_positioned_messages() {
    let filter = std::env::var("HOSTILE_CASE").unwrap_or_default();
    let run_known_bugs = std::env::var_os("HOSTILE_KNOWN_BUGS").is_some();
    let mut cases: Vec<PathBuf> = fs::read_dir(corpus())
        .expect("fixtures/hostile exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(filter.is_empty() || !cases.is_empty());
    if filter.is_empty() {
        assert!(cases.len() >= 50, "the corpus has {} cases, at least 50 expected", cases.len());
    }
    cases.retain(|path| path.file_name().unwrap().to_string_lossy().contains(&filter));

    let failures = Mutex::new(Vec::<String>::new());
    let notes = Mutex::new(Vec::<String>::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, Ordering::SeqCst);
                    let Some(path) = cases.get(at) else { break };
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    let expect = match read_expect(&path.join("expect.toml")) {
                        Ok(expect) => expect,
                        Err(err) => {
                            failures.lock().unwrap().push(format!("{name}: {err}"));
                            continue;
                        }
                    };
                    if let Some(bug) = &expect.known_bug
                        && !run_known_bugs
                    {
                        notes.lock().unwrap().push(format!("{name}: skipped, known bug: {bug}"));
                        continue;
                    }
                    let outcome = run_case(path, &expect);
                    match (outcome, &expect.known_bug) {
                        (Err(err), _) => failures.lock().unwrap().push(format!("{name}: cannot run: {err}")),
                        (Ok(problems), Some(bug)) => {
                            let state =
                                if problems.is_empty() { "now PASSES".to_string() } else { problems.join("; ") };
                            notes.lock().unwrap().push(format!("{name}: known bug ({bug}): {state}"));
                        }
                        (Ok(problems), None) if problems.is_empty() => {}
                        (Ok(problems), None) => {
                            let mut text = format!("{name}:");
                            for problem in problems {
                                let _ = write!(text, "\n    {problem}");
                            }
                            failures.lock().unwrap().push(text);
                        }
                    }
                }
            });
        }
    });
    let mut notes = notes.into_inner().unwrap();
    notes.sort();
    for note in &notes {
        println!("{note}");
    }
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
