//! SharedDictionaries of the few distinct values that millions of records share — product keys,
//! destinations, where a device is billed now — so a candidate holds small ids, not strings.
//!
//! Worker threads look values up in a private cache first and take the shared lock only for a
//! value they have not seen. Ids depend on thread timing; nothing is ordered by id: outputs
//! order by value (see [`ranks`]).

use std::sync::Mutex;

use rustc_hash::FxHashMap as HashMap;

use crate::record::{Billed, Destination};

/// Ids by key text, and the value of each id.
type Entries<V> = (HashMap<Box<str>, u32>, Vec<V>);

/// A shared dictionary from key text to id, with one value per id.
#[derive(Debug)]
pub struct Dictionary<V> {
    inner: Mutex<Entries<V>>,
}

impl<V> Default for Dictionary<V> {
    fn default() -> Self {
        Dictionary { inner: Mutex::new((HashMap::default(), Vec::new())) }
    }
}

impl<V> Dictionary<V> {
    /// The id of `key`, creating it with `make()` when new.
    fn id(&self, key: &str, make: impl FnOnce() -> V) -> u32 {
        let mut guard = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (ids, values) = &mut *guard;
        if let Some(&id) = ids.get(key) {
            return id;
        }
        let id = values.len() as u32;
        ids.insert(key.into(), id);
        values.push(make());
        id
    }

    /// The values, indexed by id.
    pub fn into_values(self) -> Vec<V> {
        self.inner.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()).1
    }
}

/// One worker's memory of ids it has already looked up in one dictionary.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    ids: HashMap<Box<str>, u32>,
}

impl Cache {
    /// The id of `key` in `dictionary`.
    pub(crate) fn id<V>(&mut self, dictionary: &Dictionary<V>, key: &str, make: impl FnOnce() -> V) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = dictionary.id(key, make);
        self.ids.insert(key.into(), id);
        id
    }
}

/// For each id, its position when the values are sorted by `key`: ids are assigned in
/// whatever order threads met the values, ranks are the same at any thread count.
pub(crate) fn ranks<V, K: Ord>(values: &[V], key: impl Fn(&V) -> K) -> Vec<u32> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by_key(|&i| key(&values[i]));
    let mut rank = vec![0u32; values.len()];
    for (position, &id) in order.iter().enumerate() {
        rank[id] = position as u32;
    }
    rank
}

/// The dictionaries stage 1 fills, shared by every worker.
#[derive(Debug, Default)]
pub struct SharedDictionaries {
    /// Product keys.
    pub products: Dictionary<Box<str>>,
    /// Destinations.
    pub destinations: Dictionary<Destination>,
    /// Where moved devices are billed now.
    pub billed: Dictionary<Billed>,
}

/// The dictionaries stage 1 filled, with product keys ranked by value.
#[derive(Debug)]
pub struct Dictionaries {
    products: Vec<Box<str>>,
    product_rank: Vec<u32>,
    destinations: Vec<Destination>,
    billed: Vec<Billed>,
}

impl Dictionaries {
    /// Takes the filled dictionaries.
    pub fn new(dictionaries: SharedDictionaries) -> Dictionaries {
        let products = dictionaries.products.into_values();
        let product_rank = ranks(&products, |key| key.clone());
        Dictionaries {
            products,
            product_rank,
            destinations: dictionaries.destinations.into_values(),
            billed: dictionaries.billed.into_values(),
        }
    }

    /// The product key of an id.
    pub fn product_key(&self, product: u32) -> &str {
        &self.products[product as usize]
    }

    /// Rank of a product id in product-key order.
    pub fn product_rank(&self, product: u32) -> u32 {
        self.product_rank[product as usize]
    }

    /// Every destination, by id.
    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    /// Where moved devices are billed now, by id.
    pub fn billed_table(&self) -> &[Billed] {
        &self.billed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_agree_with_the_dictionary_and_ranks_follow_values() {
        let dictionary: Dictionary<String> = Dictionary::default();
        let (mut a, mut b) = (Cache::default(), Cache::default());
        let zeta = a.id(&dictionary, "zeta", || "zeta".to_string());
        let alpha = b.id(&dictionary, "alpha", || "alpha".to_string());
        assert_eq!(b.id(&dictionary, "zeta", || unreachable!()), zeta);
        assert_eq!(a.id(&dictionary, "alpha", || unreachable!()), alpha);
        let values = dictionary.into_values();
        let ranks = ranks(&values, |v| v.clone());
        assert_eq!((ranks[zeta as usize], ranks[alpha as usize]), (1, 0));
    }
}
