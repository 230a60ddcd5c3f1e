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
    // The whole input reference, as `devdist explain plan|inventory|catalog` prints it, in
    // devdist-explain.1: a section of its own, not filled (its tables and example keep their lines).
    let page = args.out.join("devdist-explain.1");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&page)
        .map_err(|err| devdist_engine::Error::output(&page, err))?;
    std::io::Write::write_all(&mut file, reference_section(&super::explain::reference()).as_bytes())
        .map_err(|err| devdist_engine::Error::output(&page, err))?;
    say!("wrote the devdist man pages to {}", devdist_formats::shown(&args.out));
    Ok(0)
}

/// `text` as a roff section REFERENCE in no-fill mode: backslashes escaped, and a line that starts
/// with `.` or `'` (a roff request) guarded.
fn reference_section(text: &str) -> String {
    let mut roff = String::from(".SH REFERENCE\n.nf\n");
    for line in text.lines() {
        let line = line.replace('\\', "\\e");
        if line.starts_with(['.', '\'']) {
            roff.push_str("\\&");
        }
        roff.push_str(&line);
        roff.push('\n');
    }
    roff.push_str(".fi\n");
    roff
}
