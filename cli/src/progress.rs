//! The progress bar: records, MB/s and ETA on stderr when it is a terminal. Updated once per
//! batch by the engine.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

pub(crate) struct Bar {
    bar: Option<ProgressBar>,
    records: AtomicU64,
}

impl Bar {
    /// A bar sized by the inventories of `plan` (when it can be read), or none.
    pub(crate) fn new(plan: &Path, quiet: bool) -> Bar {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar { bar: None, records: AtomicU64::new(0) };
        }
        let total = devdist_engine::Plan::load(plan)
            .map(|plan| plan.inputs.iter().filter_map(|i| std::fs::metadata(&i.path).ok()).map(|m| m.len()).sum())
            .unwrap_or(0);
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {msg} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("the template is valid");
        bar.set_style(style);
        Bar { bar: Some(bar), records: AtomicU64::new(0) }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl devdist_engine::Progress for Bar {
    fn advance(&self, records: u64, bytes: u64) {
        let Some(bar) = &self.bar else { return };
        let total = self.records.fetch_add(records, Ordering::Relaxed) + records;
        bar.inc(bytes);
        bar.set_message(format!("{total} records"));
    }
}

/// A bar of `{pos}/{len}` things counted by `template`, on stderr when it is a terminal and not
/// `quiet` (`apply`'s jobs, `audit`'s and `export`'s devices).
pub(crate) fn counter(quiet: bool, template: &str) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(template).expect("the template is valid"));
    Some(bar)
}
