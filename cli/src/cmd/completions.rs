//! `devdist completions SHELL` and `devdist man`: generated from the clap definitions, so they
//! never drift from the real options.

use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub(super) struct CompletionsArgs {
    /// The shell to write completions for.
    shell: Shell,
}

#[derive(Debug, Args)]
pub(super) struct ManArgs {
    /// Folder to write devdist.1 and one devdist-COMMAND.1 page per subcommand into.
    #[arg(long)]
    out: PathBuf,
}

pub(super) fn run(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "devdist", &mut std::io::stdout().lock());
    Ok(0)
}

/// Writes the man pages: devdist(1) and one page per subcommand.
pub(super) fn man(args: ManArgs) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&args.out).map_err(|err| devdist_engine::Error::output(&args.out, err))?;
    // generate_to builds the command itself (without the help pseudo-subcommand).
    clap_mangen::generate_to(super::Cli::command(), &args.out)
        .map_err(|err| devdist_engine::Error::output(&args.out, err))?;
    say!("wrote the devdist man pages to {}", devdist_formats::shown(&args.out));
    Ok(0)
}
