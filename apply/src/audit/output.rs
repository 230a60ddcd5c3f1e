//! `DIR/audit/`: writing audit.csv, report.html and summary.json; checking them again
//! (`verify`); and reading the verdicts back for `redrive` and `return` ([`accepted`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use devdist_folder::audited::{
    AUDIT_DIR, ApiCount, AuditFile, AuditRow, AuditSummary, Disagreement, DisagreementCounts, FIRST_SHOWN,
    ProductAudit, SettledCounts, Verdict, VerdictCounts,
};
use devdist_formats::{Format, TableWriter, Value};
use devdist_platform::sign::sha256_hex;

use super::{Entry, Names, Plan, Seen};
use crate::error::Error;
use crate::readers::Key;

/// audit's files inside `DIR/audit/`.
const CSV: &str = "audit.csv";
const PAGE: &str = "report.html";
const SUMMARY: &str = "summary.json";

/// Where the next `audit/` is built, and where the previous one waits while it moves in.
const STAGING: &str = "audit.new";
const OLD: &str = "audit.old";

/// Removes what a killed audit left in DIR (its staging folder, or its previous folder on the
/// way out). A link is removed, never followed.
pub(super) fn remove_staging(dir: &Path) -> Result<(), Error> {
    for name in [STAGING, OLD] {
        let path = dir.join(name);
        if path.symlink_metadata().is_ok() {
            let removed = if path.is_symlink() { fs::remove_file(&path) } else { fs::remove_dir_all(&path) };
            removed.map_err(|err| Error::journal(&path, &err))?;
        }
    }
    Ok(())
}

/// The most bytes of an audit file read back.
const READ_LIMIT: u64 = 64 << 30;

/// What the run knows besides the devices.
pub(super) struct Run {
    pub(super) audited_at: String,
    pub(super) endpoint: String,
    pub(super) apply_results_sha256: String,
    pub(super) calls: Vec<ApiCount>,
}

/// The row of one device.
fn row(key: &Key, entry: &Entry, names: &Names) -> AuditRow {
    let (verdict, note) = super::judge(names, entry);
    let apply = entry.apply.as_ref().map(crate::readers::Verdict::outcome);
    let targets: Vec<&str> = entry.targets.iter().map(|&t| names.name(t)).collect();
    let mut row = AuditRow {
        product_key: key.0.clone(),
        device_name: key.1.clone(),
        verdict,
        expected_target: targets.join(";"),
        expected_from: names.name(entry.from).to_string(),
        home_instance: names.name(entry.home).to_string(),
        observed_instance: String::new(),
        observed_source: String::new(),
        observed_uid: String::new(),
        observed_at: String::new(),
        settled_by: devdist_folder::audited::Settled::Provisioning,
        note,
        apply_outcome: apply.map_or("", |o| o.name()).to_string(),
        disagreement: super::verdict::disagreement(apply, verdict).map_or("", |d| d.name()).to_string(),
    };
    if let Seen::At { instance, source, uid, at_ms, recorded, by } = entry.seen {
        row.observed_instance = names.name(instance).to_string();
        row.observed_source = names.name(source).to_string();
        row.observed_uid = names.name(uid).to_string();
        if recorded {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at_ms.max(0) as u64);
            row.observed_at = devdist_platform::sign::timestamp(at);
        }
        row.settled_by = by;
    }
    row
}

/// Writes `dir/audit/` from the located `plan`; returns the summary written.
pub(super) fn write(
    dir: &Path,
    plan: &Plan,
    listed: &BTreeSet<(String, String, String)>,
    run: Run,
) -> Result<AuditSummary, Error> {
    let staging = dir.join(STAGING);
    let fail = |path: &Path, err: std::io::Error| Error::journal(path, &err);
    remove_staging(dir)?;
    fs::create_dir(&staging).map_err(|e| fail(&staging, e))?;
    let csv_path = staging.join(CSV);
    let file = devdist_formats::create_new(&csv_path, false).map_err(|e| fail(&csv_path, e))?;
    let mut table = TableWriter::new(file, Format::Csv, &AuditRow::COLUMNS).map_err(|e| fail(&csv_path, e))?;

    let mut verdicts = VerdictCounts::default();
    let mut settled = SettledCounts::default();
    let mut disagreements = DisagreementCounts::default();
    let mut first: BTreeMap<(u8, u8), Vec<AuditRow>> = BTreeMap::new();
    let mut placed: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
    for (key, entry) in &plan.devices {
        let row = row(key, entry, &plan.names);
        let cells = row.cells();
        let safe: Vec<std::borrow::Cow<str>> = cells.iter().map(|c| devdist_engine::safe_cell(c)).collect();
        let values: Vec<Value> = safe.iter().map(|c| Value::Str(c)).collect();
        table.write_row(&values).map_err(|e| fail(&csv_path, e))?;
        verdicts.count(row.verdict);
        match row.settled_by {
            devdist_folder::audited::Settled::Sweep => settled.sweep += 1,
            devdist_folder::audited::Settled::Provisioning => settled.provisioning += 1,
        }
        let kind = Disagreement::of_name(&row.disagreement);
        if let Some(kind) = kind {
            disagreements.count(kind);
        }
        if let (Verdict::Placed, Seen::At { instance, .. }) = (row.verdict, entry.seen) {
            *placed.entry((&key.0, plan.names.name(entry.from), plan.names.name(instance))).or_default() += 1;
        }
        // Disagreements first, then the devices not placed, returned and elsewhere.
        let rank = match (kind, row.verdict) {
            (Some(kind), _) => Some((0, kind as u8)),
            (None, Verdict::Placed) => None,
            (None, verdict) => Some((1, verdict as u8)),
        };
        if let Some(rank) = rank {
            let shown = first.entry(rank).or_default();
            if shown.len() < FIRST_SHOWN {
                shown.push(row);
            }
        }
    }
    let written = table.finish().map_err(|e| fail(&csv_path, e))?;

    let mut products = Vec::new();
    let mut planned: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    for ((product_key, _), entry) in &plan.devices {
        for &target in &entry.targets {
            planned.insert((product_key, plan.names.name(entry.from), plan.names.name(target)));
        }
    }
    for (product_key, source, target) in planned {
        let listed = listed.contains(&(product_key.to_string(), source.to_string(), target.to_string()));
        products.push(ProductAudit {
            product_key: product_key.to_string(),
            source_instance: source.to_string(),
            target_instance: target.to_string(),
            listed,
            devices_placed: placed.get(&(product_key, source, target)).copied().unwrap_or(0),
        });
    }

    let mut summary = AuditSummary {
        audited_at: run.audited_at,
        endpoint: run.endpoint,
        devices: plan.devices.len() as u64,
        verdicts,
        settled,
        applied: !run.apply_results_sha256.is_empty(),
        apply_results_sha256: run.apply_results_sha256,
        disagreements,
        first: first.into_values().flatten().collect(),
        calls: run.calls,
        products,
        files: vec![AuditFile { path: format!("{AUDIT_DIR}/{CSV}"), sha256: written.sha256, rows: written.rows }],
    };
    let page = super::page::page(&summary);
    let page_path = staging.join(PAGE);
    fs::write(&page_path, page.as_bytes()).map_err(|e| fail(&page_path, e))?;
    summary.files.push(AuditFile { path: format!("{AUDIT_DIR}/{PAGE}"), sha256: sha256_hex(page.as_bytes()), rows: 0 });
    let summary_path = staging.join(SUMMARY);
    fs::write(&summary_path, render_summary(&summary)).map_err(|e| fail(&summary_path, e))?;

    // Into place: audit's previous folder (only it) moves aside, then goes.
    let target = dir.join(AUDIT_DIR);
    let old = dir.join(OLD);
    if target.exists() {
        fs::rename(&target, &old).map_err(|e| fail(&target, e))?;
    }
    fs::rename(&staging, &target).map_err(|e| fail(&target, e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| fail(&old, e))?;
    }
    Ok(summary)
}

fn render_summary(summary: &AuditSummary) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(summary).expect("a summary serialises");
    bytes.push(b'\n');
    bytes
}

/// The summary the page is drawn from: without the page's own entry.
fn without_page(summary: &AuditSummary) -> AuditSummary {
    let mut drawn = summary.clone();
    drawn.files.retain(|file| file.path != format!("{AUDIT_DIR}/{PAGE}"));
    drawn
}

/// Reads and parses `audit/summary.json`.
fn read_summary(dir: &Path) -> Result<AuditSummary, String> {
    let relative = format!("{AUDIT_DIR}/{SUMMARY}");
    let bytes = devdist_formats::read_inside(dir, &relative, READ_LIMIT).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{relative}: line {}, column {}: {e}", e.line(), e.column()))
}

/// Every row of `audit/audit.csv`, each text cell read back as it was before `safe_cell`.
pub(super) fn read_rows(dir: &Path) -> Result<Vec<AuditRow>, String> {
    let relative = format!("{AUDIT_DIR}/{CSV}");
    let bytes = devdist_formats::read_inside(dir, &relative, READ_LIMIT).map_err(|e| e.to_string())?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader.headers().map_err(|e| format!("{relative}: {e}"))?;
    if headers.iter().ne(AuditRow::COLUMNS) {
        return Err(format!("{relative}: the header is not audit.csv's: {}", AuditRow::COLUMNS.join(",")));
    }
    let mut rows = Vec::new();
    for (index, record) in reader.deserialize::<AuditRow>().enumerate() {
        let line = index + 2;
        let row = record.map_err(|e| format!("{relative}: line {line}: {e}"))?;
        let text = |cell: String| devdist_engine::original_value(&cell);
        let original = (|| {
            Some(AuditRow {
                product_key: text(row.product_key)?,
                device_name: text(row.device_name)?,
                expected_target: text(row.expected_target)?,
                expected_from: text(row.expected_from)?,
                home_instance: text(row.home_instance)?,
                observed_instance: text(row.observed_instance)?,
                observed_source: text(row.observed_source)?,
                observed_uid: text(row.observed_uid)?,
                observed_at: text(row.observed_at)?,
                note: text(row.note)?,
                apply_outcome: text(row.apply_outcome)?,
                disagreement: text(row.disagreement)?,
                ..row
            })
        })();
        rows.push(original.ok_or_else(|| format!("{relative}: line {line}: a cell is not as audit.csv writes it"))?);
    }
    Ok(rows)
}

/// Files audit writes into `DIR/audit/`.
const AUDIT_FILES: [&str; 3] = [CSV, PAGE, SUMMARY];

/// Everything wrong with `DIR/audit/` (empty when DIR has none, or it verifies): every file
/// summary.json lists has its checksum and rows, the page is the one its summary draws, the
/// counts are audit.csv's, and audit.csv has exactly one row per device of DIR's manifests.
pub fn verify(dir: &Path) -> Result<Vec<String>, Error> {
    let folder = dir.join(AUDIT_DIR);
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    let mut problems = Vec::new();
    let entries = fs::read_dir(&folder).map_err(|err| Error::folder(&folder, format!("cannot list: {err}")))?;
    let mut strangers = Vec::new();
    for entry in entries {
        let name = entry.map_err(|err| Error::folder(&folder, format!("cannot list: {err}")))?.file_name();
        if !name.to_str().is_some_and(|name| AUDIT_FILES.contains(&name)) {
            strangers.push(format!("{AUDIT_DIR}/{}: not a file audit writes", devdist_formats::shown(&name)));
        }
    }
    strangers.sort();
    let summary = match read_summary(dir) {
        Ok(summary) => summary,
        Err(problem) => {
            problems.push(problem);
            problems.extend(strangers);
            return Ok(problems);
        }
    };
    let mut listed: Vec<&str> = Vec::new();
    for file in &summary.files {
        listed.push(&file.path);
        let Some(name) = file.path.strip_prefix(&format!("{AUDIT_DIR}/")).filter(|n| AUDIT_FILES.contains(n)) else {
            problems.push(format!("{AUDIT_DIR}/{SUMMARY}: lists {}, not a file audit writes", file.path));
            continue;
        };
        let bytes = match devdist_formats::read_inside(dir, &file.path, READ_LIMIT) {
            Ok(bytes) => bytes,
            Err(err) => {
                problems.push(format!("{}: {}", file.path, err));
                continue;
            }
        };
        if sha256_hex(&bytes) != file.sha256 {
            problems.push(format!("{}: checksum differs from {AUDIT_DIR}/{SUMMARY} (file was changed)", file.path));
        }
        if name == PAGE && bytes != super::page::page(&without_page(&summary)).as_bytes() {
            problems.push(format!("{}: is not the page {AUDIT_DIR}/{SUMMARY} draws (one of them changed)", file.path));
        }
    }
    for name in [CSV, PAGE] {
        if !listed.contains(&format!("{AUDIT_DIR}/{name}").as_str()) {
            problems.push(format!("{AUDIT_DIR}/{name}: not listed in {AUDIT_DIR}/{SUMMARY}"));
        }
    }
    match read_rows(dir) {
        Err(problem) => problems.push(problem),
        Ok(rows) => problems.extend(recount(dir, &summary, &rows)?),
    }
    problems.extend(strangers);
    Ok(problems)
}

/// audit.csv against summary.json's counts and DIR's manifests.
fn recount(dir: &Path, summary: &AuditSummary, rows: &[AuditRow]) -> Result<Vec<String>, Error> {
    let mut problems = Vec::new();
    let csv = format!("{AUDIT_DIR}/{CSV}");
    if let Some(file) = summary.files.iter().find(|f| f.path == csv)
        && file.rows != rows.len() as u64
    {
        problems.push(format!("{csv}: {} rows, {AUDIT_DIR}/{SUMMARY} says {}", rows.len(), file.rows));
    }
    let mut verdicts = VerdictCounts::default();
    let mut disagreements = DisagreementCounts::default();
    for row in rows {
        verdicts.count(row.verdict);
        if let Some(kind) = Disagreement::of_name(&row.disagreement) {
            disagreements.count(kind);
        }
    }
    if verdicts != summary.verdicts {
        problems.push(format!("{AUDIT_DIR}/{SUMMARY}: its verdict counts are not {csv}'s"));
    }
    if disagreements != summary.disagreements {
        problems.push(format!("{AUDIT_DIR}/{SUMMARY}: its disagreement counts are not {csv}'s"));
    }
    let plan = super::expected(dir)?;
    let devices = plan.devices.len() as u64;
    if summary.devices != devices || verdicts.total() != devices {
        problems.push(format!(
            "{AUDIT_DIR}: {} verdicts for {devices} devices in DIR's manifests (summary.json says {})",
            verdicts.total(),
            summary.devices
        ));
    }
    let keys = rows.iter().map(|row| (&row.product_key, &row.device_name));
    if let Some(((pk, name), _)) =
        keys.zip(plan.devices.keys()).find(|((pk, name), key)| (*pk, *name) != (&key.0, &key.1))
    {
        problems.push(format!("{csv}: {pk}/{name} is not the next device of DIR's manifests (sorted)"));
    }
    Ok(problems)
}

/// Audit's verdict of each device, and where the platform showed it.
pub(crate) type Accepted = BTreeMap<Key, (Verdict, String)>;

/// The verdicts of `DIR/audit/` when they are newer than apply's results: audit read the
/// `apply/results.csv` DIR has now (its SHA-256 is in summary.json). `None` when DIR has no
/// audit, or apply wrote other results since. The caller has verified DIR (audit included).
pub(crate) fn accepted(dir: &Path) -> Result<Option<Accepted>, devdist_engine::Error> {
    if !dir.join(AUDIT_DIR).join(SUMMARY).exists() {
        return Ok(None);
    }
    let invalid = |message: String| devdist_engine::Error::invocation(message);
    let summary = read_summary(dir).map_err(invalid)?;
    let results = match crate::readers::read(dir, "apply/results.csv") {
        Ok(bytes) => sha256_hex(&bytes),
        Err(_) => String::new(),
    };
    if summary.apply_results_sha256 != results {
        return Ok(None);
    }
    let rows = read_rows(dir).map_err(invalid)?;
    Ok(Some(
        rows.into_iter()
            .map(|row| ((row.product_key, row.device_name), (row.verdict, row.observed_instance)))
            .collect(),
    ))
}
