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
    setup_with(|_, _| {})
}

/// [`setup`], with the emulator's and the client's configuration changed by `configure` first.
fn setup_with(configure: impl FnOnce(&mut Config, &mut ClientConfig)) -> (Emulator, Client, String) {
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
    let mut client = ClientConfig::new(credentials());
    client.rate_scale = 100.0;
    configure(&mut config, &mut client);
    let emulator = Emulator::start(world, config).unwrap();
    client.endpoint = emulator.url().to_string();
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

/// Every page of QueryDevice by page number, 4 rows a page, and the Total each page showed.
fn sweep(client: &Client) -> (Vec<String>, Vec<u64>) {
    let (mut names, mut totals) = (Vec::new(), Vec::new());
    for current_page in 1.. {
        let request = QueryDevice { product_key: PK.into(), current_page, page_size: 4, ..QueryDevice::default() };
        let page = client.query_device(&request).unwrap();
        totals.push(page.total);
        names.extend(page.data.device_info.into_iter().map(|d| d.device_name));
        if u64::from(current_page) >= page.page_count {
            return (names, totals);
        }
    }
    unreachable!()
}

#[test]
fn under_churn_a_naive_sweep_goes_wrong_and_a_sweep_again_on_a_changed_total_does_not() {
    let clean: Vec<String> = (1..=20).rev().map(|n| format!("dev-{n:04}")).collect();
    let mut wrong = 0;
    for seed in 0..6 {
        let (emulator, client, _) =
            setup_with(|config, _| config.faults = devdist_emulator::Faults::parse("churn=0.3", seed).unwrap());
        let (naive, totals) = sweep(&client);
        let steady = |totals: &[u64]| totals.iter().all(|total| *total == totals[0]);
        if naive != clean {
            wrong += 1;
            assert!(!steady(&totals), "a wrong sweep saw its Total change: {totals:?}");
        }
        // What a correct exporter does: sweep again until every page showed the first page's Total.
        let mut last = (naive, totals);
        for _ in 0..50 {
            if steady(&last.1) {
                break;
            }
            last = sweep(&client);
        }
        assert_eq!(last.0, clean, "seed {seed}: {:?}", last.1);
        emulator.shutdown();
    }
    assert!(wrong >= 1, "churn never misled a naive sweep");
}

#[test]
fn a_stalled_read_times_out_and_blocks_no_other_call() {
    let (emulator, client, _) = setup_with(|config, client| {
        config.faults = devdist_emulator::Faults::parse("stall=1", 3).unwrap();
        config.stall_seconds = 6.0;
        client.read_timeout = std::time::Duration::from_secs(1);
        client.max_attempts = 1;
    });
    let started = std::time::Instant::now();
    let stalled = std::thread::spawn(move || {
        let request = QueryDevice { product_key: PK.into(), ..QueryDevice::default() };
        client.query_device(&request).unwrap_err()
    });
    // Meanwhile another connection is served at once (ListDeviceDistributeJob is no read API).
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut other = ClientConfig::new(credentials());
    other.endpoint = emulator.url().to_string();
    let other = Client::new(other).unwrap();
    let asked = std::time::Instant::now();
    other.list_device_distribute_jobs(&Default::default()).unwrap();
    assert!(asked.elapsed().as_secs_f64() < 1.0, "another call waited for the stall");
    let error = stalled.join().unwrap();
    assert_eq!(error.code, "transport.timeout", "{error:?}");
    assert!(started.elapsed().as_secs_f64() < 6.0, "the client gave up before the emulator hung up");
    assert_eq!(emulator.stats()["apis"]["QueryDevice"]["stalled"], 1);
    emulator.shutdown();
}
