//! The plan file (docs/inputs.md §2): parsed, checked against the catalog, every problem reported at
//! once with its line and column before any inventory is read.

pub(crate) mod catalog;
pub(crate) mod keys;
mod routes;
mod toml;

pub(crate) use routes::Routes;

use toml::{Reader, line_and_column};

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, PlanProblems, Problem};
use crate::plan::catalog::{Catalog, InstanceId};

pub use devdist_platform::Strategy;

/// Index into [`TargetSets`]. Equal ids mean equal target lists.
pub(crate) type TargetSetId = u32;

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
    /// Routes in file order (first match wins), indexed.
    pub routes: Routes,
    /// Target lists referenced by routes and rows.
    pub target_sets: TargetSets,
    /// Devices per job, 1..=10000.
    pub devices_per_job: usize,
    /// Jobs per wave, 1..=10.
    pub jobs_per_wave: usize,
    /// Set by `devdist redrive`: which run this plan re-drives. Folded into every job id, so
    /// the re-driven jobs never share an id with the jobs they repeat.
    pub redrive_of: Option<String>,
    /// Set by `devdist return`: which runs this plan sends back home, folded into job ids
    /// likewise.
    pub return_of: Option<String>,
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
            Error::invocation(format!("{}:{line}:{column}: the plan is not UTF-8", devdist_formats::shown(path)))
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut reader = Reader { text: &text, problems: Vec::new(), catalog_error: None, catalog_name: None };
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
