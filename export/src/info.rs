//! export.json: what an export read, what it could not, and the file it wrote. It holds no
//! secret: names, counts, codes and the file's checksum.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The file export.json (`FILE.export.json` beside `FILE`), the one type of that contract.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportInfo {
    /// The file written (its name, as given).
    pub file: String,
    /// `csv` or `parquet`.
    pub format: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// Data rows of the file.
    pub rows: u64,
    /// The endpoint read.
    pub endpoint: String,
    /// The instances whose products were listed.
    pub instances: Vec<String>,
    /// `--product`, when given.
    pub only_products: Vec<String>,
    /// Every product swept, in product key order.
    pub products: Vec<ProductSummary>,
    /// Products not swept, and why (an AuthType without a DeviceSecret, a key not valid).
    pub flagged: Vec<Flagged>,
    /// Calls that failed after the client's retries, and devices that could not be written.
    pub unread: Vec<Problem>,
    /// Calls per API of the run that finished the export (a resumed export's earlier runs are
    /// not counted).
    pub calls: BTreeMap<String, Calls>,
    /// Seconds of the run that finished the export.
    pub seconds: f64,
}

impl ExportInfo {
    /// Whether everything listed was read and written: no problem, no flagged product, every
    /// product consistent.
    pub fn is_complete(&self) -> bool {
        self.unread.is_empty() && self.flagged.is_empty() && self.products.iter().all(|p| p.consistent)
    }
}

/// One product as the export read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSummary {
    /// ProductKey.
    pub product_key: String,
    /// The instances (among `--instance`) that list it.
    pub instances: Vec<String>,
    /// Whether a gateway product (NodeType 1): its topology was read.
    pub gateway: bool,
    /// `DeviceCount` summed over those instances when the products were listed.
    pub device_count: u64,
    /// Rows written.
    pub devices: u64,
    /// Sweeps made (more than 1 when its counts changed while it was read).
    pub sweeps: u32,
    /// Whether the last sweep's counts held: `Total` the same at start and end, and as many
    /// devices found as `Total` says, in every instance.
    pub consistent: bool,
    /// When not consistent: what differs between the last two sweeps.
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub changes: Changes,
}

/// Devices that appeared or went between two sweeps of a product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// `Total` per instance at the start and end of the last sweep.
    pub totals: BTreeMap<String, [u64; 2]>,
    /// Each listing (`API instance`) whose pages showed more than one `Total` in the last
    /// sweep: the totals seen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pages: BTreeMap<String, Vec<u64>>,
    /// Names listed in the last sweep and not in the one before: created meanwhile, or hidden
    /// from the sweep before by pages that shifted.
    pub created: Vec<String>,
    /// Names listed in the sweep before and not in the last: deleted meanwhile, or hidden from
    /// the last sweep by pages that shifted (then not in the file).
    pub deleted: Vec<String>,
}

impl Changes {
    /// Nothing to say.
    pub fn is_empty(&self) -> bool {
        self.totals.is_empty() && self.pages.is_empty() && self.created.is_empty() && self.deleted.is_empty()
    }
}

/// A product not swept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flagged {
    /// ProductKey, as the platform wrote it.
    pub product_key: String,
    /// Its AuthType.
    pub auth_type: String,
    /// Why it was not read, in words.
    pub reason: String,
}

/// Something that could not be read or written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// ProductKey.
    pub product_key: String,
    /// The device, when the problem is one device's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_name: String,
    /// The instance asked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance: String,
    /// The API that failed, or `export` for a device the export would not write.
    pub api: String,
    /// The page (or batch, or gateway) of the call, from 1; 0 when none.
    pub page: u64,
    /// The platform's code, or the export's own (`export.NoSecret`, `export.HomeUnknown`, …).
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// Calls of one API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    /// Requests sent, retries included.
    pub calls: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Answers that said `Throttling*`.
    pub throttled: u64,
}
