//! Per-API QPS limits of an account (`Throttling.User` beyond them) and the counters the
//! introspection endpoint shows.

use std::collections::BTreeMap;

use devdist_platform::api::{Action, Lane};
use serde::Serialize;

/// Counters of one action.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ApiStats {
    /// Authenticated calls.
    pub calls: u64,
    /// Calls refused for exceeding the QPS limit.
    pub throttled: u64,
    /// Calls refused by the `throttle` fault.
    pub fault_throttled: u64,
    /// Calls answered 5xx by the `error5xx` fault.
    pub errors_5xx: u64,
    /// Read calls held, then hung up on, by the `stall` fault.
    pub stalled: u64,
    /// Read calls before whose answer the `churn` fault changed the world.
    pub churned: u64,
    /// Microseconds spent answering the calls that got past the gateway, the meter and the
    /// faults (settling ended jobs, the `churn` fault and the answer's JSON included).
    pub answer_us: u64,
    /// The limit in force, calls per second.
    pub limit: u32,
    /// The platform's limit (without `--rate-scale`), calls per second.
    pub platform_qps: f64,
    /// Of `calls`, deep pages (`Lane::deep`), under their own limit: the platform's is
    /// `limits::DEEP_PAGE_QPS`, scaled like the others.
    pub deep_calls: u64,
    /// The most calls that arrived within one second (throttled ones included).
    pub max_per_second: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    second: u64,
    arrived: u32,
    admitted: u32,
}

/// Fixed one-second windows per [`Lane`] (an action, and apart from it the deep pages of the
/// listings with a deep tier, at their own limit): a call is admitted while fewer than the limit were
/// admitted in the same second (of the emulator's monotonic clock).
///
/// A client that spaces its calls 1/limit apart is never refused; one that sends a full
/// token bucket's burst at once can be.
#[derive(Debug)]
pub struct Meter {
    scale: f64,
    windows: BTreeMap<Lane, Window>,
    stats: BTreeMap<Action, ApiStats>,
}

impl Meter {
    /// Limits multiplied by `scale` (`--rate-scale`); each is at least 1 call per second.
    pub fn new(scale: f64) -> Meter {
        let stats = Action::ALL
            .into_iter()
            .map(|action| {
                let stats =
                    ApiStats { limit: limit(action.qps(), scale), platform_qps: action.qps(), ..ApiStats::default() };
                (action, stats)
            })
            .collect();
        Meter { scale, windows: BTreeMap::new(), stats }
    }

    /// Counts a call at `mono_ms`; false when it exceeds the limit (and is throttled).
    pub fn admit(&mut self, action: Action, mono_ms: u64) -> bool {
        self.admit_lane(Lane::of(action), mono_ms)
    }

    /// Counts a call of `lane` at `mono_ms` (in its action's counters); false when it exceeds
    /// the lane's limit (and is throttled).
    pub fn admit_lane(&mut self, lane: Lane, mono_ms: u64) -> bool {
        let action = lane.action;
        let second = mono_ms / 1000;
        let window = self.windows.entry(lane).or_default();
        if window.second != second {
            *window = Window { second, arrived: 0, admitted: 0 };
        }
        window.arrived += 1;
        let stats = self.stats.entry(action).or_default();
        stats.calls += 1;
        stats.deep_calls += u64::from(lane.deep);
        stats.max_per_second = stats.max_per_second.max(window.arrived);
        if window.admitted >= limit(lane.qps(), self.scale) {
            stats.throttled += 1;
            return false;
        }
        window.admitted += 1;
        true
    }

    /// The counters of `action`, to update.
    pub fn stats_mut(&mut self, action: Action) -> &mut ApiStats {
        self.stats.entry(action).or_default()
    }

    /// Every action's counters, by its name on the wire.
    pub fn stats(&self) -> BTreeMap<&'static str, ApiStats> {
        self.stats.iter().map(|(action, stats)| (action.name(), stats.clone())).collect()
    }
}

/// A limit of the platform (`Lane::qps`) times `scale`, at least 1.
fn limit(qps: f64, scale: f64) -> u32 {
    (qps * scale).round().max(1.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_the_limit_per_second_and_counts_the_rest() {
        let mut meter = Meter::new(1.0);
        let admitted: Vec<bool> = [0, 100, 200, 999, 1000, 1500, 1600]
            .iter()
            .map(|ms| meter.admit(Action::CreateDeviceDistributeJob, *ms))
            .collect();
        assert_eq!(admitted, [true, true, false, false, true, true, false]);
        let stats = &meter.stats()["CreateDeviceDistributeJob"];
        assert_eq!((stats.calls, stats.throttled, stats.max_per_second, stats.limit), (7, 3, 4, 2));
        // Other actions have their own windows.
        assert!(meter.admit(Action::QueryDeviceDistributeJob, 1601));
    }

    #[test]
    fn deep_pages_have_a_window_of_their_own_at_two_a_second() {
        let mut meter = Meter::new(1.0);
        let deep = Lane::of_page(Action::QueryDevice, 2000, 50);
        let admitted: Vec<bool> = (0..3).map(|i| meter.admit_lane(deep, i)).collect();
        assert_eq!(admitted, [true, true, false]);
        assert!((0..50).all(|i| meter.admit(Action::QueryDevice, i)), "shallow pages keep their 50 a second");
        assert!(!meter.admit(Action::QueryDevice, 60));
        let stats = &meter.stats()["QueryDevice"];
        assert_eq!((stats.calls, stats.throttled, stats.limit), (54, 2, 50));
    }

    #[test]
    fn spaced_calls_are_never_refused_and_the_scale_multiplies_every_limit() {
        let mut meter = Meter::new(1.0);
        assert!((0..100).all(|i| meter.admit(Action::QueryDeviceDistributeJob, i * 100)), "10/s spaced 100 ms apart");
        let mut scaled = Meter::new(100.0);
        assert!((0..200).all(|_| scaled.admit(Action::CreateDeviceDistributeJob, 5)));
        assert!(!scaled.admit(Action::CreateDeviceDistributeJob, 5));
        assert_eq!(scaled.stats()["QueryDeviceProvisioning"].limit, 5000);
        assert_eq!(Meter::new(0.01).stats()["CreateDeviceDistributeJob"].limit, 1, "at least one call a second");
    }
}
