//! The one error type of the client, classified by what the caller may do next.

use std::fmt;
use std::time::Duration;

/// What a failed call means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Surely not carried out and worth trying again (throttling, a used nonce, a server error
    /// on a read, a connection that never opened). The client already retried up to its limit.
    Retryable,
    /// Refused for a reason that another try will not change (bad parameters, unknown device,
    /// signature refused, TLS verification failed).
    Permanent,
    /// The request may have been carried out but the answer was lost: a transport error or a
    /// server error after a CreateDeviceDistributeJob was sent. Never retried; the caller
    /// reconciles (ListDeviceDistributeJob).
    Unknown,
}

/// A failed call. Its text never contains a secret: messages are redacted before they are
/// stored (the gateway echoes its string-to-sign, which under V2 holds the STS token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What the caller may do next.
    pub kind: ErrorKind,
    /// The HTTP status, when an answer arrived.
    pub http_status: Option<u16>,
    /// The platform's code (`Throttling.User`, `iot.prod.NotExistedProduct`, …), or
    /// `transport.*` / `HTTP<status>` / `client.*` when the platform gave none.
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
    /// The platform's RequestId, to quote to its support.
    pub request_id: Option<String>,
    /// How long the platform asked to wait (`x-acs-retry-after`).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error of the client itself (configuration, not the platform).
    #[cfg(feature = "client")]
    pub(crate) fn client(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::Permanent,
            http_status: None,
            code: format!("client.{code}"),
            message: message.into(),
            request_id: None,
            retry_after: None,
        }
    }

    /// Whether the platform refused the call for going too fast.
    pub fn is_throttling(&self) -> bool {
        self.code.starts_with("Throttling")
    }

    /// Whether the platform refused the caller's credentials or signature ([`is_auth_code`]):
    /// nothing will work until the operator fixes them.
    pub fn is_auth(&self) -> bool {
        is_auth_code(&self.code)
    }

    /// Whether the platform refused the call for its signature's time: this machine's clock is
    /// too far from the platform's (`InvalidTimeStamp.Expired`, more than 15 minutes). One of
    /// [`is_auth`](Self::is_auth)'s codes, but the key is not at fault: the clock is.
    pub fn is_clock(&self) -> bool {
        self.code.starts_with("InvalidTimeStamp.Expired")
    }

    /// Whether the account already has its maximum of jobs running ([`is_job_limit_code`]):
    /// try again when one finishes.
    pub fn is_job_limit(&self) -> bool {
        is_job_limit_code(&self.code)
    }

    /// Whether the call certainly did nothing on the platform: the client says Retryable or
    /// Permanent only of a call the platform cannot have carried out.
    pub fn created_nothing(&self) -> bool {
        self.kind != ErrorKind::Unknown
    }

    /// The message with the platform's RequestId, for a results row or a log line.
    pub fn detail(&self) -> String {
        match &self.request_id {
            Some(id) => format!("{} [request id {id}]", self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(status) = self.http_status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        if self.kind == ErrorKind::Unknown {
            write!(f, " (the request may have been carried out)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

// The classification of the platform's codes, in one place (docs/wire.md §5): what may be
// retried, what means the credentials are refused, what means the account's job limit.
// `classification_of_codes` below pins every list.

/// Code prefixes of a refused credential, signature or clock (the gateway's and RAM's).
pub(crate) const AUTH_PREFIXES: [&str; 8] = [
    "InvalidAccessKeyId",
    "MissingAuthorization",
    "SignatureDoesNotMatch",
    "InvalidSecurityToken",
    "Forbidden",
    "InvalidTimeStamp",
    "IncompleteSignature",
    "NoPermission",
];

/// Whether `code` refuses the caller's credentials, signature or clock.
pub fn is_auth_code(code: &str) -> bool {
    AUTH_PREFIXES.iter().any(|prefix| code.starts_with(prefix))
}

/// Whether `code` says the account has its maximum of jobs in status 0/1. The platform does
/// not publish the code; any code naming a limit, an excess or too many is taken for it (the
/// emulator answers `iot.distribute.TooManyJobs`).
pub fn is_job_limit_code(code: &str) -> bool {
    let code = code.to_ascii_lowercase();
    ["limit", "exceed", "toomany", "too_many"].iter().any(|word| code.contains(word))
}

/// Whether the platform refused with `code` because it was busy or too fast — throttling, a
/// reused nonce, an internal or system error — so that the same request may succeed later.
/// Device codes in a result file use the same vocabulary (`iot.system.SystemException`).
pub fn is_retryable_code(code: &str) -> bool {
    refused_at_gateway(code) || matches!(code, "InternalError" | "ServiceUnavailable" | "iot.system.SystemException")
}

/// Codes the gateway answers before the service sees the request: surely not carried out.
pub(crate) fn refused_at_gateway(code: &str) -> bool {
    code.starts_with("Throttling") || code == "SignatureNonceUsed"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_of_codes() {
        for code in ["Throttling.User", "Throttling", "SignatureNonceUsed", "InternalError", "ServiceUnavailable"] {
            assert!(is_retryable_code(code) && !is_auth_code(code), "{code}");
        }
        assert!(is_retryable_code("iot.system.SystemException"));
        for code in [
            "InvalidAccessKeyId.NotFound",
            "SignatureDoesNotMatch",
            "InvalidTimeStamp.Expired",
            "Forbidden.RAM",
            "MissingAuthorization",
        ] {
            assert!(is_auth_code(code) && !is_retryable_code(code), "{code}");
        }
        for code in ["iot.distribute.TooManyJobs", "Job.LimitExceeded", "too_many_jobs"] {
            assert!(is_job_limit_code(code), "{code}");
        }
        for code in ["iot.device.DistributeFailed", "iot.system.InstanceIdSame", "iot.prod.NotExistedProduct"] {
            assert!(!is_retryable_code(code) && !is_auth_code(code) && !is_job_limit_code(code), "{code}");
        }
    }
}
