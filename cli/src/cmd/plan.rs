//! `devdist plan`.

use clap::Args;
use devdist_formats::Format;

use super::RunArgs;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Format of device manifests, product grants and billing reassignments (csv or jsonl).
    #[arg(long, default_value = "csv")]
    format: Format,
    /// Leave the device_secret column out of device manifests.
    #[arg(long)]
    redact_secrets: bool,
}

pub fn run(args: PlanArgs) -> anyhow::Result<u8> {
    let mut options = args.run.options();
    options.format = args.format;
    options.redact_secrets = args.redact_secrets;
    super::run_plan(&args.run, options, "plan")
}
