//! `devdist generate`: a synthetic inventory, catalog and plan.

use std::path::PathBuf;

use clap::Args;
use devdist_formats::Format;
use devdist_synth::GenerateOptions;

#[derive(Debug, Args)]
pub(super) struct GenerateArgs {
    /// Inventory records to write.
    #[arg(long)]
    devices: u64,
    /// Seed: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of deliberately bad records, 0 to 1, spread over every reason code (in Parquet all
    /// but malformed_record: see --format).
    #[arg(long, default_value_t = 0.0)]
    bad_rate: f64,
    /// Share of records with a captured MQTT login to verify, 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    signed_rate: f64,
    /// Inventory format: csv (devices.csv) or parquet (devices.parquet).
    ///
    /// Both hold the same records for the same options, except the bad records CSV breaks
    /// structurally (ragged rows, bytes that are not UTF-8: malformed_record). A Parquet table
    /// cannot hold those, so in Parquet each becomes another stage-1 reject built from the same
    /// record (missing field, bad device name, unknown instance, region, owner or target): the
    /// number of bad records stays the same and every other reason code is still reached.
    #[arg(long, default_value = "csv")]
    format: Format,
    /// Folder to write plan.toml, instances.csv and the inventory into (created if needed;
    /// the files are written beside and moved into place when all are complete).
    #[arg(long)]
    out: PathBuf,
    /// Replace plan.toml, instances.csv or the inventory if they exist.
    #[arg(long)]
    force: bool,
}

pub(super) fn run(args: GenerateArgs) -> anyhow::Result<u8> {
    if args.format == Format::Jsonl {
        return Err(devdist_engine::Error::invocation("--format jsonl: generate writes csv or parquet").into());
    }
    for (name, rate) in [("--bad-rate", args.bad_rate), ("--signed-rate", args.signed_rate)] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(devdist_engine::Error::invocation(format!("{name} must be between 0 and 1, not {rate}")).into());
        }
    }
    let options = GenerateOptions {
        devices: args.devices,
        seed: args.seed,
        bad_rate: args.bad_rate,
        signed_rate: args.signed_rate,
        format: args.format,
        replace: args.force,
    };
    let generated = devdist_synth::generate(&options, &args.out)?;
    say!(
        "wrote {} records ({:.1} MB) to {}; plan: {}",
        generated.records,
        generated.bytes as f64 / 1e6,
        devdist_formats::shown(&generated.inventory),
        devdist_formats::shown(&generated.plan)
    );
    Ok(0)
}
