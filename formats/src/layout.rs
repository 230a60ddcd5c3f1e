//! Which column holds which field (docs/inputs.md §3.1, §3.2): the header model every reader uses. It knows the
//! names of the columns and nothing of what their values mean: checking a record is the engine's job.

use std::path::Path;

use crate::error::{Error, Position};

/// A column devdist understands. Every other column is runtime or unknown data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// ProductKey of the certificate.
    ProductKey,
    /// DeviceName of the certificate.
    DeviceName,
    /// DeviceSecret of the certificate.
    DeviceSecret,
    /// Instance that holds the device now (owner side).
    SourceInstance,
    /// Region of the source instance, checked against the catalog.
    SourceRegion,
    /// Instance the device is distributed to now, if any.
    CurrentInstance,
    /// Account of `CurrentInstance`.
    CurrentUid,
    /// Per-row destination instance.
    TargetInstance,
    /// Per-row destination account.
    TargetUid,
    /// `true` blocks the whole product.
    Authorized,
    /// `true` blocks the whole product.
    Transferred,
    /// `product_key/device_name` of the device's gateway.
    Gateway,
    /// clientId of a captured MQTT login.
    SignClientId,
    /// Signing method of a captured MQTT login.
    SignMethod,
    /// Timestamp of a captured MQTT login.
    SignTimestamp,
    /// Password of a captured MQTT login.
    SignPassword,
    /// Written by `devdist redrive` only: the code with which the platform refused the device
    /// for good in the run being re-driven; a non-empty value rejects the record.
    PlatformCode,
}

impl Field {
    /// Every field, in the order of docs/inputs.md §3.1.
    pub const ALL: [Field; 17] = [
        Field::ProductKey,
        Field::DeviceName,
        Field::DeviceSecret,
        Field::SourceInstance,
        Field::SourceRegion,
        Field::CurrentInstance,
        Field::CurrentUid,
        Field::TargetInstance,
        Field::TargetUid,
        Field::Authorized,
        Field::Transferred,
        Field::Gateway,
        Field::SignClientId,
        Field::SignMethod,
        Field::SignTimestamp,
        Field::SignPassword,
        Field::PlatformCode,
    ];

    /// The snake_case name used in messages and outputs.
    pub fn name(self) -> &'static str {
        match self {
            Field::ProductKey => "product_key",
            Field::DeviceName => "device_name",
            Field::DeviceSecret => "device_secret",
            Field::SourceInstance => "source_instance",
            Field::SourceRegion => "source_region",
            Field::CurrentInstance => "current_instance",
            Field::CurrentUid => "current_uid",
            Field::TargetInstance => "target_instance",
            Field::TargetUid => "target_uid",
            Field::Authorized => "authorized",
            Field::Transferred => "transferred",
            Field::Gateway => "gateway",
            Field::SignClientId => "sign_client_id",
            Field::SignMethod => "sign_method",
            Field::SignTimestamp => "sign_timestamp",
            Field::SignPassword => "sign_password",
            Field::PlatformCode => "platform_code",
        }
    }

    /// Whether an inventory must have the column (and every record a value in it).
    pub fn required(self) -> bool {
        matches!(self, Field::ProductKey | Field::DeviceName | Field::DeviceSecret | Field::SourceInstance)
    }

    /// Header spellings beyond the name itself (which any case and any `_` also match: `ProductKey`,
    /// `PRODUCT_KEY`). Matched like the name: case-insensitive, `_` ignored.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::SourceInstance => &["IotInstanceId", "SourceInstanceId"],
            _ => &[],
        }
    }

    /// What the column holds, in one sentence, for `devdist explain inventory`.
    pub fn meaning(self) -> &'static str {
        match self {
            Field::ProductKey => {
                "ProductKey of the certificate: 1-20 ASCII letters and digits (the platform issues 11)."
            }
            Field::DeviceName => "DeviceName of the certificate: 4-32 characters of A-Z a-z 0-9 _ - @ . :",
            Field::DeviceSecret => {
                "DeviceSecret of the certificate: 1-64 characters of the DeviceName alphabet (the platform issues 32 \
                 letters and digits); written only into device manifests."
            }
            Field::SourceInstance => "The device's home: the instance it is registered in; it must be in the catalog.",
            Field::SourceRegion => "When non-empty, must equal the catalog region of source_instance.",
            Field::CurrentInstance => {
                "Where the device is distributed to now, if anywhere: its job leaves from there (not checked against the \
                 catalog)."
            }
            Field::CurrentUid => {
                "The account of current_instance (billing); default the plan's account. Another account makes the \
                 device console work."
            }
            Field::TargetInstance => "Per-row destination instance; overrides the routes (strategy specified_region).",
            Field::TargetUid => "Per-row destination account; default the plan's account.",
            Field::Authorized => {
                "true/1/yes/y/t (any case) blocks the device's whole product; empty/false/0/no/n/f blocks nothing; any \
                 other value blocks it too."
            }
            Field::Transferred => "Like authorized: a marking that blocks the device's whole product.",
            Field::Gateway => {
                "The device's gateway as product_key/device_name (e.g. a1BwAGVeu01/gw-0001); only for the \
                 topology_split warning."
            }
            Field::SignClientId => "clientId of a captured MQTT login.",
            Field::SignMethod => "hmacmd5, hmacsha1 or hmacsha256 (any case) of a captured MQTT login.",
            Field::SignTimestamp => "timestamp of a captured MQTT login; empty when the login had none.",
            Field::SignPassword => {
                "password of a captured MQTT login; when non-empty the secret is checked by recomputing it \
                 (signature_mismatch)."
            }
            Field::PlatformCode => {
                "Written by devdist redrive and devdist return only; in their derived plans a non-empty value rejects \
                 the record (refused_by_platform, not_returned)."
            }
        }
    }

    /// The field a header cell names, if any: case-insensitive, snake_case or PascalCase.
    pub fn from_header(name: &str) -> Option<Field> {
        let key = normalize(name);
        Field::ALL
            .into_iter()
            .find(|field| normalize(field.name()) == key || field.aliases().iter().any(|alias| normalize(alias) == key))
    }

    /// The field a column that is *not* one of them may have been meant as (`TargetInstanceId`,
    /// `CurrentInstance`, `RegionId`, `GatewayDeviceName`, `target instance`): its name holds a
    /// field's name or the field's telling word. Such a column is still never read as the
    /// field — names differ between exports (the platform's `TargetInstanceId` means where a
    /// device is now in one API and where it goes in another) — but the run warns about it,
    /// so an operator whose per-row targets were ignored finds out before anything moves.
    pub fn may_mean(name: &str) -> Option<Field> {
        let key: String = normalize(name).chars().filter(char::is_ascii_alphanumeric).collect();
        if key.is_empty() || Field::from_header(name).is_some() {
            return None;
        }
        // A word only one field has first (`GatewayDeviceName` is the gateway, not the device),
        // then any field's whole name.
        let whole = || Field::ALL.into_iter().find(|field| key.contains(&normalize(field.name())));
        {
            const WORDS: [(&str, Field); 12] = [
                ("targetinstance", Field::TargetInstance),
                ("targetuid", Field::TargetUid),
                ("targetaliyunid", Field::TargetUid),
                ("currentinstance", Field::CurrentInstance),
                ("currentuid", Field::CurrentUid),
                ("gateway", Field::Gateway),
                ("region", Field::SourceRegion),
                ("secret", Field::DeviceSecret),
                ("authoriz", Field::Authorized),
                ("transfer", Field::Transferred),
                ("productkey", Field::ProductKey),
                ("devicename", Field::DeviceName),
            ];
            WORDS.iter().find(|(word, _)| key.contains(word)).map(|&(_, field)| field)
        }
        .or_else(whole)
    }

    /// Position of the field in [`Field::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a header may have none of the required columns although it names them: a spreadsheet
/// export with `;` or tabs between cells, or UTF-16 text. Empty when nothing suggests either.
fn header_hint(names: &[String]) -> &'static str {
    let joined = names.concat();
    if joined.contains('\0') {
        "; the header holds NUL characters (UTF-16 text? save the file as UTF-8 CSV)"
    } else if joined.starts_with(['\u{fffe}', '\u{feff}']) {
        "; the header starts with a second byte-order mark (save the file as UTF-8 CSV, with one BOM or none)"
    } else if names.len() == 1 && joined.contains(';') {
        "; the header has one column holding `;`: the file looks `;`-separated (save it as comma-separated CSV)"
    } else if names.len() == 1 && joined.contains('\t') {
        "; the header has one column holding tabs: the file looks tab-separated (save it as comma-separated CSV)"
    } else {
        ""
    }
}

/// Lower case without underscores or surrounding blanks: `Product_Key`, `productKey` and
/// `ProductKey` all become `productkey`.
fn normalize(name: &str) -> String {
    name.trim().chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

/// Which column of one file holds which field; the rest are runtime columns.
#[derive(Debug, Clone)]
pub struct Layout {
    pub(crate) columns: Vec<String>,
    pub(crate) known: [Option<usize>; Field::ALL.len()],
    pub(crate) runtime: Vec<usize>,
}

impl Layout {
    /// Maps a header. Fails, naming every problem at once, when a required column is
    /// missing or two columns name the same field.
    pub fn from_header(path: &Path, line: u64, names: &[String]) -> Result<Layout, Error> {
        Layout::from_names(path, Position::line(line), names)
    }

    /// [`Layout::from_header`] for formats without lines (Parquet): problems are reported at
    /// `position`.
    pub(crate) fn from_names(path: &Path, position: Position, names: &[String]) -> Result<Layout, Error> {
        let mut known = [None; Field::ALL.len()];
        let mut runtime = Vec::new();
        let mut problems = Vec::new();
        for (index, name) in names.iter().enumerate() {
            match Field::from_header(name) {
                Some(field) => match known[field.index()] {
                    Some(first) => problems.push(format!(
                        "columns {} ({:?}) and {} ({:?}) both mean {}",
                        first + 1,
                        names[first],
                        index + 1,
                        name,
                        field.name()
                    )),
                    None => known[field.index()] = Some(index),
                },
                None => runtime.push(index),
            }
        }
        let missing: Vec<String> = Field::ALL
            .into_iter()
            .filter(|field| field.required() && known[field.index()].is_none())
            .map(|field| format!("{:?}", field.name()))
            .collect();
        if !missing.is_empty() {
            let noun = if missing.len() == 1 { "column" } else { "columns" };
            let hint = header_hint(names);
            problems.insert(0, format!("missing required {noun} {}{hint}", missing.join(", ")));
        }
        if !problems.is_empty() {
            return Err(Error::invalid(path, position, problems.join("; ")));
        }
        Ok(Layout { columns: names.to_vec(), known, runtime })
    }

    /// Number of columns in the header.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// The column that holds `field`, if the file has it.
    pub fn column(&self, field: Field) -> Option<usize> {
        self.known[field.index()]
    }

    /// Header names as written.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Indices of the columns devdist does not understand (runtime or unknown data).
    pub fn runtime_columns(&self) -> &[usize] {
        &self.runtime
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;

    pub(crate) fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn header_aliases_map_to_fields() {
        for spelling in ["product_key", "ProductKey", "PRODUCT_KEY", " productKey "] {
            assert_eq!(Field::from_header(spelling), Some(Field::ProductKey), "{spelling}");
        }
        assert_eq!(Field::from_header("IotInstanceId"), Some(Field::SourceInstance));
        assert_eq!(Field::from_header("SourceInstanceId"), Some(Field::SourceInstance));
        assert_eq!(Field::from_header("status"), None);
        for (column, field) in [
            ("TargetInstanceId", Field::TargetInstance),
            ("CurrentInstanceId", Field::CurrentInstance),
            ("RegionId", Field::SourceRegion),
            ("GatewayDeviceName", Field::Gateway),
            ("target instance", Field::TargetInstance),
            ("TargetAliyunId", Field::TargetUid),
        ] {
            assert_eq!(Field::may_mean(column), Some(field), "{column}");
        }
        for column in ["status", "last_online", "shadow", "firmware", "product_key", "IotInstanceId"] {
            assert_eq!(Field::may_mean(column), None, "{column}");
        }
    }

    #[test]
    fn a_semicolon_tab_or_utf16_header_gets_a_hint() {
        let err = |header: &[&str]| {
            let names: Vec<String> = header.iter().map(|s| s.to_string()).collect();
            Layout::from_header(Path::new("d.csv"), 1, &names).unwrap_err().to_string()
        };
        let semicolon = err(&["product_key;device_name;device_secret;source_instance"]);
        assert!(semicolon.contains("the file looks `;`-separated"), "{semicolon}");
        assert!(err(&["product_key\tdevice_name"]).contains("looks tab-separated"));
        assert!(err(&["\0p\0r\0o\0d"]).contains("holds NUL characters (UTF-16 text?"));
        assert!(err(&["\u{feff}product_key", "device_name"]).contains("a second byte-order mark"));
        assert!(!err(&["product_key", "device_name"]).contains("looks"));
    }

    #[test]
    fn layout_names_every_missing_column_and_collision() {
        let header = names(&["ProductKey", "product_key", "status"]);
        let err = Layout::from_header(Path::new("d.csv"), 1, &header).unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.csv: line 1: missing required columns \"device_name\", \"device_secret\", \
             \"source_instance\"; columns 1 (\"ProductKey\") and 2 (\"product_key\") both mean \
             product_key"
        );
    }
}
