//! What `devdist audit` writes into `DIR/audit/`: a device's [`Verdict`], a row of
//! `audit.csv` ([`AuditRow`]) and `summary.json` ([`AuditSummary`]). audit asks the platform
//! where each device of DIR is now; `verify`, `redrive` and `return` read these back typed.

use serde::{Deserialize, Serialize};

/// The folder inside a plan folder that audit writes, relative to it.
pub const AUDIT_DIR: &str = "audit";

/// Where the platform says a device is, against where DIR planned it to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At the planned target (for a nearest-access device: at one of its candidates).
    Placed,
    /// Still where it was when DIR was planned: it never moved.
    NotPlaced,
    /// Home again after it went away: the platform's record shows a return.
    Returned,
    /// Anywhere else, or unknown to the platform.
    Elsewhere,
}

impl Verdict {
    /// Every verdict, in the order summary.json and the page list them.
    pub const ALL: [Verdict; 4] = [Verdict::Placed, Verdict::NotPlaced, Verdict::Returned, Verdict::Elsewhere];

    /// The word in audit.csv and summary.json.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Placed => "placed",
            Verdict::NotPlaced => "not_placed",
            Verdict::Returned => "returned",
            Verdict::Elsewhere => "elsewhere",
        }
    }

    /// The verdict of its [`name`](Self::name).
    pub fn of_name(name: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// Which call told audit where a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// A ListDistributedDevice sweep listed the device's last distribution.
    Sweep,
    /// QueryDeviceProvisioning, for a device no sweep listed.
    Provisioning,
}

impl Settled {
    /// The word in audit.csv.
    pub fn name(self) -> &'static str {
        match self {
            Settled::Sweep => "sweep",
            Settled::Provisioning => "provisioning",
        }
    }
}

/// Where audit and apply's results disagree about a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disagreement {
    /// apply says distributed; the platform shows it not placed or elsewhere.
    AppliedNotPlaced,
    /// apply says failed or unknown; the platform shows it placed.
    PlacedNotApplied,
}

impl Disagreement {
    /// Both kinds, in the order summary.json lists them.
    pub const ALL: [Disagreement; 2] = [Disagreement::AppliedNotPlaced, Disagreement::PlacedNotApplied];

    /// The word in audit.csv and summary.json.
    pub fn name(self) -> &'static str {
        match self {
            Disagreement::AppliedNotPlaced => "applied_not_placed",
            Disagreement::PlacedNotApplied => "placed_not_applied",
        }
    }

    /// The kind of its [`name`](Self::name).
    pub fn of_name(name: &str) -> Option<Disagreement> {
        Disagreement::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// One row of `audit/audit.csv`: one device of DIR's manifests. Every text cell is written
/// through `safe_cell`; empty means none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AuditRow {
    /// ProductKey.
    pub product_key: String,
    /// DeviceName.
    pub device_name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Where DIR planned it to go: its target instance, or every candidate `;`-joined.
    pub expected_target: String,
    /// Where it was when DIR was planned (the job's SourceInstanceId).
    pub expected_from: String,
    /// Its home instance.
    pub home_instance: String,
    /// Where the platform says it is now (empty when the platform does not know it).
    pub observed_instance: String,
    /// Where its last distribution left from (empty when the platform shows none).
    pub observed_source: String,
    /// The account the platform says holds it.
    pub observed_uid: String,
    /// When its last distribution ended, UTC (empty when it shows none).
    pub observed_at: String,
    /// Which call settled it.
    pub settled_by: Settled,
    /// How the verdict was read (the candidate a nearest-access device is at, a cleared record…).
    pub note: String,
    /// apply's outcome in `apply/results.csv` (empty when DIR has no apply, or no row).
    pub apply_outcome: String,
    /// How audit disagrees with apply (empty when it does not).
    pub disagreement: String,
}

impl AuditRow {
    /// audit.csv's header, in column order.
    pub const COLUMNS: [&'static str; 14] = [
        "product_key",
        "device_name",
        "verdict",
        "expected_target",
        "expected_from",
        "home_instance",
        "observed_instance",
        "observed_source",
        "observed_uid",
        "observed_at",
        "settled_by",
        "note",
        "apply_outcome",
        "disagreement",
    ];

    /// The row's cells, in [`COLUMNS`](Self::COLUMNS) order.
    pub fn cells(&self) -> [&str; 14] {
        [
            &self.product_key,
            &self.device_name,
            self.verdict.name(),
            &self.expected_target,
            &self.expected_from,
            &self.home_instance,
            &self.observed_instance,
            &self.observed_source,
            &self.observed_uid,
            &self.observed_at,
            self.settled_by.name(),
            &self.note,
            &self.apply_outcome,
            &self.disagreement,
        ]
    }
}

/// `audit/summary.json`: an audit's figures, from which its page is drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSummary {
    /// When the audit started, UTC.
    pub audited_at: String,
    /// The endpoint it asked (no credentials).
    pub endpoint: String,
    /// Devices in DIR's manifests (each once).
    pub devices: u64,
    /// Devices per verdict; they add up to `devices`.
    pub verdicts: VerdictCounts,
    /// Devices settled by a sweep, and by QueryDeviceProvisioning.
    pub settled: SettledCounts,
    /// Whether DIR had apply results to compare with.
    pub applied: bool,
    /// The SHA-256 of `apply/results.csv` when audit read it (empty without one): `redrive`
    /// and `return` take audit's verdicts only while apply's results are still these.
    pub apply_results_sha256: String,
    /// Devices per kind of disagreement with apply.
    pub disagreements: DisagreementCounts,
    /// The first devices of each disagreement (at most [`FIRST_SHOWN`] per kind), then the
    /// first not placed, returned and elsewhere: what the page lists.
    pub first: Vec<AuditRow>,
    /// Calls per API, retries included.
    pub calls: Vec<ApiCount>,
    /// DIR's products as ListDistributedProduct shows them.
    pub products: Vec<ProductAudit>,
    /// audit's files besides this one, with their SHA-256 and data rows.
    pub files: Vec<AuditFile>,
}

/// How many devices of each kind summary.json keeps as examples.
pub const FIRST_SHOWN: usize = 20;

/// Devices per verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    /// Placed.
    pub placed: u64,
    /// Not placed.
    pub not_placed: u64,
    /// Returned.
    pub returned: u64,
    /// Elsewhere.
    pub elsewhere: u64,
}

impl VerdictCounts {
    /// Counts one device.
    pub fn count(&mut self, verdict: Verdict) {
        *match verdict {
            Verdict::Placed => &mut self.placed,
            Verdict::NotPlaced => &mut self.not_placed,
            Verdict::Returned => &mut self.returned,
            Verdict::Elsewhere => &mut self.elsewhere,
        } += 1;
    }

    /// Devices with a verdict.
    pub fn total(&self) -> u64 {
        self.placed + self.not_placed + self.returned + self.elsewhere
    }
}

/// Devices per call that settled them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledCounts {
    /// By a ListDistributedDevice sweep.
    pub sweep: u64,
    /// By QueryDeviceProvisioning.
    pub provisioning: u64,
}

/// Devices per kind of disagreement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisagreementCounts {
    /// apply said distributed; not placed or elsewhere.
    pub applied_not_placed: u64,
    /// apply said failed or unknown; placed.
    pub placed_not_applied: u64,
}

impl DisagreementCounts {
    /// Counts one device.
    pub fn count(&mut self, kind: Disagreement) {
        *match kind {
            Disagreement::AppliedNotPlaced => &mut self.applied_not_placed,
            Disagreement::PlacedNotApplied => &mut self.placed_not_applied,
        } += 1;
    }

    /// Devices in any disagreement.
    pub fn total(&self) -> u64 {
        self.applied_not_placed + self.placed_not_applied
    }
}

/// Calls audit made to one API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCount {
    /// The API's name.
    pub api: String,
    /// Requests sent, retries included.
    pub calls: u64,
    /// Of those, retries.
    pub retries: u64,
}

/// One (product, source, target) of DIR's plan, and what ListDistributedProduct says of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductAudit {
    /// ProductKey.
    pub product_key: String,
    /// Where its devices left from.
    pub source_instance: String,
    /// Where they went.
    pub target_instance: String,
    /// Whether ListDistributedProduct lists this (product, source, target).
    pub listed: bool,
    /// DIR's devices of the product placed at that target.
    pub devices_placed: u64,
}

/// One file of `DIR/audit/` with its checksum and data rows (`verify` checks both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFile {
    /// The path relative to DIR.
    pub path: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Data rows (0 for a page).
    pub rows: u64,
}
