//! `--faults NAME=RATE,…`: which calls, jobs and devices misbehave, decided by a hash of the
//! seed and the thing's identity (never by arrival time), so a run is reproducible for a seed.

use std::fmt;

use sha2::{Digest, Sha256};

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Bursts of `Throttling.User` on calls that are within the QPS limits.
    Throttle,
    /// `InternalError` (500) or `ServiceUnavailable` (503) instead of an answer.
    Error5xx,
    /// A Create is carried out (the job exists) but the connection closes without an answer.
    LostResponse,
    /// The job ends in status 3 with only part of its devices done.
    Interrupt,
    /// A device fails inside a job that completes.
    DeviceFail,
    /// The job takes ten times `--job-seconds`.
    Slow,
    /// QueryDeviceDistributeDetail hands out a URL that has already expired.
    ExpireUrl,
    /// A QueryDevice or ListDistributedDevice page creates a transient device or deletes one,
    /// undone a few read calls later (`churn`).
    Churn,
    /// A read call is held for `--stall-seconds`, then its connection closes unanswered.
    Stall,
}

impl Fault {
    /// Every fault, in the order of [`Fault::name`]'s documentation.
    pub const ALL: [Fault; 9] = [
        Fault::Throttle,
        Fault::Error5xx,
        Fault::LostResponse,
        Fault::Interrupt,
        Fault::DeviceFail,
        Fault::Slow,
        Fault::ExpireUrl,
        Fault::Churn,
        Fault::Stall,
    ];

    /// The name used in `--faults` and in the stats.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::Error5xx => "error5xx",
            Fault::LostResponse => "lost-response",
            Fault::Interrupt => "interrupt",
            Fault::DeviceFail => "device-fail",
            Fault::Slow => "slow",
            Fault::ExpireUrl => "expire-url",
            Fault::Churn => "churn",
            Fault::Stall => "stall",
        }
    }

    fn index(self) -> usize {
        Fault::ALL.iter().position(|fault| *fault == self).unwrap_or(0)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fault rates and the seed every decision is derived from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    seed: u64,
    rates: [f64; Fault::ALL.len()],
}

impl Faults {
    /// No faults.
    pub fn none(seed: u64) -> Faults {
        Faults { seed, rates: [0.0; Fault::ALL.len()] }
    }

    /// Parses `NAME=RATE,…` (RATE a probability 0–1; an empty spec means no faults).
    ///
    /// ```
    /// use devdist_emulator::{Fault, Faults};
    /// let faults = Faults::parse("device-fail=0.05,slow=1", 7).unwrap();
    /// assert_eq!(faults.rate(Fault::Slow), 1.0);
    /// assert!(Faults::parse("slow=2", 7).is_err());
    /// assert!(Faults::parse("slow=0.1,slow=0.5", 7).is_err());
    /// ```
    ///
    /// A fault named twice is refused, even at the same rate: which rate was meant cannot be told.
    pub fn parse(spec: &str, seed: u64) -> Result<Faults, String> {
        let mut faults = Faults::none(seed);
        let mut named = [false; Fault::ALL.len()];
        for item in spec.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let (name, rate) = item.split_once('=').ok_or_else(|| format!("--faults: `{item}` is not NAME=RATE"))?;
            let fault = Fault::ALL.into_iter().find(|fault| fault.name() == name.trim()).ok_or_else(|| {
                let names: Vec<_> = Fault::ALL.iter().map(|fault| fault.name()).collect();
                format!("--faults: unknown fault `{}` (known: {})", name.trim(), names.join(", "))
            })?;
            let rate: f64 =
                rate.trim().parse().ok().filter(|rate: &f64| (0.0..=1.0).contains(rate)).ok_or_else(|| {
                    format!("--faults: the rate of {fault} must be a number from 0 to 1, not `{}`", rate.trim())
                })?;
            if std::mem::replace(&mut named[fault.index()], true) {
                return Err(format!("--faults: {fault} is named twice; give each fault once, with one rate"));
            }
            faults.rates[fault.index()] = rate;
        }
        Ok(faults)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The probability of `fault`.
    pub fn rate(&self, fault: Fault) -> f64 {
        self.rates[fault.index()]
    }

    /// Whether `fault` strikes the thing named by `identity`: true for a share `rate` of all
    /// identities, always the same answer for the same seed and identity.
    pub fn hits(&self, fault: Fault, identity: &[&str]) -> bool {
        let rate = self.rate(fault);
        rate > 0.0 && self.roll(fault.name(), identity) < rate
    }

    /// A number in [0, 1) derived from the seed, a purpose and an identity.
    pub fn roll(&self, purpose: &str, identity: &[&str]) -> f64 {
        (self.hash(purpose, identity) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// 64 bits derived from the seed, a purpose and an identity.
    pub fn hash(&self, purpose: &str, identity: &[&str]) -> u64 {
        let mut hasher = Sha256::new();
        hasher.update(self.seed.to_le_bytes());
        hasher.update(purpose.as_bytes());
        for part in identity {
            // A separator that no name contains keeps ("ab","c") apart from ("a","bc").
            hasher.update([0x1f]);
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault_and_refuses_bad_specs() {
        let spec = "throttle=0.1, error5xx=0.2,lost-response=0.3,interrupt=0.4,device-fail=0.5,slow=0.6,expire-url=1,churn=0.7,stall=0.8";
        let faults = Faults::parse(spec, 1).unwrap();
        let rates: Vec<f64> = Fault::ALL.iter().map(|fault| faults.rate(*fault)).collect();
        assert_eq!(rates, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0, 0.7, 0.8]);
        assert_eq!(Faults::parse("", 1).unwrap(), Faults::none(1));
        assert_eq!(
            Faults::parse("slowness=0.1", 1).unwrap_err(),
            "--faults: unknown fault `slowness` (known: throttle, error5xx, lost-response, interrupt, device-fail, slow, expire-url, churn, stall)"
        );
        assert_eq!(Faults::parse("slow", 1).unwrap_err(), "--faults: `slow` is not NAME=RATE");
        assert_eq!(
            Faults::parse("slow=-0.5", 1).unwrap_err(),
            "--faults: the rate of slow must be a number from 0 to 1, not `-0.5`"
        );
        assert!(Faults::parse("slow=NaN", 1).is_err());
    }

    #[test]
    fn decisions_follow_the_seed_and_the_rate() {
        let faults = Faults::parse("device-fail=0.25", 42).unwrap();
        let names: Vec<String> = (0..4000).map(|i| format!("dev-{i}")).collect();
        let hit = |faults: &Faults| -> Vec<bool> {
            names.iter().map(|name| faults.hits(Fault::DeviceFail, &["job", name])).collect()
        };
        let first = hit(&faults);
        assert_eq!(first, hit(&faults), "same seed, same decisions");
        let share = first.iter().filter(|hit| **hit).count() as f64 / names.len() as f64;
        assert!((0.22..0.28).contains(&share), "share {share} far from 0.25");
        let other = Faults::parse("device-fail=0.25", 43).unwrap();
        assert_ne!(first, hit(&other), "another seed, other decisions");
        assert!(!faults.hits(Fault::Slow, &["job"]), "rate 0 never strikes");
        assert!(Faults::parse("slow=1", 5).unwrap().hits(Fault::Slow, &["any"]), "rate 1 always strikes");
        assert_ne!(faults.hash("p", &["ab", "c"]), faults.hash("p", &["a", "bc"]));
    }
}
