//! `devdist export --instance ID… --out FILE`: the inventory read from the platform itself
//! (docs/export.md). Exit codes: 0 everything read; 1 read, with problems or flagged products
//! listed in FILE.export.json; 2 invocation; 3 credentials refused or an instance unreadable;
//! 4 output; 130 interrupted (run the same command again to continue).

use std::path::PathBuf;

use clap::Args;
use devdist_export::{Estimate, Options, Progress, Snapshot};
use devdist_formats::shown;
use indicatif::ProgressBar;

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    /// An instance whose products are read; repeat for more (e.g. every instance of the catalog).
    #[arg(long = "instance", value_name = "ID", required = true)]
    instances: Vec<String>,
    /// The file to write, .csv or .parquet (mode 0600: it holds device secrets). Its journal
    /// folder is FILE.export while it runs; FILE.export.json says what was read.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Only these products; repeat for more.
    #[arg(long = "product", value_name = "PK")]
    products: Vec<String>,
    /// Replace FILE when an earlier `devdist export` wrote it.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    platform: super::PlatformArgs,
    /// The longest one call may take (connect, send, answer) before it is cut off and tried
    /// again, in seconds: raise it on a slow link, lower it to give up sooner on a stalled one.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    call_timeout: f64,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

pub(super) fn run(args: ExportArgs) -> anyhow::Result<u8> {
    let call_timeout = std::time::Duration::try_from_secs_f64(args.call_timeout)
        .ok()
        .filter(|timeout| !timeout.is_zero())
        .ok_or_else(|| {
            devdist_apply::Error::invocation(format!(
                "--call-timeout must be more than 0 seconds, not {}",
                args.call_timeout
            ))
        })?;
    let client = args.platform.client_with(|config| config.call_timeout = call_timeout)?;
    let options = Options {
        products: args.products.clone(),
        force: args.force,
        ..Options::new(args.instances.clone(), args.out.clone())
    };
    let bar = Bar::new(args.quiet);
    let exported = devdist_export::export(&client, &options, &bar);
    bar.finish();
    let exported = exported?;
    let info = &exported.info;
    for flagged in &info.flagged {
        say!(
            "devdist: warning: product {} not exported: {}",
            shown(&flagged.product_key),
            crate::terminal_text(&flagged.reason)
        );
    }
    if !args.quiet {
        say!("export {}", shown(&exported.out));
        say!("  {:<22} {:>10}", "products", info.products.len());
        say!("  {:<22} {:>10}", "devices written", info.rows);
        say!("  {:<22} {:>10}", "products flagged", info.flagged.len());
        say!("  {:<22} {:>10}", "problems", info.unread.len());
        let changed = info.products.iter().filter(|p| !p.consistent).count();
        say!("  {:<22} {:>10}", "products that changed", changed);
        say!("  sha256 {}", info.sha256);
        say!("  what was read, calls per API, problems: {}", shown(&exported.info_path));
    }
    Ok(exported.exit_code())
}

/// Devices read of devices expected, on stderr when it is a terminal; notes always.
struct Bar {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Bar {
    fn new(quiet: bool) -> Bar {
        let bar = crate::progress::counter(
            quiet,
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} devices {msg} ETA {eta}",
        );
        Bar { bar, quiet }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| say!("devdist: {line}")),
            None => say!("devdist: {line}"),
        }
    }
}

impl Progress for Bar {
    fn note(&self, line: &str) {
        if !self.quiet {
            self.say(line);
        }
    }

    fn estimate(&self, estimate: &Estimate) {
        if self.quiet {
            return;
        }
        let seconds = estimate.least_seconds.ceil() as u64;
        self.say(&format!(
            "{} products, ~{} devices (DeviceCount), {} flagged; least time at the real limits: {}h {:02}m {:02}s \
             (QueryDevice 50 pages a second, 2 a second past 100,000 rows of a product)",
            estimate.products,
            estimate.devices,
            estimate.flagged,
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        ));
    }

    fn update(&self, snapshot: &Snapshot) {
        let Some(bar) = &self.bar else { return };
        bar.set_length(snapshot.devices_expected.max(snapshot.devices_read));
        bar.set_position(snapshot.devices_read);
        bar.set_message(format!("(products {}/{})", snapshot.products_done, snapshot.products));
    }
}
