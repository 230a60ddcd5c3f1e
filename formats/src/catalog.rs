//! The instance catalog file (docs/inputs.md §4.1): one row per instance.

use std::path::Path;

use crate::error::{Error, Position};

/// The columns of a catalog file, in the order docs/inputs.md §4.1 gives them.
pub const CATALOG_COLUMNS: [&str; 6] =
    ["instance_id", "region", "edition", "owner_uid", "device_quota", "devices_in_use"];

/// What each of [`CATALOG_COLUMNS`] holds, in the same order, for `devdist explain catalog`.
pub const CATALOG_COLUMN_MEANINGS: [&str; CATALOG_COLUMNS.len()] = [
    "Instance ID; non-empty, listed once.",
    "Region ID, e.g. eu-central-1; non-empty.",
    "public, standard, premium or exclusive.",
    "The owning account's UID; empty for public instances.",
    "Devices the instance may hold, a whole number; empty means unlimited.",
    "Devices the instance holds now, a whole number; empty means 0. Headroom = device_quota - devices_in_use.",
];

/// One row of a catalog file, as written (the engine decides what the values mean).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRow {
    /// Instance ID.
    pub instance_id: String,
    /// Region ID, such as `cn-shanghai`.
    pub region: String,
    /// `public`, `standard`, `premium` or `exclusive`.
    pub edition: String,
    /// Owning account, empty for public instances.
    pub owner_uid: String,
    /// Device quota, `None` when unlimited (empty cell).
    pub device_quota: Option<u64>,
    /// Devices the instance holds now.
    pub devices_in_use: u64,
    /// Line the row is on, for messages.
    pub line: u64,
}

/// Reads a catalog file. Every bad row is reported at once.
pub fn read_catalog(path: &Path) -> Result<Vec<CatalogRow>, Error> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(path).map_err(|err| {
        match err.into_kind() {
            csv::ErrorKind::Io(io) => Error::io(path, io),
            other => Error::invalid(path, Position::default(), format!("{other:?}")),
        }
    })?;
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(Error::invalid(path, Position::line(1), "empty file: no header line")),
        Some(header) => header.map_err(|err| read_error(path, err))?,
    };
    let mut index = [0usize; 6];
    let mut missing = Vec::new();
    for (slot, wanted) in index.iter_mut().zip(CATALOG_COLUMNS) {
        match header.iter().position(|name| name.trim().eq_ignore_ascii_case(wanted)) {
            Some(at) => *slot = at,
            None => missing.push(format!("{wanted:?}")),
        }
    }
    if !missing.is_empty() {
        let noun = if missing.len() == 1 { "column" } else { "columns" };
        let message = format!("missing required {noun} {}", missing.join(", "));
        return Err(Error::invalid(path, Position::line(1), message));
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (number, record) in records.enumerate() {
        let record = record.map_err(|err| read_error(path, err))?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |column: usize| record.get(index[column]).unwrap_or("").trim().to_string();
        let position = |column: usize| Position {
            record: Some(number as u64 + 1),
            line: Some(line),
            column: Some(CATALOG_COLUMNS[column].to_string()),
        };
        let quota = cell(4);
        let device_quota = match quota.as_str() {
            "" => None,
            text => match text.parse() {
                Ok(value) => Some(value),
                Err(_) => {
                    problems.push((position(4), format!("{text:?} is not a whole number")));
                    continue;
                }
            },
        };
        let in_use = cell(5);
        let devices_in_use = match in_use.as_str() {
            "" => 0,
            text => match text.parse() {
                Ok(value) => value,
                Err(_) => {
                    problems.push((position(5), format!("{text:?} is not a whole number")));
                    continue;
                }
            },
        };
        if cell(0).is_empty() {
            problems.push((position(0), "empty instance_id".to_string()));
            continue;
        }
        rows.push(CatalogRow {
            instance_id: cell(0),
            region: cell(1),
            edition: cell(2),
            owner_uid: cell(3),
            device_quota,
            devices_in_use,
            line,
        });
    }
    match problems.len() {
        0 => Ok(rows),
        1 => {
            let (position, message) = problems.remove(0);
            Err(Error::invalid(path, position, message))
        }
        n => {
            let (position, message) = problems.remove(0);
            let rest = format!("{message} (and {} more bad rows)", n - 1);
            Err(Error::invalid(path, position, rest))
        }
    }
}

fn read_error(path: &Path, err: csv::Error) -> Error {
    let position = err.position().map(|p| Position::line(p.line())).unwrap_or_default();
    match err.into_kind() {
        csv::ErrorKind::Utf8 { .. } => Error::invalid(path, position, "not UTF-8"),
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => Error::invalid(path, position, format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_pins_bad_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.csv");
        std::fs::write(
            &path,
            "instance_id,region,edition,owner_uid,device_quota,devices_in_use\n\
             iot-eu0001,eu-central-1,standard,1234,100,40\n\
             iot-x,cn-beijing,premium,1234,,\n",
        )
        .unwrap();
        let rows = read_catalog(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].device_quota, rows[0].devices_in_use), (Some(100), 40));
        assert_eq!((rows[1].device_quota, rows[1].devices_in_use, rows[1].line), (None, 0, 3));

        std::fs::write(
            &path,
            "instance_id,region,edition,owner_uid,device_quota,devices_in_use\n\
             iot-eu0001,eu-central-1,standard,1234,lots,40\n",
        )
        .unwrap();
        let err = read_catalog(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("instances.csv: record 1 (line 2, column \"device_quota\"): \"lots\" is not a whole number"),
            "{err}"
        );
    }
}
