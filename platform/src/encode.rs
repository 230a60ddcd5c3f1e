//! Percent-encoding as the platform's two canonical forms and the SDK's form bodies use it.
//!
//! Two encodings exist on the wire (docs/wire.md §2.2): the *canonical* one that is signed,
//! RFC 3986 [`percent_encode`] (space → `%20`), and the *form* one that is sent, Python's
//! `urlencode` ([`form_encode`], space → `+`). The receiver form-decodes what it gets
//! ([`form_decode`]) and re-encodes it canonically before checking a signature.

use std::fmt;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 unreserved characters: the only bytes neither encoding escapes.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn push_escaped(out: &mut String, b: u8) {
    out.push('%');
    out.push(HEX_UPPER[usize::from(b >> 4)] as char);
    out.push(HEX_UPPER[usize::from(b & 0xF)] as char);
}

/// RFC 3986 percent-encoding, the `pe()` of both signature schemes: `A–Z a–z 0–9 - _ . ~` stay,
/// every other UTF-8 byte becomes `%XX` with uppercase hex (space → `%20`, `*` → `%2A`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

/// Python's `quote_plus`: like [`percent_encode`] but space → `+`.
fn form_escape(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            push_escaped(out, b);
        }
    }
}

/// The SDK's `application/x-www-form-urlencoded` body: pairs sorted by key (bytes, so
/// `DeviceName.1 < DeviceName.10 < DeviceName.2`), `key=value` joined with `&`, space → `+`,
/// `@` → `%40` (docs/wire.md §2.2). Pairs with equal keys keep their given order.
pub fn form_encode(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (i, (key, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_escape(&mut out, key);
        out.push('=');
        form_escape(&mut out, value);
    }
    out
}

/// Why a form string could not be decoded, with the byte offset where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the input of the offending `%` or of the pair that is not UTF-8.
    pub offset: usize,
    /// What is wrong there.
    pub reason: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "form data: byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a query string or form body: pairs split on `&`, key and value on the first `=`
/// (a pair without `=` has an empty value, empty pairs are skipped), `+` → space, `%XX` → byte,
/// and the bytes must be UTF-8. Order is kept; duplicate keys are kept.
pub fn form_decode(s: &str) -> Result<Vec<(String, String)>, DecodeError> {
    let mut pairs = Vec::new();
    let mut offset = 0;
    for part in s.split('&') {
        if !part.is_empty() {
            let (key, value, value_at) = match part.find('=') {
                Some(eq) => (&part[..eq], &part[eq + 1..], offset + eq + 1),
                None => (part, "", offset + part.len()),
            };
            pairs.push((unescape(key, offset)?, unescape(value, value_at)?));
        }
        offset += part.len() + 1;
    }
    Ok(pairs)
}

fn unescape(s: &str, at: usize) -> Result<String, DecodeError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| Some(hex_val(h[0])? << 4 | hex_val(h[1])?));
                let Some(b) = hex else {
                    return Err(DecodeError { offset: at + i, reason: "'%' not followed by two hex digits" });
                };
                out.push(b);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| DecodeError { offset: at, reason: "decoded bytes are not UTF-8" })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn percent_encode_is_rfc3986() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode("dev 002"), "dev%20002");
        assert_eq!(percent_encode("UbmsMHmkqv0PiAG****010001"), "UbmsMHmkqv0PiAG%2A%2A%2A%2A010001");
        assert_eq!(percent_encode("a/b=c&d+e@f:"), "a%2Fb%3Dc%26d%2Be%40f%3A");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn form_encode_sorts_keys_by_bytes_and_uses_plus() {
        let body =
            form_encode(&pairs(&[("DeviceName.2", "dev 002"), ("DeviceName.10", "x*"), ("DeviceName.1", "dev@003")]));
        assert_eq!(body, "DeviceName.1=dev%40003&DeviceName.10=x%2A&DeviceName.2=dev+002");
        assert_eq!(form_encode(&[]), "");
    }

    #[test]
    fn form_decode_inverts_form_encode() {
        let original = pairs(&[("A", "dev 002"), ("B", "x+y=z&é"), ("C", "")]);
        assert_eq!(form_decode(&form_encode(&original)).unwrap(), original);
        assert_eq!(form_decode("a&&b=1").unwrap(), pairs(&[("a", ""), ("b", "1")]));
        assert_eq!(form_decode("").unwrap(), vec![]);
        assert_eq!(form_decode("k=%2a%2A").unwrap(), pairs(&[("k", "**")]));
    }

    #[test]
    fn form_decode_reports_where_it_fails() {
        let err = form_decode("ok=1&bad=ab%G1").unwrap_err();
        assert_eq!(err.to_string(), "form data: byte 11: '%' not followed by two hex digits");
        let err = form_decode("k=%").unwrap_err();
        assert_eq!(err.offset, 2);
        let err = form_decode("x=1&k=%FF").unwrap_err();
        assert_eq!(err.to_string(), "form data: byte 6: decoded bytes are not UTF-8");
    }
}
