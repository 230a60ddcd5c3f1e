//! PLACEHOLDER until the generator lands (helper-2 owns this file and replaces it whole).
use std::path::{Path, PathBuf};
/// Options of `devdist generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Records.
    pub devices: u64,
    /// Seed.
    pub seed: u64,
    /// Bad share.
    pub bad_rate: f64,
    /// Signed share.
    pub signed_rate: f64,
}
/// What was written.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Plan.
    pub plan: PathBuf,
    /// Inventory.
    pub inventory: PathBuf,
    /// Catalog.
    pub instances: PathBuf,
    /// Records.
    pub records: u64,
    /// Bytes.
    pub bytes: u64,
}
/// Not yet written.
pub fn generate(_options: &GenerateOptions, _dir: &Path) -> Result<Generated, crate::Error> {
    Err(crate::Error::invocation("generate: not built yet"))
}
