//! The plan file (SPEC §2.1): parsed, checked against the catalog, every problem reported at
//! once with its line and column before any inventory is read.

pub(crate) mod catalog;

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{Error, PlanProblems, Problem};
use crate::names::is_safe_name;
use crate::plan::catalog::{Catalog, InstanceId};

/// How a destination is chosen (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Exactly one target instance (API value 0).
    SpecifiedRegion,
    /// One candidate instance per region; the device lands where it connects (API value 1).
    NearestAccess,
}

impl Strategy {
    /// The name used in plans and outputs.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::SpecifiedRegion => "specified_region",
            Strategy::NearestAccess => "nearest_access",
        }
    }

    /// The value of the API's `Strategy` parameter.
    pub fn api_value(self) -> u8 {
        match self {
            Strategy::SpecifiedRegion => 0,
            Strategy::NearestAccess => 1,
        }
    }
}

/// Index into [`TargetSets`]. Equal ids mean equal target lists.
pub type TargetSetId = u32;

/// Every list of target instances a device can get. The first `catalog.len()` sets are the
/// single instances (so a per-row target needs no allocation); route lists follow, deduplicated.
#[derive(Debug, Clone)]
pub struct TargetSets {
    sets: Vec<Vec<InstanceId>>,
}

impl TargetSets {
    fn new(catalog: &Catalog) -> TargetSets {
        TargetSets { sets: (0..catalog.len() as InstanceId).map(|id| vec![id]).collect() }
    }

    /// The set holding exactly `instance`.
    pub fn single(instance: InstanceId) -> TargetSetId {
        instance
    }

    fn intern(&mut self, mut targets: Vec<InstanceId>, catalog: &Catalog) -> TargetSetId {
        targets.sort_by(|a, b| catalog.get(*a).id.cmp(&catalog.get(*b).id));
        match self.sets.iter().position(|set| *set == targets) {
            Some(at) => at as TargetSetId,
            None => {
                self.sets.push(targets);
                (self.sets.len() - 1) as TargetSetId
            }
        }
    }

    /// Number of sets.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether there are no sets (only with an empty catalog).
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The instances of a set, ordered by instance ID.
    pub fn get(&self, id: TargetSetId) -> &[InstanceId] {
        &self.sets[id as usize]
    }
}

/// One `[[routes]]` entry, resolved against the catalog.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's name (or `route N`).
    pub name: String,
    /// `match.product_key`, when given.
    pub product_keys: Option<HashSet<String>>,
    /// `match.source_instance`, when given.
    pub source_instances: Option<HashSet<String>>,
    /// `match.source_region`, when given.
    pub source_regions: Option<HashSet<String>>,
    /// How the destination is chosen.
    pub strategy: Strategy,
    /// The target instances.
    pub targets: TargetSetId,
    /// The destination account.
    pub target_uid: String,
}

/// An inventory file of the plan.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as written in the plan (used in reports, so they do not depend on where the
    /// plan lives).
    pub name: String,
    /// The path resolved against the plan's folder.
    pub path: PathBuf,
}

/// A checked plan: what to read, where it may go, and the limits of the API.
#[derive(Debug, Clone)]
pub struct Plan {
    /// UID of the account that owns the source devices.
    pub account: String,
    /// Inventory files in plan order.
    pub inputs: Vec<Input>,
    /// Public instances plus the plan's catalog.
    pub catalog: Catalog,
    /// Routes in file order (first match wins).
    pub routes: Vec<Route>,
    /// Target lists referenced by routes and rows.
    pub target_sets: TargetSets,
    /// Devices per job, 1..=10000.
    pub devices_per_job: usize,
    /// Jobs per wave, 1..=10.
    pub jobs_per_wave: usize,
}

impl Plan {
    /// Reads and checks the plan at `path`, loading its catalog.
    pub fn load(path: &Path) -> Result<Plan, Error> {
        let read = devdist_formats::require_regular_file(path)
            .and_then(|()| std::fs::read(path).map_err(|err| devdist_formats::Error::io(path, err)));
        let text = read.map_err(|err| Error::invocation(err.to_string()))?;
        let text = String::from_utf8(text).map_err(|err| {
            let valid = std::str::from_utf8(&err.as_bytes()[..err.utf8_error().valid_up_to()]).unwrap_or_default();
            let (line, column) = line_and_column(valid, valid.len());
            Error::invocation(format!("{}:{line}:{column}: the plan is not UTF-8", path.display()))
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut reader = Reader { text: &text, problems: Vec::new(), catalog_error: None };
        let plan = reader.plan(&base);
        let mut problems = reader.problems;
        problems.sort_by_key(|p| (p.line, p.column));
        problems.dedup();
        match (plan, reader.catalog_error) {
            (Some(plan), None) if problems.is_empty() => Ok(plan),
            // An unreadable catalog is a bad input file, unless the plan itself is also wrong.
            (_, Some((err, _))) if problems.is_empty() => Err(Error::Input(vec![err])),
            (_, catalog_error) => {
                if let Some((err, at)) = catalog_error {
                    let (line, column) = line_and_column(&text, at.start);
                    problems.push(Problem { line, column, message: format!("instance catalog: {err}") });
                    problems.sort_by_key(|p| (p.line, p.column));
                }
                if problems.is_empty() {
                    problems.push(Problem { line: 1, column: 1, message: "the plan is incomplete".to_string() });
                }
                Err(Error::Plan(PlanProblems { path: path.to_path_buf(), problems }))
            }
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

struct Reader<'t> {
    text: &'t str,
    problems: Vec<Problem>,
    /// The catalog could not be loaded: why, and where the plan names it.
    catalog_error: Option<(devdist_formats::Error, Range<usize>)>,
}

type Value<'i> = Spanned<DeValue<'i>>;

/// Fields of a `[[routes]]` entry as written, before resolution.
struct RawRoute<'i> {
    span: Range<usize>,
    name: String,
    product_keys: Option<HashSet<String>>,
    source_instances: Option<HashSet<String>>,
    source_regions: Option<HashSet<String>>,
    strategy: Option<Strategy>,
    targets: Vec<(String, Range<usize>)>,
    target_uid: Option<(String, Range<usize>)>,
    _marker: std::marker::PhantomData<&'i ()>,
}

impl<'t> Reader<'t> {
    fn problem(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_and_column(self.text, span.start);
        self.problems.push(Problem { line, column, message: message.into() });
    }

    fn plan(&mut self, base: &Path) -> Option<Plan> {
        let (document, syntax) = DeTable::parse_recoverable(self.text);
        for err in syntax {
            let span = err.span().unwrap_or(0..0);
            let message = err.message().trim().to_string();
            self.problem(span, format!("TOML syntax: {message}"));
        }
        let top = document.get_ref();
        let whole = 0..0;
        self.unknown_keys(top, &["account", "inputs", "limits", "routes"], "");

        let account = match top.get("account") {
            Some(value) => self.string(value, "account").filter(|uid| self.safe(uid, value.span(), "account")),
            None => {
                self.problem(whole.clone(), "missing `account` (the UID that owns the source devices)");
                None
            }
        };

        let (inputs, catalog) = self.inputs(top.get("inputs"), base);
        let (devices_per_job, jobs_per_wave) = self.limits(top.get("limits"));
        let raw_routes = self.raw_routes(top.get("routes"));

        // Routes are checked even when the account or the catalog is unusable, so that every
        // problem shows at once; only a complete plan resolves them.
        let mut target_sets = catalog.as_ref().map(TargetSets::new);
        let default_uid = account.clone().unwrap_or_default();
        let routes: Vec<Option<Route>> = raw_routes
            .into_iter()
            .map(|raw| self.resolve(raw, catalog.as_ref(), &default_uid, target_sets.as_mut()))
            .collect();
        Some(Plan {
            account: account?,
            inputs,
            catalog: catalog?,
            routes: routes.into_iter().collect::<Option<Vec<Route>>>()?,
            target_sets: target_sets?,
            devices_per_job: devices_per_job?,
            jobs_per_wave: jobs_per_wave?,
        })
    }

    fn unknown_keys(&mut self, table: &DeTable, known: &[&str], within: &str) {
        for (key, _) in table.iter() {
            if !known.contains(&key.get_ref().as_ref()) {
                let expected = known.join(", ");
                self.problem(
                    key.span(),
                    format!("unknown key `{within}{}` (expected one of: {expected})", key.get_ref()),
                );
            }
        }
    }

    fn string(&mut self, value: &Value, what: &str) -> Option<String> {
        match value.get_ref().as_str() {
            Some(text) => Some(text.to_string()),
            None => {
                self.problem(value.span(), format!("`{what}` must be a string, not {}", value.get_ref().type_str()));
                None
            }
        }
    }

    fn safe(&mut self, name: &str, span: Range<usize>, what: &str) -> bool {
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
    fn strings(&mut self, value: &Value, what: &str) -> Option<Vec<(String, Range<usize>)>> {
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

    fn table<'v, 'i>(&mut self, value: &'v Value<'i>, what: &str) -> Option<&'v DeTable<'i>> {
        match value.get_ref().as_table() {
            Some(table) => Some(table),
            None => {
                self.problem(value.span(), format!("`{what}` must be a table, not {}", value.get_ref().type_str()));
                None
            }
        }
    }

    fn inputs(&mut self, value: Option<&Value>, base: &Path) -> (Vec<Input>, Option<Catalog>) {
        let Some(value) = value else {
            self.problem(0..0, "missing `[inputs]` (with `inventory = [\"devices.csv\"]`)");
            return (Vec::new(), None);
        };
        let Some(table) = self.table(value, "inputs") else { return (Vec::new(), None) };
        self.unknown_keys(table, &["inventory", "instances"], "inputs.");
        let mut inputs = Vec::new();
        match table.get("inventory") {
            None => self.problem(value.span(), "missing `inputs.inventory` (a list of .csv or .parquet files)"),
            Some(list) => {
                let names = self.strings(list, "inputs.inventory").unwrap_or_default();
                if names.is_empty() && list.get_ref().is_array() {
                    self.problem(list.span(), "`inputs.inventory` lists no files");
                }
                for (name, span) in names {
                    match Path::new(&name).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref()
                    {
                        Some("csv" | "parquet") => inputs.push(Input { path: base.join(&name), name }),
                        _ => self
                            .problem(span, format!("{name:?}: unknown inventory format (expected .csv or .parquet)")),
                    }
                }
            }
        }
        let catalog = match table.get("instances") {
            None => Some(Catalog::public()),
            Some(value) => match self.string(value, "inputs.instances") {
                None => None,
                Some(name) => match Catalog::load(&base.join(&name)) {
                    Ok(catalog) => Some(catalog),
                    Err(err) => {
                        self.catalog_error = Some((err, value.span()));
                        None
                    }
                },
            },
        };
        (inputs, catalog)
    }

    fn limits(&mut self, value: Option<&Value>) -> (Option<usize>, Option<usize>) {
        let Some(value) = value else { return (Some(10_000), Some(10)) };
        let Some(table) = self.table(value, "limits") else { return (None, None) };
        self.unknown_keys(table, &["devices_per_job", "jobs_per_wave"], "limits.");
        let devices = self.limit(table.get("devices_per_job"), "limits.devices_per_job", 10_000);
        let waves = self.limit(table.get("jobs_per_wave"), "limits.jobs_per_wave", 10);
        (devices, waves)
    }

    fn limit(&mut self, value: Option<&Value>, what: &str, max: i64) -> Option<usize> {
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

    fn raw_routes<'i>(&mut self, value: Option<&Value<'i>>) -> Vec<RawRoute<'i>> {
        let Some(value) = value else {
            return Vec::new();
        };
        let Some(items) = value.get_ref().as_array() else {
            self.problem(value.span(), "`routes` must be an array of tables (`[[routes]]`)");
            return Vec::new();
        };
        let mut routes = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let Some(table) = self.table(item, "routes") else { continue };
            if let Some(route) = self.raw_route(index, item.span(), table) {
                routes.push(route);
            }
        }
        routes
    }

    fn raw_route<'i>(&mut self, index: usize, span: Range<usize>, table: &DeTable<'i>) -> Option<RawRoute<'i>> {
        self.unknown_keys(table, &["name", "match", "strategy", "targets", "target_uid"], "routes.");
        let name = match table.get("name") {
            Some(value) => self.string(value, "routes.name").unwrap_or_default(),
            None => format!("route {}", index + 1),
        };
        let mut route = RawRoute {
            span: span.clone(),
            name,
            product_keys: None,
            source_instances: None,
            source_regions: None,
            strategy: None,
            targets: Vec::new(),
            target_uid: None,
            _marker: std::marker::PhantomData,
        };
        if let Some(value) = table.get("match") {
            if let Some(matcher) = self.table(value, "routes.match") {
                self.unknown_keys(matcher, &["product_key", "source_instance", "source_region"], "routes.match.");
                let set = |key: &str, reader: &mut Self| {
                    matcher.get(key).map(|list| {
                        reader
                            .strings(list, &format!("routes.match.{key}"))
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(s, _)| s)
                            .collect()
                    })
                };
                route.product_keys = set("product_key", self);
                route.source_instances = set("source_instance", self);
                route.source_regions = set("source_region", self);
            }
        }
        match table.get("strategy") {
            None => self.problem(
                span.clone(),
                format!("route {:?}: missing `strategy` (specified_region or nearest_access)", route.name),
            ),
            Some(value) => match value.get_ref().as_str() {
                Some("specified_region") => route.strategy = Some(Strategy::SpecifiedRegion),
                Some("nearest_access") => route.strategy = Some(Strategy::NearestAccess),
                _ => self.problem(
                    value.span(),
                    format!("route {:?}: `strategy` must be \"specified_region\" or \"nearest_access\"", route.name),
                ),
            },
        }
        match table.get("targets") {
            None => self.problem(span.clone(), format!("route {:?}: missing `targets` (instance IDs)", route.name)),
            Some(value) => {
                route.targets = self.strings(value, "routes.targets").unwrap_or_default();
                if route.targets.is_empty() && value.get_ref().is_array() {
                    self.problem(value.span(), format!("route {:?}: `targets` is empty", route.name));
                }
            }
        }
        if let Some(value) = table.get("target_uid") {
            route.target_uid = self.string(value, "routes.target_uid").map(|uid| (uid, value.span()));
        }
        Some(route)
    }

    /// Checks a route; with a catalog, resolves its targets. Name rules are checked without
    /// one, catalog membership and regions only with one.
    fn resolve(
        &mut self,
        raw: RawRoute,
        catalog: Option<&Catalog>,
        account: &str,
        sets: Option<&mut TargetSets>,
    ) -> Option<Route> {
        let name = raw.name.clone();
        let target_uid = match raw.target_uid {
            Some((uid, span)) => self.safe(&uid, span, "routes.target_uid").then_some(uid),
            None => Some(account.to_string()),
        };
        let mut ids = Vec::new();
        let mut ok = true;
        for (index, (target, span)) in raw.targets.iter().enumerate() {
            if !is_safe_name(target) {
                ok = self.safe(target, span.clone(), "routes.targets") && ok;
                continue;
            }
            if raw.targets[..index].iter().any(|(earlier, _)| earlier == target) {
                self.problem(span.clone(), format!("route {name:?}: target {target:?} is listed twice"));
                ok = false;
                continue;
            }
            match catalog.map(|catalog| catalog.find(target)) {
                Some(Some(id)) => ids.push(id),
                Some(None) => {
                    self.problem(
                        span.clone(),
                        format!("route {name:?}: target {target:?} is not in the instance catalog"),
                    );
                    ok = false;
                }
                None => {}
            }
        }
        let strategy = raw.strategy?;
        if strategy == Strategy::SpecifiedRegion && raw.targets.len() > 1 {
            let message =
                format!("route {name:?}: specified_region takes exactly one target, not {}", raw.targets.len());
            self.problem(raw.span.clone(), message);
            ok = false;
        }
        let catalog = catalog?;
        if strategy == Strategy::NearestAccess {
            let mut regions: Vec<(&str, &str)> = Vec::new();
            for &id in &ids {
                let instance = catalog.get(id);
                if let Some((other, _)) = regions.iter().find(|(_, region)| *region == instance.region) {
                    let message = format!(
                        "route {name:?}: nearest_access targets must lie in distinct regions, but {other:?} and {:?} are both in {}",
                        instance.id, instance.region
                    );
                    self.problem(raw.span.clone(), message);
                    ok = false;
                }
                regions.push((&instance.id, &instance.region));
            }
        }
        if !ok || ids.is_empty() {
            return None;
        }
        Some(Route {
            name,
            product_keys: raw.product_keys,
            source_instances: raw.source_instances,
            source_regions: raw.source_regions,
            strategy,
            targets: sets?.intern(ids, catalog),
            target_uid: target_uid?,
        })
    }
}
