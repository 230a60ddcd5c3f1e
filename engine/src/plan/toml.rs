//! The plan file's TOML, walked by hand with spans, so that every problem is reported with its
//! line and column, all at once (serde would stop at the first).

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use ::toml::Spanned;
use ::toml::de::{DeTable, DeValue};

use crate::error::Problem;
use crate::names::is_safe_name;
use crate::plan::catalog::Catalog;

use super::keys::INTERNAL_PLAN_KEYS;
use super::routes::RawRoute;
use super::{Input, Plan, Route, Routes, TargetSets};

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Where the `nth` error that the TOML parser reports without a span (such as "recursion
/// limit" for a key of too many dotted parts) arises: the first non-blank byte of the first line
/// whose prefix of `text` already shows `nth` such errors. Errors of a cut-off prefix that the
/// whole text does not have carry spans, so only the spanless ones are counted.
fn spanless_error_line(text: &str, nth: usize) -> usize {
    let ends: Vec<usize> = text.match_indices('\n').map(|(at, _)| at + 1).chain([text.len()]).collect();
    let shows =
        |end: usize| DeTable::parse_recoverable(&text[..end]).1.iter().filter(|e| e.span().is_none()).count() >= nth;
    let line = ends.partition_point(|&end| !shows(end)).min(ends.len() - 1);
    let start = if line == 0 { 0 } else { ends[line - 1] };
    let blank = text[start..ends[line]].find(|c: char| !c.is_whitespace()).unwrap_or(0);
    start + blank
}

pub(super) struct Reader<'t> {
    pub(super) text: &'t str,
    pub(super) problems: Vec<Problem>,
    /// The catalog could not be loaded: why, and where the plan names it.
    pub(super) catalog_error: Option<(devdist_formats::Error, Range<usize>)>,
    /// The catalog file as the plan names it, once loaded.
    pub(super) catalog_name: Option<String>,
}

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

impl<'t> Reader<'t> {
    pub(super) fn problem(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_and_column(self.text, span.start);
        self.problems.push(Problem { line, column, message: message.into() });
    }

    pub(super) fn plan(&mut self, base: &Path) -> Option<Plan> {
        let (document, syntax) = DeTable::parse_recoverable(self.text);
        let mut spanless = 0;
        for err in syntax {
            let span = err.span().unwrap_or_else(|| {
                spanless += 1;
                let at = spanless_error_line(self.text, spanless);
                at..at
            });
            let message = err.message().trim().to_string();
            self.problem(span, format!("TOML syntax: {message}"));
        }
        let top = document.get_ref();
        let whole = 0..0;
        self.unknown_keys(top, "");

        let account = match top.get("account") {
            Some(value) => self.string(value, "account").filter(|uid| self.safe(uid, value.span(), "account")),
            None => {
                self.problem(whole.clone(), "missing `account` (the UID that owns the source devices)");
                None
            }
        };
        let account_span = top.get("account").map_or(whole.clone(), |value| value.span());

        let (inputs, catalog) = self.inputs(top.get("inputs"), base);
        let (devices_per_job, jobs_per_wave) = self.limits(top.get("limits"));
        let raw_routes = self.raw_routes(top.get("routes"));
        let redrive_of = top.get("redrive_of").and_then(|value| self.string(value, "redrive_of"));
        let return_of = top.get("return_of").and_then(|value| self.string(value, "return_of"));

        if let (Some(account), Some(catalog)) = (&account, &catalog) {
            self.owns_something(account, account_span, catalog, &raw_routes);
        }

        // Routes are checked even when the account or the catalog is unusable, so that every
        // problem shows at once; only a complete plan resolves them.
        let mut target_sets = catalog.as_ref().map(TargetSets::new);
        let default_uid = account.clone().unwrap_or_default();
        let routes: Vec<Option<Route>> = raw_routes
            .into_iter()
            .map(|raw| self.resolve(raw, catalog.as_ref(), &default_uid, target_sets.as_mut()))
            .collect();
        let catalog = catalog?;
        let routes = Routes::new(routes.into_iter().collect::<Option<Vec<Route>>>()?, &catalog);
        Some(Plan {
            account: account?,
            inputs,
            catalog,
            routes,
            target_sets: target_sets?,
            devices_per_job: devices_per_job?,
            jobs_per_wave: jobs_per_wave?,
            redrive_of,
            return_of,
        })
    }

    /// An `account` that owns none of the instances the catalog states an owner for would see
    /// every device of those instances rejected as `not_owner`: a wrong `account` (or a catalog
    /// of another account), said once as a plan problem at `account` (docs/inputs.md §2.1).
    /// Instances whose owner a route names as its `target_uid` are destinations, not sources, so
    /// they do not count: a plan that moves devices from public instances to another account's
    /// instances stays valid.
    fn owns_something(&mut self, account: &str, span: Range<usize>, catalog: &Catalog, routes: &[RawRoute]) {
        let destination =
            |uid: &str| routes.iter().any(|route| route.target_uid.as_ref().is_some_and(|(t, _)| t == uid));
        let owners: BTreeSet<&str> = catalog.instances().iter().filter_map(|i| i.owner_uid.as_deref()).collect();
        if owners.contains(account) || owners.iter().all(|owner| destination(owner)) {
            return;
        }
        const SHOWN: usize = 5;
        let mut listed: Vec<String> = owners.iter().take(SHOWN).map(|owner| format!("{owner:?}")).collect();
        if owners.len() > SHOWN {
            listed.push(format!("and {} more", owners.len() - SHOWN));
        }
        let file = self.catalog_name.clone().unwrap_or_else(|| "the catalog".to_string());
        let noun = if owners.len() == 1 { "account" } else { "accounts" };
        self.problem(
            span,
            format!(
                "`account` {account:?} owns none of the instances {file} lists (their owner_uid is {noun} {}): \
                 every device in them would be rejected as not_owner. Set `account` to the UID that owns the \
                 source devices, or correct owner_uid in {file}",
                listed.join(", ")
            ),
        );
    }

    /// Reports every key of `table` (at `within`, a path with a trailing dot, `""` at the top)
    /// that [`PLAN_KEYS`](super::keys::PLAN_KEYS) does not list there.
    pub(super) fn unknown_keys(&mut self, table: &DeTable, within: &str) {
        let known = super::keys::keys_within(within);
        for (key, _) in table.iter() {
            // Written by `devdist redrive` and `devdist return` into the plans they derive; not
            // offered to people.
            let internal = within.is_empty() && INTERNAL_PLAN_KEYS.contains(&key.get_ref().as_ref());
            if !internal && !known.contains(&key.get_ref().as_ref()) {
                let expected = known.join(", ");
                self.problem(
                    key.span(),
                    format!("unknown key `{within}{}` (expected one of: {expected})", key.get_ref()),
                );
            }
        }
    }

    pub(super) fn string(&mut self, value: &Value, what: &str) -> Option<String> {
        match value.get_ref().as_str() {
            Some(text) => Some(text.to_string()),
            None => {
                self.problem(value.span(), format!("`{what}` must be a string, not {}", value.get_ref().type_str()));
                None
            }
        }
    }

    pub(super) fn safe(&mut self, name: &str, span: Range<usize>, what: &str) -> bool {
        let ok = is_safe_name(name);
        if !ok {
            self.problem(
                span,
                format!("`{what}` {name:?} is not a safe name (1-128 characters of A-Z a-z 0-9 _ - ., not . or ..)"),
            );
        }
        ok
    }

    /// A list of strings; a single string is taken as a list of one.
    pub(super) fn strings(&mut self, value: &Value, what: &str) -> Option<Vec<(String, Range<usize>)>> {
        match value.get_ref() {
            DeValue::String(text) => Some(vec![(text.to_string(), value.span())]),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    out.push((self.string(item, what)?, item.span()));
                }
                Some(out)
            }
            other => {
                self.problem(value.span(), format!("`{what}` must be a list of strings, not {}", other.type_str()));
                None
            }
        }
    }

    pub(super) fn table<'v, 'i>(&mut self, value: &'v Value<'i>, what: &str) -> Option<&'v DeTable<'i>> {
        match value.get_ref().as_table() {
            Some(table) => Some(table),
            None => {
                self.problem(value.span(), format!("`{what}` must be a table, not {}", value.get_ref().type_str()));
                None
            }
        }
    }

    pub(super) fn inputs(&mut self, value: Option<&Value>, base: &Path) -> (Vec<Input>, Option<Catalog>) {
        let Some(value) = value else {
            self.problem(0..0, "missing `[inputs]` (with `inventory = [\"devices.csv\"]`)");
            return (Vec::new(), None);
        };
        let Some(table) = self.table(value, "inputs") else { return (Vec::new(), None) };
        self.unknown_keys(table, "inputs.");
        let mut inputs = Vec::new();
        let mut seen: Vec<(SameFile, String, Range<usize>)> = Vec::new();
        match table.get("inventory") {
            None => self.problem(value.span(), "missing `inputs.inventory` (a list of .csv or .parquet files)"),
            Some(list) => {
                let names = self.strings(list, "inputs.inventory").unwrap_or_default();
                if names.is_empty() && list.get_ref().is_array() {
                    self.problem(list.span(), "`inputs.inventory` lists no files");
                }
                for (entry, span) in names {
                    let files = match expand_inventory(base, &entry) {
                        Ok(files) => files,
                        Err(problem) => {
                            self.problem(span, problem);
                            continue;
                        }
                    };
                    for name in files {
                        let path = base.join(&name);
                        let identity = SameFile::of(&path);
                        match seen.iter().find(|(other, _, _)| *other == identity) {
                            Some((_, first, at)) => {
                                let (line, column) = line_and_column(self.text, at.start);
                                let message = format!(
                                    "{name:?} is the same file as {first:?} (line {line}, column {column}): \
                                     an inventory is listed once"
                                );
                                self.problem(span.clone(), message);
                            }
                            None => {
                                seen.push((identity, name.clone(), span.clone()));
                                inputs.push(Input { path, name });
                            }
                        }
                    }
                }
            }
        }
        let catalog = match table.get("instances") {
            None => Some(Catalog::public()),
            Some(value) => match self.string(value, "inputs.instances") {
                None => None,
                Some(name) if name.is_empty() => {
                    self.problem(value.span(), "`inputs.instances` is empty (name a catalog file, or leave it out)");
                    None
                }
                Some(name) => match Catalog::load(&base.join(&name)) {
                    Ok(catalog) => {
                        self.catalog_name = Some(name);
                        Some(catalog)
                    }
                    Err(err) => {
                        self.catalog_error = Some((err, value.span()));
                        None
                    }
                },
            },
        };
        (inputs, catalog)
    }

    pub(super) fn limits(&mut self, value: Option<&Value>) -> (Option<usize>, Option<usize>) {
        use devdist_platform::limits::{MAX_DEVICES_PER_JOB, MAX_JOBS_IN_FLIGHT};
        let Some(value) = value else { return (Some(MAX_DEVICES_PER_JOB), Some(MAX_JOBS_IN_FLIGHT)) };
        let Some(table) = self.table(value, "limits") else { return (None, None) };
        self.unknown_keys(table, "limits.");
        let devices = self.limit(table.get("devices_per_job"), "limits.devices_per_job", MAX_DEVICES_PER_JOB as i64);
        let waves = self.limit(table.get("jobs_per_wave"), "limits.jobs_per_wave", MAX_JOBS_IN_FLIGHT as i64);
        (devices, waves)
    }

    pub(super) fn limit(&mut self, value: Option<&Value>, what: &str, max: i64) -> Option<usize> {
        let Some(value) = value else { return Some(max as usize) };
        let number = value
            .get_ref()
            .as_integer()
            .and_then(|n| i64::from_str_radix(&n.as_str().replace('_', ""), n.radix()).ok());
        match number {
            Some(n) if (1..=max).contains(&n) => Some(n as usize),
            _ => {
                self.problem(value.span(), format!("`{what}` must be a whole number from 1 to {max}"));
                None
            }
        }
    }
}

/// What makes two inventory paths the same file: the device and inode it resolves to (through
/// `./`, `..` and symlinks, and for hard links too), or, for a path that cannot be looked at
/// (a missing file, reported when it is opened), the path with its `.` parts dropped.
#[derive(Debug, PartialEq, Eq)]
enum SameFile {
    Inode(u64, u64),
    Path(std::path::PathBuf),
}

impl SameFile {
    fn of(path: &Path) -> SameFile {
        use std::os::unix::fs::MetadataExt;
        use std::path::Component;
        match std::fs::metadata(path) {
            Ok(meta) => SameFile::Inode(meta.dev(), meta.ino()),
            Err(_) => SameFile::Path(path.components().filter(|part| *part != Component::CurDir).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::plan::Plan;

    /// The plan problems of `inventory` (a TOML list) in a folder with `devices.csv`, a symlink
    /// `link.csv` to it and another file `other.csv`, as (line, column, message).
    fn problems(inventory: &str) -> Vec<(usize, usize, String)> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("devices.csv"), "product_key\n").unwrap();
        std::fs::write(dir.path().join("other.csv"), "product_key\n").unwrap();
        std::os::unix::fs::symlink("devices.csv", dir.path().join("link.csv")).unwrap();
        let plan = format!("account = \"1234567890123456\"\n[inputs]\ninventory = {inventory}\n");
        std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
        match Plan::load(&dir.path().join("plan.toml")) {
            Ok(_) => Vec::new(),
            Err(Error::Plan(plan)) => plan.problems.into_iter().map(|p| (p.line, p.column, p.message)).collect(),
            Err(err) => panic!("not a plan error: {err}"),
        }
    }

    #[test]
    fn an_inventory_listed_twice_is_a_plan_error_at_its_second_name() {
        assert_eq!(problems(r#"["devices.csv", "other.csv"]"#), []);
        let got = problems(r#"["devices.csv", "./devices.csv", "other.csv", "link.csv", "gone.csv", "./gone.csv"]"#);
        let twice = |name: &str, first: &str, column: usize| {
            format!("{name:?} is the same file as {first:?} (line 3, column {column}): an inventory is listed once")
        };
        assert_eq!(
            got,
            [
                (3, 29, twice("./devices.csv", "devices.csv", 14)),
                (3, 59, twice("link.csv", "devices.csv", 14)),
                (3, 83, twice("./gone.csv", "gone.csv", 71)),
            ]
        );
    }
}

/// The inventory files one `inputs.inventory` entry names, as plan-relative names in the
/// order they are read (docs/inputs.md §2.2): a `.csv` or `.parquet` file; a folder, meaning
/// every `.csv` and `.parquet` file in it by name, as Spark, DuckDB and Polars write
/// partitioned exports (hidden files, `_SUCCESS` and other `_` files, and `.crc` files are
/// skipped); or a glob in the file name (`exports/part-*.parquet`: `*` any run of characters,
/// `?` one). A folder or glob that matches no file is a problem, said in the error.
fn expand_inventory(base: &Path, entry: &str) -> Result<Vec<String>, String> {
    let is_inventory = |name: &str| {
        let extension = Path::new(name).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        matches!(extension.as_deref(), Some("csv" | "parquet"))
    };
    let (folder, pattern) = match entry.rsplit_once('/') {
        Some((folder, last)) => (folder, last),
        None => ("", entry),
    };
    if folder.contains(['*', '?']) {
        return Err(format!("{entry:?}: a glob may only be in the file name, not in a folder"));
    }
    let globbed = pattern.contains(['*', '?']);
    if !globbed && !base.join(entry).is_dir() {
        if is_inventory(entry) {
            return Ok(vec![entry.to_string()]);
        }
        return Err(format!(
            "{entry:?}: unknown inventory format (expected .csv or .parquet, a folder of them, or a glob)"
        ));
    }
    let (folder, pattern) = if globbed { (folder, pattern) } else { (entry.trim_end_matches('/'), "*") };
    let listed = std::fs::read_dir(base.join(folder)).map_err(|err| {
        format!(
            "{entry:?}: cannot list {}: {}",
            if folder.is_empty() { "." } else { folder },
            devdist_formats::describe_io(&err)
        )
    })?;
    let mut names: Vec<String> = listed
        .filter_map(|found| found.ok())
        .filter(|found| found.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .filter_map(|found| found.file_name().into_string().ok())
        .filter(|name| !name.starts_with(['.', '_']) && !name.ends_with(".crc"))
        .filter(|name| is_inventory(name) && matches_glob(pattern.as_bytes(), name.as_bytes()))
        .map(|name| if folder.is_empty() { name } else { format!("{folder}/{name}") })
        .collect();
    names.sort_unstable();
    if names.is_empty() {
        return Err(format!("{entry:?} matches no .csv or .parquet file"));
    }
    Ok(names)
}

/// Whether `name` matches `pattern`, where `*` is any run of bytes and `?` any one byte. Written
/// here rather than taken from a crate: one path component, two wildcards.
fn matches_glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => matches_glob(rest, name) || (!name.is_empty() && matches_glob(pattern, &name[1..])),
        (Some((b'?', rest)), Some((_, tail))) => matches_glob(rest, tail),
        (Some((p, rest)), Some((n, tail))) if p == n => matches_glob(rest, tail),
        _ => false,
    }
}

#[cfg(test)]
mod inventory_tests {
    use super::*;

    #[test]
    fn folders_and_globs_name_their_part_files_in_order_and_skip_markers() {
        let dir = tempfile::tempdir().unwrap();
        let spark = dir.path().join("export");
        std::fs::create_dir(&spark).unwrap();
        for name in [
            "part-00001-a.snappy.parquet",
            "part-00000-b.snappy.parquet",
            "_SUCCESS",
            ".part-00000-b.snappy.parquet.crc",
            "_committed_1",
        ] {
            std::fs::write(spark.join(name), b"x").unwrap();
        }
        let both = ["export/part-00000-b.snappy.parquet", "export/part-00001-a.snappy.parquet"];
        assert_eq!(expand_inventory(dir.path(), "export").unwrap(), both);
        assert_eq!(expand_inventory(dir.path(), "export/").unwrap(), both);
        assert_eq!(expand_inventory(dir.path(), "export/part-*.parquet").unwrap(), both);
        assert_eq!(expand_inventory(dir.path(), "export/part-0000?-a*").unwrap(), [both[1]]);
        assert_eq!(expand_inventory(dir.path(), "devices.csv").unwrap(), ["devices.csv"]);
        assert!(expand_inventory(dir.path(), "export/*.csv").unwrap_err().contains("matches no .csv or .parquet file"));
        assert!(expand_inventory(dir.path(), "devices.json").unwrap_err().contains("unknown inventory format"));
        assert!(expand_inventory(dir.path(), "*/part.csv").unwrap_err().contains("only be in the file name"));
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        assert!(expand_inventory(dir.path(), "empty").unwrap_err().contains("matches no"));
    }
}
