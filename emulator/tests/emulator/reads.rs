//! The read APIs between devdist's own client and the emulator: one type on both sides of the
//! wire, paging by `NextToken` and by page number, and a return as both read APIs show it.

use std::path::Path;

use devdist_emulator::{Config, Emulator, World};
use devdist_platform::api::{ListDistributedDevice, QueryDevice};
use devdist_platform::{Client, ClientConfig, CreateDeviceDistributeJob, Credentials, Secret};

const PK: &str = "a1readsprod";
const HOME: &str = "iotx-oxssharez200";
const AWAY: &str = "iotx-oxssharez300";

fn credentials() -> Credentials {
    Credentials { access_key_id: "reads-ak".into(), secret: Secret::new("reads-secret"), token: None }
}

fn setup() -> (Emulator, Client, String) {
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/plan.toml");
    let mut world = World::from_plan(&plan).unwrap();
    for n in 1..=20 {
        world.add_device(PK, &format!("dev-{n:04}"), HOME, None);
        world.describe_device(PK, &format!("dev-{n:04}"), &format!("secret-{n}"), None);
    }
    let account = world.account.clone();
    let mut config = Config::new(credentials());
    config.job_seconds = 0.0;
    config.rate_scale = 100.0;
    let emulator = Emulator::start(world, config).unwrap();
    let mut client = ClientConfig::new(credentials());
    client.endpoint = emulator.url().to_string();
    client.rate_scale = 100.0;
    (emulator, Client::new(client).unwrap(), account)
}

fn distribute(client: &Client, account: &str, names: &[&str], from: &str, to: &str) {
    let request = CreateDeviceDistributeJob {
        product_key: PK.into(),
        device_names: names.iter().map(|name| name.to_string()).collect(),
        source_instance_id: from.into(),
        strategy: 0,
        target_uid: account.into(),
        target_instance_ids: vec![to.into()],
    };
    let job = client.create_device_distribute_job(&request).unwrap();
    assert!(client.query_device_distribute_job(&job).unwrap().is_finished());
}

#[test]
fn query_device_pages_newest_first_by_token_and_by_number() {
    let (emulator, client, _) = setup();
    let mut by_token = Vec::new();
    let mut request = QueryDevice { product_key: PK.into(), current_page: 1, page_size: 7, ..QueryDevice::default() };
    loop {
        let page = client.query_device(&request).unwrap();
        assert_eq!((page.total, page.page_count, page.page_size), (20, 3, 7));
        by_token.extend(page.data.device_info.into_iter().map(|d| (d.device_name, d.device_secret)));
        if page.next_token.is_empty() {
            break;
        }
        request.next_token = Some(page.next_token);
    }
    let expected: Vec<(String, String)> =
        (1..=20).rev().map(|n| (format!("dev-{n:04}"), format!("secret-{n}"))).collect();
    assert_eq!(by_token, expected);
    let third = client.query_device(&QueryDevice {
        product_key: PK.into(),
        current_page: 3,
        page_size: 7,
        ..QueryDevice::default()
    });
    let names: Vec<String> = third.unwrap().data.device_info.into_iter().map(|d| d.device_name).collect();
    assert_eq!(names, ["dev-0006", "dev-0005", "dev-0004", "dev-0003", "dev-0002", "dev-0001"]);
    // Past 10,000 rows by page number: refused, a permanent business error.
    let deep = QueryDevice { product_key: PK.into(), current_page: 201, page_size: 50, ..QueryDevice::default() };
    assert_eq!(client.query_device(&deep).unwrap_err().code, "iot.common.InvalidPageParams");
    emulator.shutdown();
}

#[test]
fn a_return_is_listed_as_the_last_distribution_as_provisioning_shows_it() {
    let (emulator, client, account) = setup();
    distribute(&client, &account, &["dev-0001", "dev-0002", "dev-0003"], HOME, AWAY);
    distribute(&client, &account, &["dev-0001"], AWAY, HOME);
    let filter = ListDistributedDevice { product_key: Some(PK.into()), ..ListDistributedDevice::default() };
    let listed = client.list_distributed_devices(&filter).unwrap();
    let rows: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|d| (d.device_name.as_str(), d.source_instance_id.as_str(), d.target_instance_id.as_str()))
        .collect();
    assert_eq!(rows, [("dev-0001", AWAY, HOME), ("dev-0002", HOME, AWAY), ("dev-0003", HOME, AWAY)]);
    for device in &listed {
        let where_ = client.query_device_provisioning(PK, &device.device_name).unwrap();
        assert_eq!(
            (where_.source_iot_instance_id.as_str(), where_.target_iot_instance_id.as_str(), where_.gmt_modified),
            (device.source_instance_id.as_str(), device.target_instance_id.as_str(), device.gmt_modified)
        );
    }
    // No target filter: a sweep by source, matched client-side.
    let from_away = ListDistributedDevice { source_instance_id: Some(AWAY.into()), ..filter };
    let names: Vec<String> =
        client.list_distributed_devices(&from_away).unwrap().into_iter().map(|d| d.device_name).collect();
    assert_eq!(names, ["dev-0001"]);
    emulator.shutdown();
}
