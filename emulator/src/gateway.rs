//! The API gateway in front of the distribution service: it authenticates each call (V3
//! ACS3-HMAC-SHA256 over whatever `SignedHeaders` lists, or V2 RPC HMAC-SHA1), refuses replays
//! and stale clocks, and hands on the action and its business parameters, query and form body
//! merged. Canonical forms come from `devdist_platform::sign`, the client's own signer.

use std::collections::HashMap;

use devdist_platform::api::API_VERSION;
use devdist_platform::encode::{form_decode, percent_encode};
use devdist_platform::{Credentials, Scheme, sign};

use crate::distribution::{Failure, Now, Params};

/// How far a request's time may be from the emulator's (docs/wire.md §9.1).
pub const MAX_CLOCK_SKEW_MS: u64 = 15 * 60 * 1000;

/// What the gateway sees of a request.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The URL's query string as sent (without `?`).
    pub query: &'a str,
    /// Headers, names lowercase.
    pub headers: &'a [(String, String)],
    /// The body as sent.
    pub body: &'a [u8],
}

impl Call<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// An authenticated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The action named.
    pub action: String,
    /// Business parameters, query and form merged (common parameters removed).
    pub params: Params,
    /// The scheme it was signed with.
    pub scheme: Scheme,
    /// Whether it carried the STS token.
    pub sts: bool,
}

/// V2 common parameters: signed, but not the action's own.
const V2_COMMON: [&str; 11] = [
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "AccessKeyId",
    "Signature",
    "SecurityToken",
    "RegionId",
];

/// V3 headers a signature must cover, so that neither the call nor its nonce and date can be
/// altered or replayed.
const V3_MUST_SIGN: [&str; 6] =
    ["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"];

fn bad(code: &str, message: impl Into<String>) -> Failure {
    Failure::gateway(400, code, message)
}

/// Authenticates calls for one account.
#[derive(Debug)]
pub struct Gateway {
    credentials: Credentials,
    /// Nonces seen, with the monotonic time they were seen.
    nonces: HashMap<String, u64>,
}

impl Gateway {
    /// A gateway for the account that owns `credentials`: the access key it accepts and, when
    /// set, the STS token it accepts with it (calls without a token are accepted too).
    pub fn new(credentials: Credentials) -> Gateway {
        Gateway { credentials, nonces: HashMap::new() }
    }

    /// Checks a call's signature, time and nonce; returns its action and parameters.
    pub fn authenticate(&mut self, call: &Call<'_>, now: Now) -> Result<Authenticated, Failure> {
        let query = decode(call.query, "the query")?;
        let form = match call.body {
            [] => Vec::new(),
            body => decode(
                std::str::from_utf8(body).map_err(|_| bad("InvalidParameter", "the form body is not UTF-8"))?,
                "the form body",
            )?,
        };
        let authorization = call.header("authorization");
        let (scheme, action, nonce, sts) = if let Some(authorization) = authorization {
            self.verify_v3(call, authorization, &query, now)?
        } else if query.iter().any(|(key, _)| key == "Signature") {
            self.verify_v2(call, &query, &form, now)?
        } else {
            return Err(bad(
                "MissingAuthorization",
                "The request carries neither an Authorization header nor a Signature.",
            ));
        };
        // A nonce counts once its request is known genuine, so a forger cannot burn nonces.
        self.nonces.retain(|_, seen| now.mono.saturating_sub(*seen) <= 2 * MAX_CLOCK_SKEW_MS);
        if self.nonces.insert(nonce, now.mono).is_some() {
            return Err(bad("SignatureNonceUsed", "Specified signature nonce was used already."));
        }
        let mut params = Params::new();
        for (key, value) in query.into_iter().chain(form) {
            if scheme == Scheme::V3 || !V2_COMMON.contains(&key.as_str()) {
                params.insert(key, value);
            }
        }
        Ok(Authenticated { action, params, scheme, sts })
    }

    fn verify_v3(
        &self,
        call: &Call<'_>,
        authorization: &str,
        query: &[(String, String)],
        now: Now,
    ) -> Result<(Scheme, String, String, bool), Failure> {
        let incomplete =
            |why: String| bad("IncompleteSignature", format!("The request signature is incomplete: {why}."));
        let parsed = sign::parse_v3_authorization(authorization).ok_or_else(|| {
            incomplete("Authorization is not `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`".into())
        })?;
        for name in V3_MUST_SIGN {
            if !parsed.signed_headers.iter().any(|signed| signed == name) {
                return Err(incomplete(format!("SignedHeaders must include {name}")));
            }
        }
        let header = |name: &str| call.header(name).unwrap_or("");
        let token = call.header("x-acs-security-token");
        if token.is_some() && !parsed.signed_headers.iter().any(|signed| signed == "x-acs-security-token") {
            return Err(incomplete("SignedHeaders must include x-acs-security-token".into()));
        }
        self.check_key(&parsed.access_key_id, token)?;
        check_version(header("x-acs-version"))?;
        check_time(header("x-acs-date"), now)?;
        let body_hash = sign::sha256_hex(call.body);
        if header("x-acs-content-sha256") != body_hash {
            return Err(bad("ContentSHA256NotMatch", "x-acs-content-sha256 is not the SHA-256 of the body received."));
        }
        let signed: Vec<(String, String)> =
            parsed.signed_headers.iter().map(|name| (name.clone(), header(name).to_string())).collect();
        let canonical = sign::v3_canonical_request(call.method, query, &signed, &body_hash);
        let string_to_sign = sign::v3_string_to_sign(&canonical);
        if sign::v3_signature(self.credentials.secret.expose(), &string_to_sign) != parsed.signature {
            return Err(mismatch(&string_to_sign));
        }
        let action = header("x-acs-action");
        if action.is_empty() {
            return Err(bad("MissingAction", "Action is mandatory for this request."));
        }
        let nonce = header("x-acs-signature-nonce");
        if nonce.is_empty() {
            return Err(bad("MissingSignatureNonce", "SignatureNonce is mandatory for this request."));
        }
        Ok((Scheme::V3, action.to_string(), nonce.to_string(), token.is_some()))
    }

    fn verify_v2(
        &self,
        call: &Call<'_>,
        query: &[(String, String)],
        form: &[(String, String)],
        now: Now,
    ) -> Result<(Scheme, String, String, bool), Failure> {
        let get = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let need = |name: &str| {
            get(name)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| bad(&format!("Missing{name}"), format!("{name} is mandatory for this request.")))
        };
        let token = get("SecurityToken");
        self.check_key(need("AccessKeyId")?, token)?;
        if need("SignatureMethod")? != "HMAC-SHA1" {
            return Err(bad("InvalidSignatureMethod", "SignatureMethod must be HMAC-SHA1."));
        }
        if need("SignatureVersion")? != "1.0" {
            return Err(bad("InvalidSignatureVersion", "SignatureVersion must be 1.0."));
        }
        check_version(need("Version")?)?;
        check_time(need("Timestamp")?, now)?;
        let nonce = need("SignatureNonce")?.to_string();
        let action = need("Action")?.to_string();
        let signed: Vec<(String, String)> =
            query.iter().filter(|(key, _)| key != "Signature").chain(form).cloned().collect();
        let string_to_sign = sign::v2_string_to_sign(call.method, &signed);
        if sign::v2_signature(self.credentials.secret.expose(), &string_to_sign) != need("Signature")? {
            // The real gateway echoes its string-to-sign; the STS token in it is a secret.
            let echoed = match token {
                Some(token) if !token.is_empty() => {
                    string_to_sign.replace(&percent_encode(&percent_encode(token)), "<redacted>")
                }
                _ => string_to_sign,
            };
            return Err(mismatch(&echoed));
        }
        Ok((Scheme::V2, action, nonce, token.is_some()))
    }

    fn check_key(&self, access_key_id: &str, token: Option<&str>) -> Result<(), Failure> {
        if access_key_id != self.credentials.access_key_id {
            return Err(Failure::gateway(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."));
        }
        match (token, &self.credentials.token) {
            (None, _) => Ok(()),
            (Some(sent), Some(accepted)) if sent == accepted.expose() => Ok(()),
            (Some(_), _) => Err(bad(
                "InvalidSecurityToken.MismatchWithAccessKey",
                "The security token does not match the access key.",
            )),
        }
    }
}

fn decode(text: &str, what: &str) -> Result<Vec<(String, String)>, Failure> {
    form_decode(text).map_err(|err| bad("InvalidParameter", format!("{what} cannot be decoded: {err}")))
}

fn mismatch(string_to_sign: &str) -> Failure {
    bad(
        "SignatureDoesNotMatch",
        format!("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"),
    )
}

fn check_version(version: &str) -> Result<(), Failure> {
    if version == API_VERSION {
        Ok(())
    } else {
        Err(bad(
            "InvalidVersion",
            format!("Specified parameter Version {version:?} is not valid; the API is {API_VERSION}."),
        ))
    }
}

fn check_time(text: &str, now: Now) -> Result<(), Failure> {
    let Some(seconds) = parse_utc(text) else {
        return Err(bad(
            "InvalidTimeStamp.Format",
            format!("Specified time stamp {text:?} is not yyyy-MM-ddTHH:mm:ssZ."),
        ));
    };
    if (seconds * 1000).abs_diff(now.wall as i64) > MAX_CLOCK_SKEW_MS {
        return Err(bad("InvalidTimeStamp.Expired", format!("Specified time stamp or date value {text} is expired.")));
    }
    Ok(())
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_utc(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || bytes[10] != b'T'
        || bytes[13] != b':'
        || bytes[16] != b':'
        || bytes[19] != b'Z'
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = &text[from..to];
        digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests;
