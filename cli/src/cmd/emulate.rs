//! `devdist emulate PLAN.toml`: the platform's distribution API on this machine, seeded from a
//! plan, for rehearsing `apply` (README "Rehearse first"; emulator/README.md).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use devdist_emulator::{Config, Emulator, Faults, Identity, World};
use devdist_platform::credentials::{ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN};
use devdist_platform::{Credentials, Secret};

#[derive(Debug, Args)]
pub(super) struct EmulateArgs {
    /// The plan whose account, catalog and inventories the emulated platform holds.
    plan: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed of every fault decision and job ID.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Faults to inject, NAME=RATE,… with NAME one of throttle, error5xx, lost-response,
    /// interrupt, device-fail, slow, expire-url, churn, stall and RATE a probability 0–1.
    /// churn: a QueryDevice or ListDistributedDevice page first registers a transient device (the
    /// newest) or deletes one of the first 1,000 rows; each change is undone 3 read calls later.
    /// stall: a read call is held --stall-seconds, then its connection closes unanswered.
    /// docs/wire.md §9.5 says exactly what each does.
    #[arg(long, default_value = "")]
    faults: String,
    /// Seconds the stall fault holds a read call before it closes the connection unanswered;
    /// the default outlasts the client's 30 s per call.
    #[arg(long, default_value_t = devdist_emulator::STALL_SECONDS)]
    stall_seconds: f64,
    /// Seconds a job takes from Create to its end (status 0, then 1, then 2); 0 = at once.
    #[arg(long, default_value_t = 1.0)]
    job_seconds: f64,
    /// Multiplies every per-API QPS limit.
    #[arg(long, default_value_t = 1.0)]
    rate_scale: f64,
    /// Serve HTTPS with a throwaway certificate authority.
    #[arg(long)]
    tls: bool,
    /// Where --tls writes the authority's PEM [default: ca.pem in a new private folder of the
    /// temporary folder, removed when emulate stops].
    #[arg(long, requires = "tls")]
    cert_out: Option<PathBuf>,
    /// Replace a file already at --cert-out (a symbolic link there is replaced, never written
    /// through).
    #[arg(long, requires = "cert_out")]
    force: bool,
}

/// Serves until SIGINT or SIGTERM; the first line on stdout is the endpoint URL.
pub(super) fn run(args: EmulateArgs) -> anyhow::Result<u8> {
    if !(args.job_seconds.is_finite() && args.job_seconds >= 0.0) {
        bail!("--job-seconds must be 0 or more, not {}", args.job_seconds);
    }
    if !(args.rate_scale.is_finite() && args.rate_scale > 0.0) {
        bail!("--rate-scale must be more than 0, not {}", args.rate_scale);
    }
    if !(args.stall_seconds.is_finite() && args.stall_seconds >= 0.0) {
        bail!("--stall-seconds must be 0 or more, not {}", args.stall_seconds);
    }
    let faults = Faults::parse(&args.faults, args.seed).map_err(anyhow::Error::msg)?;
    let credentials = credentials()?;
    let world = World::from_plan(&args.plan)?;
    let mut config = Config::new(credentials);
    config.listen = args.listen;
    config.faults = faults;
    config.job_seconds = args.job_seconds;
    config.rate_scale = args.rate_scale;
    config.stall_seconds = args.stall_seconds;
    if args.tls {
        config.tls = Some(Identity::generate()?);
    }
    let (devices, instances, account) = (world.device_count(), world.instances.len(), world.account.clone());
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("cannot watch for SIGINT/SIGTERM")?;
    }
    let tls = config.tls.clone();
    let emulator = Emulator::start(world, config).with_context(|| format!("cannot listen on {}", args.listen))?;
    // The folder of the default certificate, removed when emulate stops.
    let mut cert_folder = None;
    if let Some(identity) = tls {
        let path = match &args.cert_out {
            Some(path) => {
                write_cert(path, identity.ca_pem.as_bytes(), args.force)?;
                path.clone()
            }
            None => {
                let (folder, path) = write_default_cert(identity.ca_pem.as_bytes())?;
                cert_folder = Some(folder);
                path
            }
        };
        say!("devdist emulate: TLS certificate authority in {} (apply --ca-cert {0})", devdist_formats::shown(&path));
    }
    if !args.listen.ip().is_loopback() {
        say!(
            "devdist emulate: warning: listening on {}, not a loopback address: anyone who can reach it can \
             read the stats ({}, no credentials asked) and the emulated devices' names",
            args.listen,
            devdist_emulator::STATS_PATH
        );
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", emulator.url())?;
    stdout.flush()?;
    drop(stdout);
    say!(
        "devdist emulate: account {account}, {instances} instances, {devices} devices; faults [{}], jobs take {}s, limits x{}; \
         stats at {}{}; Ctrl-C stops",
        if args.faults.is_empty() { "none" } else { &args.faults },
        args.job_seconds,
        args.rate_scale,
        emulator.url(),
        devdist_emulator::STATS_PATH,
    );
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = emulator.stats();
    say!("devdist emulate: stopped after {} requests, {} jobs created", stats["requests"], stats["jobs_created"]);
    emulator.shutdown();
    drop(cert_folder);
    Ok(0)
}

/// Writes the authority's PEM to `--cert-out`, a new file: never through a symbolic link (it
/// would overwrite the link's target, perhaps a trusted bundle) and over an existing file only
/// with `--force`, which replaces the name itself (a link there is removed, its target kept).
fn write_cert(path: &std::path::Path, pem: &[u8], force: bool) -> anyhow::Result<()> {
    let shown = devdist_formats::shown(path);
    if force {
        match std::fs::symlink_metadata(path) {
            Ok(metadata) if metadata.is_dir() => bail!("{shown}: is a folder; --cert-out names the file to write"),
            Ok(_) => std::fs::remove_file(path).with_context(|| format!("{shown}: cannot replace it"))?,
            Err(_) => {}
        }
    }
    let mut file = devdist_formats::create_new(path, false).map_err(|err| match err.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow::anyhow!("{shown}: already exists; --force replaces it (emulate never writes through a link)")
        }
        _ => anyhow::anyhow!("{shown}: cannot write the certificate: {}", devdist_formats::describe_io(&err)),
    })?;
    file.write_all(pem).with_context(|| format!("{shown}: cannot write the certificate"))?;
    Ok(())
}

/// Writes the authority's PEM where `--tls` puts it without `--cert-out`: `ca.pem` in a new
/// folder of the temporary folder, with a random name and open to its owner only. A fixed name
/// there would let another user of the machine put a link, or a certificate of their own, in
/// its place first, and apply would then trust their authority.
fn write_default_cert(pem: &[u8]) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let folder = tempfile::Builder::new()
        .prefix("devdist-emulator-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("cannot make a folder for the certificate in the temporary folder")?;
    let path = folder.path().join("ca.pem");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| file.write_all(pem))
        .with_context(|| format!("{}: cannot write the certificate", devdist_formats::shown(&path)))?;
    Ok((folder, path))
}

/// The key the emulated account owns, from the environment variables the client reads first
/// (`devdist_platform::credentials`; the aliyun CLI's profiles are not read here).
fn credentials() -> anyhow::Result<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let (Some(access_key_id), Some(secret)) = (var(ENV_ACCESS_KEY_ID), var(ENV_ACCESS_KEY_SECRET)) else {
        bail!(
            "set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}: the emulated account owns that key \
             (and {ENV_SECURITY_TOKEN}, when set, is a valid STS token)"
        );
    };
    Ok(Credentials { access_key_id, secret: Secret::new(secret), token: var(ENV_SECURITY_TOKEN).map(Secret::new) })
}
