//! The platform's two signature schemes (docs/wire.md §3.1, §3.2), as pure functions over
//! strings: the client signs with them and the emulator verifies with them, so each canonical
//! form has exactly one implementation.
//!
//! - **V3**, ACS3-HMAC-SHA256, what the official SDK sends by default: the signed headers and the
//!   URL query are canonicalised; the body is covered by its SHA-256 only.
//! - **V2**, the RPC HMAC-SHA1 scheme: every parameter, query and form body alike, is signed.

use crate::encode::percent_encode;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::time::SystemTime;

/// The V3 algorithm name, first line of the string-to-sign and first word of `Authorization`.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// The timestamp format of both schemes (`x-acs-date`, V2 `Timestamp`): UTC, whole seconds.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// `t` as both schemes write it, e.g. `2024-01-01T12:00:00Z`.
pub fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).format(TIMESTAMP_FORMAT).to_string()
}

/// The instant of a [`timestamp`]; `None` when it is not of that form.
pub fn parse_timestamp(s: &str) -> Option<SystemTime> {
    let naive = chrono::NaiveDateTime::parse_from_str(s, TIMESTAMP_FORMAT).ok()?;
    Some(naive.and_utc().into())
}

/// Lowercase hex SHA-256 of `bytes` (`x-acs-content-sha256`, the hashed canonical request).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `name=value` pairs, both RFC 3986-encoded, sorted (by encoded name, then value), joined by `&`.
fn canonical_params(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    encoded.sort();
    let mut out = String::new();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The V3 canonical request of an RPC call (canonical URI `/`):
/// `METHOD \n / \n query \n name:value\n… \n name;name… \n body-hash`.
///
/// `query` holds the URL's parameters *decoded* (the signer re-encodes them with RFC 3986, so
/// a wire `dev+002` signs as `dev%20002`). `signed_headers` are (name, value) pairs; names are
/// lowercased and sorted, values trimmed.
pub fn v3_canonical_request(
    method: &str,
    query: &[(String, String)],
    signed_headers: &[(String, String)],
    body_sha256_hex: &str,
) -> String {
    let mut headers: Vec<(String, &str)> =
        signed_headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim())).collect();
    headers.sort();
    let mut out = format!("{method}\n/\n{}\n", canonical_params(query));
    for (name, value) in &headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&v3_signed_header_names(signed_headers));
    out.push('\n');
    out.push_str(body_sha256_hex);
    out
}

/// The `SignedHeaders` value: the lowercase header names, sorted, joined by `;`.
pub fn v3_signed_header_names(signed_headers: &[(String, String)]) -> String {
    let mut names: Vec<String> = signed_headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    names.sort();
    names.join(";")
}

/// `ACS3-HMAC-SHA256 \n HexSHA256(canonical request)`.
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!("{V3_ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Lowercase hex HMAC-SHA256 of the string-to-sign, keyed by the access key secret.
pub fn v3_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value:
/// `ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=<h1;h2…>,Signature=<hex>`.
pub fn v3_authorization(access_key_id: &str, signed_header_names: &str, signature: &str) -> String {
    format!("{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_header_names},Signature={signature}")
}

/// The three fields of a V3 `Authorization` header, as a verifier reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Authorization {
    /// The access key id (`Credential=`).
    pub access_key_id: String,
    /// Lowercase header names the signature covers (`SignedHeaders=`, split on `;`).
    pub signed_headers: Vec<String>,
    /// Lowercase hex signature (`Signature=`).
    pub signature: String,
}

/// Parses a V3 `Authorization` header; `None` when it is not of that form.
pub fn parse_v3_authorization(header: &str) -> Option<V3Authorization> {
    let rest = header.strip_prefix(V3_ALGORITHM)?.strip_prefix(' ')?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let (key, value) = field.trim().split_once('=')?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    Some(V3Authorization {
        access_key_id: credential?.to_string(),
        signed_headers: signed?.split(';').filter(|h| !h.is_empty()).map(str::to_ascii_lowercase).collect(),
        signature: signature?.to_string(),
    })
}

/// The V2 string-to-sign: `METHOD & %2F & pe(canonical)`, where canonical is every parameter
/// (query except `Signature`, plus the decoded form body) as sorted `pe(name)=pe(value)` joined
/// by `&`. The caller leaves `Signature` out of `params`.
pub fn v2_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!("{method}&{}&{}", percent_encode("/"), percent_encode(&canonical_params(params)))
}

/// Base64 HMAC-SHA1 of the string-to-sign, keyed by `secret + "&"`.
pub fn v2_signature(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    //! Every vector of docs/wire.md §3.3, computed by the official SDK's own `Utils`.
    use super::*;
    use crate::encode::form_encode;

    const SECRET: &str = "testsecret";
    const DATE: &str = "2024-01-01T12:00:00Z";
    const NONCE: &str = "3156853299f313e23d1673dc12e1703d";
    const HOST: &str = "iot.cn-shanghai.aliyuncs.com";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const JOB_ID: &str = "UbmsMHmkqv0PiAG****010001";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Vector A's business parameters, all in the form body.
    fn create_params() -> Vec<(String, String)> {
        pairs(&[
            ("DeviceName.1", "dev_001"),
            ("DeviceName.2", "dev 002"),
            ("DeviceName.3", "dev@003"),
            ("ProductKey", "a1BwAGVxxxx"),
            ("SourceInstanceId", "iotx-oxssharez200"),
            ("Strategy", "1"),
            ("TargetInstanceConfig.1.TargetInstanceId", "iotx-oxssharez300"),
            ("TargetInstanceConfig.2.TargetInstanceId", "iotx-oxssharez400"),
            ("TargetUid", "1234567890"),
        ])
    }

    fn v3_headers(action: &str, body_sha: &str, with_body: bool) -> Vec<(String, String)> {
        let mut headers = pairs(&[
            ("host", HOST),
            ("x-acs-action", action),
            ("x-acs-content-sha256", body_sha),
            ("x-acs-date", DATE),
            ("x-acs-signature-nonce", NONCE),
            ("x-acs-version", "2018-01-20"),
        ]);
        if with_body {
            headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        }
        headers
    }

    fn v2_common(action: &str) -> Vec<(String, String)> {
        pairs(&[
            ("Action", action),
            ("Format", "json"),
            ("Version", "2018-01-20"),
            ("Timestamp", DATE),
            ("SignatureNonce", NONCE),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("AccessKeyId", "testid"),
        ])
    }

    #[test]
    fn timestamps_round_trip() {
        let t = parse_timestamp(DATE).unwrap();
        assert_eq!(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_704_110_400);
        assert_eq!(timestamp(t), DATE);
        assert_eq!(parse_timestamp("2024-01-01 12:00:00"), None);
    }

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }

    #[test]
    fn vector_a_v3_create() {
        let body = form_encode(&create_params());
        assert_eq!(
            body,
            "DeviceName.1=dev_001&DeviceName.2=dev+002&DeviceName.3=dev%40003&ProductKey=a1BwAGVxxxx\
             &SourceInstanceId=iotx-oxssharez200&Strategy=1&TargetInstanceConfig.1.TargetInstanceId=iotx-oxssharez300\
             &TargetInstanceConfig.2.TargetInstanceId=iotx-oxssharez400&TargetUid=1234567890"
        );
        let body_sha = sha256_hex(body.as_bytes());
        assert_eq!(body_sha, "4d04174f8e74091e68b521bb1692b6d16bd4522a2442c0e0b7a0bebc17bff139");
        let headers = v3_headers("CreateDeviceDistributeJob", &body_sha, true);
        let canonical = v3_canonical_request("POST", &[], &headers, &body_sha);
        let signature = v3_signature(SECRET, &v3_string_to_sign(&canonical));
        let names = v3_signed_header_names(&headers);
        assert_eq!(
            v3_authorization("testid", &names, &signature),
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;\
             x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=1e925011703d85407bbab9d8dac8aa5cd47ef3141c49e70d3bbf1ed88afc3fd6"
        );
    }

    #[test]
    fn vector_b_v3_query_job_and_its_sts_variant() {
        let query = pairs(&[("JobId", JOB_ID)]);
        let headers = v3_headers("QueryDeviceDistributeJob", EMPTY_SHA256, false);
        let canonical = v3_canonical_request("POST", &query, &headers, EMPTY_SHA256);
        assert_eq!(
            canonical,
            "POST\n/\nJobId=UbmsMHmkqv0PiAG%2A%2A%2A%2A010001\nhost:iot.cn-shanghai.aliyuncs.com\n\
             x-acs-action:QueryDeviceDistributeJob\n\
             x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-acs-date:2024-01-01T12:00:00Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n\
             x-acs-version:2018-01-20\n\n\
             host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = v3_string_to_sign(&canonical);
        assert_eq!(sts, "ACS3-HMAC-SHA256\n1217af44dae40ce759c77749dbef993f4928a30b72e736659ec5049b10f922e5");
        assert_eq!(v3_signature(SECRET, &sts), "bbf7166951136a27395464f0991bfff6c965f5a73bfc2aa6d105c5787b376bb5");

        let mut with_token = headers.clone();
        with_token.push(("x-acs-security-token".into(), "testtoken".into()));
        let canonical = v3_canonical_request("POST", &query, &with_token, EMPTY_SHA256);
        assert_eq!(
            v3_signature(SECRET, &v3_string_to_sign(&canonical)),
            "7caf59993bc58e232fbe5370c96bb65c71e0f18e5b4b51374e1f26a87bb0ab1b"
        );
    }

    #[test]
    fn vector_c_v2_query_job_and_its_sts_variant() {
        let mut params = v2_common("QueryDeviceDistributeJob");
        params.push(("JobId".into(), JOB_ID.into()));
        let sts = v2_string_to_sign("POST", &params);
        assert_eq!(
            sts,
            "POST&%2F&AccessKeyId%3Dtestid%26Action%3DQueryDeviceDistributeJob%26Format%3Djson%26JobId%3D\
             UbmsMHmkqv0PiAG%252A%252A%252A%252A010001%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D\
             3156853299f313e23d1673dc12e1703d%26SignatureVersion%3D1.0%26Timestamp%3D2024-01-01T12%253A00%253A00Z\
             %26Version%3D2018-01-20"
        );
        assert_eq!(v2_signature(SECRET, &sts), "vrpi08TwS2a3u3/NJlNDFp2vs30=");

        params.push(("SecurityToken".into(), "testtoken".into()));
        assert_eq!(v2_signature(SECRET, &v2_string_to_sign("POST", &params)), "mPjRoIzYFLHwLYVa3tAyq2UNFw4=");
    }

    #[test]
    fn vector_d_v2_create_signs_the_body_parameters() {
        let mut params = v2_common("CreateDeviceDistributeJob");
        params.extend(create_params());
        let signature = v2_signature(SECRET, &v2_string_to_sign("POST", &params));
        assert_eq!(signature, "mrlFBHEaNCnrYV+n1yG0tMfusPw=");
        assert_eq!(percent_encode(&signature), "mrlFBHEaNCnrYV%2Bn1yG0tMfusPw%3D");
    }

    #[test]
    fn vector_e_v3_full_sdk_header_set() {
        let body_sha = sha256_hex(form_encode(&create_params()).as_bytes());
        let mut headers = v3_headers("CreateDeviceDistributeJob", &body_sha, true);
        headers.extend(pairs(&[
            ("accept", "application/json"),
            ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"),
            ("x-acs-credentials-provider", "static_ak"),
        ]));
        assert_eq!(
            v3_signed_header_names(&headers),
            "accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;\
             x-acs-date;x-acs-signature-nonce;x-acs-version"
        );
        let sts = v3_string_to_sign(&v3_canonical_request("POST", &[], &headers, &body_sha));
        assert_eq!(sts, "ACS3-HMAC-SHA256\n3442414db9c40a68bc723616e37af05341160317f995d81e16be6a6234eac474");
        assert_eq!(v3_signature(SECRET, &sts), "17af72e096914ea16b9a1e12af87d913e072de23fbb402e65e001dc899eca190");
    }

    #[test]
    fn header_names_are_case_insensitive_and_values_trimmed() {
        let a = pairs(&[("Host", " h "), ("X-Acs-Date", "d")]);
        let b = pairs(&[("x-acs-date", "d"), ("host", "h")]);
        assert_eq!(v3_canonical_request("POST", &[], &a, "x"), v3_canonical_request("POST", &[], &b, "x"));
    }

    #[test]
    fn authorization_round_trips_through_the_parser() {
        let header = v3_authorization("testid", "host;x-acs-date", "abc");
        assert_eq!(
            parse_v3_authorization(&header),
            Some(V3Authorization {
                access_key_id: "testid".into(),
                signed_headers: vec!["host".into(), "x-acs-date".into()],
                signature: "abc".into(),
            })
        );
        assert_eq!(parse_v3_authorization("ACS3-HMAC-SHA256 Credential=x,Signature=y"), None);
        assert_eq!(parse_v3_authorization("Bearer x"), None);
    }
}
