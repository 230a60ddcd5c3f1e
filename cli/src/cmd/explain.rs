//! `devdist explain [CODE]`: what a reason code or warning means, the rule behind it (docs/inputs.md §6) and
//! how to fix the input — the same text report.html shows, from the table in the engine.

use std::io::Write;

use clap::Args;
use devdist_engine::{Explanation, Reason, Warning};

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A reason code (e.g. no_route) or warning (e.g. console_only); none lists them all.
    code: Option<String>,
}

/// Every code with its kind and explanation, reasons in rule order, then warnings.
fn all() -> Vec<(&'static str, &'static str, Explanation)> {
    let reasons = Reason::ALL.iter().map(|r| (r.code(), "reason code", r.explain()));
    let warnings = Warning::ALL.iter().map(|w| (w.code(), "warning", w.explain()));
    reasons.chain(warnings).collect()
}

pub(crate) fn run(args: ExplainArgs) -> anyhow::Result<u8> {
    let codes = all();
    let mut out = std::io::stdout().lock();
    let Some(wanted) = args.code else {
        let width = codes.iter().map(|(code, ..)| code.len()).max().unwrap_or(0);
        for (code, kind, explanation) in &codes {
            let kind = if *kind == "warning" { " (warning)" } else { "" };
            writeln!(out, "{code:<width$}  {}{kind}", explanation.meaning)?;
        }
        writeln!(out, "\n`devdist explain CODE` gives the rule and the fix.")?;
        return Ok(0);
    };
    let wanted = wanted.trim().to_ascii_lowercase();
    match codes.iter().find(|(code, ..)| *code == wanted) {
        Some((code, kind, explanation)) => {
            writeln!(out, "{code} ({kind})\n")?;
            writeln!(out, "What it means: {}", explanation.meaning)?;
            writeln!(out, "The rule:      {}", explanation.rule)?;
            writeln!(out, "How to fix:    {}", explanation.fix)?;
            Ok(0)
        }
        None => {
            let nearest = codes
                .iter()
                .map(|(code, ..)| *code)
                .min_by_key(|code| strsim::levenshtein(code, &wanted))
                .expect("the table is not empty");
            let message = format!(
                "explain: no reason code or warning is called {wanted:?}; did you mean {nearest}? \
                 (`devdist explain` lists them all)"
            );
            Err(devdist_engine::Error::invocation(message).into())
        }
    }
}
