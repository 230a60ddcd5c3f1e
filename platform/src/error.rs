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
