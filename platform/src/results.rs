//! The per-device result file that QueryDeviceDistributeDetail points to.
//!
//! Its real format is unpublished (docs/wire.md §8), so [`parse`] sniffs it: JSON (one
//! object per line, the emulator's documented assumption, or one array) when the first
//! non-blank byte is `{` or `[`, else CSV with a header row. Each device has a `Code`; `200`
//! means distributed.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// The code of a device that was distributed.
pub const CODE_DISTRIBUTED: &str = "200";

/// One device's outcome inside a job. Written by the emulator as a JSON line
/// `{"ProductKey","DeviceName","Code","Message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceResult {
    /// ProductKey.
    pub product_key: String,
    /// DeviceName.
    pub device_name: String,
    /// Code: `200` = distributed, anything else is the reason it was not. A JSON number is read
    /// as its decimal text.
    #[serde(deserialize_with = "code_text")]
    pub code: String,
    /// Message; empty when absent.
    #[serde(default)]
    pub message: String,
}

impl DeviceResult {
    /// Whether the device was distributed.
    pub fn is_distributed(&self) -> bool {
        self.code == CODE_DISTRIBUTED
    }
}

fn code_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Text(String),
        Number(i64),
    }
    Ok(match Code::deserialize(d)? {
        Code::Text(s) => s,
        Code::Number(n) => n.to_string(),
    })
}

/// Why a result file could not be read, with the line where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsError {
    /// 1-based line of the file.
    pub line: u64,
    /// What is wrong there.
    pub reason: String,
}

impl fmt::Display for ResultsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "result file: line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ResultsError {}

/// Parses a result file, JSON or CSV (see the module docs).
pub fn parse(bytes: &[u8]) -> Result<Vec<DeviceResult>, ResultsError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(Vec::new()),
        Some(b'[') => serde_json::from_slice(bytes).map_err(|e| json_error(e, 0)),
        Some(b'{') => parse_json_lines(bytes),
        Some(_) => parse_csv(bytes),
    }
}

fn json_error(e: serde_json::Error, line_offset: u64) -> ResultsError {
    ResultsError { line: line_offset + e.line() as u64, reason: format!("{e}") }
}

fn parse_json_lines(bytes: &[u8]) -> Result<Vec<DeviceResult>, ResultsError> {
    let mut results = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        results.push(serde_json::from_slice(line).map_err(|e| json_error(e, i as u64))?);
    }
    Ok(results)
}

/// A header's name folded for matching: lowercase, without `_`, `-` or spaces.
fn fold(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, '_' | '-' | ' ')).flat_map(char::to_lowercase).collect()
}

fn parse_csv(bytes: &[u8]) -> Result<Vec<DeviceResult>, ResultsError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let csv_error = |e: csv::Error| ResultsError { line: e.position().map_or(0, |p| p.line()), reason: e.to_string() };
    let headers: Vec<String> = reader.headers().map_err(csv_error)?.iter().map(fold).collect();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let required = |names: &[&str]| {
        column(names).ok_or_else(|| ResultsError {
            line: 1,
            reason: format!("CSV header has no {:?} column (found {:?})", names[0], headers),
        })
    };
    let product_key = required(&["productkey"])?;
    let device_name = required(&["devicename"])?;
    let code = required(&["code", "errorcode", "resultcode"])?;
    let message = column(&["message", "errormessage", "msg"]);
    let mut results = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let field = |i: usize| record.get(i).unwrap_or_default().to_string();
        results.push(DeviceResult {
            product_key: field(product_key),
            device_name: field(device_name),
            code: field(code),
            message: message.map(field).unwrap_or_default(),
        });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(pk: &str, name: &str, code: &str, message: &str) -> DeviceResult {
        DeviceResult { product_key: pk.into(), device_name: name.into(), code: code.into(), message: message.into() }
    }

    #[test]
    fn json_lines_as_the_emulator_writes_them() {
        let written: Vec<DeviceResult> = vec![result("pk", "d1", "200", ""), result("pk", "d 2", "6208", "no such")];
        let mut file = Vec::new();
        for r in &written {
            serde_json::to_writer(&mut file, r).unwrap();
            file.push(b'\n');
        }
        assert_eq!(parse(&file).unwrap(), written);
        assert!(written[0].is_distributed() && !written[1].is_distributed());
    }

    #[test]
    fn json_numbers_blank_lines_arrays_and_a_bom() {
        let file = b"\xEF\xBB\xBF{\"ProductKey\":\"pk\",\"DeviceName\":\"d1\",\"Code\":200}\n\n";
        assert_eq!(parse(file).unwrap(), vec![result("pk", "d1", "200", "")]);
        let file = br#" [{"ProductKey":"pk","DeviceName":"d1","Code":"500","Message":"m"}]"#;
        assert_eq!(parse(file).unwrap(), vec![result("pk", "d1", "500", "m")]);
        assert_eq!(parse(b"  \n").unwrap(), vec![]);
    }

    #[test]
    fn csv_with_a_header_in_any_casing_and_column_order() {
        let file = b"Code,device_name,ProductKey,ErrorMessage\n200,d1,pk,\n9201,\"d,2\",pk,\"failed, sorry\"\n";
        assert_eq!(
            parse(file).unwrap(),
            vec![result("pk", "d1", "200", ""), result("pk", "d,2", "9201", "failed, sorry")]
        );
        let file = b"product_key,device_name,code\npk,d1,200\n";
        assert_eq!(parse(file).unwrap(), vec![result("pk", "d1", "200", "")]);
    }

    #[test]
    fn errors_name_the_line() {
        let file = b"{\"ProductKey\":\"pk\",\"DeviceName\":\"d1\",\"Code\":\"200\"}\n{\"ProductKey\":\"pk\",\"Code\":\"200\"}\n";
        let err = parse(file).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().starts_with("result file: line 2: missing field `DeviceName`"), "{err}");
        let err = parse(b"pk,name\nx,y\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "result file: line 1: CSV header has no \"productkey\" column (found [\"pk\", \"name\"])"
        );
        let err = parse(b"productkey,devicename,code\npk,d1\n").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }
}
