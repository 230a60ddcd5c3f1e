//! `devdist return DIR… --out NEW`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub(super) struct ReturnArgs {
    /// Plan folders `devdist apply` has run on: a plan, then its redrives (a device distributed
    /// in any of them is sent home).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Only devices of these products (repeat the flag for more).
    #[arg(long = "product", value_name = "PK")]
    products: Vec<String>,
    /// Only devices now in these instances (repeat the flag for more).
    #[arg(long = "target", value_name = "INSTANCE")]
    targets: Vec<String>,
    #[command(flatten)]
    to: super::DerivedOut,
}

/// Derives the return plan's inputs in a private folder beside NEW (they hold device secrets
/// and are removed on every exit), then plans them into NEW like `devdist plan`.
pub(super) fn run(args: ReturnArgs) -> anyhow::Result<u8> {
    let inputs = super::inputs_beside(&args.to.out, &args.dirs, ".devdist-return-")?;
    let filter = devdist_apply::ReturnFilter { products: args.products, targets: args.targets };
    let returned = devdist_apply::prepare_return(&args.dirs, inputs.path(), &filter)?;
    let outcome = super::plan_derived(&returned.plan, &args.to)?;
    if !args.to.quiet {
        let dirs: Vec<String> = args.dirs.iter().map(|dir| devdist_formats::shown(dir).to_string()).collect();
        say!(
            "return {} → {}: {} devices going home, {} left out (not confirmed distributed where it can be found: \
             rejects.csv, not_returned), {} home already, {} console, {} outside --product/--target",
            dirs.join(" + "),
            devdist_formats::shown(&args.to.out),
            returned.returning,
            returned.not_returned,
            returned.already_home,
            returned.console,
            returned.filtered,
        );
        crate::summary::print("return", &outcome.report, &outcome.out, Some(crate::summary::Timing::of(&outcome)));
    }
    Ok(if outcome.report.counts.rejected == 0 { 0 } else { 1 })
}
