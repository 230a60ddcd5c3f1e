//! The sweep: the products of every `--instance`, then each product in product key order,
//! one call at a time, each call's answer appended to the product's data file and
//! checkpointed in the journal.
//!
//! A product's sweep, in steps (a [`Cursor`]'s `step`), with L its instances (sorted):
//!
//! | step | call | what it gives |
//! |---|---|---|
//! | 0 … L−1 | QueryDevice in each instance, 50 a page, `NextToken` after the first | devices now there, with secrets; `Total` at start |
//! | L | ListDistributedDevice by `ProductKey`, 200 a page | each distributed device's last hop: where it left from, where it went |
//! | L+1 | BatchQueryDeviceDetail in each instance a device went to that is not among L | those devices' secrets |
//! | L+2 | BatchQueryDeviceDetail of one device per instance whose region is unknown | `Region` |
//! | L+3 | GetThingTopo of each device of a gateway product | the `gateway` of its sub-devices |
//! | L+4 | QueryDevice, one row, in each instance | `Total` at the end |
//!
//! Then the counts are compared; when they differ the product is swept again (up to
//! [`Options::max_sweeps`]), else its rows are sorted by device name into its run.
//!
//! Where a device is now is where QueryDevice lists it (a device distributed A → B is listed
//! in B, not A), or for a device in an instance not read, the target of its last
//! distribution. Its home (`source_instance`) is (docs/export.md "Home"): the instance it is
//! listed in when it has never been distributed; else, from its last hop S → T and the
//! product's homes H (instances with a device never distributed, and sources that are no
//! hop's target): S when S is a home (a first hop), T when T is (a return), the one home when
//! the product has one (a second hop). Otherwise it is not written and export.json says so.
//!
//! Memory: one product's devices at a time (the platform lists at most 1,000,000 of a
//! product): about 600 bytes a device while it is swept (measured, docs/export.md).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use devdist_formats::Field;
use devdist_platform::api::{
    BatchQueryDeviceDetail, DeviceDetail, DeviceInfo, DistributedDevice, GetThingTopo, ListDistributedDevice,
    QueryDevice, QueryProductList,
};
use devdist_platform::limits::{
    DEEP_PAGE_QPS, DEEP_PAGE_ROWS, DISTRIBUTED_LIST_QPS, MAX_CURRENT_PAGE_ROWS, MAX_DETAIL_NAMES, MAX_DEVICE_PAGE_SIZE,
    MAX_DISTRIBUTED_PAGE_SIZE, MAX_LISTED_DEVICES, MAX_PRODUCT_PAGE_SIZE, MAX_TOPO_PAGE_SIZE, QUERY_DEVICE_QPS,
    THING_TOPO_QPS,
};
use devdist_platform::{ApiError, Client};
use serde::{Deserialize, Serialize};

use crate::info::{Changes, Problem};
use crate::journal::{self, Cursor, Journal, ProductDone, Record};
use crate::{Error, Estimate, Options, Progress, Snapshot};

/// The columns of the file: the inventory fields `plan` reads, then runtime columns.
pub fn columns() -> Vec<&'static str> {
    let fields = [
        Field::ProductKey,
        Field::DeviceName,
        Field::DeviceSecret,
        Field::SourceInstance,
        Field::SourceRegion,
        Field::CurrentInstance,
        Field::CurrentUid,
        Field::Gateway,
    ];
    let mut columns: Vec<&'static str> = fields.iter().map(|f| f.name()).collect();
    columns.extend(RUNTIME);
    columns
}

/// The runtime columns: facts of the moment that `plan` carries but does not judge.
pub const RUNTIME: [&str; 7] =
    ["device_status", "iot_id", "nickname", "gmt_create", "gmt_modified", "utc_create", "utc_modified"];

/// Where the `gateway` column is in [`columns`].
pub const GATEWAY_COLUMN: usize = 7;

/// A product to sweep, from the instances' product lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Product {
    /// ProductKey.
    pub key: String,
    /// The instances (among `--instance`) that list it, sorted.
    pub instances: Vec<String>,
    /// NodeType 1 in any of them: a gateway product.
    pub gateway: bool,
    /// AuthType (the first instance's).
    pub auth_type: String,
    /// DeviceCount summed over the instances.
    pub device_count: u64,
    /// Why it is not swept, when it is not.
    pub flagged: Option<String>,
}

/// Lists the products of every instance (or takes them from the journal), sorted by key,
/// `--product` applied: a product asked for and listed nowhere is flagged.
pub fn list_products(
    client: &Client,
    options: &Options,
    journal: &mut Journal,
    progress: &dyn Progress,
) -> Result<Vec<Product>, Error> {
    let mut products: BTreeMap<String, Product> = BTreeMap::new();
    for instance in &options.instances {
        let listed = journal.records.iter().find_map(|record| match record {
            Record::Products { instance: i, products } if i == instance => Some(products.clone()),
            _ => None,
        });
        let listed = match listed {
            Some(listed) => listed,
            None => {
                let listed = list_instance(client, instance)?;
                journal.append(Record::Products { instance: instance.clone(), products: listed.clone() })?;
                listed
            }
        };
        progress.note(&format!("{}: {} products", devdist_formats::shown(instance), listed.len()));
        for info in listed {
            let product = products.entry(info.product_key.clone()).or_insert_with(|| Product {
                key: info.product_key.clone(),
                auth_type: info.auth_type.clone(),
                ..Product::default()
            });
            if !product.instances.contains(instance) {
                product.instances.push(instance.clone());
                product.device_count += info.device_count;
            }
            product.gateway |= info.node_type == 1;
        }
    }
    if !options.products.is_empty() {
        let wanted: BTreeSet<&String> = options.products.iter().collect();
        products.retain(|key, _| wanted.contains(key));
        for key in wanted {
            products.entry(key.clone()).or_insert_with(|| Product {
                key: key.clone(),
                flagged: Some("listed in none of the instances read".into()),
                ..Product::default()
            });
        }
    }
    let mut products: Vec<Product> = products.into_values().collect();
    for product in &mut products {
        product.instances.sort();
        if product.flagged.is_none() {
            product.flagged = flag(product);
        }
    }
    Ok(products)
}

/// Why a listed product is not swept, if it is not: a key `plan` would refuse, or an AuthType
/// whose devices have no DeviceSecret (`id2`, `x509`: never written with an empty secret).
fn flag(product: &Product) -> Option<String> {
    if let Err(problem) = devdist_engine::check_product_key(&product.key) {
        return Some(format!("the platform listed a product key that is not valid: {problem}"));
    }
    (product.auth_type != "secret").then(|| {
        format!(
            "AuthType {:?} has no DeviceSecret: its devices are not written (never with an empty secret)",
            product.auth_type
        )
    })
}

fn list_instance(client: &Client, instance: &str) -> Result<Vec<devdist_platform::api::ProductInfo>, Error> {
    let mut listed = Vec::new();
    for page in 1u32.. {
        let request = QueryProductList {
            iot_instance_id: Some(instance.to_string()),
            current_page: page,
            page_size: MAX_PRODUCT_PAGE_SIZE,
        };
        let answer = client.query_product_list(&request).map_err(|err| {
            let why = if err.is_auth() { "; the platform refused the credentials" } else { "" };
            Error::Platform(format!(
                "the products of instance {} could not be listed (page {page}){why}: {err}",
                devdist_formats::shown(instance)
            ))
        })?;
        let got = answer.list.product_info.len() as u64;
        listed.extend(answer.list.product_info);
        if got == 0 || u64::from(page) * u64::from(MAX_PRODUCT_PAGE_SIZE) >= answer.total || page > 10_000 {
            break;
        }
    }
    Ok(listed)
}

/// The least time the platform's real limits allow for sweeping `products`: QueryDevice at 50
/// calls a second, 2 a second past 100,000 rows of a product; one ListDistributedDevice page
/// at 5 a second; one GetThingTopo per gateway at 500 a second.
pub fn estimate(products: &[Product]) -> Estimate {
    let mut estimate = Estimate::default();
    for product in products {
        if product.flagged.is_some() {
            estimate.flagged += 1;
            continue;
        }
        estimate.products += 1;
        estimate.devices += product.device_count;
        let pages = product.device_count.div_ceil(u64::from(MAX_DEVICE_PAGE_SIZE)).max(1);
        let shallow = pages.min(DEEP_PAGE_ROWS / u64::from(MAX_DEVICE_PAGE_SIZE));
        estimate.least_seconds += shallow as f64 / QUERY_DEVICE_QPS + (pages - shallow) as f64 / DEEP_PAGE_QPS;
        estimate.least_seconds += 1.0 / DISTRIBUTED_LIST_QPS + product.instances.len() as f64 / QUERY_DEVICE_QPS;
        if product.gateway {
            estimate.least_seconds += product.device_count as f64 / THING_TOPO_QPS;
        }
    }
    estimate
}

/// One line of a product's data file: one piece of an answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "l", rename_all = "snake_case")]
enum Line {
    /// A QueryDevice row of `instance`.
    Device { instance: String, info: DeviceInfo },
    /// QueryDevice's `Total` in `instance`, at the start or the end of the sweep.
    Total { instance: String, start: bool, total: u64 },
    /// A ListDistributedDevice item.
    Moved { record: DistributedDevice },
    /// A BatchQueryDeviceDetail item asked in `instance`.
    Detail { instance: String, detail: DeviceDetail },
    /// An instance's region.
    Region { instance: String, region: String },
    /// A sub-device of `gateway` (`product_key/device_name`).
    Topo { gateway: String, product_key: String, device_name: String },
    /// A call that failed after the client's retries.
    Unread { problem: Problem },
    /// The `Total` a listing's page showed (`api` QueryDevice or ListDistributedDevice).
    Listed { api: String, instance: String, total: u64 },
}

/// A device as a listing showed it, kept small (a product may hold a million): the instance
/// and its cells (the secret, then the runtime columns) packed in one allocation.
#[derive(Debug)]
struct Seen {
    instance: String,
    cells: Box<[u8]>,
}

impl Seen {
    fn of_info(instance: String, info: &DeviceInfo) -> Seen {
        let cells = [
            &info.device_secret,
            &info.device_status,
            &info.iot_id,
            &info.nickname,
            &info.gmt_create,
            &info.gmt_modified,
            &info.utc_create,
            &info.utc_modified,
        ];
        Seen { instance, cells: pack(&cells.map(String::as_str)) }
    }

    /// A BatchQueryDeviceDetail item, read as QueryDevice would list it (it has no
    /// modification times).
    fn of_detail(instance: String, detail: &DeviceDetail) -> Seen {
        let info = DeviceInfo {
            device_secret: detail.device_secret.clone(),
            device_status: detail.status.clone(),
            iot_id: detail.iot_id.clone(),
            nickname: detail.nickname.clone(),
            gmt_create: detail.gmt_create.clone(),
            utc_create: detail.utc_create.clone(),
            ..DeviceInfo::default()
        };
        Seen::of_info(instance, &info)
    }

    /// The secret, then the runtime columns ([`RUNTIME`]).
    fn cells(&self) -> Vec<&str> {
        let mut cells = Vec::with_capacity(1 + RUNTIME.len());
        let mut rest = &self.cells[..];
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_le_bytes(*len) as usize;
            let (cell, tail) = tail.split_at(len.min(tail.len()));
            cells.push(std::str::from_utf8(cell).unwrap_or_default());
            rest = tail;
        }
        cells
    }
}

/// Texts, each after its length (4 bytes, little-endian).
fn pack(cells: &[&str]) -> Box<[u8]> {
    let mut packed = Vec::with_capacity(cells.iter().map(|c| c.len() + 4).sum());
    for cell in cells {
        packed.extend_from_slice(&(cell.len() as u32).to_le_bytes());
        packed.extend_from_slice(cell.as_bytes());
    }
    packed.into_boxed_slice()
}

/// A device's last hop, as ListDistributedDevice showed it: only what the rows need.
#[derive(Debug)]
struct Hop {
    source: String,
    target: String,
    target_uid: String,
    source_region: String,
    target_region: String,
}

impl From<DistributedDevice> for Hop {
    fn from(record: DistributedDevice) -> Hop {
        Hop {
            source: record.source_instance_id,
            target: record.target_instance_id,
            target_uid: record.target_uid,
            source_region: record.source_region,
            target_region: record.target_region,
        }
    }
}

/// What a product's sweep holds so far, rebuilt from its data file on resume.
#[derive(Debug, Default)]
struct State {
    /// Device name → the instances QueryDevice listed it in (first listing kept).
    found: BTreeMap<String, Vec<Seen>>,
    start: BTreeMap<String, u64>,
    end: BTreeMap<String, u64>,
    moved: BTreeMap<String, Hop>,
    details: BTreeMap<String, Seen>,
    regions: BTreeMap<String, String>,
    topo: Vec<(String, String, String)>,
    problems: Vec<Problem>,
    /// Every `Total` each listing's pages showed, by (API, instance).
    listed: BTreeMap<(String, String), BTreeSet<u64>>,
    /// [`State::away_batches`], computed once for the detail step's calls.
    batches: std::cell::OnceCell<Vec<(String, Vec<String>)>>,
    /// [`State::located`] as (name, instance), computed once for the topology step's calls.
    gateways: std::cell::OnceCell<Vec<(String, String)>>,
}

impl State {
    fn apply(&mut self, product_key: &str, line: Line) {
        if matches!(line, Line::Device { .. } | Line::Moved { .. } | Line::Detail { .. }) {
            self.batches.take();
            self.gateways.take();
        }
        match line {
            Line::Device { instance, info } => {
                let at = self.found.entry(info.device_name.clone()).or_default();
                if !at.iter().any(|seen| seen.instance == instance) {
                    at.push(Seen::of_info(instance, &info));
                }
            }
            Line::Total { instance, start, total } => {
                if start { &mut self.start } else { &mut self.end }.insert(instance, total);
            }
            Line::Moved { record } => {
                if record.product_key == product_key {
                    self.moved.insert(record.device_name.clone(), Hop::from(record));
                }
            }
            Line::Detail { instance, detail } => {
                self.details.insert(detail.device_name.clone(), Seen::of_detail(instance, &detail));
            }
            Line::Region { instance, region } => {
                self.regions.insert(instance, region);
            }
            Line::Topo { gateway, product_key, device_name } => self.topo.push((product_key, device_name, gateway)),
            Line::Unread { problem } => self.problems.push(problem),
            Line::Listed { api, instance, total } => {
                self.listed.entry((api, instance)).or_default().insert(total);
            }
        }
    }

    /// The devices away in an instance that was not swept, by that instance, 100 a batch.
    fn away_batches(&self, swept: &[String]) -> Vec<(String, Vec<String>)> {
        let mut by_instance: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (name, record) in &self.moved {
            if !self.found.contains_key(name) && !swept.contains(&record.target) {
                by_instance.entry(&record.target).or_default().push(name.clone());
            }
        }
        let mut batches = Vec::new();
        for (instance, names) in by_instance {
            for chunk in names.chunks(MAX_DETAIL_NAMES) {
                batches.push((instance.to_string(), chunk.to_vec()));
            }
        }
        batches
    }

    /// Every region known: learnt by this sweep, from the hops' records, or before.
    fn known_regions(&self, before: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut regions = before.clone();
        for record in self.moved.values() {
            for (instance, region) in [(&record.source, &record.source_region), (&record.target, &record.target_region)]
            {
                if !instance.is_empty() && !region.is_empty() {
                    regions.entry(instance.clone()).or_insert_with(|| region.clone());
                }
            }
        }
        for (instance, region) in &self.regions {
            regions.entry(instance.clone()).or_insert_with(|| region.clone());
        }
        regions
    }

    /// The swept instances whose region is unknown, each with one device listed there.
    fn regions_wanted(&self, swept: &[String], before: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let known = self.known_regions(before);
        swept
            .iter()
            .filter(|instance| !known.contains_key(*instance))
            .filter_map(|instance| {
                let name = self.found.iter().find(|(_, at)| at.iter().any(|seen| seen.instance == **instance))?.0;
                Some((instance.clone(), name.clone()))
            })
            .collect()
    }

    /// Each device to write and the instance it is in now, by name.
    fn located(&self) -> BTreeMap<&str, &str> {
        let mut located = BTreeMap::new();
        for (name, at) in &self.found {
            located.insert(name.as_str(), self.listing(name, at).instance.as_str());
        }
        for (name, seen) in &self.details {
            located.entry(name.as_str()).or_insert(seen.instance.as_str());
        }
        located
    }

    /// Of a device's listings, the one where its last hop says it is (else the first).
    fn listing<'a>(&self, name: &str, at: &'a [Seen]) -> &'a Seen {
        let target = self.moved.get(name).map(|record| record.target.as_str());
        at.iter().find(|seen| Some(seen.instance.as_str()) == target).unwrap_or(&at[0])
    }

    /// Whether the counts held: every page of a listing showed the same `Total`, the same at
    /// start and end, as many devices listed as it says, and no call failed.
    fn consistent(&self, swept: &[String]) -> bool {
        self.problems.is_empty()
            && self.listed.values().all(|totals| totals.len() <= 1)
            && swept.iter().all(|instance| {
                let listed =
                    self.found.values().filter(|at| at.iter().any(|seen| seen.instance == *instance)).count() as u64;
                let (start, end) = (self.start.get(instance), self.end.get(instance));
                start.is_some() && start == end && Some(&listed) == end
            })
    }
}

/// Sweeps every product not yet done, in order.
pub fn sweep_all(
    client: &Client,
    options: &Options,
    journal: &mut Journal,
    products: &[Product],
    progress: &dyn Progress,
) -> Result<(), Error> {
    let mut snapshot = Snapshot::default();
    let mut regions = BTreeMap::new();
    let mut done = BTreeSet::new();
    for record in &journal.records {
        if let Record::Done { product, done: what } = record {
            done.insert(*product);
            snapshot.devices_read += what.rows;
            regions.extend(what.regions.clone());
        }
    }
    for product in products.iter().filter(|p| p.flagged.is_none()) {
        snapshot.products += 1;
        snapshot.devices_expected += product.device_count;
    }
    snapshot.products_done = done.len() as u64;
    progress.update(&snapshot);
    for (index, product) in products.iter().enumerate() {
        if product.flagged.is_some() || done.contains(&index) {
            continue;
        }
        let what =
            Sweep { client, options, product, index, regions: &regions }.run(journal, progress, &mut snapshot)?;
        regions.extend(what.regions.clone());
        snapshot.products_done += 1;
        progress.update(&snapshot);
    }
    Ok(())
}

/// The name of a product's data file of one sweep.
fn data_name(index: usize, sweep: u32) -> String {
    format!("p{index}-s{sweep}.jsonl")
}

/// The name of a swept product's run (its rows, sorted by device name).
pub fn run_name(index: usize) -> String {
    format!("p{index}.run.jsonl")
}

/// The name of a swept product's topology (sub-device, gateway).
pub fn topo_name(index: usize) -> String {
    format!("p{index}.topo.jsonl")
}

struct Sweep<'a> {
    client: &'a Client,
    options: &'a Options,
    product: &'a Product,
    index: usize,
    regions: &'a BTreeMap<String, String>,
}

/// What one call gave: the lines to keep and the next call.
struct Step {
    lines: Vec<Line>,
    next: Cursor,
}

impl Sweep<'_> {
    fn run(
        &self,
        journal: &mut Journal,
        progress: &dyn Progress,
        snapshot: &mut Snapshot,
    ) -> Result<ProductDone, Error> {
        let last = journal.records.iter().rev().find_map(|record| match record {
            Record::Page { product, sweep, cursor, len } if *product == self.index => {
                Some((*sweep, cursor.clone(), *len))
            }
            _ => None,
        });
        let (mut sweep, mut cursor, mut len) = last.unwrap_or((0, Cursor { page: 1, ..Cursor::default() }, 0));
        let swept = &self.product.instances;
        let last_step = swept.len() as u32 + 5;
        loop {
            let path = journal.path(&data_name(self.index, sweep));
            let mut file = journal::data_file(&path, len)?;
            let mut state = State::default();
            if len > 0 {
                journal::for_each_line(&path, |line| {
                    state.apply(&self.product.key, line);
                    Ok(())
                })?;
            }
            while cursor.step < last_step {
                devdist_engine::checkpoint().map_err(|_| Error::Interrupted)?;
                let step = self.call(&state, &cursor)?;
                let mut bytes = Vec::new();
                for line in &step.lines {
                    serde_json::to_writer(&mut bytes, line).map_err(|e| Error::output(&path, e))?;
                    bytes.push(b'\n');
                }
                file.write_all(&bytes).and_then(|()| file.sync_data()).map_err(|e| Error::output(&path, e))?;
                len += bytes.len() as u64;
                for line in step.lines {
                    if matches!(line, Line::Device { .. }) {
                        snapshot.devices_read += 1;
                    }
                    state.apply(&self.product.key, line);
                }
                cursor = step.next;
                journal.append(Record::Page { product: self.index, sweep, cursor: cursor.clone(), len })?;
                progress.update(snapshot);
            }
            let consistent = state.consistent(swept);
            if consistent || sweep + 1 >= self.options.max_sweeps.max(1) {
                let before = match sweep {
                    0 => None,
                    _ => Some(journal.path(&data_name(self.index, sweep - 1))),
                };
                let done = self.finish(journal, &state, sweep, consistent, before.as_deref())?;
                for old in 0..=sweep {
                    let _ = std::fs::remove_file(journal.path(&data_name(self.index, old)));
                }
                return Ok(done);
            }
            progress.note(&format!(
                "product {}: its counts changed while it was read; sweeping it again",
                devdist_formats::shown(&self.product.key)
            ));
            sweep += 1;
            cursor = Cursor { page: 1, ..Cursor::default() };
            len = 0;
            journal.append(Record::Page { product: self.index, sweep, cursor: cursor.clone(), len })?;
        }
    }

    fn problem(&self, instance: &str, api: &str, page: u64, err: &ApiError) -> Line {
        Line::Unread {
            problem: Problem {
                product_key: self.product.key.clone(),
                device_name: String::new(),
                instance: instance.to_string(),
                api: api.to_string(),
                page,
                code: err.code.clone(),
                message: err.detail(),
            },
        }
    }

    /// Makes the call `cursor` names.
    fn call(&self, state: &State, cursor: &Cursor) -> Result<Step, Error> {
        let swept = &self.product.instances;
        let key = &self.product.key;
        let n = swept.len() as u32;
        let next_step = Cursor { step: cursor.step + 1, at: 0, page: 1, token: String::new() };
        let next_at = Cursor { at: cursor.at + 1, page: 1, token: String::new(), ..cursor.clone() };
        let refused = |err: &ApiError| match err.is_auth() {
            true => Err(Error::Platform(format!("the platform refused the credentials: {err}"))),
            false => Ok(()),
        };
        let page_size = u64::from(MAX_DEVICE_PAGE_SIZE);
        if cursor.step < n {
            let instance = &swept[cursor.step as usize];
            let request = QueryDevice {
                product_key: key.clone(),
                iot_instance_id: Some(instance.clone()),
                current_page: cursor.page as u32,
                page_size: MAX_DEVICE_PAGE_SIZE,
                next_token: (!cursor.token.is_empty()).then(|| cursor.token.clone()),
            };
            return match self.client.query_device(&request) {
                Ok(body) => {
                    let mut lines = Vec::new();
                    if cursor.page == 1 {
                        lines.push(Line::Total { instance: instance.clone(), start: true, total: body.total });
                    }
                    lines.push(Line::Listed {
                        api: "QueryDevice".into(),
                        instance: instance.clone(),
                        total: body.total,
                    });
                    let got = body.data.device_info.len() as u64;
                    lines.extend(body.data.device_info.into_iter().map(|info| Line::Device {
                        instance: instance.clone(),
                        info: DeviceInfo { product_key: key.clone(), ..info },
                    }));
                    let more = got > 0 && cursor.page * page_size < body.total.min(MAX_LISTED_DEVICES);
                    let next = match more {
                        true => Cursor { page: cursor.page + 1, token: body.next_token, ..cursor.clone() },
                        false => next_step,
                    };
                    Ok(Step { lines, next })
                }
                Err(err) => {
                    refused(&err)?;
                    let total = state.start.get(instance).copied().unwrap_or(0);
                    // Past a failed page only CurrentPage reaches further, up to 10,000 rows.
                    let skip =
                        (cursor.page + 1) * page_size <= MAX_CURRENT_PAGE_ROWS && cursor.page * page_size < total;
                    let next = match skip {
                        true => Cursor { page: cursor.page + 1, token: String::new(), ..cursor.clone() },
                        false => next_step,
                    };
                    Ok(Step { lines: vec![self.problem(instance, "QueryDevice", cursor.page, &err)], next })
                }
            };
        }
        match cursor.step - n {
            0 => {
                let request = ListDistributedDevice {
                    product_key: Some(key.clone()),
                    current_page: cursor.page as u32,
                    page_size: MAX_DISTRIBUTED_PAGE_SIZE,
                    ..ListDistributedDevice::default()
                };
                match self.client.list_distributed_device(&request) {
                    Ok(data) => {
                        let size = u64::from(MAX_DISTRIBUTED_PAGE_SIZE);
                        let full = data.info.items.len() as u64 == size;
                        let listed = Line::Listed {
                            api: "ListDistributedDevice".into(),
                            instance: String::new(),
                            total: data.total,
                        };
                        let moved = data.info.items.into_iter().map(|record| Line::Moved { record });
                        let lines = std::iter::once(listed).chain(moved).collect();
                        let more = full && cursor.page * size < data.total && cursor.page < MAX_LISTED_DEVICES / size;
                        let next = match more {
                            true => Cursor { page: cursor.page + 1, ..cursor.clone() },
                            false => next_step,
                        };
                        Ok(Step { lines, next })
                    }
                    Err(err) => {
                        refused(&err)?;
                        Ok(Step {
                            lines: vec![self.problem("", "ListDistributedDevice", cursor.page, &err)],
                            next: next_step,
                        })
                    }
                }
            }
            1 => {
                let batches = state.batches.get_or_init(|| state.away_batches(swept));
                let Some((instance, names)) = batches.get(cursor.at as usize) else {
                    return Ok(Step { lines: Vec::new(), next: next_step });
                };
                let request = BatchQueryDeviceDetail {
                    product_key: key.clone(),
                    device_names: names.clone(),
                    iot_instance_id: Some(instance.clone()),
                };
                let lines = match self.client.batch_query_device_detail(&request) {
                    Ok(details) => details
                        .into_iter()
                        .filter(|detail| names.contains(&detail.device_name))
                        .map(|detail| Line::Detail { instance: instance.clone(), detail })
                        .collect(),
                    Err(err) => {
                        refused(&err)?;
                        vec![self.problem(instance, "BatchQueryDeviceDetail", cursor.at + 1, &err)]
                    }
                };
                Ok(Step { lines, next: next_at })
            }
            2 => {
                let wanted = state.regions_wanted(swept, self.regions);
                let Some((instance, name)) = wanted.first() else {
                    return Ok(Step { lines: Vec::new(), next: next_step });
                };
                let request = BatchQueryDeviceDetail {
                    product_key: key.clone(),
                    device_names: vec![name.clone()],
                    iot_instance_id: Some(instance.clone()),
                };
                // The region is optional in an inventory: an instance whose region cannot be
                // read leaves source_region empty, and is asked no more.
                let region = match self.client.batch_query_device_detail(&request) {
                    Ok(details) => details.into_iter().map(|d| d.region).find(|r| !r.is_empty()).unwrap_or_default(),
                    Err(err) => {
                        refused(&err)?;
                        String::new()
                    }
                };
                let lines = vec![Line::Region { instance: instance.clone(), region }];
                Ok(Step { lines, next: cursor.clone() })
            }
            3 => {
                if !self.product.gateway {
                    return Ok(Step { lines: Vec::new(), next: next_step });
                }
                let gateways = state.gateways.get_or_init(|| {
                    state.located().into_iter().map(|(name, at)| (name.to_string(), at.to_string())).collect()
                });
                let Some((name, instance)) = gateways.get(cursor.at as usize) else {
                    return Ok(Step { lines: Vec::new(), next: next_step });
                };
                let request = GetThingTopo {
                    product_key: key.clone(),
                    device_name: name.to_string(),
                    iot_instance_id: Some(instance.to_string()),
                    page_no: cursor.page as u32,
                    page_size: MAX_TOPO_PAGE_SIZE,
                };
                match self.client.get_thing_topo(&request) {
                    Ok(page) => {
                        let gateway = format!("{key}/{name}");
                        let got = page.list.device_info.len() as u64;
                        let lines = page
                            .list
                            .device_info
                            .into_iter()
                            .map(|sub| Line::Topo {
                                gateway: gateway.clone(),
                                product_key: sub.product_key,
                                device_name: sub.device_name,
                            })
                            .collect();
                        let size = u64::from(MAX_TOPO_PAGE_SIZE);
                        let more = got == size && cursor.page * size < page.total && cursor.page < 100_000;
                        let next = match more {
                            true => Cursor { page: cursor.page + 1, ..cursor.clone() },
                            false => next_at,
                        };
                        Ok(Step { lines, next })
                    }
                    Err(err) => {
                        refused(&err)?;
                        let mut line = self.problem(instance, "GetThingTopo", cursor.page, &err);
                        if let Line::Unread { problem } = &mut line {
                            problem.device_name = name.to_string();
                        }
                        Ok(Step { lines: vec![line], next: next_at })
                    }
                }
            }
            4 => {
                let Some(instance) = swept.get(cursor.at as usize) else {
                    return Ok(Step { lines: Vec::new(), next: next_step });
                };
                let request = QueryDevice {
                    product_key: key.clone(),
                    iot_instance_id: Some(instance.clone()),
                    current_page: 1,
                    page_size: 1,
                    next_token: None,
                };
                let lines = match self.client.query_device(&request) {
                    Ok(body) => vec![Line::Total { instance: instance.clone(), start: false, total: body.total }],
                    Err(err) => {
                        refused(&err)?;
                        vec![self.problem(instance, "QueryDevice", 1, &err)]
                    }
                };
                Ok(Step { lines, next: next_at })
            }
            _ => Ok(Step { lines: Vec::new(), next: next_step }),
        }
    }

    /// The product's rows, sorted by device name, into its run; its topology; its Done record.
    fn finish(
        &self,
        journal: &mut Journal,
        state: &State,
        sweep: u32,
        consistent: bool,
        before: Option<&std::path::Path>,
    ) -> Result<ProductDone, Error> {
        let key = &self.product.key;
        let mut regions = state.known_regions(self.regions);
        regions.retain(|_, region| !region.is_empty());
        let mut problems = state.problems.clone();
        let homes = homes(state);
        let located = state.located();
        // Rows go to the run as they are made: the product's rows are never all in memory.
        let mut run = journal::LineWriter::create(&journal.path(&run_name(self.index)))?;
        let mut rows = 0u64;
        let device_problem = |name: &str, code: &str, message: String| Problem {
            product_key: key.clone(),
            device_name: name.to_string(),
            api: "export".into(),
            code: code.into(),
            message,
            ..Problem::default()
        };
        for (&name, &now) in &located {
            let record = state.moved.get(name);
            let home = match record {
                None => Some(now),
                Some(r) if homes.contains(r.source.as_str()) => Some(r.source.as_str()),
                Some(r) if homes.contains(r.target.as_str()) => Some(r.target.as_str()),
                Some(_) if homes.len() == 1 => homes.iter().next().copied(),
                Some(_) => None,
            };
            let Some(home) = home else {
                problems.push(device_problem(
                    name,
                    "export.HomeUnknown",
                    "its home instance cannot be told from its last distribution and the product's other devices"
                        .into(),
                ));
                continue;
            };
            let seen = match (state.found.get(name), state.details.get(name)) {
                (Some(at), _) => state.listing(name, at),
                (None, Some(seen)) => seen,
                (None, None) => continue,
            };
            let cells = seen.cells();
            let Some((secret, runtime)) = cells.split_first() else { continue };
            let secret = *secret;
            if let Err(problem) = devdist_engine::check_device_name(name) {
                problems.push(device_problem(name, "export.BadName", problem));
                continue;
            }
            if secret.is_empty() {
                problems.push(device_problem(name, "export.NoSecret", "the platform gave no DeviceSecret".into()));
                continue;
            }
            if let Err(problem) = devdist_engine::check_device_secret(secret) {
                // The problem text names no secret: only its length and characters' kind.
                problems.push(device_problem(name, "export.BadSecret", problem));
                continue;
            }
            let away = now != home;
            let uid = match record {
                Some(r) if away && r.target == now => r.target_uid.as_str(),
                _ => "",
            };
            let mut row: Vec<String> = vec![
                key.clone(),
                name.to_string(),
                secret.to_string(),
                cell(home),
                cell(regions.get(home).map_or("", String::as_str)),
                cell(if away { now } else { "" }),
                cell(uid),
                String::new(),
            ];
            row.extend(runtime.iter().map(|value| cell(value)));
            run.write(&row)?;
            rows += 1;
        }
        for (name, record) in &state.moved {
            if !located.contains_key(name.as_str()) && self.product.instances.contains(&record.target) {
                problems.push(device_problem(
                    name,
                    "export.NotListed",
                    format!(
                        "ListDistributedDevice says it went to {} but QueryDevice does not list it there",
                        devdist_formats::shown(&record.target)
                    ),
                ));
            }
        }
        let mut changes = Changes::default();
        if !consistent {
            for instance in &self.product.instances {
                let totals = [state.start.get(instance), state.end.get(instance)].map(|t| t.copied().unwrap_or(0));
                changes.totals.insert(instance.clone(), totals);
            }
            for ((api, instance), totals) in state.listed.iter().filter(|(_, totals)| totals.len() > 1) {
                let name = format!("{api} {instance}").trim_end().to_string();
                changes.pages.insert(name, totals.iter().copied().collect());
            }
            if let Some(before) = before {
                let mut earlier = BTreeSet::new();
                journal::for_each_line(before, |line| {
                    if let Line::Device { info, .. } = line {
                        earlier.insert(info.device_name);
                    }
                    Ok(())
                })?;
                let now: BTreeSet<String> = state.found.keys().cloned().collect();
                changes.created = now.difference(&earlier).cloned().collect();
                changes.deleted = earlier.difference(&now).cloned().collect();
            }
        }
        run.finish()?;
        journal::write_lines(&journal.path(&topo_name(self.index)), &state.topo)?;
        let done = ProductDone { rows, sweeps: sweep + 1, consistent, changes, regions, problems };
        journal.append(Record::Done { product: self.index, done: done.clone() })?;
        Ok(done)
    }
}

/// A product's homes: the instances a device never distributed is listed in, and the
/// sources of hops that are no hop's target.
fn homes(state: &State) -> BTreeSet<&str> {
    let mut homes: BTreeSet<&str> = BTreeSet::new();
    for (name, at) in &state.found {
        if !state.moved.contains_key(name) {
            homes.extend(at.iter().map(|seen| seen.instance.as_str()));
        }
    }
    let targets: BTreeSet<&str> = state.moved.values().map(|r| r.target.as_str()).collect();
    for record in state.moved.values() {
        if !targets.contains(record.source.as_str()) {
            homes.insert(&record.source);
        }
    }
    homes
}

/// A cell of text from the platform as the file holds it (`safe_cell`: no control character,
/// nothing a spreadsheet runs).
fn cell(value: &str) -> String {
    devdist_engine::safe_cell(value).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_without_secrets_or_with_a_bad_key_is_flagged_and_only_those() {
        let product =
            |key: &str, auth_type: &str| Product { key: key.into(), auth_type: auth_type.into(), ..Product::default() };
        assert_eq!(flag(&product("a1Good0001", "secret")), None);
        for auth_type in ["x509", "id2", ""] {
            let why = flag(&product("a1Good0001", auth_type)).expect("flagged");
            assert!(why.starts_with(&format!("AuthType {auth_type:?} has no DeviceSecret")), "{why}");
        }
        let why = flag(&product("a1Bad-Key01", "secret")).expect("flagged");
        assert!(why.starts_with("the platform listed a product key that is not valid"), "{why}");
    }

    fn listed(state: &mut State, instance: &str, name: &str) {
        let info = DeviceInfo { device_name: name.into(), ..DeviceInfo::default() };
        state.apply("pk", Line::Device { instance: instance.into(), info });
    }

    fn hop(state: &mut State, name: &str, from: &str, to: &str) {
        let record = DistributedDevice {
            product_key: "pk".into(),
            device_name: name.into(),
            source_instance_id: from.into(),
            target_instance_id: to.into(),
            ..DistributedDevice::default()
        };
        state.apply("pk", Line::Moved { record });
    }

    #[test]
    fn homes_are_where_unmoved_devices_are_and_sources_that_are_no_target() {
        let mut state = State::default();
        listed(&mut state, "A", "still");
        listed(&mut state, "B", "moved");
        hop(&mut state, "moved", "A", "B");
        listed(&mut state, "A", "back");
        hop(&mut state, "back", "B", "A");
        assert_eq!(homes(&state), BTreeSet::from(["A"]));
        // Every device moved: the source that is no target is the home.
        let mut state = State::default();
        listed(&mut state, "B", "one");
        hop(&mut state, "one", "A", "B");
        assert_eq!(homes(&state), BTreeSet::from(["A"]));
    }

    #[test]
    fn a_device_listed_twice_is_where_its_last_hop_says() {
        let mut state = State::default();
        listed(&mut state, "A", "d");
        listed(&mut state, "B", "d");
        listed(&mut state, "B", "d");
        hop(&mut state, "d", "A", "B");
        assert_eq!(state.found["d"].len(), 2, "one listing per instance");
        assert_eq!(state.located()["d"], "B");
    }

    #[test]
    fn counts_hold_only_when_every_page_showed_the_same_total_and_all_were_listed() {
        let swept = ["A".to_string()];
        let mut state = State::default();
        state.apply("pk", Line::Total { instance: "A".into(), start: true, total: 2 });
        listed(&mut state, "A", "x");
        listed(&mut state, "A", "y");
        state.apply("pk", Line::Total { instance: "A".into(), start: false, total: 2 });
        assert!(state.consistent(&swept));
        state.apply("pk", Line::Listed { api: "QueryDevice".into(), instance: "A".into(), total: 2 });
        assert!(state.consistent(&swept));
        state.apply("pk", Line::Listed { api: "QueryDevice".into(), instance: "A".into(), total: 3 });
        assert!(!state.consistent(&swept), "a page showed another Total");
        let mut missing = State::default();
        missing.apply("pk", Line::Total { instance: "A".into(), start: true, total: 2 });
        listed(&mut missing, "A", "x");
        missing.apply("pk", Line::Total { instance: "A".into(), start: false, total: 2 });
        assert!(!missing.consistent(&swept), "a device was missed");
    }

    #[test]
    fn the_estimate_says_a_million_devices_take_about_two_and_a_half_hours() {
        let product = Product {
            key: "pk".into(),
            instances: vec!["A".into()],
            auth_type: "secret".into(),
            device_count: 1_000_000,
            ..Product::default()
        };
        let hours = estimate(&[product]).least_seconds / 3600.0;
        assert!((2.4..2.6).contains(&hours), "{hours}");
    }
}
