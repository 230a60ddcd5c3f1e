//! Crash points for the tests, as fail-rs keeps its fail points: compiled only with the
//! `test-util` feature. With it, `DEVDIST_APPLY_CRASH_AT=<point>:<n>` ([`Crash::from_env`])
//! makes `apply` die the n-th time it reaches `<point>`, with no clean-up at all (`abort`: like
//! SIGKILL, no destructor runs and nothing is flushed). Without it (every release binary) the
//! variable is ignored and every check is an empty inline function.

use crate::error::Error;

macro_rules! points {
    ($($point:ident = $name:literal: $why:literal,)*) => {
        /// Every point where a test can crash apply, in the order a job meets them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum CrashPoint {
            $(#[doc = $why] $point,)*
        }

        impl CrashPoint {
            /// Every point, in the order a job meets them.
            pub const ALL: &[CrashPoint] = &[$(CrashPoint::$point),*];

            /// The point's name in `DEVDIST_APPLY_CRASH_AT`.
            pub fn name(self) -> &'static str {
                match self {
                    $(CrashPoint::$point => $name,)*
                }
            }
        }
    };
}

points! {
    ForeignListed = "foreign-listed": "The account's running jobs were counted at start.",
    BeforeIntent = "before-intent": "A job is about to be journalled.",
    TornIntent = "torn-intent": "Half an intent line is on disk (killed mid-journal write).",
    Intent = "intent": "The intent is on disk, the Create not yet sent.",
    CreateAnswered = "create-answered": "The platform answered the Create, the journal does not know yet.",
    TornCreated = "torn-created": "Half a `created` line is on disk.",
    Created = "created": "The platform job id is on disk.",
    ReconcileListed = "reconcile-listed": "A reconciliation listed the candidate jobs.",
    NotCreated = "not-created": "A reconciliation decided the job does not exist.",
    Polled = "polled": "A Query answered (mid-poll).",
    Detail = "detail": "The result file's URL is known, not yet downloaded.",
    Downloaded = "downloaded": "The result file is read, its outcomes not yet journalled.",
    Provisioning = "provisioning": "A device missing from the result file was checked.",
    TornFinished = "torn-finished": "Half a `finished` line is on disk.",
    Finished = "finished": "A job's outcomes are on disk.",
    Checkpoint = "checkpoint": "checkpoint.json is written beside its final name, not yet renamed.",
    Results = "results": "results.csv is written beside its final name, not yet renamed.",
}

/// Where to crash, and whether to abort the process or return [`Error::Crashed`] (in-process
/// tests). Without `test-util` it is empty and never crashes.
#[derive(Debug, Default)]
pub struct Crash {
    #[cfg(feature = "test-util")]
    at: Option<(CrashPoint, u32)>,
    #[cfg(feature = "test-util")]
    seen: std::cell::Cell<u32>,
    #[cfg(feature = "test-util")]
    abort: bool,
}

/// The crash test hook's variable.
pub const CRASH_AT: &str = "DEVDIST_APPLY_CRASH_AT";

impl Crash {
    /// No crash.
    pub fn never() -> Crash {
        Crash::default()
    }

    /// The crash `DEVDIST_APPLY_CRASH_AT` asks for, aborting the process; with `test-util` off
    /// the variable is not read.
    pub fn from_env() -> Result<Crash, Error> {
        #[cfg(feature = "test-util")]
        if let Ok(spec) = std::env::var(CRASH_AT) {
            return Crash::parse(&spec, true);
        }
        Ok(Crash::never())
    }

    /// Parses `<point>:<n>` (n ≥ 1). `abort` kills the process; otherwise the hook returns an
    /// error, which in-process tests use to stop a run at that instant.
    #[cfg(feature = "test-util")]
    pub fn parse(spec: &str, abort: bool) -> Result<Crash, Error> {
        let bad = || {
            let names: Vec<&str> = CrashPoint::ALL.iter().map(|p| p.name()).collect();
            Error::invocation(format!("{CRASH_AT}={spec:?}: expected <point>:<n>, point one of {}", names.join(", ")))
        };
        let (point, n) = spec.rsplit_once(':').ok_or_else(bad)?;
        let n: u32 = n.parse().map_err(|_| bad())?;
        let point = CrashPoint::ALL.iter().copied().find(|p| p.name() == point).ok_or_else(bad)?;
        if n == 0 {
            return Err(bad());
        }
        Ok(Crash { at: Some((point, n)), seen: std::cell::Cell::new(0), abort })
    }

    /// Whether this is the instant to crash at `point` (counts the visit).
    #[cfg(feature = "test-util")]
    pub(crate) fn due(&self, point: CrashPoint) -> bool {
        let Some((at, n)) = self.at else { return false };
        if at != point {
            return false;
        }
        self.seen.set(self.seen.get() + 1);
        self.seen.get() == n
    }

    /// Never due without `test-util`.
    #[cfg(not(feature = "test-util"))]
    #[inline(always)]
    pub(crate) fn due(&self, _: CrashPoint) -> bool {
        false
    }

    /// Crashes when `point` is due.
    #[inline(always)]
    pub(crate) fn check(&self, point: CrashPoint) -> Result<(), Error> {
        if self.due(point) { self.fire(point) } else { Ok(()) }
    }

    /// Crashes now.
    pub(crate) fn fire(&self, point: CrashPoint) -> Result<(), Error> {
        #[cfg(feature = "test-util")]
        if self.abort {
            std::process::abort();
        }
        Err(Error::Crashed(point.name().to_string()))
    }
}
