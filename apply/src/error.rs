//! apply's one error type: what stops a run, and the exit code it maps to (docs/plan-folder.md §1.2).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What stops `apply`. More kinds may be added.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Bad command line or missing credentials (exit 2).
    Invocation(String),
    /// The plan folder is unreadable, does not verify, or is not a `plan` folder (exit 3).
    Folder {
        /// The file (or folder) at fault.
        path: PathBuf,
        /// What is wrong, with its line where there is one.
        message: String,
    },
    /// The journal or the results could not be written, or another apply holds the lock (exit 4).
    Journal {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The platform stopped the run: credentials refused, failure rate passed, or a Create
    /// whose outcome cannot be told apart (exit 5). Running `apply` again continues.
    Stopped(String),
    /// SIGINT, SIGTERM or another catchable signal: apply started no job after it, wrote the
    /// results so far and stopped (exit 130). Running `apply` again continues.
    Interrupted,
    /// The crash test hook fired in its in-process mode (tests only).
    Crashed(String),
    /// Planning failed (redrive plans its derived inputs): the planner's error and exit code.
    Plan(devdist_engine::Error),
    /// The platform refused or kept failing audit's reads (exit 3).
    Unreadable(String),
}

impl From<devdist_engine::Error> for Error {
    fn from(err: devdist_engine::Error) -> Error {
        Error::Plan(err)
    }
}

impl Error {
    /// A bad command line.
    pub fn invocation(message: impl Into<String>) -> Error {
        Error::Invocation(message.into())
    }

    /// Something wrong with a file of the plan folder.
    pub fn folder(path: &Path, message: impl Into<String>) -> Error {
        Error::Folder { path: path.to_path_buf(), message: message.into() }
    }

    /// A plan folder's file that could not be read safely ([`devdist_formats::read_inside`]).
    pub fn unreadable(err: &devdist_formats::Error) -> Error {
        let message = match err.kind() {
            devdist_formats::ErrorKind::Io(io) => format!("cannot read: {}", devdist_formats::describe_io(io)),
            devdist_formats::ErrorKind::Invalid(message) => message.clone(),
            _ => err.to_string(),
        };
        Error::folder(err.path(), message)
    }

    /// The platform refused apply's calls as unauthorised ([`ApiError::is_auth`]): the
    /// credentials, or, for a signature time out of range, this machine's clock.
    ///
    /// [`ApiError::is_auth`]: devdist_platform::ApiError::is_auth
    pub(crate) fn refused_credentials(err: &devdist_platform::ApiError) -> Error {
        if err.is_clock() {
            return Error::Stopped(format!(
                "the platform refused apply's calls as signed at a time too far from its own: this machine's \
                 clock is off (compare it with the platform's and set it right, e.g. with NTP; the credentials \
                 were not judged): {err}"
            ));
        }
        Error::Stopped(format!("the platform refused apply's credentials: {err}"))
    }

    /// A failed journal or results write.
    pub fn journal(path: &Path, err: &io::Error) -> Error {
        Error::Journal { path: path.to_path_buf(), message: err.to_string() }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invocation(_) => 2,
            Error::Folder { .. } => 3,
            Error::Journal { .. } => 4,
            Error::Stopped(_) => 5,
            Error::Interrupted => 130,
            Error::Crashed(_) => 134,
            Error::Plan(err) => err.exit_code(),
            Error::Unreadable(_) => 3,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invocation(message) => f.write_str(message),
            Error::Folder { path, message } => write!(f, "{}: {message}", path.display()),
            Error::Journal { path, message } => write!(f, "{}: cannot write: {message}", path.display()),
            Error::Stopped(message) => write!(f, "stopped: {message}; run the same `devdist apply` again to continue"),
            Error::Interrupted => f.write_str(
                "interrupted; every job started is journalled: run the same `devdist apply` again to continue",
            ),
            Error::Crashed(point) => write!(f, "crash test hook fired at {point}"),
            Error::Plan(err) => err.fmt(f),
            Error::Unreadable(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}
