//! The crash test hook: `DEVDIST_APPLY_CRASH_AT=<point>:<n>` makes `apply` die the n-th time it
//! reaches `<point>`, with no clean-up at all (`abort`: like SIGKILL, no destructor runs and
//! nothing is flushed). It is how the tests kill apply at exact instants; it is harmless in
//! production, where the variable is not set. The points are listed in [`POINTS`].

use std::cell::Cell;

use crate::error::Error;

/// Every point where the hook can fire, in the order a job meets them.
pub const POINTS: [&str; 16] = [
    "foreign-listed",   // the account's running jobs were counted at start
    "before-intent",    // a job is about to be journalled
    "torn-intent",      // half an intent line is on disk (killed mid-journal write)
    "intent",           // the intent is on disk, the Create not yet sent
    "create-answered",  // the platform answered the Create, the journal does not know yet
    "torn-created",     // half a `created` line is on disk
    "created",          // the platform job id is on disk
    "reconcile-listed", // a reconciliation listed the candidate jobs
    "not-created",      // a reconciliation decided the job does not exist
    "polled",           // a Query answered (mid-poll)
    "detail",           // the result file's URL is known, not yet downloaded
    "downloaded",       // the result file is read, its outcomes not yet journalled (mid-download)
    "provisioning",     // a device missing from the result file was checked
    "torn-finished",    // half a `finished` line is on disk
    "finished",         // a job's outcomes are on disk
    "results",          // results.csv is written beside its final name, not yet renamed
];

/// Where to crash, and whether to abort the process or return [`Error::Crashed`] (in-process
/// tests).
#[derive(Debug, Default)]
pub struct Crash {
    at: Option<(String, u32)>,
    seen: Cell<u32>,
    abort: bool,
}

impl Crash {
    /// No crash.
    pub fn never() -> Crash {
        Crash::default()
    }

    /// Parses `<point>:<n>` (n ≥ 1). `abort` kills the process; otherwise the hook returns an
    /// error, which in-process tests use to stop a run at that instant.
    pub fn parse(spec: &str, abort: bool) -> Result<Crash, Error> {
        let bad = || {
            Error::invocation(format!(
                "DEVDIST_APPLY_CRASH_AT={spec:?}: expected <point>:<n>, point one of {}",
                POINTS.join(", ")
            ))
        };
        let (point, n) = spec.rsplit_once(':').ok_or_else(bad)?;
        let n: u32 = n.parse().map_err(|_| bad())?;
        if !POINTS.contains(&point) || n == 0 {
            return Err(bad());
        }
        Ok(Crash { at: Some((point.to_string(), n)), seen: Cell::new(0), abort })
    }

    /// Whether this is the instant to crash at `point` (counts the visit).
    pub(crate) fn due(&self, point: &str) -> bool {
        let Some((at, n)) = &self.at else { return false };
        if at != point {
            return false;
        }
        self.seen.set(self.seen.get() + 1);
        self.seen.get() == *n
    }

    /// Crashes when `point` is due.
    pub(crate) fn check(&self, point: &str) -> Result<(), Error> {
        if self.due(point) { self.fire(point) } else { Ok(()) }
    }

    /// Crashes now.
    pub(crate) fn fire(&self, point: &str) -> Result<(), Error> {
        if self.abort {
            std::process::abort();
        }
        Err(Error::Crashed(point.to_string()))
    }
}
