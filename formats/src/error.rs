//! One error type for everything this crate reads or writes, with the position it happened at.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Where in a file something went wrong. Every part is optional; what is known is printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// 1-based data record number (the header is not a record).
    pub record: Option<u64>,
    /// 1-based line where the record starts (the header is line 1).
    pub line: Option<u64>,
    /// The column's name as written in the header.
    pub column: Option<String>,
}

impl Position {
    /// A position at a line only (header problems, plan problems).
    pub fn line(line: u64) -> Position {
        Position { line: Some(line), ..Position::default() }
    }

    /// Adds the column name.
    pub fn with_column(mut self, column: impl Into<String>) -> Position {
        self.column = Some(column.into());
        self
    }

    fn is_empty(&self) -> bool {
        self.record.is_none() && self.line.is_none() && self.column.is_none()
    }
}

impl fmt::Display for Position {
    /// `record 812 (line 815, column "device_name")`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut inner = Vec::new();
        if let Some(line) = self.line {
            inner.push(format!("line {line}"));
        }
        if let Some(column) = &self.column {
            inner.push(format!("column {column:?}"));
        }
        match self.record {
            Some(record) if inner.is_empty() => write!(f, "record {record}"),
            Some(record) => write!(f, "record {record} ({})", inner.join(", ")),
            None => write!(f, "{}", inner.join(", ")),
        }
    }
}

/// What kind of failure an [`Error`] is. More kinds may be added.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operating system refused a read or write.
    Io(io::Error),
    /// The file was read but its content cannot be used (bad header, bad catalog row, …).
    Invalid(String),
}

/// A failure that stops reading or writing a whole file, prefixed with the file and position.
#[derive(Debug)]
pub struct Error {
    path: PathBuf,
    position: Position,
    kind: ErrorKind,
}

impl Error {
    /// An I/O failure on `path`.
    pub fn io(path: &Path, err: io::Error) -> Error {
        Error { path: path.to_path_buf(), position: Position::default(), kind: ErrorKind::Io(err) }
    }

    /// Unusable content in `path` at `position`.
    pub fn invalid(path: &Path, position: Position, message: impl Into<String>) -> Error {
        Error { path: path.to_path_buf(), position, kind: ErrorKind::Invalid(message.into()) }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where in the file, as far as known.
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", shown(&self.path))?;
        if !self.position.is_empty() {
            write!(f, "{}: ", self.position)?;
        }
        match &self.kind {
            ErrorKind::Io(err) => write!(f, "{}", describe_io(err)),
            ErrorKind::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(err) => Some(err),
            ErrorKind::Invalid(_) => None,
        }
    }
}

/// A file name (or any text from outside) as it may be printed on a terminal: control
/// characters (newlines, escape sequences), [invisible](is_invisible) ones and backslashes are
/// escaped as in Rust (`\n`, `\u{1b}`, `\\`), bytes that are not UTF-8 as `\xNN`; the rest is
/// printed as it is. Errors, summaries and notes show every path through it.
pub fn shown(text: impl AsRef<std::ffi::OsStr>) -> String {
    use std::fmt::Write as _;
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in text.as_ref().as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                _ if is_invisible(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                _ => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// Characters that would not show as themselves: C0 and C1 controls, DEL, bidi marks,
/// overrides and isolates, zero-width characters, line and paragraph separators, the BOM.
/// Terminal text ([`shown`]) and report.html both print them as `\u{…}`.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}')
        || c == '\u{feff}'
}

/// The operating system's message without the `(os error N)` noise users do not need.
pub fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::IsADirectory => "is a directory, not a file".to_string(),
        _ => {
            let text = err.to_string();
            match text.find(" (os error") {
                Some(cut) => text[..cut].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_what_a_terminal_would_act_on() {
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(shown("plain/dev-1.csv"), "plain/dev-1.csv");
        assert_eq!(shown("a\nb\rc\td\\e"), "a\\nb\\rc\\td\\\\e");
        assert_eq!(shown("\u{1b}]8;;http://x\u{7}link\u{9b}31m"), "\\u{1b}]8;;http://x\\u{7}link\\u{9b}31m");
        assert_eq!(shown("evil\u{202e}vsc.csv"), "evil\\u{202e}vsc.csv");
        assert_eq!(shown(std::ffi::OsStr::from_bytes(b"caf\xe9.csv")), "caf\\xe9.csv");
        assert_eq!(shown("caf\u{e9}.csv"), "caf\u{e9}.csv");
    }

    #[test]
    fn prints_the_position_as_a_prefix() {
        let pos = Position { record: Some(812), line: Some(815), column: Some("device_name".into()) };
        let err = Error::invalid(Path::new("devices.csv"), pos, "bad");
        assert_eq!(err.to_string(), r#"devices.csv: record 812 (line 815, column "device_name"): bad"#);
        let err = Error::invalid(Path::new("x.csv"), Position::line(1), "no header");
        assert_eq!(err.to_string(), "x.csv: line 1: no header");
        let err = Error::io(Path::new("gone.csv"), io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(err.to_string(), "gone.csv: no such file");
    }
}
