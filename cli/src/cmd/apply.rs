//! `devdist apply DIR`: carries out a plan folder's jobs on the platform (or the emulator).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use devdist_apply::{Applied, Crash, Folder, Options, Progress, Snapshot, Tally};
use indicatif::ProgressBar;

#[derive(Debug, Args)]
pub(super) struct ApplyArgs {
    /// A folder written by `devdist plan` (or `devdist redrive`).
    dir: PathBuf,
    #[command(flatten)]
    platform: super::PlatformArgs,
    /// Print the schedule (jobs, waves, calls per API, least time the limits allow) and stop.
    #[arg(long)]
    dry_run: bool,
    /// Stop starting jobs once this share (0 to 1) of settled devices failed; exit 5.
    #[arg(long, value_name = "R")]
    max_failure_rate: Option<f64>,
    /// First wait between two polls of a job, in seconds; doubles up to --poll-max.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    poll_min: f64,
    /// Longest wait between two polls of a job, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    poll_max: f64,
    /// Wait between the two listings that decide a Create whose answer was lost made nothing.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    reconcile_wait: f64,
    /// The platform job that is a plan job's own, when apply stopped because several could be
    /// (it names them): `--adopt job-…=JOBID`. Repeat for more jobs.
    #[arg(long, value_name = "JOB=JOBID")]
    adopt: Vec<String>,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

fn seconds(name: &str, value: f64) -> Result<Duration, devdist_apply::Error> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| devdist_apply::Error::invocation(format!("{name} must be a number of seconds ≥ 0, not {value}")))
}

impl ApplyArgs {
    fn options(&self) -> Result<Options, devdist_apply::Error> {
        if let Some(rate) = self.max_failure_rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(devdist_apply::Error::invocation(format!("--max-failure-rate must be 0 to 1, not {rate}")));
        }
        self.platform.check()?;
        // The crash points of the tests; without apply's `test-util` feature (every release
        // build) nothing is read.
        let crash = Crash::from_env()?;
        let mut adopt = std::collections::HashMap::new();
        for pair in &self.adopt {
            let Some((job, id)) = pair.split_once('=').filter(|(job, id)| !job.is_empty() && !id.is_empty()) else {
                return Err(devdist_apply::Error::invocation(format!("--adopt wants JOB=JOBID, not {pair:?}")));
            };
            adopt.insert(job.to_string(), id.to_string());
        }
        let (poll_min, poll_max) = (seconds("--poll-min", self.poll_min)?, seconds("--poll-max", self.poll_max)?);
        if poll_min > poll_max {
            return Err(devdist_apply::Error::invocation(format!(
                "--poll-min {} is more than --poll-max {}: the first wait between two polls cannot be longer \
                 than the longest",
                self.poll_min, self.poll_max
            )));
        }
        Ok(Options {
            adopt,
            poll_min,
            poll_max,
            reconcile_wait: seconds("--reconcile-wait", self.reconcile_wait)?,
            max_failure_rate: self.max_failure_rate,
            crash,
            ..Options::default()
        })
    }
}

pub(super) fn run(args: ApplyArgs) -> anyhow::Result<u8> {
    let options = args.options()?;
    if args.dry_run {
        dry_run(&args)?;
        return Ok(0);
    }
    let client = args.platform.client()?;
    let bar = Bar::new(args.quiet);
    let applied = devdist_apply::apply(&args.dir, &client, &options, &bar);
    bar.finish();
    let applied = applied?;
    if !args.quiet {
        print_summary(&args, &applied);
    }
    if let Some(reason) = &applied.stopped {
        say!("devdist: stopped: {}; run the same `devdist apply` again to continue", crate::terminal_text(reason));
    }
    Ok(applied.exit_code())
}

fn dry_run(args: &ApplyArgs) -> anyhow::Result<()> {
    let folder = Folder::open(&args.dir)?;
    // An apply that has finished leaves nothing to schedule: say so rather than print the
    // schedule of work already done. Finished means its results verify and nothing is pending.
    if args.dir.join("apply/journal.jsonl").exists()
        && devdist_apply::verify(&args.dir).is_ok_and(|problems| problems.is_empty())
    {
        writeln!(
            std::io::stdout().lock(),
            "{}: apply has finished, every device has an outcome: nothing to do (devdist summary {0} shows them)",
            devdist_formats::shown(&args.dir)
        )?;
        return Ok(());
    }
    let schedule = devdist_apply::schedule(&folder, args.platform.rate_scale);
    // Written, not printed: `devdist apply --dry-run | head -1` closes stdout early, and that is
    // a broken pipe for main to end quietly on, not a panic.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} jobs: {} through the API ({} devices), {} console work items; {} waves, at most {} in flight",
        schedule.jobs, schedule.api, schedule.api_devices, schedule.console, schedule.waves, schedule.window
    )?;
    writeln!(out, "{:<30} {:>10} {:>10}", "calls at least", "calls", "limit/s")?;
    for (api, calls, qps) in &schedule.calls {
        writeln!(out, "{api:<30} {calls:>10} {qps:>10}")?;
    }
    writeln!(
        out,
        "least time the limits allow: {:.1} s, plus the platform's own time to run {} waves of jobs",
        schedule.least_seconds, schedule.waves
    )?;
    Ok(())
}

fn print_summary(args: &ApplyArgs, applied: &Applied) {
    let tally: &Tally = &applied.tally;
    say!("apply {}", devdist_formats::shown(&args.dir));
    say!("  {:<12} {:>10}", "distributed", tally.distributed);
    say!("  {:<12} {:>10}", "failed", tally.failed);
    say!("  {:<12} {:>10}", "unknown", tally.unknown);
    say!("  {:<12} {:>10}", "console", tally.console);
    say!("  {:<12} {:>10}", "pending", tally.pending);
    say!(
        "  accounting: {} devices in jobs = {} outcomes + {} pending: {}",
        tally.devices,
        tally.outcomes(),
        tally.pending,
        if tally.holds() { "holds" } else { "DOES NOT HOLD" }
    );
    say!("  platform jobs created by this run: {}", applied.created);
    if applied.console_jobs > 0 {
        say!(
            "  {} console work items (cross-account, never called): {}",
            applied.console_jobs,
            devdist_apply::CONSOLE_ACTION
        );
        say!("  they are listed in {}/apply/summary.json (console_work)", devdist_formats::shown(&args.dir));
    }
    say!("  per device: {}/apply/results.csv", devdist_formats::shown(&args.dir));
    let retryable = tally.unknown + tally.failed_retryable;
    if retryable > 0 {
        say!(
            "  re-drive the {retryable} unknown and retryably failed devices: devdist redrive {} --out NEW",
            devdist_formats::shown(&args.dir)
        );
    }
    let refused = tally.failed - tally.failed_retryable;
    if refused > 0 {
        say!(
            "  {refused} devices were refused for good (their codes: apply/summary.json by_code); \
             re-driving will not change that: fix the cause first"
        );
    }
}

/// Jobs done / in flight / queued and devices distributed / failed, on stderr when it is a
/// terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(quiet: bool) -> Bar {
        Bar(crate::progress::counter(
            quiet,
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} jobs {msg} ETA {eta}",
        ))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn note(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.suspend(|| say!("devdist: {line}")),
            None => say!("devdist: {line}"),
        }
    }

    fn update(&self, snapshot: &Snapshot) {
        let Some(bar) = &self.0 else { return };
        bar.set_length(snapshot.jobs);
        bar.set_position(snapshot.done);
        bar.set_message(format!(
            "({} in flight, {} queued) devices: {} distributed, {} failed",
            snapshot.in_flight, snapshot.queued, snapshot.tally.distributed, snapshot.tally.failed
        ));
    }
}
