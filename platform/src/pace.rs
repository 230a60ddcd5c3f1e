//! One pacer per API (per [`Lane`]: the deep pages of a listing have their own): calls are spaced so that no second of the platform's clock sees more than
//! the per-account limit (docs/wire.md §1), whatever the threads calling.
//!
//! It is a token bucket of depth one: a full bucket's burst at once is what a fixed-window
//! limiter refuses, so calls are spaced `1 / rate` apart instead, with 10 % headroom for the
//! jitter between when a call leaves and when it arrives.

use crate::api::{Action, Lane};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Share of each limit left unused, so that network jitter cannot bunch two calls into one
/// second of the platform's clock.
const HEADROOM: f64 = 1.1;

/// The pacers of every [`Lane`].
#[derive(Debug)]
pub struct Pace {
    buckets: BTreeMap<Lane, Bucket>,
}

#[derive(Debug)]
struct Bucket {
    interval: Duration,
    /// The earliest instant the next call may start.
    next: Mutex<Option<Instant>>,
}

impl Pace {
    /// Pacers at the platform's limits multiplied by `rate_scale` (> 0).
    pub fn new(rate_scale: f64) -> Pace {
        let buckets = Lane::all()
            .map(|lane| {
                let interval = Duration::from_nanos((1e9 * HEADROOM / (lane.qps() * rate_scale)).round() as u64);
                (lane, Bucket { interval, next: Mutex::new(None) })
            })
            .collect();
        Pace { buckets }
    }

    /// The spacing between two calls of `action`.
    pub fn interval(&self, action: Action) -> Duration {
        self.lane_interval(Lane::of(action))
    }

    /// The spacing between two calls of `lane`.
    pub fn lane_interval(&self, lane: Lane) -> Duration {
        self.buckets[&lane].interval
    }

    /// Waits until a call of `action` may start, and books that slot.
    pub fn acquire(&self, action: Action) {
        self.acquire_lane(Lane::of(action));
    }

    /// Waits until a call of `lane` may start, and books that slot.
    pub fn acquire_lane(&self, lane: Lane) {
        let wait = self.reserve(lane, Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Books the next slot of `lane` for a call wanted at `now`; returns how long to wait.
    fn reserve(&self, lane: impl Into<Lane>, now: Instant) -> Duration {
        let bucket = &self.buckets[&lane.into()];
        let mut next = bucket.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + bucket.interval);
        slot - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_spaced_by_the_limit_with_headroom() {
        let pace = Pace::new(1.0);
        assert_eq!(pace.interval(Action::CreateDeviceDistributeJob), Duration::from_millis(550));
        assert_eq!(pace.interval(Action::QueryDeviceProvisioning), Duration::from_millis(22));
        let t0 = Instant::now();
        let waits: Vec<Duration> = (0..4).map(|_| pace.reserve(Action::CreateDeviceDistributeJob, t0)).collect();
        assert_eq!(waits, [0, 550, 1100, 1650].map(Duration::from_millis));
        // Other APIs have their own bucket.
        assert_eq!(pace.reserve(Action::QueryDeviceDistributeJob, t0), Duration::ZERO);
        // An idle API does not bank tokens: after a pause the next call waits one interval only.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pace.reserve(Action::CreateDeviceDistributeJob, later), Duration::ZERO);
        assert_eq!(pace.reserve(Action::CreateDeviceDistributeJob, later), Duration::from_millis(550));
    }

    #[test]
    fn deep_pages_are_paced_apart_at_two_a_second() {
        let pace = Pace::new(1.0);
        let deep = Lane::of_page(Action::QueryDevice, 2000, 50);
        assert_eq!(pace.lane_interval(deep), Duration::from_millis(550));
        assert_eq!(pace.interval(Action::QueryDevice), Duration::from_millis(22));
        let t0 = Instant::now();
        assert_eq!(pace.reserve(deep, t0), Duration::ZERO);
        assert_eq!(pace.reserve(deep, t0), Duration::from_millis(550));
        assert_eq!(pace.reserve(Action::QueryDevice, t0), Duration::ZERO, "shallow pages have their own bucket");
    }

    #[test]
    fn the_scale_multiplies_every_rate() {
        let pace = Pace::new(100.0);
        assert_eq!(pace.interval(Action::CreateDeviceDistributeJob), Duration::from_micros(5500));
        let pace = Pace::new(0.5);
        assert_eq!(pace.interval(Action::QueryDeviceDistributeJob), Duration::from_millis(220));
    }

    #[test]
    fn threads_share_one_bucket_and_never_get_the_same_slot() {
        let pace = std::sync::Arc::new(Pace::new(100.0));
        let start = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let pace = pace.clone();
                std::thread::spawn(move || (0..5).for_each(|_| pace.acquire(Action::CreateDeviceDistributeJob)))
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        // 20 calls at 5.5 ms spacing: the last starts no earlier than 19 intervals after the first.
        assert!(start.elapsed() >= Duration::from_micros(5500 * 19), "{:?}", start.elapsed());
    }
}
