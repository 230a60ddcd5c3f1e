//! The `churn` fault: devices created and deleted while a reader sweeps the inventory, and put
//! back as they were a few read calls later (docs/wire.md §9.5).
//!
//! When `churn` strikes a QueryDevice or ListDistributedDevice call that is not a first page
//! (`CurrentPage` above 1, or a `NextToken`) while no change is in force, before the call is
//! answered:
//! - half the time (by the hash of the seed and the call) a *transient* device is registered,
//!   the newest of all, so a listing newest first grows by one at its start and every
//!   `CurrentPage` page after shifts by one row: a pager that does not look again lists a row
//!   twice. For QueryDevice it is a device of the call's `ProductKey` at home in its
//!   `IotInstanceId` (else in the product's first instance). For ListDistributedDevice it is
//!   distributed at the time of the call (so it is listed first) from `SourceInstanceId` (else
//!   the product's first instance) to another instance; its product is `ProductKey`, else one
//!   picked by the hash.
//! - the other half, one of the first [`CHURN_PICK`] rows the call's listing would show (newest
//!   first, transient devices aside) is deleted: the rows after it shift back by one and a pager
//!   that does not look again misses one.
//!
//! The change is undone at the [`CHURN_CALLS`]th read call after it (counted over every read
//! API), or at the next first page of a QueryDevice or ListDistributedDevice listing if that comes
//! sooner, before that call is answered: the transient device is deleted, the deleted device
//! restored as it was. While a change lasts, every answer shows it (`Total`, `DeviceCount`).
//!
//! So a sweep starts in the world without changes, and a change during it shows as a `Total`
//! other than its first page's (one change at a time: a change and an undo never meet in one
//! answer). A reader that sweeps again when a page's `Total` differs from the first page's ends
//! with the rows of a sweep without faults; one that does not lists a row twice or misses one.
//!
//! Churn is meant for read sweeps: a device deleted while a job that holds it ends does not move
//! with the job.

use devdist_platform::api::Action;

use crate::distribution::{Now, Params};
use crate::faults::{Fault, Faults};
use crate::registry;
use crate::world::{Removed, World};

/// A change is undone at this many read calls after it.
pub const CHURN_CALLS: u64 = 3;
/// A deleted device is one of the first this many rows of the listing the call asked for.
pub const CHURN_PICK: usize = 1000;
/// Transient devices are named this and a number: `emu-churn-000001`.
pub const TRANSIENT_PREFIX: &str = "emu-churn-";

#[derive(Debug)]
enum Change {
    Created { product_key: String, device_name: String },
    Deleted { product_key: String, device_name: String, device: Removed },
}

/// The changes in force, and when each is undone.
#[derive(Debug, Default)]
pub(crate) struct Churn {
    /// Read calls so far.
    reads: u64,
    /// Transient devices registered so far (they are numbered from 1).
    created: u64,
    /// Devices deleted so far.
    deleted: u64,
    /// Each change in force and the read call that undoes it, oldest first.
    pending: Vec<(u64, Change)>,
    /// The read call that last undid a change.
    undone: u64,
}

impl Churn {
    /// Counts a read call and undoes the changes it is due to undo (every one before a first
    /// page), newest first.
    pub(crate) fn tick(&mut self, world: &mut World, action: Action, params: &Params) {
        self.reads += 1;
        let due = if is_first_page(action, params) {
            self.pending.len()
        } else {
            self.pending.iter().take_while(|(at, _)| *at <= self.reads).count()
        };
        if due > 0 {
            self.undone = self.reads;
        }
        for (_, change) in self.pending.drain(..due).rev() {
            match change {
                Change::Created { product_key, device_name } => {
                    world.remove_device(&product_key, &device_name);
                }
                Change::Deleted { product_key, device_name, device } => {
                    world.restore_device(&product_key, &device_name, device);
                }
            }
        }
    }

    /// Transient devices registered and devices deleted so far, and changes in force.
    pub(crate) fn counts(&self) -> (u64, u64, usize) {
        (self.created, self.deleted, self.pending.len())
    }

    /// Applies the fault to a QueryDevice or ListDistributedDevice call (`call` its identity and
    /// occurrence) when it strikes: not on a first page, nor while a change is in force, nor on
    /// the call that undid one. True when the world changed.
    pub(crate) fn strike(
        &mut self,
        world: &mut World,
        faults: &Faults,
        action: Action,
        params: &Params,
        call: &[&str],
        now: Now,
    ) -> bool {
        let undone_now = self.undone == self.reads;
        if !self.pending.is_empty() || undone_now || is_first_page(action, params) || !faults.hits(Fault::Churn, call) {
            return false;
        }
        let create = faults.roll("churn-kind", call) < 0.5;
        let pick = faults.hash("churn-pick", call);
        let change = match (action, create) {
            (Action::QueryDevice, true) => self.create_registered(world, params),
            (Action::ListDistributedDevice, true) => self.create_distributed(world, params, pick, now),
            (_, false) => delete(world, &registry::first_rows(world, action, params, CHURN_PICK, is_transient), pick),
            _ => None,
        };
        let Some(change) = change else { return false };
        match change {
            Change::Created { .. } => self.created += 1,
            Change::Deleted { .. } => self.deleted += 1,
        }
        self.pending.push((self.reads + CHURN_CALLS, change));
        true
    }

    fn next_name(&mut self) -> String {
        format!("{TRANSIENT_PREFIX}{:06}", self.created + 1)
    }

    /// A transient device of QueryDevice's product, at home where the call looks.
    fn create_registered(&mut self, world: &mut World, params: &Params) -> Option<Change> {
        let product_key = params.get("ProductKey")?.clone();
        let home = match params.get("IotInstanceId").filter(|id| !id.is_empty()) {
            Some(instance) => instance.clone(),
            None => world.products.get(&product_key)?.first()?.clone(),
        };
        if !world.product_in(&product_key, &home) {
            return None;
        }
        let device_name = self.next_name();
        world.add_device(&product_key, &device_name, &home, None);
        Some(Change::Created { product_key, device_name })
    }

    /// A transient device distributed now, from where the call looks to another instance.
    fn create_distributed(&mut self, world: &mut World, params: &Params, pick: u64, now: Now) -> Option<Change> {
        if params.get("TargetUid").is_some_and(|uid| *uid != world.account) || params.contains_key("DeviceName") {
            return None;
        }
        let product_key = match params.get("ProductKey") {
            Some(product_key) => product_key.clone(),
            None => world.products.keys().nth((pick % world.products.len().max(1) as u64) as usize)?.clone(),
        };
        let instances = world.products.get(&product_key)?;
        let home = params.get("SourceInstanceId").or_else(|| instances.first())?.clone();
        let mut others: Vec<&String> = world.instances.keys().filter(|id| **id != home).collect();
        others.sort();
        let target = instances.iter().find(|id| **id != home).or_else(|| others.first().copied())?.clone();
        let device_name = self.next_name();
        world.add_device(&product_key, &device_name, &home, None);
        world.move_device(&product_key, &device_name, &target, Some(now.wall));
        Some(Change::Created { product_key, device_name })
    }
}

/// Whether the call asks for the first page of a QueryDevice or ListDistributedDevice listing.
fn is_first_page(action: Action, params: &Params) -> bool {
    let first = params.get("CurrentPage").is_none_or(|page| page.trim() == "1")
        && params.get("NextToken").is_none_or(|token| token.is_empty());
    first && matches!(action, Action::QueryDevice | Action::ListDistributedDevice)
}

fn is_transient(device_name: &str) -> bool {
    device_name.starts_with(TRANSIENT_PREFIX)
}

/// Deletes the candidate `pick` chooses.
fn delete(world: &mut World, candidates: &[(String, String)], pick: u64) -> Option<Change> {
    let (product_key, device_name) = candidates.get((pick % candidates.len().max(1) as u64) as usize)?.clone();
    let device = world.remove_device(&product_key, &device_name)?;
    Some(Change::Deleted { product_key, device_name, device })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        let mut world = World { account: "1".into(), ..World::default() };
        for instance in ["iot-a", "iot-b"] {
            world.instances.insert(instance.into(), crate::world::Instance { region: "r".into(), owner_uid: None });
        }
        for n in 0..20 {
            world.add_device("pk", &format!("dev-{n:02}"), "iot-a", None);
        }
        for n in 0..5 {
            world.move_device("pk", &format!("dev-{n:02}"), "iot-b", Some(1000 + n));
        }
        world
    }

    fn snapshot(world: &World) -> Vec<(String, String, String)> {
        let mut all: Vec<_> =
            world.devices().map(|(pk, name, d)| (pk.to_string(), name.to_string(), format!("{d:?}"))).collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }

    fn page(n: u32) -> Params {
        [("ProductKey".to_string(), "pk".to_string()), ("CurrentPage".to_string(), n.to_string())].into_iter().collect()
    }

    /// What QueryDevice and ListDistributedDevice list, page by page.
    fn listing(world: &World) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        for action in [Action::QueryDevice, Action::ListDistributedDevice] {
            rows.extend(registry::first_rows(world, action, &page(1), usize::MAX, |_| false));
        }
        rows
    }

    #[test]
    fn one_change_at_a_time_undone_after_a_few_reads_or_at_a_first_page() {
        let faults = Faults::parse("churn=1", 9).unwrap();
        let mut world = world();
        let before = (snapshot(&world), listing(&world));
        let mut churn = Churn::default();
        let now = Now { mono: 0, wall: 5000 };
        let mut sizes = Vec::new();
        let mut strikes = Vec::new();
        for call in 0..12u32 {
            let action = if call % 2 == 0 { Action::QueryDevice } else { Action::ListDistributedDevice };
            churn.tick(&mut world, action, &page(2));
            strikes.push(churn.strike(&mut world, &faults, action, &page(2), &["id", &call.to_string()], now));
            sizes.push(world.device_count());
        }
        // Struck, in force for 3 calls, undone (no strike on that call), struck again, ...
        let pattern = [true, false, false, false];
        assert_eq!(strikes, pattern.repeat(3));
        let (created, deleted, pending) = churn.counts();
        assert_eq!((created + deleted, pending), (3, 0));
        assert!(created > 0 && deleted > 0, "both kinds: {created} created, {deleted} deleted");
        assert!(sizes.iter().any(|size| *size != 20), "the world changed while the changes lasted");
        // A first page undoes what is in force and is never struck.
        churn.tick(&mut world, Action::QueryDevice, &page(2));
        assert!(churn.strike(&mut world, &faults, Action::QueryDevice, &page(2), &["id", "12"], now));
        assert_eq!(churn.counts().2, 1);
        churn.tick(&mut world, Action::QueryDevice, &page(1));
        assert!(!churn.strike(&mut world, &faults, Action::QueryDevice, &page(1), &["first"], now));
        assert_eq!(churn.counts().2, 0);
        assert_eq!((snapshot(&world), listing(&world)), before, "the world after is the world before");
        // A new transient device is the newest: numbers are never reused.
        assert!(world.last_registered > 20);
    }

    #[test]
    fn while_a_change_lasts_total_and_device_count_show_it() {
        let faults = Faults::parse("churn=1", 2).unwrap();
        let counts = |world: &World| {
            let asked: Params = [("PageSize".to_string(), "50".to_string())].into_iter().collect();
            let devices = registry::query_device(world, &page(2)).unwrap().total;
            let listed = registry::product_list(world, &asked).unwrap().list.product_info[0].device_count;
            let distributed = registry::distributed_devices(world, &page(1), Now { mono: 0, wall: 9 }).unwrap().total;
            (devices, listed, distributed)
        };
        let mut seen = std::collections::BTreeSet::new();
        for call in 0..16 {
            let mut world = world();
            let before = counts(&world);
            let mut churn = Churn::default();
            let action = if call % 2 == 0 { Action::QueryDevice } else { Action::ListDistributedDevice };
            churn.tick(&mut world, action, &page(2));
            assert!(churn.strike(
                &mut world,
                &faults,
                action,
                &page(2),
                &[&call.to_string()],
                Now { mono: 0, wall: 9 }
            ));
            let (created, _, _) = churn.counts();
            let step: i64 = if created == 1 { 1 } else { -1 };
            let after = counts(&world);
            let moved = |at: fn(&(u64, u64, u64)) -> u64| at(&after) as i64 - at(&before) as i64;
            // A device of the product is created or deleted; only a distributed one changes the
            // distributed listing.
            assert_eq!((moved(|c| c.0), moved(|c| c.1)), (step, step), "call {call}");
            let distributed = moved(|c| c.2);
            assert!(distributed == 0 || distributed == step, "call {call}");
            seen.insert((action == Action::QueryDevice, step, distributed));
        }
        assert!(seen.len() >= 4, "both kinds of change through both listings: {seen:?}");
    }

    #[test]
    fn the_same_seed_makes_the_same_changes() {
        let run = |seed| {
            let faults = Faults::parse("churn=0.5", seed).unwrap();
            let mut world = world();
            let mut churn = Churn::default();
            let mut sizes = Vec::new();
            for call in 0..40 {
                churn.tick(&mut world, Action::QueryDevice, &page(3));
                let call = call.to_string();
                churn.strike(&mut world, &faults, Action::QueryDevice, &page(3), &[&call], Now { mono: 0, wall: 1 });
                sizes.push(listing(&world));
            }
            sizes
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
