//! `[[routes]]` entries: read as written (`RawRoute`), then resolved against the catalog and
//! indexed for matching (`Routes`).

use std::collections::HashSet;
use std::ops::{Deref, Range};

use ::toml::de::DeTable;
use rustc_hash::FxHashMap;

use crate::names::is_safe_name;
use crate::plan::catalog::{Catalog, InstanceId};

use super::toml::{Reader, Value};
use super::{Route, Strategy, TargetSets};

/// Fields of a `[[routes]]` entry as written, before resolution.
pub(super) struct RawRoute<'i> {
    pub(super) span: Range<usize>,
    pub(super) name: String,
    pub(super) product_keys: Option<HashSet<String>>,
    pub(super) source_instances: Option<HashSet<String>>,
    pub(super) source_regions: Option<HashSet<String>>,
    pub(super) strategy: Option<Strategy>,
    pub(super) targets: Vec<(String, Range<usize>)>,
    pub(super) target_uid: Option<(String, Range<usize>)>,
    pub(super) _marker: std::marker::PhantomData<&'i ()>,
}

impl<'t> Reader<'t> {
    pub(super) fn raw_routes<'i>(&mut self, value: Option<&Value<'i>>) -> Vec<RawRoute<'i>> {
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

    pub(super) fn raw_route<'i>(
        &mut self,
        index: usize,
        span: Range<usize>,
        table: &DeTable<'i>,
    ) -> Option<RawRoute<'i>> {
        self.unknown_keys(table, "routes.");
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
        if let Some(value) = table.get("match")
            && let Some(matcher) = self.table(value, "routes.match")
        {
            self.unknown_keys(matcher, "routes.match.");
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
    pub(super) fn resolve(
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

/// The plan's routes in file order, indexed by what they match: finding the route of a
/// record costs a handful of hash lookups, however many routes the plan has.
///
/// A route matches a (product key, source instance, source region) when each of its match
/// keys that is given lists the value; the first matching route in file order wins
/// (docs/inputs.md §2.4). The index keeps, for every product key a route lists (or "any product key") and
/// every instance, region (or "anywhere") it lists, the number of the first route there; a
/// lookup takes the lowest of the at most six entries the record's values reach. A route that
/// lists both instances and regions is indexed by the instances that lie in those regions
/// (a source instance has one region, and only catalog instances reach routing). The index
/// holds, per route, the number of its product keys (or 1) times the number of its instances,
/// else regions (or 1).
#[derive(Debug, Clone, Default)]
pub struct Routes {
    list: Vec<Route>,
    by_product: FxHashMap<String, Places>,
    any_product: Places,
}

/// Where the routes of one product key (or of any) apply, each with its first route's number.
#[derive(Debug, Clone, Default)]
struct Places {
    instances: FxHashMap<InstanceId, u32>,
    regions: FxHashMap<String, u32>,
    anywhere: Option<u32>,
}

impl Places {
    fn first(&self, instance: InstanceId, region: &str) -> Option<u32> {
        let at_instance = self.instances.get(&instance).copied();
        let in_region = self.regions.get(region).copied();
        [at_instance, in_region, self.anywhere].into_iter().flatten().min()
    }

    /// Records route `index` for `route`'s places; an earlier route there keeps its place.
    fn insert(&mut self, index: u32, route: &Route, catalog: &Catalog) {
        match (&route.source_instances, &route.source_regions) {
            (Some(instances), regions) => {
                for id in instances.iter().filter_map(|name| catalog.find(name)) {
                    if regions.as_ref().is_none_or(|regions| regions.contains(&catalog.get(id).region)) {
                        self.instances.entry(id).or_insert(index);
                    }
                }
            }
            (None, Some(regions)) => {
                for region in regions {
                    self.regions.entry(region.clone()).or_insert(index);
                }
            }
            (None, None) => {
                self.anywhere.get_or_insert(index);
            }
        }
    }
}

impl Routes {
    /// Indexes `list` (in file order) against `catalog`.
    pub(super) fn new(list: Vec<Route>, catalog: &Catalog) -> Routes {
        let mut routes = Routes { list: Vec::new(), by_product: FxHashMap::default(), any_product: Places::default() };
        for (index, route) in list.iter().enumerate() {
            let index = index as u32;
            match &route.product_keys {
                Some(keys) => {
                    for key in keys {
                        routes.by_product.entry(key.clone()).or_default().insert(index, route, catalog);
                    }
                }
                None => routes.any_product.insert(index, route, catalog),
            }
        }
        routes.list = list;
        routes
    }

    /// The first route that matches a record of `product_key` from `source` (a catalog
    /// instance) in `region` (its region).
    pub fn find(&self, product_key: &str, source: InstanceId, region: &str) -> Option<&Route> {
        let listed = self.by_product.get(product_key).and_then(|places| places.first(source, region));
        let first = [listed, self.any_product.first(source, region)].into_iter().flatten().min()?;
        Some(&self.list[first as usize])
    }
}

impl Deref for Routes {
    type Target = [Route];

    fn deref(&self) -> &[Route] {
        &self.list
    }
}

impl<'a> IntoIterator for &'a Routes {
    type Item = &'a Route;
    type IntoIter = std::slice::Iter<'a, Route>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Strategy;
    use crate::plan::catalog::PUBLIC_INSTANCES;

    /// The rule as docs/inputs.md §2.4 states it: the first route in file order whose given keys all hold.
    fn scan<'r>(routes: &'r [Route], product_key: &str, instance: &str, region: &str) -> Option<&'r Route> {
        routes.iter().find(|route| {
            route.product_keys.as_ref().is_none_or(|set| set.contains(product_key))
                && route.source_instances.as_ref().is_none_or(|set| set.contains(instance))
                && route.source_regions.as_ref().is_none_or(|set| set.contains(region))
        })
    }

    #[test]
    fn the_index_finds_the_first_matching_route() {
        let catalog = Catalog::public();
        let products = ["a1", "b2", "c3"];
        let instances: Vec<&str> = PUBLIC_INSTANCES.iter().map(|(id, _)| *id).chain(["iot-not-listed"]).collect();
        let regions = ["cn-shanghai", "us-west-1", "eu-central-1", "mars-north-1"];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..200 {
            // Each key is left out, or lists one to three values (some never matching).
            let pick = |pool: &[&str], next: &mut dyn FnMut(usize) -> usize| -> Option<HashSet<String>> {
                (next(3) > 0).then(|| (0..1 + next(3)).map(|_| pool[next(pool.len())].to_string()).collect())
            };
            let list: Vec<Route> = (0..1 + next(12))
                .map(|i| Route {
                    name: format!("r{i}"),
                    product_keys: pick(&products, &mut next),
                    source_instances: pick(&instances, &mut next),
                    source_regions: pick(&regions, &mut next),
                    strategy: Strategy::SpecifiedRegion,
                    targets: 0,
                    target_uid: String::new(),
                })
                .collect();
            let routes = Routes::new(list.clone(), &catalog);
            for product in products.iter().chain(&["zz9"]) {
                for (id, region) in PUBLIC_INSTANCES {
                    let found = routes.find(product, catalog.find(id).unwrap(), region).map(|r| &r.name);
                    assert_eq!(found, scan(&list, product, id, region).map(|r| &r.name), "{product} {id}: {list:?}");
                }
            }
        }
    }
}
