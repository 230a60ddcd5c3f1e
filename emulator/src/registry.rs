//! The read APIs over the world (docs/wire.md §9.8): what is registered and where it is now.
//! Pure functions of the world, the parameters and the time; the service settles ended jobs
//! first, so every answer sees the devices where they are.
//!
//! The platform publishes no example of these answers for the emulator to copy beyond their
//! shapes; what the emulator makes up (times of registration, IotIds, statuses, product names)
//! is listed in docs/wire.md §9.8.
//!
//! Each call reads the world's index (`index.rs`), so it costs about its page, not the number of
//! devices: a page by `CurrentPage` skips chunks of the list it reads, a `NextToken` page starts
//! at the token's device, counts are the lists' lengths.

use devdist_platform::api::{
    Action, DeviceDetail, DeviceInfo, DevicePage, DevicePageBody, DistributedDevice, DistributedDeviceItems,
    DistributedDevices, DistributedProduct, DistributedProductItems, DistributedProducts, ProductInfo, ProductList,
    ProductPage, TopoDevice, TopoList, TopoPage,
};
use devdist_platform::limits::{
    DEFAULT_PAGE_SIZE, MAX_CURRENT_PAGE_ROWS, MAX_DETAIL_NAMES, MAX_DEVICE_PAGE_SIZE, MAX_DISTRIBUTED_PAGE_SIZE,
    MAX_PRODUCT_PAGE_SIZE, MAX_TOPO_PAGE_SIZE,
};

use crate::distribution::{Failure, Now, Params};
use crate::faults::Faults;
use crate::index::DistributedFilter;
use crate::world::{Device, World};

/// Device `n` of the account was registered at this instant plus `n` seconds (ms since the
/// epoch): 2020-09-13T12:26:40Z.
pub const REGISTERED_EPOCH_MS: u64 = 1_600_000_000_000;
/// What QueryDevice and BatchQueryDeviceDetail say of every device: it never connected.
pub const DEVICE_STATUS: &str = "UNACTIVE";

fn invalid_page(message: impl Into<String>) -> Failure {
    Failure::business("iot.common.InvalidPageParams", message)
}

/// `PageSize` (default 10, at most `max`) and the page number under `page_key` (default 1).
fn paging(params: &Params, page_key: &str, max: u32) -> Result<(usize, usize), Failure> {
    let size = match params.get("PageSize") {
        None => DEFAULT_PAGE_SIZE as usize,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|size| (1..=max as usize).contains(size))
            .ok_or_else(|| invalid_page(format!("PageSize must be 1 to {max}, not {text}")))?,
    };
    let page = match params.get(page_key) {
        None => 1,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|page| *page >= 1)
            .ok_or_else(|| invalid_page(format!("{page_key} must be 1 or more, not {text}")))?,
    };
    Ok((size, page))
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, Failure> {
    params.get(name).map(String::as_str).filter(|value| !value.is_empty()).ok_or_else(|| {
        Failure::gateway(400, &format!("Missing{name}"), format!("{name} is mandatory for this action."))
    })
}

fn page_count(total: usize, size: usize) -> u64 {
    total.div_ceil(size) as u64
}

/// A device's registration time, ms since the epoch.
fn registered_ms(device: &Device) -> u64 {
    REGISTERED_EPOCH_MS + device.registered * 1000
}

/// A time as QueryDevice and BatchQueryDeviceDetail write it: `2020-09-13T12:26:41Z`.
fn text_time(ms: u64) -> String {
    devdist_platform::sign::timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

/// A device's IotId: 20 characters from its product key and name.
fn iot_id(product_key: &str, device_name: &str) -> String {
    format!("{:016x}0001", Faults::none(0).hash("iot-id", &[product_key, device_name]))
}

fn region<'a>(world: &'a World, instance: &str) -> &'a str {
    world.instances.get(instance).map_or("", |found| found.region.as_str())
}

/// The product's devices, newest first, that are in `instance` (every one when `None`), from the
/// `skip`th on.
fn devices_of<'a>(
    world: &'a World,
    product_key: &'a str,
    instance: Option<&'a str>,
    skip: usize,
) -> impl Iterator<Item = (&'a str, Device<'a>)> + 'a {
    let list = world.index.devices(product_key, instance);
    list.into_iter().flat_map(move |list| list.iter_from(skip)).filter_map(move |number| device(world, *number))
}

/// Device `number`: its name and what the world holds of it.
fn device(world: &World, number: u64) -> Option<(&str, Device<'_>)> {
    world.numbered(number).map(|(_, name, device)| (name, device))
}

/// How many devices of the product are in `instance` (every one when `None`).
fn device_count(world: &World, product_key: &str, instance: Option<&str>) -> usize {
    world.index.devices(product_key, instance).map_or(0, |list| list.len())
}

fn no_product(product_key: &str, instance: Option<&str>) -> Failure {
    let place = instance.map(|instance| format!(" in instance {instance}")).unwrap_or_default();
    Failure::business("iot.prod.NotExistedProduct", format!("product {product_key} does not exist{place}"))
}

/// Whether the product exists (in `instance`, when given).
fn product_exists(world: &World, product_key: &str, instance: Option<&str>) -> bool {
    match instance {
        Some(instance) => world.product_in(product_key, instance),
        None => world.products.contains_key(product_key),
    }
}

/// QueryProductList's `Data`: the products of `IotInstanceId` (every product when absent),
/// newest first (by their first device's registration), with the number of their devices now
/// there.
pub(crate) fn product_list(world: &World, params: &Params) -> Result<ProductPage, Failure> {
    let (size, page) = paging(params, "CurrentPage", MAX_PRODUCT_PAGE_SIZE)?;
    let instance = params.get("IotInstanceId").map(String::as_str).filter(|id| !id.is_empty());
    let mut products: Vec<(u64, &str)> = world
        .products
        .keys()
        .filter(|product_key| product_exists(world, product_key, instance))
        .map(|product_key| {
            let first = world.index.devices(product_key, None).and_then(|list| list.last().copied());
            (first.unwrap_or(0), product_key.as_str())
        })
        .collect();
    products.sort_unstable_by(|a, b| b.cmp(a));
    let total = products.len();
    let product_info = products
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|&(first, product_key)| ProductInfo {
            product_key: product_key.to_string(),
            product_name: product_key.to_string(),
            node_type: u32::from(world.is_gateway_product(product_key)),
            auth_type: "secret".to_string(),
            data_format: 1,
            device_count: device_count(world, product_key, instance) as u64,
            gmt_create: (REGISTERED_EPOCH_MS + first * 1000) as i64,
            description: String::new(),
        })
        .collect();
    Ok(ProductPage {
        current_page: page as u64,
        page_count: page_count(total, size),
        page_size: size as u64,
        total: total as u64,
        list: ProductList { product_info },
    })
}

/// QueryDevice's answer (without its common fields): a product's devices now in
/// `IotInstanceId` (every one when absent), newest first. By `CurrentPage` up to
/// `MAX_CURRENT_PAGE_ROWS` rows; a `NextToken` (`emu-dev-<n>`, the last device handed out)
/// continues after that device whatever the page, so pages stay right while devices change.
pub(crate) fn query_device(world: &World, params: &Params) -> Result<DevicePageBody, Failure> {
    let product_key = required(params, "ProductKey")?;
    let (size, page) = paging(params, "CurrentPage", MAX_DEVICE_PAGE_SIZE)?;
    let instance = params.get("IotInstanceId").map(String::as_str).filter(|id| !id.is_empty());
    if !product_exists(world, product_key, instance) {
        return Err(no_product(product_key, instance));
    }
    let token = params.get("NextToken").filter(|token| !token.is_empty());
    let after = match token {
        Some(token) => Some(
            token
                .strip_prefix("emu-dev-")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| invalid_page(format!("NextToken {token} is not valid")))?,
        ),
        None if (page as u64).saturating_mul(size as u64) > MAX_CURRENT_PAGE_ROWS => {
            return Err(invalid_page(format!(
                "CurrentPage × PageSize is past {MAX_CURRENT_PAGE_ROWS} rows: page on with NextToken"
            )));
        }
        None => None,
    };
    let total = device_count(world, product_key, instance);
    let skip = match after {
        Some(after) => world
            .index
            .devices(product_key, instance)
            .map_or(0, |list| list.count_through(&after, crate::index::newest_first)),
        None => (page - 1) * size,
    };
    let rows: Vec<(&str, Device<'_>)> = devices_of(world, product_key, instance, skip).take(size).collect();
    let next_token = match rows.last() {
        Some((_, last)) if skip + rows.len() < total => format!("emu-dev-{}", last.registered),
        _ => String::new(),
    };
    let device_info = rows
        .iter()
        .map(|(name, device)| {
            let created = text_time(registered_ms(device));
            let modified = device.last_move.and_then(|last| last.at).map_or_else(|| created.clone(), text_time);
            let iot_id = iot_id(product_key, name);
            DeviceInfo {
                device_id: iot_id.clone(),
                device_name: name.to_string(),
                device_secret: device.secret.to_string(),
                device_status: DEVICE_STATUS.to_string(),
                device_type: String::new(),
                gmt_create: created.clone(),
                gmt_modified: modified.clone(),
                iot_id,
                nickname: String::new(),
                product_key: product_key.to_string(),
                utc_create: created,
                utc_modified: modified,
            }
        })
        .collect();
    Ok(DevicePageBody {
        common: Default::default(),
        data: DevicePage { device_info },
        next_token,
        page: page as u64,
        page_count: page_count(total, size),
        page_size: size as u64,
        total: total as u64,
    })
}

/// BatchQueryDeviceDetail's `Data.Data`: the named devices of one product, in the order asked;
/// a name not registered under the product is left out. With `IotInstanceId`, a device of the
/// product that is now in another instance is foreign and fails the whole call.
pub(crate) fn device_details(world: &World, params: &Params) -> Result<Vec<DeviceDetail>, Failure> {
    let product_key = required(params, "ProductKey")?;
    let mut names: Vec<(u32, &str)> = Vec::new();
    for (key, value) in params {
        if let Some(index) = key.strip_prefix("DeviceName.") {
            let index = index
                .parse::<u32>()
                .map_err(|_| Failure::gateway(400, "InvalidParameter", format!("{key}: bad list index")))?;
            names.push((index, value));
        }
    }
    names.sort_unstable();
    if names.is_empty() {
        return Err(Failure::gateway(400, "MissingDeviceName", "DeviceName is mandatory for this action."));
    }
    if names.len() > MAX_DETAIL_NAMES {
        let count = names.len();
        return Err(Failure::business(
            "iot.system.IllegalRequest",
            format!("{count} device names in one call; at most {MAX_DETAIL_NAMES}"),
        ));
    }
    let instance = params.get("IotInstanceId").map(String::as_str).filter(|id| !id.is_empty());
    if !product_exists(world, product_key, instance) {
        return Err(no_product(product_key, instance));
    }
    let node_type = u32::from(world.is_gateway_product(product_key));
    let mut found = Vec::new();
    for (_, name) in names {
        let Some(device) = world.device(product_key, name) else { continue };
        if let Some(instance) = instance.filter(|instance| device.location() != *instance) {
            return Err(Failure::business(
                "iot.system.IllegalRequest",
                format!("device {product_key}/{name} is not in instance {instance}"),
            ));
        }
        let created = text_time(registered_ms(&device));
        found.push(DeviceDetail {
            device_name: name.to_string(),
            device_secret: device.secret.to_string(),
            firmware_version: String::new(),
            gmt_active: String::new(),
            gmt_create: created.clone(),
            iot_id: iot_id(product_key, name),
            nickname: String::new(),
            node_type,
            product_key: product_key.to_string(),
            product_name: product_key.to_string(),
            region: region(world, device.location()).to_string(),
            status: DEVICE_STATUS.to_string(),
            utc_active: String::new(),
            utc_create: created,
        });
    }
    Ok(found)
}

/// GetThingTopo's `Data`: a gateway's sub-devices (the inventories' `gateway` column), in the
/// order they were registered, paged by `PageNo`.
pub(crate) fn thing_topo(world: &World, params: &Params) -> Result<TopoPage, Failure> {
    let product_key = required(params, "ProductKey")?;
    let device_name = required(params, "DeviceName")?;
    let (size, page) = paging(params, "PageNo", MAX_TOPO_PAGE_SIZE)?;
    let gateway = (product_key.to_string(), device_name.to_string());
    if world.device(product_key, device_name).is_none() {
        return Err(Failure::business(
            "iot.device.NotExistedDevice",
            format!("device {product_key}/{device_name} does not exist"),
        ));
    }
    let subs = world.subdevices.get(&gateway).map_or(&[][..], Vec::as_slice);
    let device_info = subs
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|(pk, name)| TopoDevice { product_key: pk.clone(), device_name: name.clone(), iot_id: iot_id(pk, name) })
        .collect();
    Ok(TopoPage {
        current_page: page as u64,
        page_count: page_count(subs.len(), size),
        page_size: size as u64,
        total: subs.len() as u64,
        list: TopoList { device_info },
    })
}

/// Whether `TargetUid`, when given, is the account (every distribution stays in it).
fn uid_matches(world: &World, params: &Params) -> bool {
    params.get("TargetUid").is_none_or(|uid| *uid == world.account)
}

/// ListDistributedDevice's `Data`: every device ever distributed, as its last distribution
/// left it (`world::Device::last_distribution`, what QueryDeviceProvisioning shows): a device
/// returned home is listed with the return (`Source = B, Target = A`), not dropped. Newest
/// first (a distribution an inventory seeded is oldest; ties by product key and name), filtered
/// by `ProductKey`, `DeviceName`, `SourceInstanceId` (where it left from) and `TargetUid`; no
/// filter on the target. `GmtCreate = GmtModified` = when the job ended, or `now` for a seeded one.
pub(crate) fn distributed_devices(world: &World, params: &Params, now: Now) -> Result<DistributedDevices, Failure> {
    let (size, page) = paging(params, "CurrentPage", MAX_DISTRIBUTED_PAGE_SIZE)?;
    let (total, moves) = listed_moves(world, params, (page - 1).saturating_mul(size));
    let items = moves
        .take(size)
        .map(|(at, pk, name, from, to)| {
            let when = at.unwrap_or(now.wall) as i64;
            DistributedDevice {
                device_name: name.to_string(),
                gmt_create: when,
                gmt_modified: when,
                product_key: pk.to_string(),
                source_instance_id: from.to_string(),
                source_instance_name: from.to_string(),
                source_region: region(world, from).to_string(),
                source_uid: world.account.clone(),
                target_aliyun_id: world.account.clone(),
                target_instance_id: to.to_string(),
                target_instance_name: to.to_string(),
                target_region: region(world, to).to_string(),
                target_uid: world.account.clone(),
            }
        })
        .collect();
    Ok(DistributedDevices { total: total as u64, info: DistributedDeviceItems { items } })
}

/// A row of ListDistributedDevice: (time or `None` for one an inventory seeded, product key,
/// device name, from, to).
type MoveRow<'a> = (Option<u64>, &'a str, &'a str, &'a str, &'a str);

/// A device's row, when it was ever distributed.
fn move_row<'a>(product_key: &'a str, name: &'a str, device: Device<'a>) -> Option<MoveRow<'a>> {
    let last = device.last_move?;
    Some((last.at, product_key, name, last.from, last.to))
}

/// ListDistributedDevice's rows for `params`: how many, and those from the `skip`th on, in order.
fn listed_moves<'a>(
    world: &'a World,
    params: &'a Params,
    skip: usize,
) -> (usize, Box<dyn Iterator<Item = MoveRow<'a>> + 'a>) {
    let given = |key: &str| params.get(key).map(String::as_str);
    if !uid_matches(world, params) {
        return (0, Box::new(std::iter::empty()));
    }
    if let Some(name) = given("DeviceName") {
        // At most one row per product: found by name, not listed.
        let products: Vec<&String> = match given("ProductKey") {
            Some(product_key) => world.products.get_key_value(product_key).map(|(pk, _)| pk).into_iter().collect(),
            None => world.products.keys().collect(),
        };
        let mut rows: Vec<MoveRow<'a>> = products
            .into_iter()
            .filter_map(|pk| move_row(pk, name, world.device(pk, name)?))
            .filter(|row| given("SourceInstanceId").is_none_or(|source| source == row.3))
            .collect();
        rows.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| (a.1, a.2).cmp(&(b.1, b.2))));
        return (rows.len(), Box::new(rows.into_iter().skip(skip)));
    }
    let filter = DistributedFilter { product_key: given("ProductKey"), source: given("SourceInstanceId") };
    let Some(list) = world.index.distributed(filter) else { return (0, Box::new(std::iter::empty())) };
    let rows = list.iter_from(skip).filter_map(move |&(_, number)| {
        let (pk, name, device) = world.numbered(number)?;
        move_row(pk, name, device)
    });
    (list.len(), Box::new(rows))
}

/// The first `limit` devices (product key, name) QueryDevice or ListDistributedDevice would
/// list for `params`, leaving out those `skip` names: what the `churn` fault may delete.
pub(crate) fn first_rows(
    world: &World,
    action: Action,
    params: &Params,
    limit: usize,
    skip: fn(&str) -> bool,
) -> Vec<(String, String)> {
    let named = |pk: &str, name: &str| (!skip(name)).then(|| (pk.to_string(), name.to_string()));
    match action {
        Action::QueryDevice => {
            let Some(product_key) = params.get("ProductKey") else { return Vec::new() };
            let instance = params.get("IotInstanceId").map(String::as_str).filter(|id| !id.is_empty());
            devices_of(world, product_key, instance, 0)
                .filter_map(|(name, _)| named(product_key, name))
                .take(limit)
                .collect()
        }
        Action::ListDistributedDevice => {
            listed_moves(world, params, 0).1.filter_map(|(_, pk, name, _, _)| named(pk, name)).take(limit).collect()
        }
        _ => Vec::new(),
    }
}

/// ListDistributedProduct's `Data`: one item per (product, source, target) among the devices'
/// last distributions, `GmtCreate` the latest of them (`now` for seeded ones); newest first,
/// filtered by `ProductKey`, `SourceInstanceId`, `TargetInstanceId` and `TargetUid`.
pub(crate) fn distributed_products(world: &World, params: &Params, now: Now) -> Result<DistributedProducts, Failure> {
    let (size, page) = paging(params, "CurrentPage", MAX_DISTRIBUTED_PAGE_SIZE)?;
    let matches = |key: &str, value: &str| params.get(key).is_none_or(|wanted| wanted == value);
    // Few groups (products × sources × targets), each with its latest time kept by the index.
    let mut latest: std::collections::BTreeMap<(&str, &str, &str), u64> = Default::default();
    for ((pk, from, to), at, seeded) in world.index.groups(params.get("ProductKey").map(String::as_str)) {
        if matches("ProductKey", pk) && matches("SourceInstanceId", from) && matches("TargetInstanceId", to) {
            let when = if seeded { at.unwrap_or(0).max(now.wall) } else { at.unwrap_or(0) };
            latest.insert((pk, from, to), when);
        }
    }
    if !uid_matches(world, params) {
        latest.clear();
    }
    let mut products: Vec<_> = latest.into_iter().collect();
    products.sort_by_key(|product| std::cmp::Reverse(product.1));
    let items = products
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|&((pk, from, to), when)| DistributedProduct {
            gmt_create: when as i64,
            product_key: pk.to_string(),
            source_instance_id: from.to_string(),
            source_instance_name: from.to_string(),
            source_region: region(world, from).to_string(),
            source_uid: world.account.clone(),
            target_aliyun_id: world.account.clone(),
            target_instance_id: to.to_string(),
            target_instance_name: to.to_string(),
            target_region: region(world, to).to_string(),
            target_uid: world.account.clone(),
        })
        .collect();
    Ok(DistributedProducts { total: products.len() as u64, info: DistributedProductItems { items } })
}

#[cfg(test)]
mod tests;
