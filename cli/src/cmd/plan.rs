//! `devdist plan`.

use clap::Args;
use devdist_formats::Format;

use super::RunArgs;

#[derive(Debug, Args)]
pub(super) struct PlanArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Format of device manifests, product grants and billing reassignments.
    #[arg(long, default_value = "csv", value_parser = formats())]
    format: Format,
    /// Leave the device_secret column out of device manifests.
    #[arg(long)]
    redact_secrets: bool,
}

pub(super) fn run(args: PlanArgs) -> anyhow::Result<u8> {
    let mut options = args.run.options();
    options.format = args.format;
    options.redact_secrets = args.redact_secrets;
    super::run_plan(&args.run, options, "plan")
}

/// Every output format `--format` takes, listed in `--help`.
fn formats() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["csv", "jsonl", "parquet"])
        .map(|name| name.parse::<Format>().expect("every listed format parses"))
}
