//! The engine's one error type: what stops a run, and the exit code it maps to (docs/plan-folder.md §1.2).
//! A bad record is not an error: it is a reject with a reason code.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What stops a run. More kinds may be added.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Bad command line or unreadable plan file (exit 2).
    Invocation(String),
    /// The plan has problems (exit 2).
    Plan(PlanProblems),
    /// Input files that cannot be read or used, all of them at once (exit 3).
    Input(Vec<devdist_formats::Error>),
    /// An output could not be written (exit 4).
    Output {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The run could not prove that every record was accounted for (exit 4: nothing was
    /// written). This is a bug in devdist if it ever happens.
    Accounting(String),
    /// The run was cancelled (Ctrl-C, SIGTERM) and left nothing behind (exit 130).
    Interrupted,
}

impl Error {
    /// A bad command line.
    pub fn invocation(message: impl Into<String>) -> Error {
        Error::Invocation(message.into())
    }

    /// A failed write at `path`.
    pub fn output(path: &Path, source: io::Error) -> Error {
        Error::Output { path: path.to_path_buf(), source }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invocation(_) | Error::Plan(_) => 2,
            Error::Input(_) => 3,
            Error::Output { .. } | Error::Accounting(_) => 4,
            Error::Interrupted => 130,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invocation(message) => f.write_str(message),
            Error::Plan(problems) => problems.fmt(f),
            Error::Input(errors) => {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                f.write_str(&lines.join("\n"))
            }
            Error::Output { path, source } => {
                let text = devdist_formats::Error::io(path, io::Error::new(source.kind(), source.to_string()));
                write!(f, "cannot write output: {text}")
            }
            Error::Accounting(message) => write!(f, "accounting invariant failed: {message}"),
            Error::Interrupted => f.write_str("interrupted; no output was written"),
        }
    }
}

impl std::error::Error for Error {}

impl From<devdist_formats::Error> for Error {
    fn from(err: devdist_formats::Error) -> Error {
        Error::Input(vec![err])
    }
}

/// One thing wrong with a plan, at a place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Every problem of a plan file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblems {
    /// The plan file.
    pub path: PathBuf,
    /// Problems in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for PlanProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.problems.len() == 1 { "problem" } else { "problems" };
        write!(f, "{}: {} {noun} in the plan", devdist_formats::shown(&self.path), self.problems.len())?;
        for problem in &self.problems {
            write!(
                f,
                "\n{}:{}:{}: {}",
                devdist_formats::shown(&self.path),
                problem.line,
                problem.column,
                problem.message
            )?;
        }
        Ok(())
    }
}
