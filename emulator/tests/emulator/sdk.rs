//! Conformance with a client none of us wrote: the official Python SDK
//! (`alibabacloud-iot20180120` 5.1.0 from PyPI, `devdist_testkit::OFFICIAL_SDK`) drives the emulator on the demo plan
//! (`tests/sdk/conformance.py`). The venv is made under the target dir on first use and
//! reused; if it cannot be made the test fails, it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use devdist_emulator::{Config, Emulator, World};
use devdist_platform::{Credentials, Secret};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Python with the SDK installed: `target/tmp/sdk-venv`, made and filled when missing.
fn python() -> PathBuf {
    devdist_testkit::official_sdk_python(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// Runs `emulator/tests/sdk/SCRIPT ARGS` and returns its stdout; fails the test if it fails.
fn run_script(python: &Path, script: &str, args: &Value) -> String {
    let output = Command::new(python)
        .arg(repo().join("emulator/tests/sdk").join(script))
        .arg(args.to_string())
        .output()
        .unwrap_or_else(|err| panic!("{script} cannot run: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// Four devices of one product in the Shanghai public instance, chosen from the demo inventory.
fn demo_devices(world: &World) -> (String, Vec<String>) {
    let mut by_product: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (pk, name, device) in world.devices() {
        if device.source_instance == "iotx-oxssharez200" && device.last_move.is_none() {
            by_product.entry(pk).or_default().push(name.to_string());
        }
    }
    let (pk, mut names) =
        by_product.into_iter().find(|(_, names)| names.len() >= 4).expect("a demo product with 4 devices");
    names.sort();
    names.truncate(4);
    (pk.to_string(), names)
}

#[test]
fn the_official_python_sdk_drives_every_api_with_both_schemes_and_sts() {
    let python = python();
    let world = World::from_plan(&repo().join("fixtures/demo/plan.toml")).unwrap();
    let (product_key, devices) = demo_devices(&world);
    let account = world.account.clone();
    let regions: std::collections::BTreeMap<&String, &String> =
        world.instances.iter().map(|(id, instance)| (id, &instance.region)).collect();
    let regions = json!(regions);
    let secrets: std::collections::BTreeMap<&String, &str> =
        devices.iter().map(|name| (name, world.device(&product_key, name).unwrap().secret)).collect();
    let secrets = json!(secrets);
    let ((gateway_pk, gateway_name), subs) =
        world.subdevices.iter().max_by_key(|(_, subs)| subs.len()).expect("a demo gateway with sub-devices");
    let gateway = json!({"product_key": gateway_pk, "device_name": gateway_name, "subs": subs});
    let credentials = Credentials {
        access_key_id: "conformance-ak".into(),
        secret: Secret::new("conformance-secret"),
        token: Some(Secret::new("conformance-sts-token")),
    };
    let mut config = Config::new(credentials.clone());
    config.job_seconds = 0.4;
    let emulator = Emulator::start(world, config).unwrap();
    let args = json!({
        "endpoint": emulator.url().trim_start_matches("http://"),
        "ak": credentials.access_key_id,
        "secret": credentials.secret.expose(),
        "token": credentials.token.as_ref().map(Secret::expose),
        "account": account,
        "product_key": product_key,
        "source": "iotx-oxssharez200",
        "devices": devices,
        "target": "iotx-oxssharez300",
        "nearest": ["iotx-oxssharez400", "iotx-oxssharez500"],
        "regions": regions,
        "secrets": secrets,
        "gateway": gateway,
    });
    let stdout = run_script(&python, "conformance.py", &args);
    let mut lines = stdout.lines();
    let report: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let last = lines.next().unwrap();
    let checks: u32 = last
        .strip_prefix("conformance: ")
        .and_then(|rest| rest.strip_suffix(" checks passed"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(checks >= 300, "only {checks} checks ran");

    // The server's side of the same story.
    let stats = emulator.stats();
    let created: Vec<&str> = report["created"].as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect();
    let jobs: Vec<&str> = stats["jobs"].as_array().unwrap().iter().map(|job| job["JobId"].as_str().unwrap()).collect();
    assert_eq!(jobs, created, "exactly the jobs the SDK saw created, in order");
    let returned = stats["jobs"].as_array().unwrap().iter().any(|job| {
        job["SourceInstanceId"] == "iotx-oxssharez300"
            && job["TargetInstanceIds"] == json!(["iotx-oxssharez200"])
            && job["devices"][0]["Code"] == "200"
    });
    assert!(returned, "a return home leaves from where the device is, and is distributed");
    for api in [
        "CreateDeviceDistributeJob",
        "QueryDeviceDistributeJob",
        "QueryDeviceDistributeDetail",
        "ListDeviceDistributeJob",
        "DeleteDeviceDistributeJob",
        "QueryDeviceProvisioning",
        "QueryProductList",
        "QueryDevice",
        "BatchQueryDeviceDetail",
        "GetThingTopo",
        "ListDistributedDevice",
        "ListDistributedProduct",
    ] {
        assert!(stats["apis"][api]["calls"].as_u64().unwrap() >= 1, "{api} never called");
    }
    assert_eq!(stats["apis"]["QueryDeviceDistributeJob"]["throttled"], report["throttled"]);
    assert!(stats["apis"]["QueryDevice"]["throttled"].as_u64() >= Some(2), "the 2 QPS tier of deep pages");
    for code in [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId.NotFound",
        "InvalidSecurityToken.MismatchWithAccessKey",
        "InvalidTimeStamp.Expired",
        "SignatureNonceUsed",
        "Throttling.User",
        "iot.device.NotExistedDevice",
        "iot.system.InstanceIdSame",
    ] {
        assert!(stats["refused"][code].as_u64().is_some_and(|n| n >= 1), "{code} never refused: {}", stats["refused"]);
    }
    assert_eq!(stats["refused"]["SignatureDoesNotMatch"], 2);
    assert_eq!(stats["refused"]["InvalidTimeStamp.Expired"], 4);
    emulator.shutdown();
}

/// The read faults (`churn`, `stall`, and `throttle` and `error5xx` on read calls) as the SDK meets
/// them (`tests/sdk/read_faults.py`): one emulator per fault, each at rate 1.
#[test]
fn the_official_python_sdk_meets_the_read_faults() {
    let python = python();
    let credentials =
        Credentials { access_key_id: "read-faults-ak".into(), secret: Secret::new("read-faults-secret"), token: None };
    let stall_seconds = 20.0;
    let start = |faults: &str| {
        let mut world = World::from_plan(&repo().join("fixtures/demo/plan.toml")).unwrap();
        for n in 1..=20 {
            world.add_device("a1sdkfaults", &format!("dev-{n:04}"), "iotx-oxssharez200", None);
        }
        let mut config = Config::new(credentials.clone());
        config.faults = devdist_emulator::Faults::parse(faults, 11).unwrap();
        config.stall_seconds = stall_seconds;
        config.rate_scale = 100.0;
        Emulator::start(world, config).unwrap()
    };
    let emulators: Vec<(&str, Emulator)> = ["churn", "stall", "throttle", "error5xx"]
        .into_iter()
        .map(|fault| (fault, start(&format!("{fault}=1"))))
        .collect();
    let mut args = json!({
        "ak": credentials.access_key_id,
        "secret": credentials.secret.expose(),
        "product_key": "a1sdkfaults",
        "stall_seconds": stall_seconds,
    });
    for (fault, emulator) in &emulators {
        args[*fault] = json!(emulator.url().trim_start_matches("http://"));
    }
    let started = std::time::Instant::now();
    let stdout = run_script(&python, "read_faults.py", &args);
    assert!(started.elapsed().as_secs_f64() < stall_seconds, "the SDK gave up before the stall ended");
    let mut lines = stdout.lines();
    let seen: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(lines.next(), Some("read faults: 12 checks passed"), "{seen}");
    let stats: std::collections::BTreeMap<&str, Value> =
        emulators.iter().map(|(fault, emulator)| (*fault, emulator.stats())).collect();
    assert_eq!(stats["churn"]["apis"]["QueryDevice"]["churned"], 1);
    assert_eq!(stats["churn"]["apis"]["ListDistributedDevice"]["churned"], 1);
    assert_eq!(stats["stall"]["stalled"], 1);
    assert_eq!(stats["stall"]["apis"]["QueryDevice"]["stalled"], 1);
    for api in ["QueryDevice", "QueryProductList", "ListDistributedDevice", "BatchQueryDeviceDetail"] {
        assert!(stats["throttle"]["apis"][api]["fault_throttled"].as_u64() >= Some(1), "{api}");
        assert_eq!(stats["error5xx"]["apis"][api]["errors_5xx"], 1, "{api}");
    }
    for (_, emulator) in emulators {
        emulator.shutdown();
    }
}
