//! The index the read APIs answer from (`registry`), kept by [`World`](crate::World) as devices
//! register, move and (under the `churn` fault) are deleted and restored, so that each read
//! call costs about its page, not the number of devices.
//!
//! Devices are named in the index by their registration number (`Device::registered`, unique,
//! never reused); products and instances by small numbers (interned). Per device it holds:
//! - its product (4 bytes) and where its name ends (8 bytes) in the names arena, one string of
//!   every name, each once, in the order of registration (the world keys nothing else by name);
//! - its name (its length in bytes) in that arena; the product and the name stay when the
//!   device is deleted, so a job can still name it;
//! - its number in the positions table, which finds a registered device by the hash of its
//!   product and name (8 bytes and a control byte a bucket, 7/16 to 7/8 of them used: 10 to 21
//!   bytes);
//! - its number in its product's list and in its product's list for the instance it is in
//!   (8 bytes each), newest first: QueryDevice, and QueryProductList's `DeviceCount`;
//! - once distributed, its last distribution's time and number (16 bytes) in each of four lists
//!   in ListDistributedDevice's order: all, by product, by source, by product and source;
//!   and a count in its (product, source, target) group for ListDistributedProduct.
//!
//! The lists are [`Sorted`]: sorted chunks of at most [`CHUNK`] × 2 entries, so an insertion or
//! a removal moves at most a chunk (a newest entry: none), and the k-th entry is found by walking
//! the chunks' lengths (1 M entries: 1,000 to 2,000 chunks), then indexing. A chunk gives back
//! the room it no longer needs (after a split, and below a quarter full), so an entry costs
//! its bytes and at most as much again.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use hashbrown::HashTable;
use rustc_hash::FxHasher;

/// Chunks of a [`Sorted`] list split past twice this length.
pub(crate) const CHUNK: usize = 512;

/// A list kept in an order given by a comparison function at each call (the order of some
/// entries needs the index's names), stored as sorted chunks. The chunks hold it backwards, so
/// the usual insertion, a newest entry that lists first, appends to the last chunk.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sorted<T> {
    /// Backwards: the list's last entry is the first chunk's first.
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy> Sorted<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The chunk `key` belongs in, in the stored order `rev`: the first whose last entry is not
    /// before it (else the last).
    fn chunk_of(&self, key: &T, rev: &impl Fn(&T, &T) -> Ordering) -> usize {
        let at = self.chunks.partition_point(|chunk| chunk.last().is_some_and(|last| rev(last, key) == Ordering::Less));
        at.min(self.chunks.len().saturating_sub(1))
    }

    /// Inserts `key` where `cmp` (the list's order) puts it.
    pub(crate) fn insert(&mut self, key: T, cmp: impl Fn(&T, &T) -> Ordering) {
        let rev = |a: &T, b: &T| cmp(b, a);
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let at = self.chunk_of(&key, &rev);
        let chunk = &mut self.chunks[at];
        let pos = chunk.partition_point(|entry| rev(entry, &key) == Ordering::Less);
        chunk.insert(pos, key);
        self.len += 1;
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            // The head keeps the room it grew to hold both halves: give it back.
            chunk.shrink_to_fit();
            self.chunks.insert(at + 1, tail);
        }
    }

    /// Removes the entry equal to `key` under `cmp`; false when there is none.
    pub(crate) fn remove(&mut self, key: &T, cmp: impl Fn(&T, &T) -> Ordering) -> bool {
        let rev = |a: &T, b: &T| cmp(b, a);
        if self.chunks.is_empty() {
            return false;
        }
        let at = self.chunk_of(key, &rev);
        let chunk = &mut self.chunks[at];
        let pos = chunk.partition_point(|entry| rev(entry, key) == Ordering::Less);
        if pos >= chunk.len() || rev(&chunk[pos], key) != Ordering::Equal {
            return false;
        }
        chunk.remove(pos);
        if chunk.is_empty() {
            self.chunks.remove(at);
        } else if chunk.len() * 4 < chunk.capacity() {
            // A list most devices left (their home, once they are distributed) gives back its room.
            chunk.shrink_to_fit();
        }
        self.len -= 1;
        true
    }

    /// How many entries come before `key` in the list, or equal it.
    pub(crate) fn count_through(&self, key: &T, cmp: impl Fn(&T, &T) -> Ordering) -> usize {
        let rev = |a: &T, b: &T| cmp(b, a);
        let whole =
            self.chunks.partition_point(|chunk| chunk.last().is_some_and(|last| rev(last, key) == Ordering::Less));
        let after: usize = self.chunks[..whole].iter().map(Vec::len).sum();
        let partial =
            self.chunks.get(whole).map_or(0, |chunk| chunk.partition_point(|entry| rev(entry, key) == Ordering::Less));
        self.len - after - partial
    }

    /// The entries from the `skip`th on, in the list's order.
    pub(crate) fn iter_from(&self, mut skip: usize) -> impl Iterator<Item = &T> + '_ {
        let mut first = None;
        for (at, chunk) in self.chunks.iter().enumerate().rev() {
            if skip < chunk.len() {
                first = Some(at);
                break;
            }
            skip -= chunk.len();
        }
        let (head, rest) = match first {
            Some(at) => (&self.chunks[at][..self.chunks[at].len() - skip], &self.chunks[..at]),
            None => (&[][..], &[][..]),
        };
        head.iter().rev().chain(rest.iter().rev().flat_map(|chunk| chunk.iter().rev()))
    }

    /// The list's last entry.
    pub(crate) fn last(&self) -> Option<&T> {
        self.chunks.first().and_then(|chunk| chunk.first())
    }
}

/// Newest first: registration numbers, highest first.
pub(crate) fn newest_first(a: &u64, b: &u64) -> Ordering {
    b.cmp(a)
}

/// A device in a list of distributions: when its last distribution ended (ms + 1; 0 for one an
/// inventory seeded, which lists last) and its registration number.
pub(crate) type Distributed = (u64, u64);

/// What the index holds of one device's distribution, to find it again in the lists: instance
/// numbers ([`Index::instance`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Where it is now.
    pub location: u32,
    /// Its last distribution: from, to and when (`None`: seeded by an inventory).
    pub last: Option<(u32, u32, Option<u64>)>,
}

/// The index (module docs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// By registration number − 1, every device ever registered (a deleted one too): its
    /// product, and where its name ends in `names` (it starts where the one before ends).
    device_products: Vec<u32>,
    name_ends: Vec<u64>,
    /// Every device's name, one after another, in the order of registration.
    names: String,
    /// The numbers of the registered devices, by the hash of their product and name.
    positions: HashTable<u64>,
    product_ids: HashMap<String, u32>,
    product_keys: Vec<String>,
    instance_ids: HashMap<String, u32>,
    instance_names: Vec<String>,
    /// Per product: every device, and those in each instance, newest first.
    devices: Vec<Sorted<u64>>,
    located: HashMap<(u32, u32), Sorted<u64>>,
    /// ListDistributedDevice's lists: all, by product, by source, by product and source.
    distributed: Sorted<Distributed>,
    distributed_by_product: HashMap<u32, Sorted<Distributed>>,
    distributed_by_source: HashMap<u32, Sorted<Distributed>>,
    distributed_by_both: HashMap<(u32, u32), Sorted<Distributed>>,
    /// ListDistributedProduct: per (product, source, target), how many devices' last
    /// distributions ended at each time (0: seeded).
    groups: BTreeMap<(u32, u32, u32), BTreeMap<u64, u32>>,
}

/// Which of ListDistributedDevice's lists to read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DistributedFilter<'a> {
    pub product_key: Option<&'a str>,
    pub source: Option<&'a str>,
}

impl Index {
    fn product(&mut self, product_key: &str) -> u32 {
        let (id, new) = intern(&mut self.product_ids, &mut self.product_keys, product_key);
        if new {
            self.devices.push(Sorted::default());
        }
        id
    }

    /// The number of `instance`, given one when new.
    pub(crate) fn instance(&mut self, instance: &str) -> u32 {
        intern(&mut self.instance_ids, &mut self.instance_names, instance).0
    }

    /// The instance numbered `id` by [`Index::instance`].
    pub(crate) fn instance_name(&self, id: u32) -> &str {
        &self.instance_names[id as usize]
    }

    /// The product key and name of device `number` (a deleted one too).
    pub(crate) fn name(&self, number: u64) -> Option<(&str, &str)> {
        let at = number.checked_sub(1)? as usize;
        let product = *self.device_products.get(at)?;
        Some((&self.product_keys[product as usize], name_at(&self.names, &self.name_ends, at)))
    }

    /// The number of the registered device of `product_key` named `name`.
    pub(crate) fn find(&self, product_key: &str, name: &str) -> Option<u64> {
        let product = *self.product_ids.get(product_key)?;
        let is = |number: &u64| {
            let at = (*number - 1) as usize;
            self.device_products[at] == product && name_at(&self.names, &self.name_ends, at) == name
        };
        self.positions.find(position_hash(product, name), is).copied()
    }

    /// ListDistributedDevice's order: newest first, seeded last, ties by product key and name.
    fn distributed_order(&self) -> impl Fn(&Distributed, &Distributed) -> Ordering + '_ {
        move |a, b| b.0.cmp(&a.0).then_with(|| self.name(a.1).cmp(&self.name(b.1)))
    }

    /// Registers device `number` of `product_key` named `name`, placed as `placement` says: a
    /// new one (numbered after every other), or one deleted before (the same name again).
    pub(crate) fn insert(&mut self, number: u64, product_key: &str, name: &str, placement: Placement) {
        let product = self.product(product_key);
        let at = (number - 1) as usize;
        if at == self.device_products.len() {
            self.names.push_str(name);
            self.name_ends.push(self.names.len() as u64);
            self.device_products.push(product);
        }
        let Index { positions, device_products, name_ends, names, .. } = self;
        let rehash = |number: &u64| {
            let at = (*number - 1) as usize;
            position_hash(device_products[at], name_at(names, name_ends, at))
        };
        positions.insert_unique(position_hash(product, name), number, rehash);
        self.devices[product as usize].insert(number, newest_first);
        self.place(number, product, placement);
    }

    fn product_of(&self, number: u64) -> Option<u32> {
        self.device_products.get(number.checked_sub(1)? as usize).copied()
    }

    /// Deletes device `number`, placed as `placement` says (the `churn` fault).
    pub(crate) fn remove(&mut self, number: u64, placement: Placement) {
        let at = (number - 1) as usize;
        let Some(&product) = self.device_products.get(at) else { return };
        let hash = position_hash(product, name_at(&self.names, &self.name_ends, at));
        if let Ok(entry) = self.positions.find_entry(hash, |other| *other == number) {
            entry.remove();
        }
        self.unplace(number, product, placement);
        self.devices[product as usize].remove(&number, newest_first);
    }

    /// Device `number`, placed as `placement` says, is about to move ([`Index::arrived`] next).
    pub(crate) fn leaving(&mut self, number: u64, placement: Placement) {
        if let Some(product) = self.product_of(number) {
            self.unplace(number, product, placement);
        }
    }

    /// Device `number` moved and is placed as `placement` says.
    pub(crate) fn arrived(&mut self, number: u64, placement: Placement) {
        if let Some(product) = self.product_of(number) {
            self.place(number, product, placement);
        }
    }

    fn place(&mut self, number: u64, product: u32, placement: Placement) {
        let location = placement.location;
        self.located.entry((product, location)).or_default().insert(number, newest_first);
        if let Some((from, to, at)) = placement.last {
            let entry = (at.map_or(0, |at| at + 1), number);
            for list in self.lists(product, from) {
                let mut taken = std::mem::take(list.get(self));
                taken.insert(entry, self.distributed_order());
                *list.get(self) = taken;
            }
            *self.groups.entry((product, from, to)).or_default().entry(entry.0).or_default() += 1;
        }
    }

    fn unplace(&mut self, number: u64, product: u32, placement: Placement) {
        if let Some(list) = self.located.get_mut(&(product, placement.location)) {
            list.remove(&number, newest_first);
        }
        if let Some((from, to, at)) = placement.last {
            let entry = (at.map_or(0, |at| at + 1), number);
            for list in self.lists(product, from) {
                let mut taken = std::mem::take(list.get(self));
                taken.remove(&entry, self.distributed_order());
                *list.get(self) = taken;
            }
            if let Some(group) = self.groups.get_mut(&(product, from, to)) {
                if let Some(count) = group.get_mut(&entry.0) {
                    *count -= 1;
                    if *count == 0 {
                        group.remove(&entry.0);
                    }
                }
                if group.is_empty() {
                    self.groups.remove(&(product, from, to));
                }
            }
        }
    }

    fn lists(&self, product: u32, source: u32) -> [List; 4] {
        [List::All, List::Product(product), List::Source(source), List::Both(product, source)]
    }

    /// Device numbers of `product_key` (in `instance`, when given), newest first.
    pub(crate) fn devices(&self, product_key: &str, instance: Option<&str>) -> Option<&Sorted<u64>> {
        let product = *self.product_ids.get(product_key)?;
        match instance {
            None => self.devices.get(product as usize),
            Some(instance) => self.located.get(&(product, *self.instance_ids.get(instance)?)),
        }
    }

    /// ListDistributedDevice's list for `filter`.
    pub(crate) fn distributed(&self, filter: DistributedFilter<'_>) -> Option<&Sorted<Distributed>> {
        let product = filter.product_key.map(|pk| self.product_ids.get(pk).copied());
        let source = filter.source.map(|id| self.instance_ids.get(id).copied());
        match (product, source) {
            (None, None) => Some(&self.distributed),
            (Some(product), None) => product.and_then(|product| self.distributed_by_product.get(&product)),
            (None, Some(source)) => source.and_then(|source| self.distributed_by_source.get(&source)),
            (Some(product), Some(source)) => product.zip(source).and_then(|both| self.distributed_by_both.get(&both)),
        }
    }

    /// ListDistributedProduct's groups: (product key, source, target), the latest time of their
    /// devices' last distributions, and whether one of them was seeded.
    /// Only those of `product_key`, when given.
    pub(crate) fn groups(
        &self,
        product_key: Option<&str>,
    ) -> impl Iterator<Item = ((&str, &str, &str), Option<u64>, bool)> + '_ {
        let products = match product_key {
            None => Some((0, u32::MAX)),
            Some(product_key) => self.product_ids.get(product_key).map(|&product| (product, product)),
        };
        let groups = products.map(|(first, last)| self.groups.range((first, 0, 0)..=(last, u32::MAX, u32::MAX)));
        groups.into_iter().flatten().map(|(&(product, from, to), times)| {
            let key = (
                self.product_keys[product as usize].as_str(),
                self.instance_names[from as usize].as_str(),
                self.instance_names[to as usize].as_str(),
            );
            let latest = times.keys().next_back().filter(|at| **at > 0).map(|at| at - 1);
            (key, latest, times.contains_key(&0))
        })
    }
}

/// The name of device `at` + 1 in the names arena: from where the one before ends to its end.
fn name_at<'a>(names: &'a str, ends: &[u64], at: usize) -> &'a str {
    let start = at.checked_sub(1).map_or(0, |before| ends[before]);
    &names[start as usize..ends[at] as usize]
}

/// Where the positions table files a device of `product` named `name`.
fn position_hash(product: u32, name: &str) -> u64 {
    let mut hasher = FxHasher::default();
    product.hash(&mut hasher);
    name.hash(&mut hasher);
    hasher.finish()
}

/// The number of `name` in `names`, given one when new (true then).
fn intern(ids: &mut HashMap<String, u32>, names: &mut Vec<String>, name: &str) -> (u32, bool) {
    if let Some(id) = ids.get(name) {
        return (*id, false);
    }
    let id = names.len() as u32;
    ids.insert(name.to_string(), id);
    names.push(name.to_string());
    (id, true)
}

/// One of ListDistributedDevice's lists, named so it can be taken out of the index while the
/// index orders it.
#[derive(Debug, Clone, Copy)]
enum List {
    All,
    Product(u32),
    Source(u32),
    Both(u32, u32),
}

impl List {
    fn get(self, index: &mut Index) -> &mut Sorted<Distributed> {
        match self {
            List::All => &mut index.distributed,
            List::Product(product) => index.distributed_by_product.entry(product).or_default(),
            List::Source(source) => index.distributed_by_source.entry(source).or_default(),
            List::Both(product, source) => index.distributed_by_both.entry((product, source)).or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sorted_list_keeps_its_order_through_splits_and_removals() {
        let mut list = Sorted::default();
        let mut model: Vec<u64> = Vec::new();
        for n in 0..5000u64 {
            let key = (n * 7919) % 5003;
            list.insert(key, newest_first);
            model.push(key);
        }
        model.sort_by(newest_first);
        assert_eq!(list.iter_from(0).copied().collect::<Vec<_>>(), model);
        assert!(list.chunks.len() > 4, "split into chunks");
        let room = |list: &Sorted<u64>| list.chunks.iter().map(Vec::capacity).max().unwrap_or(0);
        assert!(room(&list) <= 2 * CHUNK + 2, "a chunk holds room for {} entries", room(&list));
        for key in (0..5003u64).step_by(3) {
            let had = model.contains(&key);
            assert_eq!(list.remove(&key, newest_first), had);
            model.retain(|other| *other != key);
        }
        assert!(!list.remove(&99_999, newest_first));
        assert!(list.chunks.iter().all(|chunk| chunk.capacity() <= 4 * chunk.len()), "removals give back room");
        assert_eq!(list.len(), model.len());
        assert_eq!(list.iter_from(0).copied().collect::<Vec<_>>(), model);
        for skip in [0, 1, 511, 1024, 1500, model.len() - 1, model.len(), model.len() + 5] {
            let page: Vec<u64> = list.iter_from(skip).take(10).copied().collect();
            assert_eq!(page, model.iter().skip(skip).take(10).copied().collect::<Vec<_>>(), "skip {skip}");
        }
        for key in [0u64, 1, 2500, 5002, 6000] {
            let through = model.iter().filter(|other| **other >= key).count();
            assert_eq!(list.count_through(&key, newest_first), through, "key {key}");
        }
        assert_eq!(list.last(), model.last());
    }
}
