//! The IoT platform's device-distribution API on the wire, knowing nothing of plans.
//!
//! - [`encode`]: RFC 3986 percent-encoding and the SDK's form bodies;
//! - [`sign`]: the two signature schemes (ACS3-HMAC-SHA256 "V3", RPC HMAC-SHA1 "V2"), one
//!   implementation of each canonical form shared by the client (signing) and the emulator
//!   (verifying);
//! - [`api`]: typed requests and response bodies with the platform's exact keys, serialised by
//!   the emulator and parsed by the client;
//! - [`results`]: the per-device result file of a finished job, JSON or CSV.
//!
//! ```
//! use devdist_platform::sign;
//! let sts = sign::v3_string_to_sign("POST\n/\n\n\n\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
//! assert!(sts.starts_with("ACS3-HMAC-SHA256\n"));
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod credentials;
pub mod encode;
pub mod results;
pub mod sign;
