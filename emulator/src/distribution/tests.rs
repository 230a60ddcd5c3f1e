//! The platform's rules, the job timeline and each job/device fault.

use super::*;
use crate::world::Instance;
use serde_json::Value;
use std::collections::BTreeSet;

const ACCOUNT: &str = "1111";
const PK: &str = "a1product01";
/// Where PK's devices are.
const PK_SOURCE: &str = "iotx-oxssharez200";

fn world() -> World {
    let mut world = World { account: ACCOUNT.into(), ..World::default() };
    let instances = [
        ("iotx-oxssharez200", "cn-shanghai", None),
        ("iotx-oxssharez300", "ap-northeast-1", None),
        ("iotx-oxssharez400", "ap-southeast-1", None),
        ("iot-own", "cn-beijing", Some(ACCOUNT)),
        ("iot-own-bj2", "cn-beijing", Some(ACCOUNT)),
        ("iot-foreign", "eu-central-1", Some("2222")),
    ];
    for (id, region, owner) in instances {
        world.instances.insert(id.into(), Instance { region: region.into(), owner_uid: owner.map(str::to_string) });
    }
    for n in 1..=30 {
        world.add_device(PK, &format!("dev-{n:04}"), "iotx-oxssharez200", None);
    }
    world.add_device("a1other0001", "gw-0001", "iot-own", Some("iotx-oxssharez300"));
    world
}

fn service(faults: &str, job_ms: u64) -> Distribution {
    Distribution::new(world(), Faults::parse(faults, 7).unwrap(), job_ms, 600_000)
}

fn at(mono: u64) -> Now {
    Now { mono, wall: 1_700_000_000_000 + mono }
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
}

/// A Create of `devices` of PK from the Shanghai public instance to `targets`.
fn create(devices: &[&str], targets: &[&str], strategy: &str) -> Params {
    create_from(PK_SOURCE, devices, targets, strategy)
}

/// A Create of `devices` of PK from `source` to `targets`.
fn create_from(source: &str, devices: &[&str], targets: &[&str], strategy: &str) -> Params {
    let mut params =
        params(&[("ProductKey", PK), ("SourceInstanceId", source), ("Strategy", strategy), ("TargetUid", ACCOUNT)]);
    for (n, name) in devices.iter().enumerate() {
        params.insert(format!("DeviceName.{}", n + 1), name.to_string());
    }
    for (n, target) in targets.iter().enumerate() {
        params.insert(format!("TargetInstanceConfig.{}.TargetInstanceId", n + 1), target.to_string());
    }
    params
}

fn names(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| format!("dev-{n:04}")).collect()
}

fn refs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

fn refused(service: &mut Distribution, params: &Params) -> String {
    match service.create(params, at(0)) {
        Ok(_) => "created".into(),
        Err(failure) => failure.code().to_string(),
    }
}

#[test]
fn create_enforces_every_rule_with_the_platforms_codes() {
    let mut service = service("", 1000);
    let one = ["dev-0001"];
    let ok = create(&one, &["iotx-oxssharez300"], "0");
    let with = |change: &dyn Fn(&mut Params)| {
        let mut params = ok.clone();
        change(&mut params);
        params
    };
    let cases: Vec<(&str, Params)> = vec![
        ("MissingProductKey", with(&|p| drop(p.remove("ProductKey")))),
        ("MissingSourceInstanceId", with(&|p| drop(p.remove("SourceInstanceId")))),
        ("MissingStrategy", with(&|p| drop(p.remove("Strategy")))),
        ("MissingStrategy", with(&|p| drop(p.insert("Strategy".into(), String::new())))),
        ("MissingDeviceName", with(&|p| drop(p.remove("DeviceName.1")))),
        ("MissingTargetInstanceConfig", with(&|p| drop(p.remove("TargetInstanceConfig.1.TargetInstanceId")))),
        ("MissingTargetUid", with(&|p| drop(p.remove("TargetUid")))),
        ("iot.system.IllegalRequest", with(&|p| drop(p.insert("Strategy".into(), "2".into())))),
        ("iot.system.IllegalRequest", with(&|p| drop(p.insert("Strategy".into(), "x".into())))),
        ("iot.system.IllegalRequest", with(&|p| drop(p.insert("Strategy".into(), "01".into())))),
        (
            "iot.system.IllegalRequest",
            with(&|p| drop(p.remove("TargetUid").and(p.insert("TargetAliyunId".into(), "a@b".into())))),
        ),
        ("iot.system.UidNotFound", with(&|p| drop(p.insert("TargetUid".into(), String::new())))),
        ("InvalidParameter", with(&|p| drop(p.insert("DeviceName.x".into(), "dev-0002".into())))),
        ("iot.system.IllegalRequest", with(&|p| drop(p.insert("TargetUid".into(), "2222".into())))),
        ("iot.system.UidNotFound", with(&|p| drop(p.insert("TargetUid".into(), "9999".into())))),
        ("iot.system.InstanceNotFound", with(&|p| drop(p.insert("SourceInstanceId".into(), "iot-nowhere".into())))),
        ("iot.system.InstanceNotFound", create(&one, &["iot-foreign"], "0")),
        ("iot.system.InstanceNotFound", create(&one, &["iot-nowhere"], "0")),
        ("iot.system.InstanceIdSame", create(&one, &["iotx-oxssharez200"], "0")),
        ("iot.system.IllegalRequest", create(&one, &["iotx-oxssharez300", "iotx-oxssharez400"], "0")),
        ("iot.system.IllegalRequest", create(&one, &["iotx-oxssharez300", "iotx-oxssharez200"], "0")),
        ("iot.system.IllegalRequest", create(&one, &["iot-own", "iot-own-bj2"], "1")),
        ("iot.prod.NotExistedProduct", with(&|p| drop(p.insert("ProductKey".into(), "a1nosuch0001".into())))),
        ("iot.prod.NotExistedProduct", with(&|p| drop(p.insert("SourceInstanceId".into(), "iot-own".into())))),
        ("iot.device.NotExistedDevice", create(&["dev-0001", "dev-9999"], &["iotx-oxssharez300"], "0")),
        ("iot.system.IllegalRequest", create(&["dev-0001", "dev-0001"], &["iotx-oxssharez300"], "0")),
        ("created", ok.clone()),
        ("created", create(&one, &["iotx-oxssharez300", "iotx-oxssharez400", "iot-own"], "1")),
        // Nearest access may list the source among its candidates.
        ("created", create(&one, &["iotx-oxssharez300", "iotx-oxssharez200"], "1")),
        ("created", create(&one, &["iotx-oxssharez200"], "1")),
    ];
    for (expected, params) in &cases {
        assert_eq!(refused(&mut service, params), *expected, "{params:?}");
    }
    let too_many: Vec<String> = (0..=MAX_DEVICES_PER_JOB).map(|n| format!("dev-{n}")).collect();
    let failure = service.create(&create(&refs(&too_many), &["iotx-oxssharez300"], "0"), at(0)).unwrap_err();
    assert_eq!(failure, Failure::business("iot.system.IllegalRequest", "10001 devices in one job; at most 10000"));
    let missing = service.create(&create(&["dev-0001", "dev-9999"], &["iotx-oxssharez300"], "0"), at(0)).unwrap_err();
    assert_eq!(
        missing,
        Failure::business(
            "iot.device.NotExistedDevice",
            "device a1product01/dev-9999 does not exist in instance iotx-oxssharez200"
        )
    );
    assert_eq!(service.jobs().len(), 4, "refused Creates leave no job");
}

#[test]
fn jobs_move_from_0_to_1_to_2_and_distributed_devices_show_their_new_instance() {
    let mut service = service("", 1000);
    let devices = names(1..=3);
    let job = service.create(&create(&refs(&devices), &["iotx-oxssharez300"], "0"), at(0)).unwrap();
    let id = service.jobs()[job].id.clone();
    let by_id = params(&[("JobId", &id)]);
    let status = |service: &mut Distribution, mono| service.query(&by_id, at(mono)).unwrap().status.code();
    assert_eq!(
        [status(&mut service, 0), status(&mut service, 199), status(&mut service, 200), status(&mut service, 999)],
        [0, 0, 1, 1]
    );
    let where_is = |service: &mut Distribution, mono| {
        let data = service.provisioning(&params(&[("ProductKey", PK), ("DeviceName", "dev-0002")]), at(mono)).unwrap();
        (data.target_iot_instance_id, data.gmt_modified as u64)
    };
    assert_eq!(where_is(&mut service, 500), ("iotx-oxssharez200".into(), at(500).wall), "not moved while running");
    assert_eq!(refused_code(service.detail(&by_id, at(500))), "iot.system.IllegalRequest");
    assert_eq!(status(&mut service, 1000), 2);
    assert_eq!(where_is(&mut service, 5000), ("iotx-oxssharez300".into(), at(1000).wall));
    let data = service.query(&by_id, at(1000)).unwrap();
    assert_eq!(data.total, 3);
    assert_eq!(data.target_instance_ids(), ["iotx-oxssharez300"]);
    assert_eq!(data.source_uid, ACCOUNT);
    // Query's Data has no instance names or regions: only List's items do.
    let json = serde_json::to_value(&data).unwrap();
    let keys = |value: &Value| value.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    let official = ["GmtCreate", "JobId", "ProductKey", "SourceInstanceId", "SourceUid", "Status", "Strategy"];
    let official = official.iter().chain(&["TargetInstanceConfigs", "TargetUid", "Total"]).map(|key| key.to_string());
    assert_eq!(keys(&json), official.collect());
    let target = &json["TargetInstanceConfigs"]["targetInstanceConfigs"][0];
    assert_eq!(keys(target), BTreeSet::from(["TargetInstanceId".to_string()]));
    let token = service.detail(&by_id, at(1000)).unwrap();
    let Download::File(file) = service.download(&token, at(1000 + 599_999)) else { panic!("valid for 10 minutes") };
    assert_eq!(
        file,
        "{\"ProductKey\":\"a1product01\",\"DeviceName\":\"dev-0001\",\"Code\":\"200\",\"Message\":\"success\"}\n\
         {\"ProductKey\":\"a1product01\",\"DeviceName\":\"dev-0002\",\"Code\":\"200\",\"Message\":\"success\"}\n\
         {\"ProductKey\":\"a1product01\",\"DeviceName\":\"dev-0003\",\"Code\":\"200\",\"Message\":\"success\"}\n"
    );
    assert_eq!(service.download(&token, at(1000 + 600_000)), Download::Expired);
    assert_eq!(service.download("nosuchtoken", at(1000)), Download::Unknown);
    // Provisioning of a device never distributed, and of one the inventory says is elsewhere.
    let gateway =
        service.provisioning(&params(&[("ProductKey", "a1other0001"), ("DeviceName", "gw-0001")]), at(7)).unwrap();
    assert_eq!(
        (gateway.target_iot_instance_id.as_str(), gateway.target_region.as_str()),
        ("iotx-oxssharez300", "ap-northeast-1")
    );
    assert_eq!((gateway.source_iot_instance_id.as_str(), gateway.source_region.as_str()), ("iot-own", "cn-beijing"));
    assert_eq!((gateway.gmt_create, gateway.gmt_modified), (at(7).wall as i64, at(7).wall as i64));
    let unknown = service.provisioning(&params(&[("ProductKey", PK), ("DeviceName", "dev-9999")]), at(7));
    assert_eq!(refused_code(unknown), "iot.device.NotExistedDevice");
}

/// Where QueryDeviceProvisioning says a device of `product_key` went last: (source, target,
/// GmtModified).
fn last_distribution(service: &mut Distribution, product_key: &str, name: &str, mono: u64) -> (String, String, u64) {
    let data = service.provisioning(&params(&[("ProductKey", product_key), ("DeviceName", name)]), at(mono)).unwrap();
    assert_eq!(data.gmt_create, data.gmt_modified);
    (data.source_iot_instance_id, data.target_iot_instance_id, data.gmt_modified as u64)
}

#[test]
fn a_device_leaves_from_where_it_is_now_hops_on_and_returns_home_from_there() {
    let (home, b, c) = (PK_SOURCE, "iotx-oxssharez300", "iotx-oxssharez400");
    let mut service = service("", 0);
    let moved = |from: &str, to: &str, mono: u64| (from.to_string(), to.to_string(), at(mono).wall);
    service.create(&create_from(home, &["dev-0001", "dev-0002"], &[b], "0"), at(10)).unwrap();
    assert_eq!(last_distribution(&mut service, PK, "dev-0001", 15), moved(home, b, 10));

    // Now in B, the devices no longer leave from home.
    let failure = service.create(&create_from(home, &["dev-0001"], &[c], "0"), at(20)).unwrap_err();
    assert_eq!(
        failure,
        Failure::business(
            "iot.device.NotExistedDevice",
            format!("device {PK}/dev-0001 does not exist in instance {home}")
        )
    );
    assert_eq!(
        refused_code(service.create(&create_from(home, &["dev-0001"], &[home], "0"), at(20))),
        "iot.system.InstanceIdSame"
    );

    // The return leaves from B: Source = B, Target = home. Provisioning shows that distribution.
    service.create(&create_from(b, &["dev-0001"], &[home], "0"), at(30)).unwrap();
    assert_eq!(last_distribution(&mut service, PK, "dev-0001", 35), moved(b, home, 30));
    let data = service.provisioning(&params(&[("ProductKey", PK), ("DeviceName", "dev-0001")]), at(35)).unwrap();
    assert_eq!((data.source_region.as_str(), data.target_region.as_str()), ("ap-northeast-1", "cn-shanghai"));
    // Home again: it leaves from home, not from B.
    assert_eq!(
        refused_code(service.create(&create_from(b, &["dev-0001"], &[c], "0"), at(40))),
        "iot.device.NotExistedDevice"
    );

    // A second hop leaves from B too.
    service.create(&create_from(b, &["dev-0002"], &[c], "0"), at(50)).unwrap();
    assert_eq!(last_distribution(&mut service, PK, "dev-0002", 55), moved(b, c, 50));
    // A job mixing a device in C with one at home is refused for the one elsewhere.
    assert_eq!(
        refused_code(service.create(&create_from(c, &["dev-0002", "dev-0001"], &[b], "0"), at(60))),
        "iot.device.NotExistedDevice"
    );
    service.create(&create_from(home, &["dev-0001"], &[c], "0"), at(70)).unwrap();
    assert_eq!(last_distribution(&mut service, PK, "dev-0001", 75), moved(home, c, 70));
    // A device never distributed is still at home.
    assert_eq!(last_distribution(&mut service, PK, "dev-0003", 80), moved(home, home, 80));
    // The product is known wherever its devices went, never where none did.
    assert_eq!(
        refused_code(service.create(&create_from("iot-own", &["dev-0001"], &[b], "0"), at(90))),
        "iot.prod.NotExistedProduct"
    );
}

#[test]
fn a_device_moves_only_when_distributed_and_only_to_the_first_candidate() {
    let (home, b, c) = (PK_SOURCE, "iotx-oxssharez300", "iotx-oxssharez400");
    let mut service = service("", 1000);
    let moved = |from: &str, to: &str, mono: u64| (from.to_string(), to.to_string(), at(mono).wall);
    service.create(&create_from(home, &["dev-0001"], &[b, home], "1"), at(0)).unwrap();
    // Still at home while the job runs; nothing of the product has reached B yet.
    assert_eq!(last_distribution(&mut service, PK, "dev-0001", 500), moved(home, home, 500));
    assert_eq!(
        refused_code(service.create(&create_from(b, &["dev-0001"], &[c], "0"), at(500))),
        "iot.prod.NotExistedProduct"
    );
    // Nearest access goes to the first candidate; the source as first candidate keeps it there.
    service.create(&create_from(home, &["dev-0002"], &[home, c], "1"), at(600)).unwrap();
    assert_eq!(last_distribution(&mut service, PK, "dev-0001", 1000), moved(home, b, 1000));
    assert_eq!(last_distribution(&mut service, PK, "dev-0002", 1600), moved(home, home, 1600));
    service.create(&create_from(home, &["dev-0002"], &[c], "0"), at(1600)).unwrap();
    // From B, the source among the candidates is no InstanceIdSame either.
    service.create(&create_from(b, &["dev-0001"], &[c, b], "1"), at(1700)).unwrap();
    assert_eq!(last_distribution(&mut service, PK, "dev-0001", 2700), moved(b, c, 2700));
}

#[test]
fn a_device_the_inventory_puts_elsewhere_is_there() {
    let (home, b) = ("iot-own", "iotx-oxssharez300");
    let mut service = service("", 0);
    let moved = |from: &str, to: &str, mono: u64| (from.to_string(), to.to_string(), at(mono).wall);
    let from = |source: &str, target: &str| {
        let mut params = create_from(source, &["gw-0001"], &[target], "0");
        params.insert("ProductKey".into(), "a1other0001".into());
        params
    };
    assert_eq!(last_distribution(&mut service, "a1other0001", "gw-0001", 5), moved(home, b, 5));
    assert_eq!(refused_code(service.create(&from(home, "iotx-oxssharez400"), at(10))), "iot.device.NotExistedDevice");
    service.create(&from(b, home), at(20)).unwrap();
    assert_eq!(last_distribution(&mut service, "a1other0001", "gw-0001", 25), moved(b, home, 20));
}

fn refused_code<T: std::fmt::Debug>(result: Result<T, Failure>) -> String {
    result.map_or_else(|failure| failure.code().to_string(), |ok| format!("accepted: {ok:?}"))
}

#[test]
fn at_most_ten_jobs_are_in_flight_and_a_finished_job_makes_room() {
    let mut service = service("", 1000);
    for n in 1..=10u32 {
        let name = format!("dev-{n:04}");
        service.create(&create(&[&name], &["iotx-oxssharez300"], "0"), at(u64::from(n))).unwrap();
    }
    let eleventh = create(&["dev-0011"], &["iotx-oxssharez300"], "0");
    let failure = service.create(&eleventh, at(500)).unwrap_err();
    assert_eq!(failure.code(), TOO_MANY_JOBS);
    assert_eq!(service.in_flight(at(500)), 10);
    // The first job ends at 1001 ms.
    assert_eq!(service.in_flight(at(1001)), 9);
    service.create(&eleventh, at(1001)).unwrap();
    assert_eq!(service.max_in_flight(), 10);
    assert_eq!(service.in_flight(at(3000)), 0);
}

#[test]
fn job_seconds_zero_ends_jobs_at_once_and_deleting_removes_only_the_record() {
    let mut service = service("", 0);
    let job = service.create(&create(&["dev-0001"], &["iotx-oxssharez300"], "0"), at(0)).unwrap();
    let by_id = params(&[("JobId", &service.jobs()[job].id.clone())]);
    assert_eq!(service.query(&by_id, at(0)).unwrap().status, JobStatus::Completed);
    assert_eq!(service.max_in_flight(), 0);
    service.delete(&by_id, at(1)).unwrap();
    assert_eq!(refused_code(service.query(&by_id, at(2))), "iot.system.IllegalRequest");
    assert_eq!(refused_code(service.delete(&by_id, at(2))), "iot.system.IllegalRequest");
    let moved = service.provisioning(&params(&[("ProductKey", PK), ("DeviceName", "dev-0001")]), at(3)).unwrap();
    assert_eq!(moved.target_iot_instance_id, "iotx-oxssharez300", "the distribution stays");
    let mut running = self::service("", 1000);
    let job = running.create(&create(&["dev-0001"], &["iotx-oxssharez300"], "0"), at(0)).unwrap();
    let by_id = params(&[("JobId", &running.jobs()[job].id.clone())]);
    assert_eq!(
        refused_code(running.delete(&by_id, at(10))),
        "iot.system.IllegalRequest",
        "a running job cannot be deleted"
    );
}

#[test]
fn list_filters_and_pages_by_current_page_and_by_next_token() {
    let mut service = service("", 1000);
    for n in 1..=7u32 {
        let name = format!("dev-{n:04}");
        let target = if n % 2 == 0 { "iotx-oxssharez300" } else { "iotx-oxssharez400" };
        service.create(&create(&[&name], &[target], "0"), at(u64::from(n))).unwrap();
    }
    let ids = |data: &ListData| -> Vec<u64> {
        data.job_info.items.iter().map(|item| item.job_id[10..].parse().unwrap()).collect()
    };
    let all = service.list(&params(&[("PageSize", "200")]), at(10)).unwrap();
    assert_eq!(ids(&all), [7, 6, 5, 4, 3, 2, 1], "newest first");
    assert_eq!((all.total, all.next_token.as_str()), (7, ""));
    let item = &all.job_info.items[0];
    assert_eq!(
        (item.source_instance_name.as_deref(), item.source_region.as_deref()),
        (Some(PK_SOURCE), Some("cn-shanghai"))
    );
    let target = &item.target_instance_configs.target_instance_configs[0];
    assert_eq!(
        (target.target_instance_id.as_str(), target.target_instance_name.as_deref(), target.target_region.as_deref()),
        ("iotx-oxssharez400", Some("iotx-oxssharez400"), Some("ap-southeast-1"))
    );
    let page2 = service.list(&params(&[("PageSize", "3"), ("CurrentPage", "2")]), at(10)).unwrap();
    assert_eq!(ids(&page2), [4, 3, 2]);
    // NextToken pages see every job once even while new jobs are created between pages.
    let first = service.list(&params(&[("PageSize", "3")]), at(10)).unwrap();
    let mut seen = ids(&first);
    let mut token = first.next_token.clone();
    service.create(&create(&["dev-0008"], &["iotx-oxssharez300"], "0"), at(11)).unwrap();
    while !token.is_empty() {
        let page = service.list(&params(&[("PageSize", "3"), ("NextToken", &token)]), at(12)).unwrap();
        seen.extend(ids(&page));
        token = page.next_token;
    }
    assert_eq!(seen, [7, 6, 5, 4, 3, 2, 1]);
    let filtered =
        service.list(&params(&[("PageSize", "10"), ("TargetUid", ACCOUNT), ("Status", "1")]), at(500)).unwrap();
    assert_eq!(filtered.total, 8);
    let done = service.list(&params(&[("PageSize", "10"), ("Status", "2")]), at(1007)).unwrap();
    assert_eq!(ids(&done), [7, 6, 5, 4, 3, 2, 1]);
    let other = service.list(&params(&[("PageSize", "10"), ("ProductKey", "a1other0001")]), at(10)).unwrap();
    assert_eq!(other.total, 0);
    for bad in [("PageSize", "201"), ("PageSize", "0"), ("PageSize", "x")] {
        assert_eq!(refused_code(service.list(&params(&[bad]), at(10))), "iot.common.InvalidPageParams", "{bad:?}");
    }
    assert_eq!(
        refused_code(service.list(&params(&[("PageSize", "5"), ("CurrentPage", "0")]), at(10))),
        "iot.common.InvalidPageParams"
    );
    assert_eq!(
        refused_code(service.list(&params(&[("PageSize", "5"), ("NextToken", "bogus")]), at(10))),
        "iot.common.InvalidPageParams"
    );
    assert_eq!(refused_code(service.list(&params(&[]), at(10))), "MissingPageSize");
}

fn outcome_codes(service: &Distribution, job: usize) -> Vec<Option<String>> {
    service.jobs()[job].outcomes.iter().map(|outcome| outcome.map(|outcome| outcome.code().to_string())).collect()
}

#[test]
fn interrupt_ends_jobs_in_status_3_with_part_of_their_devices_done() {
    let mut service = service("interrupt=1", 1000);
    let devices = names(1..=30);
    let job = service.create(&create(&refs(&devices), &["iotx-oxssharez300"], "0"), at(0)).unwrap();
    let by_id = params(&[("JobId", &service.jobs()[job].id.clone())]);
    assert_eq!(service.query(&by_id, at(1000)).unwrap().status, JobStatus::Interrupted);
    let codes = outcome_codes(&service, job);
    let reached = codes.iter().filter(|code| code.is_some()).count();
    assert!((1..30).contains(&reached), "part done: {reached} of 30");
    let token = service.detail(&by_id, at(1000)).unwrap();
    let Download::File(file) = service.download(&token, at(1000)) else { panic!() };
    assert_eq!(file.lines().count(), reached, "devices never reached are not in the file");
    for (name, code) in devices.iter().zip(&codes) {
        let data = service.provisioning(&params(&[("ProductKey", PK), ("DeviceName", name)]), at(2000)).unwrap();
        let expected = if code.is_some() { "iotx-oxssharez300" } else { "iotx-oxssharez200" };
        assert_eq!(data.target_iot_instance_id, expected, "{name}");
    }
}

#[test]
fn device_fail_fails_a_share_of_devices_with_retryable_and_permanent_codes() {
    let mut service = service("device-fail=1", 0);
    let devices = names(1..=30);
    let job = service.create(&create(&refs(&devices), &["iotx-oxssharez300"], "0"), at(0)).unwrap();
    let codes = outcome_codes(&service, job);
    assert!(
        codes
            .iter()
            .all(|code| code.as_deref().is_some_and(|code| [DEVICE_RETRYABLE, DEVICE_PERMANENT].contains(&code)))
    );
    assert!(codes.contains(&Some(DEVICE_RETRYABLE.into())) && codes.contains(&Some(DEVICE_PERMANENT.into())));
    let by_id = params(&[("JobId", &service.jobs()[job].id.clone())]);
    assert_eq!(service.query(&by_id, at(1)).unwrap().status, JobStatus::Completed, "the job completes all the same");
    let data = service.provisioning(&params(&[("ProductKey", PK), ("DeviceName", "dev-0001")]), at(2)).unwrap();
    assert_eq!(data.target_iot_instance_id, "iotx-oxssharez200", "a failed device stays where it was");

    // At a rate of 0.3, about that share fails; the same seed and calls give the same outcomes,
    // and a repeated identical Create gets fresh decisions (a re-drive is not doomed). The jobs
    // last a second, so the devices are still at home for the repeat.
    let run = |seed| {
        let mut service = Distribution::new(world(), Faults::parse("device-fail=0.3", seed).unwrap(), 1000, 600_000);
        let first = service.create(&create(&refs(&devices), &["iotx-oxssharez300"], "0"), at(0)).unwrap();
        let again = service.create(&create(&refs(&devices), &["iotx-oxssharez300"], "0"), at(1)).unwrap();
        (outcome_codes(&service, first), outcome_codes(&service, again))
    };
    let (first, again) = run(7);
    assert_eq!((first.clone(), again.clone()), run(7));
    assert_ne!(first, again);
    assert_ne!(first, run(8).0);
    let failed = first.iter().filter(|code| code.as_deref() != Some("200")).count();
    assert!((2..=18).contains(&failed), "{failed} of 30 failed at rate 0.3");
}

#[test]
fn slow_jobs_take_ten_times_longer_and_expire_url_hands_out_dead_links() {
    let mut service = service("slow=1,expire-url=1", 1000);
    let job = service.create(&create(&["dev-0001"], &["iotx-oxssharez300"], "0"), at(0)).unwrap();
    let by_id = params(&[("JobId", &service.jobs()[job].id.clone())]);
    assert_eq!(service.query(&by_id, at(9_999)).unwrap().status, JobStatus::Running);
    assert_eq!(service.query(&by_id, at(10_000)).unwrap().status, JobStatus::Completed);
    let token = service.detail(&by_id, at(10_000)).unwrap();
    assert_eq!(service.download(&token, at(10_000)), Download::Expired);
    let mut normal = self::service("", 1000);
    let job = normal.create(&create(&["dev-0001"], &["iotx-oxssharez300"], "0"), at(0)).unwrap();
    assert_eq!((normal.jobs()[job].duration, normal.jobs()[job].slow), (1000, false));
    // Each Detail call gets a URL of its own.
    let by_id = params(&[("JobId", &normal.jobs()[job].id.clone())]);
    assert_ne!(normal.detail(&by_id, at(1000)).unwrap(), normal.detail(&by_id, at(1000)).unwrap());
}

#[test]
fn job_ids_follow_the_seed_and_look_like_the_platforms() {
    let ids = |seed| {
        let mut service = Distribution::new(world(), Faults::none(seed), 0, 1);
        (1..=3u32)
            .map(|n| {
                let at_ =
                    service.create(&create(&[&format!("dev-{n:04}")], &["iotx-oxssharez300"], "0"), at(0)).unwrap();
                service.jobs()[at_].id.clone()
            })
            .collect::<Vec<_>>()
    };
    let first = ids(1);
    assert_eq!(first, ids(1));
    assert_ne!(first, ids(2));
    assert!(
        first[2].ends_with("00000003") && first[2].len() == 18 && first[2].chars().all(|c| c.is_ascii_alphanumeric())
    );
}
