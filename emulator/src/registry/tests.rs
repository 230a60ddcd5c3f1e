use super::*;
use crate::world::Instance;

const ACCOUNT: &str = "1234567890123456";
const NOW: Now = Now { mono: 0, wall: 1_700_000_000_000 };

/// Instances a (Shanghai), b (Beijing), c (Frankfurt); product pk with d1..d5 at home in a
/// (d5 seeded in b), a gateway product gw with g1 whose sub-devices are d1, d2.
fn world() -> World {
    let mut world = World { account: ACCOUNT.into(), ..World::default() };
    for (id, region) in [("iot-a", "cn-shanghai"), ("iot-b", "cn-beijing"), ("iot-c", "eu-central-1")] {
        world.instances.insert(id.into(), Instance { region: region.into(), owner_uid: None });
    }
    world.add_device("gw", "g1", "iot-a", None);
    for i in 1..=4 {
        world.add_device("pk", &format!("d{i}"), "iot-a", None);
        let gateway = (i <= 2).then_some(("gw", "g1"));
        world.describe_device("pk", &format!("d{i}"), &format!("secret-{i}"), gateway);
    }
    world.add_device("pk", "d5", "iot-a", Some("iot-b"));
    world
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn names(page: &DevicePageBody) -> Vec<&str> {
    page.data.device_info.iter().map(|d| d.device_name.as_str()).collect()
}

#[test]
fn query_device_lists_newest_first_by_page_and_by_token() {
    let world = world();
    let first = query_device(&world, &params(&[("ProductKey", "pk"), ("PageSize", "2")])).unwrap();
    assert_eq!(names(&first), ["d5", "d4"]);
    assert_eq!((first.total, first.page, first.page_count, first.page_size), (5, 1, 3, 2));
    assert_eq!(first.data.device_info[1].device_secret, "secret-4");
    assert_eq!(
        first.data.device_info[1].utc_create, "2020-09-13T12:26:45Z",
        "d4 is device 5 of the account: epoch + 5 s"
    );
    let by_token =
        query_device(&world, &params(&[("ProductKey", "pk"), ("PageSize", "2"), ("NextToken", &first.next_token)]))
            .unwrap();
    assert_eq!(names(&by_token), ["d3", "d2"]);
    let by_page =
        query_device(&world, &params(&[("ProductKey", "pk"), ("PageSize", "2"), ("CurrentPage", "3")])).unwrap();
    assert_eq!((names(&by_page), by_page.next_token.as_str()), (vec!["d1"], ""));
    // Now in instance b: only the seeded device.
    let in_b = query_device(&world, &params(&[("ProductKey", "pk"), ("IotInstanceId", "iot-b")])).unwrap();
    assert_eq!((names(&in_b), in_b.total), (vec!["d5"], 1));
}

#[test]
fn query_device_refuses_current_pages_past_ten_thousand_rows_and_bad_paging() {
    let world = world();
    let refused = |pairs: &[(&str, &str)]| query_device(&world, &params(pairs)).unwrap_err();
    let deep = refused(&[("ProductKey", "pk"), ("PageSize", "50"), ("CurrentPage", "201")]);
    assert_eq!(deep.code(), "iot.common.InvalidPageParams");
    assert!(query_device(&world, &params(&[("ProductKey", "pk"), ("PageSize", "50"), ("CurrentPage", "200")])).is_ok());
    let with_token =
        params(&[("ProductKey", "pk"), ("PageSize", "50"), ("CurrentPage", "201"), ("NextToken", "emu-dev-4")]);
    assert_eq!(names(&query_device(&world, &with_token).unwrap()), ["d2", "d1"], "a token pages on past 10,000 rows");
    assert_eq!(refused(&[("ProductKey", "pk"), ("PageSize", "51")]).code(), "iot.common.InvalidPageParams");
    assert_eq!(refused(&[("ProductKey", "pk"), ("NextToken", "x")]).code(), "iot.common.InvalidPageParams");
    assert_eq!(refused(&[("PageSize", "5")]).code(), "MissingProductKey");
    assert_eq!(refused(&[("ProductKey", "nope")]).code(), "iot.prod.NotExistedProduct");
    assert_eq!(refused(&[("ProductKey", "gw"), ("IotInstanceId", "iot-b")]).code(), "iot.prod.NotExistedProduct");
}

#[test]
fn product_list_is_newest_first_with_node_type_and_device_counts_per_instance() {
    let world = world();
    let all = product_list(&world, &params(&[])).unwrap();
    let listed: Vec<(&str, u32, u64)> =
        all.list.product_info.iter().map(|p| (p.product_key.as_str(), p.node_type, p.device_count)).collect();
    assert_eq!(listed, [("pk", 0, 5), ("gw", 1, 1)]);
    assert_eq!((all.total, all.page_count, all.page_size), (2, 1, 10));
    let in_b = product_list(&world, &params(&[("IotInstanceId", "iot-b")])).unwrap();
    assert_eq!((in_b.total, in_b.list.product_info[0].device_count), (1, 1));
    let second = product_list(&world, &params(&[("PageSize", "1"), ("CurrentPage", "2")])).unwrap();
    assert_eq!(second.list.product_info[0].product_key, "gw");
    assert_eq!(
        product_list(&world, &params(&[("PageSize", "201")])).unwrap_err().code(),
        "iot.common.InvalidPageParams"
    );
}

#[test]
fn batch_detail_omits_unknown_names_and_fails_on_a_foreign_one() {
    let world = world();
    let asked =
        params(&[("ProductKey", "pk"), ("DeviceName.1", "d2"), ("DeviceName.2", "ghost"), ("DeviceName.3", "d5")]);
    let found = device_details(&world, &asked).unwrap();
    let got: Vec<(&str, &str)> = found.iter().map(|d| (d.device_name.as_str(), d.region.as_str())).collect();
    assert_eq!(got, [("d2", "cn-shanghai"), ("d5", "cn-beijing")]);
    assert_eq!(found[0].device_secret, "secret-2");
    let mut in_a = asked.clone();
    in_a.insert("IotInstanceId".into(), "iot-a".into());
    let foreign = device_details(&world, &in_a).unwrap_err();
    assert_eq!(foreign.code(), "iot.system.IllegalRequest");
    let many: Params = (1..=101)
        .map(|i| (format!("DeviceName.{i}"), format!("d{i}")))
        .chain([("ProductKey".to_string(), "pk".to_string())])
        .collect();
    assert_eq!(device_details(&world, &many).unwrap_err().code(), "iot.system.IllegalRequest");
    assert_eq!(device_details(&world, &params(&[("ProductKey", "pk")])).unwrap_err().code(), "MissingDeviceName");
}

#[test]
fn thing_topo_pages_a_gateways_sub_devices() {
    let world = world();
    let topo =
        thing_topo(&world, &params(&[("ProductKey", "gw"), ("DeviceName", "g1"), ("PageSize", "1"), ("PageNo", "2")]))
            .unwrap();
    assert_eq!((topo.total, topo.page_count, topo.current_page), (2, 2, 2));
    assert_eq!(topo.list.device_info[0].device_name, "d2");
    let none = thing_topo(&world, &params(&[("ProductKey", "pk"), ("DeviceName", "d1")])).unwrap();
    assert_eq!(none.total, 0);
    let missing = thing_topo(&world, &params(&[("ProductKey", "gw"), ("DeviceName", "g9")])).unwrap_err();
    assert_eq!(missing.code(), "iot.device.NotExistedDevice");
}

#[test]
fn distributed_devices_show_the_last_distribution_a_return_included() {
    let mut world = world();
    world.move_device("pk", "d1", "iot-b", Some(10));
    world.move_device("pk", "d2", "iot-b", Some(20));
    world.move_device("pk", "d2", "iot-a", Some(30)); // returned home
    let listed = distributed_devices(&world, &params(&[]), NOW).unwrap();
    let rows: Vec<(&str, &str, &str, i64)> = listed
        .info
        .items
        .iter()
        .map(|d| (d.device_name.as_str(), d.source_instance_id.as_str(), d.target_instance_id.as_str(), d.gmt_modified))
        .collect();
    assert_eq!(
        rows,
        [("d2", "iot-b", "iot-a", 30), ("d1", "iot-a", "iot-b", 10), ("d5", "iot-a", "iot-b", NOW.wall as i64)],
        "newest first; the seeded one last, shown at now"
    );
    assert_eq!(listed.info.items[0].target_region, "cn-shanghai");
    assert_eq!(listed.info.items[0].target_uid, ACCOUNT);
    let from_b = distributed_devices(&world, &params(&[("SourceInstanceId", "iot-b")]), NOW).unwrap();
    assert_eq!((from_b.total, from_b.info.items[0].device_name.as_str()), (1, "d2"));
    let page = distributed_devices(&world, &params(&[("PageSize", "1"), ("CurrentPage", "2")]), NOW).unwrap();
    assert_eq!((page.total, page.info.items[0].device_name.as_str()), (3, "d1"));
    let other = distributed_devices(&world, &params(&[("TargetUid", "999")]), NOW).unwrap();
    assert_eq!(other.total, 0);
    let bad = distributed_devices(&world, &params(&[("PageSize", "201")]), NOW).unwrap_err();
    assert_eq!(bad.code(), "iot.common.InvalidPageParams");
}

#[test]
fn distributed_products_are_one_item_per_product_source_and_target() {
    let mut world = world();
    world.move_device("pk", "d1", "iot-b", Some(10));
    world.move_device("pk", "d2", "iot-b", Some(20));
    world.move_device("pk", "d3", "iot-c", Some(5));
    let listed = distributed_products(&world, &params(&[]), NOW).unwrap();
    let rows: Vec<(&str, &str, i64)> = listed
        .info
        .items
        .iter()
        .map(|p| (p.source_instance_id.as_str(), p.target_instance_id.as_str(), p.gmt_create))
        .collect();
    assert_eq!(rows, [("iot-a", "iot-b", NOW.wall as i64), ("iot-a", "iot-c", 5)]);
    let to_c = distributed_products(&world, &params(&[("TargetInstanceId", "iot-c")]), NOW).unwrap();
    assert_eq!((to_c.total, to_c.info.items[0].target_region.as_str()), (1, "eu-central-1"));
}

/// A world that registers, moves (seeded, distributed, returned, twice at one time) and deletes
/// and restores devices in a scrambled order: 3 products, 4 instances, 2,000 devices.
fn scrambled() -> World {
    let mut world = World { account: ACCOUNT.into(), ..World::default() };
    let instances = ["iot-a", "iot-b", "iot-c", "iot-d"];
    for id in instances {
        world.instances.insert(id.into(), Instance { region: "cn-shanghai".into(), owner_uid: None });
    }
    let mut state = 7u64;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let products = ["pk-b", "pk-a", "pk-c"];
    for n in 0..2000u64 {
        let product = products[next(3) as usize];
        let home = instances[next(2) as usize];
        let seeded = (next(5) == 0).then(|| instances[next(4) as usize]);
        world.add_device(product, &format!("dev-{:04}", next(5000)), home, seeded);
        let some_device = |world: &World, number: u64| {
            world.index.name(1 + number).map(|(p, d)| (p.to_string(), d.to_string())).unwrap_or_default()
        };
        if n % 3 == 0 {
            let (pk, name) = some_device(&world, next(world.last_registered));
            // Times repeat: ties are broken by product key and name.
            world.move_device(&pk, &name, instances[next(4) as usize], Some(1000 + next(40)));
        }
        if n % 50 == 0 {
            let (pk, name) = some_device(&world, next(world.last_registered));
            let restore = next(2) == 0;
            if let Some(device) = world.remove_device(&pk, &name).filter(|_| restore) {
                world.restore_device(&pk, &name, device);
            }
        }
    }
    world
}

/// What QueryDevice lists, by scanning every device.
fn naive_devices(world: &World, pk: &str, instance: Option<&str>) -> Vec<String> {
    let mut found: Vec<(u64, &str)> = world
        .devices()
        .filter(|(p, _, device)| *p == pk && instance.is_none_or(|instance| device.location() == instance))
        .map(|(_, name, device)| (device.registered, name))
        .collect();
    found.sort_unstable_by(|a, b| b.cmp(a));
    found.into_iter().map(|(_, name)| name.to_string()).collect()
}

/// What ListDistributedDevice lists, by scanning and sorting every device.
fn naive_distributed(world: &World, pk: Option<&str>, source: Option<&str>) -> Vec<(String, String)> {
    let mut found: Vec<(Option<u64>, &str, &str)> = world
        .devices()
        .filter_map(|(p, name, device)| {
            let last = device.last_move?;
            let wanted = pk.is_none_or(|pk| pk == p) && source.is_none_or(|source| source == last.from);
            wanted.then_some((last.at, p, name))
        })
        .collect();
    found.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| (a.1, a.2).cmp(&(b.1, b.2))));
    found.into_iter().map(|(_, pk, name)| (pk.to_string(), name.to_string())).collect()
}

/// The rows of every page by `CurrentPage`, each page's Total checked to be `total`.
fn every_page<T>(base: &[(&str, &str)], total: usize, mut ask: impl FnMut(&Params) -> (u64, Vec<T>)) -> Vec<T> {
    let mut rows = Vec::new();
    for page in 1.. {
        let page = page.to_string();
        let mut asked = base.to_vec();
        asked.push(("CurrentPage", &page));
        let (answered, found) = ask(&params(&asked));
        assert_eq!(answered as usize, total);
        if found.is_empty() {
            break;
        }
        rows.extend(found);
    }
    rows
}

#[test]
fn the_index_answers_what_a_scan_of_every_device_answers() {
    let world = scrambled();
    assert!(world.device_count() > 1500, "{} devices", world.device_count());
    for pk in ["pk-a", "pk-b", "pk-c"] {
        for instance in [None, Some("iot-a"), Some("iot-b"), Some("iot-c")] {
            let expected = naive_devices(&world, pk, instance);
            let mut base = vec![("ProductKey", pk), ("PageSize", "7")];
            base.extend(instance.map(|instance| ("IotInstanceId", instance)));
            // By page number, and by token from the first page on.
            let by_page = every_page(&base, expected.len(), |asked| {
                let answer = query_device(&world, asked).unwrap();
                (answer.total, names(&answer).into_iter().map(str::to_string).collect())
            });
            assert_eq!(by_page, expected, "{pk} {instance:?} by page");
            let (mut by_token, mut token) = (Vec::new(), String::new());
            loop {
                let mut asked = base.clone();
                asked.push(("NextToken", &token));
                let answer = query_device(&world, &params(&asked)).unwrap();
                by_token.extend(names(&answer).into_iter().map(str::to_string));
                if answer.next_token.is_empty() {
                    break;
                }
                token = answer.next_token;
            }
            assert_eq!(by_token, expected, "{pk} {instance:?} by token");
        }
    }
    let listing = product_list(&world, &params(&[("PageSize", "10")])).unwrap();
    for product in &listing.list.product_info {
        assert_eq!(product.device_count as usize, naive_devices(&world, &product.product_key, None).len());
    }
    for pk in [None, Some("pk-a"), Some("pk-c")] {
        for source in [None, Some("iot-a"), Some("iot-d")] {
            let expected = naive_distributed(&world, pk, source);
            let mut base = vec![("PageSize", "13")];
            base.extend(pk.map(|pk| ("ProductKey", pk)));
            base.extend(source.map(|source| ("SourceInstanceId", source)));
            let listed = every_page(&base, expected.len(), |asked| {
                let answer = distributed_devices(&world, asked, NOW).unwrap();
                (answer.total, answer.info.items.into_iter().map(|item| (item.product_key, item.device_name)).collect())
            });
            assert_eq!(listed, expected, "{pk:?} from {source:?}");
            // One device by name, with and without its product.
            if let Some((pk, name)) = expected.get(expected.len() / 2) {
                for asked in [vec![("DeviceName", name.as_str())], vec![("DeviceName", name), ("ProductKey", pk)]] {
                    let answer = distributed_devices(&world, &params(&asked), NOW).unwrap();
                    assert!(answer.info.items.iter().any(|item| item.product_key == *pk && item.device_name == *name));
                }
            }
        }
    }
    // ListDistributedProduct: one group per (product, source, target), its latest time.
    let mut groups: std::collections::BTreeMap<(String, String, String), u64> = Default::default();
    for (pk, _, device) in world.devices() {
        if let Some(last) = device.last_move {
            let slot = groups.entry((pk.to_string(), last.from.to_string(), last.to.to_string())).or_default();
            *slot = (*slot).max(last.at.unwrap_or(NOW.wall));
        }
    }
    for product in [None, Some("pk-b"), Some("pk-none")] {
        let mut asked = vec![("PageSize", "200")];
        asked.extend(product.map(|pk| ("ProductKey", pk)));
        let answer = distributed_products(&world, &params(&asked), NOW).unwrap();
        let mut listed: Vec<((String, String, String), u64)> = answer
            .info
            .items
            .into_iter()
            .map(|item| ((item.product_key, item.source_instance_id, item.target_instance_id), item.gmt_create as u64))
            .collect();
        listed.sort();
        let expected: Vec<_> = groups
            .iter()
            .filter(|(key, _)| product.is_none_or(|pk| key.0 == pk))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert!(product == Some("pk-none") || !expected.is_empty());
        assert_eq!(listed, expected, "{product:?}");
    }
}
