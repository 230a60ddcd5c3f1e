//! The IoT platform's device-distribution API on the wire, knowing nothing of plans.
//!
//! - [`encode`]: RFC 3986 percent-encoding and the SDK's form bodies;
//! - [`sign`]: the two signature schemes (ACS3-HMAC-SHA256 "V3", RPC HMAC-SHA1 "V2"), one
//!   implementation of each canonical form shared by the client (signing) and the emulator
//!   (verifying);
//! - [`api`]: typed requests and response bodies with the platform's exact keys, one type per
//!   message: the client writes requests and parses answers with them, the emulator parses
//!   requests and writes answers with the same types;
//! - [`limits`]: the platform's limits (calls per second, jobs in flight, devices per job);
//! - [`results`]: the per-device result file of a finished job, JSON or CSV;
//! - [`credentials`]: the access key from the environment or the aliyun CLI's profiles;
//! - [`codes`]: every code apply can record, what it means, what apply and the operator do;
//! - [`error`]: one error type ([`ApiError`]) that says whether a call may have been carried
//!   out, and the one classification of the platform's codes;
//! - [`client`] (feature `client`, on by default): the blocking `Client` over ureq and rustls,
//!   paced per API ([`pace`]), retrying what is safe to retry. Without the feature the crate
//!   is the wire's types alone, with no network stack in the build.
//!
//! ```
//! use devdist_platform::sign;
//! let sts = sign::v3_string_to_sign("POST\n/\n\n\n\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
//! assert!(sts.starts_with("ACS3-HMAC-SHA256\n"));
//! ```
#![deny(missing_docs)]

pub mod api;
#[cfg(feature = "client")]
pub mod client;
pub mod codes;
pub mod credentials;
pub mod encode;
pub mod error;
mod file;
pub mod limits;
pub mod pace;
pub mod results;
pub mod sign;

pub use api::{Action, CreateDeviceDistributeJob, JobData, JobInfo, JobStatus, Lane, ListJobs, Provisioning, Strategy};
#[cfg(feature = "client")]
pub use client::{CallStats, Client, ClientConfig, DEFAULT_ENDPOINT, Scheme};
pub use credentials::{Credentials, Secret};
pub use error::{ApiError, ErrorKind, is_auth_code, is_job_limit_code, is_retryable_code};
pub use results::{CODE_DISTRIBUTED, DeviceResult};
