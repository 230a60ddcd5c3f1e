//! `[[routes]]` entries: read as written (`RawRoute`), then resolved against the catalog.

use std::collections::HashSet;
use std::ops::Range;

use ::toml::de::DeTable;

use crate::names::is_safe_name;
use crate::plan::catalog::Catalog;

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
