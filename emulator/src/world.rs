//! What exists on the emulated platform, read from a plan: the account, its instances (the
//! catalog) and its registered devices (the inventories). A device that is not in an
//! inventory does not exist there.
//!
//! The world is as compact as the planner's: no string per device. Per device it holds a
//! `Record` (32 bytes, in a vector by registration number: its home, its last distribution
//! with instances as small numbers, and where its secret is) and its DeviceSecret's bytes in one
//! arena string; the index (`index.rs`) holds its name, once, and finds it by product and name.
//! [`Device`] is a view of a record that borrows the world. What else grows: the gateway column
//! (`World::subdevices`, strings per sub-device) and the index's lists.

use std::collections::{BTreeMap, HashMap};
use std::num::{NonZeroU32, NonZeroU64};
use std::path::Path;

use devdist_engine::Plan;
use devdist_formats::{Field, Inventory, RecordBatch};

use crate::index::{Index, Placement};

/// An instance devices can live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Region ID.
    pub region: String,
    /// Owning account; `None` for public instances (every account may use them).
    pub owner_uid: Option<String>,
}

/// A registered device, and where it is: a view of what the world holds of it ([`World::device`]).
///
/// # Where a device is
///
/// The platform's docs do not spell out a location model; this one is inferred from them
/// (QueryDeviceProvisioning reports one source and one target per device, and a job names the
/// instance its devices leave from), and it is the emulator's assumption:
///
/// - A device is *in* the instance it was last distributed to; before any distribution, in its
///   home instance ([`Device::source_instance`], where it is registered). [`Device::location`]
///   says which.
/// - A job's `SourceInstanceId` is where its devices are now: a device may only leave from its
///   location. A return from B to home A is `Source = B, Target = A`; a second hop from B is
///   `Source = B, Target = C`. So `iot.system.InstanceIdSame` is certain only for Strategy 0
///   whose one target is the source; Strategy 1 (nearest access) may list the source among its
///   candidates.
/// - A distributed device is in the job's target (Strategy 1: its first candidate), and one
///   returned home is in its home instance again: [`World::move_device`] is the only change of
///   place.
/// - QueryDeviceProvisioning shows the last distribution ([`Device::last_distribution`]): where it
///   left from, where it went and when. So after A→B then B→A it shows `Source = B, Target = A`.
///   A device never distributed shows `Source = Target =` home. ListDistributedDevice lists the
///   same record (so a returned device stays listed, with its return); a device never
///   distributed is not listed.
/// - An inventory's `current_instance` seeds a device as already distributed from home to there,
///   at a time nobody knows.
///
/// The rules of a Create, the end of a job and QueryDeviceProvisioning (`distribution.rs`) read
/// a device's place only through these methods, and change it only through
/// [`World::move_device`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device<'a> {
    /// The home instance: the one that holds the device (owner side); it never changes.
    pub source_instance: &'a str,
    /// The last distribution of the device; `None` while it has never left home.
    pub last_move: Option<Move<'a>>,
    /// Its DeviceSecret from the inventory; empty when the inventory has none.
    pub secret: &'a str,
    /// When it was registered, as a number: the account's devices in the order the inventories
    /// list them, from 1 (QueryDevice lists the highest first).
    pub registered: u64,
}

/// One distribution of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move<'a> {
    /// The instance it left from.
    pub from: &'a str,
    /// The instance it went to (where it is now).
    pub to: &'a str,
    /// When (ms since the epoch); `None` for the move an inventory's `current_instance` records.
    pub at: Option<u64>,
}

impl<'a> Device<'a> {
    /// Where the device is now: where it was last distributed to, else its home instance.
    pub fn location(&self) -> &'a str {
        self.last_move.map_or(self.source_instance, |last| last.to)
    }

    /// What QueryDeviceProvisioning shows: the last distribution's source, target and time;
    /// for a device never distributed, its home instance as both and no time.
    pub fn last_distribution(&self) -> (&'a str, &'a str, Option<u64>) {
        match self.last_move {
            Some(last) => (last.from, last.to, last.at),
            None => (self.source_instance, self.source_instance, None),
        }
    }
}

/// What the world holds of one registered device (32 bytes): its home, its last distribution
/// and where its secret is, instances as the index's numbers ([`Index::instance`]). Its name and
/// product are the index's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    /// The home instance's number plus 1: never 0, so an `Option<Record>` takes no more room
    /// than a `Record` (a deleted device is `None`).
    home: NonZeroU32,
    secret_len: u32,
    secret_at: u64,
    last: Option<Hop>,
}

/// A device's last distribution: from, to (instance numbers) and when ([`Hop::at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hop {
    from: u32,
    to: u32,
    /// When, in ms since the epoch, plus 2; 1 when nobody knows (an inventory's
    /// `current_instance`). Never 0, so an `Option<Hop>` takes no more room than a `Hop`.
    stamp: NonZeroU64,
}

impl Hop {
    fn new(from: u32, to: u32, at: Option<u64>) -> Hop {
        Hop { from, to, stamp: NonZeroU64::MIN.saturating_add(at.map_or(0, |at| at.saturating_add(1))) }
    }

    /// When the device moved (ms since the epoch); `None` when nobody knows.
    fn at(&self) -> Option<u64> {
        self.stamp.get().checked_sub(2)
    }
}

impl Record {
    /// The home instance's number.
    fn home(&self) -> u32 {
        self.home.get() - 1
    }

    /// Where the device is now ([`Device::location`]).
    fn location(&self) -> u32 {
        self.last.map_or(self.home(), |last| last.to)
    }

    /// Where the index files it.
    fn placement(&self) -> Placement {
        Placement { location: self.location(), last: self.last.map(|last| (last.from, last.to, last.at())) }
    }
}

/// A device the `churn` fault deleted: its registration number and record, to put back.
pub(crate) type Removed = (u64, Record);

/// The account, its instances and its devices.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// UID of the emulated account.
    pub account: String,
    /// Every known instance by ID.
    pub instances: HashMap<String, Instance>,
    /// Registered devices by registration number − 1 (`None`: deleted by the `churn` fault);
    /// the index finds them by product key and name.
    pub(crate) records: Vec<Option<Record>>,
    /// Every device's DeviceSecret, one after another, where the records say.
    pub(crate) secrets: String,
    /// How many devices are registered now.
    pub(crate) count: usize,
    /// The instances each product exists in: its devices' home instances (a product lives in
    /// one instance; a plan may list it in more, and the emulator accepts each) and every
    /// instance one of its devices has been distributed to (assumed: the product comes along
    /// with its devices and stays).
    pub products: BTreeMap<String, Vec<String>>,
    /// What the read APIs answer from (`index.rs`), kept here as devices register and move.
    pub(crate) index: Index,
    /// Each gateway's sub-devices (product key, device name), from the inventories' `gateway`
    /// column (`product_key/device_name`), in the order they were registered.
    pub subdevices: BTreeMap<(String, String), Vec<(String, String)>>,
    /// The registration number of the last device registered (numbers are never reused, even
    /// when the `churn` fault deletes a device).
    pub(crate) last_registered: u64,
}

impl World {
    /// Reads the plan, its catalog and every inventory it names.
    ///
    /// A record counts as a registered device when it is well-formed and has a product key,
    /// a device name and a source instance; the first record of a device wins. Its
    /// `current_instance`, when set, is where it is distributed to now ([`Device`]). Errors are the
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
        let (secret, gateway) = (column(Field::DeviceSecret), column(Field::Gateway));
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
                let (secret, gateway) = (cell(secret), cell(gateway));
                if self.add_device(pk, dn, source, (!current.is_empty()).then_some(current)) {
                    self.describe_device(pk, dn, secret, gateway.split_once('/'));
                }
            }
        }
        Ok(())
    }

    /// Registers a device at home in `source`, or, when `current` is another instance, as
    /// distributed there (the first registration of a device wins: false for a later one).
    pub fn add_device(&mut self, product_key: &str, device_name: &str, source: &str, current: Option<&str>) -> bool {
        if self.index.find(product_key, device_name).is_some() {
            return false;
        }
        self.last_registered += 1;
        let number = self.last_registered;
        let home = NonZeroU32::MIN.saturating_add(self.index.instance(source));
        let record = Record { home, secret_len: 0, secret_at: 0, last: None };
        self.index.insert(number, product_key, device_name, record.placement());
        self.records.push(Some(record));
        self.count += 1;
        self.product_exists(product_key, source);
        if let Some(current) = current.filter(|current| *current != source) {
            self.move_device(product_key, device_name, current, None);
        }
        true
    }

    /// Deletes a registered device (the `churn` fault); [`World::restore_device`] puts it back.
    /// Its product stays, and so does its place among its gateway's sub-devices.
    pub(crate) fn remove_device(&mut self, product_key: &str, device_name: &str) -> Option<Removed> {
        let number = self.index.find(product_key, device_name)?;
        let record = self.records[(number - 1) as usize].take()?;
        self.index.remove(number, record.placement());
        self.count -= 1;
        Some((number, record))
    }

    /// Puts back a device [`World::remove_device`] deleted, in its place in the order of
    /// registration, as it was then.
    pub(crate) fn restore_device(&mut self, product_key: &str, device_name: &str, (number, record): Removed) {
        self.index.insert(number, product_key, device_name, record.placement());
        self.records[(number - 1) as usize] = Some(record);
        self.count += 1;
    }

    /// The registered device of `product_key` named `device_name`.
    pub fn device(&self, product_key: &str, device_name: &str) -> Option<Device<'_>> {
        self.numbered(self.index.find(product_key, device_name)?).map(|(_, _, device)| device)
    }

    /// Device `number` (its registration number), when registered now: its product key, its
    /// name and the device.
    pub fn numbered(&self, number: u64) -> Option<(&str, &str, Device<'_>)> {
        let record = self.records.get(number.checked_sub(1)? as usize)?.as_ref()?;
        let (product_key, name) = self.index.name(number)?;
        let instance = |id| self.index.instance_name(id);
        let device = Device {
            source_instance: instance(record.home()),
            last_move: record.last.map(|last| Move { from: instance(last.from), to: instance(last.to), at: last.at() }),
            secret: &self.secrets[record.secret_at as usize..][..record.secret_len as usize],
            registered: number,
        };
        Some((product_key, name, device))
    }

    /// The name of device `number` (its registration number), registered now or deleted since;
    /// empty for a number never given.
    pub fn device_name(&self, number: u64) -> &str {
        self.index.name(number).map_or("", |(_, name)| name)
    }

    /// Every registered device, in the order of registration: product key, name, device.
    pub fn devices(&self) -> impl Iterator<Item = (&str, &str, Device<'_>)> + '_ {
        (1..=self.records.len() as u64).filter_map(|number| self.numbered(number))
    }

    /// How many devices are registered.
    pub fn device_count(&self) -> usize {
        self.count
    }

    /// Gives a registered device its secret and, when `gateway` names one (product key, device
    /// name), makes it that gateway's sub-device.
    pub fn describe_device(
        &mut self,
        product_key: &str,
        device_name: &str,
        secret: &str,
        gateway: Option<(&str, &str)>,
    ) {
        let Some(number) = self.index.find(product_key, device_name) else { return };
        let Some(record) = self.records[(number - 1) as usize].as_mut() else { return };
        record.secret_at = self.secrets.len() as u64;
        record.secret_len = secret.len() as u32;
        self.secrets.push_str(secret);
        if let Some((gateway_pk, gateway_name)) = gateway.filter(|(pk, name)| !pk.is_empty() && !name.is_empty()) {
            let key = (product_key.to_string(), device_name.to_string());
            self.subdevices.entry((gateway_pk.to_string(), gateway_name.to_string())).or_default().push(key);
        }
    }

    /// Whether any device of `product_key` is a gateway (has sub-devices): its NodeType is 1.
    pub fn is_gateway_product(&self, product_key: &str) -> bool {
        self.subdevices
            .range((product_key.to_string(), String::new())..)
            .next()
            .is_some_and(|((pk, _), _)| pk == product_key)
    }

    /// Distributes a registered device from where it is now to `to`, at `at`; its product now
    /// exists there too. Distributed to its home instance, it is home again. It leaves from its
    /// location rather than from the job's source: the two differ only for a device two jobs
    /// distributed at once, and this way each move starts where the one before ended. A device
    /// that is not registered stays unknown.
    pub fn move_device(&mut self, product_key: &str, device_name: &str, to: &str, at: Option<u64>) {
        if let Some(number) = self.index.find(product_key, device_name) {
            self.move_numbered(number, to, at);
        }
    }

    /// [`World::move_device`] for device `number` (its registration number).
    pub fn move_numbered(&mut self, number: u64, to: &str, at: Option<u64>) {
        let to_id = self.index.instance(to);
        let Some(Some(record)) = self.records.get_mut(number.saturating_sub(1) as usize) else { return };
        let before = record.placement();
        record.last = Some(Hop::new(record.location(), to_id, at));
        let after = record.placement();
        self.index.leaving(number, before);
        self.index.arrived(number, after);
        if let Some((product_key, _)) = self.index.name(number) {
            let product_key = product_key.to_string();
            self.product_exists(&product_key, to);
        }
    }

    /// Whether the product exists in `instance` (see [`World::products`]).
    pub fn product_in(&self, product_key: &str, instance: &str) -> bool {
        self.products.get(product_key).is_some_and(|instances| instances.iter().any(|known| known == instance))
    }

    fn product_exists(&mut self, product_key: &str, instance: &str) {
        let instances = self.products.entry(product_key.to_string()).or_default();
        if !instances.iter().any(|known| known == instance) {
            instances.push(instance.to_string());
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
        let device = world.device("a1MSHFdYvR6", "tracker-002198").unwrap();
        assert_eq!(device.source_instance, "iotx-oxssharez200");
        assert!(world.device("a1a8XPS96gT", "beacon:00195").is_some());
        assert!(world.device("a1MSHFdYvR6", "no-such-device").is_none());
        assert_eq!((device.location(), device.last_move), ("iotx-oxssharez200", None));
        assert!(world.usable("iot-sh0001"));
        assert!(world.usable("iotx-oxssharez700"));
        assert!(!world.usable("iot-nowhere"));
        assert!(world.known_uid("1234567890123456"));
        assert!(!world.known_uid("999"));
    }

    #[test]
    fn a_device_costs_the_world_32_bytes_and_its_secret() {
        assert_eq!(std::mem::size_of::<Option<Record>>(), 32);
        for at in [None, Some(0), Some(1_700_000_000_000), Some(u64::MAX - 2)] {
            assert_eq!(Hop::new(1, 2, at).at(), at);
        }
        let mut world = World::default();
        world.add_device("pk", "d1", "iot-a", None);
        world.add_device("pk", "d2", "iot-a", None);
        world.describe_device("pk", "d2", "s3cr3t", None);
        assert_eq!((world.secrets.as_str(), world.records.len()), ("s3cr3t", 2));
        assert_eq!(world.device("pk", "d1").unwrap().secret, "");
        assert_eq!(world.device("pk", "d2").unwrap().secret, "s3cr3t");
    }

    #[test]
    fn a_device_is_where_it_was_last_distributed_to_and_home_before() {
        let mut world = World::default();
        world.add_device("pk", "home", "iot-a", None);
        world.add_device("pk", "seeded", "iot-a", Some("iot-b"));
        world.add_device("pk", "seeded-home", "iot-a", Some("iot-a"));
        world.add_device("pk", "seeded", "iot-c", None);
        fn device<'a>(world: &'a World, name: &str) -> Device<'a> {
            world.device("pk", name).unwrap()
        }
        assert_eq!(device(&world, "home").location(), "iot-a");
        assert_eq!(device(&world, "home").last_distribution(), ("iot-a", "iot-a", None));
        // current_instance: distributed from home to there, at an unknown time; the first record wins.
        assert_eq!(device(&world, "seeded").location(), "iot-b");
        assert_eq!(device(&world, "seeded").last_distribution(), ("iot-a", "iot-b", None));
        assert_eq!(device(&world, "seeded-home").last_move, None);
        assert!(world.product_in("pk", "iot-b") && !world.product_in("pk", "iot-c"));
        // A second hop, then a return home: each move leaves from where the device is.
        world.move_device("pk", "seeded", "iot-c", Some(5));
        assert_eq!(device(&world, "seeded").last_distribution(), ("iot-b", "iot-c", Some(5)));
        world.move_device("pk", "seeded", "iot-a", Some(9));
        assert_eq!(device(&world, "seeded").last_distribution(), ("iot-c", "iot-a", Some(9)));
        assert_eq!(device(&world, "seeded").location(), "iot-a");
        assert!(world.product_in("pk", "iot-c"), "the product stays where its devices went");
        world.move_device("pk", "no-such-device", "iot-d", Some(1));
        assert!(!world.product_in("pk", "iot-d"));
    }
}
