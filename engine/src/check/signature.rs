//! MQTT one-device-one-secret signatures (docs/inputs.md §5.3): recompute the password of a captured login.

use hmac::{Hmac, KeyInit, Mac};

/// The parts of a captured login, as read from the record.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// `sign_method`: hmacmd5, hmacsha1 or hmacsha256 (any case).
    pub method: &'a str,
    /// `sign_client_id`.
    pub client_id: &'a str,
    /// `sign_timestamp`; left out of the message when empty.
    pub timestamp: &'a str,
    /// `sign_password`, hex in any case.
    pub password: &'a str,
}

/// Why a login does not verify. Never names the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// `sign_method` is not one of the three.
    UnknownMethod,
    /// The password is not the HMAC of the certificate.
    Password,
}

/// Checks `login` against the certificate `(product_key, device_name, secret)`.
pub fn verify(login: &Login, product_key: &str, device_name: &str, secret: &str) -> Result<(), Mismatch> {
    let method = login.method.trim();
    let message = Message { login, product_key, device_name };
    if method.eq_ignore_ascii_case("hmacsha256") {
        message.verify::<Hmac<sha2::Sha256>>(secret)
    } else if method.eq_ignore_ascii_case("hmacsha1") {
        message.verify::<Hmac<sha1::Sha1>>(secret)
    } else if method.eq_ignore_ascii_case("hmacmd5") {
        message.verify::<Hmac<md5::Md5>>(secret)
    } else {
        Err(Mismatch::UnknownMethod)
    }
}

struct Message<'a> {
    login: &'a Login<'a>,
    product_key: &'a str,
    device_name: &'a str,
}

impl Message<'_> {
    fn verify<M: Mac + KeyInit>(&self, secret: &str) -> Result<(), Mismatch> {
        let login = self.login;
        let mut expected = [0u8; 64];
        let hex = self.login.password.trim().as_bytes();
        let size = hex.len() / 2;
        if !hex.len().is_multiple_of(2) || size > expected.len() {
            return Err(Mismatch::Password);
        }
        decode_hex(hex, &mut expected[..size]).ok_or(Mismatch::Password)?;
        let parts = [login.client_id, self.device_name, self.product_key, login.timestamp].map(str::as_bytes);
        login_mac::<M>(parts, secret.as_bytes()).verify_slice(&expected[..size]).map_err(|_| Mismatch::Password)
    }
}

/// Decodes hex digits (either case) into `out`, which holds half as many bytes; `None` on any
/// other character. One table lookup per digit: this runs once per signed record.
fn decode_hex(hex: &[u8], out: &mut [u8]) -> Option<()> {
    const INVALID: u8 = 0xff;
    const VALUES: [u8; 256] = {
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            table[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    for (pair, byte) in hex.chunks_exact(2).zip(out) {
        let (high, low) = (VALUES[pair[0] as usize], VALUES[pair[1] as usize]);
        if high == INVALID || low == INVALID {
            return None;
        }
        *byte = high << 4 | low;
    }
    Some(())
}

/// The MAC of a login message, pairs in the order of docs/inputs.md §5.3:
/// "clientId"+cid, "deviceName"+dn, "productKey"+pk, then "timestamp"+ts when there is one.
/// The one builder of that message: the checks verify with it, the generator signs with it.
pub fn login_mac<M: Mac + KeyInit>([client_id, device_name, product_key, timestamp]: [&[u8]; 4], secret: &[u8]) -> M {
    let mut mac = <M as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"clientId");
    mac.update(client_id);
    mac.update(b"deviceName");
    mac.update(device_name);
    mac.update(b"productKey");
    mac.update(product_key);
    if !timestamp.is_empty() {
        mac.update(b"timestamp");
        mac.update(timestamp);
    }
    mac
}

/// Computes a password the way a device does; used by the generator and by tests.
pub fn sign(
    method: &str,
    client_id: &str,
    device_name: &str,
    product_key: &str,
    timestamp: &str,
    secret: &str,
) -> Option<String> {
    fn run<M: Mac + KeyInit>(parts: [&str; 4], secret: &str) -> String {
        hex::encode(login_mac::<M>(parts.map(str::as_bytes), secret.as_bytes()).finalize().into_bytes())
    }
    let parts = [client_id, device_name, product_key, timestamp];
    match method {
        "hmacsha256" => Some(run::<Hmac<sha2::Sha256>>(parts, secret)),
        "hmacsha1" => Some(run::<Hmac<sha1::Sha1>>(parts, secret)),
        "hmacmd5" => Some(run::<Hmac<md5::Md5>>(parts, secret)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decoding_takes_either_case_and_nothing_else() {
        let bytes: Vec<u8> = (0..=255).collect();
        for text in [hex::encode(&bytes), hex::encode_upper(&bytes)] {
            let mut out = [0u8; 256];
            assert_eq!(decode_hex(text.as_bytes(), &mut out), Some(()));
            assert_eq!(out.as_slice(), bytes.as_slice());
        }
        for bad in ["0g", "g0", " 0", "0 ", "+1", "\u{ff}0"] {
            assert_eq!(decode_hex(bad.as_bytes(), &mut [0u8; 2]), None, "{bad:?}");
        }
    }

    const VECTORS: [(&str, &str); 3] = [
        ("hmacsha1", "FAFD82A3D602B37FB0FA8B7892F24A477F851A14"),
        ("hmacsha256", "6074A46A91B1EBB2CC4EA42790AD0E80202C9843859FC292E57C4EB19FAD9E57"),
        ("hmacmd5", "14B198324FE55E1D3C88F2E705E201EE"),
    ];

    #[test]
    fn spec_test_vectors_verify_in_any_case() {
        for (method, password) in VECTORS {
            for password in [password.to_string(), password.to_lowercase()] {
                let login = Login { method, client_id: "12345", timestamp: "789", password: &password };
                assert_eq!(verify(&login, "pk", "device", "secret"), Ok(()), "{method}");
            }
            assert_eq!(sign(method, "12345", "device", "pk", "789", "secret").unwrap(), password.to_lowercase());
        }
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let (method, password) = VECTORS[1];
        let login = Login { method, client_id: "12345", timestamp: "789", password };
        assert_eq!(verify(&login, "pk", "device", "secreT"), Err(Mismatch::Password));
        assert_eq!(verify(&login, "pk", "devicE", "secret"), Err(Mismatch::Password));
        let no_timestamp = Login { timestamp: "", ..login };
        assert_eq!(verify(&no_timestamp, "pk", "device", "secret"), Err(Mismatch::Password));
        let bad_hex = Login { password: "zz", ..login };
        assert_eq!(verify(&bad_hex, "pk", "device", "secret"), Err(Mismatch::Password));
        let unknown = Login { method: "hmacsha512", ..login };
        assert_eq!(verify(&unknown, "pk", "device", "secret"), Err(Mismatch::UnknownMethod));
    }
}
