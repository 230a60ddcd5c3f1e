//! Where a device is now, in one place (docs/inputs.md §1.4): a device is *in* its
//! `current_instance` (billed to `current_uid`, default the account) when that is set, else in
//! its `source_instance`, the product's home. A job leaves from where its devices are now
//! (its `SourceInstanceId`); targeting home while the device is elsewhere is a return, which
//! takes no quota at home and grants no product there; a device now in another account's
//! instance can only be moved in the console. A live finding about the platform changes
//! this module alone.

use crate::dictionary::Dictionaries;
use crate::plan::Plan;
use crate::plan::catalog::InstanceId;
use crate::record::AT_SOURCE;

/// Where a device is now: the instance and the account billed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location<'a> {
    /// The account billed for the device now.
    pub uid: &'a str,
    /// The instance the device is in now: a job's `SourceInstanceId`.
    pub instance: &'a str,
}

impl<'a> Location<'a> {
    /// The location of a device of home `source` whose billing is `billed` (an id of the
    /// billed dictionary, or [`AT_SOURCE`]).
    pub(crate) fn of(plan: &'a Plan, interned: &'a Dictionaries, billed: u32, source: InstanceId) -> Location<'a> {
        match billed {
            AT_SOURCE => Location { uid: &plan.account, instance: &plan.catalog.get(source).id },
            id => {
                let billed = &interned.billed_table()[id as usize];
                Location { uid: &billed.uid, instance: &billed.instance }
            }
        }
    }

    /// Whether only the console can move the device: it is in another account's instance.
    pub(crate) fn foreign(&self, plan: &Plan) -> bool {
        self.uid != plan.account
    }
}

/// Whether a device of home `source`, billed as `billed`, goes back home when sent to
/// `target`: it is away, and `target` is its home.
pub(crate) fn returns_home(billed: u32, source: InstanceId, target: InstanceId) -> bool {
    billed != AT_SOURCE && target == source
}
