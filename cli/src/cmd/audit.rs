//! `devdist audit DIR…`: where the platform says every device of each DIR is now
//! (`DIR/audit/`, docs/plan-folder.md §14).

use std::path::PathBuf;

use clap::Args;
use devdist_apply::{AuditProgress, Audited};
use devdist_folder::AuditSummary;
use indicatif::ProgressBar;

#[derive(Debug, Args)]
pub(super) struct AuditArgs {
    /// Plan folders (`devdist plan`, `redrive` or `return`), each audited by itself into its
    /// own DIR/audit/.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    #[command(flatten)]
    platform: super::PlatformArgs,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

/// A bar of devices located, on stderr when it is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(quiet: bool) -> Bar {
        Bar(crate::progress::counter(
            quiet,
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} devices located ETA {eta}",
        ))
    }
}

impl AuditProgress for Bar {
    fn settled(&self, settled: u64, devices: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(devices);
            bar.set_position(settled);
        }
    }
}

/// Exit 0 when every device of every DIR is placed and agrees with apply; 1 otherwise.
/// Errors: 2 invocation, 3 a folder that does not verify or a platform that refuses the reads,
/// 4 audit/ could not be written.
pub(super) fn run(args: AuditArgs) -> anyhow::Result<u8> {
    let client = args.platform.client()?;
    let mut code = 0;
    for dir in &args.dirs {
        let bar = Bar::new(args.quiet);
        let audited = devdist_apply::audit(dir, &client, &bar);
        if let Some(bar) = &bar.0 {
            bar.finish_and_clear();
        }
        let audited = audited?;
        loud(dir, &audited.summary);
        if !args.quiet {
            summary(dir, &audited);
        }
        if !audited.all_placed() {
            code = 1;
        }
    }
    Ok(code)
}

/// The disagreements with apply, always said (even with --quiet): they are the point of audit.
fn loud(dir: &std::path::Path, summary: &AuditSummary) {
    let d = &summary.disagreements;
    if d.total() == 0 {
        return;
    }
    say!(
        "devdist: WARNING: the platform disagrees with apply's results for {} devices of {}: {} apply recorded \
         distributed are not at their target, {} apply recorded failed or unknown are placed (audit/audit.csv, \
         column disagreement)",
        d.total(),
        devdist_formats::shown(dir),
        d.applied_not_placed,
        d.placed_not_applied
    );
    for row in summary.first.iter().filter(|row| !row.disagreement.is_empty()).take(5) {
        say!(
            "  {}/{}: apply {}, platform {} at {}",
            devdist_formats::shown(&row.product_key),
            devdist_formats::shown(&row.device_name),
            row.apply_outcome,
            row.verdict.name(),
            if row.observed_instance.is_empty() {
                "(unknown)".to_string()
            } else {
                devdist_formats::shown(&row.observed_instance)
            }
        );
    }
}

fn summary(dir: &std::path::Path, audited: &Audited) {
    let s = &audited.summary;
    let v = &s.verdicts;
    say!(
        "audit {}: {} devices = {} placed + {} not placed + {} returned + {} elsewhere; {} by sweep, {} by \
         QueryDeviceProvisioning; {} disagree with apply; written to {0}/audit/",
        devdist_formats::shown(dir),
        s.devices,
        v.placed,
        v.not_placed,
        v.returned,
        v.elsewhere,
        s.settled.sweep,
        s.settled.provisioning,
        s.disagreements.total()
    );
}
