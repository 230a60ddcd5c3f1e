//! audit against an in-memory platform whose every device's place is chosen by the test.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use devdist_folder::audited::{ApiCount, AuditRow, Verdict};
use devdist_platform::api::{
    DistributedDevice, DistributedDeviceItems, DistributedDevices, DistributedProduct, DistributedProductItems,
    DistributedProducts, ListDistributedDevice, ListDistributedProduct,
};
use devdist_platform::{ApiError, ErrorKind, Provisioning};

use super::{Reader, audit, expected, verify};
use crate::readers::Key;

/// Where the fake platform has a device.
#[derive(Debug, Clone)]
enum Place {
    /// A distribution record `source → instance`.
    Record { source: String, instance: String },
    /// None: QueryDeviceProvisioning shows it at `instance` with `Source = Target`.
    Home { instance: String },
    /// The platform does not know it.
    Gone,
}

#[derive(Default)]
struct Fake {
    places: BTreeMap<Key, Place>,
    lists: Cell<u64>,
    provisioning: Cell<u64>,
    products: Cell<u64>,
}

impl Reader for Fake {
    fn endpoint(&self) -> String {
        "http://fake".to_string()
    }

    fn distributed_devices(&self, request: &ListDistributedDevice) -> Result<DistributedDevices, ApiError> {
        self.lists.set(self.lists.get() + 1);
        let matching: Vec<DistributedDevice> = self
            .places
            .iter()
            .filter_map(|((pk, name), place)| match place {
                Place::Record { source, instance } => Some(DistributedDevice {
                    product_key: pk.clone(),
                    device_name: name.clone(),
                    source_instance_id: source.clone(),
                    target_instance_id: instance.clone(),
                    target_uid: "uid".to_string(),
                    gmt_modified: 1_700_000_000_000,
                    ..DistributedDevice::default()
                }),
                _ => None,
            })
            .filter(|d| request.product_key.as_ref().is_none_or(|pk| *pk == d.product_key))
            .filter(|d| request.source_instance_id.as_ref().is_none_or(|s| *s == d.source_instance_id))
            .collect();
        let size = request.page_size as usize;
        let items = matching.iter().skip((request.current_page as usize - 1) * size).take(size).cloned().collect();
        Ok(DistributedDevices { total: matching.len() as u64, info: DistributedDeviceItems { items } })
    }

    fn distributed_products(&self, request: &ListDistributedProduct) -> Result<DistributedProducts, ApiError> {
        self.products.set(self.products.get() + 1);
        let mut items = Vec::new();
        for ((pk, _), place) in &self.places {
            if let Place::Record { source, instance } = place {
                let item = DistributedProduct {
                    product_key: pk.clone(),
                    source_instance_id: source.clone(),
                    target_instance_id: instance.clone(),
                    ..DistributedProduct::default()
                };
                let wanted = request.product_key.as_ref().is_none_or(|p| *p == item.product_key)
                    && request.source_instance_id.as_ref().is_none_or(|s| *s == item.source_instance_id);
                if wanted && !items.contains(&item) {
                    items.push(item);
                }
            }
        }
        Ok(DistributedProducts { total: items.len() as u64, info: DistributedProductItems { items } })
    }

    fn provisioning(&self, product_key: &str, device_name: &str) -> Result<Provisioning, ApiError> {
        self.provisioning.set(self.provisioning.get() + 1);
        let key = (product_key.to_string(), device_name.to_string());
        let (source, target) = match self.places.get(&key) {
            Some(Place::Record { source, instance }) => (source.clone(), instance.clone()),
            Some(Place::Home { instance }) => (instance.clone(), instance.clone()),
            Some(Place::Gone) | None => {
                return Err(ApiError {
                    kind: ErrorKind::Permanent,
                    http_status: Some(200),
                    code: "iot.device.NotExistedDevice".to_string(),
                    message: "no such device".to_string(),
                    request_id: None,
                    retry_after: None,
                });
            }
        };
        Ok(Provisioning {
            product_key: product_key.to_string(),
            device_name: device_name.to_string(),
            source_iot_instance_id: source,
            target_iot_instance_id: target,
            aliyun_uid: "uid".to_string(),
            ..Provisioning::default()
        })
    }

    fn calls(&self) -> Vec<ApiCount> {
        let count = |api: &str, calls: u64| ApiCount { api: api.to_string(), calls, retries: 0 };
        vec![
            count("ListDistributedDevice", self.lists.get()),
            count("QueryDeviceProvisioning", self.provisioning.get()),
            count("ListDistributedProduct", self.products.get()),
        ]
    }
}

/// A planned folder of `devices` generated devices.
fn planned(devices: u64) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let options = devdist_synth::GenerateOptions { devices, seed: 5, ..devdist_synth::GenerateOptions::default() };
    let generated = devdist_synth::generate(&options, &root.path().join("in")).unwrap();
    let out = root.path().join("out");
    devdist_engine::run(&generated.plan, &out, &devdist_engine::Options::default(), &devdist_engine::NoProgress)
        .unwrap();
    (root, out)
}

fn rows(dir: &Path) -> Vec<AuditRow> {
    super::output::read_rows(dir).unwrap()
}

/// Every device of the plan placed by a rule of its index, and the verdict each must get.
fn scenario(dir: &Path) -> (Fake, BTreeMap<Key, Verdict>) {
    let plan = expected(dir).unwrap();
    let mut fake = Fake::default();
    let mut wanted = BTreeMap::new();
    for (i, (key, entry)) in plan.devices.iter().enumerate() {
        let name = |id: u32| plan.names.name(id).to_string();
        let (home, from) = (name(entry.home), name(entry.from));
        let target = name(*entry.targets.last().unwrap());
        let (place, verdict) = match i % 6 {
            0 | 1 => (Place::Record { source: from.clone(), instance: target }, Verdict::Placed),
            2 if from == home => (Place::Home { instance: home.clone() }, Verdict::NotPlaced),
            2 => (Place::Record { source: home.clone(), instance: from.clone() }, Verdict::NotPlaced),
            3 => (Place::Record { source: from.clone(), instance: "iot-nowhere".to_string() }, Verdict::Elsewhere),
            // The overwritten reading of a return: its last record is the way home.
            4 if !entry.targets.contains(&entry.home) => {
                (Place::Record { source: target, instance: home.clone() }, Verdict::Returned)
            }
            4 => (Place::Record { source: from.clone(), instance: target }, Verdict::Placed),
            _ => (Place::Gone, Verdict::Elsewhere),
        };
        fake.places.insert(key.clone(), place);
        wanted.insert(key.clone(), verdict);
    }
    // Someone else's devices of the same products are listed too, and ignored.
    let products: Vec<(String, String)> =
        plan.devices.iter().map(|((pk, _), e)| (pk.clone(), plan.names.name(e.from).to_string())).collect();
    for (n, (pk, from)) in products.into_iter().enumerate().step_by(3) {
        let stranger = (pk, format!("stranger-{n}"));
        fake.places.insert(stranger, Place::Record { source: from, instance: "iot-other".to_string() });
    }
    (fake, wanted)
}

#[test]
fn every_device_gets_the_verdict_of_where_the_platform_has_it_and_verify_checks_it() {
    let (_root, dir) = planned(1500);
    let (fake, wanted) = scenario(&dir);
    let audited = audit(&dir, &fake, &()).unwrap();
    let found: BTreeMap<Key, Verdict> =
        rows(&dir).into_iter().map(|row| ((row.product_key, row.device_name), row.verdict)).collect();
    assert_eq!(found, wanted, "one verdict per device of the manifests, each the one its place gives");
    let s = &audited.summary;
    assert_eq!(s.devices, wanted.len() as u64);
    assert_eq!(s.verdicts.total(), s.devices);
    assert!(s.verdicts.placed > 0 && s.verdicts.not_placed > 0 && s.verdicts.returned > 0 && s.verdicts.elsewhere > 0);
    assert!(s.settled.sweep > 0 && s.settled.provisioning > 0, "{:?}", s.settled);
    assert!(!s.applied && s.disagreements.total() == 0);
    assert!(!audited.all_placed());
    assert!(fake.lists.get() > 1, "the sweeps page");
    assert_eq!(verify(&dir).unwrap(), Vec::<String>::new());
    assert_eq!(devdist_engine::verify(&dir).unwrap(), Vec::<String>::new(), "the plan still verifies");
    // Nearest-access devices say which candidate.
    assert!(rows(&dir).iter().any(|row| row.note.starts_with("nearest access: at candidate ")));

    // Repeatable: the same platform gives the same audit.csv.
    let before = std::fs::read(dir.join("audit/audit.csv")).unwrap();
    audit(&dir, &fake, &()).unwrap();
    assert_eq!(std::fs::read(dir.join("audit/audit.csv")).unwrap(), before);
    assert!(!dir.join("audit.new").exists() && !dir.join("audit.old").exists());
    // What a killed audit leaves is cleared by the next one (DIR would not verify with it).
    std::fs::create_dir(dir.join("audit.new")).unwrap();
    std::fs::write(dir.join("audit.new/audit.csv"), "half").unwrap();
    assert!(!devdist_engine::verify(&dir).unwrap().is_empty());
    audit(&dir, &fake, &()).unwrap();
    assert!(!dir.join("audit.new").exists());
    assert_eq!(std::fs::read(dir.join("audit/audit.csv")).unwrap(), before);

    // One byte changed, a row lost, a stranger: each is named.
    let csv = dir.join("audit/audit.csv");
    let mut bytes = before.clone();
    let at = bytes.len() - 5;
    bytes[at] ^= 1;
    std::fs::write(&csv, &bytes).unwrap();
    let problems = verify(&dir).unwrap();
    assert!(problems.iter().any(|p| p.starts_with("audit/audit.csv: checksum differs")), "{problems:?}");
    let text = String::from_utf8(before.clone()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(7);
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let problems = verify(&dir).unwrap();
    assert!(
        problems.iter().any(|p| p.contains("verdicts for") && p.contains("devices in DIR's manifests")),
        "{problems:?}"
    );
    std::fs::write(&csv, &before).unwrap();
    std::fs::write(dir.join("audit/notes.txt"), "x").unwrap();
    assert_eq!(verify(&dir).unwrap(), vec!["audit/notes.txt: not a file audit writes".to_string()]);
}

#[test]
fn both_readings_of_a_return_are_returned_for_a_device_planned_from_away() {
    let (_root, dir) = planned(300);
    let plan = expected(&dir).unwrap();
    let mut fake = Fake::default();
    for (key, entry) in &plan.devices {
        let home = plan.names.name(entry.home).to_string();
        fake.places.insert(key.clone(), Place::Home { instance: home });
    }
    audit(&dir, &fake, &()).unwrap();
    for row in rows(&dir) {
        // Never moved, or cleared by a return: only a device planned from away tells them apart.
        let expected = if row.expected_from == row.home_instance { Verdict::NotPlaced } else { Verdict::Returned };
        let expected =
            if row.expected_target.split(';').any(|t| t == row.home_instance) { Verdict::Placed } else { expected };
        assert_eq!(row.verdict, expected, "{row:?}");
        assert_eq!(row.settled_by.name(), "provisioning");
        assert!(row.observed_at.is_empty(), "no record, no time: {row:?}");
    }
}
