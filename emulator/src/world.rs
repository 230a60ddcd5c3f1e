//! What exists on the emulated platform, read from a plan: the account, its instances (the
//! catalog) and its registered devices (the inventories). A device that is not in an
//! inventory does not exist there.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use devdist_engine::Plan;
use devdist_formats::{Field, Inventory, RecordBatch};

/// An instance devices can live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Region ID.
    pub region: String,
    /// Owning account; `None` for public instances (every account may use them).
    pub owner_uid: Option<String>,
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The instance that holds the device (owner side); it never changes.
    pub source_instance: String,
    /// Where the device is distributed to now; `None` while it is only at its source.
    pub distributed_to: Option<String>,
    /// When it was last distributed (ms since the epoch), `None` if never.
    pub distributed_at: Option<u64>,
}

/// The account, its instances and its devices.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// UID of the emulated account.
    pub account: String,
    /// Every known instance by ID.
    pub instances: HashMap<String, Instance>,
    /// Registered devices by (product key, device name).
    pub devices: HashMap<(String, String), Device>,
    /// Source instances of each product's devices (a product lives in one instance; a plan
    /// may list it in more, and the emulator accepts each).
    pub products: BTreeMap<String, Vec<String>>,
}

impl World {
    /// Reads the plan, its catalog and every inventory it names.
    ///
    /// A record counts as a registered device when it is well-formed and has a product key,
    /// a device name and a source instance; the first record of a device wins. Its
    /// `current_instance`, when set, is where it is distributed to now. Errors are the
    /// engine's, so a bad plan exits 2 and an unreadable inventory 3, as with `plan`.
    pub fn from_plan(path: &Path) -> Result<World, devdist_engine::Error> {
        let plan = Plan::load(path)?;
        let mut world = World { account: plan.account.clone(), ..World::default() };
        for at in 0..plan.catalog.len() {
            let instance = plan.catalog.get(at as u32);
            world.instances.insert(
                instance.id.clone(),
                Instance { region: instance.region.clone(), owner_uid: instance.owner_uid.clone() },
            );
        }
        for input in &plan.inputs {
            world.read_inventory(&input.path)?;
        }
        Ok(world)
    }

    fn read_inventory(&mut self, path: &Path) -> Result<(), devdist_formats::Error> {
        let mut inventory = Inventory::open(path)?;
        let layout = inventory.layout();
        let column = |field| layout.column(field);
        let (pk, dn, source, current) = (
            column(Field::ProductKey),
            column(Field::DeviceName),
            column(Field::SourceInstance),
            column(Field::CurrentInstance),
        );
        let mut batch = RecordBatch::default();
        while inventory.fill(&mut batch, 4096)? {
            for (record, problem) in batch.records().iter().zip(&batch.problems) {
                let cell = |at: Option<usize>| {
                    at.and_then(|at| record.get(at))
                        .and_then(|bytes| std::str::from_utf8(bytes).ok())
                        .unwrap_or("")
                        .trim()
                };
                let (pk, dn, source, current) = (cell(pk), cell(dn), cell(source), cell(current));
                if problem.is_some() || pk.is_empty() || dn.is_empty() || source.is_empty() {
                    continue;
                }
                self.add_device(pk, dn, source, (!current.is_empty()).then_some(current));
            }
        }
        Ok(())
    }

    /// Registers a device (the first registration of a device wins).
    pub fn add_device(&mut self, product_key: &str, device_name: &str, source: &str, current: Option<&str>) {
        let key = (product_key.to_string(), device_name.to_string());
        if self.devices.contains_key(&key) {
            return;
        }
        let distributed_to = current.filter(|current| *current != source).map(str::to_string);
        self.devices.insert(key, Device { source_instance: source.to_string(), distributed_to, distributed_at: None });
        let sources = self.products.entry(product_key.to_string()).or_default();
        if !sources.iter().any(|known| known == source) {
            sources.push(source.to_string());
        }
    }

    /// Whether the account may use `instance` (public, or owned by the account).
    pub fn usable(&self, instance: &str) -> bool {
        self.instances
            .get(instance)
            .is_some_and(|found| found.owner_uid.as_ref().is_none_or(|uid| *uid == self.account))
    }

    /// Whether `uid` is an account the platform knows (the plan's, or an instance owner).
    pub fn known_uid(&self, uid: &str) -> bool {
        uid == self.account || self.instances.values().any(|instance| instance.owner_uid.as_deref() == Some(uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_plan_seeds_its_instances_and_devices() {
        let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/plan.toml");
        let world = World::from_plan(&plan).unwrap();
        assert_eq!(world.account, "1234567890123456");
        assert_eq!(world.instances["iot-eu0001"].region, "eu-central-1");
        assert_eq!(world.instances["iotx-oxssharez300"].owner_uid, None);
        // The first rows of each inventory, one CSV with snake_case and one with PascalCase headers.
        let device = &world.devices[&("a1MSHFdYvR6".to_string(), "tracker-002198".to_string())];
        assert_eq!(device.source_instance, "iotx-oxssharez200");
        assert!(world.devices.contains_key(&("a1a8XPS96gT".to_string(), "beacon:00195".to_string())));
        assert!(!world.devices.contains_key(&("a1MSHFdYvR6".to_string(), "no-such-device".to_string())));
        assert!(world.usable("iot-sh0001"));
        assert!(world.usable("iotx-oxssharez700"));
        assert!(!world.usable("iot-nowhere"));
        assert!(world.known_uid("1234567890123456"));
        assert!(!world.known_uid("999"));
    }
}
