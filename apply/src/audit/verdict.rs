//! One device's verdict: where DIR planned it against where the platform says it is.
//!
//! The location model is PLATFORM-API.md §7.1 (docs/wire.md §9.7): a device's distribution
//! record names where its last distribution left from (`source`) and where it went (where it
//! is now). What the platform shows after a return is not published, so both readings are
//! accepted:
//!
//! - *overwritten*: a device sent A → B and returned B → A shows the record `B → A`; it is at
//!   home A with a record that left from elsewhere: `returned`.
//! - *cleared*: the return clears the record, as if it was never distributed; the device shows
//!   at home with no record. When DIR planned it to leave from somewhere else than home (DIR is
//!   a second hop, or a return planned from B), being home is `returned`; when DIR planned it to
//!   leave from home, nothing tells a return from a device that never moved: `not_placed`, with
//!   a note saying so (audit the return folder to see it `placed` there).

use devdist_folder::Outcome;
use devdist_folder::audited::{Disagreement, Verdict};

/// Where DIR planned a device to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expected<'a> {
    /// Its home instance (`source_instance`).
    pub(crate) home: &'a str,
    /// Where it was when DIR was planned (`from_instance`, the job's SourceInstanceId).
    pub(crate) from: &'a str,
    /// The target, or every candidate of a nearest-access device.
    pub(crate) targets: &'a [String],
}

/// Where the platform says a device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observed<'a> {
    /// The platform does not know the device (QueryDeviceProvisioning: `NotExistedDevice`).
    Unknown,
    /// A distribution record: the device is at `instance`, its last distribution left from
    /// `source`.
    Record { instance: &'a str, source: &'a str },
    /// No distribution record (QueryDeviceProvisioning shows `Source = Target`): the device is
    /// where it always was, at `instance`.
    NoRecord { instance: &'a str },
}

/// The verdict of one device and how it was read (empty when plain).
pub(crate) fn judge(expected: &Expected, observed: &Observed) -> (Verdict, String) {
    let (instance, recorded_from) = match *observed {
        Observed::Unknown => return (Verdict::Elsewhere, "the platform does not know this device".to_string()),
        Observed::Record { instance, source } => (instance, Some(source)),
        Observed::NoRecord { instance } => (instance, None),
    };
    if expected.targets.iter().any(|t| t == instance) {
        let note =
            if expected.targets.len() > 1 { format!("nearest access: at candidate {instance}") } else { String::new() };
        return (Verdict::Placed, note);
    }
    if instance == expected.home {
        match recorded_from {
            Some(source) if source != expected.home => {
                return (
                    Verdict::Returned,
                    format!("its last distribution came home from {source} (record overwritten)"),
                );
            }
            None if expected.from != expected.home => {
                return (
                    Verdict::Returned,
                    format!(
                        "home with no distribution record, planned to leave from {} (record cleared)",
                        expected.from
                    ),
                );
            }
            _ => {}
        }
    }
    if instance == expected.from {
        let note = match recorded_from {
            None if expected.from == expected.home => {
                "no distribution record: never moved, or returned with its record cleared".to_string()
            }
            _ => String::new(),
        };
        return (Verdict::NotPlaced, note);
    }
    (Verdict::Elsewhere, format!("at {instance}: neither a planned target nor where it was planned from"))
}

/// How audit's verdict disagrees with apply's outcome, if it does.
pub(crate) fn disagreement(apply: Option<Outcome>, verdict: Verdict) -> Option<Disagreement> {
    match (apply?, verdict) {
        (Outcome::Distributed, Verdict::NotPlaced | Verdict::Elsewhere) => Some(Disagreement::AppliedNotPlaced),
        (Outcome::Failed | Outcome::Unknown, Verdict::Placed) => Some(Disagreement::PlacedNotApplied),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn every_verdict_of_a_first_hop() {
        let b = targets(&["iot-b"]);
        let first = Expected { home: "iot-a", from: "iot-a", targets: &b };
        let at = |instance, source| judge(&first, &Observed::Record { instance, source });
        assert_eq!(at("iot-b", "iot-a"), (Verdict::Placed, String::new()));
        assert_eq!(at("iot-c", "iot-a").0, Verdict::Elsewhere);
        assert!(at("iot-c", "iot-a").1.contains("at iot-c"));
        // Overwritten reading of a return: the record is the return B → A.
        let (verdict, note) = at("iot-a", "iot-b");
        assert_eq!(verdict, Verdict::Returned);
        assert!(note.contains("came home from iot-b"), "{note}");
        // Never moved: no record, at home.
        let (verdict, note) = judge(&first, &Observed::NoRecord { instance: "iot-a" });
        assert_eq!(verdict, Verdict::NotPlaced);
        assert!(note.contains("never moved"), "{note}");
        assert_eq!(judge(&first, &Observed::Unknown).0, Verdict::Elsewhere);
    }

    #[test]
    fn both_readings_of_a_return_of_a_second_hop() {
        // Seeded in B (from B), planned B → C; returned home A afterwards.
        let c = targets(&["iot-c"]);
        let hop = Expected { home: "iot-a", from: "iot-b", targets: &c };
        assert_eq!(judge(&hop, &Observed::Record { instance: "iot-a", source: "iot-c" }).0, Verdict::Returned);
        let (verdict, note) = judge(&hop, &Observed::NoRecord { instance: "iot-a" });
        assert_eq!(verdict, Verdict::Returned);
        assert!(note.contains("record cleared"), "{note}");
        // Still in B: its record is the seeding A → B.
        assert_eq!(judge(&hop, &Observed::Record { instance: "iot-b", source: "iot-a" }).0, Verdict::NotPlaced);
    }

    #[test]
    fn a_return_plan_is_placed_at_home() {
        let home = targets(&["iot-a"]);
        let back = Expected { home: "iot-a", from: "iot-b", targets: &home };
        assert_eq!(judge(&back, &Observed::Record { instance: "iot-a", source: "iot-b" }).0, Verdict::Placed);
        assert_eq!(judge(&back, &Observed::NoRecord { instance: "iot-a" }).0, Verdict::Placed);
        assert_eq!(judge(&back, &Observed::Record { instance: "iot-b", source: "iot-a" }).0, Verdict::NotPlaced);
    }

    #[test]
    fn nearest_access_says_which_candidate() {
        let candidates = targets(&["iot-b", "iot-c"]);
        let nearest = Expected { home: "iot-a", from: "iot-a", targets: &candidates };
        let (verdict, note) = judge(&nearest, &Observed::Record { instance: "iot-c", source: "iot-a" });
        assert_eq!(verdict, Verdict::Placed);
        assert_eq!(note, "nearest access: at candidate iot-c");
        assert_eq!(judge(&nearest, &Observed::Record { instance: "iot-d", source: "iot-a" }).0, Verdict::Elsewhere);
    }

    #[test]
    fn disagreements_with_apply() {
        use Outcome::*;
        assert_eq!(disagreement(Some(Distributed), Verdict::NotPlaced), Some(Disagreement::AppliedNotPlaced));
        assert_eq!(disagreement(Some(Distributed), Verdict::Elsewhere), Some(Disagreement::AppliedNotPlaced));
        assert_eq!(disagreement(Some(Distributed), Verdict::Returned), None, "it went, then came back");
        assert_eq!(disagreement(Some(Distributed), Verdict::Placed), None);
        assert_eq!(disagreement(Some(Failed), Verdict::Placed), Some(Disagreement::PlacedNotApplied));
        assert_eq!(disagreement(Some(Unknown), Verdict::Placed), Some(Disagreement::PlacedNotApplied));
        assert_eq!(disagreement(Some(Failed), Verdict::NotPlaced), None);
        assert_eq!(disagreement(Some(Console), Verdict::Placed), None, "the console may have done it");
        assert_eq!(disagreement(None, Verdict::NotPlaced), None, "no apply to disagree with");
    }
}
