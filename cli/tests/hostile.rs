//! The hostile-input corpus: every folder in `fixtures/hostile/` is one case, run here by one
//! test that collects every failure and reports them all at once, naming the case.
//!
//! A case folder holds `plan.toml`, its inputs and `expect.toml` (see fixtures/hostile/README.md):
//!
//! ```toml
//! exit = 1                                   # the exit code SPEC §5 requires
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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hostile")
}

// ---------------------------------------------------------------------------------------------
// expect.toml: a small TOML subset (key = string | integer | boolean | array), enough for the
// corpus and free of extra dependencies.

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Array(Vec<Value>),
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn new(text: &str) -> Parser {
        Parser { chars: text.chars().collect(), at: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn line(&self) -> usize {
        self.chars[..self.at.min(self.chars.len())].iter().filter(|c| **c == '\n').count() + 1
    }

    fn error<T>(&self, message: &str) -> Result<T, String> {
        Err(format!("expect.toml line {}: {message}", self.line()))
    }

    /// Skips blanks and comments; newlines too when `newlines`.
    fn skip(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.at += 1,
                '\n' if newlines => self.at += 1,
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn document(mut self) -> Result<BTreeMap<String, Value>, String> {
        let mut out = BTreeMap::new();
        loop {
            self.skip(true);
            let Some(c) = self.peek() else { return Ok(out) };
            if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return self.error(&format!("expected a key, found {c:?}"));
            }
            let start = self.at;
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                self.at += 1;
            }
            let key: String = self.chars[start..self.at].iter().collect();
            self.skip(false);
            if self.peek() != Some('=') {
                return self.error(&format!("expected `=` after {key}"));
            }
            self.at += 1;
            self.skip(false);
            let value = self.value()?;
            self.skip(false);
            if self.peek().is_some_and(|c| c != '\n') {
                return self.error("expected the end of the line");
            }
            if out.insert(key.clone(), value).is_some() {
                return self.error(&format!("{key} given twice"));
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some('"') => self.basic_string().map(Value::Str),
            Some('\'') => {
                self.at += 1;
                let start = self.at;
                while self.peek().is_some_and(|c| c != '\'' && c != '\n') {
                    self.at += 1;
                }
                if self.peek() != Some('\'') {
                    return self.error("unterminated literal string");
                }
                let text = self.chars[start..self.at].iter().collect();
                self.at += 1;
                Ok(Value::Str(text))
            }
            Some('[') => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip(true);
                    if self.peek() == Some(']') {
                        self.at += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value()?);
                    self.skip(true);
                    match self.peek() {
                        Some(',') => self.at += 1,
                        Some(']') => {}
                        _ => return self.error("expected `,` or `]` in an array"),
                    }
                }
            }
            Some('t') | Some('f') => {
                for (word, value) in [("true", true), ("false", false)] {
                    let end = self.at + word.len();
                    if end <= self.chars.len() && self.chars[self.at..end].iter().collect::<String>() == word {
                        self.at = end;
                        return Ok(Value::Bool(value));
                    }
                }
                self.error("expected true or false")
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.at;
                self.at += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().filter(|c| **c != '_').collect();
                text.parse().map(Value::Int).or_else(|_| self.error("bad integer"))
            }
            _ => self.error("expected a value"),
        }
    }

    fn basic_string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => return self.error("unterminated string"),
                Some('"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.at += 1;
                    let escape = self.peek();
                    self.at += 1;
                    match escape {
                        Some('"') => out.push('"'),
                        Some('\\') => out.push('\\'),
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some('r') => out.push('\r'),
                        Some('b') => out.push('\u{8}'),
                        Some('f') => out.push('\u{c}'),
                        Some(u @ ('u' | 'U')) => {
                            let digits = if u == 'u' { 4 } else { 8 };
                            let end = self.at + digits;
                            if end > self.chars.len() {
                                return self.error("short unicode escape");
                            }
                            let hex: String = self.chars[self.at..end].iter().collect();
                            self.at = end;
                            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                                Some(c) => out.push(c),
                                None => return self.error("bad unicode escape"),
                            }
                        }
                        _ => return self.error("unknown escape"),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

/// One reject as the corpus pins it: code, record number, line (empty when there is none).
type RejectRow = (String, u64, String);

#[derive(Debug, Default)]
struct Expect {
    exit: i32,
    stderr_first_line: String,
    stderr_also: Vec<String>,
    rejects: Option<Vec<RejectRow>>,
    reject_rows: Option<Vec<Vec<String>>>,
    accepted: Option<u64>,
    generate: Option<String>,
    known_bug: Option<String>,
}

fn read_expect(path: &Path) -> Result<Expect, String> {
    let text = fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let mut table = Parser::new(&text).document()?;
    let mut take = |key: &str| table.remove(key);
    let string = |value: Value, key: &str| match value {
        Value::Str(s) => Ok(s),
        other => Err(format!("{key} must be a string, not {other:?}")),
    };
    let int = |value: Value, key: &str| match value {
        Value::Int(n) => Ok(n),
        other => Err(format!("{key} must be an integer, not {other:?}")),
    };
    let mut expect = Expect {
        exit: int(take("exit").ok_or("missing `exit`")?, "exit")? as i32,
        stderr_first_line: string(
            take("stderr_first_line").ok_or("missing `stderr_first_line`")?,
            "stderr_first_line",
        )?,
        ..Expect::default()
    };
    if let Some(value) = take("stderr_also") {
        let Value::Array(items) = value else { return Err("stderr_also must be an array".into()) };
        expect.stderr_also = items.into_iter().map(|v| string(v, "stderr_also")).collect::<Result<_, _>>()?;
    }
    if let Some(value) = take("rejects") {
        let Value::Array(rows) = value else { return Err("rejects must be an array".into()) };
        let mut out = Vec::new();
        for row in rows {
            match row {
                Value::Array(cells) if cells.len() == 3 => {
                    let mut cells = cells.into_iter();
                    let code = string(cells.next().unwrap(), "rejects code")?;
                    let record = int(cells.next().unwrap(), "rejects record")? as u64;
                    let line = match cells.next().unwrap() {
                        Value::Int(n) => n.to_string(),
                        Value::Str(s) => s,
                        other => return Err(format!("rejects line must be an integer or \"\", not {other:?}")),
                    };
                    out.push((code, record, line));
                }
                other => return Err(format!("each reject is [code, record, line], not {other:?}")),
            }
        }
        expect.rejects = Some(out);
    }
    if let Some(value) = take("reject_rows") {
        let Value::Array(rows) = value else { return Err("reject_rows must be an array".into()) };
        let mut out = Vec::new();
        for row in rows {
            match row {
                Value::Array(cells) if cells.len() == 7 => {
                    out.push(cells.into_iter().map(|c| string(c, "reject_rows cell")).collect::<Result<_, _>>()?)
                }
                other => return Err(format!("each of reject_rows is seven strings, not {other:?}")),
            }
        }
        expect.reject_rows = Some(out);
    }
    if let Some(value) = take("accepted") {
        expect.accepted = Some(int(value, "accepted")? as u64);
    }
    if let Some(value) = take("generate") {
        expect.generate = Some(string(value, "generate")?);
    }
    if let Some(value) = take("known_bug") {
        expect.known_bug = Some(string(value, "known_bug")?);
    }
    if let Some(key) = table.keys().next() {
        return Err(format!("unknown key `{key}` in expect.toml"));
    }
    Ok(expect)
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

/// Every regular file below `dir`, relative path → bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = fs::read(&path) {
                out.insert(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), bytes);
            }
        }
    }
    out
}

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
    let written = files(&out);
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
                let got: Vec<RejectRow> =
                    rows.iter().map(|row| (row[5].clone(), row[1].parse().unwrap_or(0), row[2].clone())).collect();
                if &got != wanted {
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
            Some(got) if got != wanted => {
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
                    if let Some(bug) = &expect.known_bug {
                        if !run_known_bugs {
                            notes.lock().unwrap().push(format!("{name}: skipped, known bug: {bug}"));
                            continue;
                        }
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
