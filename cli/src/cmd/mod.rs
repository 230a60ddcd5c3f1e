//! The subcommands, one module each.

mod apply;
mod audit;
mod completions;
mod emulate;
mod explain;
mod export;
mod generate;
mod plan;
mod redrive;
mod send_back;
mod summary;
mod validate;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use devdist_engine::Options;

/// Plans bulk IoT device distributions: grant manifests, job requests and billing
/// reassignments from device inventories, with every rejected record accounted for.
#[derive(Debug, Parser)]
#[command(name = "devdist", version, about, long_about = None, after_long_help = explain::REFERENCE_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check every device and write the whole distribution plan into DIR.
    // A fixed usage line: clap's own lists the options given on a failed command line among
    // the required ones.
    #[command(override_usage = "devdist plan [OPTIONS] --out <OUT> <PLAN>", after_long_help = explain::REFERENCE_HELP)]
    Plan(plan::PlanArgs),
    /// Dry run: the same checks, writing only report.json, run.json, rejects.csv, warnings.csv
    /// and report.html.
    #[command(override_usage = "devdist validate [OPTIONS] --out <OUT> <PLAN>", after_long_help = explain::REFERENCE_HELP)]
    Validate(validate::ValidateArgs),
    /// Write a synthetic inventory, catalog and plan of any size.
    Generate(generate::GenerateArgs),
    /// Re-check every checksum and the accounting invariant of an output folder.
    Verify(verify::VerifyArgs),
    /// A new plan folder of the devices that `apply` left failed (retryably) or unknown.
    Redrive(redrive::RedriveArgs),
    /// A new plan folder that sends back home every device DIR (and its redrives) distributed.
    Return(send_back::ReturnArgs),
    /// Serve the platform's distribution API locally, seeded from a plan, to rehearse `apply`.
    Emulate(emulate::EmulateArgs),
    /// Carry out DIR's jobs on the platform: paced, journalled, resumable, exactly once.
    Apply(apply::ApplyArgs),
    /// Read the inventory of instances from the platform into FILE: paced, resumable.
    Export(export::ExportArgs),
    /// Ask the platform where every device of DIR is now and write DIR/audit/ (read-only).
    Audit(audit::AuditArgs),
    /// The reference of plan.toml, inventories and catalogs; what a reason code, warning or
    /// platform code means and what to do.
    #[command(after_long_help = explain::REFERENCE_HELP)]
    Explain(explain::ExplainArgs),
    /// Print the end-of-run summary table of an existing output folder.
    Summary(summary::SummaryArgs),
    /// Write shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(completions::CompletionsArgs),
    /// Write the man pages (devdist.1 and one per subcommand) into a folder.
    Man(completions::ManArgs),
}

/// Options shared by `plan` and `validate`.
#[derive(Debug, Args)]
struct RunArgs {
    /// The plan file.
    plan: PathBuf,
    /// The output folder (built beside, moved into place when complete).
    #[arg(long)]
    out: PathBuf,
    /// Worker threads [default: all cores].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Replace DIR if it exists.
    #[arg(long)]
    force: bool,
    /// Memory for records held between passes, in MiB; beyond it they go to a scratch
    /// folder beside DIR. Outputs are the same at any budget.
    #[arg(long, value_name = "MIB", default_value_t = devdist_engine::DEFAULT_MEMORY_BUDGET >> 20,
          value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    memory_budget: u64,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    fn options(&self) -> Options {
        let mut options = Options { force: self.force, memory_budget: self.memory_budget << 20, ..Options::default() };
        if let Some(threads) = self.threads {
            options.threads = usize::from(threads);
        }
        options
    }
}

/// Runs the parsed command; returns the exit code.
pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Plan(args) => plan::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Redrive(args) => redrive::run(args),
        Command::Return(args) => send_back::run(args),
        Command::Emulate(args) => emulate::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Export(args) => export::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Summary(args) => summary::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => completions::man(args),
    }
}

/// Runs `plan` or `validate` with a progress bar and the closing summary.
fn run_plan(args: &RunArgs, options: Options, command: &str) -> anyhow::Result<u8> {
    let progress = crate::progress::Bar::new(&args.plan, args.quiet);
    let outcome = devdist_engine::run(&args.plan, &args.out, &options, &progress);
    progress.finish();
    let outcome = outcome?;
    for note in &outcome.notes {
        say!("devdist: note: {note}");
    }
    if !args.quiet {
        crate::summary::print(command, &outcome.report, &outcome.out, Some(crate::summary::Timing::of(&outcome)));
    }
    Ok(if outcome.report.counts.rejected == 0 { 0 } else { 1 })
}

/// Where and how `redrive` and `return` write the plan they derive.
#[derive(Debug, clap::Args)]
struct DerivedOut {
    /// The new plan folder (built beside, moved into place when complete).
    #[arg(long)]
    out: std::path::PathBuf,
    /// Format of the new folder's device manifests, product grants and billing reassignments.
    #[arg(long, default_value = "csv")]
    format: devdist_formats::Format,
    /// Replace NEW if it exists.
    #[arg(long)]
    force: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

/// A private folder beside `out` for a derived plan's inputs (`redrive`, `return`): they hold
/// device secrets, so the folder is removed when dropped, on every exit. `out` may not be,
/// contain or lie inside the folders `from` the plan is derived from (checked first, so
/// nothing is written into them).
fn inputs_beside(
    out: &std::path::Path,
    from: &[std::path::PathBuf],
    prefix: &str,
) -> anyhow::Result<tempfile::TempDir> {
    let from: Vec<&std::path::Path> = from.iter().map(std::path::PathBuf::as_path).collect();
    devdist_engine::refuse_overlap(out, &from)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(&parent);
    Ok(dir.map_err(|e| devdist_engine::Error::output(&parent, e))?)
}

/// Plans a derived plan into `to.out`, like `devdist plan`.
fn plan_derived(plan: &std::path::Path, to: &DerivedOut) -> anyhow::Result<devdist_engine::Outcome> {
    let options = devdist_engine::Options { force: to.force, format: to.format, ..devdist_engine::Options::default() };
    let progress = crate::progress::Bar::new(plan, to.quiet);
    let outcome = devdist_engine::run(plan, &to.out, &options, &progress);
    progress.finish();
    Ok(outcome?)
}

/// Where the platform is and who calls it: shared by every command that calls the platform
/// (`apply`, `export`, `audit`).
#[derive(Debug, clap::Args)]
struct PlatformArgs {
    /// The platform's endpoint, or the URL `devdist emulate` prints.
    #[arg(long, default_value = devdist_platform::DEFAULT_ENDPOINT)]
    endpoint: String,
    /// The aliyun CLI profile to take credentials from (~/.aliyun/config.json) instead of
    /// ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / ALIBABA_CLOUD_SECURITY_TOKEN.
    #[arg(long)]
    profile: Option<String>,
    /// A PEM CA certificate to trust instead of the built-in roots (`emulate --tls`).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<std::path::PathBuf>,
    /// Multiplies every per-API rate limit: below 1 leaves room for other tools on the account;
    /// above 1 only against the emulator.
    #[arg(long, value_name = "K", default_value_t = 1.0)]
    rate_scale: f64,
}

impl PlatformArgs {
    /// A rate scale that is not a positive number is an invocation error.
    fn check(&self) -> Result<(), devdist_apply::Error> {
        if self.rate_scale > 0.0 && self.rate_scale.is_finite() {
            return Ok(());
        }
        let message = format!("--rate-scale must be a positive number, not {}", self.rate_scale);
        Err(devdist_apply::Error::invocation(message))
    }

    /// A client of the endpoint with the credentials found (their warnings said on stderr);
    /// a bad rate scale, endpoint, CA file or missing credentials are an invocation error.
    fn client(&self) -> Result<devdist_platform::Client, devdist_apply::Error> {
        self.client_with(|_| {})
    }

    /// [`PlatformArgs::client`] with the configuration tuned by `tune` (a command's own knobs).
    fn client_with(
        &self,
        tune: impl FnOnce(&mut devdist_platform::ClientConfig),
    ) -> Result<devdist_platform::Client, devdist_apply::Error> {
        self.check()?;
        let mut warnings = Vec::new();
        let credentials = devdist_platform::Credentials::load_noting(self.profile.as_deref(), &mut warnings)
            .map_err(|err| devdist_apply::Error::invocation(format!("credentials: {err}")))?;
        for warning in warnings {
            say!("devdist: warning: {warning}");
        }
        let mut config = devdist_platform::ClientConfig {
            endpoint: self.endpoint.clone(),
            rate_scale: self.rate_scale,
            ca_cert: self.ca_cert.clone(),
            notify: Some(|line| say!("devdist: {line}")),
            ..devdist_platform::ClientConfig::new(credentials)
        };
        tune(&mut config);
        devdist_platform::Client::new(config).map_err(|err| devdist_apply::Error::invocation(err.to_string()))
    }
}
