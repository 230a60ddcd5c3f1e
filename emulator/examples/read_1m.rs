//! Times the read APIs of an emulator holding a large world, through devdist's own client (so
//! each figure includes HTTP, signing and JSON on both sides):
//!
//! ```sh
//! cargo run -j 1 --example read_1m -p devdist-emulator [DEVICES]   # default 1,000,000
//! /usr/bin/time -f %M target/debug/examples/read_1m [DEVICES]       # and the peak RSS, KiB
//! ```
//!
//! The world: one product of DEVICES devices at home in `iot-home`, every one of them
//! distributed to `iot-away` by one of DEVICES / 10,000 jobs (one end time per job), so both
//! QueryDevice (a DEVICES-device product) and ListDistributedDevice (DEVICES distributed
//! devices) have deep listings. Each call is repeated for a second at most and the mean
//! printed: as the client saw it (HTTP, signing and JSON on both sides included), and the
//! emulator's own answering time (`answer_us` in its stats).

use std::time::{Duration, Instant};

use devdist_emulator::{Config, Emulator, World};
use devdist_platform::api::{BatchQueryDeviceDetail, ListDistributedDevice, QueryDevice, QueryProductList};
use devdist_platform::{Client, ClientConfig, Credentials, Secret};

const PK: &str = "a1bench1m00";
const HOME: &str = "iot-home";
const AWAY: &str = "iot-away";
const JOB: usize = 10_000;

fn main() {
    let devices: usize = std::env::args().nth(1).map_or(1_000_000, |n| n.parse().expect("DEVICES is a number"));
    let started = Instant::now();
    let mut world = World::default();
    world.account = "1234567890123456".into();
    for instance in [HOME, AWAY] {
        world
            .instances
            .insert(instance.into(), devdist_emulator::Instance { region: "cn-shanghai".into(), owner_uid: None });
    }
    for n in 0..devices {
        world.add_device(PK, &name(n), HOME, None);
    }
    for n in 0..devices {
        world.move_device(PK, &name(n), AWAY, Some(1_700_000_000_000 + (n / JOB) as u64 * 1000));
    }
    eprintln!("read_1m: a world of {devices} devices in {:.1} s", started.elapsed().as_secs_f64());
    let credentials = Credentials { access_key_id: "bench".into(), secret: Secret::new("bench-secret"), token: None };
    let mut config = Config::new(credentials.clone());
    config.rate_scale = 1e6;
    let emulator = Emulator::start(world, config).expect("the emulator starts");
    let mut client = ClientConfig::new(credentials);
    client.endpoint = emulator.url().to_string();
    client.rate_scale = 1e6;
    let client = Client::new(client).expect("a client");

    let deep_page = (devices / 50).min(200) as u32;
    let deepest = (devices / 200).max(1) as u32;
    let oldest_but_one = format!("emu-dev-{}", 60.min(devices));
    let names: Vec<String> = (0..100.min(devices)).map(|n| name(devices - 1 - n * (devices / 100).max(1))).collect();
    time(&emulator, "QueryDevice", "QueryDevice CurrentPage 1, 50 rows", || {
        client.query_device(&QueryDevice {
            product_key: PK.into(),
            current_page: 1,
            page_size: 50,
            ..QueryDevice::default()
        })
    });
    time(&emulator, "QueryDevice", &format!("QueryDevice CurrentPage {deep_page}, 50 rows"), || {
        client.query_device(&QueryDevice {
            product_key: PK.into(),
            current_page: deep_page,
            page_size: 50,
            ..QueryDevice::default()
        })
    });
    time(&emulator, "QueryDevice", "QueryDevice NextToken near the end, IotInstanceId, 50 rows", || {
        client.query_device(&QueryDevice {
            product_key: PK.into(),
            iot_instance_id: Some(AWAY.into()),
            current_page: 1,
            page_size: 50,
            next_token: Some(oldest_but_one.clone()),
        })
    });
    time(&emulator, "QueryProductList", "QueryProductList", || {
        client.query_product_list(&QueryProductList { current_page: 1, page_size: 10, ..Default::default() })
    });
    time(&emulator, "BatchQueryDeviceDetail", "BatchQueryDeviceDetail, 100 names", || {
        client.batch_query_device_detail(&BatchQueryDeviceDetail {
            product_key: PK.into(),
            device_names: names.clone(),
            ..Default::default()
        })
    });
    time(&emulator, "ListDistributedDevice", "ListDistributedDevice CurrentPage 1, 200 rows", || {
        client.list_distributed_device(&ListDistributedDevice { current_page: 1, page_size: 200, ..Default::default() })
    });
    time(&emulator, "ListDistributedDevice", &format!("ListDistributedDevice CurrentPage {deepest}, 200 rows"), || {
        client.list_distributed_device(&ListDistributedDevice {
            current_page: deepest,
            page_size: 200,
            ..Default::default()
        })
    });
    time(
        &emulator,
        "ListDistributedDevice",
        &format!("ListDistributedDevice ProductKey+SourceInstanceId, CurrentPage {deepest}"),
        || {
            client.list_distributed_device(&ListDistributedDevice {
                product_key: Some(PK.into()),
                source_instance_id: Some(HOME.into()),
                current_page: deepest,
                page_size: 200,
                ..Default::default()
            })
        },
    );
    emulator.shutdown();
}

fn name(n: usize) -> String {
    format!("device-{n:08}")
}

/// Calls `call` (an `action`) for at most a second (at least 3 times) and prints the mean time
/// per call seen by the client, and the emulator's own (`answer_us` in its stats: the answer
/// without HTTP, signature and meter).
fn time<T, E: std::fmt::Debug>(emulator: &Emulator, action: &str, what: &str, mut call: impl FnMut() -> Result<T, E>) {
    let answered = || emulator.stats()["apis"][action]["answer_us"].as_u64().unwrap_or(0);
    let before = answered();
    let started = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || (started.elapsed() < Duration::from_secs(1) && calls < 2000) {
        call().unwrap_or_else(|err| panic!("{what}: {err:?}"));
        calls += 1;
    }
    let per_call = started.elapsed().as_secs_f64() / f64::from(calls);
    let answer_ns = (answered() - before) as f64 * 1000.0 / f64::from(calls);
    println!("{what:62} client {:>9.0} us, emulator {answer_ns:>11.0} ns per call ({calls} calls)", per_call * 1e6);
}
