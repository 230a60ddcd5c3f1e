//! `devdist validate`: the dry run.

use clap::Args;

use super::RunArgs;

#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    #[command(flatten)]
    run: RunArgs,
}

pub(super) fn run(args: ValidateArgs) -> anyhow::Result<u8> {
    let mut options = args.run.options();
    options.dry_run = true;
    super::run_plan(&args.run, options, "validate")
}
